import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { Env } from '@mamori/core';
import { Enricher, FORMATS, RecordNormalizer, loadNormalizerConfig, openNormalizerResources, type SensorFormat } from '@mamori/normalizer';
import type { RuntimeConfig } from './config.ts';
import { expandPaths, formatById, openFile } from './files.ts';

export interface NormalizeOptions {
  readonly paths: readonly string[];
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

/** Counts of one run, overall and per format. */
export interface NormalizeSummary {
  files: number;
  filesSkipped: number;
  records: number;
  events: number;
  deadLettered: number;
  /** Well-formed lines that are not events (Suricata `stats`: sensor telemetry), neither events nor dead letters. */
  notEvents: number;
  byCode: Record<string, number>;
  byFormat: Record<string, { files: number; records: number; events: number; deadLettered: number; notEvents: number }>;
}

/** Buffers output lines and honours back-pressure, so a large file does not pile up in memory. */
class LineWriter {
  private buffer: string[] = [];
  private size = 0;
  constructor(private readonly out: Writable) {}
  async write(line: string): Promise<void> {
    this.buffer.push(line);
    this.size += line.length + 1;
    if (this.size >= 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    this.size = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

/**
 * `mamori normalize`: files to normalized events (JSON lines on stdout) through the normalizer's own
 * per-record path: sensor registry check, format decoder, enrichment. Dead-letter reasons go to
 * stderr as `file:line: CODE message`, then a summary. Unreadable files and usage errors throw
 * (ConfigError); bad content never does.
 */
export async function runNormalize(runtime: RuntimeConfig, env: Env, options: NormalizeOptions): Promise<NormalizeSummary> {
  const formats = options.formats ?? FORMATS;
  const forced = options.format === undefined ? undefined : formatById(options.format, formats);
  const paths = expandPaths(options.paths);
  const config = loadNormalizerConfig(env);
  const resources = openNormalizerResources({ ...config, inventoryReloadDebounceMs: 0 });
  const inventory = () => resources.inventory?.current;
  const normalizer = new RecordNormalizer(
    {
      inventory,
      allowUnregistered: options.org !== undefined || config.allowUnregisteredSensors,
      defaultOrg: options.org ?? runtime.defaultOrg,
    },
    new Enricher({ inventory, geo: resources.geo, communityIdSeed: config.communityIdSeed }),
  );
  const sensorId = options.sensor ?? 'mamori-cli';
  const out = new LineWriter(options.stdout);
  const err = new LineWriter(options.stderr);
  const summary: NormalizeSummary = { files: 0, filesSkipped: 0, records: 0, events: 0, deadLettered: 0, notEvents: 0, byCode: {}, byFormat: {} };
  const ingestTime = Date.now();

  for (const path of paths) {
    const file = await openFile(path, formats, forced);
    if (!file.ok) {
      summary.filesSkipped++;
      await err.write(`${path}: ${file.code} ${file.message}`);
      continue;
    }
    summary.files++;
    if (file.warning) await err.write(`${path}: ${file.warning.code} ${file.warning.message}`);
    const perFormat = (summary.byFormat[file.format.id] ??= { files: 0, records: 0, events: 0, deadLettered: 0, notEvents: 0 });
    perFormat.files++;
    const dead = async (line: number, code: string, message: string) => {
      summary.deadLettered++;
      perFormat.deadLettered++;
      summary.byCode[code] = (summary.byCode[code] ?? 0) + 1;
      await err.write(`${path}:${line}: ${code} ${message}`);
    };
    for (const record of file.records) {
      summary.records++;
      perFormat.records++;
      if (record.error !== undefined) {
        await dead(record.line, 'PARSE_FAILED', record.error);
        continue;
      }
      const result = normalizer.normalize(file.format, Buffer.from(record.text, 'utf8'), {
        topic: `file:${path}`,
        partition: 0,
        offset: record.line,
        sensorId,
        ingestTime,
      });
      for (const event of result.events) await out.write(JSON.stringify(event));
      summary.events += result.events.length;
      perFormat.events += result.events.length;
      summary.notEvents += result.skipped ?? 0;
      perFormat.notEvents += result.skipped ?? 0;
      if (result.rejected) await dead(record.line, result.rejected.code, result.rejected.reason);
      else if (result.errors.length > 0) await dead(record.line, result.errors[0]!.code, result.errors.map((e) => e.message).join('; '));
    }
  }
  resources.close();
  await out.flush();
  for (const line of summaryLines('normalize', summary)) await err.write(line);
  await err.flush();
  return summary;
}

/** The end-of-run summary lines (stderr). */
export function summaryLines(command: string, s: NormalizeSummary): string[] {
  const codes = Object.entries(s.byCode).sort(([a], [b]) => a.localeCompare(b)).map(([c, n]) => `${c} ${n}`).join(', ');
  // Every record is an event, a dead letter or a line that is not an event (said only when there are any).
  const notEvents = (n: number) => (n > 0 ? `, ${n} not events` : '');
  const lines = [
    `mamori ${command}: ${s.files} file(s)${s.filesSkipped ? `, ${s.filesSkipped} skipped` : ''}, ${s.records} records, ${s.events} events, ${s.deadLettered} dead-lettered${codes ? ` (${codes})` : ''}${notEvents(s.notEvents)}`,
  ];
  for (const [id, f] of Object.entries(s.byFormat).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${id}: ${f.files} file(s), ${f.records} records, ${f.events} events, ${f.deadLettered} dead-lettered${notEvents(f.notEvents)}`);
  }
  return lines;
}
