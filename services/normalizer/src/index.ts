export { buildNormalizer, openNormalizerResources, type NormalizerResources } from './app.ts';
export { loadNormalizerConfig, type NormalizerConfig } from './config.ts';
export { NormalizerStage, SENSOR_ID_HEADER, STAGE_ERROR_CODES, type NormalizerDeps } from './normalizer-stage.ts';
export { normalizerMetrics, type NormalizerMetrics } from './normalizer-metrics.ts';
export {
  Enricher,
  GeoLookup,
  RecordNormalizer,
  SENSOR_ERROR_CODES,
  communityIdV1,
  flowDirection,
  isPublicAddress,
  resolveSensor,
  type Direction,
  type EncodedOutcome,
  type EventHead,
  type EnricherDeps,
  type FlowTuple,
  type GeoDatabases,
  type RecordOutcome,
  type RecordSource,
  type SensorErrorCode,
  type SensorPolicy,
  type SensorResolution,
} from './enrich/index.ts';
export {
  DEFAULT_MAX_RECORD_BYTES,
  EventEncoder,
  FORMATS,
  NORMALIZE_ERROR_CODES,
  NormalizeError,
  formatForTopic,
  normalizeRecord,
  normalizeRecordEncoded,
  type DecodeContext,
  type EncodedEvent,
  type EncodedResult,
  type FusedDecoder,
  type DecodeResult,
  type NormalizeErrorCode,
  type SensorFormat,
} from './normalize.ts';
