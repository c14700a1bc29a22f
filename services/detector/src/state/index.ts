// Distributed Sigma correlation for the detector. Hand-written public surface.
export { ChangelogStandby, type ChangelogStandbyOptions, type StateSource } from './changelog.ts';
export { CorrelationStage, type CorrelationStageOptions } from './correlation-stage.ts';
export { CorrelationSourceStage, type CorrelationSourceStageOptions } from './source-stage.ts';
export { registerCorrelationMetrics, type CorrelationMetricsSource } from './metrics.ts';
export { CORRELATION_TOPICS, decodeRecord, encodeRecord, factKey, factSeq, type RepartitionRecord } from './records.ts';
export { ensureCorrelationTopics } from './topics.ts';
export { correlationDetection, predicateRuleSource, type BaseRuleSource, type CorrelationDetectionOptions, type PredicateRule } from '../analytics/correlation.ts';
export { sigmaRuleSource, correlationFieldNames } from '../analytics/sigma-rule-source.ts';
