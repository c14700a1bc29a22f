// Inputs shared by the CPU-bound sections: simulated and real Zeek conn JSON lines, normalized events.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { MamoriEvent } from '@mamori/events';
import { createSimulator, type AttackSpec } from '@mamori/ingest';
import { parseInventory, type Inventory } from '@mamori/inventory';
import { Enricher, formatForTopic, normalizeRecord, RecordNormalizer, type DecodeContext, type RecordSource, type SensorFormat } from '@mamori/normalizer';

export const RAW_TOPIC = 'telemetry.raw.zeek.conn';

/** The sensor id the bench records carry (registered in {@link benchInventory}). */
export const BENCH_SENSOR = 'bench-sensor';

/** The shared sample data, `../shared/data/zeek` from the repository root. */
export const SHARED_ZEEK_DIR = fileURLToPath(new URL('../../../shared/data/zeek', import.meta.url));

export function zeekConnFormat(): SensorFormat {
  const format = formatForTopic(RAW_TOPIC);
  if (!format) throw new Error(`no normalizer format registered for ${RAW_TOPIC}`);
  return format;
}

export function decodeContext(offset: number): DecodeContext {
  return { topic: RAW_TOPIC, partition: 0, offset, sensorId: BENCH_SENSOR, orgId: 'default', ingestTime: 1_700_000_000_000 };
}

/** Where a bench record came from, as the stage hands it to `RecordNormalizer` (no org: the sensor check decides it). */
export function recordSource(topic: string, offset: number): RecordSource {
  return { topic, partition: 0, offset, sensorId: BENCH_SENSOR, ingestTime: 1_700_000_000_000 };
}

/**
 * The per-record work of the normalizer stage as `NormalizerStage` builds it: the sensor check and an
 * `Enricher` with the Community ID seed (default 0), no GeoIP. Without `inventory` it is the default
 * deployment (no inventory file: unregistered sensors accepted under the default organization,
 * Community ID only); with one, sensors must be registered and events also get direction and assets.
 */
export function stageRecordNormalizer(inventory?: Inventory): RecordNormalizer {
  const current = () => inventory;
  return new RecordNormalizer(
    { inventory: current, allowUnregistered: inventory === undefined, defaultOrg: 'default' },
    new Enricher({ inventory: current, geo: undefined, communityIdSeed: 0 }),
  );
}

/**
 * A small inventory of one organization, as a site would write it: the bench sensor, the private
 * ranges (and a ULA) as home networks, and a handful of assets (servers as host entries, the office
 * LAN and a server subnet as networks), so events take the direction and asset lookups and many of
 * them carry assets. Not fitted to particular sample addresses beyond the simulator's home network
 * (10.20.0.0/16) sitting inside 10/8.
 */
export function benchInventory(): Inventory {
  return parseInventory(
    [
      'version: 1',
      'organizations:',
      '  - id: acme',
      '    name: ACME Corporation',
      'sensors:',
      `  - id: ${BENCH_SENSOR}`,
      '    org: acme',
      '    site: hq',
      'home_networks:',
      '  acme: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "fd00:ac::/32"]',
      'assets:',
      '  - { org: acme, network: 10.20.0.0/16, name: office-lan, owner: it-ops, criticality: low }',
      '  - { org: acme, network: 10.20.0.0/24, name: server-subnet, owner: it-ops, criticality: high }',
      '  - { org: acme, network: 10.20.0.2, name: dns01, owner: it-ops, criticality: high }',
      '  - { org: acme, network: 10.20.0.3, name: dc01, owner: it-ops, criticality: critical }',
      '  - { org: acme, network: 10.20.0.4, name: files01, owner: it-ops, criticality: high }',
      '  - { org: acme, network: 192.168.10.0/24, name: lab, owner: research }',
      '  - { org: acme, network: "fd00:ac::10", name: web01, owner: web, criticality: critical }',
      '',
    ].join('\n'),
    'bench inventory',
  );
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
