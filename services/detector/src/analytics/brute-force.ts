import type { MamoriDetection, MamoriEvent, Severity } from '@mamori/events';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the brute-force / password-spraying analytic; defaults are justified in docs/detections.md. */
export interface BruteForceConfig {
  /** Sliding window over which failures are counted. @default 600000 (10 min) */
  windowMs: number;
  /** Failures for one (source, user) within the window: brute force on an account. @default 10 */
  userMinFailures: number;
  /** Failures from one source on one target host within the window (any users): brute force on a host. @default 20 */
  targetMinFailures: number;
  /** Distinct users failed from one source within the window: password spraying... @default 10 */
  sprayMinUsers: number;
  /** ...with at most this many failures per user on average (more is brute force on each). @default 3 */
  sprayMaxFailuresPerUser: number;
  /** Without authentication records: short connections from one source to one host's login port. @default 30 */
  connMinAttempts: number;
  /** Destination ports whose short connections count as login attempts. @default [22, 3389, 23, 21, 5900] */
  authPorts: readonly number[];
  /** A connection to a login port with fewer client bytes than this is one attempt (a session that logged in sends more). @default 5000 */
  connMaxBytesOut: number;
  /** ...and shorter than this. @default 30000 */
  connMaxDurationMs: number;
  /** An episode closes after this long without failures. @default 1800000 (30 min) */
  episodeGapMs: number;
  /** Attempts kept per source in the window. @default 10000 */
  maxAttemptsPerSource: number;
  /** Sources tracked at once (least recently active evicted). @default 100000 */
  maxSources: number;
  /** Re-report a growing episode at most this often (event time). @default 60000 */
  updateIntervalMs: number;
}

export const DEFAULT_BRUTE_FORCE_CONFIG: Readonly<BruteForceConfig> = Object.freeze({
  windowMs: 600_000,
  userMinFailures: 10,
  targetMinFailures: 20,
  sprayMinUsers: 10,
  sprayMaxFailuresPerUser: 3,
  connMinAttempts: 30,
  authPorts: Object.freeze([22, 3389, 23, 21, 5900]),
  connMaxBytesOut: 5000,
  connMaxDurationMs: 30_000,
  episodeGapMs: 1_800_000,
  maxAttemptsPerSource: 10_000,
  maxSources: 100_000,
  updateIntervalMs: 60_000,
});

export const BRUTE_FORCE_RULE_ID = 'mamori.auth.brute_force';

const FAILURE = new Set(['failure', 'failed', 'fail', 'denied', 'rejected', 'invalid']);
const SUCCESS = new Set(['success', 'succeeded', 'ok', 'accepted', 'allowed']);

type Kind = 'brute_force_user' | 'brute_force_host' | 'password_spray' | 'conn_brute_force';

/** What an event says about authentication: a failure, a success, a login-port attempt, or nothing. */
export function authOutcome(event: MamoriEvent, config: BruteForceConfig = DEFAULT_BRUTE_FORCE_CONFIG): { outcome: 'failure' | 'success' | 'attempt'; user: string | null; failures: number } | undefined {
  const user = event.auth?.user ?? event.user ?? null;
  const result = event.auth?.result?.toLowerCase();
  if (result && FAILURE.has(result)) return { outcome: 'failure', user, failures: 1 };
  if (result && SUCCESS.has(result)) return { outcome: 'success', user, failures: 0 };
  const ssh = event.ssh;
  if (ssh) {
    // Zeek ssh.log: auth_success F with auth_attempts tries; T means a login (after attempts-1 failures).
    if (ssh.auth_success === false) return { outcome: 'failure', user, failures: Math.max(1, ssh.auth_attempts ?? 1) };
    if (ssh.auth_success === true) return { outcome: 'success', user, failures: 0 };
    if ((ssh.auth_attempts ?? 0) > 0) return { outcome: 'attempt', user, failures: ssh.auth_attempts ?? 1 };
  }
  if (event.event_class === 'network_activity' && event.protocol === 'tcp' && config.authPorts.includes(event.dst_port) && event.bytes_out < config.connMaxBytesOut && event.duration_ms < config.connMaxDurationMs) {
    return { outcome: 'attempt', user: null, failures: 1 };
  }
  return undefined;
}

interface Attempt {
  time: number;
  target: string;
  user: string | null;
  failures: number;
  conn: boolean;
}

interface Episode {
  id: string;
  kinds: Set<Kind>;
  firstSeen: number;
  lastSeen: number;
  failures: number;
  targets: Set<string>;
  users: Set<string>;
  peakUserFailures: number;
  peakTargetFailures: number;
  peakUsers: number;
  peakConnAttempts: number;
  successAfterFailures: { time: number; user: string | null; target: string } | undefined;
  evidence: MamoriDetection['evidence'];
  version: number;
  lastReported: number;
  dirty: boolean;
}

interface SourceState {
  orgId: string;
  srcIp: string;
  attempts: Attempt[];
  head: number;
  byUser: Map<string, number>;
  byTarget: Map<string, number>;
  connByTarget: Map<string, number>;
  episode: Episode | undefined;
  lastSeen: number;
}

const CAP = 1000;

/**
 * Brute force and password spraying from one source: many failures on one account or one host,
 * few failures each on many accounts, or (without authentication records) many short connections
 * to a login port. A success from the same source during the episode raises the severity: the
 * guessing may have worked.
 */
export class BruteForceAnalytic implements StatefulAnalytic {
  readonly ruleId = BRUTE_FORCE_RULE_ID;
  private readonly sources = new TrackedEntities<SourceState>();

  constructor(private readonly config: BruteForceConfig = DEFAULT_BRUTE_FORCE_CONFIG, private readonly rulesetChecksum = '') {}

  size(): number {
    return this.sources.size;
  }

  fork(): BruteForceAnalytic {
    return new BruteForceAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.sources.takeChanges(saveSource);
  }

  importEntity(key: string, order: number, value: unknown): void {
    const state = loadSource(value);
    for (let i = state.head; i < state.attempts.length; i++) this.count(state, state.attempts[i]!, 1);
    this.sources.restore(key, order, state);
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    if (!event.src_ip) return [];
    const auth = authOutcome(event, this.config);
    if (!auth) return [];
    const key = `${event.org_id}\u0000${event.src_ip}`;
    const out: MamoriDetection[] = [];
    let state = this.sources.get(key);
    if (state && !this.settle(key, state, watermark, out)) state = undefined;
    if (auth.outcome === 'success') {
      // A success matters only after failures: it never creates state.
      const ep = state?.episode;
      if (!state || !ep || ep.successAfterFailures) return out;
      ep.successAfterFailures = { time: event.time, user: auth.user, target: event.dst_ip || event.host || '' };
      this.addEvidence(ep, event);
      this.sources.changedInPlace(key);
      out.push(this.report(state, ep));
      return out;
    }
    if (!state) {
      while (this.sources.size >= this.config.maxSources) this.sources.delete(this.sources.oldest()!);
      state = { orgId: event.org_id, srcIp: event.src_ip, attempts: [], head: 0, byUser: new Map(), byTarget: new Map(), connByTarget: new Map(), episode: undefined, lastSeen: 0 };
    }
    this.sources.touch(key, state);
    state.lastSeen = Math.max(state.lastSeen, event.time);
    this.expire(state, event.time - this.config.windowMs);
    if (state.attempts.length - state.head >= this.config.maxAttemptsPerSource) this.dropOldest(state);
    const attempt: Attempt = { time: event.time, target: event.dst_ip || event.host || '', user: auth.user?.toLowerCase() ?? null, failures: auth.failures, conn: auth.outcome === 'attempt' };
    state.attempts.push(attempt);
    this.count(state, attempt, 1);

    const userFailures = attempt.user !== null ? (state.byUser.get(attempt.user) ?? 0) : 0;
    const targetFailures = attempt.conn ? 0 : (state.byTarget.get(attempt.target) ?? 0);
    const connAttempts = attempt.conn ? (state.connByTarget.get(attempt.target) ?? 0) : 0;
    const users = state.byUser.size;
    let userTotal = 0;
    for (const n of state.byUser.values()) userTotal += n;
    const kinds: Kind[] = [];
    if (userFailures >= this.config.userMinFailures) kinds.push('brute_force_user');
    if (targetFailures >= this.config.targetMinFailures) kinds.push('brute_force_host');
    if (users >= this.config.sprayMinUsers && userTotal / users <= this.config.sprayMaxFailuresPerUser) kinds.push('password_spray');
    if (connAttempts >= this.config.connMinAttempts) kinds.push('conn_brute_force');

    let episode = state.episode;
    if (!episode) {
      if (kinds.length === 0) return out;
      const live = state.attempts.slice(state.head);
      const first = live[0]?.time ?? event.time;
      episode = {
        id: detectionId(BRUTE_FORCE_RULE_ID, state.orgId, state.srcIp, first),
        kinds: new Set(), firstSeen: first, lastSeen: event.time, failures: 0, targets: new Set(), users: new Set(),
        peakUserFailures: 0, peakTargetFailures: 0, peakUsers: 0, peakConnAttempts: 0, successAfterFailures: undefined,
        evidence: [], version: 0, lastReported: event.time, dirty: true,
      };
      for (const a of live) this.absorb(episode, a);
      state.episode = episode;
    } else this.absorb(episode, attempt);
    for (const k of kinds) episode.kinds.add(k);
    episode.lastSeen = Math.max(episode.lastSeen, event.time);
    episode.peakUserFailures = Math.max(episode.peakUserFailures, maxOf(state.byUser));
    episode.peakTargetFailures = Math.max(episode.peakTargetFailures, targetFailures);
    episode.peakUsers = Math.max(episode.peakUsers, users);
    episode.peakConnAttempts = Math.max(episode.peakConnAttempts, connAttempts);
    this.addEvidence(episode, event);
    episode.dirty = true;
    if (episode.version === 0 || event.time - episode.lastReported >= this.config.updateIntervalMs) out.push(this.report(state, episode));
    return out;
  }

  advance(watermark: number): MamoriDetection[] {
    const out: MamoriDetection[] = [];
    for (const [key, state] of this.sources) this.settle(key, state, watermark, out);
    return out;
  }

  /** What the watermark does to one source: close a quiet episode, forget an expired window. False when the source is gone. */
  private settle(key: string, state: SourceState, watermark: number, out: MamoriDetection[]): boolean {
    const ep = state.episode;
    if (ep && ep.lastSeen + this.config.episodeGapMs <= watermark) {
      if (ep.dirty) out.push(this.report(state, ep));
      state.episode = undefined;
      this.sources.changedInPlace(key);
    }
    if (!state.episode && state.lastSeen + this.config.windowMs <= watermark) {
      this.sources.delete(key);
      return false;
    }
    return true;
  }

  private absorb(ep: Episode, a: Attempt): void {
    ep.failures += a.failures;
    if (ep.targets.size < CAP && a.target) ep.targets.add(a.target);
    if (a.user !== null && ep.users.size < CAP) ep.users.add(a.user);
  }

  private report(state: SourceState, ep: Episode): MamoriDetection {
    ep.version += 1;
    ep.lastReported = ep.lastSeen;
    ep.dirty = false;
    const kinds = [...ep.kinds].sort();
    const spray = ep.kinds.has('password_spray');
    const success = ep.successAfterFailures;
    const severity: Severity = success ? 'critical' : spray || ep.failures >= 10 * this.config.targetMinFailures ? 'high' : 'medium';
    const c = this.config;
    const reasons: string[] = [];
    if (ep.kinds.has('brute_force_user')) reasons.push(`${ep.peakUserFailures} failures on one account (threshold ${c.userMinFailures})`);
    if (ep.kinds.has('brute_force_host')) reasons.push(`${ep.peakTargetFailures} failures on one host (threshold ${c.targetMinFailures})`);
    if (spray) reasons.push(`${ep.peakUsers} distinct accounts with at most ${c.sprayMaxFailuresPerUser} failures each on average (threshold ${c.sprayMinUsers} accounts)`);
    if (ep.kinds.has('conn_brute_force')) reasons.push(`${ep.peakConnAttempts} short connections to a login port of one host (threshold ${c.connMinAttempts})`);
    const within = `within ${Math.round(c.windowMs / 60_000)} min`;
    return {
      detection_id: ep.id,
      rule_id: BRUTE_FORCE_RULE_ID,
      rule_version: 1,
      title: `${spray ? 'Password spraying' : 'Brute force'} from ${state.srcIp}${success ? ' followed by a successful login' : ''}`,
      severity,
      confidence: Math.min(0.99, (success ? 0.8 : 0.6) + 0.1 * Math.log10(Math.max(1, ep.failures))),
      tactics: ['TA0006'],
      techniques: spray ? ['T1110.003'] : ['T1110.001'],
      org_id: state.orgId,
      entity: { type: 'ip', value: state.srcIp },
      src_ip: state.srcIp,
      first_seen: ep.firstSeen,
      last_seen: Math.max(ep.lastSeen, success?.time ?? 0),
      detected_at: Date.now(),
      count: ep.failures,
      summary:
        `${state.srcIp} made ${ep.failures} failed login attempts against ${ep.targets.size} host(s) and ${ep.users.size} account(s); ` +
        `${reasons.join('; ')} ${within}` +
        (success ? `; then logged in${success.user ? ` as ${success.user}` : ''} on ${success.target}.` : '.'),
      evidence: [...ep.evidence],
      attributes: {
        kind: kinds.join(','),
        failures: String(ep.failures),
        distinct_targets: String(ep.targets.size),
        distinct_users: String(ep.users.size),
        peak_user_failures: String(ep.peakUserFailures),
        peak_target_failures: String(ep.peakTargetFailures),
        peak_users: String(ep.peakUsers),
        peak_conn_attempts: String(ep.peakConnAttempts),
        success_after_failures: success ? 'true' : 'false',
        ...(success?.user ? { success_user: success.user } : {}),
        window_ms: String(c.windowMs),
        version: String(ep.version),
      },
      ruleset_checksum: this.rulesetChecksum,
    };
  }

  private addEvidence(ep: Episode, event: MamoriEvent): void {
    if (ep.evidence.length < 20) ep.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
  }

  private count(state: SourceState, a: Attempt, sign: 1 | -1): void {
    const bump = (m: Map<string, number>, k: string, n: number) => {
      const v = (m.get(k) ?? 0) + sign * n;
      if (v > 0) m.set(k, v);
      else m.delete(k);
    };
    if (a.conn) bump(state.connByTarget, a.target, a.failures);
    else {
      bump(state.byTarget, a.target, a.failures);
      if (a.user !== null) bump(state.byUser, a.user, a.failures);
    }
  }

  private expire(state: SourceState, before: number): void {
    while (state.head < state.attempts.length && state.attempts[state.head]!.time < before) this.dropOldest(state);
    if (state.head > 1024 && state.head * 2 > state.attempts.length) {
      state.attempts = state.attempts.slice(state.head);
      state.head = 0;
    }
  }

  private dropOldest(state: SourceState): void {
    const a = state.attempts[state.head];
    if (!a) return;
    state.head += 1;
    this.count(state, a, -1);
  }
}

/** A source's state as snapshot data: the live attempts (the per-user and per-target counts are rebuilt from them) and the open episode. */
function saveSource(state: SourceState): unknown {
  const e = state.episode;
  return {
    org: state.orgId,
    src: state.srcIp,
    lastSeen: state.lastSeen,
    attempts: state.attempts.slice(state.head).map((a) => [a.time, a.target, a.user, a.failures, a.conn ? 1 : 0]),
    episode: e
      ? {
          id: e.id, kinds: [...e.kinds], firstSeen: e.firstSeen, lastSeen: e.lastSeen, failures: e.failures, targets: [...e.targets], users: [...e.users],
          peakUserFailures: e.peakUserFailures, peakTargetFailures: e.peakTargetFailures, peakUsers: e.peakUsers, peakConnAttempts: e.peakConnAttempts,
          success: e.successAfterFailures ?? null, evidence: e.evidence, version: e.version, lastReported: e.lastReported, dirty: e.dirty,
        }
      : null,
  };
}

/** The counts are rebuilt by the caller (they need the analytic's counting rule). */
function loadSource(data: unknown): SourceState {
  const attempts = field<[number, string, string | null, number, number][]>(data, 'attempts').map(([time, target, user, failures, conn]) => ({ time, target, user, failures, conn: conn === 1 }));
  const state: SourceState = {
    orgId: field(data, 'org'), srcIp: field(data, 'src'), attempts, head: 0, byUser: new Map(), byTarget: new Map(), connByTarget: new Map(), episode: undefined, lastSeen: field(data, 'lastSeen'),
  };
  const e = field<Record<string, unknown> | null>(data, 'episode');
  if (e) {
    const success = field<Episode['successAfterFailures'] | null>(e, 'success');
    state.episode = {
      id: field(e, 'id'), kinds: new Set(field<Kind[]>(e, 'kinds')), firstSeen: field(e, 'firstSeen'), lastSeen: field(e, 'lastSeen'), failures: field(e, 'failures'),
      targets: new Set(field<string[]>(e, 'targets')), users: new Set(field<string[]>(e, 'users')), peakUserFailures: field(e, 'peakUserFailures'),
      peakTargetFailures: field(e, 'peakTargetFailures'), peakUsers: field(e, 'peakUsers'), peakConnAttempts: field(e, 'peakConnAttempts'),
      successAfterFailures: success ?? undefined, evidence: field<Evidence>(e, 'evidence'), version: field(e, 'version'), lastReported: field(e, 'lastReported'), dirty: field(e, 'dirty'),
    };
  }
  return state;
}

function maxOf(m: Map<string, number>): number {
  let max = 0;
  for (const v of m.values()) if (v > max) max = v;
  return max;
}
