import { StorageError } from '@mamori/storage';
import type { ConsumedMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { InsertBuffer, deduplicationToken, isDataError, type BufferedRow } from './insert-buffer.ts';

type Table = 'events' | 'detections';

const msg = (partition: number, offset: number, topic = 'telemetry.events'): ConsumedMessage => ({
  topic,
  partition,
  offset: String(offset),
  key: null,
  value: Buffer.from('x'),
  headers: {},
  timestamp: 0,
});

const rows = (partition: number, from: number, n: number): BufferedRow<unknown>[] =>
  Array.from({ length: n }, (_, i) => ({ row: { id: `${partition}-${from + i}` }, message: msg(partition, from + i) }));

const events = (list: BufferedRow<unknown>[]) => new Map<Table, BufferedRow<unknown>[]>([['events', list]]);

function harness(options: { batchRows?: number; flushIntervalMs?: number; idleMs?: number; fail?: (rows: readonly unknown[], attempt: number) => Error | undefined } = {}) {
  const inserts: { table: Table; ids: string[]; token: string }[] = [];
  const backpressure: boolean[] = [];
  let attempts = 0;
  const buffer = new InsertBuffer<Table>(
    ['events', 'detections'],
    { batchRows: options.batchRows ?? 1000, flushIntervalMs: options.flushIntervalMs ?? 30, idleMs: options.idleMs ?? 0, retryInitialMs: 5, retryMaxMs: 20 },
    {
      insert: async (table, list, token) => {
        attempts += 1;
        const error = options.fail?.(list, attempts);
        if (error) throw error;
        inserts.push({ table, ids: list.map((r) => (r as { id: string }).id), token });
      },
      onError: () => undefined,
      onInserted: () => undefined,
      onBackpressure: (paused) => backpressure.push(paused),
      onBuffered: () => undefined,
    },
  );
  return { buffer, inserts, backpressure, attempts: () => attempts };
}

describe('InsertBuffer', () => {
  it('gathers rows of several handlers into one insert and settles them after it', async () => {
    const h = harness({ flushIntervalMs: 40 });
    let settled = 0;
    const a = h.buffer.add(events(rows(0, 0, 3))).then((r) => ((settled += 1), r));
    const b = h.buffer.add(events(rows(1, 10, 2))).then((r) => ((settled += 1), r));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(0);
    expect(h.inserts).toEqual([]);
    expect(await a).toEqual([]);
    expect(await b).toEqual([]);
    expect(h.inserts).toHaveLength(1);
    expect(h.inserts[0]!.ids).toEqual(['0-0', '0-1', '0-2', '1-10', '1-11']);
  });

  it('flushes on size without waiting for the interval', async () => {
    const h = harness({ batchRows: 4, flushIntervalMs: 60_000 });
    const a = h.buffer.add(events(rows(0, 0, 2)));
    const b = h.buffer.add(events(rows(1, 0, 2)));
    await Promise.all([a, b]);
    expect(h.inserts.map((i) => i.ids.length)).toEqual([4]);
  });

  it('flushes early when idle, when configured', async () => {
    const h = harness({ flushIntervalMs: 60_000, idleMs: 10 });
    await h.buffer.add(events(rows(0, 0, 2)));
    expect(h.inserts).toHaveLength(1);
  });

  it('retries a retryable failure with backpressure, and settles only after success', async () => {
    const down = new StorageError('CLICKHOUSE_UNREACHABLE', 'down');
    const h = harness({ fail: (_rows, attempt) => (attempt <= 3 ? down : undefined) });
    const result = await h.buffer.add(events(rows(0, 0, 5)));
    expect(result).toEqual([]);
    expect(h.attempts()).toBe(4);
    expect(h.inserts).toHaveLength(1);
    expect(h.backpressure).toEqual([true, false]);
  });

  it('isolates a row ClickHouse refuses as invalid and writes its batch-mates', async () => {
    const bad = new StorageError('CLICKHOUSE_INSERT_FAILED', 'Code: 632. DB::Exception: Cannot parse IPv6', { clickhouseCode: 632 });
    expect(isDataError(bad)).toBe(true);
    const h = harness({ fail: (list) => (list.some((r) => (r as { id: string }).id === '0-5') ? bad : undefined) });
    const [first, second] = await Promise.all([h.buffer.add(events(rows(0, 0, 8))), h.buffer.add(events(rows(1, 0, 3)))]);
    expect(first.map((r) => r.message.offset)).toEqual(['5']);
    expect(first[0]).toMatchObject({ code: 'CLICKHOUSE_INSERT_FAILED', reason: expect.stringContaining('IPv6') });
    expect(second).toEqual([]);
    const written = h.inserts.flatMap((i) => i.ids).sort();
    expect(written).toEqual([...rows(0, 0, 8), ...rows(1, 0, 3)].map((r) => (r.row as { id: string }).id).filter((id) => id !== '0-5').sort());
    expect(new Set(h.inserts.map((i) => i.token)).size).toBe(h.inserts.length);
  });

  it('rejects waiting handlers when closed during an outage (nothing acknowledged)', async () => {
    const h = harness({ fail: () => new StorageError('CLICKHOUSE_UNREACHABLE', 'down') });
    const pending = h.buffer.add(events(rows(0, 0, 2)));
    await new Promise((r) => setTimeout(r, 60));
    await h.buffer.close(50);
    await expect(pending).rejects.toMatchObject({ code: 'CLICKHOUSE_UNREACHABLE' });
    await expect(h.buffer.add(events(rows(0, 2, 1)))).rejects.toMatchObject({ code: 'STORAGE_NOT_CONNECTED' });
  });
});

describe('deduplicationToken', () => {
  it('depends on the records, not on their order', () => {
    const a = [...rows(0, 0, 3), ...rows(1, 5, 2)];
    const b = [...a].reverse();
    expect(deduplicationToken('events', a)).toBe(deduplicationToken('events', b));
    expect(deduplicationToken('events', a)).not.toBe(deduplicationToken('events', rows(0, 0, 3)));
    expect(deduplicationToken('events', a)).not.toBe(deduplicationToken('detections', a));
  });
});
