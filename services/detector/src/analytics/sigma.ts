import type { MamoriDetection, MamoriEvent, Severity } from '@mamori/events';
import { loadRuleDirectory, type LoadedRules, type RuleMatch, type RuleProblem, type RuleSet, type SigmaRule } from '@mamori/sigma';
import { correlationOnlyBaseRules, parseCorrelationRules } from '@mamori/sigma/correlation';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';
import { DebouncedDirectoryWatch } from '../rule-watch.ts';

/** Tunables of the Sigma analytic; keys and defaults in docs/configuration.md and docs/sigma.md. */
export interface SigmaAnalyticConfig {
  /** Rule pack directories (DETECTOR_RULES_DIRS, comma list). Empty: the analytic is not built. @default [] */
  rulesDirs: string[];
  /** Hits of the same rule on the same entity within this gap (event time) update one detection. @default 900000 */
  suppressionMs: number;
  /** An open detection is re-reported at most this often (event time) while hits keep coming. @default 60000 */
  updateIntervalMs: number;
  /** Evidence references kept in a detection. @default 20 */
  maxEvidence: number;
  /** Open detections kept at once; the least recently hit are closed beyond it. @default 100000 */
  maxOpen: number;
  /** File changes are collected for this long before a reload. @default 1000 */
  reloadDebounceMs: number;
}

export const DEFAULT_SIGMA_ANALYTIC_CONFIG: Readonly<SigmaAnalyticConfig> = Object.freeze({
  rulesDirs: [],
  suppressionMs: 900_000,
  updateIntervalMs: 60_000,
  maxEvidence: 20,
  maxOpen: 100_000,
  reloadDebounceMs: 1000,
});

export const SIGMA_ANALYTIC_ID = 'mamori.sigma';
const EMPTY: ReadonlySet<string> = new Set();

/**
 * Base rules (ids or names) that only feed correlation rules of the packs: referred to by
 * correlations none of which says `generate: true` (Sigma 2.1: such base rules raise no alerts of
 * their own). A broken correlation suppresses nothing here (the correlation loader reports it).
 */
export function correlationOnlyRules(loaded: LoadedRules): ReadonlySet<string> {
  if (loaded.correlations.length === 0) return EMPTY;
  try {
    return correlationOnlyBaseRules(parseCorrelationRules(loaded.correlations.map((c) => ({ path: c.path, doc: c.document }))));
  } catch {
    return EMPTY;
  }
}

const SEVERITY_BY_LEVEL: Readonly<Record<string, Severity>> = { informational: 'info', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };
const CONFIDENCE_BY_STATUS: Readonly<Record<string, number>> = { stable: 0.8, test: 0.7, experimental: 0.5 };

/** ATT&CK tactic names as Sigma tags write them (`attack.defense-evasion`) to tactic ids. */
const TACTICS: Readonly<Record<string, string>> = {
  reconnaissance: 'TA0043', 'resource-development': 'TA0042', 'initial-access': 'TA0001', execution: 'TA0002', persistence: 'TA0003',
  'privilege-escalation': 'TA0004', 'defense-evasion': 'TA0005', 'credential-access': 'TA0006', discovery: 'TA0007',
  'lateral-movement': 'TA0008', collection: 'TA0009', exfiltration: 'TA0010', 'command-and-control': 'TA0011', impact: 'TA0040',
};

/** `attack.t1059.001` → technique `T1059.001`; `attack.execution` → tactic `TA0002`. */
export function attackFromTags(tags: readonly string[]): { tactics: string[]; techniques: string[] } {
  const tactics = new Set<string>();
  const techniques = new Set<string>();
  for (const tag of tags) {
    const t = tag.toLowerCase();
    if (!t.startsWith('attack.')) continue;
    const rest = t.slice(7).replaceAll('_', '-');
    if (/^t\d{4}(\.\d{3})?$/.test(rest)) techniques.add(rest.toUpperCase());
    else if (/^ta\d{4}$/.test(rest)) tactics.add(rest.toUpperCase());
    else if (TACTICS[rest]) tactics.add(TACTICS[rest]);
  }
  return { tactics: [...tactics], techniques: [...techniques] };
}

/**
 * The entity a detection is about: the most specific of the event's principal user, then its
 * host, then its source address.
 */
export function entityOf(event: MamoriEvent): { type: string; value: string } {
  if (event.user) return { type: 'user', value: event.user };
  if (event.host) return { type: 'host', value: event.host };
  if (event.src_ip) return { type: 'ip', value: event.src_ip };
  return { type: 'unknown', value: '' };
}

/** Where the analytic gets the current rule set; swapped by hot reload. */
export interface RuleSetSource {
  readonly ruleSet: RuleSet;
  readonly checksum: string;
}

/** What a detection reports of its rule (kept with the episode, so a restored episode reports as the rule was when it opened). */
type RuleInfo = Pick<SigmaRule, 'id' | 'title' | 'path' | 'level' | 'status' | 'logsource' | 'tags'>;

interface Episode {
  id: string;
  rule: RuleInfo;
  orgId: string;
  entity: { type: string; value: string };
  srcIp: string | null;
  firstSeen: number;
  lastSeen: number;
  count: number;
  evidence: MamoriDetection['evidence'];
  matched: RuleMatch['matched'];
  version: number;
  lastReported: number;
  dirty: boolean;
  checksum: string;
}

const MAX_ATTRIBUTE_CHARS = 512;

/**
 * Sigma rules over normalized events. Each match becomes a detection with a deterministic id
 * (rule, organization, entity, first hit); further hits of the same rule on the same entity within
 * the suppression gap update that detection (count, last_seen, capped evidence) instead of
 * raising new ones.
 *
 * The open episodes (the suppression state) are per input partition: the detector stage runs a
 * fork per partition and writes its changes to the analytics changelog, so a hit after a restart or
 * a rebalance updates the open detection instead of raising a second one, and an update held back by
 * `updateIntervalMs` is still reported by the next owner.
 */
export class SigmaAnalytic implements StatefulAnalytic {
  readonly ruleId = SIGMA_ANALYTIC_ID;
  private readonly open = new TrackedEntities<Episode>();

  constructor(
    private readonly source: RuleSetSource,
    private readonly config: SigmaAnalyticConfig = DEFAULT_SIGMA_ANALYTIC_CONFIG,
    /** Rule ids or names whose matches only feed correlations (`generate: false`): no detection of their own. */
    private readonly correlationOnly: () => ReadonlySet<string> = () => EMPTY,
  ) {}

  size(): number {
    return this.open.size;
  }

  fork(): SigmaAnalytic {
    return new SigmaAnalytic(this.source, this.config, this.correlationOnly);
  }

  exportChanges(): StateChange[] {
    return this.open.takeChanges(saveEpisode);
  }

  importEntity(key: string, order: number, value: unknown): void {
    this.open.restore(key, order, loadEpisode(value));
  }

  ruleStats(): { rules: number; evaluated: number; matches: number } {
    const { rules, evaluated, matches } = this.source.ruleSet.stats();
    return { rules, evaluated, matches };
  }

  takeFailures(): readonly string[] {
    return this.source.ruleSet.takeFailures();
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    const matches = this.source.ruleSet.match(event);
    if (matches.length === 0) return [];
    const out: MamoriDetection[] = [];
    const entity = entityOf(event);
    const quiet = this.correlationOnly();
    for (const m of matches) {
      if (quiet.size > 0 && (quiet.has(m.rule.id) || (m.rule.name !== undefined && quiet.has(m.rule.name)))) continue;
      const key = `${m.rule.id}\u0000${event.org_id}\u0000${entity.type}\u0000${entity.value}`;
      let ep = this.open.get(key);
      // What advance(watermark) would have done to the episode first (closed it), so batch boundaries do not change the result.
      if (ep && (event.time - ep.lastSeen > this.config.suppressionMs || ep.lastSeen + this.config.suppressionMs <= watermark)) {
        if (ep.dirty) out.push(this.report(ep, Date.now()));
        this.open.delete(key);
        ep = undefined;
      }
      if (ep) {
        this.open.touch(key, ep);
        ep.count += 1;
        ep.lastSeen = Math.max(ep.lastSeen, event.time);
        if (ep.evidence.length < this.config.maxEvidence) ep.evidence.push(evidenceOf(event));
        ep.dirty = true;
        if (event.time - ep.lastReported >= this.config.updateIntervalMs) out.push(this.report(ep, Date.now()));
        continue;
      }
      this.evictIfFull(out);
      ep = {
        id: detectionId(`sigma:${m.rule.id}`, event.org_id, `${entity.type}:${entity.value}`, event.time),
        rule: ruleInfo(m.rule),
        orgId: event.org_id,
        entity,
        srcIp: event.src_ip || null,
        firstSeen: event.time,
        lastSeen: event.time,
        count: 1,
        evidence: [evidenceOf(event)],
        matched: m.matched,
        version: 0,
        lastReported: event.time,
        dirty: true,
        checksum: this.source.checksum,
      };
      this.open.touch(key, ep);
      out.push(this.report(ep, Date.now()));
    }
    return out;
  }

  advance(watermark: number, now: number): MamoriDetection[] {
    const out: MamoriDetection[] = [];
    if (watermark === Number.POSITIVE_INFINITY) {
      // Input idle (or at its end): held-back updates are reported, but the episodes stay open.
      // Suppression runs on event time, so a hit after a wall-clock lull (or after a restart, which
      // does not close anything) still updates the open detection rather than raising a new one.
      for (const [key, ep] of this.open) {
        if (!ep.dirty) continue;
        out.push(this.report(ep, now));
        this.open.changedInPlace(key);
      }
      return out;
    }
    for (const [key, ep] of this.open) {
      if (ep.lastSeen + this.config.suppressionMs <= watermark) {
        if (ep.dirty) out.push(this.report(ep, now));
        this.open.delete(key);
      }
    }
    return out;
  }

  private evictIfFull(out: MamoriDetection[]): void {
    while (this.open.size >= this.config.maxOpen) {
      const key = this.open.oldest();
      if (key === undefined) return;
      const ep = this.open.get(key)!;
      if (ep.dirty) out.push(this.report(ep, Date.now()));
      this.open.delete(key);
    }
  }

  private report(ep: Episode, detectedAt: number): MamoriDetection {
    ep.version += 1;
    ep.lastReported = ep.lastSeen;
    ep.dirty = false;
    const rule = ep.rule;
    const { tactics, techniques } = attackFromTags(rule.tags);
    const attributes: Record<string, string> = {
      sigma_id: rule.id,
      sigma_path: rule.path,
      sigma_level: rule.level ?? '',
      sigma_status: rule.status ?? '',
      logsource: [rule.logsource.product, rule.logsource.category, rule.logsource.service].filter(Boolean).join('/'),
      matched_fields: ep.matched.map((f) => f.field).join(','),
      version: String(ep.version),
    };
    for (const f of ep.matched) attributes[`matched.${f.field}`] = f.value.length > MAX_ATTRIBUTE_CHARS ? `${f.value.slice(0, MAX_ATTRIBUTE_CHARS)}…` : f.value;
    return {
      detection_id: ep.id,
      rule_id: `sigma:${rule.id}`,
      rule_version: 1,
      title: rule.title,
      severity: SEVERITY_BY_LEVEL[rule.level ?? 'medium'] ?? 'medium',
      confidence: CONFIDENCE_BY_STATUS[rule.status ?? ''] ?? 0.5,
      tactics,
      techniques,
      org_id: ep.orgId,
      entity: ep.entity,
      src_ip: ep.srcIp,
      first_seen: ep.firstSeen,
      last_seen: ep.lastSeen,
      detected_at: detectedAt,
      count: ep.count,
      summary: `Sigma rule "${rule.title}" matched ${ep.count} event(s) of ${ep.entity.type} ${ep.entity.value || '(unknown)'}` +
        (ep.matched.length > 0 ? ` on ${ep.matched.map((f) => f.field).join(', ')}.` : '.'),
      evidence: [...ep.evidence],
      attributes,
      ruleset_checksum: ep.checksum,
    };
  }
}

function ruleInfo(rule: SigmaRule): RuleInfo {
  return { id: rule.id, title: rule.title, path: rule.path, level: rule.level, status: rule.status, logsource: rule.logsource, tags: rule.tags } as RuleInfo;
}

/** An episode as snapshot data. */
function saveEpisode(ep: Episode): unknown {
  const r = ep.rule;
  return {
    id: ep.id,
    rule: { id: r.id, title: r.title, path: r.path, level: r.level ?? null, status: r.status ?? null, logsource: r.logsource, tags: r.tags },
    org: ep.orgId, entity: ep.entity, src: ep.srcIp, firstSeen: ep.firstSeen, lastSeen: ep.lastSeen, count: ep.count, evidence: ep.evidence, matched: ep.matched,
    version: ep.version, lastReported: ep.lastReported, dirty: ep.dirty, checksum: ep.checksum,
  };
}

function loadEpisode(data: unknown): Episode {
  const r = field<Record<string, unknown>>(data, 'rule');
  const level = field<SigmaRule['level'] | null>(r, 'level');
  const status = field<SigmaRule['status'] | null>(r, 'status');
  const rule = {
    id: field<string>(r, 'id'), title: field<string>(r, 'title'), path: field<string>(r, 'path'), logsource: field<SigmaRule['logsource']>(r, 'logsource'), tags: field<string[]>(r, 'tags'),
    ...(level !== null ? { level } : {}), ...(status !== null ? { status } : {}),
  } as RuleInfo;
  return {
    id: field(data, 'id'), rule, orgId: field(data, 'org'), entity: field(data, 'entity'), srcIp: field(data, 'src'), firstSeen: field(data, 'firstSeen'), lastSeen: field(data, 'lastSeen'),
    count: field(data, 'count'), evidence: [...field<Evidence>(data, 'evidence')], matched: field(data, 'matched'), version: field(data, 'version'), lastReported: field(data, 'lastReported'),
    dirty: field(data, 'dirty'), checksum: field(data, 'checksum'),
  };
}

function evidenceOf(event: MamoriEvent): MamoriDetection['evidence'][number] {
  return { event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset };
}

/** What a (re)load of the rule packs found. */
export interface RulePackReport {
  ok: boolean;
  rules: number;
  checksum: string;
  errors: RuleProblem[];
  unsupported: RuleProblem[];
}

/**
 * Rule packs from directories, hot-reloaded: file changes are debounced, the directories loaded
 * again, and the new set replaces the old only if no rule in it is broken (a broken set keeps the
 * old one and is reported). Unsupported rules are reported but do not block a reload.
 */
export class SigmaRulePacks implements RuleSetSource {
  private loaded: LoadedRules;
  private readonly watcher: DebouncedDirectoryWatch;

  constructor(
    private readonly dirs: readonly string[],
    private readonly onReport: (report: RulePackReport) => void = () => {},
    private readonly load: (dirs: readonly string[]) => LoadedRules = (d) => loadRuleDirectory(d),
  ) {
    this.watcher = new DebouncedDirectoryWatch(dirs, () => this.reload());
    this.loaded = this.load(dirs);
    this.onReport(reportOf(this.loaded, this.loaded.errors.length === 0));
  }

  get ruleSet(): RuleSet {
    return this.loaded.ruleSet;
  }

  get checksum(): string {
    return this.loaded.checksum;
  }

  get current(): LoadedRules {
    return this.loaded;
  }

  /** Loads again now; returns whether the new set replaced the old one. */
  reload(): boolean {
    let next: LoadedRules;
    try {
      next = this.load(this.dirs);
    } catch (error) {
      this.onReport({ ok: false, rules: this.loaded.rules.length, checksum: this.loaded.checksum, errors: [{ path: this.dirs.join(','), line: 0, code: 'SIGMA_RULE_INVALID', reason: (error as Error).message }], unsupported: [] });
      return false;
    }
    const ok = next.errors.length === 0;
    if (ok) this.loaded = next;
    this.onReport(reportOf(next, ok));
    return ok;
  }

  /** Watches the directories (recursively) and reloads after `debounceMs` of quiet. */
  watch(debounceMs: number): void {
    this.watcher.start(debounceMs);
  }

  close(): void {
    this.watcher.close();
  }
}

function reportOf(l: LoadedRules, ok: boolean): RulePackReport {
  return { ok, rules: l.rules.length, checksum: l.checksum, errors: l.errors, unsupported: l.unsupported };
}

/**
 * The Sigma analytic of a detector: rule packs from `config.rulesDirs`, watched for changes. Load
 * problems are reported once per (re)load through `onReport` (default: one JSON line on stderr).
 */
export function buildSigmaAnalytic(config: SigmaAnalyticConfig, onReport?: (report: RulePackReport) => void, options: { watch?: boolean } = {}): SigmaAnalytic {
  const report =
    onReport ??
    ((r: RulePackReport) => {
      if (!r.ok || r.unsupported.length > 0) {
        process.stderr.write(`${JSON.stringify({ msg: r.ok ? 'sigma rules loaded with unsupported rules' : 'sigma rule pack rejected, keeping the previous rule set', rules: r.rules, checksum: r.checksum, errors: r.errors.slice(0, 20), unsupported: r.unsupported.length })}\n`);
      }
    });
  const packs = new SigmaRulePacks(config.rulesDirs, report);
  // A recursive fs.watch keeps a process alive on Linux even when unref'd: one-shot runs (mamori hunt) do not watch.
  if (options.watch ?? true) packs.watch(config.reloadDebounceMs);
  let quietFor: LoadedRules | undefined;
  let quiet: ReadonlySet<string> = EMPTY;
  return new SigmaAnalytic(packs, config, () => {
    if (quietFor !== packs.current) {
      quietFor = packs.current;
      quiet = correlationOnlyRules(quietFor);
    }
    return quiet;
  });
}
