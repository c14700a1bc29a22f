import { describe, expect, it } from 'vitest';
import { detectionFromClickHouse, detectionToClickHouse, toDetectionRow } from './detection-row.ts';
import { eventFromClickHouse, eventToClickHouse, toEventRow } from './event-row.ts';

const minimalEvent = { eventId: 'e1', orgId: 'o', time: Date.UTC(2025, 0, 1), srcIp: '10.0.0.1', dstIp: '2001:db8::1' };

describe('event rows', () => {
  it('fills defaults and converts to ClickHouse columns', () => {
    const row = toEventRow({ ...minimalEvent, ingestTime: '2025-01-01T00:00:01.000Z', srcPort: 5 });
    expect(row).toMatchObject({ srcPort: 5, dstPort: 0, bytesOut: 0, attributes: {}, ingestTime: Date.UTC(2025, 0, 1, 0, 0, 1) });
    const ch = eventToClickHouse(row);
    expect(ch).toMatchObject({ event_id: 'e1', time: '2025-01-01 00:00:00.000', src_ip: '10.0.0.1', src_port: 5 });
  });

  it('names the bad field', () => {
    expect(() => toEventRow({ ...minimalEvent, srcIp: 'nope' })).toThrow(/event\.srcIp/);
    expect(() => toEventRow({ ...minimalEvent, dstPort: 70000 })).toThrow(/event\.dstPort/);
    expect(() => toEventRow({ ...minimalEvent, eventId: '' })).toThrow(/event\.eventId/);
    expect(() => toEventRow({ ...minimalEvent, attributes: { a: 1 } } as never)).toThrow(/event\.attributes\.a/);
  });

  it('reads IPv4-mapped addresses and quoted 64-bit integers back', () => {
    const row = eventFromClickHouse({ src_ip_text: '::ffff:10.0.0.1', dst_ip_text: '2001:db8::1', bytes_in: '1099511627776', time_ms: '1735689600000' });
    expect(row).toMatchObject({ srcIp: '10.0.0.1', dstIp: '2001:db8::1', bytesIn: 2 ** 40, time: 1735689600000 });
  });
});

describe('detection rows', () => {
  const minimal = { detectionId: 'd', orgId: 'o', ruleId: 'r', severity: 'high', firstSeen: 1000, lastSeen: 2000 } as const;

  it('derives severity rank and defaults, and maps a missing source address to ::', () => {
    const row = toDetectionRow({ ...minimal, detectedAt: 3000 });
    expect(row).toMatchObject({ version: 3000, count: 1, confidence: 1, evidenceJson: '{}' });
    expect(row.srcIp).toBeUndefined();
    expect(detectionToClickHouse(row)).toMatchObject({ severity_rank: 4, src_ip: '::' });
    expect(detectionFromClickHouse({ ...detectionToClickHouse(row), src_ip_text: '::' }).srcIp).toBeUndefined();
  });

  it('refuses bad severities, confidences and time order', () => {
    expect(() => toDetectionRow({ ...minimal, severity: 'urgent' } as never)).toThrow(/severity/);
    expect(() => toDetectionRow({ ...minimal, confidence: 2 })).toThrow(/confidence/);
    expect(() => toDetectionRow({ ...minimal, lastSeen: 10 })).toThrow(/lastSeen/);
  });
});
