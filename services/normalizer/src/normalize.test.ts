import { describe, expect, it } from 'vitest';
import { formatForTopic, normalizeRecord, type DecodeContext, type SensorFormat } from './normalize.ts';

const ctx: DecodeContext = { topic: 'telemetry.raw.zeek.conn', partition: 0, offset: 1, sensorId: 's', orgId: 'o', ingestTime: 0 };
const line = '{"ts":1.5,"id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp"}';

describe('normalizeRecord', () => {
  it('routes by topic', () => {
    expect(formatForTopic('telemetry.raw.zeek.conn')?.id).toBe('zeek.conn');
    expect(formatForTopic('telemetry.raw.nope.nope')).toBeUndefined();
  });

  it('decodes a record with its format', () => {
    const format = formatForTopic(ctx.topic)!;
    const result = normalizeRecord(format, Buffer.from(line), ctx);
    expect(result.errors).toEqual([]);
    expect(result.events[0]).toMatchObject({ time: 1500, src_ip: '10.0.0.1', dst_port: 2 });
  });

  it('refuses oversized records without parsing them', () => {
    const format: SensorFormat = { ...formatForTopic(ctx.topic)!, maxRecordBytes: 50 };
    const result = normalizeRecord(format, Buffer.from(line), ctx);
    expect(result.events).toEqual([]);
    expect(result.errors.map((e) => e.code)).toEqual(['RECORD_TOO_LARGE']);
  });

  it('turns a throwing decoder into FORMAT_FAILED instead of throwing', () => {
    const format: SensorFormat = { id: 'broken', topics: [], decode: () => { throw new TypeError('bug'); } };
    expect(normalizeRecord(format, Buffer.from('x'), ctx).errors.map((e) => e.code)).toEqual(['FORMAT_FAILED']);
  });
});
