export type { InsertListener, InsertOptions, QueryOptions, QueryParams, StorageDriver } from './types.ts';
export {
  StorageError,
  STORAGE_ERROR_CODES,
  isTransientClickHouseCode,
  parseClickHouseCode,
  storageErrorFromEngine,
  type StorageErrorCode,
  type StorageErrorOptions,
} from './errors.ts';
export { appendSettings, assertIdentifier, timeoutSetting, toDateTime64, toNumber } from './sql.ts';
export type { Migration } from './migrations/migration.ts';
export { MIGRATIONS } from './migrations/index.ts';
export {
  migrate,
  migrationChecksum,
  migrationStatus,
  type MigrateOptions,
  type MigrateResult,
  type MigrationState,
} from './migrate.ts';
export {
  EVENT_SELECT_COLUMNS,
  eventFromClickHouse,
  eventToClickHouse,
  toEventRow,
  type EventRow,
  type EventRowInput,
} from './rows/event-row.ts';
export {
  DETECTION_SELECT_COLUMNS,
  SEVERITIES,
  SEVERITY_RANK,
  detectionFromClickHouse,
  detectionToClickHouse,
  isSeverity,
  toDetectionRow,
  type DetectionRow,
  type DetectionRowInput,
  type Severity,
} from './rows/detection-row.ts';
export {
  MAX_SEARCH_RANGE_MS,
  insertEvents,
  listEvents,
  searchEvents,
  type ListEventsQuery,
  type SearchEventsQuery,
} from './repositories/events.ts';
export {
  decodeCursor,
  encodeCursor,
  getDetection,
  insertDetections,
  listDetections,
  listDetectionsFromDetections,
  DETECTION_SORTS,
  type DetectionPage,
  type DetectionSort,
  type HeadsCaches,
  type ListDetectionsQuery,
} from './repositories/detections.ts';
export {
  DETECTION_STATUSES,
  appendDetectionState,
  getDetectionState,
  getDetectionStates,
  listDetectionStates,
  type DetectionState,
  type DetectionStateInput,
  type DetectionStatus,
} from './repositories/detection-state.ts';
export { appendAudit, listAudit, type AuditEntry, type AuditInput, type ListAuditQuery } from './repositories/audit.ts';
export {
  INDICATOR_KINDS,
  OPEN_ENDED,
  TLP_LEVELS,
  insertIndicator,
  listIndicators,
  type Indicator,
  type IndicatorInput,
  type IndicatorKind,
  type ListIndicatorsQuery,
  type TlpLevel,
} from './repositories/indicators.ts';
export {
  DECISION_ACTIONS,
  DECISION_INDICATOR_TYPES,
  DECISION_STATUSES,
  DECISION_TARGET_KINDS,
  changeDecision,
  createDecision,
  decisionHistory,
  effectiveDecisionStatus,
  getDecision,
  listDecisions,
  type Decision,
  type DecisionAction,
  type DecisionChange,
  type DecisionIndicatorType,
  type DecisionStatus,
  type DecisionTargetKind,
  type ListDecisionsQuery,
  type NewDecision,
} from './repositories/decisions.ts';
export {
  DETECTION_COUNT_GROUPS,
  ENTITY_READ,
  ENTITY_RECENT_READ_MS,
  MAX_AGGREGATE_RANGE_MS,
  TOP_ENTITY_METRICS,
  detectionCountsHourly,
  entityHourly,
  entityTop,
  entityPeerTotals,
  entityPortTotals,
  entityPeersSplit,
  entityPortsSplit,
  entityRange,
  rangePortKey,
  MAX_ENTITY_TOTALS,
  topEntities,
  type DetectionCountGroup,
  type DetectionCountHour,
  type EntityHour,
  type EntityPeer,
  type EntityPeerTotal,
  type EntityPort,
  type EntityRange,
  type EntityRangeSource,
  type RangeCandidates,
  type RankedRange,
  type SplitTop,
  type TopEntity,
  type TopEntityMetric,
} from './repositories/aggregates.ts';
export { DetectionRowCache, TriageStateCache, type DetectionRowCacheStats } from './repositories/detection-cache.ts';
export {
  EntityRollupCache,
  comparePeers,
  comparePorts,
  mergeTop,
  topCandidates,
  type EntityRollupCacheStats,
  type LiveRanks,
  type SettledEntityRollups,
  type TopCandidates,
} from './repositories/entity-cache.ts';
export {
  DetectionHeadsCache,
  compareUtf8,
  pickHeads,
  sortHeads,
  type DetectionHead,
  type DetectionHeadsCacheStats,
  type DetectionHeadsReader,
  type HeadsWindow,
  type HeldHeads,
} from './repositories/detection-heads-cache.ts';
export { ipRange, type IpRange } from './repositories/ip-range.ts';
export { applyEventRetention, eventTtlExpression, type EventRetention } from './retention.ts';
export { DEFAULT_LIMIT, MAX_LIMIT } from './repositories/filters.ts';
