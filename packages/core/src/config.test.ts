import { describe, expect, it } from 'vitest';
import { EnvReader, deepFreeze } from './config.ts';
import { ConfigError } from './errors.ts';

/** The ConfigError `done` throws for what `read` did; fails when there is none. */
function problemsOf(read: (r: EnvReader) => void, env: Record<string, string>): string {
  const r = new EnvReader(env);
  read(r);
  try {
    r.done({});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('EnvReader', () => {
  describe('defaults', () => {
    it('uses the fallback when a key is unset or empty', () => {
      const r = new EnvReader({ EMPTY: '' });
      expect(r.string('UNSET', 'a')).toBe('a');
      expect(r.string('EMPTY', 'a')).toBe('a');
      expect(r.integer('UNSET', 7)).toBe(7);
      expect(r.integer('EMPTY', 7)).toBe(7);
      expect(r.boolean('EMPTY', true)).toBe(true);
      expect(r.oneOf('EMPTY', ['x', 'y'] as const, 'y')).toBe('y');
      expect(r.list('EMPTY', ['a', 'b'])).toEqual(['a', 'b']);
      expect(r.optionalString('UNSET')).toBeUndefined();
      expect(r.optionalString('EMPTY')).toBeUndefined();
      expect(r.done({ ok: true })).toEqual({ ok: true });
    });

    it('reads set values as they are', () => {
      const r = new EnvReader({ S: 'hello world', O: 'secret' });
      expect(r.string('S', 'x')).toBe('hello world');
      expect(r.optionalString('O')).toBe('secret');
    });
  });

  describe('integer', () => {
    it('parses whole numbers within the bounds, bounds included', () => {
      const r = new EnvReader({ A: '42', MIN: '1', MAX: '10', NEG: '-5' });
      expect(r.integer('A', 0)).toBe(42);
      expect(r.integer('MIN', 5, { min: 1, max: 10 })).toBe(1);
      expect(r.integer('MAX', 5, { min: 1, max: 10 })).toBe(10);
      expect(r.integer('NEG', 0)).toBe(-5);
      expect(() => r.done({})).not.toThrow();
    });

    it.each([
      ['below the minimum', '0', 'between 1 and 10'],
      ['above the maximum', '11', 'between 1 and 10'],
      ['a fraction', '1.5', 'must be an integer'],
      ['a unit suffix', '10ms', 'must be an integer'],
      ['a word', 'ten', 'must be an integer'],
      ['digit separators', '1_000', 'must be an integer'],
    ])('rejects %s, naming the key and the value', (_what, raw, expected) => {
      const message = problemsOf((r) => expect(r.integer('PORT', 5, { min: 1, max: 10 })).toBe(5), { PORT: raw });
      expect(message).toContain(`PORT=${JSON.stringify(raw)}`);
      expect(message).toContain(expected);
    });

    it('states the safe-integer range when no bounds are given', () => {
      const message = problemsOf((r) => r.integer('N', 0), { N: 'x' });
      expect(message).toContain(`between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`);
    });
  });

  describe('boolean', () => {
    it.each(['1', 'true', 'TRUE', 'yes', 'On'])('reads %s as true', (raw) => {
      expect(new EnvReader({ B: raw }).boolean('B', false)).toBe(true);
    });

    it.each(['0', 'false', 'False', 'no', 'OFF'])('reads %s as false', (raw) => {
      expect(new EnvReader({ B: raw }).boolean('B', true)).toBe(false);
    });

    it('rejects anything else, naming the key', () => {
      const message = problemsOf((r) => expect(r.boolean('ATTACKS', true)).toBe(true), { ATTACKS: 'maybe' });
      expect(message).toContain('ATTACKS="maybe" must be true or false');
    });
  });

  describe('oneOf', () => {
    it('accepts one of the choices, case-sensitively', () => {
      expect(new EnvReader({ T: 'rdkafka' }).oneOf('T', ['kafkajs', 'rdkafka'] as const, 'kafkajs')).toBe('rdkafka');
      const message = problemsOf((r) => expect(r.oneOf('T', ['kafkajs', 'rdkafka'] as const, 'kafkajs')).toBe('kafkajs'), { T: 'RDKAFKA' });
      expect(message).toContain('T="RDKAFKA" must be one of: kafkajs, rdkafka');
    });
  });

  describe('list', () => {
    it('splits on commas, trims entries and drops empty ones', () => {
      expect(new EnvReader({ L: ' a:1 , b:2,,c:3, ' }).list('L', [])).toEqual(['a:1', 'b:2', 'c:3']);
    });

    it('uses the fallback for a blank value, as a copy', () => {
      const fallback = ['x'] as const;
      const list = new EnvReader({ L: '   ' }).list('L', fallback);
      expect(list).toEqual(['x']);
      list.push('y');
      expect(fallback).toEqual(['x']);
    });
  });

  it('reports every problem together in one message, in the order found', () => {
    const r = new EnvReader({ PORT: 'x', DEBUG: 'perhaps', MODE: 'z' });
    r.integer('PORT', 1);
    r.boolean('DEBUG', false);
    r.oneOf('MODE', ['a', 'b'] as const, 'a');
    r.problem('BROKERS entry "k" must be host:port');
    let error: unknown;
    try {
      r.done({});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).message.split('\n');
    expect(lines[0]).toBe('invalid configuration:');
    expect(lines.slice(1)).toEqual([
      `  - PORT="x" must be an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`,
      '  - DEBUG="perhaps" must be true or false',
      '  - MODE="z" must be one of: a, b',
      '  - BROKERS entry "k" must be host:port',
    ]);
  });

  it('returns the value deeply frozen', () => {
    const config = new EnvReader({}).done({ port: 1, nested: { list: ['a'] } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.nested)).toBe(true);
    expect(Object.isFrozen(config.nested.list)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 2;
    }).toThrow(TypeError);
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays, and passes primitives and null through', () => {
    const value = deepFreeze({ a: [{ b: 1 }], c: null });
    expect(Object.isFrozen(value.a[0])).toBe(true);
    expect(deepFreeze(3)).toBe(3);
    expect(deepFreeze(null)).toBeNull();
  });
});
