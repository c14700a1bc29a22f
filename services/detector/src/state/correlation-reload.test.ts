import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCorrelationRules, type CorrelationSet, type KeyedFact } from '@mamori/sigma/correlation';
import type { ConsumedMessage, Producer } from '@mamori/transport';
import { afterAll, describe, expect, it } from 'vitest';
import { CorrelationRulePacks, loadCorrelations, type CorrelationReloadReport } from '../correlation.ts';
import type { CorrelationStage } from './correlation-stage.ts';
import { recordingProducer, repartitionMessages, testStage } from './correlation-test-kit.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

const BASE = { path: 'r.yml', doc: { title: 'base', id: 'b1', name: 'failed', logsource: {}, detection: {} } };
const corr = (id: string, gte: number, title = `count ${id}`) => ({
  path: 'r.yml',
  doc: { title, id, correlation: { type: 'event_count', rules: ['failed'], 'group-by': ['src_ip'], timespan: '5m', condition: { gte } } },
});
const set = (...docs: ReturnType<typeof corr>[]): CorrelationSet => parseCorrelationRules([BASE, ...docs]);

function stage(producer: Producer, correlations: CorrelationSet): CorrelationStage {
  return testStage({ correlations, sourcePartitions: 1, allowedLatenessMs: 0, producer, rulesetChecksum: 'sum-1' });
}

const message = repartitionMessages();
let seq = 0;
/** One base fact per correlation (what the source stage sends), then the source's watermark. */
function facts(correlationIds: string[], src: string, times: number[]): ConsumedMessage[] {
  const out: ConsumedMessage[] = [];
  for (const time of times) {
    for (const correlationId of correlationIds) {
      const f: KeyedFact = { correlationId, groupKey: encodeURIComponent(src), groupValues: [src], time, ruleIndex: 0, ref: `ev-${time}` };
      out.push(message({ kind: 'fact', source: 'b:0', seq: ++seq, fact: f }));
    }
  }
  out.push(message({ kind: 'wm', source: 'b:0', time: Math.max(...times) + 1 }));
  return out;
}

describe('correlation stage: hot reload of the rule set', () => {
  it('keeps unchanged windows, restarts changed ones, drops removed ones, and stamps the new checksum', async () => {
    const producer = recordingProducer();
    const s = stage(producer, set(corr('keep', 4), corr('change', 4), corr('remove', 2, 'removed later')));
    // 1 fact each: below every threshold but "remove" needs 2.
    await s.process({ messages: facts(['keep', 'change', 'remove'], '10.0.0.9', [T0]) });
    expect(producer.detections).toEqual([]);

    s.reload(set(corr('keep', 4, 'retitled: still the same definition'), corr('change', 3)), 'sum-2');
    // Before the next batch the old set is still active.
    expect(s.correlations.rules.map((r) => r.id).sort()).toEqual(['change', 'keep', 'remove']);
    // A fact for the removed correlation (from a source stage not yet reloaded) is ignored.
    const result = await s.process({ messages: facts(['keep', 'change', 'remove'], '10.0.0.9', [T0 + 1_000, T0 + 2_000]) });
    expect(s.reloadStats).toEqual({ reloads: 1, kept: 1, dropped: 2 });
    // The dropped groups are deleted from the changelog.
    const written = result.outputs[0]!.messages;
    expect(written.filter((m) => m.value === null).map((m) => m.key)).toEqual(['g|remove|10.0.0.9']);
    // "change" is written again with only the facts after the reload (its old window is gone).
    const changed = JSON.parse(String(written.find((m) => m.key === 'g|change|10.0.0.9')!.value)) as { w: { id: string }[]; p: { id: string }[] };
    expect([...changed.w, ...changed.p].map((f) => f.id).sort()).toEqual([`ev-${T0 + 1_000}`, `ev-${T0 + 2_000}`]);
    // "change" (gte 3) saw only the 2 facts after the reload: nothing yet.
    expect(producer.detections).toEqual([]);

    await s.process({ messages: facts(['keep', 'change'], '10.0.0.9', [T0 + 3_000]) });
    const byRule = new Map(producer.detections.map((d) => [d.rule_id, d]));
    // "keep" counts the fact from before the reload: 4 facts from T0.
    expect(byRule.get('keep')).toMatchObject({ count: 4, first_seen: T0, last_seen: T0 + 3_000, ruleset_checksum: 'sum-2' });
    // "change" started fresh: 3 facts from the first one after the reload.
    expect(byRule.get('change')).toMatchObject({ count: 3, first_seen: T0 + 1_000, ruleset_checksum: 'sum-2' });
    expect(byRule.has('remove')).toBe(false);
  });
});

describe('CorrelationRulePacks: reload from the rule directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-corr-reload-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = `title: Rejected connection
id: 0c6d4d7e-0000-4000-8000-00000000000a
name: rejected_conn
status: test
logsource: {product: zeek, service: conn}
detection:
  sel: {conn_state: REJ}
  condition: sel
level: low
`;
  const correlation = (gte: number, rules = 'rejected_conn') => `title: Many rejected connections
id: 0c6d4d7e-0000-4000-8000-00000000000b
correlation:
  type: event_count
  rules: [${rules}]
  group-by: [id.orig_h]
  timespan: 5m
  condition: {gte: ${gte}}
level: high
`;

  it('applies a changed correlation, keeps the previous set when a file breaks, and reports file and reason', () => {
    writeFileSync(join(dir, 'base.yml'), base);
    writeFileSync(join(dir, 'corr.yml'), correlation(10));
    const reports: CorrelationReloadReport[] = [];
    const initial = loadCorrelations([dir])!;
    const packs = new CorrelationRulePacks([dir], initial, (r) => reports.push(r));
    const applied: string[] = [];
    packs.subscribe((next) => applied.push(next.loaded.checksum));

    expect(packs.reload().result).toBe('unchanged');
    expect(applied).toEqual([]);

    writeFileSync(join(dir, 'corr.yml'), correlation(3));
    const ok = packs.reload();
    expect(ok.result).toBe('applied');
    expect(ok.checksum).not.toBe(initial.loaded.checksum);
    expect(applied).toEqual([ok.checksum]);
    expect(packs.current.set.rules[0]!.condition.tests).toEqual([{ op: 'gte', value: 3 }]);

    // A correlation naming a rule that no pack defines: rejected, the previous set stays. (Paths
    // are shown relative to the pack directory when there is one, as the Sigma loader reports them.)
    writeFileSync(join(dir, 'corr.yml'), correlation(5, 'no_such_rule'));
    const unresolved = packs.reload();
    expect(unresolved).toMatchObject({ result: 'rejected', checksum: ok.checksum, correlations: 1 });
    expect(unresolved.problems[0]).toMatchObject({ path: 'corr.yml', code: 'SIGMA_CORRELATION_UNRESOLVED' });
    expect(unresolved.problems[0]!.reason).toContain('no_such_rule');
    expect(packs.current.loaded.checksum).toBe(ok.checksum);

    // Invalid YAML in another file: rejected with that file's path.
    writeFileSync(join(dir, 'corr.yml'), correlation(5));
    writeFileSync(join(dir, 'broken.yml'), 'title: [unclosed\n');
    const broken = packs.reload();
    expect(broken.result).toBe('rejected');
    expect(broken.problems.map((p) => p.path)).toContain('broken.yml');
    expect(packs.current.loaded.checksum).toBe(ok.checksum);
    expect(applied).toHaveLength(1);

    rmSync(join(dir, 'broken.yml'));
    expect(packs.reload().result).toBe('applied');
    expect(packs.current.set.rules[0]!.condition.tests).toEqual([{ op: 'gte', value: 5 }]);
    expect(packs.reloads).toEqual({ applied: 2, unchanged: 1, rejected: 2 });
    expect(reports.map((r) => r.result)).toEqual(['unchanged', 'applied', 'rejected', 'rejected', 'applied']);
  });

  it('removing every correlation is a valid reload (an empty set)', () => {
    const d = mkdtempSync(join(tmpdir(), 'mamori-corr-reload-empty-'));
    try {
      writeFileSync(join(d, 'base.yml'), base);
      writeFileSync(join(d, 'corr.yml'), correlation(3));
      const packs = new CorrelationRulePacks([d], loadCorrelations([d])!);
      rmSync(join(d, 'corr.yml'));
      expect(packs.reload()).toMatchObject({ result: 'applied', correlations: 0 });
      expect(packs.current.set.rules).toEqual([]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
