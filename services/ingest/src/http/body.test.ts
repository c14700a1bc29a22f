import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyError, decodeBody, splitLines } from './body.ts';

/**
 * Property tests of the HTTP bulk body parser: random and mutated bodies never throw anything but a
 * BodyError, and every non-blank line of an accepted body is accounted for exactly once, good or
 * refused with its code, its bytes kept (cut to the bound when too long).
 */
const MAX_LINES = 50;
const MAX_LINE_BYTES = 64;

/** The lines a reader must account for: split on LF, one trailing CR dropped, blank (space/tab/CR) ones skipped. */
function expectedLines(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    let line = body.subarray(start, end);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (!/^[ \t\r]*$/.test(line.toString('latin1'))) out.push(line);
    start = end + 1;
  }
  return out;
}

const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
  // Mostly text: lines, blanks, CRs, tabs, multi-byte and invalid UTF-8.
  fc
    .array(fc.constantFrom('{"a":1}', '\n', '\r\n', '\r', ' ', '\t', 'é', '\u{1F600}', 'x'.repeat(70), '\xff', '\xc3'), { maxLength: 200 })
    .map((parts) => Buffer.from(parts.map((p) => (p === '\xff' || p === '\xc3' ? Buffer.from([p.charCodeAt(0)]) : Buffer.from(p, 'utf8'))).reduce((a, b) => Buffer.concat([a, b]), Buffer.alloc(0)))),
);

describe('HTTP bulk body parser (property)', () => {
  it('accounts for every non-blank line exactly once, or refuses the whole body with 413', () => {
    fc.assert(
      fc.property(bytesArb, (body) => {
        const want = expectedLines(body);
        let lines;
        try {
          lines = splitLines(body, MAX_LINES, MAX_LINE_BYTES);
        } catch (error) {
          expect(error).toBeInstanceOf(BodyError);
          expect((error as BodyError).status).toBe(413);
          expect(want.length).toBeGreaterThan(MAX_LINES);
          return;
        }
        expect(lines).toHaveLength(want.length);
        lines.forEach((line, i) => {
          const source = want[i]!;
          if (source.length > MAX_LINE_BYTES) {
            expect(line).toMatchObject({ ok: false, code: 'INGEST_LINE_TOO_LONG' });
            expect(line.bytes.equals(source.subarray(0, MAX_LINE_BYTES))).toBe(true);
          } else {
            expect(line.bytes.equals(source)).toBe(true);
            if (!line.ok) expect(line.code).toBe('INGEST_LINE_NOT_UTF8');
            expect(line.ok).toBe(Buffer.from(source.toString('utf8'), 'utf8').equals(source));
          }
        });
      }),
      { numRuns: 500 },
    );
  });

  it('inflates gzip bodies to the same lines, and refuses random or mutated gzip with a BodyError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(bytesArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.boolean(), async (plain, flips, truncate) => {
        const packed = Buffer.from(gzipSync(plain));
        for (const [at, value] of flips) packed[at % packed.length] = value;
        const input = truncate ? packed.subarray(0, packed.length >> 1) : packed;
        try {
          const inflated = await decodeBody(input, 'gzip', 4096);
          if (flips.length === 0 && !truncate) expect(inflated.equals(plain)).toBe(true);
          expect(inflated.length).toBeLessThanOrEqual(4096);
        } catch (error) {
          expect(error).toBeInstanceOf(BodyError);
          expect([400, 413]).toContain((error as BodyError).status);
          if (flips.length === 0 && !truncate) expect((error as BodyError).status).toBe(413);
        }
      }),
      { numRuns: 300 },
    );
  });
});
