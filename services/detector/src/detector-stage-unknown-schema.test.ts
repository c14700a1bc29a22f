import { DetectionCodec, EventCodec, type MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import type { ConsumedMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { PortScanAnalytic } from './analytics/port-scan.ts';
import { DetectorStage } from './detector-stage.ts';

/*
 * Consumers of the events topic accept both wire formats (single-object encoding and Confluent
 * framing); a value whose writer schema is unknown (fingerprint or registry id) or that is not Avro
 * at all is dead-lettered with its code and the batch goes on: it never fails the batch.
 */
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const CONFLUENT_ID = 7;
/** A registry that knows only CONFLUENT_ID (the current event schema), as after the producer registered it. */
const lookup = { byId: async (id: number) => (id === CONFLUENT_ID ? new EventCodec().schema.type : undefined) };
const singleObject = new EventCodec();
const confluent = new EventCodec({ confluentId: CONFLUENT_ID });
const consumer = new EventCodec({ lookup });
const detectionCodec = new DetectionCodec();

function scan(i: number): MamoriEvent {
  const time = T0 + i * 1_000;
  return {
    event_id: `s-${i}`, event_class: 'network_activity', time, ingest_time: time, org_id: 'org', sensor_id: 's', source_format: 'zeek.conn', src_ip: '203.0.113.7', src_port: 40000 + i,
    dst_ip: `10.1.0.${i % 120}`, dst_port: 445, protocol: 'tcp', bytes_out: 0, bytes_in: 0, packets_out: 1, packets_in: 0, duration_ms: 1, conn_state: 'S0', community_id: null,
    raw: { topic: 'raw', partition: 0, offset: i }, attributes: {},
  };
}

function stage(): DetectorStage {
  return new DetectorStage({
    eventsTopic: 'events',
    detectionsTopic: 'detections',
    analytics: [new PortScanAnalytic()],
    codecs: { prefetch: (v) => consumer.prefetch(v), decodeEvent: (b) => consumer.decode(b), encodeDetection: (d) => detectionCodec.encode(d) },
    registry: createRegistry(),
    allowedLatenessMs: 5_000,
    idleCloseMs: 600_000,
  });
}

const message = (offset: number, value: Buffer): ConsumedMessage => ({ topic: 'events', partition: 0, offset: String(offset), key: null, value, headers: {}, timestamp: 0 });

describe('DetectorStage with values of unknown schemas', () => {
  it('reads both wire formats and dead-letters unknown fingerprints, unknown registry ids and non-Avro values, keeping the batch', async () => {
    const good = Array.from({ length: 200 }, (_, i) => scan(i));
    const body = singleObject.encode(good[0]!).subarray(10);
    const unknownFingerprint = Buffer.concat([Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]), body]);
    const unknownId = Buffer.concat([Buffer.from([0, 0, 0, 0x30, 0x39]), body]);
    const bad = new Map<number, { value: Buffer; code: string }>([
      [10, { value: unknownFingerprint, code: 'SCHEMA_UNKNOWN' }],
      [50, { value: unknownId, code: 'SCHEMA_UNKNOWN' }],
      [90, { value: Buffer.from('{"not":"avro"}'), code: 'AVRO_DECODE_FAILED' }],
    ]);
    const messages: ConsumedMessage[] = [];
    const plantedAt = new Map<string, { value: Buffer; code: string }>();
    let offset = 0;
    for (const [i, event] of good.entries()) {
      const planted = bad.get(i);
      if (planted) {
        plantedAt.set(String(offset), planted);
        messages.push(message(offset++, planted.value));
      }
      // Half the events in each wire format.
      messages.push(message(offset++, (i % 2 === 0 ? singleObject : confluent).encode(event)));
    }

    const reference = await stage().process({ messages: good.map((e, i) => message(i, singleObject.encode(e))) });
    const result = await stage().process({ messages });

    expect(result.deadLetters.map((d) => [d.message.offset, d.code])).toEqual([...plantedAt].map(([o, p]) => [o, p.code]));
    for (const d of result.deadLetters) expect(d.message.value).toEqual(plantedAt.get(d.message.offset)!.value);
    expect(result.deadLetters[0]!.reason).toMatch(/fingerprint/i);
    // Every good event, in either format, reached the analytics: the same detections as the clean batch.
    const detections = (r: typeof result) => (r.outputs[0]?.messages ?? []).map((m) => detectionCodec.decode(m.value as Buffer)).map((d) => [d.rule_id, d.count]);
    expect(detections(reference).length).toBeGreaterThan(0);
    expect(detections(result)).toEqual(detections(reference));
  });
});
