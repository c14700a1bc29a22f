import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventCodec, withEventDefaults } from '@mamori/events';
import { describe, expect, it } from 'vitest';
import { ZEEK_LOG_FORMATS } from './index.ts';
import { sniffFormat, testCtx } from './testing/samples.ts';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const codec = new EventCodec();

for (const format of ZEEK_LOG_FORMATS) {
  const log = format.id.slice('zeek.'.length);
  const fixtures = join(HERE, log, 'fixtures');
  const inputs = readdirSync(fixtures).filter((f) => f.endsWith('.input'));

  describe(`${format.id} golden fixtures`, () => {
    it('has a JSON and a TSV fixture at least', () => {
      expect(inputs).toContain('json-sample.input');
      expect(inputs).toContain('tsv-sample.input');
    });

    for (const input of inputs) {
      it(input, () => {
        const bytes = readFileSync(join(fixtures, input));
        const result = format.decode(bytes, testCtx(log, 77));
        const actual = {
          events: result.events,
          errors: result.errors.map((e) => ({ code: e.code, line: e.line, field: e.field ?? null })),
        };
        const expectedPath = join(fixtures, input.replace(/\.input$/, '.expected.json'));
        // UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
        if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
        expect(actual).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
        for (const event of result.events) expect({ ...codec.decode(codec.encode(event)) }).toEqual(withEventDefaults(event));
        // Content sniffing picks this format for its own fixtures.
        expect(sniffFormat(bytes.toString('utf8')).format?.id).toBe(format.id);
      });
    }
  });
}
