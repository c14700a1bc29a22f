import type { MamoriDetection, MamoriEvent, Severity } from '@mamori/events';
import { IndicatorIndex, type Indicator, type IndicatorMatch } from '@mamori/intel';
import { assertIdentifier, type StorageDriver } from '@mamori/storage';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of intel matching. */
export interface IntelMatchConfig {
  /** One detection per (indicator, entity) within this much event time; repeats update it. @default 86400000 */
  dedupWindowMs: number;
  /** (indicator, entity) pairs remembered for deduplication; least recent evicted. @default 100000 */
  maxOpen: number;
  /** How far back retro-matching looks when new indicators arrive. @default 604800000 (7 days) */
  retroLookbackMs: number;
  /** Rows a retro-match query returns at most (per query). @default 10000 */
  retroMaxRows: number;
}

export const DEFAULT_INTEL_MATCH_CONFIG: Readonly<IntelMatchConfig> = Object.freeze({
  dedupWindowMs: 86_400_000,
  maxOpen: 100_000,
  retroLookbackMs: 604_800_000,
  retroMaxRows: 10_000,
});

export const INTEL_MATCH_RULE_ID = 'mamori.intel.indicator_match';

/** Confidence (0..100) to severity: the feed's own certainty decides how loud a sighting is. */
export function severityForConfidence(confidence: number): Severity {
  if (confidence >= 85) return 'high';
  if (confidence >= 60) return 'medium';
  if (confidence >= 30) return 'low';
  return 'info';
}

interface Open {
  id: string;
  first: number;
  last: number;
  count: number;
  evidence: MamoriDetection['evidence'];
}

/** Matches of one index call, reused across calls (matching is synchronous). */
const scratch: IndicatorMatch[] = [];

type FieldMatch = { field: string; match: IndicatorMatch };

/** Matches of one event, allocated on the first match (most events match nothing). */
let found: FieldMatch[] | undefined;

function take(field: string): void {
  const out = (found ??= []);
  for (let i = 0; i < scratch.length; i++) out.push({ field, match: scratch[i]! });
  scratch.length = 0;
}

const NO_MATCHES: readonly FieldMatch[] = Object.freeze([]);

/** `host` without a trailing `:<digits>` port (what `/:\d+$/` removes), without a regular expression. */
function stripPort(host: string): string {
  let i = host.length - 1;
  while (i >= 0) {
    const c = host.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i--;
  }
  return i >= 0 && i < host.length - 1 && host.charCodeAt(i) === 58 ? host.slice(0, i) : host;
}

/** `md5`, `sha1` or `sha256` for a hash name (`SHA-256`, `sha_1`, ...), else undefined. */
function hashKind(name: string): 'md5' | 'sha1' | 'sha256' | undefined {
  if (name === 'md5' || name === 'sha1' || name === 'sha256') return name;
  const kind = name.toLowerCase().replace(/[-_]/g, '');
  return kind === 'md5' || kind === 'sha1' || kind === 'sha256' ? kind : undefined;
}

/** Hashes of one name, in the order `{ ...file, ...process }` gives (the process record's value wins). */
function matchHashes(index: IndicatorIndex, file: Record<string, string> | undefined, proc: Record<string, string> | undefined, t: number): void {
  if (file) {
    for (const name in file) {
      if (!Object.hasOwn(file, name)) continue;
      matchHash(index, name, proc !== undefined && Object.hasOwn(proc, name) ? proc[name]! : file[name]!, t);
    }
  }
  if (proc) {
    for (const name in proc) {
      if (!Object.hasOwn(proc, name) || (file !== undefined && Object.hasOwn(file, name))) continue;
      matchHash(index, name, proc[name]!, t);
    }
  }
}

function matchHash(index: IndicatorIndex, name: string, value: string, t: number): void {
  const kind = hashKind(name);
  if (!kind) return;
  index.matchValue(kind, value, t, scratch);
  if (scratch.length > 0) take(`file.hashes.${kind}`);
}

/**
 * Every match of one event: which field, the indicator, what was observed (a shared empty array
 * when none). Allocates only for matches: this runs for every event, so no closures, spreads or
 * iterators here.
 */
export function matchEvent(index: IndicatorIndex, event: MamoriEvent): readonly FieldMatch[] {
  found = undefined;
  scratch.length = 0;
  const t = event.time;
  if (event.src_ip) {
    index.matchIp(event.src_ip, t, scratch);
    if (scratch.length > 0) take('src_ip');
  }
  if (event.dst_ip) {
    index.matchIp(event.dst_ip, t, scratch);
    if (scratch.length > 0) take('dst_ip');
  }
  const dns = event.dns;
  if (dns) {
    if (dns.query) {
      index.matchDomain(dns.query, t, scratch);
      if (scratch.length > 0) take('dns.query');
    }
    const answers = dns.answers;
    if (answers) {
      // Answers that are addresses (names and other records match nothing).
      for (let i = 0; i < answers.length; i++) {
        index.matchIp(answers[i]!, t, scratch);
        if (scratch.length > 0) take('dns.answers');
      }
    }
  }
  const http = event.http;
  if (http?.host) {
    index.matchDomain(stripPort(http.host), t, scratch);
    if (scratch.length > 0) take('http.host');
    if (http.uri) {
      index.matchUrl(http.host, http.uri, t, scratch);
      if (scratch.length > 0) take('http.url');
    }
  }
  const tls = event.tls;
  if (tls) {
    if (tls.sni) {
      index.matchDomain(tls.sni, t, scratch);
      if (scratch.length > 0) take('tls.sni');
    }
    if (tls.ja3) {
      index.matchValue('ja3', tls.ja3, t, scratch);
      if (scratch.length > 0) take('tls.ja3');
    }
    if (tls.fingerprint_sha1) {
      index.matchValue('sha1', tls.fingerprint_sha1, t, scratch);
      if (scratch.length > 0) take('tls.fingerprint_sha1');
    }
    if (tls.serial) {
      index.matchCertificate(tls.serial, tls.issuer, t, scratch);
      if (scratch.length > 0) take('tls.serial');
    }
  }
  const fileHashes = event.file?.hashes;
  const processHashes = event.process?.hashes;
  if (fileHashes || processHashes) matchHashes(index, fileHashes ?? undefined, processHashes ?? undefined, t);
  const out = found ?? NO_MATCHES;
  found = undefined;
  return out;
}

/**
 * Threat-intelligence matching: every event's addresses, DNS query, HTTP host and URL, TLS SNI,
 * JA3 and certificate, and file hashes against the current {@link IndicatorIndex}. One detection
 * per (indicator, entity) and day, updated as sightings repeat. The index comes from a getter so a
 * refreshed feed store swaps in without touching the analytic.
 *
 * The deduplication state (one open detection per indicator and entity) is per input partition: the
 * detector stage runs a fork per partition and writes its changes to the analytics changelog, so a
 * repeated hit after a restart or a rebalance updates the open detection instead of opening a second
 * one. The instance the forks come from serves retro-matching ({@link retroMatch}); its sightings
 * update a fork's open detection when one holds the pair (written with that partition's next
 * snapshot), else they are kept by the root (in memory) until a live sighting of the pair adopts
 * them into its partition's state.
 */
export class IntelMatchAnalytic implements StatefulAnalytic {
  readonly ruleId = INTEL_MATCH_RULE_ID;
  private readonly open = new TrackedEntities<Open>();
  /** The instance this one was forked from (undefined: this is the root). */
  private readonly root: IntelMatchAnalytic | undefined;
  /** The root's live forks (one per held input partition). */
  private readonly forks = new Set<IntelMatchAnalytic>();

  constructor(
    private readonly index: () => IndicatorIndex,
    private readonly config: IntelMatchConfig = DEFAULT_INTEL_MATCH_CONFIG,
    private readonly rulesetChecksum = '',
    root?: IntelMatchAnalytic,
  ) {
    this.root = root;
  }

  size(): number {
    return this.open.size;
  }

  fork(): IntelMatchAnalytic {
    const root = this.root ?? this;
    const fork = new IntelMatchAnalytic(this.index, this.config, this.rulesetChecksum, root);
    root.forks.add(fork);
    return fork;
  }

  release(): void {
    this.root?.forks.delete(this);
  }

  exportChanges(): StateChange[] {
    return this.open.takeChanges(saveOpen);
  }

  importEntity(key: string, order: number, value: unknown): void {
    this.open.restore(key, order, loadOpen(value));
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    const index = this.index();
    if (index.size === 0) return [];
    const matches = matchEvent(index, event);
    if (matches.length === 0) return [];
    const out: MamoriDetection[] = [];
    const seen = new Set<string>();
    for (const { field, match } of matches) {
      const d = this.sighting(event.org_id, event, field, match, event.time, false, watermark);
      if (d && !seen.has(d.detection_id)) {
        seen.add(d.detection_id);
        out.push(d);
      }
    }
    return out;
  }

  advance(watermark: number): MamoriDetection[] {
    // Idle input (Infinity) reports nothing here and must not forget: the window runs on event time.
    if (!Number.isFinite(watermark)) return [];
    for (const [key, o] of this.open) if (o.first + this.config.dedupWindowMs <= watermark) this.open.delete(key);
    return [];
  }

  /**
   * A detection for one sighting (live or retro), deduplicated per indicator and entity. `watermark`
   * (live sightings): the pair's entry is first expired as `advance(watermark)` would have done, so
   * batch boundaries do not change the result.
   */
  sighting(orgId: string, event: Pick<MamoriEvent, 'event_id' | 'raw' | 'src_ip' | 'dst_ip'>, field: string, match: IndicatorMatch, time: number, retro = false, watermark = Number.NEGATIVE_INFINITY): MamoriDetection | undefined {
    const ind = match.indicator;
    // The entity is the internal side: who talked to the indicator (the source unless the source is the indicator).
    const entity = field === 'src_ip' ? event.dst_ip || event.src_ip : event.src_ip || match.observed;
    const key = `${orgId}\u0000${ind.source}\u0000${ind.id}\u0000${ind.value}\u0000${entity}`;
    // A retro sighting on the root updates the partition state that holds the pair, if one does.
    const holder = this.root === undefined ? this.holderOf(key, time) : this;
    let o = holder.open.get(key);
    if (o && (time - o.first > this.config.dedupWindowMs || o.first + this.config.dedupWindowMs <= watermark)) o = undefined;
    if (!o && this.root) o = this.root.adopt(key, time, watermark);
    if (!o) {
      holder.evictIfFull();
      o = { id: detectionId(INTEL_MATCH_RULE_ID, orgId, key, time), first: time, last: time, count: 0, evidence: [] };
    }
    o.count++;
    o.first = Math.min(o.first, time);
    o.last = Math.max(o.last, time);
    if (o.evidence.length < 20) o.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
    holder.open.touch(key, o);
    return this.report(orgId, entity, field, match, o, retro);
  }

  /** The fork whose open detection of `key` is still within the window at `time`, else this root. */
  private holderOf(key: string, time: number): IntelMatchAnalytic {
    for (const fork of this.forks) {
      const o = fork.open.get(key);
      if (o && time - o.first <= this.config.dedupWindowMs) return fork;
    }
    return this;
  }

  /** Hands over a detection retro-matching opened for `key` (still within the window at `time`) to the live fork that sees the pair. */
  private adopt(key: string, time: number, watermark: number): Open | undefined {
    const o = this.open.get(key);
    if (!o) return undefined;
    this.open.delete(key);
    return time - o.first <= this.config.dedupWindowMs && o.first + this.config.dedupWindowMs > watermark ? o : undefined;
  }

  private evictIfFull(): void {
    while (this.open.size >= this.config.maxOpen) {
      const oldest = this.open.oldest();
      if (oldest === undefined) return;
      this.open.delete(oldest);
    }
  }

  private report(orgId: string, entity: string, field: string, match: IndicatorMatch, o: Open, retro: boolean): MamoriDetection {
    const ind = match.indicator;
    return {
      detection_id: o.id,
      rule_id: INTEL_MATCH_RULE_ID,
      rule_version: 1,
      title: `Threat intel match: ${ind.kind} ${ind.value} (${ind.source})`,
      severity: severityForConfidence(ind.confidence),
      confidence: Math.max(0, Math.min(1, ind.confidence / 100)),
      tactics: ['TA0011'],
      techniques: [],
      org_id: orgId,
      entity: { type: 'ip', value: entity },
      src_ip: entity || null,
      first_seen: o.first,
      last_seen: o.last,
      detected_at: Date.now(),
      count: o.count,
      summary:
        `${field} ${match.observed} matched ${ind.kind} indicator ${ind.value} from ${ind.source} (${ind.id}${ind.name ? `, ${ind.name}` : ''}), ` +
        `confidence ${ind.confidence}${retro ? '; found by retro-matching stored events' : ''}; ${o.count} sighting(s).`,
      evidence: [...o.evidence],
      attributes: {
        indicator_kind: ind.kind,
        indicator_value: ind.value,
        indicator_source: ind.source,
        indicator_id: ind.id,
        indicator_confidence: String(ind.confidence),
        matched_field: field,
        observed: match.observed,
        retro: retro ? 'true' : 'false',
      },
      ruleset_checksum: this.rulesetChecksum,
    };
  }
}

/** An open detection as snapshot data. */
function saveOpen(o: Open): unknown {
  return { id: o.id, first: o.first, last: o.last, count: o.count, evidence: o.evidence };
}

function loadOpen(data: unknown): Open {
  return { id: field<string>(data, 'id'), first: field<number>(data, 'first'), last: field<number>(data, 'last'), count: field<number>(data, 'count'), evidence: [...field<Evidence>(data, 'evidence')] };
}

/** What to look for in stored events. */
export interface RetroMatchOptions {
  orgIds?: readonly string[];
  /** Window end (epoch ms); the look-back counts back from it. @default Date.now() */
  until?: number;
  lookbackMs?: number;
  maxRows?: number;
  /**
   * Event attribute keys holding host names (the stored events table keeps class records as
   * attributes). @default ['query', 'host', 'server_name', 'dns.query', 'http.host', 'tls.sni']
   */
  domainAttributes?: readonly string[];
}

interface RetroRow {
  event_id: string;
  org_id: string;
  time_ms: string | number;
  src: string;
  dst: string;
  raw_topic: string;
  raw_partition: number | string;
  raw_offset: number | string;
  names: string[];
}

const unmap = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

/**
 * Retro-matching: when new indicators arrive, finds stored events of the look-back window that
 * touched them and reports them as detections (marked `retro`). Addresses are matched in
 * ClickHouse (exact addresses with `IN`, networks with `isIPAddressInRange`), host names against
 * the configured attributes and their parent domains; everything is bound as parameters. The rows
 * are re-checked with an index of the new indicators before reporting: an indicator counts for
 * events before its `valid_from` (that is the point of looking back) but not after its `valid_until`.
 */
export async function retroMatch(driver: StorageDriver, analytic: IntelMatchAnalytic, added: readonly Indicator[], options: RetroMatchOptions = {}): Promise<MamoriDetection[]> {
  const until = options.until ?? Date.now();
  const since = until - (options.lookbackMs ?? DEFAULT_INTEL_MATCH_CONFIG.retroLookbackMs);
  const index = new IndicatorIndex();
  const ips: string[] = [];
  const nets: string[] = [];
  const domains: string[] = [];
  for (const ind of added) {
    if (ind.validUntil <= since) continue;
    if (ind.kind === 'ip') (ind.value.includes('/') ? nets : ips).push(ind.value);
    else if (ind.kind === 'domain') domains.push(ind.value);
    else continue;
    // Retro-matching exists for activity from before the indicator was known: `valid_from` (often the
    // time the feed learned it) does not hold it back, `valid_until` still ends it.
    index.add(ind.validFrom > Number.NEGATIVE_INFINITY ? { ...ind, validFrom: Number.NEGATIVE_INFINITY } : ind);
  }
  if (ips.length + nets.length + domains.length === 0) return [];
  const db = assertIdentifier('database', driver.database);
  const attrs = options.domainAttributes ?? ['query', 'host', 'server_name', 'dns.query', 'http.host', 'tls.sni'];
  const where: string[] = [];
  const params: Record<string, unknown> = {
    since, until, attrs: [...attrs], domains, limit: options.maxRows ?? DEFAULT_INTEL_MATCH_CONFIG.retroMaxRows,
    ips: ips.map((ip) => (ip.includes(':') ? ip : `::ffff:${ip}`)),
    nets: nets.map((n) => (n.includes(':') ? n : `::ffff:${n.split('/')[0]}/${96 + Number(n.split('/')[1])}`)),
  };
  if (ips.length > 0) where.push('src_ip IN (SELECT toIPv6(arrayJoin({ips:Array(String)}))) OR dst_ip IN (SELECT toIPv6(arrayJoin({ips:Array(String)})))');
  if (nets.length > 0) where.push("arrayExists(n -> isIPAddressInRange(IPv6NumToString(src_ip), n) OR isIPAddressInRange(IPv6NumToString(dst_ip), n), {nets:Array(String)})");
  // A name matches an indicator domain when it equals it or ends with '.' + it.
  if (domains.length > 0) where.push("arrayExists(v -> arrayExists(d -> v = d OR endsWith(v, concat('.', d)), {domains:Array(String)}), arrayMap(k -> lower(trimRight(attributes[k], '.')), {attrs:Array(String)}))");
  if (options.orgIds) {
    if (options.orgIds.length === 0) return [];
    params['orgIds'] = [...options.orgIds];
  }
  const sql = `SELECT event_id, org_id, toUnixTimestamp64Milli(time) AS time_ms, IPv6NumToString(src_ip) AS src, IPv6NumToString(dst_ip) AS dst,
  raw_topic, raw_partition, raw_offset, arrayFilter(x -> x != '', arrayMap(k -> attributes[k], {attrs:Array(String)})) AS names
FROM ${db}.events FINAL
WHERE time >= fromUnixTimestamp64Milli({since:Int64}) AND time < fromUnixTimestamp64Milli({until:Int64})
  ${options.orgIds ? 'AND org_id IN {orgIds:Array(String)}' : ''}
  AND (${where.join(' OR ')})
ORDER BY time
LIMIT {limit:UInt32}`;
  const rows = await driver.query<RetroRow>(sql, params);
  const out = new Map<string, MamoriDetection>();
  for (const r of rows) {
    const time = Number(r.time_ms);
    const event = { event_id: r.event_id, raw: { topic: r.raw_topic, partition: Number(r.raw_partition), offset: Number(r.raw_offset) }, src_ip: unmap(r.src), dst_ip: unmap(r.dst) };
    const hits: { field: string; match: IndicatorMatch }[] = [];
    for (const m of index.matchIp(event.src_ip, time)) hits.push({ field: 'src_ip', match: m });
    for (const m of index.matchIp(event.dst_ip, time)) hits.push({ field: 'dst_ip', match: m });
    for (const name of r.names) for (const m of index.matchDomain(name, time)) hits.push({ field: 'dns.query', match: m });
    for (const { field, match } of hits) {
      const d = analytic.sighting(r.org_id, event, field, match, time, true);
      if (d) out.set(d.detection_id, d);
    }
  }
  return [...out.values()];
}
