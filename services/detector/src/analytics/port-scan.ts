import { createHash } from 'node:crypto';
import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the port-scan analytic; defaults are justified in docs/detections.md. */
export interface PortScanConfig {
  /** Sliding window over which distinct targets are counted. @default 60000 */
  windowMs: number;
  /** Distinct destination hosts probed on one port within the window: a horizontal scan. @default 20 */
  horizontalMinHosts: number;
  /** Distinct destination ports probed on one host within the window: a vertical scan. @default 20 */
  verticalMinPorts: number;
  /** An episode closes when its source has not probed for this long (event time). @default 120000 */
  episodeGapMs: number;
  /** Probes kept per source in the window; older ones beyond it are forgotten early. @default 20000 */
  maxProbesPerSource: number;
  /** Sources tracked at once; the least recently active are evicted beyond it. @default 100000 */
  maxSources: number;
  /** Evidence references kept in a detection. @default 20 */
  maxEvidence: number;
  /** An open episode is re-reported at most this often (event time) while it grows. @default 10000 */
  updateIntervalMs: number;
}

export const DEFAULT_PORT_SCAN_CONFIG: Readonly<PortScanConfig> = Object.freeze({
  windowMs: 60_000,
  horizontalMinHosts: 20,
  verticalMinPorts: 20,
  episodeGapMs: 120_000,
  maxProbesPerSource: 20_000,
  maxSources: 100_000,
  maxEvidence: 20,
  updateIntervalMs: 10_000,
});

export const PORT_SCAN_RULE_ID = 'mamori.network.port_scan';
export const PORT_SCAN_RULE_VERSION = 1;

/**
 * Connection states (Zeek's conn_state) of an attempt that did not become a normal session: no
 * answer (S0, SH, OTH...), refused (REJ) or reset right away (RSTO/RSTR...). A scan is mostly made
 * of these; ordinary clients produce few. Established sessions (SF, S1-S3) are not probes unless
 * they carried no payload at all.
 */
const PROBE_STATES = new Set(['S0', 'REJ', 'RSTO', 'RSTOS0', 'RSTR', 'RSTRH', 'SH', 'SHR', 'OTH']);

export function isProbe(event: MamoriEvent): boolean {
  if (event.conn_state != null && PROBE_STATES.has(event.conn_state)) return true;
  return event.bytes_out === 0 && event.bytes_in === 0 && event.protocol !== 'icmp' && event.protocol !== 'ipv6-icmp';
}

interface Probe {
  time: number;
  host: string;
  port: number;
}

interface Episode {
  id: string;
  firstSeen: number;
  lastSeen: number;
  count: number;
  hosts: Set<string>;
  ports: Set<number>;
  kind: 'horizontal' | 'vertical' | 'horizontal+vertical';
  peakHostsOnPort: number;
  peakPortsOnHost: number;
  evidence: MamoriDetection['evidence'];
  version: number;
  lastReported: number;
  dirty: boolean;
}

interface SourceState {
  orgId: string;
  srcIp: string;
  probes: Probe[];
  head: number;
  hostsByPort: Map<number, Map<string, number>>;
  portsByHost: Map<string, Map<number, number>>;
  episode: Episode | undefined;
  lastSeen: number;
}

const CAP = 10_000;

/**
 * Horizontal (one port, many hosts) and vertical (one host, many ports) port scans from one
 * source, over a sliding event-time window. Repeated activity of the same source extends one
 * episode, reported under one deterministic detection id, instead of raising a flood.
 */
export class PortScanAnalytic implements StatefulAnalytic {
  readonly ruleId = PORT_SCAN_RULE_ID;
  private readonly sources = new TrackedEntities<SourceState>();

  constructor(
    private readonly config: PortScanConfig = DEFAULT_PORT_SCAN_CONFIG,
    private readonly rulesetChecksum = '',
  ) {}

  size(): number {
    return this.sources.size;
  }

  fork(): PortScanAnalytic {
    return new PortScanAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.sources.takeChanges(saveSource);
  }

  importEntity(key: string, order: number, value: unknown): void {
    this.sources.restore(key, order, loadSource(value));
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    if (!isProbe(event) || !event.src_ip || !event.dst_ip) return [];
    const key = `${event.org_id}\u0000${event.src_ip}`;
    const out: MamoriDetection[] = [];
    let state = this.sources.get(key);
    if (state && !this.settle(key, state, watermark, Date.now(), out)) state = undefined;
    if (!state) {
      state = { orgId: event.org_id, srcIp: event.src_ip, probes: [], head: 0, hostsByPort: new Map(), portsByHost: new Map(), episode: undefined, lastSeen: 0 };
      this.evictIfFull();
    }
    // Re-inserting keeps the least recently active first.
    this.sources.touch(key, state);
    state.lastSeen = Math.max(state.lastSeen, event.time);

    this.expire(state, event.time - this.config.windowMs);
    if (state.probes.length - state.head >= this.config.maxProbesPerSource) this.dropOldest(state);
    const probe: Probe = { time: event.time, host: event.dst_ip, port: event.dst_port };
    state.probes.push(probe);
    const hostsOnPort = increment(state.hostsByPort, probe.port, probe.host);
    const portsOnHost = increment(state.portsByHost, probe.host, probe.port);

    const episode = state.episode;
    if (episode) {
      this.extend(episode, event, hostsOnPort, portsOnHost);
      if (event.time - episode.lastReported >= this.config.updateIntervalMs) out.push(this.report(state, episode, Date.now()));
      return out;
    }
    const horizontal = hostsOnPort >= this.config.horizontalMinHosts;
    const vertical = portsOnHost >= this.config.verticalMinPorts;
    if (horizontal || vertical) out.push(this.open(state, event, horizontal, vertical));
    return out;
  }

  advance(watermark: number, now: number): MamoriDetection[] {
    const out: MamoriDetection[] = [];
    for (const [key, state] of this.sources) this.settle(key, state, watermark, now, out);
    return out;
  }

  /** What the watermark does to one source: close a quiet episode, forget an expired window. False when the source is gone. */
  private settle(key: string, state: SourceState, watermark: number, now: number, out: MamoriDetection[]): boolean {
    const episode = state.episode;
    if (episode && episode.lastSeen + this.config.episodeGapMs <= watermark) {
      if (episode.dirty) out.push(this.report(state, episode, now));
      state.episode = undefined;
      this.sources.changedInPlace(key);
    }
    if (!state.episode && state.lastSeen + this.config.windowMs <= watermark) {
      this.sources.delete(key);
      return false;
    }
    return true;
  }

  private open(state: SourceState, trigger: MamoriEvent, horizontal: boolean, vertical: boolean): MamoriDetection {
    // Everything still in the window belongs to the episode: the probes that led up to the
    // threshold are evidence too.
    const live = state.probes.slice(state.head);
    // Sensors do not always write in time order (Zeek logs a connection when it ends): take the
    // earliest and latest probe times, not the first and last in arrival order.
    let first = trigger.time;
    let last = trigger.time;
    for (const probe of live) {
      if (probe.time < first) first = probe.time;
      if (probe.time > last) last = probe.time;
    }
    const episode: Episode = {
      id: detectionId(PORT_SCAN_RULE_ID, state.orgId, state.srcIp, first),
      firstSeen: first,
      lastSeen: last,
      count: live.length,
      hosts: new Set(),
      ports: new Set(),
      kind: horizontal && vertical ? 'horizontal+vertical' : horizontal ? 'horizontal' : 'vertical',
      peakHostsOnPort: maxSize(state.hostsByPort),
      peakPortsOnHost: maxSize(state.portsByHost),
      evidence: [],
      version: 0,
      lastReported: trigger.time,
      dirty: true,
    };
    for (const probe of live) {
      addCapped(episode.hosts, probe.host);
      addCapped(episode.ports, probe.port);
    }
    this.addEvidence(episode, trigger);
    state.episode = episode;
    return this.report(state, episode, Date.now());
  }

  private extend(episode: Episode, event: MamoriEvent, hostsOnPort: number, portsOnHost: number): void {
    episode.count += 1;
    episode.lastSeen = Math.max(episode.lastSeen, event.time);
    addCapped(episode.hosts, event.dst_ip);
    addCapped(episode.ports, event.dst_port);
    episode.peakHostsOnPort = Math.max(episode.peakHostsOnPort, hostsOnPort);
    episode.peakPortsOnHost = Math.max(episode.peakPortsOnHost, portsOnHost);
    const horizontal = episode.peakHostsOnPort >= this.config.horizontalMinHosts;
    const vertical = episode.peakPortsOnHost >= this.config.verticalMinPorts;
    episode.kind = horizontal && vertical ? 'horizontal+vertical' : vertical ? 'vertical' : 'horizontal';
    this.addEvidence(episode, event);
    episode.dirty = true;
  }

  private addEvidence(episode: Episode, event: MamoriEvent): void {
    if (episode.evidence.length >= this.config.maxEvidence) return;
    episode.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
  }

  private report(state: SourceState, episode: Episode, detectedAt: number): MamoriDetection {
    episode.version += 1;
    episode.lastReported = episode.lastSeen;
    episode.dirty = false;
    const hosts = episode.hosts.size;
    const ports = episode.ports.size;
    const what =
      episode.kind === 'vertical'
        ? `${episode.peakPortsOnHost} ports on one host`
        : episode.kind === 'horizontal'
          ? `${episode.peakHostsOnPort} hosts on one port`
          : `${episode.peakHostsOnPort} hosts on one port and ${episode.peakPortsOnHost} ports on one host`;
    return {
      detection_id: episode.id,
      rule_id: PORT_SCAN_RULE_ID,
      rule_version: PORT_SCAN_RULE_VERSION,
      title: `Port scan (${episode.kind}) from ${state.srcIp}`,
      severity: episode.kind === 'horizontal+vertical' || hosts >= 100 ? 'high' : 'medium',
      confidence: Math.min(0.99, 0.6 + 0.1 * Math.log10(Math.max(1, episode.count))),
      tactics: ['TA0043', 'TA0007'],
      techniques: ['T1046', 'T1595.001'],
      org_id: state.orgId,
      entity: { type: 'ip', value: state.srcIp },
      src_ip: state.srcIp,
      first_seen: episode.firstSeen,
      last_seen: episode.lastSeen,
      detected_at: detectedAt,
      count: episode.count,
      summary:
        `${state.srcIp} made ${episode.count} unanswered or refused connection attempts to ${hosts} hosts and ${ports} ports; ` +
        `peak ${what} within ${Math.round(this.config.windowMs / 1000)} s ` +
        `(thresholds: ${this.config.horizontalMinHosts} hosts on a port, ${this.config.verticalMinPorts} ports on a host).`,
      evidence: [...episode.evidence],
      attributes: {
        kind: episode.kind,
        distinct_hosts: String(hosts),
        distinct_ports: String(ports),
        peak_hosts_on_port: String(episode.peakHostsOnPort),
        peak_ports_on_host: String(episode.peakPortsOnHost),
        window_ms: String(this.config.windowMs),
        version: String(episode.version),
      },
      ruleset_checksum: this.rulesetChecksum,
    };
  }

  private expire(state: SourceState, before: number): void {
    while (state.head < state.probes.length && state.probes[state.head]!.time < before) this.dropOldest(state);
    if (state.head > 1024 && state.head * 2 > state.probes.length) {
      state.probes = state.probes.slice(state.head);
      state.head = 0;
    }
  }

  private dropOldest(state: SourceState): void {
    const probe = state.probes[state.head];
    if (!probe) return;
    state.head += 1;
    decrement(state.hostsByPort, probe.port, probe.host);
    decrement(state.portsByHost, probe.host, probe.port);
  }

  private evictIfFull(): void {
    while (this.sources.size >= this.config.maxSources) {
      const oldest = this.sources.oldest();
      if (oldest === undefined) return;
      this.sources.delete(oldest);
    }
  }
}

/** A source's state as snapshot data: the live probes (indexes are rebuilt from them) and the open episode. */
function saveSource(state: SourceState): unknown {
  const e = state.episode;
  return {
    org: state.orgId,
    src: state.srcIp,
    lastSeen: state.lastSeen,
    probes: state.probes.slice(state.head).map((p) => [p.time, p.host, p.port]),
    episode: e
      ? {
          id: e.id, firstSeen: e.firstSeen, lastSeen: e.lastSeen, count: e.count, hosts: [...e.hosts], ports: [...e.ports], kind: e.kind,
          peakHostsOnPort: e.peakHostsOnPort, peakPortsOnHost: e.peakPortsOnHost, evidence: e.evidence, version: e.version, lastReported: e.lastReported, dirty: e.dirty,
        }
      : null,
  };
}

function loadSource(data: unknown): SourceState {
  const state: SourceState = {
    orgId: field<string>(data, 'org'), srcIp: field<string>(data, 'src'), probes: [], head: 0, hostsByPort: new Map(), portsByHost: new Map(), episode: undefined, lastSeen: field<number>(data, 'lastSeen'),
  };
  for (const [time, host, port] of field<[number, string, number][]>(data, 'probes')) {
    state.probes.push({ time, host, port });
    increment(state.hostsByPort, port, host);
    increment(state.portsByHost, host, port);
  }
  const e = field<Record<string, unknown> | null>(data, 'episode');
  if (e) {
    state.episode = {
      id: field(e, 'id'), firstSeen: field(e, 'firstSeen'), lastSeen: field(e, 'lastSeen'), count: field(e, 'count'), hosts: new Set(field<string[]>(e, 'hosts')), ports: new Set(field<number[]>(e, 'ports')),
      kind: field(e, 'kind'), peakHostsOnPort: field(e, 'peakHostsOnPort'), peakPortsOnHost: field(e, 'peakPortsOnHost'), evidence: field<Evidence>(e, 'evidence'), version: field(e, 'version'),
      lastReported: field(e, 'lastReported'), dirty: field(e, 'dirty'),
    };
  }
  return state;
}

function increment<K, V>(index: Map<K, Map<V, number>>, key: K, value: V): number {
  let inner = index.get(key);
  if (!inner) index.set(key, (inner = new Map()));
  inner.set(value, (inner.get(value) ?? 0) + 1);
  return inner.size;
}

function decrement<K, V>(index: Map<K, Map<V, number>>, key: K, value: V): void {
  const inner = index.get(key);
  if (!inner) return;
  const count = (inner.get(value) ?? 0) - 1;
  if (count > 0) inner.set(value, count);
  else inner.delete(value);
  if (inner.size === 0) index.delete(key);
}

function maxSize<K, V>(index: Map<K, Map<V, number>>): number {
  let max = 0;
  for (const inner of index.values()) max = Math.max(max, inner.size);
  return max;
}

function addCapped<T>(set: Set<T>, value: T): void {
  if (set.size < CAP) set.add(value);
}

/** Deterministic: the same episode of the same source always gets the same id, on any instance. */
export function detectionId(ruleId: string, orgId: string, entity: string, firstSeen: number): string {
  return createHash('sha256').update(`${ruleId}\u0000${orgId}\u0000${entity}\u0000${firstSeen}`).digest('hex').slice(0, 32);
}
