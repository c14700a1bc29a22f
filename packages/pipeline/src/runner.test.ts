import { silentLogger, sleep } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import { createMemoryTransport, MemoryBroker, type ConsumedBatch, type TopicPartition } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { StageRunner } from './runner.ts';
import type { Stage, StageResult } from './stage.ts';

/**
 * The runner's `afterDeliver` capability: called after a batch's outputs are in Kafka and before
 * its offsets are committed; a failure there redelivers the batch; batches never interleave with
 * it. The stage also sees its consumer's assignment.
 */
class Recording implements Stage {
  readonly name = 'recording';
  readonly inputTopics = ['in'];
  readonly outputTopics = ['out'];
  readonly log: string[] = [];
  failNext = false;
  assignment: (() => readonly TopicPartition[]) | undefined;

  constructor(private readonly broker: MemoryBroker) {}

  attachFlowControl(control: { assignment(): readonly TopicPartition[] }): void {
    this.assignment = () => control.assignment();
  }

  async process(batch: ConsumedBatch): Promise<StageResult> {
    const values = batch.messages.map((m) => m.value!.toString());
    this.log.push(`process ${values.join(',')}`);
    await sleep(5);
    return { outputs: [{ topic: 'out', messages: values.map((v) => ({ value: `out-${v}` })) }], deadLetters: [] };
  }

  async afterDeliver(): Promise<void> {
    const delivered = (this.broker.topics.get('out') ?? []).flat().length;
    const committed = this.broker.groups.get('g')?.committed.get('in\u00000');
    this.log.push(`after delivered=${delivered} committed=${committed ?? 'none'}`);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('changelog down');
    }
  }
}

describe('StageRunner afterDeliver', () => {
  it('runs after the outputs are in Kafka and before the commit; a failure redelivers the batch', async () => {
    const broker = new MemoryBroker();
    const transport = createMemoryTransport(broker);
    const admin = transport.admin();
    await admin.connect();
    await admin.ensureTopics([{ topic: 'in' }, { topic: 'out' }, { topic: 'telemetry.dlq' }]);
    const producer = transport.producer();
    await producer.connect();
    const stage = new Recording(broker);
    stage.failNext = true;
    const runner = new StageRunner({ stage, transport, producer, registry: createRegistry(), logger: silentLogger(), groupId: 'g', maxWaitMs: 10 });
    await runner.start();
    await producer.send('in', [{ value: 'a' }, { value: 'b' }]);
    const deadline = Date.now() + 10_000;
    while (stage.log.filter((l) => l.startsWith('after')).length < 2 && Date.now() < deadline) await sleep(20);
    const assigned = stage.assignment?.();
    await runner.close(2_000);
    expect(assigned).toEqual([{ topic: 'in', partition: 0 }]);
    expect(stage.log.slice(0, 4)).toEqual(['process a,b', 'after delivered=2 committed=none', 'process a,b', 'after delivered=4 committed=none']);
  });
});

describe('StageRunner dead letters', () => {
  it('logs a dead letter with the error that caused it (its stack), else one made from the reason', async () => {
    const broker = new MemoryBroker();
    const transport = createMemoryTransport(broker);
    const admin = transport.admin();
    await admin.connect();
    await admin.ensureTopics([{ topic: 'in' }, { topic: 'telemetry.dlq' }]);
    const producer = transport.producer();
    await producer.connect();
    const cause = new Error('planted decoder defect');
    const stage: Stage = {
      name: 'dlq-logging',
      inputTopics: ['in'],
      outputTopics: [],
      async process(batch: ConsumedBatch): Promise<StageResult> {
        return {
          outputs: [],
          deadLetters: batch.messages.map((message) =>
            message.value!.toString() === 'bug' ? { message, code: 'RECORD_FAILED', reason: 'normalizing failed', error: cause } : { message, code: 'PARSE_FAILED', reason: 'not JSON' },
          ),
        };
      },
    };
    const logged: { err: unknown; error_code: string }[] = [];
    const logger = silentLogger();
    logger.error = ((obj: { err: unknown; error_code: string }) => void logged.push(obj)) as typeof logger.error;
    const runner = new StageRunner({ stage, transport, producer, registry: createRegistry(), logger, groupId: 'g2', maxWaitMs: 10 });
    await runner.start();
    await producer.send('in', [{ value: 'bug' }, { value: 'junk' }]);
    const deadline = Date.now() + 10_000;
    while (logged.length < 2 && Date.now() < deadline) await sleep(20);
    await runner.close(2_000);
    expect(logged.find((l) => l.error_code === 'RECORD_FAILED')?.err).toBe(cause);
    expect((logged.find((l) => l.error_code === 'PARSE_FAILED')?.err as Error).message).toBe('not JSON');
  });
});
