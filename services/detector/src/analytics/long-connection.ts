import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the long-connection analytic; defaults are justified in docs/detections.md. */
export interface LongConnectionConfig {
  /** A connection (or flow) lasting at least this long is reported. @default 3600000 (1 h) */
  minDurationMs: number;
  /** At this duration the severity rises to high. @default 28800000 (8 h) */
  highDurationMs: number;
  /** One report per (src, dst, port) within this much event time; later ones update it. @default 86400000 */
  dedupWindowMs: number;
  /** Pairs remembered for deduplication; least recently seen evicted. @default 50000 */
  maxPairs: number;
}

export const DEFAULT_LONG_CONNECTION_CONFIG: Readonly<LongConnectionConfig> = Object.freeze({
  minDurationMs: 3_600_000,
  highDurationMs: 28_800_000,
  dedupWindowMs: 86_400_000,
  maxPairs: 50_000,
});

export const LONG_CONNECTION_RULE_ID = 'mamori.network.long_connection';

interface Pair {
  id: string;
  first: number;
  last: number;
  count: number;
  maxDurationMs: number;
  totalBytes: number;
  evidence: MamoriDetection['evidence'];
  version: number;
}

/**
 * Connections that stay open for hours: interactive C2 over a persistent channel, tunnels, data
 * theft that trickles. Zeek and NetFlow report the duration when the connection (or the flow's
 * active timeout) ends, so one long session may arrive as several records; they fold into one
 * report per (src, dst, port) and day.
 */
export class LongConnectionAnalytic implements StatefulAnalytic {
  readonly ruleId = LONG_CONNECTION_RULE_ID;
  private readonly pairs = new TrackedEntities<Pair>();

  constructor(private readonly config: LongConnectionConfig = DEFAULT_LONG_CONNECTION_CONFIG, private readonly rulesetChecksum = '') {}

  size(): number {
    return this.pairs.size;
  }

  fork(): LongConnectionAnalytic {
    return new LongConnectionAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.pairs.takeChanges((p) => ({ ...p }));
  }

  importEntity(key: string, order: number, value: unknown): void {
    const f = <T>(name: string) => field<T>(value, name);
    this.pairs.restore(key, order, { id: f('id'), first: f('first'), last: f('last'), count: f('count'), maxDurationMs: f('maxDurationMs'), totalBytes: f('totalBytes'), evidence: f<Evidence>('evidence'), version: f('version') });
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    if (event.event_class !== 'network_activity' || event.duration_ms < this.config.minDurationMs || !event.src_ip || !event.dst_ip) return [];
    const key = `${event.org_id}\u0000${event.src_ip}\u0000${event.dst_ip}\u0000${event.dst_port}\u0000${event.protocol}`;
    let pair = this.pairs.get(key);
    if (pair && pair.first + this.config.dedupWindowMs <= watermark) {
      this.pairs.delete(key);
      pair = undefined;
    }
    if (pair && event.time - pair.first > this.config.dedupWindowMs) pair = undefined;
    if (!pair) {
      while (this.pairs.size >= this.config.maxPairs) this.pairs.delete(this.pairs.oldest()!);
      pair = { id: detectionId(LONG_CONNECTION_RULE_ID, event.org_id, key, event.time), first: event.time, last: event.time, count: 0, maxDurationMs: 0, totalBytes: 0, evidence: [], version: 0 };
    }
    this.pairs.touch(key, pair);
    pair.count += 1;
    pair.last = Math.max(pair.last, event.time);
    pair.maxDurationMs = Math.max(pair.maxDurationMs, event.duration_ms);
    pair.totalBytes += event.bytes_out + event.bytes_in;
    if (pair.evidence.length < 20) pair.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
    pair.version += 1;
    const hours = pair.maxDurationMs / 3_600_000;
    return [
      {
        detection_id: pair.id,
        rule_id: LONG_CONNECTION_RULE_ID,
        rule_version: 1,
        title: `Long-lived connection ${event.src_ip} -> ${event.dst_ip}:${event.dst_port}/${event.protocol}`,
        severity: pair.maxDurationMs >= this.config.highDurationMs ? 'high' : 'medium',
        confidence: Math.min(0.9, 0.5 + 0.05 * hours),
        tactics: ['TA0011', 'TA0010'],
        techniques: ['T1071', 'T1572'],
        org_id: event.org_id,
        entity: { type: 'ip', value: event.src_ip },
        src_ip: event.src_ip,
        first_seen: pair.first,
        last_seen: pair.last,
        detected_at: Date.now(),
        count: pair.count,
        summary:
          `${event.src_ip} held a ${event.protocol} connection to ${event.dst_ip}:${event.dst_port} open for ${hours.toFixed(1)} h ` +
          `(threshold ${(this.config.minDurationMs / 3_600_000).toFixed(1)} h, high from ${(this.config.highDurationMs / 3_600_000).toFixed(1)} h); ` +
          `${pair.count} record(s), ${pair.totalBytes} bytes in total.`,
        evidence: [...pair.evidence],
        attributes: {
          dst_ip: event.dst_ip,
          dst_port: String(event.dst_port),
          protocol: event.protocol,
          max_duration_ms: String(pair.maxDurationMs),
          min_duration_ms_threshold: String(this.config.minDurationMs),
          total_bytes: String(pair.totalBytes),
          version: String(pair.version),
        },
        ruleset_checksum: this.rulesetChecksum,
      },
    ];
  }

  advance(watermark: number): MamoriDetection[] {
    // Reports are final as they are made; only forget pairs whose dedup window is over.
    for (const [key, pair] of this.pairs) if (pair.first + this.config.dedupWindowMs <= watermark) this.pairs.delete(key);
    return [];
  }
}
