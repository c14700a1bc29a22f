/**
 * Normalizer benchmark: Zeek conn JSON lines through `normalizeRecord` (one line per record, as
 * ingest ships them), against JSON.parse alone of the same bytes, the decode + Avro encode paths
 * alone, and what the normalizer stage runs per record: `RecordNormalizer.normalizeEncoded` (sensor
 * check, decode, enrichment, encode) with the stage's `Enricher`, without and with an inventory.
 */
import { EventCodec } from '@mamori/events';
import { EventEncoder, normalizeRecord, normalizeRecordEncoded, type RecordNormalizer } from '@mamori/normalizer';
import { compare, fmtRate, fmtRatio, type CompareOptions } from './measure.ts';
import { benchInventory, decodeContext, RAW_TOPIC, realConnLines, recordSource, simulatedLines, stageRecordNormalizer, zeekConnFormat } from './inputs.ts';

/** Issue targets: Zeek conn JSON at this many events per CPU-second or more, and within this many times JSON.parse's CPU cost. */
export const NORMALIZE_TARGET_PER_CORE = 200_000;
export const NORMALIZE_TARGET_RATIO = 3;

export interface NormalizerBenchOptions extends CompareOptions {
  /** Lines per round for each data set (real lines are repeated to reach it). @default 50000 */
  lines?: number;
}

interface DataSetResult {
  label: string;
  distinct: number;
  errors: number;
  parse: { cpuRate: number; wallRate: number };
  normalize: { cpuRate: number; wallRate: number };
  general: { cpuRate: number; wallRate: number };
  full: { cpuRate: number; wallRate: number };
  /** The stage's per-record work, default deployment: no inventory, Community ID, no GeoIP. */
  stage: { cpuRate: number; wallRate: number };
  /** The same with the bench inventory (home networks and assets). */
  stageInventory: { cpuRate: number; wallRate: number };
  normalizeRatio: number;
  generalRatio: number;
  fullRatio: number;
  stageRatio: number;
  stageInventoryRatio: number;
  /** Of the distinct lines' events under the inventory: how many got a direction, and how many addresses an asset. */
  directed: number;
  assets: number;
  events: number;
}

function benchLines(label: string, distinctLines: readonly string[], perRound: number, options: CompareOptions): DataSetResult {
  const format = zeekConnFormat();
  const codec = new EventCodec();
  const encoder = new EventEncoder(codec);
  const lines: Buffer[] = [];
  for (let i = 0; i < perRound; i++) lines.push(Buffer.from(distinctLines[i % distinctLines.length]!));
  const plain = stageRecordNormalizer();
  const inventory = benchInventory();
  const withInventory = stageRecordNormalizer(inventory);
  let errors = 0;
  let events = 0;
  let directed = 0;
  let assets = 0;
  for (let i = 0; i < distinctLines.length; i++) {
    const bytes = Buffer.from(distinctLines[i]!);
    errors += normalizeRecord(format, bytes, decodeContext(i)).errors.length;
    const a = plain.normalizeEncoded(format, bytes, recordSource(RAW_TOPIC, i), encoder);
    const b = withInventory.normalizeEncoded(format, bytes, recordSource(RAW_TOPIC, i), encoder);
    // The stage rows must do the sensor check's happy path, not reject every record cheaply.
    if (a.rejected || b.rejected) throw new Error(`bench: the stage path rejected a record: ${(a.rejected ?? b.rejected)!.reason}`);
    for (const { event } of b.events) {
      events++;
      if (event.direction) directed++;
      if (event.src_asset) assets++;
      if (event.dst_asset) assets++;
    }
  }
  const n = lines.length;
  /** What the stage runs per record, with `normalizer` (the default deployment's or one with an inventory). */
  const stageCase = (name: string, normalizer: RecordNormalizer) => ({
    name,
    ops: n,
    run: () => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        for (const e of normalizer.normalizeEncoded(format, lines[i]!, recordSource(RAW_TOPIC, i), encoder).events) s += e.value.length;
      }
      return s;
    },
  });
  const r = compare(
    [
      {
        name: 'parse',
        ops: n,
        run: () => {
          let s = 0;
          for (const b of lines) s += (JSON.parse(b.toString('utf8')) as { ts: number }).ts;
          return s;
        },
      },
      {
        name: 'normalize',
        ops: n,
        run: () => {
          let s = 0;
          for (let i = 0; i < n; i++) s += normalizeRecord(format, lines[i]!, decodeContext(i)).events.length;
          return s;
        },
      },
      {
        name: 'general',
        ops: n,
        run: () => {
          let s = 0;
          for (let i = 0; i < n; i++) {
            for (const e of normalizeRecord(format, lines[i]!, decodeContext(i)).events) s += codec.encode(e).length;
          }
          return s;
        },
      },
      {
        name: 'full',
        ops: n,
        run: () => {
          let s = 0;
          for (let i = 0; i < n; i++) {
            for (const e of normalizeRecordEncoded(format, lines[i]!, decodeContext(i), encoder).events) s += e.value.length;
          }
          return s;
        },
      },
      stageCase('stage', plain),
      stageCase('stageInventory', withInventory),
    ],
    options,
  );
  const get = (name: string) => r.results.find((x) => x.name === name)!;
  return {
    label,
    distinct: distinctLines.length,
    errors,
    parse: get('parse'),
    normalize: get('normalize'),
    general: get('general'),
    full: get('full'),
    stage: get('stage'),
    stageInventory: get('stageInventory'),
    normalizeRatio: r.costRatio('normalize', 'parse'),
    generalRatio: r.costRatio('general', 'parse'),
    fullRatio: r.costRatio('full', 'parse'),
    stageRatio: r.costRatio('stage', 'parse'),
    stageInventoryRatio: r.costRatio('stageInventory', 'parse'),
    directed,
    assets,
    events,
  };
}

export function benchNormalizer(options: NormalizerBenchOptions = {}): string {
  const perRound = options.lines ?? 50_000;
  const sets: DataSetResult[] = [benchLines('simulated (`createSimulator`)', simulatedLines(perRound), perRound, options)];
  const real = realConnLines();
  if (real && real.lines.length > 0) sets.push(benchLines('real (shared data, found by content)', real.lines, perRound, options));

  const out: string[] = [
    `${perRound.toLocaleString('en-US')} lines per round, one line per record (Buffer in, as consumed). Baseline: \`JSON.parse(bytes.toString('utf8'))\` of the same bytes. ` +
      'Normalize: `normalizeRecord(formatForTopic(\'telemetry.raw.zeek.conn\'), bytes, ctx)` (the general decode). ' +
      'General path: normalize, then `EventCodec.encode` of the event. Fused: `normalizeRecordEncoded` without enrichment (the fused Zeek conn path where it takes the line, same bytes, else the general path). ' +
      'Stage: what the normalizer stage runs per record, `RecordNormalizer.normalizeEncoded` as `NormalizerStage` builds it (sensor check, decode through the fused path, `Enricher`, Avro encode): ' +
      'default deployment = no inventory, Community ID with the default seed, no GeoIP; with inventory = also direction and assets from a small one-organization inventory (4 home networks, 7 assets, `benchInventory` in test/bench/inputs.ts).',
    '',
    '| Lines | Path | Events per CPU-second | Events/s (wall) | CPU cost vs JSON.parse |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const s of sets) {
    out.push(`| ${s.label} | JSON.parse only | ${fmtRate(s.parse.cpuRate)} | ${fmtRate(s.parse.wallRate)} | 1.00x |`);
    out.push(`| | normalize | **${fmtRate(s.normalize.cpuRate)}** | ${fmtRate(s.normalize.wallRate)} | **${fmtRatio(s.normalizeRatio)}** |`);
    out.push(`| | parse + normalize + Avro encode, general path | ${fmtRate(s.general.cpuRate)} | ${fmtRate(s.general.wallRate)} | ${fmtRatio(s.generalRatio)} |`);
    out.push(`| | parse + normalize + Avro encode, fused path, no enrichment | ${fmtRate(s.full.cpuRate)} | ${fmtRate(s.full.wallRate)} | ${fmtRatio(s.fullRatio)} |`);
    out.push(`| | **stage, default deployment** (fused + Community ID + encode) | **${fmtRate(s.stage.cpuRate)}** | ${fmtRate(s.stage.wallRate)} | **${fmtRatio(s.stageRatio)}** |`);
    out.push(`| | stage with inventory (+ direction, assets) | ${fmtRate(s.stageInventory.cpuRate)} | ${fmtRate(s.stageInventory.wallRate)} | ${fmtRatio(s.stageInventoryRatio)} |`);
  }
  out.push('');
  if (real) {
    out.push(
      real.lines.length > 0
        ? `Real lines: ${real.lines.length.toLocaleString('en-US')} distinct (${sets[1]!.errors} rejected by the normalizer; ${real.skipped} more left out as invalid JSON), repeated to fill a round, from ${real.files.join(', ')}.`
        : 'Real lines: none found in the shared data directory.',
    );
  } else {
    out.push('Real lines: the shared data directory (`../shared/data/zeek`) is absent; simulated lines only.');
  }
  out.push(
    'With the inventory, of the distinct lines\' events: ' +
      sets.map((s) => `${s.label.replace(/ \(.*\)$/, '')} ${s.directed.toLocaleString('en-US')} of ${s.events.toLocaleString('en-US')} with a direction, ${s.assets.toLocaleString('en-US')} addresses with an asset`).join('; ') +
      '.',
  );
  out.push('');
  const verdict = (rate: number, ratio: number): string =>
    `${rate >= NORMALIZE_TARGET_PER_CORE ? 'met' : 'NOT met'} on rate (${fmtRate(rate)}), ${ratio <= NORMALIZE_TARGET_RATIO ? 'met' : 'NOT met'} on ratio (${fmtRatio(ratio)})`;
  for (const s of sets) {
    out.push(
      `Target (≥${fmtRate(NORMALIZE_TARGET_PER_CORE)} events/s per core and within ${NORMALIZE_TARGET_RATIO}x of JSON.parse, judged on what the stage runs per record in the default deployment: ` +
        `parse + normalize + Community ID + Avro encode), ${s.label.replace(/ \(.*\)$/, '')} lines: ${verdict(s.stage.cpuRate, s.stageRatio)}. ` +
        `For reference, decode + encode without enrichment: ${verdict(s.full.cpuRate, s.fullRatio)}; normalize alone: ${verdict(s.normalize.cpuRate, s.normalizeRatio)}.`,
    );
  }
  return out.join('\n');
}
