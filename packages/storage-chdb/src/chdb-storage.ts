import { resolve } from 'node:path';
import type { InsertListener, InsertOptions, QueryOptions, QueryParams, StorageDriver } from '@mamori/storage';
import { StorageError, appendSettings, assertIdentifier, storageErrorFromEngine, timeoutSetting } from '@mamori/storage';
import { bindParameters } from './bind.ts';

type ChdbModule = typeof import('chdb');
type ChdbSession = InstanceType<ChdbModule['Session']>;

/** Options of {@link createChdbStorage}. */
export interface ChdbStorageOptions {
  /**
   * Data directory of the embedded engine. A process can hold only one: every ChdbStorage of the
   * process must name the same path (they share one session).
   */
  path: string;
  /** Database of Mamori's tables. @default 'mamori' */
  database?: string;
  /**
   * Connections to the engine that statements are spread over (they share one engine and its
   * data). Statements on different connections run in parallel; the first open storage of the
   * process decides. @default 4
   */
  sessions?: number;
  /**
   * Who binds `{name:Type}` parameters: `local` writes them as typed constants before the statement
   * reaches the engine (bind.ts; statements run in parallel), `engine` uses chDB's own binding
   * (which chDB runs one statement at a time per process). @default 'local'
   */
  binding?: 'local' | 'engine';
  /**
   * MiB of the engine's cache of decompressed blocks, which statements that set
   * `use_uncompressed_cache = 1` (the API's short reads of one address or one page) read hot blocks
   * from instead of decompressing them again; 0 = none. The first open storage of the process decides.
   * @default 256
   */
  uncompressedCacheMb?: number;
}

interface OpenSession {
  path: string;
  /** Connections to the one engine, the indexes of those not running a statement, and statements waiting for one. */
  sessions: ChdbSession[];
  idle: number[];
  waiting: ((index: number) => void)[];
  users: number;
  /** chDB's wait for native work still running on its libuv threads (queries, deferred teardowns). */
  drain: () => Promise<void>;
}

// chDB runs one engine per process and one data directory per engine: a process-wide registry
// hands the same session to every driver and refuses a second directory.
let registry: OpenSession | undefined;
const DEFAULT_SESSIONS = 4;
const DEFAULT_UNCOMPRESSED_CACHE_MB = 256;
let opening: Promise<OpenSession> | undefined;

async function acquire(path: string, sessions: number, uncompressedCacheMb: number): Promise<OpenSession> {
  if (opening !== undefined) await opening.catch(() => undefined);
  if (registry !== undefined) {
    if (registry.path !== path) {
      throw new StorageError(
        'CHDB_PATH_CONFLICT',
        `chDB is already open on ${registry.path} in this process; it cannot also open ${path} ` +
          '(one data directory per process: use the same path everywhere, or close the other storage first)',
      );
    }
    registry.users += 1;
    return registry;
  }
  opening = (async () => {
    let chdb: ChdbModule;
    try {
      chdb = await import('chdb');
    } catch (error) {
      throw new StorageError('CLICKHOUSE_UNREACHABLE', `cannot load chDB: ${(error as Error).message}`, { cause: error, retryable: false });
    }
    try {
      // JSON formats quote 64-bit integers, as a ClickHouse server does by default.
      const connectionArgs = ['--output_format_json_quote_64bit_integers=1', `--uncompressed_cache_size=${uncompressedCacheMb * 1024 * 1024}`];
      const pool: ChdbSession[] = [];
      try {
        for (let i = 0; i < sessions; i++) pool.push(new chdb.Session(path, { connectionArgs }));
      } catch (error) {
        for (const session of pool) session.close();
        throw error;
      }
      registry = { path, sessions: pool, idle: pool.map((_, i) => i).reverse(), waiting: [], users: 1, drain: chdb.drainPending };
      return registry;
    } catch (error) {
      throw new StorageError('CLICKHOUSE_UNREACHABLE', `cannot open chDB data directory ${path}: ${(error as Error).message}`, {
        cause: error,
        retryable: false,
      });
    }
  })();
  try {
    return await opening;
  } finally {
    opening = undefined;
  }
}

/**
 * Drops one user of the session; the last one closes it and waits until the engine has really let
 * go. `Session.close()` returns at once but defers destroying the connection while a query still
 * runs on a libuv thread (a request whose client went away, a timed-out query: there is no
 * interrupt). Removing the data directory or exiting the process before that teardown ran crashed
 * the process at exit (SIGSEGV, exit code 139, seen after the API benchmark's load runs).
 */
async function release(open: OpenSession): Promise<void> {
  open.users -= 1;
  if (open.users === 0 && registry === open) {
    registry = undefined;
    // Statements still waiting for a connection fail instead of waiting forever.
    for (const waiter of open.waiting.splice(0)) waiter(-1);
    for (const session of open.sessions) session.close();
    await open.drain();
  }
}

/** Path of the chDB data directory open in this process, if any. */
export function openChdbPath(): string | undefined {
  return registry?.path;
}

function wrap(operation: 'query' | 'insert', error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const e = error as { message?: unknown; code?: unknown; clickhouseCode?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (e.code === 'CHDB_CLOSED' || e.code === 'CHDB_CONNECTION') {
    return new StorageError('CLICKHOUSE_UNREACHABLE', `chDB: ${message}`, { cause: error });
  }
  if (e.code === 'CHDB_TIMEOUT') return new StorageError('CLICKHOUSE_TIMEOUT', `chDB: ${message}`, { cause: error });
  const code = typeof e.clickhouseCode === 'number' ? e.clickhouseCode : undefined;
  return storageErrorFromEngine(operation, message, code, error);
}

function stringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    // BigInt values: written as JSON strings, which ClickHouse parses into integer columns.
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
}

/**
 * Serializes rows for a raw insert. When every row has the first row's keys (what the
 * repositories produce), JSONCompactEachRow with an explicit column list: positional arrays are
 * about 2.5x smaller than keyed objects and took about half the time to serialize and to parse
 * (bench/storage.bench.ts). Otherwise JSONEachRow, where each row names its own columns.
 */
export function serializeRows(rows: readonly Record<string, unknown>[]): {
  values: Buffer;
  format: 'JSONEachRow' | 'JSONCompactEachRow';
  columns?: string[];
} {
  const first = rows[0];
  const columns = first === undefined ? [] : Object.keys(first);
  const lines: string[] = [];
  for (const row of rows) {
    let n = 0;
    for (const key in row) if (Object.hasOwn(row, key)) n += 1;
    if (n !== columns.length) break;
    const values = columns.map((c) => row[c]);
    if (values.some((v, i) => v === undefined && !Object.hasOwn(row, columns[i] ?? ''))) break;
    lines.push(stringify(values));
  }
  if (lines.length === rows.length && columns.length > 0) {
    return { values: Buffer.from(lines.join('\n')), format: 'JSONCompactEachRow', columns };
  }
  return { values: Buffer.from(rows.map(stringify).join('\n')), format: 'JSONEachRow' };
}

/**
 * {@link StorageDriver} over embedded ClickHouse (chDB). Keep it on the main thread: chDB crashes
 * when loaded in a worker thread. chDB is imported on `connect()`, not when this module loads.
 */
export class ChdbStorage implements StorageDriver {
  readonly name = 'chdb';
  readonly database: string;
  readonly path: string;
  readonly sessions: number;
  readonly binding: 'local' | 'engine';
  readonly uncompressedCacheMb: number;
  private open: OpenSession | undefined;
  private readonly insertListeners = new Set<InsertListener>();

  constructor(options: ChdbStorageOptions) {
    this.path = resolve(options.path);
    this.database = assertIdentifier('database', options.database ?? 'mamori');
    const sessions = options.sessions ?? DEFAULT_SESSIONS;
    if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', `chDB sessions must be an integer from 1 to 64, got ${sessions}`);
    }
    this.sessions = sessions;
    this.binding = options.binding ?? 'local';
    const cacheMb = options.uncompressedCacheMb ?? DEFAULT_UNCOMPRESSED_CACHE_MB;
    if (!Number.isInteger(cacheMb) || cacheMb < 0 || cacheMb > 1_048_576) {
      throw new StorageError('STORAGE_INVALID_ARGUMENT', `chDB uncompressed cache must be an integer from 0 to 1048576 MiB, got ${cacheMb}`);
    }
    this.uncompressedCacheMb = cacheMb;
  }

  async connect(): Promise<void> {
    if (this.open !== undefined) return;
    this.open = await acquire(this.path, this.sessions, this.uncompressedCacheMb);
    try {
      await this.ping();
    } catch (error) {
      await release(this.open);
      this.open = undefined;
      throw error;
    }
  }

  /**
   * A connection of the pool, held until `done` is called. A connection runs one statement at a
   * time (chDB queues the rest behind it), so a statement waits for a free connection here instead:
   * one slow statement then holds one connection, not a share of the queue.
   */
  private async session(): Promise<{ session: ChdbSession; done: () => void }> {
    const open = this.opened();
    let index = open.idle.pop();
    if (index === undefined) index = await new Promise<number>((resolve) => open.waiting.push(resolve));
    if (index < 0) throw new StorageError('STORAGE_NOT_CONNECTED', `chDB storage on ${this.path} was closed while the statement waited for a connection`);
    const held = index;
    let released = false;
    return {
      session: open.sessions[held]!,
      done: () => {
        if (released) return;
        released = true;
        const next = open.waiting.shift();
        if (next !== undefined) next(held);
        else open.idle.push(held);
      },
    };
  }

  private opened(): OpenSession {
    if (this.open === undefined) {
      throw new StorageError('STORAGE_NOT_CONNECTED', `chDB storage on ${this.path} is not connected (call connect() first, or it was closed)`);
    }
    return this.open;
  }

  async exec(sql: string, params: QueryParams = {}, options: QueryOptions = {}): Promise<void> {
    await this.run(sql, params, options);
  }

  async query<T = Record<string, unknown>>(sql: string, params: QueryParams = {}, options: QueryOptions = {}): Promise<T[]> {
    const text = await this.run(sql, params, options);
    if (text === '') return [];
    const rows: T[] = [];
    for (const line of text.split('\n')) if (line !== '') rows.push(JSON.parse(line) as T);
    return rows;
  }

  private async run(sql: string, params: QueryParams, options: QueryOptions): Promise<string> {
    const statement = appendSettings(sql, timeoutSetting(options.timeoutMs));
    // Values are bound here (bind.ts) so statements run in parallel; a placeholder type without a
    // literal form here goes to the engine's binding, which chDB runs one at a time per process.
    const bound = Object.keys(params).length === 0 ? statement : this.binding === 'local' ? bindParameters(statement, params) : undefined;
    const { session, done } = await this.session();
    try {
      const result =
        bound !== undefined
          ? await session.queryAsync(bound, { format: 'JSONEachRow' })
          : await session.queryBindAsync(statement, params, { format: 'JSONEachRow' });
      return result.text();
    } catch (error) {
      throw wrap('query', error);
    } finally {
      done();
    }
  }

  async insert(table: string, rows: readonly Record<string, unknown>[], options: InsertOptions = {}): Promise<void> {
    this.opened();
    const target = `${this.database}.${assertIdentifier('table', table)}`;
    if (rows.length === 0) return;
    const { session, done } = await this.session();
    const settings: Record<string, string> = {};
    if (options.deduplicationToken !== undefined) settings['insert_deduplication_token'] = options.deduplicationToken;
    try {
      // Raw bytes: the engine parses them on its own threads, and unlike the object form this
      // path accepts per-insert settings (the deduplication token).
      const payload = serializeRows(rows);
      await session.insert({ table: target, ...payload, settings });
    } catch (error) {
      throw wrap('insert', error);
    } finally {
      done();
      // Failed inserts too: a failure may come after some blocks were stored.
      for (const listener of this.insertListeners) listener(table, rows);
    }
  }

  /** This process owns the data directory, so every insert into it passes here. */
  onInsert(listener: InsertListener): () => void {
    this.insertListeners.add(listener);
    return () => this.insertListeners.delete(listener);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    if (this.open === undefined) return;
    const open = this.open;
    this.open = undefined;
    await release(open);
  }
}

/** Creates a (not yet connected) chDB storage driver. */
export function createChdbStorage(options: ChdbStorageOptions): ChdbStorage {
  return new ChdbStorage(options);
}
