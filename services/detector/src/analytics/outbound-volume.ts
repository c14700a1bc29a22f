import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the outbound-volume analytic; defaults are justified in docs/detections.md. */
export interface OutboundVolumeConfig {
  /** Bytes out are summed per source over buckets of this length (event time). @default 3600000 (1 h) */
  bucketMs: number;
  /** EWMA smoothing of the per-bucket baseline (weight of the newest bucket). @default 0.1 */
  alpha: number;
  /** Buckets of history before a source is judged (quiet buckets count as 0). @default 24 */
  minBaselineBuckets: number;
  /** A bucket must carry at least this many bytes out... @default 100000000 (100 MB) */
  minBytes: number;
  /** ...and this many times the baseline mean... @default 5 */
  minRatio: number;
  /** ...and this many baseline standard deviations above the mean. @default 4 */
  minZScore: number;
  /** Sources tracked at once; least recently active evicted. @default 200000 */
  maxSources: number;
}

export const DEFAULT_OUTBOUND_VOLUME_CONFIG: Readonly<OutboundVolumeConfig> = Object.freeze({
  bucketMs: 3_600_000,
  alpha: 0.1,
  minBaselineBuckets: 24,
  minBytes: 100_000_000,
  minRatio: 5,
  minZScore: 4,
  maxSources: 200_000,
});

export const OUTBOUND_VOLUME_RULE_ID = 'mamori.network.outbound_volume';

interface SourceState {
  orgId: string;
  srcIp: string;
  bucketStart: number;
  bytes: number;
  events: number;
  topDst: Map<string, number>;
  evidence: MamoriDetection['evidence'];
  mean: number;
  variance: number;
  buckets: number;
}

/**
 * Unusual outbound volume: bytes a source sends out of the organization per bucket, compared
 * with that source's own exponentially weighted baseline (mean and variance). Only events whose
 * direction is `outbound` count; a bucket is judged when event time moves past it, so a report
 * carries the bucket's full total.
 */
export class OutboundVolumeAnalytic implements StatefulAnalytic {
  readonly ruleId = OUTBOUND_VOLUME_RULE_ID;
  private readonly sources = new TrackedEntities<SourceState>();

  constructor(private readonly config: OutboundVolumeConfig = DEFAULT_OUTBOUND_VOLUME_CONFIG, private readonly rulesetChecksum = '') {}

  size(): number {
    return this.sources.size;
  }

  fork(): OutboundVolumeAnalytic {
    return new OutboundVolumeAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.sources.takeChanges((s) => ({ ...s, topDst: [...s.topDst] }));
  }

  importEntity(key: string, order: number, value: unknown): void {
    const f = <T>(name: string) => field<T>(value, name);
    this.sources.restore(key, order, {
      orgId: f('orgId'), srcIp: f('srcIp'), bucketStart: f('bucketStart'), bytes: f('bytes'), events: f('events'), topDst: new Map(f<[string, number][]>('topDst')),
      evidence: f<Evidence>('evidence'), mean: f('mean'), variance: f('variance'), buckets: f('buckets'),
    });
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    if (event.direction !== 'outbound' || !event.src_ip) return [];
    const key = `${event.org_id}\u0000${event.src_ip}`;
    const bucketStart = Math.floor(event.time / this.config.bucketMs) * this.config.bucketMs;
    let state = this.sources.get(key);
    const out: MamoriDetection[] = [];
    if (state) this.settle(key, state, watermark, out);
    else {
      while (this.sources.size >= this.config.maxSources) this.sources.delete(this.sources.oldest()!);
      state = { orgId: event.org_id, srcIp: event.src_ip, bucketStart, bytes: 0, events: 0, topDst: new Map(), evidence: [], mean: 0, variance: 0, buckets: 0 };
    }
    this.sources.touch(key, state);
    if (bucketStart > state.bucketStart) {
      const d = this.close(state, bucketStart);
      if (d) out.push(d);
    }
    // Late events of a closed bucket count in the current one (never lost, never re-judged).
    state.bytes += event.bytes_out;
    state.events += 1;
    if (state.topDst.size < 1000 || state.topDst.has(event.dst_ip)) state.topDst.set(event.dst_ip, (state.topDst.get(event.dst_ip) ?? 0) + event.bytes_out);
    if (state.evidence.length < 20 && event.bytes_out > 0) state.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
    return out;
  }

  advance(watermark: number): MamoriDetection[] {
    const out: MamoriDetection[] = [];
    if (watermark === Number.POSITIVE_INFINITY) {
      // Input idle or shutdown: judge the open buckets, keep the baselines.
      for (const [key, state] of this.sources) {
        if (state.events === 0) continue;
        const d = this.close(state, state.bucketStart + this.config.bucketMs);
        if (d) out.push(d);
        this.sources.changedInPlace(key);
      }
      return out;
    }
    for (const [key, state] of this.sources) this.settle(key, state, watermark, out);
    return out;
  }

  /** Closes the source's open bucket when the watermark has moved past it. */
  private settle(key: string, state: SourceState, watermark: number, out: MamoriDetection[]): void {
    if (!Number.isFinite(watermark)) return;
    const current = Math.floor(watermark / this.config.bucketMs) * this.config.bucketMs;
    if (state.bucketStart >= current) return;
    const d = this.close(state, current);
    if (d) out.push(d);
    this.sources.changedInPlace(key);
  }

  /** Judges the open bucket, folds it and the quiet buckets up to `next` into the baseline. */
  private close(state: SourceState, next: number): MamoriDetection | undefined {
    const c = this.config;
    const x = state.bytes;
    const sd = Math.sqrt(state.variance);
    const z = sd > 0 ? (x - state.mean) / sd : x > state.mean ? Number.POSITIVE_INFINITY : 0;
    const ratio = state.mean > 0 ? x / state.mean : Number.POSITIVE_INFINITY;
    let detection: MamoriDetection | undefined;
    if (state.buckets >= c.minBaselineBuckets && x >= c.minBytes && ratio >= c.minRatio && z >= c.minZScore) detection = this.report(state, x, ratio, z);
    // The anomalous bucket enters the baseline capped at the ratio threshold, so one exfiltration
    // does not teach the baseline to accept the next.
    this.fold(state, detection ? Math.min(x, Math.max(state.mean, 1) * c.minRatio) : x);
    const quiet = Math.min(Math.floor((next - state.bucketStart) / c.bucketMs) - 1, 1000);
    for (let i = 0; i < quiet; i++) this.fold(state, 0);
    state.bucketStart = next;
    state.bytes = 0;
    state.events = 0;
    state.topDst.clear();
    state.evidence = [];
    return detection;
  }

  private fold(state: SourceState, x: number): void {
    const a = this.config.alpha;
    if (state.buckets === 0) {
      state.mean = x;
      state.variance = 0;
    } else {
      const diff = x - state.mean;
      const incr = a * diff;
      state.mean += incr;
      state.variance = (1 - a) * (state.variance + diff * incr);
    }
    state.buckets++;
  }

  private report(state: SourceState, bytes: number, ratio: number, z: number): MamoriDetection {
    const c = this.config;
    const top = [...state.topDst].sort((a, b) => b[1] - a[1]).slice(0, 3);
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    return {
      detection_id: detectionId(OUTBOUND_VOLUME_RULE_ID, state.orgId, state.srcIp, state.bucketStart),
      rule_id: OUTBOUND_VOLUME_RULE_ID,
      rule_version: 1,
      title: `Unusual outbound volume from ${state.srcIp}`,
      severity: ratio >= 4 * c.minRatio ? 'high' : 'medium',
      confidence: Math.min(0.9, 0.5 + 0.05 * Math.min(8, Math.log2(Math.max(1, ratio)))),
      tactics: ['TA0010'],
      techniques: ['T1048', 'T1041'],
      org_id: state.orgId,
      entity: { type: 'ip', value: state.srcIp },
      src_ip: state.srcIp,
      first_seen: state.bucketStart,
      last_seen: state.bucketStart + c.bucketMs - 1,
      detected_at: Date.now(),
      count: state.events,
      summary:
        `${state.srcIp} sent ${mb(bytes)} out in ${Math.round(c.bucketMs / 60_000)} min against a baseline of ${mb(state.mean)} ` +
        `(sd ${mb(Math.sqrt(state.variance))}, ${state.buckets} buckets): ${Number.isFinite(ratio) ? ratio.toFixed(1) : 'inf'}x the mean, z ${Number.isFinite(z) ? z.toFixed(1) : 'inf'} ` +
        `(thresholds ${mb(c.minBytes)}, ${c.minRatio}x, z ${c.minZScore}); top destinations ${top.map(([d, b]) => `${d} ${mb(b)}`).join(', ')}.`,
      evidence: [...state.evidence],
      attributes: {
        bytes_out: String(bytes),
        baseline_mean_bytes: state.mean.toFixed(0),
        baseline_sd_bytes: Math.sqrt(state.variance).toFixed(0),
        baseline_buckets: String(state.buckets),
        ratio: Number.isFinite(ratio) ? ratio.toFixed(2) : 'inf',
        z_score: Number.isFinite(z) ? z.toFixed(2) : 'inf',
        bucket_ms: String(c.bucketMs),
        top_destinations: top.map(([d]) => d).join(','),
      },
      ruleset_checksum: this.rulesetChecksum,
    };
  }
}
