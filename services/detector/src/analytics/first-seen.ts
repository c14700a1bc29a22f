import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the first-seen-destination analytic; defaults are justified in docs/detections.md. */
export interface FirstSeenConfig {
  /** Asset criticalities watched. @default ['high', 'critical'] */
  criticalities: readonly string[];
  /** Event time from an asset's first event during which its destinations are learned, not reported. @default 604800000 (7 days) */
  learningPeriodMs: number;
  /** Destinations remembered per asset; beyond it the asset stops learning and reports once that it is saturated. @default 10000 */
  maxDestinationsPerAsset: number;
  /** Assets tracked at once; least recently active evicted (and relearn). @default 10000 */
  maxAssets: number;
  /** Include the destination port in what counts as a destination. @default false */
  keyByPort: boolean;
}

export const DEFAULT_FIRST_SEEN_CONFIG: Readonly<FirstSeenConfig> = Object.freeze({
  criticalities: Object.freeze(['high', 'critical']),
  learningPeriodMs: 604_800_000,
  maxDestinationsPerAsset: 10_000,
  maxAssets: 10_000,
  keyByPort: false,
});

export const FIRST_SEEN_RULE_ID = 'mamori.network.first_seen_destination';

interface AssetState {
  learnedFrom: number;
  destinations: Set<string>;
  saturated: boolean;
}

/**
 * A critical asset (a domain controller, a payment server) talking to a destination it never
 * talked to during its learning period. Such assets have narrow, stable peers; a new one is worth
 * a look. State is bounded per asset and in assets.
 */
export class FirstSeenAnalytic implements StatefulAnalytic {
  readonly ruleId = FIRST_SEEN_RULE_ID;
  private readonly assets = new TrackedEntities<AssetState>();
  private readonly watched: Set<string>;

  constructor(private readonly config: FirstSeenConfig = DEFAULT_FIRST_SEEN_CONFIG, private readonly rulesetChecksum = '') {
    this.watched = new Set(config.criticalities.map((c) => c.toLowerCase()));
  }

  size(): number {
    return this.assets.size;
  }

  fork(): FirstSeenAnalytic {
    return new FirstSeenAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.assets.takeChanges((a) => ({ learnedFrom: a.learnedFrom, destinations: [...a.destinations], saturated: a.saturated }));
  }

  importEntity(key: string, order: number, value: unknown): void {
    this.assets.restore(key, order, { learnedFrom: field(value, 'learnedFrom'), destinations: new Set(field<string[]>(value, 'destinations')), saturated: field(value, 'saturated') });
  }

  observe(event: MamoriEvent): MamoriDetection[] {
    const asset = event.src_asset;
    if (!asset || !this.watched.has(asset.criticality.toLowerCase()) || !event.dst_ip) return [];
    const assetId = asset.name || event.src_ip;
    const key = `${event.org_id}\u0000${assetId}`;
    let state = this.assets.get(key);
    const known = state !== undefined;
    if (!state) {
      while (this.assets.size >= this.config.maxAssets) this.assets.delete(this.assets.oldest()!);
      state = { learnedFrom: event.time, destinations: new Set(), saturated: false };
    }
    const dst = this.config.keyByPort ? `${event.dst_ip}:${event.dst_port}/${event.protocol}` : event.dst_ip;
    // Only a change is snapshotted: an asset talking to a known peer moves in the eviction order
    // but is not rewritten to the changelog each batch (after a restore its order is that of its
    // last new destination).
    this.assets.touch(key, state, !known || !state.destinations.has(dst));
    if (state.destinations.has(dst)) return [];
    const learning = event.time < state.learnedFrom + this.config.learningPeriodMs;
    if (state.destinations.size >= this.config.maxDestinationsPerAsset) {
      // Saturated: an asset with this many peers is not narrow; stop learning rather than grow.
      state.saturated = true;
      return [];
    }
    state.destinations.add(dst);
    if (learning) return [];
    const days = this.config.learningPeriodMs / 86_400_000;
    return [
      {
        detection_id: detectionId(FIRST_SEEN_RULE_ID, event.org_id, `${assetId}\u0000${dst}`, event.time),
        rule_id: FIRST_SEEN_RULE_ID,
        rule_version: 1,
        title: `${asset.criticality} asset ${assetId} contacted a new destination ${dst}`,
        severity: asset.criticality.toLowerCase() === 'critical' ? 'high' : 'medium',
        confidence: 0.5,
        tactics: ['TA0011', 'TA0008'],
        techniques: ['T1071'],
        org_id: event.org_id,
        entity: { type: 'asset', value: assetId },
        src_ip: event.src_ip,
        first_seen: event.time,
        last_seen: event.time,
        detected_at: Date.now(),
        count: 1,
        summary:
          `${asset.criticality} asset ${assetId} (${event.src_ip}) talked to ${dst} on ${event.protocol}/${event.dst_port}, ` +
          `not among the ${state.destinations.size - 1} destinations it used since ${new Date(state.learnedFrom).toISOString()} (learning period ${days.toFixed(1)} days).`,
        evidence: [{ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset }],
        attributes: {
          asset: assetId,
          criticality: asset.criticality,
          destination: dst,
          dst_port: String(event.dst_port),
          known_destinations: String(state.destinations.size - 1),
          learning_period_ms: String(this.config.learningPeriodMs),
          learned_from: String(state.learnedFrom),
        },
        ruleset_checksum: this.rulesetChecksum,
      },
    ];
  }

  advance(): MamoriDetection[] {
    return [];
  }
}
