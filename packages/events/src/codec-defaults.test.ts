import { describe, expect, it } from 'vitest';
import { EventCodec } from './codec.ts';
import type { MamoriEvent } from './model.ts';

// encode() fills absent defaulted fields itself (speed); the bytes must stay exactly avsc's own.

function conn(i: number): MamoriEvent {
  return {
    event_id: `id-${i}`,
    event_class: 'network_activity',
    time: 1_700_000_000_000 + i,
    ingest_time: 1_700_000_001_000,
    org_id: 'org-1',
    sensor_id: 'zeek-01',
    source_format: 'zeek.conn',
    src_ip: '10.0.0.1',
    src_port: i % 65536,
    dst_ip: '2001:db8::1',
    dst_port: 443,
    protocol: 'tcp',
    bytes_out: i * 3,
    bytes_in: 5_000_000_000,
    packets_out: 1,
    packets_in: 2,
    duration_ms: 15,
    conn_state: i % 2 === 0 ? 'SF' : null,
    community_id: null,
    raw: { topic: 't', partition: 0, offset: i },
    attributes: { uid: `C${i}`, 'é✓': 'x' },
  };
}

describe('EventCodec.encode with absent defaulted fields', () => {
  const codec = new EventCodec();
  const body = (e: MamoriEvent): Buffer => codec.schema.type.toBuffer(e);

  it('writes the same bytes as avsc for v1-shaped events, partly enriched ones and explicit undefined', () => {
    const variants: MamoriEvent[] = [];
    for (let i = 0; i < 50; i++) {
      const e = conn(i);
      variants.push(e);
      variants.push({ ...e, site_id: 'hq', direction: 'outbound', src_geo: { country_code: 'DE', city: null, asn: 3320, as_org: 'DTAG' } });
      variants.push({ ...e, site_id: undefined, host: undefined, user: 'alice' });
      variants.push({ ...e, attributes: undefined as unknown as Record<string, string> });
    }
    for (const e of variants) expect(codec.encode(e).subarray(10).equals(body(e))).toBe(true);
  });

  it('does not change the value it was given', () => {
    const e = conn(1);
    const before = JSON.stringify(e);
    codec.encode(e);
    expect(JSON.stringify(e)).toBe(before);
    expect('site_id' in e).toBe(false);
  });
});
