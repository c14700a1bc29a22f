import { createHash } from 'node:crypto';
import { errorCode, errorMessage, sleep } from '@mamori/core';
import { StorageError } from '@mamori/storage';
import type { ConsumedMessage } from '@mamori/transport';

/** One row bound for a table, with the Kafka record it came from (for tokens and dead letters). */
export interface BufferedRow<R> {
  row: R;
  message: ConsumedMessage;
}

/** A row ClickHouse refused as invalid, isolated by splitting its batch. */
export interface RejectedRow {
  message: ConsumedMessage;
  code: string;
  reason: string;
}

/** What the buffer needs from the outside: how to insert one table's rows, and what to report. */
export interface InsertBufferHooks<T extends string> {
  /** Inserts rows of one table with the given deduplication token; throws a StorageError on failure. */
  insert(table: T, rows: readonly unknown[], token: string): Promise<void>;
  /** A failed attempt (counted by error code); `willRetry` is false when the rows are being split. */
  onError(table: T, error: unknown, willRetry: boolean): void;
  /** Rows the engine accepted. */
  onInserted(table: T, rows: number): void;
  /** Consumption should stop (true) or go on (false): ClickHouse is failing / answered again. */
  onBackpressure(paused: boolean): void;
  /** Rows waiting in the buffer changed. */
  onBuffered(rows: number): void;
}

/** Options of {@link InsertBuffer}. */
export interface InsertBufferOptions {
  /** Flush as soon as this many rows are buffered. */
  batchRows: number;
  /** Flush at the latest this long after the first row of a flush arrived. */
  flushIntervalMs: number;
  /** First back-off after a failed insert. */
  retryInitialMs: number;
  /** Cap of the back-off. */
  retryMaxMs: number;
  /**
   * Flush early when no rows arrived for this long (0: never early). The consumer hands over at
   * most a few batches at once (one per partition being processed) and each waits for its flush,
   * so once they are in, waiting longer only adds latency.
   */
  idleMs?: number;
}

interface Entry<T extends string> {
  rows: Map<T, BufferedRow<unknown>[]>;
  count: number;
  resolve: (rejected: RejectedRow[]) => void;
  reject: (error: unknown) => void;
  rejected: RejectedRow[];
}

/**
 * ClickHouse error codes that mean "this data is wrong", where splitting the batch finds the bad
 * rows: parse failures and values out of range for the column type. Everything else (server
 * down, memory, too many parts, a missing table) is retried with back-off, because the same rows
 * may succeed later.
 */
const DATA_ERROR_CODES: ReadonlySet<number> = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  33, // CANNOT_READ_ALL_DATA
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  376, // CANNOT_PARSE_UUID
  631, // CANNOT_PARSE_IPV4
  632, // CANNOT_PARSE_IPV6
]);

/** Whether an insert failed because of the rows themselves (split to isolate them), not the engine. */
export function isDataError(error: unknown): boolean {
  return (
    error instanceof StorageError &&
    error.code === 'CLICKHOUSE_INSERT_FAILED' &&
    !error.retryable &&
    error.clickhouseCode !== undefined &&
    DATA_ERROR_CODES.has(error.clickhouseCode)
  );
}

/**
 * Deduplication token of a set of rows: a hash of their Kafka coordinates, per topic and partition
 * the offset ranges (contiguous runs), so the same records in the same flush always get the same
 * token, and a retried insert is dropped by ClickHouse (insert_deduplication_token).
 */
export function deduplicationToken(table: string, rows: readonly BufferedRow<unknown>[]): string {
  const byPartition = new Map<string, bigint[]>();
  for (const { message } of rows) {
    const key = `${message.topic}/${message.partition}`;
    let list = byPartition.get(key);
    if (!list) byPartition.set(key, (list = []));
    list.push(BigInt(message.offset));
  }
  const parts: string[] = [];
  for (const key of [...byPartition.keys()].sort()) {
    const offsets = byPartition.get(key)!.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const runs: string[] = [];
    let start = offsets[0]!;
    let prev = start;
    for (const offset of offsets.slice(1)) {
      if (offset === prev || offset === prev + 1n) {
        prev = offset;
        continue;
      }
      runs.push(`${start}-${prev}`);
      start = prev = offset;
    }
    runs.push(`${start}-${prev}`);
    parts.push(`${key}:${runs.join(',')}`);
  }
  return `mamori-writer:${table}:${createHash('sha256').update(parts.join(';')).digest('hex').slice(0, 40)}`;
}

/**
 * Shared buffer of the writer: concurrent handlers (one per partition batch) add their rows and
 * wait; a flush starts when `batchRows` rows are buffered or `flushIntervalMs` after the first row
 * of the flush arrived, inserts one block per table, and settles every handler whose rows it held.
 * Only then do their offsets get committed, so nothing is committed before ClickHouse acknowledged.
 *
 * A flush that fails for a reason that can pass (server down, timeouts, too many parts) is retried
 * with capped exponential back-off, signalling backpressure so the consumer pauses, and the handlers
 * keep waiting. A flush that fails because of the data (a parse error) is split in halves until the
 * bad rows are alone; they come back to their handlers as rejected rows (dead letters), the rest is
 * written. One flush runs at a time: ClickHouse prefers fewer, larger inserts.
 */
export class InsertBuffer<T extends string> {
  private entries: Entry<T>[] = [];
  private buffered = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private due = false;
  private paused = false;
  private closed = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly tables: readonly T[],
    private readonly options: InsertBufferOptions,
    private readonly hooks: InsertBufferHooks<T>,
  ) {}

  /** Rows waiting for a flush (not counting the flush in progress). */
  get bufferedRows(): number {
    return this.buffered;
  }

  /**
   * Adds rows (per table) and resolves once they are in ClickHouse, with the rows ClickHouse
   * refused as invalid. Rejects when the buffer is closed before they were written.
   */
  add(rows: ReadonlyMap<T, BufferedRow<unknown>[]>): Promise<RejectedRow[]> {
    if (this.closed) return Promise.reject(new StorageError('STORAGE_NOT_CONNECTED', 'writer is closing; the batch will be redelivered'));
    let count = 0;
    for (const list of rows.values()) count += list.length;
    if (count === 0) return Promise.resolve([]);
    return new Promise<RejectedRow[]>((resolve, reject) => {
      this.entries.push({ rows: new Map(rows), count, resolve, reject, rejected: [] });
      this.buffered += count;
      this.hooks.onBuffered(this.buffered);
      const idleMs = this.options.idleMs ?? 0;
      if (idleMs > 0) {
        if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
        this.idleTimer = setTimeout(() => {
          this.idleTimer = undefined;
          this.due = true;
          this.kick();
        }, idleMs);
      }
      if (this.buffered >= this.options.batchRows) {
        this.due = true;
        this.kick();
      } else if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.due = true;
          this.kick();
        }, this.options.flushIntervalMs);
      }
    });
  }

  private kick(): void {
    if (this.flushing !== undefined) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      // Rows that arrived during the flush may already be due.
      if (this.due && this.entries.length > 0 && !this.closed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.due && this.entries.length > 0 && !this.closed) {
      // Take whole entries up to batchRows (at least one).
      let take = 0;
      let rows = 0;
      while (take < this.entries.length && (take === 0 || rows + this.entries[take]!.count <= this.options.batchRows)) {
        rows += this.entries[take]!.count;
        take += 1;
      }
      const flush = this.entries.splice(0, take);
      this.buffered -= rows;
      this.hooks.onBuffered(this.buffered);
      if (this.entries.length === 0 || this.buffered < this.options.batchRows) {
        this.due = false;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
        // What is left waits for its own interval.
        if (this.entries.length > 0) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.due = true;
            this.kick();
          }, this.options.flushIntervalMs);
        }
      }
      await this.flush(flush);
    }
  }

  private async flush(entries: Entry<T>[]): Promise<void> {
    try {
      await Promise.all(
        this.tables.map(async (table) => {
          const rows: { row: BufferedRow<unknown>; entry: Entry<T> }[] = [];
          for (const entry of entries) for (const row of entry.rows.get(table) ?? []) rows.push({ row, entry });
          if (rows.length === 0) return;
          await this.insertSplitting(table, rows, deduplicationToken(table, rows.map((r) => r.row)));
        }),
      );
    } catch (error) {
      // Only when closing: the handlers reject, nothing is committed, Kafka redelivers.
      for (const entry of entries) entry.reject(error);
      return;
    }
    for (const entry of entries) entry.resolve(entry.rejected);
  }

  /** Inserts rows; on a data error splits them in halves (tokens derived from the parent's). */
  private async insertSplitting(table: T, rows: { row: BufferedRow<unknown>; entry: Entry<T> }[], token: string): Promise<void> {
    try {
      await this.insertRetrying(table, rows.map((r) => r.row.row), token);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (rows.length === 1) {
        const only = rows[0]!;
        only.entry.rejected.push({ message: only.row.message, code: errorCode(error), reason: errorMessage(error) });
        return;
      }
      const middle = Math.ceil(rows.length / 2);
      await this.insertSplitting(table, rows.slice(0, middle), `${token}/a`);
      await this.insertSplitting(table, rows.slice(middle), `${token}/b`);
    }
  }

  /**
   * One insert, retried with capped exponential back-off until it succeeds, fails with a data
   * error (thrown for splitting), or the buffer closes (thrown). Backpressure is on from the first
   * failure until an insert succeeds.
   */
  private async insertRetrying(table: T, rows: readonly unknown[], token: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.hooks.insert(table, rows, token);
        this.hooks.onInserted(table, rows.length);
        this.setPaused(false);
        return;
      } catch (error) {
        const data = isDataError(error);
        this.hooks.onError(table, error, !data && !this.closed);
        if (data) throw error;
        if (this.closed) throw error;
        this.setPaused(true);
        const delay = Math.min(this.options.retryMaxMs, this.options.retryInitialMs * 2 ** Math.min(attempt, 30));
        // Full jitter on the upper half keeps several writers from retrying in step.
        await sleep(delay / 2 + Math.random() * (delay / 2), this.stop.signal);
        if (this.closed) throw error;
      }
    }
  }

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    this.hooks.onBackpressure(paused);
  }

  /**
   * Flushes what is buffered (bounded by `timeoutMs`), then stops: a flush still failing is
   * abandoned and its handlers reject, so their offsets are not committed and the records are
   * redelivered to the next writer.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.entries.length > 0 && !this.closed) {
      this.due = true;
      this.kick();
    }
    const deadline = Date.now() + timeoutMs;
    while ((this.flushing !== undefined || this.entries.length > 0) && Date.now() < deadline) {
      await Promise.race([this.flushing ?? Promise.resolve(), sleep(50)]);
      if (this.flushing === undefined && this.entries.length > 0) {
        this.due = true;
        this.kick();
      }
    }
    this.closed = true;
    this.stop.abort();
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const error = new StorageError('STORAGE_NOT_CONNECTED', 'writer closed before ClickHouse acknowledged; the batch will be redelivered');
    for (const entry of this.entries.splice(0)) entry.reject(error);
    this.buffered = 0;
    await this.flushing?.catch(() => undefined);
    this.setPaused(false);
  }
}
