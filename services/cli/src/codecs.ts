import { ConfluentSchemaRegistry, DetectionCodec, EventCodec } from '@mamori/events';
import type { RuntimeConfig } from './config.ts';

export interface Codecs {
  eventCodec: EventCodec;
  detectionCodec: DetectionCodec;
}

/**
 * The Avro codecs a process uses. Without a Schema Registry values are single-object encoded (the
 * schema fingerprint travels in the value). With one, the latest schemas are registered under
 * `<topic>-value` at start-up and values carry Confluent framing; either way, consumers read both.
 */
export async function createCodecs(config: RuntimeConfig, topics: { events: string; detections: string }): Promise<Codecs> {
  if (!config.schemaRegistry) return { eventCodec: new EventCodec(), detectionCodec: new DetectionCodec() };
  const registry = new ConfluentSchemaRegistry(config.schemaRegistry);
  const eventId = await registry.register(topics.events, new EventCodec().schema);
  const detectionId = await registry.register(topics.detections, new DetectionCodec().schema);
  return {
    eventCodec: new EventCodec({ confluentId: eventId, lookup: registry }),
    detectionCodec: new DetectionCodec({ confluentId: detectionId, lookup: registry }),
  };
}
