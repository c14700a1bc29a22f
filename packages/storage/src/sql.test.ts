import { describe, expect, it } from 'vitest';
import { appendSettings, assertIdentifier, timeoutSetting, toDateTime64 } from './sql.ts';

describe('sql helpers', () => {
  it('accepts plain identifiers only', () => {
    expect(assertIdentifier('database', 'mamori_1')).toBe('mamori_1');
    for (const bad of ['', '1abc', 'a.b', 'a;DROP', 'a b', '`a`']) expect(() => assertIdentifier('table', bad)).toThrow(/plain identifier/);
  });

  it('appends query settings', () => {
    expect(appendSettings('SELECT 1;', { max_execution_time: 0.5 })).toBe('SELECT 1\nSETTINGS max_execution_time = 0.5');
    expect(appendSettings('SELECT 1', {})).toBe('SELECT 1');
    expect(() => appendSettings('SELECT 1 FORMAT CSV', { max_execution_time: 1 })).toThrow(/FORMAT/);
    expect(timeoutSetting(1500)).toEqual({ max_execution_time: 1.5 });
    expect(() => timeoutSetting(-1)).toThrow();
  });

  it('formats DateTime64(3) text in UTC', () => {
    expect(toDateTime64(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe('2025-01-02 03:04:05.678');
    expect(toDateTime64(0)).toBe('1970-01-01 00:00:00.000');
    expect(() => toDateTime64(Number.NaN)).toThrow();
    expect(() => toDateTime64(Date.UTC(2300, 0, 1))).toThrow();
  });
});
