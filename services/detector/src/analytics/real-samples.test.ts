/**
 * The analytics on real Zeek captures (../shared/data, README there). Conn logs go through the
 * normalizer's committed Zeek conn format (JSON); TSV files are turned into JSON objects first
 * with their own #fields header, since the TSV format is being added to the normalizer separately.
 * There is no committed Zeek ssh format yet either, so ssh.log records are mapped here to the v2
 * `ssh` record the way such a format would.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { formatForTopic, normalizeRecord } from '../../../normalizer/src/normalize.ts';
import { BruteForceAnalytic, DEFAULT_BRUTE_FORCE_CONFIG } from './brute-force.ts';
import { BeaconingAnalytic } from './beaconing.ts';
import { LongConnectionAnalytic } from './long-connection.ts';
import type { Analytic } from './types.ts';

const ZEEK = fileURLToPath(new URL('../../../../../shared/data/zeek/', import.meta.url));
const HAVE = existsSync(ZEEK);
const TOPIC = 'telemetry.raw.zeek.conn';

function tsvToObjects(text: string): Record<string, unknown>[] {
  let fields: string[] = [];
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#fields')) fields = line.split('\t').slice(1);
    if (line.startsWith('#') || line === '') continue;
    const cells = line.split('\t');
    const o: Record<string, unknown> = {};
    fields.forEach((f, i) => {
      const v = cells[i];
      if (v !== undefined && v !== '-' && v !== '(empty)') o[f] = v;
    });
    out.push(o);
  }
  return out;
}

function readLog(path: string): Record<string, unknown>[] {
  const buf = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
  return text.startsWith('#') ? tsvToObjects(text) : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function connEvents(records: Record<string, unknown>[]): MamoriEvent[] {
  const format = formatForTopic(TOPIC)!;
  const events: MamoriEvent[] = [];
  // One Kafka record per 500 lines, as a shipper would batch them (records are capped at 1 MiB).
  for (let i = 0; i < records.length; i += 500) {
    const bytes = Buffer.from(records.slice(i, i + 500).map((r) => JSON.stringify(r)).join('\n'));
    const result = normalizeRecord(format, bytes, { topic: TOPIC, partition: 0, offset: i, orgId: 'org', sensorId: 'zeek', ingestTime: 0 } as Parameters<typeof normalizeRecord>[2]);
    events.push(...result.events);
  }
  expect(events.length).toBeGreaterThan(records.length * 0.9);
  return events.sort((a, b) => a.time - b.time);
}

function sshEvents(records: Record<string, unknown>[]): MamoriEvent[] {
  return records.map((r, i) => ({
    event_id: `ssh${i}`, event_class: 'network_activity', time: Math.round(Number(r['ts']) * 1000), ingest_time: 0, org_id: 'org', sensor_id: 'zeek', source_format: 'zeek.ssh',
    src_ip: String(r['id.orig_h']), src_port: Number(r['id.orig_p']), dst_ip: String(r['id.resp_h']), dst_port: Number(r['id.resp_p']), protocol: 'tcp',
    bytes_out: 0, bytes_in: 0, packets_out: 0, packets_in: 0, duration_ms: 0, conn_state: null, community_id: null, raw: { topic: 'zeek.ssh', partition: 0, offset: i }, attributes: {},
    ssh: {
      client: (r['client'] as string) ?? null, server: (r['server'] as string) ?? null,
      auth_success: r['auth_success'] === undefined ? null : r['auth_success'] === true || r['auth_success'] === 'T',
      auth_attempts: r['auth_attempts'] === undefined ? null : Number(r['auth_attempts']), hassh: null, hassh_server: null, direction: (r['direction'] as string) ?? null,
    },
  })).sort((a, b) => a.time - b.time);
}

function run(a: Analytic, events: MamoriEvent[]): MamoriDetection[] {
  const out = events.flatMap((e) => a.observe(e));
  out.push(...a.advance(Number.POSITIVE_INFINITY, 0));
  // Latest version of each detection.
  return [...new Map(out.map((d) => [d.detection_id, d])).values()];
}

describe.skipIf(!HAVE)('analytics on real Zeek captures', () => {
  it('rita/missing_host: finds the SSH brute force on the internet-facing host, and only sources that hammered port 22', () => {
    // Ground truth (dataset README): two days of an internet-facing host under scanning and SSH
    // brute force. The host is whatever receives the most port-22 connections; every flagged source
    // must have made at least the threshold of short connections to one host's login port.
    const dir = `${ZEEK}rita/missing_host/`;
    const files = readdirSync(dir).flatMap((day) => readdirSync(`${dir}${day}`).filter((f) => f.startsWith('conn.')).map((f) => `${dir}${day}/${f}`));
    const events = connEvents(files.flatMap(readLog));
    expect(events.length).toBeGreaterThan(50_000);
    const detections = run(new BruteForceAnalytic(), events);
    const byTarget = new Map<string, number>();
    for (const e of events) if (e.dst_port === 22) byTarget.set(e.dst_ip, (byTarget.get(e.dst_ip) ?? 0) + 1);
    const host = [...byTarget].sort((a, b) => b[1] - a[1])[0]![0];
    const sources = new Set(detections.map((d) => d.src_ip));
    expect(sources.size).toBeGreaterThanOrEqual(5);
    const toHost = new Map<string, number>();
    const ssh = new Map<string, number>();
    for (const e of events) {
      if (e.dst_ip === host && DEFAULT_BRUTE_FORCE_CONFIG.authPorts.includes(e.dst_port)) toHost.set(e.src_ip, (toHost.get(e.src_ip) ?? 0) + 1);
      if (e.dst_port === 22) ssh.set(e.src_ip, (ssh.get(e.src_ip) ?? 0) + 1);
    }
    for (const d of detections) {
      expect(d.attributes['kind']).toContain('conn_brute_force');
      expect(Number(d.attributes['peak_conn_attempts'])).toBeGreaterThanOrEqual(DEFAULT_BRUTE_FORCE_CONFIG.connMinAttempts);
      expect(toHost.get(d.src_ip!) ?? 0).toBeGreaterThanOrEqual(DEFAULT_BRUTE_FORCE_CONFIG.connMinAttempts);
    }
    // Sources with a handful of port-22 connections are not reported.
    expect([...ssh].filter(([s, n]) => n < 10 && sources.has(s))).toEqual([]);
    console.log(`missing_host: ${events.length} conns, ${sources.size} brute-force sources against the host's port 22`);
  });

  it('stratosphere 006: a honeypot owner logging in over SSH (mostly auth_success T, one F) is not brute force', () => {
    const events = sshEvents(readLog(`${ZEEK}stratosphere/006-zeek-scenario-ssh/ssh.log`));
    expect(events.some((e) => e.ssh?.auth_success === false)).toBe(true);
    expect(run(new BruteForceAnalytic(), events)).toEqual([]);
    expect(run(new BruteForceAnalytic(), connEvents(readLog(`${ZEEK}stratosphere/006-zeek-scenario-ssh/conn.log`)))).toEqual([]);
  });

  it('stratosphere 004: SSH handshakes without auth results (auth_attempts 0) never count as failures', () => {
    // 396 sessions from many clients over days, no auth_success field; the README says clients
    // logging in. Without failures or attempts there is no evidence of guessing.
    const events = sshEvents(readLog(`${ZEEK}stratosphere/004-zeek-scenario-ssh/ssh.log`));
    expect(events).toHaveLength(396);
    expect(run(new BruteForceAnalytic(), events)).toEqual([]);
  });

  it('slips port scans and mixed captures: no brute force from a port scanner, long connections and beacons are explained', () => {
    const scans = connEvents([...readLog(`${ZEEK}slips/port-scans/horizontal/conn.log`), ...readLog(`${ZEEK}slips/port-scans/vertical/conn.log`)]);
    // A scanner touching 22/3389 once per host is not guessing passwords.
    expect(run(new BruteForceAnalytic(), scans)).toEqual([]);
    const mixed = connEvents(readLog(`${ZEEK}slips/test9-mixed-zeek-dir/conn.log`));
    for (const d of run(new LongConnectionAnalytic(), mixed)) expect(Number(d.attributes['max_duration_ms'])).toBeGreaterThanOrEqual(3_600_000);
    for (const d of run(new BeaconingAnalytic(), mixed)) {
      expect(Number(d.attributes['score'])).toBeGreaterThanOrEqual(0.8);
      expect(d.summary).toContain('beacon score');
    }
  });
});
