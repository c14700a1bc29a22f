import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@mamori/core';
import { loadRuleDirectory } from '@mamori/sigma';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REJECTED_BASE_RULE, rejectedCorrelation, startCorrelationPipeline, type ApiDetection, type CorrelationPipeline } from './correlation-kit.ts';

/**
 * The first correlation rule of a detector that started without any takes effect without a
 * restart, and removing every correlation takes effect too (issue #4).
 *
 * The rule directory starts with the Zeek base rule only. Three rejections of attacker A are
 * processed (the base rule's own Sigma detection shows it; the correlation source stage read them
 * and moved on). A correlation (>= 3 rejections per source in 10 minutes) is added: three more
 * rejections of A raise one correlation detection counting only those three (a rule applies to the
 * events after its reload, as after a restart with it in place) and carrying the new rule set's
 * checksum. The correlation file is removed: three rejections of B would fire it, but raise only
 * the base rule's detection again.
 */
const brokers = inject('kafkaBrokers');
const BASE_RULE = 'sigma:6a1e7a52-2c1b-4f61-9a0e-00000000000a';
const CORRELATION = '6a1e7a52-2c1b-4f61-9a0e-0000000000f1';
const T0 = Date.now() - 30 * 60_000;
const A = '203.0.113.81';
const B = '203.0.113.82';

let pipeline: CorrelationPipeline;

beforeAll(async () => {
  pipeline = await startCorrelationPipeline(brokers, 'corr-first', { 'base.yml': REJECTED_BASE_RULE });
}, 180_000);

afterAll(async () => {
  await pipeline?.close();
});

const total = (found: ApiDetection[]): number => found.reduce((n, d) => n + d.count, 0);

describe('first correlation rule added to a running detector', () => {
  it('applies from its reload on, without a restart, and stops when removed', async () => {
    expect(await pipeline.metric(/^mamori_correlation_rules (\d+)/m, (v) => v === 0, 5_000)).toBe(0);
    const before = [0, 10_000, 20_000].map((d) => T0 + d);
    await pipeline.sendAt(A, before);
    // The detector saw them (the base rule reports on its own while no correlation uses it) ...
    const seen = await pipeline.waitDetections([BASE_RULE], (d) => total(d) >= 3, 45_000);
    expect(total(seen)).toBe(3);
    // ... and so did the correlation source stage, without a correlation to feed.
    await pipeline.metric(/^mamori_records_received_total\{stage="detector-correlation-source",topic="e2e\.[^"]+\.events"\} (\d+)/m, (v) => v >= 3, 30_000);

    pipeline.writeRules('corr.yml', rejectedCorrelation(CORRELATION, 'Rejections, added while running', 3));
    await pipeline.metric(/^mamori_correlation_rule_reloads_total\{result="applied"\} (\d+)/m, (v) => v >= 1, 15_000);
    expect(await pipeline.metric(/^mamori_correlation_rules (\d+)/m, (v) => v === 1, 5_000)).toBe(1);
    const checksum = loadRuleDirectory([pipeline.rulesDir]).checksum;

    const after = [60_000, 70_000, 80_000].map((d) => T0 + d);
    await pipeline.sendAt(A, after);
    const fired = await pipeline.waitDetections([CORRELATION], (d) => d.length >= 1, 60_000);
    expect(fired).toHaveLength(1);
    // Only the rejections after the reload count: the three from before it were read with no rule.
    expect(fired[0]).toMatchObject({ count: 3, ruleset_checksum: checksum });
    expect(Date.parse(fired[0]!.first_seen)).toBe(after[0]);
    expect(Date.parse(fired[0]!.last_seen)).toBe(after[2]);

    rmSync(join(pipeline.rulesDir, 'corr.yml'));
    await pipeline.metric(/^mamori_correlation_rule_reloads_total\{result="applied"\} (\d+)/m, (v) => v >= 2, 15_000);
    expect(await pipeline.metric(/^mamori_correlation_rules (\d+)/m, (v) => v === 0, 5_000)).toBe(0);
    const baseBefore = total(await pipeline.detections([BASE_RULE]));
    await pipeline.sendAt(B, [120_000, 130_000, 140_000].map((d) => T0 + d));
    // B's rejections went through the detector (the base rule reports again: no correlation uses it) ...
    const baseAfter = await pipeline.waitDetections([BASE_RULE], (d) => total(d) >= baseBefore + 3, 45_000);
    expect(total(baseAfter)).toBe(baseBefore + 3);
    // ... and, with the correlation gone, raise none (the idle windows would have closed within seconds).
    await sleep(6_000);
    expect(await pipeline.detections([CORRELATION])).toHaveLength(1);
  }, 240_000);
});
