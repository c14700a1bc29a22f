import { describe, expect, it } from 'vitest';
import { attributesOf, cap, canonicalKey, eventTimeMs, FieldError, flattenZeek, MAX_ATTRIBUTE_CHARS, optCount, optDurationMs, optPort, secondsToMs, timeValueMs } from './fields.ts';

describe('Zeek JSON shapes', () => {
  it('reads dotted, underscored and nested record groups as one dotted shape', () => {
    const dotted = { 'id.orig_h': '10.0.0.1', 'id.resp_p': 53, 'san.dns': ['a'] };
    const underscored = { id_orig_h: '10.0.0.1', id_resp_p: 53, san_dns: ['a'] };
    const nested = { id: { orig_h: '10.0.0.1', resp_p: 53 }, san: { dns: ['a'] } };
    expect(flattenZeek(underscored)).toEqual(dotted);
    expect(flattenZeek(nested)).toEqual(dotted);
    // Native names with underscores stay; an object outside the record groups stays a value.
    expect(canonicalKey('orig_bytes')).toBe('orig_bytes');
    expect(canonicalKey('qtype_name')).toBe('qtype_name');
    expect(flattenZeek({ query: { a: 1 } })).toEqual({ query: { a: 1 } });
    // x509's `id` is a file id string, not the connection.
    expect(flattenZeek({ id: 'FKMTO94' })).toEqual({ id: 'FKMTO94' });
  });

  it('makes epoch seconds and ISO times the same millisecond', () => {
    expect(timeValueMs(1521911720.865716, 'ts')).toBe(1521911720865);
    expect(timeValueMs('1521911720.865716', 'ts')).toBe(1521911720865);
    expect(timeValueMs('2018-03-24T17:15:20.865716Z', 'ts')).toBe(1521911720865);
    expect(() => timeValueMs('yesterday', 'ts')).toThrow(FieldError);
    expect(secondsToMs(0.0014999)).toBe(secondsToMs(0.0015));
  });

  it('refuses numbers an event cannot hold, naming the field (they used to fail the Avro encode and the batch)', () => {
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return error instanceof FieldError ? error.field : 'not a FieldError';
      }
      return 'accepted';
    };
    for (const v of [1e300, -1e300, '1e300', 'NaN', 'Infinity', 9007199254741]) expect(fieldOf(() => timeValueMs(v, 'ts')), String(v)).toBe('ts');
    expect(timeValueMs(9007199254740, 'certificate.not_valid_after')).toBe(9007199254740000);
    // The event's own time: ClickHouse DateTime64 (1900-2299).
    expect(eventTimeMs('2299-12-31T23:59:59.999Z', 'ts')).toBe(Date.UTC(2299, 11, 31, 23, 59, 59, 999));
    expect(eventTimeMs(-2208988800, 'ts')).toBe(Date.UTC(1900, 0, 1));
    for (const v of [1e15, 10413792000, -2208988800.001, '+099999-01-01T00:00:00Z']) expect(fieldOf(() => eventTimeMs(v, 'ts')), String(v)).toBe('ts');
    expect(optCount({ n: 9007199254740990 }, 'n')).toBe(9007199254740990);
    for (const v of [9007199254740991, 2 ** 63, 1e300, -1, '-1', 'NaN', 1.5]) expect(fieldOf(() => optCount({ n: v }, 'n')), String(v)).toBe('n');
    expect(optCount({ n: 2147483647 }, 'n', 2147483647)).toBe(2147483647);
    expect(fieldOf(() => optCount({ n: 2147483648 }, 'n', 2147483647))).toBe('n');
    expect(optDurationMs({ d: 0.0015 }, 'd')).toBe(2);
    for (const v of [1e300, 9007199254741, -1, 'Infinity']) expect(fieldOf(() => optDurationMs({ d: v }, 'd')), String(v)).toBe('d');
  });

  it('validates ports', () => {
    expect(optPort({ p: '443' }, 'p')).toBe(443);
    expect(optPort({}, 'p')).toBeNull();
    expect(() => optPort({ p: 93145 }, 'p')).toThrow(FieldError);
  });

  it('keeps attributes bounded and JSON/TSV-neutral', () => {
    const attrs = attributesOf(
      { uid: 'C1', rtt: 0.0008699893951416016, TTLs: [2230.0], empty: [], blank: [''], big: 'x'.repeat(5000), till: '1970-01-01T00:00:00.000000Z', _path: 'dns', _write_ts: 'x', query: 'q' },
      new Set(['query']),
      new Set(['till']),
    );
    expect(attrs).toEqual({ uid: 'C1', rtt: '0.00087', TTLs: '2230', big: `${'x'.repeat(MAX_ATTRIBUTE_CHARS)}…`, till: '0' });
    expect(cap('a😀', 2)).toBe('a…');
  });
});
