export { ClickHouseStorage, createClickHouseStorage, type ClickHouseStorageOptions } from './clickhouse-storage.ts';
export { parseClickHouseUrl, redactUrl, type ParsedClickHouseUrl } from './url.ts';
