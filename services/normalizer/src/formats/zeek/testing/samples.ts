/** Test support: the shared Zeek samples (../shared/data/zeek), found and typed by content. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { DecodeContext, SensorFormat } from '../../types.ts';
import { zeekConnFormat } from '../../zeek-conn/index.ts';
import { ZEEK_LOG_FORMATS } from '../index.ts';
import { isZeekTsv } from '../tsv.ts';

/** `<checkout>/../shared/data/zeek/`. */
export const ZEEK_DATA = fileURLToPath(new URL('../../../../../../../shared/data/zeek/', import.meta.url));

export const ALL_ZEEK_FORMATS: readonly SensorFormat[] = [zeekConnFormat, ...ZEEK_LOG_FORMATS];

export const testCtx = (log: string, offset = 0): DecodeContext => ({
  topic: `telemetry.raw.zeek.${log}`,
  partition: 0,
  offset,
  sensorId: 'zeek-lab-1',
  orgId: 'org-test',
  ingestTime: 1_710_000_000_000,
});

export interface Sample {
  /** Relative to {@link ZEEK_DATA}. */
  readonly name: string;
  readonly text: string;
  readonly kind: 'json' | 'tsv';
  /** The format whose sniff scored highest, or null when none claims it. */
  readonly format: SensorFormat | null;
  readonly score: number;
}

export function readLog(path: string): string {
  const raw = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
}

/** Picks the format the way `mamori import` does: highest sniff score over the first 64 KiB. */
export function sniffFormat(text: string): { format: SensorFormat | null; score: number } {
  const head = text.slice(0, 64 * 1024);
  let best: SensorFormat | null = null;
  let score = 0;
  for (const format of ALL_ZEEK_FORMATS) {
    const s = format.sniff?.(head) ?? 0;
    if (s > score) [best, score] = [format, s];
  }
  return { format: best, score };
}

let cache: Sample[] | undefined;

/** Every Zeek log file under the shared data (plain or gzip), typed by content, never by name. */
export function zeekSamples(): Sample[] {
  if (cache !== undefined) return cache;
  const out: Sample[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!/LICENSE|README|\.pcap$|\.config$|\.md$/.test(entry.name)) {
        const text = readLog(path);
        const trimmed = text.trimStart();
        const kind = isZeekTsv(text) ? 'tsv' : trimmed.startsWith('{') ? 'json' : null;
        if (kind === null) continue;
        out.push({ name: relative(ZEEK_DATA, path), text, kind, ...sniffFormat(text) });
      }
    }
  };
  if (existsSync(ZEEK_DATA)) walk(ZEEK_DATA);
  cache = out.sort((a, b) => a.name.localeCompare(b.name));
  return cache;
}
