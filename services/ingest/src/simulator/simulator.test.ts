import { describe, expect, it } from 'vitest';
import { createSimulator, type SimulatedRecord } from './index.ts';

const ZEEK_CONN_FIELDS = [
  'ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes',
  'resp_bytes', 'conn_state', 'local_orig', 'local_resp', 'missed_bytes', 'history', 'orig_pkts', 'orig_ip_bytes',
  'resp_pkts', 'resp_ip_bytes',
];
const ALWAYS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'conn_state', 'missed_bytes', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes'];
const ZEEK_STATES = new Set(['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH']);

type Conn = Record<string, unknown>;
const parse = (r: SimulatedRecord): Conn => JSON.parse(r.line) as Conn;

function take(options: Parameters<typeof createSimulator>[0]): SimulatedRecord[] {
  return [...createSimulator(options)];
}

describe('simulator', () => {
  it('is deterministic by seed and re-iterable', () => {
    const options = { seed: 7, durationMs: 60_000, attacks: [{ kind: 'vertical_scan' as const, at: 10_000 }] };
    const a = take(options);
    expect(a.length).toBeGreaterThan(2000);
    expect(take(options)).toEqual(a);
    const sim = createSimulator(options);
    expect([...sim]).toEqual([...sim]);
    expect(take({ ...options, seed: 8 })).not.toEqual(a);
  });

  it('is lazy: an unbounded simulator yields on demand', () => {
    const it = createSimulator({ seed: 1 })[Symbol.iterator]();
    for (let i = 0; i < 10; i++) expect(it.next().done).toBe(false);
  });

  it('honours count and duration bounds, in time order', () => {
    expect(take({ seed: 1, count: 123 })).toHaveLength(123);
    const records = take({ seed: 1, startTime: 1_000_000, durationMs: 10_000, ratePerSecond: 200 });
    expect(records.length).toBeGreaterThan(1500);
    expect(records.length).toBeLessThan(2500);
    for (let i = 1; i < records.length; i++) expect(records[i]!.sensorTime).toBeGreaterThanOrEqual(records[i - 1]!.sensorTime);
    expect(records.at(-1)!.sensorTime).toBeLessThan(1_000_000 + 10_000);
  });

  it('writes Zeek conn JSON shapes and never the label', () => {
    const records = take({ seed: 3, durationMs: 120_000, attacks: [{ kind: 'horizontal_scan', at: 5_000 }, { kind: 'vertical_scan', at: 60_000 }] });
    const states = new Map<string, number>();
    // Plain checks collected into one list: thousands of expect() calls would dominate the run time.
    const problems: string[] = [];
    const port = (p: unknown): boolean => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
    for (const record of records) {
      const conn = parse(record);
      const fail = (what: string): void => void problems.push(`${what}: ${record.line}`);
      if (/attack|benign|label/.test(record.line)) fail('label leaked');
      for (const key of Object.keys(conn)) if (!ZEEK_CONN_FIELDS.includes(key)) fail(`unexpected field ${key}`);
      for (const key of ALWAYS) if (!(key in conn)) fail(`missing ${key}`);
      if (typeof conn['ts'] !== 'number' || Math.floor((conn['ts'] as number) * 1000) !== record.sensorTime) fail('ts');
      if (!/^C[A-Za-z0-9]{17}$/.test(String(conn['uid']))) fail('uid');
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(String(conn['id.orig_h'])) || !/^\d+\.\d+\.\d+\.\d+$/.test(String(conn['id.resp_h']))) fail('address');
      if (!port(conn['id.orig_p']) || !port(conn['id.resp_p'])) fail('port');
      if (!['tcp', 'udp', 'icmp'].includes(conn['proto'] as string)) fail('proto');
      if (!ZEEK_STATES.has(conn['conn_state'] as string)) fail('conn_state');
      if ('duration' in conn && !((conn['duration'] as number) >= 0)) fail('duration');
      if ((conn['orig_ip_bytes'] as number) < ((conn['orig_bytes'] as number | undefined) ?? 0)) fail('orig_ip_bytes');
      states.set(conn['conn_state'] as string, (states.get(conn['conn_state'] as string) ?? 0) + 1);
    }
    expect(problems.slice(0, 5)).toEqual([]);
    const benign = records.filter((r) => r.label === 'benign').map(parse);
    const sf = benign.filter((c) => c['conn_state'] === 'SF').length;
    expect(sf / benign.length).toBeGreaterThan(0.9);
    expect(states.get('S0')).toBeGreaterThan(0);
    expect(states.get('REJ')).toBeGreaterThan(0);
  });

  it('injects a horizontal scan with the requested distinct targets and ports', () => {
    const sim = createSimulator({
      seed: 11,
      durationMs: 90_000,
      attacks: [{ kind: 'horizontal_scan', at: 30_000, targets: 150, ports: [445, 139], durationMs: 20_000 }],
    });
    const probes = [...sim].filter((r) => r.label === 'attack:horizontal_scan').map(parse);
    expect(probes).toHaveLength(300);
    expect(new Set(probes.map((p) => p['id.resp_h'])).size).toBe(150);
    expect(new Set(probes.map((p) => p['id.resp_p']))).toEqual(new Set([445, 139]));
    expect(new Set(probes.map((p) => p['id.orig_h']))).toEqual(new Set([sim.attackSources[0]]));
    for (const p of probes) {
      expect(['S0', 'REJ', 'RSTO']).toContain(p['conn_state']);
      expect((p['duration'] as number | undefined) ?? 0).toBeLessThan(0.1);
      expect((p['ts'] as number) * 1000).toBeGreaterThanOrEqual(1_700_000_030_000);
      expect((p['ts'] as number) * 1000).toBeLessThan(1_700_000_051_000);
    }
  });

  it('injects a vertical scan with the requested distinct ports on one host', () => {
    const sim = createSimulator({ seed: 12, durationMs: 60_000, attacks: [{ kind: 'vertical_scan', at: 1_000, source: '203.0.113.9', ports: 300 }] });
    const probes = [...sim].filter((r) => r.label === 'attack:vertical_scan').map(parse);
    expect(probes).toHaveLength(300);
    expect(new Set(probes.map((p) => p['id.resp_p'])).size).toBe(300);
    expect(new Set(probes.map((p) => p['id.resp_h']))).toEqual(new Set([sim.network.servers.smb]));
    expect(new Set(probes.map((p) => p['id.orig_h']))).toEqual(new Set(['203.0.113.9']));
    expect(probes.filter((p) => p['conn_state'] === 'REJ').length).toBeGreaterThan(200);
  });

  it('keeps every benign source below scan thresholds in any minute', () => {
    // A scan detector counts distinct hosts per port and distinct ports per host over 60 s; ordinary
    // traffic must stay far below its defaults (20), even at a busy rate.
    const records = take({ seed: 5, durationMs: 10 * 60_000, ratePerSecond: 200 }).map(parse);
    let maxHostsPerPort = 0;
    let maxPortsPerHost = 0;
    let maxPorts = 0;
    let maxHosts = 0;
    const byMinute = new Map<string, Conn[]>();
    for (const c of records) {
      const key = `${c['id.orig_h']}@${Math.floor((c['ts'] as number) / 60)}`;
      (byMinute.get(key) ?? byMinute.set(key, []).get(key)!).push(c);
    }
    for (const conns of byMinute.values()) {
      const hostsByPort = new Map<unknown, Set<unknown>>();
      const portsByHost = new Map<unknown, Set<unknown>>();
      for (const c of conns) {
        (hostsByPort.get(c['id.resp_p']) ?? hostsByPort.set(c['id.resp_p'], new Set()).get(c['id.resp_p'])!).add(c['id.resp_h']);
        (portsByHost.get(c['id.resp_h']) ?? portsByHost.set(c['id.resp_h'], new Set()).get(c['id.resp_h'])!).add(c['id.resp_p']);
      }
      for (const s of hostsByPort.values()) maxHostsPerPort = Math.max(maxHostsPerPort, s.size);
      for (const s of portsByHost.values()) maxPortsPerHost = Math.max(maxPortsPerHost, s.size);
      maxPorts = Math.max(maxPorts, hostsByPort.size);
      maxHosts = Math.max(maxHosts, portsByHost.size);
    }
    // Structural maxima: up to 7 favourite sites + the intranet on 443; those + DNS, DC, SMB hosts.
    expect(maxHostsPerPort).toBeLessThanOrEqual(8);
    expect(maxPortsPerHost).toBeLessThanOrEqual(2);
    expect(maxPorts).toBeLessThanOrEqual(8);
    expect(maxHosts).toBeLessThanOrEqual(12);
  });
});
