import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyslogTcpFramer, type SyslogFrame } from './framing.ts';

const show = (frames: SyslogFrame[]): string[] => frames.map((f) => (f.kind === 'message' ? f.bytes.toString() : `${f.kind}:${f.bytes.length}:${f.size}`));

function feed(framer: SyslogTcpFramer, chunks: (string | Buffer)[]): string[] {
  const out: SyslogFrame[] = [];
  for (const c of chunks) out.push(...framer.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  out.push(...framer.end());
  return show(out);
}

describe('syslog TCP framing', () => {
  it('reads octet-counted frames split anywhere across chunks', () => {
    const a = '<13>1 - h a - - - hello';
    const b = '<14>Jan  1 00:00:00 h x: with\nnewline';
    const stream = `${Buffer.byteLength(a)} ${a}${Buffer.byteLength(b)} ${b}`;
    for (let cut1 = 0; cut1 <= stream.length; cut1 += 3) {
      for (let cut2 = cut1; cut2 <= stream.length; cut2 += 7) {
        expect(feed(new SyslogTcpFramer(1024), [stream.slice(0, cut1), stream.slice(cut1, cut2), stream.slice(cut2)])).toEqual([a, b]);
      }
    }
  });

  it('reads newline-framed messages, CRLF and a final unterminated line', () => {
    expect(feed(new SyslogTcpFramer(1024), ['<13>one\r\n<13>tw', 'o\n\n<13>three'])).toEqual(['<13>one', '<13>two', '<13>three']);
  });

  it('detects the framing per frame, so mixed streams work', () => {
    expect(feed(new SyslogTcpFramer(1024), ['7 <13>abc<13>line\n9 <13>x\ny z<1>end\n'])).toEqual(['<13>abc', '<13>line', '<13>x\ny z', '<1>end']);
  });

  it('cuts oversize frames to the bound and keeps reading after them', () => {
    const big = `<13>${'x'.repeat(100)}`;
    expect(feed(new SyslogTcpFramer(32), [`${big.length} ${big}`, '5 <1>ok'])).toEqual([`oversize:32:${big.length}`, '<1>ok']);
    expect(feed(new SyslogTcpFramer(32), [big.slice(0, 50), big.slice(50), '\n<1>ok\n'])).toEqual(['oversize:32:-1', '<1>ok']);
  });

  it('reports a connection that ends inside an octet-counted frame', () => {
    expect(feed(new SyslogTcpFramer(1024), ['20 <13>short'])).toEqual(['incomplete:9:20']);
  });

  it('never loses or invents bytes for any chunking (property)', () => {
    const message = fc.string({ minLength: 1, maxLength: 40 }).map((s) => `<13>${s.replace(/[\n\r\0]/g, ' ')}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(message, fc.boolean()), { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 8 }), (messages, cuts) => {
        const stream = Buffer.from(messages.map(([m, octet]) => (octet ? `${Buffer.byteLength(m)} ${m}` : `${m}\n`)).join(''));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
        const chunks: Buffer[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(stream.subarray(last, p));
          last = p;
        }
        chunks.push(stream.subarray(last));
        expect(feed(new SyslogTcpFramer(4096), chunks)).toEqual(messages.map(([m]) => m));
      }),
      { numRuns: 500 },
    );
  });
});
