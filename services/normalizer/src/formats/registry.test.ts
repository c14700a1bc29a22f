import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FORMATS } from './registry.ts';

const HERE = fileURLToPath(new URL('./', import.meta.url));

describe('format registry', () => {
  it('has unique ids and topics', () => {
    expect(new Set(FORMATS.map((f) => f.id)).size).toBe(FORMATS.length);
    const topics = FORMATS.flatMap((f) => f.topics);
    expect(new Set(topics).size).toBe(topics.length);
    for (const topic of topics) expect(topic).toMatch(/^telemetry\.raw\.[a-z0-9_-]+\.[a-z0-9_-]+$/);
  });

  it('gives every format a folder with decode.ts, fixtures with expected output, and a README', () => {
    for (const format of FORMATS) {
      // `zeek.conn` lives in zeek-conn/; the other Zeek logs share zeek/ and live in zeek/<log>/.
      const folder = [`${HERE}${format.id.replace(/\./g, '-')}/`, `${HERE}${format.id.replace(/\./g, '/')}/`].find((f) => existsSync(f)) ?? '';
      expect(existsSync(`${folder}decode.ts`), `${folder}decode.ts`).toBe(true);
      expect(existsSync(`${folder}README.md`), `${folder}README.md`).toBe(true);
      const fixtures = readdirSync(`${folder}fixtures`);
      const inputs = fixtures.filter((f) => f.endsWith('.input'));
      expect(inputs.length, `${format.id} fixtures`).toBeGreaterThan(0);
      for (const input of inputs) expect(fixtures).toContain(input.replace(/\.input$/, '.expected.json'));
    }
  });
});
