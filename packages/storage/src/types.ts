/**
 * The storage driver is the narrow waist between Mamori and ClickHouse. Two adapters implement it
 * (@mamori/storage-chdb, embedded; @mamori/storage-clickhouse, a server over HTTP) and run the same
 * DDL and the same queries: everything above this interface (migrations, repositories) lives in
 * this package and is written once.
 *
 * Queries are parameterized with ClickHouse's server-side binding, `{name:Type}` in the SQL and a
 * value in `params`. SQL text is never assembled from user input.
 */
export type QueryParams = Readonly<Record<string, unknown>>;

export interface QueryOptions {
  /** Server-side limit on execution time. */
  timeoutMs?: number;
}

/**
 * Told of every insert through a driver once it has settled (stored or failed), with the table and
 * the rows as given to `insert`. Called synchronously before the insert's promise settles; it must
 * not throw and must be cheap (it runs on the writer's path).
 */
export type InsertListener = (table: string, rows: readonly Record<string, unknown>[]) => void;

export interface InsertOptions {
  /**
   * Makes a retried insert idempotent: ClickHouse drops a block whose token it has seen
   * (insert_deduplication_token, on tables with a deduplication window).
   */
  deduplicationToken?: string;
}

export interface StorageDriver {
  /** 'chdb' or 'clickhouse'. */
  readonly name: string;
  /**
   * The database holding Mamori's tables (a plain identifier, e.g. `mamori`). Migrations and
   * repositories qualify every table with it, so the same SQL runs on chDB and on a server.
   */
  readonly database: string;
  /** Opens the session or connection and checks that the engine answers. */
  connect(): Promise<void>;
  /** Runs a statement that returns no rows (DDL, ALTER, INSERT ... SELECT). */
  exec(sql: string, params?: QueryParams, options?: QueryOptions): Promise<void>;
  /** Runs a SELECT and returns its rows as objects (JSON types: 64-bit integers as strings). */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams, options?: QueryOptions): Promise<T[]>;
  /** Inserts rows (objects keyed by column name) into `table` of the configured database. */
  insert(table: string, rows: readonly Record<string, unknown>[], options?: InsertOptions): Promise<void>;
  /** Cheap liveness check. */
  ping(): Promise<void>;
  /**
   * Present only where this process is the engine's only writer (embedded chDB: one process owns
   * the data directory), so that caches of stored data can learn of every change. Adds `listener`;
   * returns a function that removes it. A ClickHouse server may be written by other processes and
   * has no such method.
   */
  onInsert?(listener: InsertListener): () => void;
  close(): Promise<void>;
}
