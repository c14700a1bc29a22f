import { sleep } from '@mamori/core';
import type { ConsumedMessage, Transport } from '@mamori/transport';

/**
 * Every record of `topic` from the beginning, read by a fresh consumer group until `count` have
 * arrived (at most `timeoutMs`), then `settleMs` more, so that records beyond the expected count show.
 */
export async function readTopic(transport: Transport, topic: string, count: number, options: { timeoutMs?: number; settleMs?: number } = {}): Promise<ConsumedMessage[]> {
  const out: ConsumedMessage[] = [];
  const consumer = transport.consumer({ groupId: `read-${topic}-${Date.now()}-${Math.random().toString(36).slice(2)}`, topics: [topic], fromBeginning: true, maxWaitMs: 100 });
  await consumer.connect();
  await consumer.run(async (batch) => {
    out.push(...batch.messages);
  });
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (out.length < count && Date.now() < deadline) await sleep(100);
  await sleep(options.settleMs ?? 500);
  await consumer.close();
  return out;
}

/** The sum of a metric's values whose labels include `labels`, from `registry.getMetricsAsJSON()`. */
export function metricValue(
  metrics: readonly { name: string; values: readonly { labels: Partial<Record<string, string | number>>; value: number }[] }[],
  name: string,
  labels: Record<string, string>,
): number {
  return (metrics.find((m) => m.name === name)?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Deletes a test's topics, best effort (after the test; a broker already gone is not an error). */
export async function dropTopics(transport: Transport | undefined, topics: readonly string[]): Promise<void> {
  const admin = transport?.admin();
  if (admin === undefined) return;
  await admin.connect();
  await admin.deleteTopics([...topics]).catch(() => undefined);
  await admin.close();
}
