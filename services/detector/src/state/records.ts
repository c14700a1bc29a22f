import type { KeyedFact } from '@mamori/sigma/correlation';

/** Topics of the distributed correlation state (docs/correlation.md). */
export const CORRELATION_TOPICS = {
  /** Base-rule facts re-keyed by `<correlation id>|<group key>`, plus watermark reports. */
  repartition: 'telemetry.detector.repartition',
  /** Compacted changelog of correlation state: one record per group, one meta record per partition. */
  state: 'telemetry.detector.state',
} as const;

/**
 * A record of the repartition topic. `fact`: a keyed fact from a source with a sequence number
 * (redeliveries resend lower numbers and are dropped). `wm`: a source's newest event time, sent to
 * every partition (`source` is `b:<input partition>` for base facts, `l<depth>:<partition>` for the
 * level watermarks of chained correlations).
 */
export type RepartitionRecord =
  | { kind: 'fact'; source: string; seq: number; fact: KeyedFact }
  | { kind: 'wm'; source: string; time: number };

export function factKey(fact: KeyedFact): string {
  return `${fact.correlationId}|${fact.groupKey}`;
}

export function encodeRecord(record: RepartitionRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

export function decodeRecord(bytes: Buffer): RepartitionRecord {
  const parsed = JSON.parse(bytes.toString('utf8')) as RepartitionRecord;
  if (parsed.kind !== 'fact' && parsed.kind !== 'wm') throw new Error(`unknown repartition record kind ${JSON.stringify((parsed as { kind?: unknown }).kind)}`);
  return parsed;
}

/** Sequence number of the n-th fact made from the record at `offset` (unique and increasing per source partition). */
export function factSeq(offset: string, ordinal: number): number {
  return Number(offset) * 1024 + Math.min(ordinal, 1023);
}
