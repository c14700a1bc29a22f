import { MamoriError } from '@mamori/core';

/**
 * Stable codes of storage errors (metric label `error_code`, listed in docs/errors.md).
 *
 * - `CLICKHOUSE_QUERY_FAILED`: the engine rejected a statement (syntax, unknown table, bad parameter).
 * - `CLICKHOUSE_INSERT_FAILED`: the engine rejected an insert (bad row, unknown column, missing table).
 * - `CLICKHOUSE_TIMEOUT`: the statement ran past `max_execution_time` (or the client gave up waiting).
 * - `CLICKHOUSE_UNREACHABLE`: no answer from the server (refused, reset, DNS, TLS), or chDB failed to open.
 * - `CLICKHOUSE_AUTH_FAILED`: the server refused the credentials.
 * - `CLICKHOUSE_URL_INVALID`: CLICKHOUSE_URL is not a valid http(s) URL.
 * - `CHDB_PATH_CONFLICT`: a second chDB data directory was requested in a process that already has one.
 * - `STORAGE_NOT_CONNECTED`: the driver was used before `connect()` or after `close()`.
 * - `STORAGE_INVALID_ARGUMENT`: a caller passed a bad filter, limit, cursor, identifier or row.
 * - `STORAGE_MIGRATION_CHECKSUM_MISMATCH`: an applied migration was edited after it ran.
 * - `STORAGE_MIGRATION_FAILED`: a migration statement failed.
 * - `STORAGE_VERSION_CONFLICT`: an optimistic update named a version that is no longer current.
 */
export const STORAGE_ERROR_CODES = [
  'CLICKHOUSE_QUERY_FAILED',
  'CLICKHOUSE_INSERT_FAILED',
  'CLICKHOUSE_TIMEOUT',
  'CLICKHOUSE_UNREACHABLE',
  'CLICKHOUSE_AUTH_FAILED',
  'CLICKHOUSE_URL_INVALID',
  'CHDB_PATH_CONFLICT',
  'STORAGE_NOT_CONNECTED',
  'STORAGE_INVALID_ARGUMENT',
  'STORAGE_MIGRATION_CHECKSUM_MISMATCH',
  'STORAGE_MIGRATION_FAILED',
  'STORAGE_VERSION_CONFLICT',
] as const;

/** One of {@link STORAGE_ERROR_CODES}. */
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** Options of a {@link StorageError}. */
export interface StorageErrorOptions {
  cause?: unknown;
  /** Overrides the default retryability of the code. */
  retryable?: boolean;
  /** ClickHouse's own numeric error code (`Code: 159.`), when the engine reported one. */
  clickhouseCode?: number;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<StorageErrorCode> = new Set(['CLICKHOUSE_TIMEOUT', 'CLICKHOUSE_UNREACHABLE']);

/**
 * A failure in the storage layer. Adapters wrap every third-party error (chDB's ChdbError,
 * clickhouse-js's ClickHouseError, socket errors) into one of these at their boundary.
 */
export class StorageError extends MamoriError {
  declare readonly code: StorageErrorCode;
  /** ClickHouse's numeric error code when known (e.g. 62 SYNTAX_ERROR, 159 TIMEOUT_EXCEEDED). */
  readonly clickhouseCode: number | undefined;

  constructor(code: StorageErrorCode, message: string, options: StorageErrorOptions = {}) {
    super(code, message, {
      cause: options.cause,
      retryable: options.retryable ?? RETRYABLE_BY_DEFAULT.has(code),
    });
    this.name = 'StorageError';
    this.clickhouseCode = options.clickhouseCode;
  }
}

/**
 * ClickHouse error codes worth retrying: the server was busy, short of memory, or the network
 * failed; the same statement can succeed later.
 */
const TRANSIENT_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  3, // UNEXPECTED_END_OF_FILE
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
]);

const AUTH_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([192, 193, 194, 195, 516]);

/** Whether a ClickHouse error code is transient. */
export function isTransientClickHouseCode(code: number): boolean {
  return TRANSIENT_CLICKHOUSE_CODES.has(code);
}

/** Reads ClickHouse's numeric code from an engine message (`Code: 62. DB::Exception: ...`). */
export function parseClickHouseCode(message: string): number | undefined {
  const match = /\bCode:\s*(\d+)/.exec(message);
  if (match?.[1] === undefined) return undefined;
  const code = Number(match[1]);
  return Number.isSafeInteger(code) ? code : undefined;
}

/**
 * Wraps an engine error: the storage code follows from ClickHouse's numeric code (timeout, auth,
 * otherwise query/insert failed), and retryability from whether that code is transient.
 */
export function storageErrorFromEngine(
  operation: 'query' | 'insert',
  message: string,
  clickhouseCode: number | undefined,
  cause: unknown,
): StorageError {
  const ch = clickhouseCode ?? parseClickHouseCode(message);
  const options = { cause, clickhouseCode: ch, retryable: ch !== undefined && isTransientClickHouseCode(ch) };
  if (ch === 159) return new StorageError('CLICKHOUSE_TIMEOUT', message, options);
  if (ch !== undefined && AUTH_CLICKHOUSE_CODES.has(ch)) return new StorageError('CLICKHOUSE_AUTH_FAILED', message, options);
  return new StorageError(operation === 'insert' ? 'CLICKHOUSE_INSERT_FAILED' : 'CLICKHOUSE_QUERY_FAILED', message, options);
}
