import type { MamoriEvent } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORT_SCAN_CONFIG, PortScanAnalytic, detectionId } from './port-scan.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
let offset = 0;

function conn(over: Partial<MamoriEvent>): MamoriEvent {
  offset += 1;
  return {
    event_id: `e${offset}`,
    event_class: 'network_activity',
    time: T0,
    ingest_time: T0,
    org_id: 'org-a',
    sensor_id: 's1',
    source_format: 'zeek.conn',
    src_ip: '10.0.0.5',
    src_port: 40000 + (offset % 20000),
    dst_ip: '10.0.1.1',
    dst_port: 443,
    protocol: 'tcp',
    bytes_out: 0,
    bytes_in: 0,
    packets_out: 1,
    packets_in: 0,
    duration_ms: 0,
    conn_state: 'S0',
    community_id: null,
    raw: { topic: 'telemetry.raw.zeek.conn', partition: 0, offset },
    attributes: {},
    ...over,
  };
}

function run(analytic: PortScanAnalytic, events: MamoriEvent[]) {
  const out = events.flatMap((e) => analytic.observe(e));
  return [...out, ...analytic.advance(Number.POSITIVE_INFINITY, T0 + 3_600_000)];
}

describe('PortScanAnalytic', () => {
  it('detects a horizontal scan and reports one episode with the full count', () => {
    const a = new PortScanAnalytic();
    const probes = Array.from({ length: 45 }, (_, i) => conn({ time: T0 + i * 500, dst_ip: `10.0.2.${i + 1}`, dst_port: 22, conn_state: i % 3 === 0 ? 'REJ' : 'S0' }));
    const out = run(a, probes);
    expect(out.length).toBeGreaterThanOrEqual(2);
    const ids = new Set(out.map((d) => d.detection_id));
    expect(ids.size).toBe(1);
    const first = out[0]!;
    expect(first.count).toBe(20);
    expect(first.attributes['kind']).toBe('horizontal');
    const last = out.at(-1)!;
    expect(last.count).toBe(45);
    expect(last.first_seen).toBe(T0);
    expect(last.last_seen).toBe(T0 + 44 * 500);
    expect(last.entity).toEqual({ type: 'ip', value: '10.0.0.5' });
    expect(last.attributes['distinct_hosts']).toBe('45');
    expect(last.evidence.length).toBe(DEFAULT_PORT_SCAN_CONFIG.maxEvidence);
    expect(last.detection_id).toBe(detectionId('mamori.network.port_scan', 'org-a', '10.0.0.5', T0));
    expect(last.summary).toContain('45 unanswered or refused');
  });

  it('detects a vertical scan', () => {
    const a = new PortScanAnalytic();
    const probes = Array.from({ length: 30 }, (_, i) => conn({ src_ip: '192.0.2.9', time: T0 + i * 100, dst_ip: '10.0.3.3', dst_port: 1000 + i, conn_state: 'REJ' }));
    const out = run(a, probes);
    expect(out.at(-1)!.attributes['kind']).toBe('vertical');
    expect(out.at(-1)!.count).toBe(30);
  });

  it('stays quiet for ordinary traffic: established sessions to many hosts, a DNS resolver', () => {
    const a = new PortScanAnalytic();
    const events: MamoriEvent[] = [];
    for (let i = 0; i < 200; i++) {
      events.push(conn({ src_ip: '10.0.0.53', time: T0 + i * 50, dst_ip: `198.51.100.${i % 250}`, dst_port: 53, protocol: 'udp', conn_state: 'SF', bytes_out: 40, bytes_in: 120 }));
      events.push(conn({ src_ip: '10.0.0.7', time: T0 + i * 50, dst_ip: `203.0.113.${i % 250}`, dst_port: 443, conn_state: 'SF', bytes_out: 900, bytes_in: 40_000 }));
    }
    // A few failed attempts are normal too.
    for (let i = 0; i < 5; i++) events.push(conn({ src_ip: '10.0.0.7', time: T0 + i, dst_ip: `203.0.113.${i}`, dst_port: 443, conn_state: 'S0' }));
    expect(run(a, events)).toEqual([]);
  });

  it('does not read an ICMP or ICMPv6 sweep without connection state (NetFlow, Suricata) as a port scan', () => {
    // Echo requests to many hosts: type 8 / 128 sits where a port would (as NetFlow writes it, type << 8 | code).
    for (const [protocol, port] of [['icmp', 8 << 8], ['ipv6-icmp', 128 << 8]] as const) {
      const a = new PortScanAnalytic();
      const sweep = Array.from({ length: 60 }, (_, i) =>
        conn({ src_ip: '2001:db8::9', time: T0 + i * 100, dst_ip: `2001:db8::1:${i.toString(16)}`, dst_port: port, protocol, conn_state: null, source_format: 'netflow.flow' }),
      );
      expect(run(a, sweep), protocol).toEqual([]);
    }
  });

  it('counts within a sliding window: probes spread thinner than the window raise nothing', () => {
    const a = new PortScanAnalytic();
    const probes = Array.from({ length: 60 }, (_, i) => conn({ src_ip: '10.9.9.9', time: T0 + i * 5000, dst_ip: `10.0.4.${i + 1}`, dst_port: 445 }));
    // 60 s window / 5 s apart: at most 13 distinct hosts at once, below 20.
    expect(run(a, probes)).toEqual([]);
  });

  it('catches a scan that straddles a minute boundary (no tumbling-window blind spot)', () => {
    const a = new PortScanAnalytic();
    const start = T0 + 50_000;
    const probes = Array.from({ length: 24 }, (_, i) => conn({ src_ip: '10.8.8.8', time: start + i * 1000, dst_ip: `10.0.5.${i + 1}`, dst_port: 3389 }));
    expect(run(a, probes).at(-1)?.count).toBe(24);
  });

  it('keeps sources apart per organization', () => {
    const a = new PortScanAnalytic();
    const events: MamoriEvent[] = [];
    for (let i = 0; i < 15; i++) {
      events.push(conn({ org_id: 'org-a', src_ip: '10.1.1.1', dst_ip: `10.0.6.${i}`, time: T0 + i }));
      events.push(conn({ org_id: 'org-b', src_ip: '10.1.1.1', dst_ip: `10.0.7.${i}`, time: T0 + i }));
    }
    expect(run(a, events)).toEqual([]);
  });

  it('bounds the number of sources it tracks', () => {
    const a = new PortScanAnalytic({ ...DEFAULT_PORT_SCAN_CONFIG, maxSources: 100 });
    for (let i = 0; i < 1000; i++) a.observe(conn({ src_ip: `10.${i >> 8}.${i & 255}.1`, time: T0 + i }));
    expect(a.size()).toBeLessThanOrEqual(100);
  });

  it('opens a new episode after the gap and a new id', () => {
    const a = new PortScanAnalytic();
    const burst = (t: number) => Array.from({ length: 25 }, (_, i) => conn({ src_ip: '10.7.7.7', time: t + i * 10, dst_ip: `10.0.8.${i}`, dst_port: 80 }));
    const out = [...burst(T0).flatMap((e) => a.observe(e)), ...a.advance(T0 + 10 * 60_000, T0), ...burst(T0 + 11 * 60_000).flatMap((e) => a.observe(e))];
    expect(new Set(out.map((d) => d.detection_id)).size).toBe(2);
  });
});
