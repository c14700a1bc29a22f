import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindParameters, createChdbStorage, type ChdbStorage } from '@mamori/storage-chdb';

// The binder is checked against the engine's own parameter binding, value by value: whatever a
// value holds (quotes, backslashes, control characters, any Unicode, SQL), the statement bound
// here returns exactly what the engine-bound one returns, so the value never left its literal.
const path = mkdtempSync(join(tmpdir(), 'mamori-chdb-bind-'));
let storage: ChdbStorage;
let engine: ChdbStorage;

beforeAll(async () => {
  storage = createChdbStorage({ path, database: 'bind_test' });
  engine = createChdbStorage({ path, database: 'bind_test', binding: 'engine' });
  await storage.connect();
  await engine.connect();
});
afterAll(async () => {
  await engine.close();
  await storage.close();
  rmSync(path, { recursive: true, force: true });
});

/** The rows of `sql` bound here and bound by the engine, as JSON text. */
async function both(sql: string, params: Record<string, unknown>): Promise<[string, string]> {
  if (bindParameters(sql, params) === undefined) throw new Error(`not bound here: ${sql}`);
  const ours = JSON.stringify(await storage.query(sql, params));
  const theirs = JSON.stringify(await engine.query(sql, params));
  return [ours, theirs];
}

const INJECTIONS = ["'", "\\'", "\\", "' OR 1=1 --", "x'); DROP TABLE t; --", "\\x27", "{a:String}", "*/", "/*", '\u0000', '\r\n', "''", "\\\\'", '`', '"', '$$', 'é漢字🙂'];

describe('bound here vs bound by the engine', () => {
  it('gives the same strings for any string, including break-out attempts', async () => {
    for (const s of INJECTIONS) {
      const [ours, theirs] = await both('SELECT {s:String} AS s, length({s:String}) AS n', { s });
      expect(ours).toBe(theirs);
      expect(JSON.parse(ours)[0].s).toBe(s);
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom("'", '\\', '\n', '\u0000', 'a', '{', '}', '-', '/', '*') })), async (s) => {
        const [ours, theirs] = await both('SELECT {s:String} AS s', { s });
        expect(ours).toBe(theirs);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves placeholders in strings, heredocs and comments alone, as the engine does', async () => {
    const sql = "SELECT '{a:String}' AS q, $$ {a:String} $$ AS h, {a:String} AS v -- {a:String}\n/* {a:String} */";
    for (const a of ['$$', "'", '*/', '\n--']) {
      const [ours, theirs] = await both(sql, { a });
      expect(ours).toBe(theirs);
    }
  });

  it('gives the same integers at every type boundary', async () => {
    const cases: [string, (number | bigint)[]][] = [
      ['UInt8', [0, 1, 255]],
      ['UInt16', [0, 65_535]],
      ['UInt32', [0, 4_294_967_295]],
      ['UInt64', [0, Number.MAX_SAFE_INTEGER, 18_446_744_073_709_551_615n]],
      ['Int8', [-128, 127]],
      ['Int32', [-2_147_483_648, 2_147_483_647]],
      ['Int64', [-9_223_372_036_854_775_808n, -1, 0, 1_795_146_923_428, 9_223_372_036_854_775_807n]],
    ];
    for (const [type, values] of cases) {
      for (const v of values) {
        const [ours, theirs] = await both(`SELECT {v:${type}} AS v, toTypeName({v:${type}}) AS t`, { v });
        expect(ours).toBe(theirs);
      }
    }
  });

  it('gives the same arrays, and works where the engine takes parameters (IN, LIMIT, functions)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), async (a) => {
        const [ours, theirs] = await both('SELECT {a:Array(String)} AS a, toTypeName({a:Array(String)}) AS t', { a });
        expect(ours).toBe(theirs);
      }),
      { numRuns: 100 },
    );
    const sql = `SELECT number FROM numbers(100) WHERE toString(number) IN {ids:Array(String)} AND number >= {lo:Int64}
      AND toDateTime64(number, 3, 'UTC') < fromUnixTimestamp64Milli({until:Int64}) ORDER BY number LIMIT {limit:UInt32}`;
    const [ours, theirs] = await both(sql, { ids: ['1', '3', '5', '7'], lo: 2, until: 1_000_000, limit: 2 });
    expect(ours).toBe(theirs);
    expect((JSON.parse(ours) as { number: string }[]).map((r) => r.number)).toEqual(['3', '5']);
  });

  it('keeps concurrent statements apart: each gets its own values back', async () => {
    const runs = Array.from({ length: 200 }, (_, i) => ({ s: `v${i}'\\${'x'.repeat(i % 7)}`, n: i }));
    const results = await Promise.all(runs.map((p) => storage.query<{ s: string; n: number }>('SELECT {s:String} AS s, {n:UInt32} AS n', p)));
    expect(results.map((r) => r[0])).toEqual(runs);
  });
});

describe('session pool', () => {
  it('runs a statement on a free connection while another connection is busy', async () => {
    // A long statement holds one connection; a short one started after it must not queue behind it.
    const long = storage.query('SELECT count() AS n FROM numbers(40000000) WHERE sipHash64(number) % 3 = 0 SETTINGS max_threads = 1');
    let longDone = false;
    void long.then(() => (longDone = true));
    await new Promise((r) => setTimeout(r, 50));
    const short = await storage.query<{ v: string }>('SELECT {v:String} AS v', { v: 'short' });
    expect(short).toEqual([{ v: 'short' }]);
    expect(longDone).toBe(false);
    expect(await long).toHaveLength(1);
  });
});

describe('session pool under mixed load', () => {
  it('runs inserts and bound selects side by side on its connections without losing or mixing rows', async () => {
    await storage.exec('CREATE DATABASE IF NOT EXISTS bind_test');
    await storage.exec('CREATE TABLE IF NOT EXISTS bind_test.mixed (batch UInt32, n UInt32, s String) ENGINE = MergeTree ORDER BY (batch, n)');
    const batches = 16;
    const rowsPer = 2_000;
    const inserts = Array.from({ length: batches }, (_, b) =>
      storage.insert('mixed', Array.from({ length: rowsPer }, (_, n) => ({ batch: b, n, s: `b${b}'n${n}\\` }))),
    );
    // Reads interleaved with the writes: each gets its own bound values back, whatever runs beside it.
    const reads = Array.from({ length: 120 }, (_, i) =>
      storage.query<{ b: number; c: string }>('SELECT {b:UInt32} AS b, toString(count()) AS c FROM bind_test.mixed WHERE batch = {b:UInt32} AND s LIKE {p:String}', {
        b: i % batches,
        p: `b${i % batches}'%`,
      }),
    );
    const [, readRows] = await Promise.all([Promise.all(inserts), Promise.all(reads)]);
    readRows.forEach((rows, i) => {
      expect(rows[0]!.b).toBe(i % batches);
      // A read sees its batch either not yet, or whole (an insert is atomic).
      expect(['0', String(rowsPer)]).toContain(rows[0]!.c);
    });
    const totals = await storage.query<{ batch: number; c: string; ok: string }>(
      "SELECT batch, toString(count()) AS c, toString(countIf(s = concat('b', toString(batch), '\\'n', toString(n), '\\\\'))) AS ok FROM bind_test.mixed GROUP BY batch ORDER BY batch",
    );
    expect(totals).toEqual(Array.from({ length: batches }, (_, b) => ({ batch: b, c: String(rowsPer), ok: String(rowsPer) })));
  });
});
