import { describe, expect, it } from 'vitest';
import { attributesOf, cap, canonicalKey, FieldError, flattenZeek, MAX_ATTRIBUTE_CHARS, optPort, secondsToMs, timeValueMs } from './fields.ts';

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
