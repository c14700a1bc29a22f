/**
 * The index's prefilters (Bloom filters and the /20 network bitmap in `@mamori/intel`) change what a
 * lookup that finds nothing costs, never what matches: `matchEvent` over the intel benchmark's
 * generated feed and event stream, plus events that carry listed values of every kind, gives the
 * same matches in the same order with and without them.
 */
import type { MamoriEvent } from '@mamori/events';
import { IndicatorIndex, parseList } from '@mamori/intel';
import { describe, expect, it } from 'vitest';
import { events, line, rng, type Mix } from '../../../../test/bench/intel.ts';
import { matchEvent } from './intel.ts';

const summary = (index: IndicatorIndex, e: MamoriEvent) => matchEvent(index, e).map(({ field, match }) => [field, match.indicator, match.observed] as const);

describe('matchEvent with and without the index prefilters', () => {
  it('gives identical matches over the benchmark stream and over listed values', () => {
    const r = rng(42);
    const mix: Mix = { ip: 0, net: 0, domain: 0, hash: 0, url: 0 };
    const lines = Array.from({ length: 100_000 }, (_, i) => line(i, r, mix));
    const parsed = parseList(lines.join('\n'), { source: 'bench', confidence: 70, now: 0 });
    expect(parsed.indicators.length).toBe(lines.length);
    const on = new IndicatorIndex();
    const off = new IndicatorIndex(undefined, { prefilter: false });
    for (const ind of parsed.indicators) {
      on.add(ind);
      off.add(ind);
    }
    const stream = events(50_000);
    // Events that carry listed values (and near misses) of every kind, so that hits pass the filters too.
    const time = stream[0]!.time;
    const base = stream[1]!;
    for (let i = 0; i < lines.length; i += 7) {
      const v = parsed.indicators[i]!.value;
      const kind = parsed.indicators[i]!.kind;
      const e: MamoriEvent = { ...base, event_id: `x${i}`, time };
      if (kind === 'ip') stream.push({ ...e, dst_ip: v.split('/')[0]!, src_ip: v.split('/')[0]!.replace(/\d+$/, (d) => String((Number(d) + 1) % 256)) });
      else if (kind === 'domain') stream.push({ ...e, dns: { query: `www.${v}`, qtype: 'A', rcode: null, answers: [], trans_id: null, rejected: null } }, { ...e, dns: { query: `${v}x`, qtype: 'A', rcode: null, answers: [], trans_id: null, rejected: null } });
      else if (kind === 'url') {
        const slash = v.indexOf('/');
        stream.push({ ...e, http: { ...base.http!, method: 'GET', host: v.slice(0, slash), uri: `${v.slice(slash)}?id=${i}`, user_agent: null, referrer: null, status_code: 200, request_body_bytes: null, response_body_bytes: null, content_type: null, version: null } });
      } else stream.push({ ...e, file: { hashes: { [kind]: v.toUpperCase(), md5: `${v.slice(0, 31)}0` } } as unknown as MamoriEvent['file'] });
    }
    let total = 0;
    const fields = new Set<string>();
    for (const e of stream) {
      const a = summary(on, e);
      expect(a).toEqual(summary(off, e));
      total += a.length;
      for (const [f] of a) fields.add(f);
    }
    expect(total).toBeGreaterThan(10_000);
    expect([...fields].sort()).toEqual(['dns.query', 'dst_ip', 'file.hashes.md5', 'file.hashes.sha256', 'http.url', 'src_ip'].sort());
  }, 120_000);
});
