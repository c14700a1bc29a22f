export { buildNormalizer } from './app.ts';
export { loadNormalizerConfig, type NormalizerConfig } from './config.ts';
export { NormalizerStage, SENSOR_ID_HEADER, STAGE_ERROR_CODES, type NormalizerDeps } from './normalizer-stage.ts';
export {
  DEFAULT_MAX_RECORD_BYTES,
  FORMATS,
  NORMALIZE_ERROR_CODES,
  NormalizeError,
  formatForTopic,
  normalizeRecord,
  type DecodeContext,
  type DecodeResult,
  type NormalizeErrorCode,
  type SensorFormat,
} from './normalize.ts';
