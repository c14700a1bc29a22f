import { describe, expect, it } from 'vitest';
import { StorageError } from '@mamori/storage';
import { bindParameters } from './bind.ts';

describe('bindParameters', () => {
  it('writes each placeholder as a typed constant', () => {
    expect(bindParameters('SELECT {a:String}, {n:UInt32}, {t:Int64}, {ids:Array(String)}', { a: "it's", n: 7, t: -5, ids: ['x', 'y'] })).toBe(
      "SELECT CAST('it\\'s' AS String), CAST(7 AS UInt32), CAST(-5 AS Int64), CAST(['x', 'y'] AS Array(String))",
    );
    expect(bindParameters('SELECT {e:Array(String)}', { e: [] })).toBe('SELECT CAST([] AS Array(String))');
    expect(bindParameters('SELECT {big:UInt64}', { big: 18_446_744_073_709_551_615n })).toBe('SELECT CAST(18446744073709551615 AS UInt64)');
  });

  it('escapes the backslash, the quote and every control character', () => {
    expect(bindParameters('SELECT {s:String}', { s: "a\\'b\n\u0000\u007f\t" })).toBe("SELECT CAST('a\\\\\\'b\\x0a\\x00\\x7f\\x09' AS String)");
    // The classic break-out attempts stay inside the literal.
    expect(bindParameters('SELECT {s:String}', { s: "\\' OR 1=1 --" })).toBe("SELECT CAST('\\\\\\' OR 1=1 --' AS String)");
  });

  it('leaves placeholders in strings, quoted identifiers and comments alone, as the engine does', () => {
    const sql = "SELECT '{a:String}', \"{a:String}\", `{a:String}`, 'it''s {a:String}', 'x\\'{a:String}' -- {a:String}\n/* {a:String} /* nested */ {a:String} */ {a:String}";
    expect(bindParameters('SELECT $$ {a:String} $$, $t$ {a:String} $$ $t$, {a:String}', { a: '$$' })).toBe(
      "SELECT $$ {a:String} $$, $t$ {a:String} $$ $t$, CAST('$$' AS String)",
    );
    expect(bindParameters(sql, { a: 'v' })).toBe(
      "SELECT '{a:String}', \"{a:String}\", `{a:String}`, 'it''s {a:String}', 'x\\'{a:String}' -- {a:String}\n/* {a:String} /* nested */ {a:String} */ CAST('v' AS String)",
    );
  });

  it('returns the statement unchanged without placeholders, and ignores braces that are not placeholders', () => {
    expect(bindParameters('SELECT 1', {})).toBe('SELECT 1');
    expect(bindParameters("SELECT map('a', 1), {x:UInt8}, {}", { x: 1 })).toBe("SELECT map('a', 1), CAST(1 AS UInt8), {}");
  });

  it('declines types it has no literal form for (the engine binds those)', () => {
    expect(bindParameters('SELECT {d:DateTime64(3)}', { d: '2026-01-01' })).toBeUndefined();
    expect(bindParameters('SELECT {f:Float64}, {s:String}', { f: 1.5, s: 'x' })).toBeUndefined();
    expect(bindParameters('SELECT {m:Map(String, String)}', { m: {} })).toBeUndefined();
    expect(bindParameters('SELECT {a:Array(Array(String))}', { a: [] })).toBeUndefined();
  });

  it('refuses missing parameters and values that do not fit the type', () => {
    const refused = (sql: string, params: Record<string, unknown>): StorageError => {
      try {
        bindParameters(sql, params);
      } catch (error) {
        expect(error).toBeInstanceOf(StorageError);
        expect((error as StorageError).code).toBe('CLICKHOUSE_QUERY_FAILED');
        expect([456, 457]).toContain((error as StorageError).clickhouseCode);
        expect((error as StorageError).retryable).toBe(false);
        return error as StorageError;
      }
      throw new Error(`accepted ${JSON.stringify(params)} for ${sql}`);
    };
    expect(refused('SELECT {a:String}', {}).message).toContain('a (String) is not set');
    refused('SELECT {a:String}', { a: 5 });
    refused('SELECT {a:String}', { a: ['x'] });
    refused('SELECT {n:UInt8}', { n: 256 });
    refused('SELECT {n:UInt8}', { n: -1 });
    refused('SELECT {n:UInt32}', { n: 1.5 });
    refused('SELECT {n:Int64}', { n: Number.MAX_SAFE_INTEGER + 2 });
    refused('SELECT {n:Int64}', { n: '1 OR 1' });
    refused('SELECT {n:Int64}', { n: 9_223_372_036_854_775_808n });
    refused('SELECT {ids:Array(String)}', { ids: 'x' });
    expect(refused('SELECT {ids:Array(String)}', { ids: ['x', 1] }).message).toContain('ids[1]');
  });
});
