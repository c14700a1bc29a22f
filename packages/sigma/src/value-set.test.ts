import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AhoCorasick } from './aho-corasick.ts';
import { EventContext, type FieldSlot, type FieldValue } from './event-context.ts';
import { testEvent } from './test-events.ts';
import { CONTAINS_AUTOMATON_MIN, shapeOf, VALUE_SET_MIN, valueSetPredicate } from './value-set.ts';
import { compilePattern, parseWildcards } from './wildcard.ts';

/** Letters of both cases, the two code points whose lower case is ASCII, path characters and wildcards' neighbours. */
const UNITS = ['a', 'b', 'k', 'i', 'A', 'K', 'I', '\\', '.', ' ', '\u0130', '\u212a', '\u00e9'];

const literal = fc.string({ minLength: 1, maxLength: 5, unit: fc.constantFrom(...UNITS) });
/** A Sigma value: one of the simple forms, or a glob with `?` or two literal runs. */
const sigmaValue = fc.oneof(
  literal,
  literal.map((l) => `${l}*`),
  literal.map((l) => `*${l}`),
  literal.map((l) => `*${l}*`),
  literal.map((l) => `*${l}*`),
  fc.tuple(literal, literal).map(([a, b]) => `${a}*${b}`),
  fc.tuple(literal, literal).map(([a, b]) => `*${a}?${b}*`),
);
const text = fc.string({ maxLength: 14, unit: fc.constantFrom(...UNITS) });

/** A field item's value tests as compile.ts builds them (lower-cased unless cased). */
function tests(values: string[], lower: boolean) {
  return values.map((v) => {
    const tokens = parseWildcards(v);
    const effective = lower ? tokens.map((t) => (typeof t === 'string' ? t.toLowerCase() : t)) : tokens;
    const shape = shapeOf(effective);
    return { test: compilePattern(effective), ...(shape ? { shape } : {}) };
  });
}

describe('comparing many values as sets', () => {
  it('shapes are the simple forms only', () => {
    expect(shapeOf(parseWildcards('a*'))).toEqual({ op: 'startswith', lit: 'a' });
    expect(shapeOf(parseWildcards('*a'))).toEqual({ op: 'endswith', lit: 'a' });
    expect(shapeOf(parseWildcards('*a*'))).toEqual({ op: 'contains', lit: 'a' });
    expect(shapeOf(parseWildcards('a'))).toEqual({ op: 'equals', lit: 'a' });
    expect(shapeOf(parseWildcards('a*b'))).toBeUndefined();
    expect(shapeOf(parseWildcards('*a?b*'))).toBeUndefined();
  });

  it('is true exactly when testing each value in turn is, for strings and arrays, lower case and cased', () => {
    let hits = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(sigmaValue, { minLength: VALUE_SET_MIN, maxLength: 30 }),
          // Enough contains values for the automaton, beside others.
          fc.tuple(fc.array(literal.map((l) => `*${l}*`), { minLength: CONTAINS_AUTOMATON_MIN, maxLength: 30 }), fc.array(sigmaValue, { maxLength: 6 })).map(([a, b]) => [...a, ...b]),
        ),
        fc.oneof(text, fc.array(text, { maxLength: 3 })),
        fc.boolean(),
        (values, raw, lower) => {
          const compiled = tests(values, lower);
          const rawValue: FieldValue = raw;
          const compared: FieldValue = lower ? (typeof raw === 'string' ? raw.toLowerCase() : raw.map((x) => x.toLowerCase())) : raw;
          const slot: FieldSlot = { id: 0, name: 'F', paths: ['attributes.F'], get: () => rawValue };
          const ctx = new EventContext([slot]);
          ctx.reset(testEvent());
          const expected = compiled.some((t) => (typeof compared === 'string' ? t.test(compared) : compared.some((x) => t.test(x))));
          const got = valueSetPredicate(compiled, () => compared, () => rawValue, lower)(ctx);
          runs++;
          if (expected) hits++;
          expect(got, JSON.stringify({ values, raw, lower })).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
    // Both outcomes are exercised.
    expect(hits).toBeGreaterThan(runs / 10);
    expect(hits).toBeLessThan(runs - runs / 10);
  });

  it(`from ${CONTAINS_AUTOMATON_MIN} contains values one automaton stops at the first found, with case folding`, () => {
    const lits = Array.from({ length: CONTAINS_AUTOMATON_MIN }, (_, i) => `word${i}x`);
    const ac = new AhoCorasick(lits);
    expect(ac.occursIn('a WORD7X b', true)).toBe(true);
    expect(ac.occursIn('a WORD7X b', false)).toBe(false);
    expect(ac.occursIn('a word7 x', true)).toBe(false);
    let reported = 0;
    expect(ac.scanLower('word1x word2x word3x', () => ++reported === 2)).toBe(true);
    expect(reported).toBe(2);
  });
});
