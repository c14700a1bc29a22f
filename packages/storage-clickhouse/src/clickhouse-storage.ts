import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { InsertOptions, QueryOptions, QueryParams, StorageDriver } from '@mamori/storage';
import { StorageError, assertIdentifier, storageErrorFromEngine, timeoutSetting } from '@mamori/storage';
import { parseClickHouseUrl } from './url.ts';

/** Options of {@link createClickHouseStorage}. */
export interface ClickHouseStorageOptions {
  /** Server HTTP(S) endpoint, e.g. `http://localhost:8123`. Credentials in the URL are accepted. */
  url: string;
  /** Database of Mamori's tables (created by `migrate`). @default 'mamori' */
  database?: string;
  /** @default URL userinfo, else 'default' */
  username?: string;
  /** @default URL userinfo, else '' */
  password?: string;
  /** Client-side limit on one HTTP request; queries with `timeoutMs` get that plus a margin. @default 30000 */
  requestTimeoutMs?: number;
  /** HTTP connections kept open. @default 10 */
  maxOpenConnections?: number;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    if (e instanceof AggregateError) {
      for (const inner of e.errors) {
        const c = networkCode(inner);
        if (c !== undefined) return c;
      }
    }
  }
  return undefined;
}

/**
 * {@link StorageDriver} over a ClickHouse server (HTTP, @clickhouse/client). Values are bound with
 * `query_params`; inserts are JSONEachRow; timeouts are `max_execution_time` on the server.
 */
export class ClickHouseStorage implements StorageDriver {
  readonly name = 'clickhouse';
  readonly database: string;
  /** Server URL without credentials. */
  readonly url: string;
  private readonly username: string;
  private readonly password: string;
  private readonly requestTimeoutMs: number;
  private readonly maxOpenConnections: number;
  private client: ClickHouseClient | undefined;

  constructor(options: ClickHouseStorageOptions) {
    const parsed = parseClickHouseUrl(options.url);
    this.url = parsed.url;
    this.username = options.username ?? parsed.username ?? 'default';
    this.password = options.password ?? parsed.password ?? '';
    this.database = assertIdentifier('database', options.database ?? 'mamori');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxOpenConnections = options.maxOpenConnections ?? 10;
  }

  async connect(): Promise<void> {
    if (this.client !== undefined) return;
    this.client = createClient({
      url: this.url,
      username: this.username,
      password: this.password,
      request_timeout: this.requestTimeoutMs,
      max_open_connections: this.maxOpenConnections,
      application: 'mamori',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      // Every failure reaches the caller as a typed StorageError, which is logged once there.
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      await this.ping();
    } catch (error) {
      await this.client.close().catch(() => undefined);
      this.client = undefined;
      throw error;
    }
  }

  private get c(): ClickHouseClient {
    if (this.client === undefined) {
      throw new StorageError('STORAGE_NOT_CONNECTED', `ClickHouse storage for ${this.url} is not connected (call connect() first, or it was closed)`);
    }
    return this.client;
  }

  private wrap(operation: 'query' | 'insert', error: unknown, timeoutMs?: number): StorageError {
    if (error instanceof StorageError) return error;
    if (error instanceof ClickHouseError) {
      const code = Number(error.code);
      return storageErrorFromEngine(operation, error.message, Number.isSafeInteger(code) ? code : undefined, error);
    }
    const message = error instanceof Error ? error.message : String(error);
    const net = networkCode(error);
    if (net !== undefined) {
      return new StorageError('CLICKHOUSE_UNREACHABLE', `ClickHouse at ${this.url} is unreachable (${net}): ${message}`, { cause: error });
    }
    if (/timeout|aborted/i.test(message)) {
      return new StorageError(
        'CLICKHOUSE_TIMEOUT',
        `ClickHouse at ${this.url} did not answer within ${timeoutMs ?? this.requestTimeoutMs} ms: ${message}`,
        { cause: error },
      );
    }
    return storageErrorFromEngine(operation, message, undefined, error);
  }

  private settings(options: QueryOptions): { clickhouse_settings: ClickHouseSettings; abort_signal?: AbortSignal } {
    const t = timeoutSetting(options.timeoutMs);
    if (t['max_execution_time'] === undefined) return { clickhouse_settings: {} };
    // The server stops the query; the client-side signal is only a backstop for a dead connection.
    return {
      clickhouse_settings: { max_execution_time: t['max_execution_time'] },
      abort_signal: AbortSignal.timeout((options.timeoutMs ?? 0) + 5_000),
    };
  }

  async exec(sql: string, params: QueryParams = {}, options: QueryOptions = {}): Promise<void> {
    const client = this.c;
    try {
      await client.command({ query: sql, query_params: { ...params }, ...this.settings(options) });
    } catch (error) {
      throw this.wrap('query', error, options.timeoutMs);
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params: QueryParams = {}, options: QueryOptions = {}): Promise<T[]> {
    const client = this.c;
    try {
      const result = await client.query({ query: sql, query_params: { ...params }, format: 'JSONEachRow', ...this.settings(options) });
      return await result.json<T>();
    } catch (error) {
      throw this.wrap('query', error, options.timeoutMs);
    }
  }

  async insert(table: string, rows: readonly Record<string, unknown>[], options: InsertOptions = {}): Promise<void> {
    const client = this.c;
    const target = `${this.database}.${assertIdentifier('table', table)}`;
    if (rows.length === 0) return;
    const clickhouse_settings: ClickHouseSettings = {};
    if (options.deduplicationToken !== undefined) clickhouse_settings.insert_deduplication_token = options.deduplicationToken;
    try {
      await client.insert({ table: target, values: [...rows], format: 'JSONEachRow', clickhouse_settings });
    } catch (error) {
      throw this.wrap('insert', error);
    }
  }

  /** Runs `SELECT 1` (unlike `/ping`, this also checks the credentials). */
  async ping(): Promise<void> {
    const client = this.c;
    let result: Awaited<ReturnType<ClickHouseClient['ping']>>;
    try {
      result = await client.ping({ select: true });
    } catch (error) {
      throw this.wrap('query', error);
    }
    if (!result.success) throw this.wrap('query', result.error);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}

/** Creates a (not yet connected) ClickHouse server storage driver; throws CLICKHOUSE_URL_INVALID at once for a bad URL. */
export function createClickHouseStorage(options: ClickHouseStorageOptions): ClickHouseStorage {
  return new ClickHouseStorage(options);
}
