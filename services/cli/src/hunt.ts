import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { createLogger, errorMessage, type Env } from '@mamori/core';
import { buildDetector, correlationDetection, loadCorrelations, loadDetectorConfig, openIntelFeeds, type DetectorConfig, type DetectorDeps } from '@mamori/detector';
import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { Enricher, FORMATS, RecordNormalizer, loadNormalizerConfig, openNormalizerResources, type SensorFormat } from '@mamori/normalizer';
import { CorrelationEngine, type CorrelationFailure } from '@mamori/sigma/correlation';
import type { RuntimeConfig } from './config.ts';
import { expandPaths, formatById, openFile } from './files.ts';

export interface HuntOptions {
  readonly paths: readonly string[];
  /** Sigma rule pack directories; override DETECTOR_RULES_DIRS when given. */
  readonly rules?: readonly string[] | undefined;
  /** Format id that overrides content detection. */
  readonly format?: string | undefined;
  /** Sensor id the records are attributed to. @default 'mamori-cli' */
  readonly sensor?: string | undefined;
  /** Organization for a sensor the inventory does not list (implies accepting it). */
  readonly org?: string | undefined;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Formats to detect from. @default every registered format */
  readonly formats?: readonly SensorFormat[];
}

export interface HuntSummary {
  files: number;
  filesSkipped: number;
  records: number;
  events: number;
  deadLettered: number;
  /** Distinct detections (the final version of each is printed). */
  detections: number;
  byRule: Record<string, number>;
  correlations: number;
  firstEvent: number | null;
  lastEvent: number | null;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/**
 * Reads and normalizes every file exactly as `mamori normalize` does (same content detection, same
 * RecordNormalizer, sensor check and enrichment, same raw coordinates `file:<path>`, partition 0,
 * offset = line). Dead-letter reasons go to `stderr` as `file:line: CODE message`.
 */
async function normalizeFiles(env: Env, runtime: RuntimeConfig, options: HuntOptions, summary: HuntSummary): Promise<MamoriEvent[]> {
  const formats = options.formats ?? FORMATS;
  const forced = options.format === undefined ? undefined : formatById(options.format, formats);
  const paths = expandPaths(options.paths);
  const config = loadNormalizerConfig(env);
  const resources = openNormalizerResources({ ...config, inventoryReloadDebounceMs: 0 });
  const inventory = () => resources.inventory?.current;
  const normalizer = new RecordNormalizer(
    { inventory, allowUnregistered: options.org !== undefined || config.allowUnregisteredSensors, defaultOrg: options.org ?? runtime.defaultOrg },
    new Enricher({ inventory, geo: resources.geo, communityIdSeed: config.communityIdSeed }),
  );
  const sensorId = options.sensor ?? 'mamori-cli';
  const ingestTime = Date.now();
  const events: MamoriEvent[] = [];
  try {
    for (const path of paths) {
      const file = await openFile(path, formats, forced);
      if (!file.ok) {
        summary.filesSkipped++;
        await write(options.stderr, `${path}: ${file.code} ${file.message}\n`);
        continue;
      }
      summary.files++;
      if (file.warning) await write(options.stderr, `${path}: ${file.warning.code} ${file.warning.message}\n`);
      for (const record of file.records) {
        summary.records++;
        if (record.error !== undefined) {
          summary.deadLettered++;
          await write(options.stderr, `${path}:${record.line}: PARSE_FAILED ${record.error}\n`);
          continue;
        }
        const result = normalizer.normalize(file.format, Buffer.from(record.text, 'utf8'), { topic: `file:${path}`, partition: 0, offset: record.line, sensorId, ingestTime });
        for (const event of result.events) events.push(event);
        const problem = result.rejected ?? result.errors[0];
        if (problem) {
          summary.deadLettered++;
          const reason = result.rejected ? result.rejected.reason : result.errors.map((e) => e.message).join('; ');
          await write(options.stderr, `${path}:${record.line}: ${problem.code} ${reason}\n`);
        }
      }
    }
  } finally {
    resources.close();
  }
  return events;
}

/** Events in event-time order; equal times keep their input order (per source, the order the stream sees). */
export function eventTimeOrder(events: readonly MamoriEvent[]): MamoriEvent[] {
  return events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.time - b.event.time || a.index - b.index)
    .map(({ event }) => event);
}

/**
 * Runs every detector over normalized events on event time, as the stream does: the analytics the
 * detector stage builds (`buildDetector`: port scan, brute force, beaconing, DNS tunneling, long
 * connection, outbound volume, first-seen, Sigma rules, intel when an index is given) see the events
 * in batches of `maxBatchRecords` with the watermark advanced after each batch, and Sigma
 * correlations run in the in-process engine with the same lateness; at the end everything is closed.
 * Returns the final version of each detection, in the order they were first reported.
 */
export async function huntEvents(
  config: DetectorConfig,
  events: readonly MamoriEvent[],
  deps: {
    intelIndex?: DetectorDeps['intelIndex'];
    onError?: (event: MamoriEvent, error: unknown) => void;
    /** A correlation group window or match whose handling threw (dropped; the others go on). */
    onCorrelationFailure?: (failure: CorrelationFailure) => void;
  } = {},
): Promise<{ detections: MamoriDetection[]; correlations: number }> {
  const stage = buildDetector(config, {
    registry: createRegistry(),
    watchRules: false,
    codecs: {
      decodeEvent: () => {
        throw new Error('hunt feeds decoded events');
      },
      encodeDetection: () => Buffer.alloc(0),
    },
    ...(deps.intelIndex ? { intelIndex: deps.intelIndex } : {}),
  });
  const correlations = loadCorrelations(config.sigma.rulesDirs);
  const engine = correlations ? new CorrelationEngine(correlations.set, { allowedLatenessMs: config.allowedLatenessMs }) : undefined;
  const latest = new Map<string, MamoriDetection>();
  const keep = (list: readonly MamoriDetection[]) => {
    for (const d of list) latest.set(d.detection_id, d);
  };
  const fromEngine = (outputs: ReturnType<CorrelationEngine['advance']>) => {
    for (const { match, report } of outputs) {
      if (!report || !correlations) continue;
      const rule = correlations.set.byId.get(match.correlationId)!;
      try {
        keep([correlationDetection(match, rule, { eventsTopic: config.eventsTopic, now: match.windowEnd, rulesetChecksum: correlations.loaded.checksum })]);
      } catch (error) {
        engine!.partition.recordMatchFailure(match, error);
      }
    }
    for (const failure of engine?.partition.takeFailures() ?? []) deps.onCorrelationFailure?.(failure);
  };
  const ordered = eventTimeOrder(events);
  for (let i = 0; i < ordered.length; i += config.maxBatchRecords) {
    const batch = ordered.slice(i, i + config.maxBatchRecords);
    keep(stage.observeEvents(batch, deps.onError));
    if (engine && correlations) {
      for (const event of batch) for (const m of correlations.baseRules.match(event)) engine.ingest(m);
      fromEngine(engine.advance());
    }
  }
  keep(stage.closeAll());
  if (engine) fromEngine(engine.flush());
  return { detections: [...latest.values()], correlations: correlations?.set.rules.length ?? 0 };
}

/**
 * `mamori hunt <files|dirs...> [--rules DIR] [--format ID]`: archived logs through the stream's
 * detectors on event time. Detections as JSON lines on stdout (final version of each), a summary on
 * stderr. Usage errors and unreadable files throw (ConfigError); bad content never does.
 */
export async function runHunt(runtime: RuntimeConfig, env: Env, options: HuntOptions): Promise<HuntSummary> {
  const effective: Env = options.rules && options.rules.length > 0 ? { ...env, DETECTOR_RULES_DIRS: options.rules.join(',') } : env;
  const config = loadDetectorConfig(effective);
  const summary: HuntSummary = { files: 0, filesSkipped: 0, records: 0, events: 0, deadLettered: 0, detections: 0, byRule: {}, correlations: 0, firstEvent: null, lastEvent: null };
  const events = await normalizeFiles(env, runtime, options, summary);
  summary.events = events.length;
  for (const e of events) {
    summary.firstEvent = summary.firstEvent === null ? e.time : Math.min(summary.firstEvent, e.time);
    summary.lastEvent = summary.lastEvent === null ? e.time : Math.max(summary.lastEvent, e.time);
  }
  const intel = await openIntelFeeds(config.intel, createRegistry(), createLogger({ name: 'mamori', level: 'warn' }).child({ component: 'intel' }));
  let failures = 0;
  try {
    const result = await huntEvents(config, events, {
      ...(intel ? { intelIndex: intel.index } : {}),
      onError: (event, error) => {
        failures++;
        if (failures <= 20) options.stderr.write(`${event.raw.topic.replace(/^file:/, '')}:${event.raw.offset}: DETECTOR_ANALYTIC_FAILED ${errorMessage(error)}\n`);
      },
      onCorrelationFailure: (failure) => {
        failures++;
        if (failures <= 20) options.stderr.write(`correlation ${failure.correlationId} (${failure.type}) group ${JSON.stringify(failure.groupKey)}: CORRELATION_FAILED ${failure.message}\n`);
      },
    });
    summary.correlations = result.correlations;
    for (const d of result.detections) {
      await write(options.stdout, `${JSON.stringify(d)}\n`);
      summary.byRule[d.rule_id] = (summary.byRule[d.rule_id] ?? 0) + 1;
    }
    summary.detections = result.detections.length;
  } finally {
    intel?.close();
  }
  const rules = Object.entries(summary.byRule).sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) => `${r} ${n}`).join(', ');
  const span = summary.firstEvent === null ? '' : `, event time ${new Date(summary.firstEvent).toISOString()} .. ${new Date(summary.lastEvent!).toISOString()}`;
  await write(
    options.stderr,
    `mamori hunt: ${summary.files} file(s)${summary.filesSkipped ? `, ${summary.filesSkipped} skipped` : ''}, ${summary.records} records, ${summary.events} events, ${summary.deadLettered} dead-lettered${span}; ` +
      `${summary.detections} detection(s)${rules ? ` (${rules})` : ''}${summary.correlations ? `; ${summary.correlations} correlation rule(s)` : ''}${failures ? `; ${failures} analytic or correlation failure(s)` : ''}\n`,
  );
  return summary;
}
