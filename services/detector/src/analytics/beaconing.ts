import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the beaconing analytic; defaults are justified in docs/detections.md. */
export interface BeaconingConfig {
  /** Connection history kept per pair (event time). @default 86400000 (24 h) */
  windowMs: number;
  /** Connections in the window before a pair is scored. @default 20 */
  minConnections: number;
  /** Report when the combined score reaches this (0..1). @default 0.8 */
  scoreThreshold: number;
  /** Include the destination port in the pair key. @default false */
  keyByPort: boolean;
  /** Connection samples kept per pair (oldest dropped first). @default 1000 */
  maxSamplesPerPair: number;
  /** Pairs tracked at once; least recently active evicted. @default 200000 */
  maxPairs: number;
  /** Hours of continuous activity that count as fully consistent (RITA's ideal is 12). @default 12 */
  idealConsistentHours: number;
  /** Re-report an open beacon at most this often (event time) unless its score rose by 0.05. @default 3600000 */
  updateIntervalMs: number;
}

export const DEFAULT_BEACONING_CONFIG: Readonly<BeaconingConfig> = Object.freeze({
  windowMs: 86_400_000,
  minConnections: 20,
  scoreThreshold: 0.8,
  keyByPort: false,
  maxSamplesPerPair: 1000,
  maxPairs: 200_000,
  idealConsistentHours: 12,
  updateIntervalMs: 3_600_000,
});

export const BEACONING_RULE_ID = 'mamori.network.beaconing';

/** The component scores of one pair (each 0..1) and the numbers behind them. */
export interface BeaconScore {
  score: number;
  tsScore: number;
  tsSkew: number;
  tsMadSeconds: number;
  tsMedianSeconds: number;
  dsScore: number;
  dsSkew: number;
  dsMadBytes: number;
  dsMedianBytes: number;
  durationScore: number;
  coverage: number;
  consistentHours: number;
  histogramScore: number;
  connections: number;
}

/** Quantile of sorted data, linear interpolation. */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Regularity of a distribution as RITA scores it: Bowley skewness (a perfect beacon's
 * inter-arrival times and sizes are symmetric; skewness is taken as 0 when the quartile spread is
 * under `minSpread` or the median sits on a quartile) and the median absolute deviation relative
 * to the median. Score = mean of (1 - |skew|) and (median - MAD) / median.
 */
export function regularity(values: number[], minSpread: number, defaultMadScore: number): { score: number; skew: number; mad: number; median: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const q1 = quantile(sorted, 0.25);
  const q2 = quantile(sorted, 0.5);
  const q3 = quantile(sorted, 0.75);
  const den = q3 - q1;
  const skew = den >= minSpread && q2 !== q1 && q2 !== q3 ? (q1 + q3 - 2 * q2) / den : 0;
  const deviations = sorted.map((v) => Math.abs(v - q2)).sort((a, b) => a - b);
  const mad = quantile(deviations, 0.5);
  let madScore = q2 >= 1 ? (q2 - mad) / q2 : defaultMadScore;
  if (!(madScore >= 0)) madScore = 0;
  return { score: (1 - Math.abs(skew) + madScore) / 2, skew, mad, median: q2 };
}

/**
 * The beacon score of one pair's connections (start times in ms, client bytes), after RITA:
 * timestamp regularity, data-size regularity, duration (coverage of the window or the longest run
 * of consecutive active hours) and the flatness of the hourly histogram (1 - coefficient of
 * variation), weighted equally. Undefined with fewer than 4 connections or 3 non-zero intervals.
 */
export function beaconScore(times: readonly number[], sizes: readonly number[], windowMs: number, idealConsistentHours: number): BeaconScore | undefined {
  if (times.length < 4) return undefined;
  const sortedTimes = [...times].sort((a, b) => a - b);
  const deltas: number[] = [];
  for (let i = 1; i < sortedTimes.length; i++) {
    const d = (sortedTimes[i]! - sortedTimes[i - 1]!) / 1000;
    if (d > 0) deltas.push(d);
  }
  if (deltas.length < 3) return undefined;
  // RITA ignores skew below a 10 s quartile spread (jitter of fast beacons) and 0 bytes of spread for sizes.
  const ts = regularity(deltas, 10, 1);
  const ds = regularity([...sizes], 0, 0);

  const first = sortedTimes[0]!;
  const last = sortedTimes[sortedTimes.length - 1]!;
  const hours = Math.max(1, Math.ceil(windowMs / 3_600_000));
  const bins = new Array<number>(hours).fill(0);
  const start = last - windowMs;
  for (const t of sortedTimes) {
    const b = Math.min(hours - 1, Math.max(0, Math.floor((t - start) / 3_600_000)));
    bins[b]! += 1;
  }
  let longest = 0;
  let run = 0;
  for (const n of bins) {
    run = n > 0 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  const coverage = Math.min(1, (last - first) / windowMs);
  const consistency = Math.min(1, longest / idealConsistentHours);
  const durationScore = Math.max(coverage, consistency);
  // Histogram flatness over the hours the pair was active in (first to last bin).
  const firstBin = bins.findIndex((n) => n > 0);
  let lastBin = bins.length - 1;
  while (lastBin > 0 && bins[lastBin] === 0) lastBin--;
  const active = bins.slice(firstBin, lastBin + 1);
  const mean = active.reduce((a, b) => a + b, 0) / active.length;
  const sd = Math.sqrt(active.reduce((a, b) => a + (b - mean) ** 2, 0) / active.length);
  const histogramScore = active.length < 2 ? 0 : Math.max(0, 1 - sd / mean);
  const score = Math.round(((ts.score + ds.score + durationScore + histogramScore) / 4) * 1000) / 1000;
  return {
    score,
    tsScore: ts.score, tsSkew: ts.skew, tsMadSeconds: ts.mad, tsMedianSeconds: ts.median,
    dsScore: ds.score, dsSkew: ds.skew, dsMadBytes: ds.mad, dsMedianBytes: ds.median,
    durationScore, coverage, consistentHours: longest, histogramScore,
    connections: sortedTimes.length,
  };
}

interface Pair {
  orgId: string;
  srcIp: string;
  dstIp: string;
  dstPort: number | undefined;
  times: number[];
  sizes: number[];
  head: number;
  sinceScored: number;
  lastSeen: number;
  episode: { id: string; first: number; best: BeaconScore; last: BeaconScore; reportedScore: number; lastReported: number; version: number; evidence: MamoriDetection['evidence'] } | undefined;
}

/**
 * Command-and-control beaconing, scored like RITA but incrementally: per (src, dst[, port]) pair a
 * bounded history of connection start times and client bytes over the window; the pair is
 * rescored after every ~10% growth of its history (so a pair with n connections costs
 * O(n log n) amortized per connection) and reported when the score reaches the threshold, with
 * every component in the attributes.
 */
export class BeaconingAnalytic implements StatefulAnalytic {
  readonly ruleId = BEACONING_RULE_ID;
  private readonly pairs = new TrackedEntities<Pair>();

  constructor(private readonly config: BeaconingConfig = DEFAULT_BEACONING_CONFIG, private readonly rulesetChecksum = '') {}

  size(): number {
    return this.pairs.size;
  }

  fork(): BeaconingAnalytic {
    return new BeaconingAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.pairs.takeChanges(savePair);
  }

  importEntity(key: string, order: number, value: unknown): void {
    this.pairs.restore(key, order, loadPair(value));
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    if (event.event_class !== 'network_activity' || !event.src_ip || !event.dst_ip) return [];
    const port = this.config.keyByPort ? event.dst_port : undefined;
    const key = `${event.org_id}\u0000${event.src_ip}\u0000${event.dst_ip}\u0000${port ?? ''}`;
    const out: MamoriDetection[] = [];
    let pair = this.pairs.get(key);
    if (pair && !this.settle(key, pair, watermark, out)) pair = undefined;
    if (!pair) {
      while (this.pairs.size >= this.config.maxPairs) this.pairs.delete(this.pairs.oldest()!);
      pair = { orgId: event.org_id, srcIp: event.src_ip, dstIp: event.dst_ip, dstPort: port, times: [], sizes: [], head: 0, sinceScored: 0, lastSeen: 0, episode: undefined };
    }
    this.pairs.touch(key, pair);
    pair.lastSeen = Math.max(pair.lastSeen, event.time);
    const before = event.time - this.config.windowMs;
    while (pair.head < pair.times.length && pair.times[pair.head]! < before) pair.head++;
    if (pair.times.length - pair.head >= this.config.maxSamplesPerPair) pair.head++;
    if (pair.head > 256 && pair.head * 2 > pair.times.length) {
      pair.times = pair.times.slice(pair.head);
      pair.sizes = pair.sizes.slice(pair.head);
      pair.head = 0;
    }
    pair.times.push(event.time);
    pair.sizes.push(event.bytes_out);
    pair.sinceScored += 1;
    const n = pair.times.length - pair.head;
    if (n < this.config.minConnections || pair.sinceScored < Math.max(1, Math.floor(n / 10))) return out;
    pair.sinceScored = 0;
    const score = beaconScore(pair.times.slice(pair.head), pair.sizes.slice(pair.head), this.config.windowMs, this.config.idealConsistentHours);
    if (!score) return out;
    const ep = pair.episode;
    if (!ep) {
      if (score.score < this.config.scoreThreshold) return out;
      pair.episode = { id: detectionId(BEACONING_RULE_ID, pair.orgId, key, pair.times[pair.head]!), first: pair.times[pair.head]!, best: score, last: score, reportedScore: 0, lastReported: event.time, version: 0, evidence: [] };
      this.addEvidence(pair, event);
      out.push(this.report(pair));
      return out;
    }
    ep.last = score;
    if (score.score > ep.best.score) ep.best = score;
    this.addEvidence(pair, event);
    if (score.score >= ep.reportedScore + 0.05 || event.time - ep.lastReported >= this.config.updateIntervalMs) out.push(this.report(pair));
    return out;
  }

  advance(watermark: number): MamoriDetection[] {
    const out: MamoriDetection[] = [];
    for (const [key, pair] of this.pairs) this.settle(key, pair, watermark, out);
    return out;
  }

  /** A pair whose whole window is before the watermark is reported a last time (if its score moved) and forgotten. False when it is gone. */
  private settle(key: string, pair: Pair, watermark: number, out: MamoriDetection[]): boolean {
    if (pair.lastSeen + this.config.windowMs > watermark) return true;
    if (pair.episode && pair.episode.version > 0 && pair.episode.last !== undefined && pair.episode.reportedScore !== pair.episode.last.score) out.push(this.report(pair));
    this.pairs.delete(key);
    return false;
  }

  private addEvidence(pair: Pair, event: MamoriEvent): void {
    const ep = pair.episode!;
    if (ep.evidence.length < 20) ep.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
  }

  private report(pair: Pair): MamoriDetection {
    const ep = pair.episode!;
    const s = ep.last.score >= this.config.scoreThreshold ? ep.last : ep.best;
    ep.version += 1;
    ep.reportedScore = ep.last.score;
    ep.lastReported = pair.lastSeen;
    const f = (x: number) => x.toFixed(3);
    const dst = pair.dstPort === undefined ? pair.dstIp : `${pair.dstIp}:${pair.dstPort}`;
    return {
      detection_id: ep.id,
      rule_id: BEACONING_RULE_ID,
      rule_version: 1,
      title: `Beaconing from ${pair.srcIp} to ${dst}`,
      severity: s.score >= 0.9 ? 'high' : 'medium',
      confidence: Math.min(0.99, s.score),
      tactics: ['TA0011'],
      techniques: ['T1071', 'T1573'],
      org_id: pair.orgId,
      entity: { type: 'ip', value: pair.srcIp },
      src_ip: pair.srcIp,
      first_seen: ep.first,
      last_seen: pair.lastSeen,
      detected_at: Date.now(),
      count: s.connections,
      summary:
        `${pair.srcIp} connected to ${dst} ${s.connections} times in ${Math.round(this.config.windowMs / 3_600_000)} h with beacon score ${f(s.score)} ` +
        `(threshold ${this.config.scoreThreshold}): intervals median ${s.tsMedianSeconds.toFixed(1)} s, MAD ${s.tsMadSeconds.toFixed(1)} s, skew ${f(s.tsSkew)} -> ${f(s.tsScore)}; ` +
        `sizes median ${s.dsMedianBytes.toFixed(0)} B, MAD ${s.dsMadBytes.toFixed(0)} B -> ${f(s.dsScore)}; duration ${f(s.durationScore)} ` +
        `(coverage ${f(s.coverage)}, ${s.consistentHours} consecutive hours); hourly histogram ${f(s.histogramScore)}.`,
      evidence: [...ep.evidence],
      attributes: {
        dst_ip: pair.dstIp,
        ...(pair.dstPort !== undefined ? { dst_port: String(pair.dstPort) } : {}),
        score: f(s.score),
        ts_score: f(s.tsScore),
        ts_skew: f(s.tsSkew),
        ts_mad_s: s.tsMadSeconds.toFixed(1),
        ts_median_s: s.tsMedianSeconds.toFixed(1),
        ds_score: f(s.dsScore),
        ds_skew: f(s.dsSkew),
        ds_mad_bytes: s.dsMadBytes.toFixed(0),
        ds_median_bytes: s.dsMedianBytes.toFixed(0),
        duration_score: f(s.durationScore),
        coverage: f(s.coverage),
        consistent_hours: String(s.consistentHours),
        histogram_score: f(s.histogramScore),
        connections: String(s.connections),
        threshold: String(this.config.scoreThreshold),
        version: String(ep.version),
      },
      ruleset_checksum: this.rulesetChecksum,
    };
  }
}

/** A pair's state as snapshot data: the live samples and the open episode. */
function savePair(pair: Pair): unknown {
  const e = pair.episode;
  return {
    org: pair.orgId, src: pair.srcIp, dst: pair.dstIp, port: pair.dstPort ?? null, times: pair.times.slice(pair.head), sizes: pair.sizes.slice(pair.head),
    sinceScored: pair.sinceScored, lastSeen: pair.lastSeen,
    episode: e ? { id: e.id, first: e.first, best: e.best, last: e.last, reportedScore: e.reportedScore, lastReported: e.lastReported, version: e.version, evidence: e.evidence } : null,
  };
}

function loadPair(data: unknown): Pair {
  const e = field<Record<string, unknown> | null>(data, 'episode');
  const port = field<number | null>(data, 'port');
  return {
    orgId: field(data, 'org'), srcIp: field(data, 'src'), dstIp: field(data, 'dst'), dstPort: port ?? undefined, times: field<number[]>(data, 'times'), sizes: field<number[]>(data, 'sizes'),
    head: 0, sinceScored: field(data, 'sinceScored'), lastSeen: field(data, 'lastSeen'),
    episode: e
      ? { id: field(e, 'id'), first: field(e, 'first'), best: field<BeaconScore>(e, 'best'), last: field<BeaconScore>(e, 'last'), reportedScore: field(e, 'reportedScore'), lastReported: field(e, 'lastReported'), version: field(e, 'version'), evidence: field<Evidence>(e, 'evidence') }
      : undefined,
  };
}
