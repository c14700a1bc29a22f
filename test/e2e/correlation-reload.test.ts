import { loadRuleDirectory } from '@mamori/sigma';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REJECTED_BASE_RULE, rejectedCorrelation, startCorrelationPipeline, type ApiDetection, type CorrelationPipeline } from './correlation-kit.ts';

/**
 * Correlation rules hot-reload while the pipeline runs: the rule file is edited between two
 * bursts of the same attacker, with no restart.
 *
 * Before the edit: "keep" (>= 6 rejections in 10 minutes) and "change" (>= 10) each hold 4 facts,
 * below their thresholds. The edit leaves "keep" as it was and lowers "change" to >= 3. After
 * it, 3 more rejections arrive: "keep" fires with all 7... at its 6th fact, counting the 4 from
 * before the edit (its window survived); "change" fires at the 3rd new fact with only the new ones
 * (a changed correlation starts fresh). Both detections carry the checksum of the edited rule set.
 * Then a broken file is dropped in: the reload is rejected and the edited set stays active.
 */
const brokers = inject('kafkaBrokers');
const KEEP = '6a1e7a52-2c1b-4f61-9a0e-00000000000b';
const CHANGE = '6a1e7a52-2c1b-4f61-9a0e-00000000000c';
const T0 = Date.now() - 20 * 60_000;
const ATTACKER = '203.0.113.77';
const rules = (changeThreshold: number) =>
  `${REJECTED_BASE_RULE}---\n${rejectedCorrelation(KEEP, 'Rejections, unchanged rule', 6)}---\n${rejectedCorrelation(CHANGE, 'Rejections, edited rule', changeThreshold)}`;

let pipeline: CorrelationPipeline;
const sendAt = (times: number[]) => pipeline.sendAt(ATTACKER, times);
const metric = (pattern: RegExp, predicate: (value: number) => boolean, timeoutMs: number) => pipeline.metric(pattern, predicate, timeoutMs);
const apiDetections = () => pipeline.detections([KEEP, CHANGE]);

beforeAll(async () => {
  pipeline = await startCorrelationPipeline(brokers, 'corr-reload', { 'rejected.yml': rules(10) });
}, 180_000);

afterAll(async () => {
  await pipeline?.close();
});

describe('correlation rules edited while the detector runs', () => {
  it('keeps the unchanged correlation window, restarts the edited one, stamps the new checksum, rejects a broken file', async () => {
    const before = [0, 10_000, 20_000, 30_000].map((d) => T0 + d);
    await sendAt(before);
    // Both correlations hold the 4 facts (admitted into their windows once the idle sources let the watermark pass).
    await metric(/^mamori_correlation_state_facts (\d+)/m, (v) => v >= 8, 45_000);
    expect(await apiDetections()).toEqual([]);

    pipeline.writeRules('rejected.yml', rules(3));
    const expectedChecksum = loadRuleDirectory([pipeline.rulesDir]).checksum;
    await metric(/^mamori_correlation_rule_reloads_total\{result="applied"\} (\d+)/m, (v) => v >= 1, 15_000);

    const after = [40_000, 50_000, 60_000].map((d) => T0 + d);
    await sendAt(after);
    const found: ApiDetection[] = await pipeline.waitDetections([KEEP, CHANGE], (d) => d.length >= 2, 45_000);
    const keep = found.filter((d) => d.rule_id === KEEP);
    const change = found.filter((d) => d.rule_id === CHANGE);
    expect(keep).toHaveLength(1);
    expect(change).toHaveLength(1);
    // Unchanged: the window from before the edit survived (6 facts from the first one).
    expect(keep[0]).toMatchObject({ count: 6, ruleset_checksum: expectedChecksum });
    expect(Date.parse(keep[0]!.first_seen)).toBe(before[0]);
    expect(Date.parse(keep[0]!.last_seen)).toBe(after[1]);
    // Edited: started fresh, 3 facts after the edit only.
    expect(change[0]).toMatchObject({ count: 3, ruleset_checksum: expectedChecksum });
    expect(Date.parse(change[0]!.first_seen)).toBe(after[0]);
    expect(Date.parse(change[0]!.last_seen)).toBe(after[2]);

    // The stage kept one group window (keep) and dropped one (change) at the swap.
    expect(await metric(/^mamori_correlation_reload_windows_total\{outcome="kept"\} (\d+)/m, (v) => v >= 1, 1_000)).toBe(1);
    expect(await metric(/^mamori_correlation_reload_windows_total\{outcome="dropped"\} (\d+)/m, (v) => v >= 1, 1_000)).toBe(1);

    // A file that does not compile: rejected, counted; the edited set stays active.
    pipeline.writeRules('broken.yml', rejectedCorrelation('6a1e7a52-2c1b-4f61-9a0e-00000000000d', 'Broken', 2).replace('rejected_connection', 'no_such_rule'));
    await metric(/^mamori_correlation_rule_reloads_total\{result="rejected"\} (\d+)/m, (v) => v >= 1, 15_000);
    expect(await metric(/^mamori_correlation_rules (\d+)/m, (v) => v === 2, 1_000)).toBe(2);
  }, 150_000);
});
