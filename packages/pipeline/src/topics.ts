/**
 * Topic names. Raw sensor topics are `telemetry.raw.<source>.<type>`; everything downstream is
 * Avro (schemas/). docs/ARCHITECTURE.md lists who writes and reads each.
 */
export const TOPICS = {
  /** Zeek conn logs as the sensor wrote them (JSON lines). Keyed by sensor id. */
  rawZeekConn: 'telemetry.raw.zeek.conn',
  /** Normalized events, Avro `mamori.Event`. Keyed by `<org>|<src_ip>` so a source's events stay in one partition. */
  events: 'telemetry.events',
  /** Detections, Avro `mamori.Detection`. Keyed by `<org>|<entity>`. */
  detections: 'telemetry.detections',
  /** Records any stage could not handle: original bytes plus `mamori.dlq.*` headers. */
  deadLetter: 'telemetry.dlq',
} as const;
