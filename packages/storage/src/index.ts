export type { InsertOptions, QueryOptions, QueryParams, StorageDriver } from './types.ts';
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
export { insertEvents, listEvents, type ListEventsQuery } from './repositories/events.ts';
export {
  decodeCursor,
  encodeCursor,
  getDetection,
  insertDetections,
  listDetections,
  type DetectionPage,
  type ListDetectionsQuery,
} from './repositories/detections.ts';
export { DEFAULT_LIMIT, MAX_LIMIT } from './repositories/filters.ts';
