import { DetectionCodec } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { CorrelationRouter, GroupWindow, parseCorrelationRules, type BaseRuleMatch } from '@mamori/sigma/correlation';
import type { ConsumedMessage, OutgoingMessage, Producer } from '@mamori/transport';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CorrelationStage } from './correlation-stage.ts';
import { encodeRecord } from './records.ts';

const RULES = [
  { title: 'brute', id: 'c1', correlation: { type: 'event_count', rules: ['failed'], 'group-by': ['host'], timespan: '10s', condition: { gte: 3 } } },
  { title: 'spread', id: 'c2', correlation: { type: 'value_count', rules: ['failed'], 'group-by': ['user'], timespan: '10s', condition: { field: 'host', gte: 2 } } },
];
const set = parseCorrelationRules(RULES.map((doc, index) => ({ path: 'test.yml', index, doc })));
const detectionCodec = new DetectionCodec();

function stageUnderTest() {
  const sent: { topic: string; messages: readonly OutgoingMessage[] }[] = [];
  const producer: Producer = { connect: async () => {}, close: async () => {}, send: async (topic, messages) => void sent.push({ topic, messages }) };
  const warnings: Record<string, unknown>[] = [];
  const logger = { warn: (obj: Record<string, unknown>) => void warnings.push(obj) } as never;
  const registry = createRegistry();
  const stage = new CorrelationStage({
    correlations: set,
    sourcePartitions: 1,
    partitions: 1,
    allowedLatenessMs: 0,
    eventsTopic: 'telemetry.events',
    detectionsTopic: 'detections',
    producer,
    state: { read: async () => new Map() },
    codecs: { encodeDetection: (d) => detectionCodec.encode(d) },
    registry,
    logger,
  });
  const detections = () =>
    sent
      .filter((s) => s.topic === 'detections')
      .flatMap((s) => s.messages)
      .map((m) => detectionCodec.decode(m.value as Buffer))
      .map((d) => [d.rule_id, d.entity.value]);
  return { stage, registry, warnings, detections };
}

/** Repartition records of base matches from input partition 0, then a watermark past them all. */
function batch(matches: BaseRuleMatch[]): ConsumedMessage[] {
  const router = new CorrelationRouter(set);
  const values: Buffer[] = [];
  let seq = 0;
  for (const match of matches) for (const fact of router.routeBase(match)) values.push(encodeRecord({ kind: 'fact', source: 'b:0', seq: seq++, fact }));
  values.push(encodeRecord({ kind: 'wm', source: 'b:0', time: Math.max(...matches.map((m) => m.time)) + 60_000 }));
  return values.map((value, i) => ({ topic: 'repartition', partition: 0, offset: String(i), key: null, value, headers: {}, timestamp: 0 }));
}

const input = (): BaseRuleMatch[] => [
  ...[0, 1_000, 2_000].map((t, i) => ({ ruleId: 'failed', time: t, eventId: `a${i}`, fields: { host: 'a', user: 'u' } })),
  ...[3_000, 4_000, 5_000].map((t, i) => ({ ruleId: 'failed', time: t, eventId: `b${i}`, fields: { host: 'b', user: 'u' } })),
];

describe('correlation stage: a failing group window', () => {
  afterEach(() => vi.restoreAllMocks());

  it('without a defect, both hosts and the user spread are detected', async () => {
    const { stage, detections } = stageUnderTest();
    await stage.process({ messages: batch(input()) });
    expect(detections().sort()).toEqual([
      ['c1', 'host=a'],
      ['c1', 'host=b'],
      ['c2', 'user=u'],
    ]);
  });

  it('drops only the group that throws: the batch completes, the other detections are sent, the failure is counted and logged', async () => {
    const advance = GroupWindow.prototype.advance;
    vi.spyOn(GroupWindow.prototype, 'advance').mockImplementation(function (this: GroupWindow, ...args) {
      if (this.rule.id === 'c1' && this.groupKey === 'a') throw new Error('planted defect');
      return advance.apply(this, args);
    });
    const { stage, registry, warnings, detections } = stageUnderTest();
    const result = await stage.process({ messages: batch(input()) });
    expect(detections().sort()).toEqual([
      ['c1', 'host=b'],
      ['c2', 'user=u'],
    ]);
    // The dropped window's changelog key is deleted.
    const changelog = result.outputs.flatMap((o) => o.messages);
    expect(changelog.find((m) => m.key === 'g|c1|a')?.value).toBeNull();
    expect(result.deadLetters).toEqual([]);
    expect(warnings).toEqual([{ partition: 0, correlation: 'c1', correlationType: 'event_count', group: 'a', reason: 'planted defect' }]);
    expect(await registry.metrics()).toMatch(/mamori_correlation_failures_total\{correlation_type="event_count"\} 1\n/);
  });

  it('skips a match whose detection cannot be built, and still sends the others', async () => {
    const evaluate = GroupWindow.prototype.advance;
    vi.spyOn(GroupWindow.prototype, 'advance').mockImplementation(function (this: GroupWindow, ...args) {
      const found = evaluate.apply(this, args);
      // A match no detection can be made of (a defect upstream): its window end is not a time.
      return this.rule.id === 'c2' ? found.map((m) => ({ ...m, windowEnd: Number.NaN })) : found;
    });
    const { stage, registry, warnings, detections } = stageUnderTest();
    await stage.process({ messages: batch(input()) });
    expect(detections().sort()).toEqual([
      ['c1', 'host=a'],
      ['c1', 'host=b'],
    ]);
    expect(warnings.map((w) => [w['correlation'], w['group']])).toEqual([['c2', 'u']]);
    expect(await registry.metrics()).toMatch(/mamori_correlation_failures_total\{correlation_type="value_count"\} 1\n/);
  });
});
