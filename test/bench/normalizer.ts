/**
 * Normalizer benchmark: Zeek conn JSON lines through `normalizeRecord` (one line per record, as
 * ingest ships them), against JSON.parse alone of the same bytes, and the full parse + normalize +
 * Avro encode path the normalizer stage runs per record.
 */
import { EventCodec } from '@mamori/events';
import { EventEncoder, normalizeRecord, normalizeRecordEncoded } from '@mamori/normalizer';
import { compare, fmtRate, fmtRatio, type CompareOptions } from './measure.ts';
import { decodeContext, realConnLines, simulatedLines, zeekConnFormat } from './inputs.ts';

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
  normalizeRatio: number;
  generalRatio: number;
  fullRatio: number;
}

function benchLines(label: string, distinctLines: readonly string[], perRound: number, options: CompareOptions): DataSetResult {
  const format = zeekConnFormat();
  const codec = new EventCodec();
  const encoder = new EventEncoder(codec);
  const lines: Buffer[] = [];
  for (let i = 0; i < perRound; i++) lines.push(Buffer.from(distinctLines[i % distinctLines.length]!));
  let errors = 0;
  for (let i = 0; i < distinctLines.length; i++) errors += normalizeRecord(format, Buffer.from(distinctLines[i]!), decodeContext(i)).errors.length;
  const n = lines.length;
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
    normalizeRatio: r.costRatio('normalize', 'parse'),
    generalRatio: r.costRatio('general', 'parse'),
    fullRatio: r.costRatio('full', 'parse'),
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
      'General path: normalize, then `EventCodec.encode` of the event. Full: `normalizeRecordEncoded` (what the stage runs: the fused Zeek conn path where it takes the line, same bytes, else the general path).',
    '',
    '| Lines | Path | Events per CPU-second | Events/s (wall) | CPU cost vs JSON.parse |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const s of sets) {
    out.push(`| ${s.label} | JSON.parse only | ${fmtRate(s.parse.cpuRate)} | ${fmtRate(s.parse.wallRate)} | 1.00x |`);
    out.push(`| | normalize | **${fmtRate(s.normalize.cpuRate)}** | ${fmtRate(s.normalize.wallRate)} | **${fmtRatio(s.normalizeRatio)}** |`);
    out.push(`| | parse + normalize + Avro encode, general path | ${fmtRate(s.general.cpuRate)} | ${fmtRate(s.general.wallRate)} | ${fmtRatio(s.generalRatio)} |`);
    out.push(`| | parse + normalize + Avro encode, as the stage runs it (fused) | ${fmtRate(s.full.cpuRate)} | ${fmtRate(s.full.wallRate)} | ${fmtRatio(s.fullRatio)} |`);
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
  out.push('');
  for (const s of sets) {
    const perCore = s.normalize.cpuRate >= NORMALIZE_TARGET_PER_CORE;
    const ratio = s.normalizeRatio <= NORMALIZE_TARGET_RATIO;
    const fullPerCore = s.full.cpuRate >= NORMALIZE_TARGET_PER_CORE;
    const fullRatio = s.fullRatio <= NORMALIZE_TARGET_RATIO;
    out.push(
      `Target (normalize ≥${fmtRate(NORMALIZE_TARGET_PER_CORE)} events/s per core and within ${NORMALIZE_TARGET_RATIO}x of JSON.parse), ${s.label.replace(/ \(.*\)$/, '')} lines: ` +
        `${perCore ? 'met' : 'NOT met'} on rate (${fmtRate(s.normalize.cpuRate)}), ${ratio ? 'met' : 'NOT met'} on ratio (${fmtRatio(s.normalizeRatio)}); ` +
        `with the Avro encode counted too: ${fullPerCore ? 'met' : 'NOT met'} on rate (${fmtRate(s.full.cpuRate)}), ${fullRatio ? 'met' : 'NOT met'} on ratio (${fmtRatio(s.fullRatio)}).`,
    );
  }
  return out.join('\n');
}
