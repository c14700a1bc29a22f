import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventCodec, type MamoriEvent } from '@mamori/events';
import { describe, expect, it } from 'vitest';

// Every event of every golden fixture, encoded by EventCodec (the compiled writer) and by avsc
// itself: the bytes must be the same, and must decode back to the event.

const FORMATS_DIR = fileURLToPath(new URL('./', import.meta.url));

function expectedFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...expectedFiles(full));
    else if (entry.name.endsWith('.expected.json') && dir.endsWith('fixtures')) out.push(full);
  }
  return out.sort();
}

describe('golden fixture events encode to avsc bytes', () => {
  const codec = new EventCodec();
  const files = expectedFiles(FORMATS_DIR);

  it('finds the fixtures of every format', () => {
    const formats = new Set(files.map((f) => relative(FORMATS_DIR, f).split('/fixtures/')[0]));
    expect(formats.size).toBeGreaterThanOrEqual(10);
    expect(formats).toContain('zeek-conn');
  });

  let total = 0;
  for (const file of files) {
    it(relative(FORMATS_DIR, file), () => {
      const { events } = JSON.parse(readFileSync(file, 'utf8')) as { events: MamoriEvent[] };
      for (const event of events) {
        const bytes = codec.encode(event);
        const body = codec.schema.type.toBuffer(event);
        expect(bytes.subarray(10).equals(body), event.event_id).toBe(true);
        expect({ ...codec.decode(bytes) }).toEqual(codec.schema.type.fromBuffer(body));
      }
      total += events.length;
    });
  }

  it('encoded events at all', () => expect(total).toBeGreaterThan(100));
});
