import { sleep } from '@mamori/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCorrelationPipeline, type ApiDetection, type ConnSpec, type CorrelationPipeline } from './correlation-kit.ts';

/**
 * Sigma correlations in the real pipeline: a rule pack with a Zeek conn base rule (rejected
 * connections) and an event_count correlation (>= 10 from one source within 5 minutes) goes into
 * DETECTOR_RULES_DIRS; raw Zeek conn lines go through real Kafka, the normalizer, the detector's
 * correlation stages (repartition and changelog topics created at start-up) and the writer into
 * chDB, and the detection comes back from the API. Only some events partitions receive events:
 * the idleness timeout is what lets the windows close when input stops.
 */
const BASE_ID = '5d1e7a52-2c1b-4f61-9a0e-000000000001';
const CORRELATION_ID = '5d1e7a52-2c1b-4f61-9a0e-000000000002';
const T0 = Date.now() - 20 * 60_000;
const ATTACKER = '203.0.113.50';
const BELOW = '203.0.113.60';

const RULES = `title: Rejected connection attempt
id: ${BASE_ID}
name: rejected_connection
status: test
logsource:
  product: zeek
  service: conn
detection:
  selection:
    conn_state: REJ
  condition: selection
level: low
---
title: Many rejected connections from one source
id: ${CORRELATION_ID}
correlation:
  type: event_count
  rules:
    - rejected_connection
  group-by:
    - org_id
    - id.orig_h
  timespan: 5m
  condition:
    gte: 10
level: high
`;

let pipeline: CorrelationPipeline;
const attackerTimes: number[] = [];

beforeAll(async () => {
  pipeline = await startCorrelationPipeline(inject('kafkaBrokers'), 'corr', { 'rejected.yml': RULES }, { partitions: 3, env: { DETECTOR_CORRELATION_IDLE_SOURCE_MS: '2000' } });
  const conns: ConnSpec[] = [];
  // Ordinary traffic from a few hosts, one lone rejection among it.
  for (let i = 0; i < 60; i++) conns.push({ ts: T0 + i * 5_000, src: `10.0.0.${(i % 4) + 10}`, dst: '198.51.100.7', port: 443, state: i === 30 ? 'REJ' : 'SF' });
  // The attacker: 12 rejected connections to SSH within 2 minutes.
  for (let i = 0; i < 12; i++) {
    attackerTimes.push(T0 + 60_000 + i * 10_000);
    conns.push({ ts: T0 + 60_000 + i * 10_000, src: ATTACKER, dst: '10.0.0.5', port: 22, state: 'REJ' });
  }
  // Below the threshold: 9 rejections within 5 minutes.
  for (let i = 0; i < 9; i++) conns.push({ ts: T0 + 90_000 + i * 20_000, src: BELOW, dst: '10.0.0.5', port: 22, state: 'REJ' });
  conns.sort((a, b) => a.ts - b.ts);
  await pipeline.sendConns(conns);
}, 180_000);

afterAll(async () => pipeline?.close());

describe('Sigma correlation in the running pipeline', () => {
  it('reports the source over the threshold once, with its group and count, and nothing for the source below it', async () => {
    await pipeline.waitDetections([CORRELATION_ID], (found) => found.length > 0, 120_000);
    // Give a wrongly reported below-threshold group the time to show up too.
    await sleep(4000);
    const found: ApiDetection[] = await pipeline.detections([CORRELATION_ID]);
    expect(found).toHaveLength(1);
    const d = found[0]!;
    expect(d.attributes['group.id.orig_h']).toBe(ATTACKER);
    expect(d.attributes['group.org_id']).toBe('default');
    expect(d.attributes['correlation_type']).toBe('event_count');
    expect(d.org_id).toBe('default');
    // Sliding window: the correlation fires at the fact that reaches the threshold (the 10th),
    // and the group stays quiet for a timespan after it: one detection for the burst.
    expect(d.count).toBe(10);
    expect(d.attributes['value']).toBe('10');
    expect(Date.parse(d.first_seen)).toBe(attackerTimes[0]);
    expect(Date.parse(d.last_seen)).toBe(attackerTimes[9]);
    expect(JSON.stringify(found)).not.toContain(BELOW);
    // The base rule only feeds the correlation (no `generate: true`): no stand-alone Sigma detections.
    expect(await pipeline.detections([`sigma:${BASE_ID}`])).toEqual([]);
  }, 150_000);

  it('exposes the correlation metrics on the shared registry', async () => {
    const text = await pipeline.running.registry.metrics();
    expect(text).toMatch(/mamori_correlation_matches_total\{correlation_type="event_count"\} 1/);
    expect(text).toContain('mamori_correlation_open_windows');
  });
});
