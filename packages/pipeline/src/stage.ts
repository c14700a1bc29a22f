import { errorCode, errorMessage } from '@mamori/core';
import type { ConsumedBatch, ConsumedMessage, OutgoingMessage } from '@mamori/transport';
import type { DeadLetter } from './dead-letter.ts';

/** Records for one output topic. */
export interface Output {
  readonly topic: string;
  readonly messages: OutgoingMessage[];
}

/** What a stage made of a batch: records for the next stage, and records it could not handle. */
export interface StageResult {
  readonly outputs: Output[];
  readonly deadLetters: DeadLetter[];
  /** Records written to a sink other than Kafka (e.g. ClickHouse rows), for metrics. */
  readonly sunk?: { target: string; count: number }[];
}

/**
 * One step of the pipeline. `process` must not throw for a bad record: it returns it as a dead
 * letter. It throws only when the batch as a whole cannot be handled now (the next stage is down),
 * and then the runner lets the transport redeliver the batch after a back-off.
 */
export interface Stage {
  readonly name: string;
  readonly inputTopics: readonly string[];
  /** Topics this stage writes, created at start-up if missing. */
  readonly outputTopics: readonly string[];
  process(batch: ConsumedBatch): Promise<StageResult>;
  /**
   * Called periodically (and once before shutdown with `final: true`) for time-driven output,
   * such as closing detection windows when the input has gone quiet.
   */
  tick?(now: number, final: boolean): Promise<StageResult>;
  close?(): Promise<void>;
}

export function emptyResult(): StageResult {
  return { outputs: [], deadLetters: [] };
}

/**
 * Applies `fn` to each record and collects outputs per topic; a record whose `fn` throws becomes a
 * dead letter with the error's code, and the rest of the batch goes on.
 */
export function mapRecords(
  batch: ConsumedBatch,
  fn: (message: ConsumedMessage) => { topic: string; message: OutgoingMessage }[],
): StageResult {
  const byTopic = new Map<string, OutgoingMessage[]>();
  const deadLetters: DeadLetter[] = [];
  for (const message of batch.messages) {
    let produced: { topic: string; message: OutgoingMessage }[];
    try {
      produced = fn(message);
    } catch (error) {
      deadLetters.push({ message, code: errorCode(error), reason: errorMessage(error) });
      continue;
    }
    for (const { topic, message: out } of produced) {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(out);
    }
  }
  return { outputs: [...byTopic].map(([topic, messages]) => ({ topic, messages })), deadLetters };
}
