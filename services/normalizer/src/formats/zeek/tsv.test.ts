import { describe, expect, it } from 'vitest';
import { isZeekTsv, sniffZeekTsv, unescapeZeek, ZeekTsvReader, zeekTsvRecords, zeekTsvToJsonLines } from './tsv.ts';

const header = (path: string, fields: string[], types: string[], sep = '\t', sepText = '\\x09'): string[] => [
  `#separator ${sepText}`,
  `#set_separator${sep},`,
  `#empty_field${sep}(empty)`,
  `#unset_field${sep}-`,
  `#path${sep}${path}`,
  `#open${sep}2024-04-20-00-00-00`,
  `#fields${sep}${fields.join(sep)}`,
  `#types${sep}${types.join(sep)}`,
];

describe('Zeek TSV reader', () => {
  it('types every column like Zeek JSON: numbers, bools, sets, vectors, unset absent, (empty)', () => {
    const text = [
      ...header(
        'dns',
        ['ts', 'uid', 'id.orig_p', 'rtt', 'AA', 'answers', 'TTLs', 'query', 'tags', 'qtype'],
        ['time', 'string', 'port', 'interval', 'bool', 'vector[string]', 'vector[interval]', 'string', 'set[enum]', 'count'],
      ),
      '1521911720.865716\tC1\t41772\t0.000870\tT\ta.example,10.0.0.1\t2230.000000,60.5\t(empty)\t(empty)\t-',
      '#close\t2024-04-20-01-00-00',
    ].join('\n');
    expect([...zeekTsvToJsonLines(text)]).toEqual([
      {
        path: 'dns',
        lineNumber: 8,
        line: JSON.stringify({
          ts: 1521911720.865716,
          uid: 'C1',
          'id.orig_p': 41772,
          rtt: 0.00087,
          AA: true,
          answers: ['a.example', '10.0.0.1'],
          TTLs: [2230, 60.5],
          query: '',
          tags: [],
        }),
      },
    ]);
  });

  it('undoes escaping: \\xNN bytes, \\\\, escaped separators in sets, UTF-8, invalid bytes as Zeek JSON writes them', () => {
    expect(unescapeZeek('plain')).toBe('plain');
    expect(unescapeZeek('VMware\\\\, Inc')).toBe('VMware\\, Inc');
    expect(unescapeZeek('a\\x09b\\x0ac')).toBe('a\tb\nc');
    expect(unescapeZeek('\\x01')).toBe('\\x01');
    expect(unescapeZeek('caf\\xc3\\xa9')).toBe('café');
    expect(unescapeZeek('/\\xc0')).toBe('/\\xc0');
    expect(unescapeZeek('\\x2d')).toBe('-');
    const text = [...header('x', ['s', 'v'], ['string', 'set[string]']), '\\x2d\ta\\x2cb,c'].join('\n');
    const [row] = [...zeekTsvRecords(text)];
    // An escaped `-` is a value, not unset; an escaped `,` stays inside its set element.
    expect(row).toMatchObject({ kind: 'record', record: { s: '-', v: ['a,b', 'c'] } });
  });

  it('reads concatenated logs (a new header mid-file) and a log still open (no #close)', () => {
    const text = [
      ...header('conn', ['ts', 'uid'], ['time', 'string']),
      '1.5\tA',
      '#close\t2024-04-20-01-00-00',
      ...header('dns', ['ts', 'query'], ['time', 'string']),
      '2.5\texample.org',
    ].join('\n');
    expect([...zeekTsvRecords(text)].map((r) => [r.kind, r.path, r.lineNumber])).toEqual([
      ['record', 'conn', 8],
      ['record', 'dns', 18],
    ]);
  });

  it('reports a line cut short, data before a header, and ignores blank lines and CRLF', () => {
    const text = ['1.0\tX', ...header('conn', ['ts', 'uid', 'proto'], ['time', 'string', 'enum']), '1.5\tA\ttcp\r', '', '2.5\tB'].join('\n');
    const out = [...zeekTsvRecords(text)];
    expect(out.map((r) => [r.kind, r.lineNumber])).toEqual([
      ['error', 0],
      ['record', 9],
      ['error', 11],
    ]);
    expect(out[1]).toMatchObject({ record: { ts: 1.5, uid: 'A', proto: 'tcp' } });
  });

  it('takes any separator, other unset/empty markers, values that do not parse as their type', () => {
    const text = [
      '#separator \\x7c',
      '#set_separator|;',
      '#empty_field|EMPTY',
      '#unset_field|NONE',
      '#path|http',
      '#fields|ts|status_code|tags|i_dont_exist',
      '#types|time|count|set[string]|int64',
      '1.25|NONE|a;b|bingbong',
      '2|200|EMPTY|NONE',
    ].join('\n');
    expect([...zeekTsvRecords(text)].map((r) => (r.kind === 'record' ? r.record : r))).toEqual([
      { ts: 1.25, tags: ['a', 'b'], i_dont_exist: 'bingbong' },
      { ts: 2, status_code: 200, tags: [] },
    ]);
    expect(sniffZeekTsv(text)).toBe('http');
  });

  it('works line by line for streaming callers', () => {
    const reader = new ZeekTsvReader();
    const lines = [...header('weird', ['ts', 'name'], ['time', 'string']), '3\tbad_TCP_checksum'];
    const out = lines.map((l, i) => reader.push(l, i)).filter((r) => r !== null);
    expect(out).toEqual([{ kind: 'record', path: 'weird', lineNumber: 8, record: { ts: 3, name: 'bad_TCP_checksum' } }]);
  });

  it('sniffs TSV by its header only', () => {
    expect(sniffZeekTsv(header('ssl', ['ts'], ['time']).join('\n'))).toBe('ssl');
    expect(sniffZeekTsv(`\t${header('conn', ['ts'], ['time']).join('\n')}`)).toBe('conn');
    expect(sniffZeekTsv('{"ts":1}')).toBeNull();
    expect(sniffZeekTsv('1517336042.090842\tC\t10.0.0.1')).toBeNull();
    expect(isZeekTsv('#separator \\x09\n')).toBe(true);
  });
});
