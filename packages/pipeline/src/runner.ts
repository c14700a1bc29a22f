import { errorCode, errorMessage, withTimeout, type Logger } from '@mamori/core';
import { stageMetrics, type Registry, type StageMetrics } from '@mamori/metrics';
import type { ConsumedBatch, Consumer, Producer, TopicPartition, Transport } from '@mamori/transport';
import { DEAD_LETTER_TOPIC, deadLetterMessage, isCutDeadLetter } from './dead-letter.ts';
import { ThrottledErrorLog } from './error-log.ts';
import type { Stage, StageResult } from './stage.ts';

export interface StageRunnerOptions {
  stage: Stage;
  transport: Transport;
  /** Shared producer (acks=all); the runner does not close it. */
  producer: Producer;
  registry: Registry;
  logger: Logger;
  /** Consumer group. @default `mamori-<stage name>` */
  groupId?: string;
  /** @default 1000 */
  maxBatchSize?: number;
  /** @default 100 */
  maxWaitMs?: number;
  /** How often `stage.tick` runs. @default 1000 */
  tickIntervalMs?: number;
  /** @default 'telemetry.dlq' */
  deadLetterTopic?: string;
  /** The dead-letter topic's `max.message.bytes`: a dead letter is cut to fit it. @default DEAD_LETTER_MAX_MESSAGE_BYTES (8 MiB) */
  deadLetterMaxBytes?: number;
  /** Consumer group session timeout: how long a member that died silently holds its partitions. @default 30000 */
  sessionTimeoutMs?: number;
}

/**
 * Optional capabilities a stage may declare (read structurally, so the Stage interface stays as is):
 * - `concurrentBatches: true`: `process` calls may overlap (batches of different partitions are
 *   processed at once). The stage does its own coordination; the writer uses it to gather rows of
 *   several Kafka batches into one ClickHouse insert while each batch waits for its insert.
 * - `attachFlowControl(control)`: receives pause/resume of the stage's consumer, for backpressure,
 *   and its current partition assignment.
 * - `afterDeliver()`: runs after the outputs and dead letters of a `process` or `tick` are
 *   acknowledged and before the input offsets are committed (state a stage writes to a changelog
 *   only once what it derived from the batch is safe). For such a stage `process`, delivery and
 *   `afterDeliver` of one batch run as one unit: batches and ticks never interleave with them.
 */
interface StageCapabilities {
  readonly concurrentBatches?: boolean;
  attachFlowControl?(control: { pause(): void; resume(): void; isPaused(): boolean; assignment(): readonly TopicPartition[] }): void;
  afterDeliver?(): Promise<void>;
}

/**
 * Runs one stage: consume a batch, process it, hand outputs and dead letters to Kafka (acks=all),
 * and only then return, so the transport commits the input offsets after the next stage holds the
 * data. A batch that fails as a whole is not committed and comes back after a back-off.
 *
 * Calls to `process` and `tick` never overlap, so stages may keep state without locks, unless the
 * stage declares `concurrentBatches` (see {@link StageCapabilities}).
 */
export class StageRunner {
  private consumer: Consumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly metrics: StageMetrics;
  private readonly errors: ThrottledErrorLog;
  private started = false;
  private closed = false;
  private readonly dlqTopic: string;

  constructor(private readonly options: StageRunnerOptions) {
    this.metrics = stageMetrics(options.registry);
    this.errors = new ThrottledErrorLog(options.logger);
    this.dlqTopic = options.deadLetterTopic ?? DEAD_LETTER_TOPIC;
  }

  get name(): string {
    return this.options.stage.name;
  }

  /** The consumer group this runner's stage consumes in. */
  get groupId(): string {
    return this.options.groupId ?? `mamori-${this.options.stage.name}`;
  }

  async start(): Promise<void> {
    const { stage, transport } = this.options;
    this.consumer = transport.consumer({
      groupId: this.groupId,
      topics: stage.inputTopics,
      clientId: `mamori-${stage.name}`,
      maxBatchSize: this.options.maxBatchSize ?? 1000,
      maxWaitMs: this.options.maxWaitMs ?? 100,
      fromBeginning: true,
      ...(this.options.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: this.options.sessionTimeoutMs } : {}),
    });
    await this.consumer.connect();
    const consumer = this.consumer;
    (stage as Stage & StageCapabilities).attachFlowControl?.({
      pause: () => consumer.pause(),
      resume: () => consumer.resume(),
      isPaused: () => consumer.isPaused(),
      assignment: () => consumer.assignment(),
    });
    await this.consumer.run((batch) => this.handle(batch));
    if (stage.tick) {
      const interval = this.options.tickIntervalMs ?? 1000;
      this.timer = setInterval(() => {
        void this.runTick(false);
      }, interval);
      this.timer.unref();
    }
    this.started = true;
  }

  /** True once consuming; used by /readyz. */
  isReady(): boolean {
    return this.started && !this.closed;
  }

  /**
   * Stops consuming, lets the batch in flight finish and commit, runs a final tick so time-driven
   * output is not lost, then closes the stage. Bounded by `timeoutMs`.
   */
  async close(timeoutMs = 30_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    await this.consumer?.close(timeoutMs);
    if (this.options.stage.tick) {
      await withTimeout(this.runTick(true), Math.max(1000, deadline - Date.now()), `${this.name}: final flush timed out`).catch(
        (error: unknown) => this.errors.error({ stage: this.name }, error, 'final flush failed'),
      );
    }
    await this.options.stage.close?.();
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async handle(batch: ConsumedBatch): Promise<void> {
    const { stage } = this.options;
    const started = process.hrtime.bigint();
    for (const message of batch.messages) {
      this.metrics.received.inc({ stage: stage.name, topic: message.topic });
      if (message.value) this.metrics.receivedBytes.inc({ stage: stage.name, topic: message.topic }, message.value.length);
    }
    this.metrics.batchSize.observe({ stage: stage.name }, batch.messages.length);
    try {
      const capable = stage as Stage & StageCapabilities;
      if (capable.afterDeliver) {
        await this.serialize(async () => {
          await this.deliver(await stage.process(batch));
          await capable.afterDeliver!();
        });
      } else {
        const result = await (capable.concurrentBatches === true ? stage.process(batch) : this.serialize(() => stage.process(batch)));
        await this.deliver(result);
      }
    } catch (error) {
      this.metrics.batchFailures.inc({ stage: stage.name, error_code: errorCode(error) });
      this.errors.error({ stage: stage.name, records: batch.messages.length }, error, `batch failed, will be redelivered: ${errorMessage(error)}`);
      throw error;
    }
    this.metrics.batchDuration.observe({ stage: stage.name }, Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async runTick(final: boolean): Promise<void> {
    const tick = this.options.stage.tick;
    if (!tick) return;
    try {
      await this.serialize(async () => {
        const result = await tick.call(this.options.stage, Date.now(), final);
        await this.deliver(result);
        await (this.options.stage as Stage & StageCapabilities).afterDeliver?.();
      });
    } catch (error) {
      this.metrics.batchFailures.inc({ stage: this.name, error_code: errorCode(error) });
      this.errors.error({ stage: this.name }, error, 'tick failed, will retry');
    }
  }

  /** Sends outputs and dead letters; resolves when Kafka holds all of them. */
  private async deliver(result: StageResult): Promise<void> {
    const { stage, producer } = this.options;
    const sends: Promise<void>[] = [];
    for (const output of result.outputs) {
      if (output.messages.length === 0) continue;
      sends.push(producer.send(output.topic, output.messages));
    }
    let cut = 0;
    if (result.deadLetters.length > 0) {
      const now = Date.now();
      const letters = result.deadLetters.map((letter) => deadLetterMessage(stage.name, letter, now, this.options.deadLetterMaxBytes));
      for (const m of letters) if (isCutDeadLetter(m)) cut++;
      sends.push(producer.send(this.dlqTopic, letters));
    }
    await Promise.all(sends);
    if (cut > 0) {
      this.metrics.deadLettersCut.inc({ stage: stage.name }, cut);
      this.options.logger.warn({ stage: stage.name, cut, dlqMaxBytes: this.options.deadLetterMaxBytes }, 'dead letters cut to fit the dead-letter topic (original length and SHA-256 in their headers)');
    }
    for (const output of result.outputs) this.metrics.emitted.inc({ stage: stage.name, topic: output.topic }, output.messages.length);
    for (const sunk of result.sunk ?? []) this.metrics.emitted.inc({ stage: stage.name, topic: sunk.target }, sunk.count);
    for (const letter of result.deadLetters) {
      this.metrics.deadLettered.inc({ stage: stage.name, topic: letter.message.topic, error_code: letter.code });
      this.errors.error({ stage: stage.name, topic: letter.message.topic, partition: letter.message.partition, offset: letter.message.offset }, letter.error ?? new Error(letter.reason), 'record dead-lettered', letter.code);
    }
  }
}
