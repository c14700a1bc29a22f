import { createMemoryTransport, MemoryBroker } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { AnalyticsChangelog, MAX_RECORD_BYTES } from './analytics-changelog.ts';

/**
 * The changelog's record protocol on the in-memory transport: snapshots restore to their latest
 * complete state, large entities are chunked under the record limit and reassembled, an incomplete
 * snapshot at the end of a partition is ignored and repaired, and another events topic's state is
 * never restored.
 */
async function setup(scope = 'events'): Promise<{ broker: MemoryBroker; changelog: AnalyticsChangelog; fresh: (scope?: string) => Promise<AnalyticsChangelog> }> {
  const broker = new MemoryBroker();
  const transport = createMemoryTransport(broker);
  const admin = transport.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: 'events', partitions: 2 }, { topic: 'other-events', partitions: 2 }]);
  const producer = transport.producer();
  await producer.connect();
  const make = async (s = scope): Promise<AnalyticsChangelog> => {
    const c = new AnalyticsChangelog({ transport, producer, topic: 'state', groupPrefix: 'test', restoreTimeoutMs: 5_000 });
    await c.ensureTopicFor(s);
    return c;
  };
  return { broker, changelog: await make(), fresh: make };
}

describe('AnalyticsChangelog', () => {
  it('restores the latest complete value of every entity, in activity order, with the partition meta', async () => {
    const { changelog, fresh } = await setup();
    const wide = new Map<string, number>();
    await changelog.write(1, [{ ruleId: 'r1', changes: [{ key: 'a', order: 1, value: { n: 1 } }, { key: 'b', order: 2, value: { n: 2 } }] }], { applied: '9', maxEventTime: 1000 }, wide);
    await changelog.write(1, [{ ruleId: 'r1', changes: [{ key: 'a', order: 3, value: { n: 11 } }, { key: 'b', order: 2, value: null }] }, { ruleId: 'r2', changes: [{ key: 'c', order: 1, value: [1, 2] }] }], { applied: '19', maxEventTime: 2000 }, wide);
    const restored = (await (await fresh()).restore([0, 1])).get(1)!;
    expect(restored.meta).toEqual({ applied: '19', maxEventTime: 2000 });
    expect(restored.entities).toEqual([
      { ruleId: 'r2', key: 'c', order: 1, value: [1, 2] },
      { ruleId: 'r1', key: 'a', order: 3, value: { n: 11 } },
    ]);
    expect(restored.repair).toEqual([]);
    const empty = (await (await fresh()).restore([0])).get(0)!;
    expect(empty).toMatchObject({ meta: undefined, entities: [] });
  });

  it('splits a state larger than a record into chunks, reassembles it, and deletes chunks it no longer needs', async () => {
    const { broker, changelog, fresh } = await setup();
    const big = { probes: Array.from({ length: 40_000 }, (_, i) => [i, `10.0.${i % 250}.${i % 200}`, i % 65_535]) };
    expect(JSON.stringify(big).length).toBeGreaterThan(2 * MAX_RECORD_BYTES);
    const wide = new Map<string, number>();
    await changelog.write(0, [{ ruleId: 'r', changes: [{ key: 'big', order: 5, value: big }] }], { applied: '1', maxEventTime: 0 }, wide);
    const chunks = wide.get('e|events|r|big')!;
    expect(chunks).toBeGreaterThan(2);
    for (const record of (broker.topics.get('state')?.[0] ?? [])) expect((record.value?.length ?? 0) + (record.key?.length ?? 0)).toBeLessThan(MAX_RECORD_BYTES);
    const restored = (await (await fresh()).restore([0])).get(0)!;
    expect(restored.entities).toEqual([{ ruleId: 'r', key: 'big', order: 5, value: big }]);
    expect(restored.wide.get('e|events|r|big')).toBe(chunks);
    // Shrinks to one record: the extra chunks are deleted in the same snapshot.
    await changelog.write(0, [{ ruleId: 'r', changes: [{ key: 'big', order: 6, value: { small: true } }] }], { applied: '2', maxEventTime: 0 }, wide);
    const deletes = (broker.topics.get('state')?.[0] ?? []).filter((r) => r.value === null).map((r) => r.key?.toString());
    expect(deletes).toEqual(Array.from({ length: chunks - 1 }, (_, i) => `c|${i + 1}|e|events|r|big`));
    expect((await (await fresh()).restore([0])).get(0)!.entities).toEqual([{ ruleId: 'r', key: 'big', order: 6, value: { small: true } }]);
  });

  it('ignores an incomplete snapshot at the end of a partition and repairs its keys', async () => {
    const { changelog, fresh } = await setup();
    const wide = new Map<string, number>();
    await changelog.write(0, [{ ruleId: 'r', changes: [{ key: 'a', order: 1, value: 'old' }] }], { applied: '4', maxEventTime: 10 }, wide);
    // A writer that died after its entity records, before its meta record.
    await changelog.send([
      { key: 'e|events|r|a', value: '{"o":2,"v":"new"}', partition: 0 },
      { key: 'e|events|r|b', value: '{"o":3,"v":"born"}', partition: 0 },
    ]);
    const restored = (await (await fresh()).restore([0])).get(0)!;
    expect(restored.meta).toEqual({ applied: '4', maxEventTime: 10 });
    expect(restored.entities).toEqual([{ ruleId: 'r', key: 'a', order: 1, value: 'old' }]);
    expect(restored.repair).toEqual([
      { key: 'e|events|r|a', value: '{"o":1,"v":"old"}', partition: 0 },
      { key: 'e|events|r|b', value: null, partition: 0 },
    ]);
    // After the repair the latest record of every key is the complete value again.
    const next = await fresh();
    await next.send(restored.repair);
    const again = (await (await fresh()).restore([0])).get(0)!;
    expect(again.entities).toEqual([{ ruleId: 'r', key: 'a', order: 1, value: 'old' }]);
  });

  it('never restores the state of another events topic, and drops unreadable entities with a repair', async () => {
    const { changelog, fresh } = await setup();
    await changelog.write(0, [{ ruleId: 'r', changes: [{ key: 'a', order: 1, value: 1 }] }], { applied: '4', maxEventTime: 10 }, new Map());
    const other = (await (await fresh('other-events')).restore([0])).get(0)!;
    expect(other).toMatchObject({ meta: undefined, entities: [], repair: [] });
    await changelog.send([{ key: 'e|events|r|bad', value: 'not json', partition: 0 }]);
    await changelog.write(0, [], { applied: '5', maxEventTime: 10 }, new Map());
    const reader = await fresh();
    const restored = (await reader.restore([0])).get(0)!;
    expect(restored.dropped).toBe(1);
    expect(restored.repair).toEqual([{ key: 'e|events|r|bad', value: null, partition: 0 }]);
    expect(reader.stats.dropped).toBe(1);
  });
});
