import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventCodec, withEventDefaults } from '@mamori/events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeRecord } from '../../normalize.ts';
import type { DecodeContext } from '../types.ts';
import { cefFormat, cefSeverity, parseCef, parseExtension } from './index.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

const ctx: DecodeContext = {
  topic: 'telemetry.raw.cef.line',
  partition: 1,
  offset: 77,
  sensorId: 'cef-lab-1',
  orgId: 'org-test',
  ingestTime: Date.UTC(2025, 0, 1, 0, 0, 5),
};

describe('cef golden fixtures', () => {
  const inputs = readdirSync(FIXTURES).filter((f) => f.endsWith('.input'));
  it('has fixtures', () => expect(inputs.length).toBeGreaterThanOrEqual(3));

  for (const input of inputs) {
    it(input, () => {
      const result = cefFormat.decode(readFileSync(join(FIXTURES, input)), ctx);
      const actual = { events: result.events, errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })) };
      const expectedPath = join(FIXTURES, input.replace(/\.input$/, '.expected.json'));
      // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }

  it('produces events the Avro codec accepts', () => {
    const codec = new EventCodec();
    for (const input of inputs) {
      for (const event of cefFormat.decode(readFileSync(join(FIXTURES, input)), ctx).events) {
        expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
      }
    }
  });
});

describe('cef syntax', () => {
  it('runs a value until the next key, keeping spaces, = inside URLs and escapes', () => {
    const { pairs } = parseExtension('msg=Disk full on /var act=blocked request=http://x/?a=1&b=2 note=a\\=b c\\\\d');
    expect([...pairs]).toEqual([
      ['msg', 'Disk full on /var'],
      ['act', 'blocked'],
      ['request', 'http://x/?a=1&b=2'],
      ['note', 'a=b c\\d'],
    ]);
  });

  it('unescapes header pipes and backslashes and keeps the extension whole', () => {
    const rec = parseCef('CEF:0|V\\|X|P\\\\Q|1|2|N|5|k=v|w');
    expect([rec.vendor, rec.product, rec.severity]).toEqual(['V|X', 'P\\Q', '5']);
    expect(rec.extension.get('k')).toBe('v|w');
  });

  it('maps severities 0-10 and the words', () => {
    expect(['0', '3', '5', '7', '10', 'Low', 'medium', 'HIGH', 'Very-High', 'Unknown', '11'].map((s) => cefSeverity(s).score)).toEqual([0, 3, 5, 7, 10, 3, 6, 8, 10, null, null]);
    expect(['2', '5', '8', '9'].map((s) => cefSeverity(s).label)).toEqual(['low', 'medium', 'high', 'very-high']);
  });
});

const header = fc.array(fc.string({ maxLength: 12 }), { minLength: 0, maxLength: 9 }).map((parts) => `CEF:0|${parts.join('|')}`);
const pieces = fc.constantFrom('|', '\\', '=', ' ', '\\|', '\\=', '\\\\', '\\n', 'src=', ' dst=', 'cs1Label=', 'rt=', 'CEF:', '\n', '\u0000', '\uFFFD', '💥');
const mutated = fc.tuple(header, fc.array(fc.oneof(pieces, fc.string({ maxLength: 8 })), { maxLength: 30 })).map(([h, rest]) => h + rest.join(''));

describe('cef never throws (property)', () => {
  it('every input yields events or errors, and every event encodes', () => {
    const codec = new EventCodec();
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'))), (text) => {
        const result = normalizeRecord(cefFormat, Buffer.from(text), ctx);
        expect(result.errors.filter((e) => e.code === 'FORMAT_FAILED')).toEqual([]);
        const nonBlank = text.split('\n').filter((l) => l.replace(/[\r\0]+$/, '').trim() !== '').length;
        expect(result.events.length + result.errors.length).toBe(nonBlank);
        for (const event of result.events) codec.encode(event);
      }),
      { numRuns: 2000 },
    );
  });
});
