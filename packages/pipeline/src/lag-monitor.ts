import { errorMessage, type Logger } from '@mamori/core';
import { Gauge, type Registry } from '@mamori/metrics';
import type { Admin } from '@mamori/transport';

export interface LagSubject {
  stage: string;
  groupId: string;
  topics: readonly string[];
}

export interface LagMonitorOptions {
  admin: Admin;
  registry: Registry;
  subjects: readonly LagSubject[];
  logger: Logger;
  /** @default 15000 */
  intervalMs?: number;
}

/**
 * Consumer lag per stage, topic and partition: the log end offset minus the group's committed
 * offset, read with the admin client on an interval (so it also shows a stage that has stopped).
 * Partition labels are bounded by the topics' partition counts.
 */
export class LagMonitor {
  private readonly lag: Gauge<'stage' | 'topic' | 'partition'>;
  private readonly sampled: Gauge<'stage'>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(private readonly options: LagMonitorOptions) {
    const registers = [options.registry];
    this.lag = new Gauge({
      name: 'mamori_consumer_lag_records',
      help: 'Records in a stage input topic partition not yet committed by the stage (log end offset minus committed offset).',
      labelNames: ['stage', 'topic', 'partition'],
      registers,
    });
    this.sampled = new Gauge({
      name: 'mamori_consumer_lag_sampled_timestamp_seconds',
      help: 'When consumer lag was last read successfully.',
      labelNames: ['stage'],
      registers,
    });
  }

  async start(): Promise<void> {
    await this.options.admin.connect();
    await this.sample();
    this.timer = setInterval(() => {
      this.running ??= this.sample().finally(() => {
        this.running = undefined;
      });
    }, this.options.intervalMs ?? 15_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.options.admin.close();
  }

  /** Reads every subject's lag once. Failures are logged once per streak, never thrown. */
  async sample(): Promise<void> {
    try {
      for (const subject of this.options.subjects) {
        for (const topic of subject.topics) {
          const [end, committed] = await Promise.all([this.options.admin.endOffsets(topic), this.options.admin.committedOffsets(subject.groupId, topic)]);
          for (const e of end) {
            const c = committed.find((x) => x.partition === e.partition);
            const committedOffset = c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : 0n;
            const lag = BigInt(e.offset) - committedOffset;
            this.lag.set({ stage: subject.stage, topic, partition: String(e.partition) }, Number(lag > 0n ? lag : 0n));
          }
        }
        this.sampled.set({ stage: subject.stage }, Date.now() / 1000);
      }
      this.failures = 0;
    } catch (error) {
      if (this.failures === 0) this.options.logger.warn({ err: error, error_code: 'LAG_SAMPLE_FAILED' }, `reading consumer lag failed: ${errorMessage(error)}`);
      this.failures += 1;
    }
  }
}
