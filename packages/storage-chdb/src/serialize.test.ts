import { describe, expect, it } from 'vitest';
import { serializeRows } from './chdb-storage.ts';

describe('serializeRows', () => {
  it('writes uniform rows as JSONCompactEachRow with a column list', () => {
    const out = serializeRows([
      { a: 1, b: 'x', m: { k: 'v' } },
      { a: 2, b: 'y\n', m: {} },
    ]);
    expect(out.format).toBe('JSONCompactEachRow');
    expect(out.columns).toEqual(['a', 'b', 'm']);
    expect(out.values.toString()).toBe('[1,"x",{"k":"v"}]\n[2,"y\\n",{}]');
  });

  it('falls back to JSONEachRow when rows differ in their keys', () => {
    expect(serializeRows([{ a: 1 }, { a: 1, b: 2 }]).format).toBe('JSONEachRow');
    expect(serializeRows([{ a: 1, b: 2 }, { a: 1, c: 2 }]).format).toBe('JSONEachRow');
    expect(serializeRows([{ a: 1, b: 2 }, { b: 2, a: 1 }]).values.toString()).toBe('[1,2]\n[1,2]');
  });

  it('writes bigints as strings', () => {
    expect(serializeRows([{ a: 2n ** 63n }]).values.toString()).toBe('["9223372036854775808"]');
  });
});
