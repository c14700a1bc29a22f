import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { CorrelationEngine, correlationOnlyBaseRules, reportedCorrelations } from './engine.ts';
import { correlationFingerprints } from './fingerprint.ts';
import { CorrelationPartition, MAX_CORRELATION_FAILURES_KEPT } from './partition.ts';
import { GroupWindow } from './window.ts';
import { CorrelationRuleError } from './errors.ts';
import { parseCorrelationRules, type CorrelationDocument } from './parse.ts';
import type { BaseRuleMatch, CorrelationSet } from './types.ts';

const specDir = fileURLToPath(new URL('../../../../../shared/data/sigma-spec/', import.meta.url));
const here = (p: string): string => join(specDir, p);

function docs(path: string, text: string): CorrelationDocument[] {
  return parseAllDocuments(text).map((d, index) => ({ path, index, doc: d.toJS() as unknown }));
}
function rules(text: string): CorrelationSet {
  return parseCorrelationRules(docs('test.yml', text));
}
let n = 0;
function m(ruleId: string, time: number, fields: Record<string, unknown>): BaseRuleMatch {
  n += 1;
  return { ruleId, time, eventId: `e${String(n).padStart(5, '0')}`, fields };
}
function run(set: CorrelationSet, matches: BaseRuleMatch[], lateness = 0) {
  const engine = new CorrelationEngine(set, { allowedLatenessMs: lateness });
  const out = [];
  for (const match of matches) {
    engine.ingest(match);
    out.push(...engine.advance());
  }
  out.push(...engine.flush());
  return { out, engine };
}

describe('parsing the specification examples', () => {
  it('parses every correlation example of the schema tests', () => {
    const dir = here('tests/schema/correlation');
    for (const file of readdirSync(dir)) {
      const set = parseCorrelationRules(docs(file, readFileSync(join(dir, file), 'utf8')));
      expect(set.rules).toHaveLength(1);
      expect(set.rules[0]!.timespanMs).toBeGreaterThan(0);
    }
  });

  it('parses the chained example of the specification (names resolved, depth, order)', () => {
    const spec = readFileSync(here('specification/sigma-correlation-rules-specification.md'), 'utf8');
    const yml = /### Failed Logins Followed by Successful Login[\s\S]*?```yml\n([\s\S]*?)```/.exec(spec)![1]!;
    const set = parseCorrelationRules(docs('spec.yml', yml), { knownBaseRules: [] });
    expect(set.rules.map((r) => [r.name ?? r.id, r.type, r.depth])).toEqual([
      ['multiple_failed_login', 'event_count', 0],
      ['b180ead8-d58f-40b2-ae54-c8940995b9b6', 'temporal_ordered', 1],
    ]);
    expect(set.rules[1]!.rules.map((r) => r.kind)).toEqual(['correlation', 'base']);
    expect([...reportedCorrelations(set)]).toEqual(['b180ead8-d58f-40b2-ae54-c8940995b9b6']);
    expect([...correlationOnlyBaseRules(set)].sort()).toEqual(['failed_login', 'successful_login']);
  });

  it('reports the file, document and attribute of a bad rule', () => {
    const bad = (text: string) => () => rules(text);
    expect(bad('title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [h]\n  timespan: 1H\n  condition: {gte: 1}')).toThrow(/test.yml \(document 1\): correlation.timespan/);
    expect(bad('title: x\ncorrelation:\n  type: value_sum\n  rules: [a]\n  group-by: [h]\n  timespan: 1h\n  condition: {gte: 1}')).toThrow(/condition.field is mandatory/);
    expect(bad('title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [h]\n  timespan: 1h\n  condition: {about: 1}')).toThrow(/unknown operator/);
    expect(bad('title: x\nname: a\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [h]\n  timespan: 1h\n  condition: {gte: 1}\n---\ntitle: y\nname: b\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [h]\n  timespan: 1h\n  condition: {gte: 1}')).toThrow(CorrelationRuleError);
    expect(() => parseCorrelationRules(docs('t.yml', 'title: x\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [h]\n  timespan: 1m'), { knownBaseRules: [{ id: 'a' }] })).toThrow(/SIGMA|no rule with id or name "b"/);
  });
});

describe('event_count', () => {
  const set = rules('title: brute\nid: c1\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [host]\n  timespan: 10s\n  condition: {gte: 3}');

  it('counts per group in a sliding window, inclusive of exactly one timespan', () => {
    const { out } = run(set, [m('failed', 0, { host: 'a' }), m('failed', 5_000, { host: 'a' }), m('failed', 10_000, { host: 'a' }), m('failed', 10_000, { host: 'b' })]);
    expect(out.map((o) => [o.match.groupKey, o.match.windowStart, o.match.windowEnd, o.match.value])).toEqual([['a', 0, 10_000, 3]]);
  });

  it('does not match when the span is one millisecond more than the timespan', () => {
    const { out } = run(set, [m('failed', 0, { host: 'a' }), m('failed', 5_000, { host: 'a' }), m('failed', 10_001, { host: 'a' })]);
    expect(out).toEqual([]);
  });

  it('one detection per burst, and a new one after the window has moved on; ids are deterministic', () => {
    const times = [0, 1, 2, 3, 4, 5, 20_000, 20_001, 20_002];
    const { out } = run(set, times.map((t) => m('failed', t, { host: 'a' })));
    expect(out.map((o) => o.match.windowStart)).toEqual([0, 20_000]);
    const again = run(set, times.map((t) => m('failed', t, { host: 'a' })));
    expect(again.out.map((o) => o.match.id)).toEqual(out.map((o) => o.match.id));
  });

  it('gives the same matches for out-of-order input within the lateness, and counts facts beyond it as late', () => {
    const ordered = [0, 2_000, 4_000, 30_000, 31_000, 32_000].map((t) => m('failed', t, { host: 'a' }));
    const shuffled = [ordered[1]!, ordered[0]!, ordered[3]!, ordered[2]!, ordered[5]!, ordered[4]!];
    const a = run(set, ordered, 30_000).out.map((o) => o.match.id);
    const b = run(set, shuffled, 30_000).out.map((o) => o.match.id);
    expect(b).toEqual(a);
    expect(a).toHaveLength(2);
    // Lateness 1s: 0 arrives 2s behind 2000 and 4000 arrives after 30000: both late, counted.
    const { out, engine } = run(set, shuffled, 1_000);
    expect(out.map((o) => o.match.windowStart)).toEqual([30_000]);
    expect(engine.partition.stats.late.get('event_count')).toBe(2);
    // Exactly at the lateness bound is still on time.
    const edge = run(set, [m('failed', 2_000, { host: 'a' }), m('failed', 1_000, { host: 'a' }), m('failed', 1_500, { host: 'a' })], 1_000);
    expect(edge.out.map((o) => o.match.windowStart)).toEqual([1_000]);
    expect(edge.engine.partition.stats.late.size).toBe(0);
  });

  it('supports lt/lte/eq/neq and ranges', () => {
    const range = rules('title: r\nid: r\ncorrelation:\n  type: event_count\n  rules: [x]\n  group-by: [h]\n  timespan: 1m\n  condition: {gt: 1, lte: 2}');
    expect(run(range, [m('x', 0, { h: 'a' }), m('x', 1, { h: 'a' })]).out.map((o) => o.match.value)).toEqual([2]);
    const neq = rules('title: r\nid: r\ncorrelation:\n  type: event_count\n  rules: [x]\n  group-by: [h]\n  timespan: 1m\n  condition: {neq: 1}');
    expect(run(neq, [m('x', 0, { h: 'a' }), m('x', 1, { h: 'a' })]).out.map((o) => o.match.value)).toEqual([2]);
  });
});

describe('value_count', () => {
  const set = rules('title: spray\nid: v1\ncorrelation:\n  type: value_count\n  rules: [failed]\n  group-by: [src]\n  timespan: 1h\n  condition: {field: user, gte: 3}');

  it('counts distinct values exactly', () => {
    const { out } = run(set, [m('failed', 0, { src: 's', user: 'a' }), m('failed', 1, { src: 's', user: 'a' }), m('failed', 2, { src: 's', user: 'b' }), m('failed', 3, { src: 's', user: 'c' })]);
    expect(out.map((o) => [o.match.value, o.match.estimated, o.match.windowEnd])).toEqual([[3, false, 3]]);
  });

  it('switches to a HyperLogLog beyond the exact bound and stays within a few percent', () => {
    const big = rules('title: spray\nid: v2\ncorrelation:\n  type: value_count\n  rules: [x]\n  group-by: [src]\n  timespan: 1h\n  condition: {field: user, gte: 50000}');
    const engine = new CorrelationEngine(big, { limits: { exactDistinctLimit: 1000 } });
    for (let i = 0; i < 60_000; i++) engine.ingest({ ruleId: 'x', time: i, eventId: `e${i}`, fields: { src: 's', user: `user-${i}` } });
    const out = engine.flush();
    expect(out).toHaveLength(1);
    expect(out[0]!.match.estimated).toBe(true);
    // The condition fires near 50000 distinct values (HLL error ~2.3%).
    expect(Math.abs(out[0]!.match.windowEnd - 50_000)).toBeLessThan(5_000);
  });

  it('counts tuples when field lists several fields', () => {
    const tuple = rules('title: t\nid: t\ncorrelation:\n  type: value_count\n  rules: [x]\n  group-by: [src]\n  timespan: 1h\n  condition: {field: [dst, port], gte: 3}');
    const { out } = run(tuple, [m('x', 0, { src: 's', dst: 'a', port: 1 }), m('x', 1, { src: 's', dst: 'a', port: 2 }), m('x', 2, { src: 's', dst: 'b', port: 1 })]);
    expect(out.map((o) => o.match.value)).toEqual([3]);
  });
});

describe('temporal and temporal_ordered', () => {
  const temporal = rules('title: recon\nid: t1\ncorrelation:\n  type: temporal\n  rules: [a, b, c]\n  group-by: [host, user]\n  timespan: 5m');
  const ordered = rules('title: recon\nid: t2\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b, c]\n  group-by: [host, user]\n  timespan: 5m');
  const f = { host: 'h', user: 'u' };

  it('temporal: all rules in any order within the timespan', () => {
    expect(run(temporal, [m('c', 0, f), m('a', 1000, f), m('b', 2000, f)]).out.map((o) => o.match.value)).toEqual([3]);
    expect(run(temporal, [m('c', 0, f), m('a', 1000, f), m('b', 300_001, f)]).out).toEqual([]);
    expect(run(temporal, [m('c', 0, f), m('a', 1000, f), m('b', 2000, { host: 'h', user: 'other' })]).out).toEqual([]);
  });

  it('temporal_ordered: only in the listed order (equal times count as in order)', () => {
    expect(run(ordered, [m('c', 0, f), m('a', 1000, f), m('b', 2000, f)]).out).toEqual([]);
    expect(run(ordered, [m('a', 0, f), m('c', 500, f), m('b', 1000, f), m('c', 2000, f)]).out.map((o) => o.match.windowEnd)).toEqual([2000]);
    expect(run(ordered, [m('a', 0, f), m('b', 0, f), m('c', 0, f)]).out).toHaveLength(1);
  });

  it('resolves aliases per rule (the specification example)', () => {
    const set = rules(`title: alias
id: al
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip`);
    const err = { ruleId: 'id-1', ruleName: 'internal_error', time: 0, eventId: 'x1', fields: { 'destination.ip': '10.0.0.1', 'source.ip': '8.8.8.8' } };
    const conn = { ruleId: 'id-2', ruleName: 'new_network_connection', time: 5_000, eventId: 'x2', fields: { source: { ip: '10.0.0.1' }, destination: { ip: '8.8.8.8' } } };
    const { out } = run(set, [err, conn]);
    expect(out.map((o) => o.match.group)).toEqual([{ internal_ip: '10.0.0.1', remote_ip: '8.8.8.8' }]);
  });
});

describe('value_sum, value_avg, value_percentile', () => {
  it('value_sum over the window', () => {
    const set = rules('title: exfil\nid: s\ncorrelation:\n  type: value_sum\n  rules: [web]\n  group-by: [src]\n  timespan: 1h\n  condition: {field: bytes_sent, gt: 1000000}');
    const { out } = run(set, [m('web', 0, { src: 's', bytes_sent: 600_000 }), m('web', 1, { src: 's', bytes_sent: '400001' }), m('web', 2, { src: 't', bytes_sent: 2 })]);
    expect(out.map((o) => [o.match.group, o.match.value])).toEqual([[{ src: 's' }, 1_000_001]]);
  });

  it('value_avg over the window', () => {
    const set = rules('title: avg\nid: a\ncorrelation:\n  type: value_avg\n  rules: [x]\n  group-by: [src]\n  timespan: 1h\n  condition: {field: b, gt: 500}');
    const { out } = run(set, [m('x', 0, { src: 's', b: 100 }), m('x', 1, { src: 's', b: 1000 }), m('x', 2, { src: 's', b: 1000 })]);
    expect(out.map((o) => o.match.value)).toEqual([550]);
  });

  it('value_percentile: a rare value (frequency share) and a numeric rank', () => {
    const set = rules('title: rare\nid: p\ncorrelation:\n  type: value_percentile\n  rules: [proc]\n  group-by: [host]\n  timespan: 24h\n  condition: {field: image, lte: 10}');
    const common = Array.from({ length: 20 }, (_, i) => m('proc', i, { host: 'h', image: 'svchost.exe' }));
    const { out } = run(set, [...common, m('proc', 100, { host: 'h', image: 'evil.exe' })]);
    expect(out.map((o) => o.match.value)).toEqual([(100 * 1) / 21]);
    const numeric = rules('title: big\nid: q\ncorrelation:\n  type: value_percentile\n  rules: [x]\n  group-by: [h]\n  timespan: 1h\n  condition: {field: n, gte: 100}');
    const values = [5, 3, 9, 1];
    const res = run(numeric, values.map((v, i) => m('x', i, { h: 'h', n: v })));
    // 5 is the highest when it is alone; then 9 is the highest seen, after suppression ends? No: one match per timespan.
    expect(res.out.map((o) => o.match.windowEnd)).toEqual([0]);
  });
});

describe('chained correlations and generate', () => {
  const spec = readFileSync(here('specification/sigma-correlation-rules-specification.md'), 'utf8');
  const yml = /### Failed Logins Followed by Successful Login[\s\S]*?```yml\n([\s\S]*?)```/.exec(spec)![1]!;
  const set = parseCorrelationRules(docs('spec.yml', yml));
  const failed = (t: number, user: string) => ({ ruleId: '53ba33fd-3a50-4468-a5ef-c583635cfa92', ruleName: 'failed_login', time: t, eventId: `f${t}${user}`, fields: { User: user } });
  const ok = (t: number, user: string) => ({ ruleId: '4d0a2c83-c62c-4ed4-b475-c7e23a9269b8', ruleName: 'successful_login', time: t, eventId: `s${t}${user}`, fields: { User: user } });

  it('ten failed logins then a success for the same user within 10m fires the outer rule; inner matches are not reported', () => {
    const input = [...Array.from({ length: 10 }, (_, i) => failed(i * 1000, 'bob')), ok(60_000, 'bob'), ...Array.from({ length: 9 }, (_, i) => failed(i * 1000, 'eve')), ok(60_000, 'eve')];
    const { out } = run(set, input, 5_000);
    expect(out.map((o) => [o.match.correlationName ?? o.match.correlationId, o.match.group, o.report])).toEqual([
      ['multiple_failed_login', { User: 'bob' }, false],
      ['b180ead8-d58f-40b2-ae54-c8940995b9b6', { User: 'bob' }, true],
    ]);
  });

  it('a success before the failures does not fire', () => {
    const input = [ok(0, 'bob'), ...Array.from({ length: 10 }, (_, i) => failed(1000 + i * 1000, 'bob'))];
    expect(run(set, input).out.filter((o) => o.report)).toEqual([]);
  });
});

describe('state round trip', () => {
  it('a partition restored from its changelog continues exactly like one that never stopped', () => {
    const set = rules('title: c\nid: c\ncorrelation:\n  type: value_count\n  rules: [x]\n  group-by: [h]\n  timespan: 10s\n  condition: {field: u, gte: 4}');
    const facts = Array.from({ length: 40 }, (_, i) => m('x', i * 700, { h: `h${i % 3}`, u: `u${i % 5}` }));
    const reference = run(set, facts, 2_000).out.map((o) => o.match.id);

    const engine = new CorrelationEngine(set, { allowedLatenessMs: 2_000 });
    const log = new Map<string, string>();
    const out: string[] = [];
    const save = (p: CorrelationPartition) => {
      for (const c of p.takeChanges()) {
        if (c.value === null) log.delete(c.key);
        else log.set(c.key, c.value);
      }
    };
    facts.slice(0, 17).forEach((f) => {
      engine.ingest(f);
      out.push(...engine.advance().map((o) => o.match.id));
    });
    save(engine.partition);
    const restored = new CorrelationEngine(set, { allowedLatenessMs: 2_000 });
    (restored as unknown as { currentPartition: CorrelationPartition }).currentPartition = CorrelationPartition.restore(set, { allowedLatenessMs: 2_000, watermarks: { kind: 'local' } }, log);
    facts.slice(17).forEach((f) => {
      restored.ingest(f);
      out.push(...restored.advance().map((o) => o.match.id));
    });
    out.push(...restored.flush().map((o) => o.match.id));
    expect(out).toEqual(reference);
    expect(reference.length).toBeGreaterThan(0);
  });
});

describe('hot reload of the rule set', () => {
  const count = (threshold: number, title = 'many x', id = 'c1') =>
    `title: ${title}\nid: ${id}\ncorrelation:\n  type: event_count\n  rules: [x]\n  group-by: [h]\n  timespan: 10s\n  condition: {gte: ${threshold}}\n`;
  const other = 'title: distinct u\nid: c2\ncorrelation:\n  type: value_count\n  rules: [x]\n  group-by: [h]\n  timespan: 10s\n  condition: {field: u, gte: 2}\n';
  const feed = (engine: CorrelationEngine, facts: BaseRuleMatch[]) => {
    const out = [];
    for (const f of facts) {
      engine.ingest(f);
      out.push(...engine.advance());
    }
    return out;
  };

  it('an unchanged correlation keeps its window (a title edit is no change); a new one starts empty', () => {
    const engine = new CorrelationEngine(rules(count(4)));
    const before = [m('x', 1_000, { h: 'a', u: 'u1' }), m('x', 2_000, { h: 'a', u: 'u1' })];
    expect(feed(engine, before)).toEqual([]);
    const result = engine.reload(rules(`${count(4, 'many x, renamed')}---\n${other}`));
    expect(result).toEqual({ kept: 1, dropped: 0 });
    const out = [...feed(engine, [m('x', 3_000, { h: 'a', u: 'u2' }), m('x', 4_000, { h: 'a', u: 'u2' })]), ...engine.flush()];
    const c1 = out.filter((o) => o.match.correlationId === 'c1');
    expect(c1).toHaveLength(1);
    expect(c1[0]!.match.factCount).toBe(4);
    expect(c1[0]!.match.refs).toContain(before[0]!.eventId);
    expect(c1[0]!.match.windowStart).toBe(1_000);
    // c2 is new: it saw only u2 after the reload, one distinct value, below its threshold of 2.
    expect(out.filter((o) => o.match.correlationId === 'c2')).toEqual([]);
  });

  it('a changed correlation starts fresh: facts before the reload do not count toward the new condition', () => {
    const engine = new CorrelationEngine(rules(count(4)));
    expect(feed(engine, [1_000, 2_000, 3_000].map((t) => m('x', t, { h: 'a' })))).toEqual([]);
    expect(engine.reload(rules(count(3)))).toEqual({ kept: 0, dropped: 1 });
    const after = [4_000, 5_000].map((t) => m('x', t, { h: 'a' }));
    expect([...feed(engine, after)]).toEqual([]);
    const third = m('x', 6_000, { h: 'a' });
    const out = [...feed(engine, [third]), ...engine.flush()];
    expect(out).toHaveLength(1);
    expect(out[0]!.match.factCount).toBe(3);
    expect(out[0]!.match.refs).toEqual([...after, third].map((f) => f.eventId));
  });

  it('a removed correlation drops its state and deletes its changelog keys', () => {
    const engine = new CorrelationEngine(rules(`${count(4)}---\n${other}`));
    feed(engine, [m('x', 1_000, { h: 'a', u: 'u1' })]);
    engine.partition.takeChanges();
    expect(engine.partition.groupCount()).toBe(2);
    expect(engine.reload(rules(other))).toEqual({ kept: 1, dropped: 1 });
    expect(engine.partition.groupCount()).toBe(1);
    const changes = engine.partition.takeChanges();
    expect(changes.filter((c) => c.value === null).map((c) => c.key)).toEqual(['g|c1|a']);
    // Facts of the removed correlation are no longer routed.
    expect(engine.ingest(m('x', 2_000, { h: 'b', u: 'u1' })).facts).toBe(1);
  });

  it('state written under another definition of the same id is not restored', () => {
    const engine = new CorrelationEngine(rules(count(4)));
    feed(engine, [1_000, 2_000].map((t) => m('x', t, { h: 'a' })));
    const log = new Map<string, string>();
    for (const c of engine.partition.takeChanges()) if (c.value !== null) log.set(c.key, c.value);
    const options = { allowedLatenessMs: 0, watermarks: { kind: 'local' } as const };
    expect(CorrelationPartition.restore(rules(count(4, 'retitled')), options, log).groupCount()).toBe(1);
    const changed = CorrelationPartition.restore(rules(count(3)), options, log);
    expect(changed.groupCount()).toBe(0);
    expect(changed.takeChanges().filter((c) => c.value === null).map((c) => c.key)).toEqual(['g|c1|a']);
  });

  it('fingerprints: a chained correlation changes with the correlation it refers to, not with titles', () => {
    const chain = (threshold: number, title = 'outer') =>
      rules(
        `title: inner\nid: in\nname: inner\ncorrelation:\n  type: event_count\n  rules: [x]\n  group-by: [h]\n  timespan: 10s\n  condition: {gte: ${threshold}}\n---\n` +
          `title: ${title}\nid: out\ncorrelation:\n  type: temporal\n  rules: [inner, y]\n  group-by: [h]\n  timespan: 1m\n  condition: {gte: 2}\n`,
      );
    const a = correlationFingerprints(chain(3));
    const retitled = correlationFingerprints(chain(3, 'outer, renamed'));
    const changed = correlationFingerprints(chain(4));
    expect(retitled.get('in')).toBe(a.get('in'));
    expect(retitled.get('out')).toBe(a.get('out'));
    expect(changed.get('in')).not.toBe(a.get('in'));
    expect(changed.get('out')).not.toBe(a.get('out'));
  });
});

describe('a group window whose evaluation throws', () => {
  const set = rules(
    [
      'title: brute\nid: c1\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [host]\n  timespan: 10s\n  condition: {gte: 3}',
      'title: spread\nid: c2\ncorrelation:\n  type: value_count\n  rules: [failed]\n  group-by: [user]\n  timespan: 10s\n  condition: {field: host, gte: 2}',
    ].join('\n---\n'),
  );
  const input = () => [
    ...[0, 1_000, 2_000].map((t) => m('failed', t, { host: 'a', user: 'u' })),
    ...[3_000, 4_000, 5_000].map((t) => m('failed', t, { host: 'b', user: 'u' })),
  ];

  it('costs that group only: the window is dropped and reported, the other groups and correlations still match', () => {
    const advance = GroupWindow.prototype.advance;
    const spy = vi.spyOn(GroupWindow.prototype, 'advance').mockImplementation(function (this: GroupWindow, ...args) {
      if (this.rule.id === 'c1' && this.groupKey === 'a') throw new Error('planted defect');
      return advance.apply(this, args);
    });
    try {
      const { out, engine } = run(set, input());
      expect(out.map((o) => [o.match.correlationId, o.match.groupKey, o.match.value])).toEqual([
        ['c2', 'u', 2],
        ['c1', 'b', 3],
      ]);
      // Group a's window is dropped each time it is evaluated (a later fact opens it again, and the
      // defect is still there); nothing else fails.
      const failures = engine.partition.takeFailures();
      expect(failures.length).toBeGreaterThan(0);
      for (const f of failures) expect(f).toEqual({ correlationId: 'c1', type: 'event_count', groupKey: 'a', message: 'planted defect' });
      expect(engine.partition.takeFailures()).toEqual([]);
      expect(engine.partition.stats.failures.get('event_count')).toBe(failures.length);
      expect(engine.partition.stats.failures.get('value_count')).toBeUndefined();
      // The dropped window is deleted from the changelog, not left half-evaluated.
      const changes = new Map(engine.partition.takeChanges().map((c) => [c.key, c.value]));
      expect(changes.get('g|c1|a')).toBeNull();
    } finally {
      spy.mockRestore();
    }
    // Without the defect the same input matches both hosts: the planted throw was what cost group a.
    expect(run(set, input()).out.map((o) => [o.match.correlationId, o.match.groupKey])).toEqual([
      ['c1', 'a'],
      ['c2', 'u'],
      ['c1', 'b'],
    ]);
  });

  it('keeps at most MAX_CORRELATION_FAILURES_KEPT failures until taken, counting every one', () => {
    const spy = vi.spyOn(GroupWindow.prototype, 'advance').mockImplementation(() => {
      throw new Error('always');
    });
    try {
      const many = Array.from({ length: MAX_CORRELATION_FAILURES_KEPT + 30 }, (_, i) => m('failed', i, { host: `h${i}`, user: `u${i}` }));
      const { engine } = run(set, many);
      expect(engine.partition.takeFailures()).toHaveLength(MAX_CORRELATION_FAILURES_KEPT);
      expect((engine.partition.stats.failures.get('event_count') ?? 0) + (engine.partition.stats.failures.get('value_count') ?? 0)).toBe(2 * many.length);
      expect(engine.partition.groupCount()).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});
