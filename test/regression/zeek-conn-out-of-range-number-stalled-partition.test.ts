import { EventCodec } from '@mamori/events';
import { loadNormalizerConfig, NormalizerStage } from '@mamori/normalizer';
import type { ConsumedMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';

/*
 * A Zeek conn line whose ts, duration or byte/packet count is a finite number too large for an Avro
 * long (`"ts":1e300`, `"orig_bytes":1e300`) passed the decoder's checks and then failed the Avro
 * encode: the stage threw, the batch was retried, failed again, and the partition stalled behind one
 * hostile line. Found by the fused path's differential property test (both paths threw alike). Such
 * a line is now FIELD_INVALID and dead-lettered like any other bad field.
 */

const good = '{"ts":1664462456.755299,"uid":"C1","id.orig_h":"172.16.1.11","id.orig_p":40042,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","duration":0.5,"orig_bytes":10,"conn_state":"SF"}';

function message(value: string, offset: number): ConsumedMessage {
  return { topic: 'telemetry.raw.zeek.conn', partition: 0, offset: String(offset), key: Buffer.from('s1'), value: Buffer.from(value), headers: {}, timestamp: 1_700_000_000_000 };
}

describe('zeek conn numbers beyond an Avro long', () => {
  const stage = new NormalizerStage(loadNormalizerConfig({ MAMORI_ALLOW_UNREGISTERED_SENSORS: 'true' }), { eventCodec: new EventCodec(), defaultOrg: 'default' });
  const hostile = [
    ['ts', good.replace('"ts":1664462456.755299', '"ts":1e300')],
    ['ts', good.replace('"ts":1664462456.755299', '"ts":-9007199254740.992')],
    ['duration', good.replace('"duration":0.5', '"duration":1e300')],
    ['duration', good.replace('"duration":0.5', '"duration":9007199254741')],
    ['orig_bytes', good.replace('"orig_bytes":10', '"orig_bytes":1e300')],
    ['resp_pkts', good.replace('"orig_bytes":10', '"orig_bytes":10,"resp_pkts":9007199254740993')],
  ] as const;

  it.each(hostile)('dead-letters a line with an out-of-range %s (FIELD_INVALID) and keeps the good ones', async (field, line) => {
    const result = await stage.process({ messages: [message(good, 1), message(line, 2), message(good, 3)] });
    expect(result.outputs[0]!.messages).toHaveLength(2);
    expect(result.deadLetters).toHaveLength(1);
    expect(result.deadLetters[0]!.code).toBe('FIELD_INVALID');
    expect(result.deadLetters[0]!.reason).toContain(field);
  });
});
