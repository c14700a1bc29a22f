// Inputs shared by the CPU-bound sections: simulated and real Zeek conn JSON lines, normalized events.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { MamoriEvent } from '@mamori/events';
import { createSimulator, type AttackSpec } from '@mamori/ingest';
import { formatForTopic, normalizeRecord, type DecodeContext, type SensorFormat } from '@mamori/normalizer';

export const RAW_TOPIC = 'telemetry.raw.zeek.conn';

/** The shared sample data, `../shared/data/zeek` from the repository root. */
export const SHARED_ZEEK_DIR = fileURLToPath(new URL('../../../shared/data/zeek', import.meta.url));

export function zeekConnFormat(): SensorFormat {
  const format = formatForTopic(RAW_TOPIC);
  if (!format) throw new Error(`no normalizer format registered for ${RAW_TOPIC}`);
  return format;
}

export function decodeContext(offset: number): DecodeContext {
  return { topic: RAW_TOPIC, partition: 0, offset, sensorId: 'bench-sensor', orgId: 'default', ingestTime: 1_700_000_000_000 };
}

/** Scans of both kinds on top of office traffic, so the detector's probe paths are exercised. */
export const BENCH_ATTACKS: readonly AttackSpec[] = [
  { kind: 'horizontal_scan', at: 60_000, targets: 200, ports: [445, 3389], durationMs: 60_000 },
  { kind: 'vertical_scan', at: 300_000, ports: 1000, durationMs: 60_000 },
];

/** `count` simulated Zeek conn JSON lines (seeded: the same on every run). */
export function simulatedLines(count: number): string[] {
  return Array.from(createSimulator({ seed: 'bench', ratePerSecond: 200, count, attacks: BENCH_ATTACKS }), (r) => r.line);
}

/** Normalized events of `lines`, one record per line as the ingest service ships them. */
export function normalizeLines(lines: readonly string[]): MamoriEvent[] {
  const format = zeekConnFormat();
  return lines.flatMap((line, i) => normalizeRecord(format, Buffer.from(line), decodeContext(i)).events);
}

export interface RealLines {
  readonly lines: string[];
  /** Files they came from, relative to the data dir. */
  readonly files: string[];
  /** Conn-looking lines left out because they are not valid JSON (truncated samples): the baseline must parse every line. */
  readonly skipped: number;
}

function parses(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

const MAX_FILE_BYTES = 64 * 1024 * 1024;

function isConnJson(line: string): boolean {
  return line.startsWith('{') && line.includes('"conn_state"') && line.includes('orig_h') && line.includes('"proto"');
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

/**
 * Zeek conn JSON lines found by content (not by file name) under `dir`: JSON objects with a
 * `conn_state`, an originator address and a `proto`. Gzip files are read too. Undefined when the
 * directory does not exist.
 */
export function realConnLines(dir: string = SHARED_ZEEK_DIR): RealLines | undefined {
  if (!existsSync(dir)) return undefined;
  const lines: string[] = [];
  const files: string[] = [];
  let skipped = 0;
  for (const file of walk(dir)) {
    if (statSync(file).size > MAX_FILE_BYTES) continue;
    let raw = readFileSync(file);
    if (raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        raw = gunzipSync(raw);
      } catch {
        continue;
      }
    }
    // Binary files (pcaps) and TSV logs are skipped by the first-bytes check.
    const head = raw.subarray(0, 4096).toString('utf8');
    if (!head.split('\n').some(isConnJson)) continue;
    const candidates = raw.toString('utf8').split('\n').filter(isConnJson);
    const found = candidates.filter(parses);
    skipped += candidates.length - found.length;
    if (found.length > 0) {
      lines.push(...found);
      files.push(`${path.relative(dir, file)} (${found.length})`);
    }
  }
  return { lines, files, skipped };
}
