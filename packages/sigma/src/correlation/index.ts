// Sigma correlation rules: parser, router, windows and engine. Hand-written public surface.
export { CORRELATION_ERROR_CODES, CorrelationRuleError, type CorrelationErrorCode } from './errors.ts';
export { conditionHolds, parseCorrelationRules, parseTimespan, type CorrelationDocument, type ParseCorrelationOptions } from './parse.ts';
export { CorrelationRouter, fieldValue, groupKeyOf, type RouteSkip } from './router.ts';
export { DEFAULT_WINDOW_LIMITS, GroupWindow, correlationMatchId, type FactRecord, type GroupStateJson, type WindowLimits } from './window.ts';
export {
  CorrelationPartition,
  CorrelationStats,
  MAX_CORRELATION_FAILURES_KEPT,
  META_KEY,
  type CorrelationFailure,
  type OfferResult,
  type PartitionOptions,
  type StateChange,
  type WatermarkMode,
} from './partition.ts';
export { CorrelationEngine, correlationOnlyBaseRules, reportedCorrelations, type CorrelationEngineOptions, type EngineOutput } from './engine.ts';
export { correlationFingerprints } from './fingerprint.ts';
export { HyperLogLog, estimateFromRegisters } from './hyperloglog.ts';
export {
  CONDITION_OPERATORS,
  CORRELATION_TYPES,
  type BaseRuleMatch,
  type ConditionOperator,
  type ConditionTest,
  type CorrelationCondition,
  type CorrelationMatch,
  type CorrelationRule,
  type CorrelationSet,
  type CorrelationType,
  type KeyedFact,
  type RuleReference,
} from './types.ts';
