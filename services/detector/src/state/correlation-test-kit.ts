import { DetectionCodec, type MamoriDetection } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import type { ConsumedMessage, OutgoingMessage, Producer } from '@mamori/transport';
import { CorrelationStage, type CorrelationStageOptions } from './correlation-stage.ts';
import { encodeRecord, factKey, type RepartitionRecord } from './records.ts';

/** Test helpers for the correlation stage (unit tests only; no broker). */
const codec = new DetectionCodec();

/** A producer that keeps the detections sent to the `detections` topic, decoded. */
export function recordingProducer(): Producer & { detections: MamoriDetection[] } {
  const detections: MamoriDetection[] = [];
  return {
    detections,
    connect: async () => {},
    close: async () => {},
    send: async (topic: string, messages: readonly OutgoingMessage[]) => {
      if (topic === 'detections') for (const m of messages) detections.push(codec.decode(m.value as Buffer));
    },
  };
}

/** A stage reading `repartition` and writing `detections`, with empty restored state; `options` decide the rest. */
export function testStage(options: Pick<CorrelationStageOptions, 'correlations' | 'sourcePartitions' | 'allowedLatenessMs' | 'producer'> & Partial<CorrelationStageOptions>): CorrelationStage {
  return new CorrelationStage({
    partitions: 1,
    eventsTopic: 'events',
    detectionsTopic: 'detections',
    repartitionTopic: 'repartition',
    stateTopic: 'state',
    state: { read: async () => new Map() },
    codecs: { encodeDetection: (d) => codec.encode(d) },
    registry: createRegistry(),
    ...options,
  });
}

/** Repartition records as consumed messages of partition 0, with increasing offsets. */
export function repartitionMessages(): (record: RepartitionRecord) => ConsumedMessage {
  let offset = 0;
  return (record) => {
    const key = record.kind === 'fact' ? factKey(record.fact) : `~wm|${record.source}`;
    return { topic: 'repartition', partition: 0, offset: String(offset++), key: Buffer.from(key), value: encodeRecord(record), headers: {}, timestamp: 0 };
  };
}
