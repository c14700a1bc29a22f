import type { OutgoingMessage, Producer } from '@mamori/transport';

export interface BatcherOptions {
  /** Records per send. @default 1000 */
  maxBatchRecords?: number;
  /** Value bytes per send. @default 1048576 */
  maxBatchBytes?: number;
  /** Longest a record waits for its batch to fill. @default 20 */
  lingerMs?: number;
  /** Above this many bytes queued or unacknowledged, `overLimit` is true. @default 33554432 */
  maxQueueBytes?: number;
}

interface Entry {
  topic: string;
  message: OutgoingMessage;
  bytes: number;
}

/**
 * Batches records for the producer with size and time bounds, one send at a time, and tells its
 * callers when too many bytes are queued or unacknowledged (they stop reading or drop). Records of
 * a failed send are reported to `onFailed` and not retried: the adapters already retried.
 */
export class RecordBatcher {
  private queue: Entry[] = [];
  private queuedBytes = 0;
  private inflightBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private readonly belowLimit = new Set<() => void>();
  private readonly options: Required<BatcherOptions>;

  constructor(
    private readonly producer: Producer,
    options: BatcherOptions,
    private readonly onSent: (entries: readonly { topic: string; message: OutgoingMessage }[]) => void,
    private readonly onFailed: (error: unknown, entries: readonly { topic: string; message: OutgoingMessage }[]) => void,
  ) {
    this.options = { maxBatchRecords: 1000, maxBatchBytes: 1024 * 1024, lingerMs: 20, maxQueueBytes: 32 * 1024 * 1024, ...options };
  }

  /** Bytes queued plus bytes sent and not yet acknowledged. */
  get pendingBytes(): number {
    return this.queuedBytes + this.inflightBytes;
  }

  get overLimit(): boolean {
    return this.pendingBytes > this.options.maxQueueBytes;
  }

  /** Called each time the pending bytes fall back under the bound. */
  onBelowLimit(listener: () => void): void {
    this.belowLimit.add(listener);
  }

  add(topic: string, message: OutgoingMessage): void {
    const bytes = (message.value?.length ?? 0) + 64;
    this.queue.push({ topic, message, bytes });
    this.queuedBytes += bytes;
    if (this.queue.length >= this.options.maxBatchRecords || this.queuedBytes >= this.options.maxBatchBytes) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.lingerMs);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending || this.queue.length === 0) return;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Entry[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && batch.length < this.options.maxBatchRecords && (batch.length === 0 || bytes + this.queue[0]!.bytes <= this.options.maxBatchBytes)) {
        const entry = this.queue.shift()!;
        batch.push(entry);
        bytes += entry.bytes;
      }
      this.queuedBytes -= bytes;
      this.inflightBytes += bytes;
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const e of batch) {
        const list = byTopic.get(e.topic) ?? [];
        list.push(e.message);
        byTopic.set(e.topic, list);
      }
      const wasOver = this.overLimit || this.pendingBytes > this.options.maxQueueBytes;
      try {
        await Promise.all([...byTopic].map(([topic, messages]) => this.producer.send(topic, messages)));
        this.onSent(batch);
      } catch (error) {
        this.onFailed(error, batch);
      } finally {
        this.inflightBytes -= bytes;
      }
      if (wasOver && !this.overLimit) for (const listener of this.belowLimit) listener();
    }
  }

  /** Sends everything queued and waits for the acknowledgements. */
  async flush(): Promise<void> {
    this.kick();
    while (this.sending) await this.sending;
  }
}
