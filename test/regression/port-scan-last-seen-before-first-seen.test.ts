import type { MamoriEvent } from '@mamori/events';
import { PortScanAnalytic } from '@mamori/detector';
import { describe, expect, it } from 'vitest';

/**
 * Zeek writes a conn record when the connection ends, so a log is not in time order. The analytic
 * took the first probe in arrival order as first_seen, and a detection could end before it began
 * (the writer then dead-lettered it). Found by the import e2e test on a real nmap capture.
 */
describe('port scan over out-of-order events', () => {
  it('never reports last_seen before first_seen', () => {
    const t0 = 1_664_464_850_000;
    const base: Omit<MamoriEvent, 'event_id' | 'time' | 'dst_port' | 'raw'> = {
      event_class: 'network_activity', ingest_time: t0, org_id: 'o', sensor_id: 's', source_format: 'zeek.conn',
      src_ip: '10.0.0.1', src_port: 40000, dst_ip: '10.0.0.2', protocol: 'tcp', bytes_out: 0, bytes_in: 0,
      packets_out: 1, packets_in: 0, duration_ms: 0, conn_state: 'REJ', community_id: null, attributes: {},
    };
    // 40 probes; arrival order shuffled against time by up to a few hundred milliseconds.
    const events: MamoriEvent[] = Array.from({ length: 40 }, (_, i) => ({
      ...base,
      event_id: `e${i}`,
      time: t0 + i * 10 + (i % 3 === 0 ? 300 : 0) - (i % 5 === 0 ? 250 : 0),
      dst_port: 1000 + i,
      raw: { topic: 't', partition: 0, offset: i },
    }));
    const analytic = new PortScanAnalytic();
    const out = [...events.flatMap((e) => analytic.observe(e)), ...analytic.advance(Number.POSITIVE_INFINITY, t0 + 3_600_000)];
    expect(out.length).toBeGreaterThan(0);
    for (const d of out) expect(d.last_seen).toBeGreaterThanOrEqual(d.first_seen);
    const final = out.at(-1)!;
    expect(final.first_seen).toBe(Math.min(...events.slice(0, 20).map((e) => e.time)));
    expect(final.last_seen).toBe(Math.max(...events.map((e) => e.time)));
  });
});
