import type { MamoriDetection, MamoriEvent } from '@mamori/events';
import { detectionId } from './port-scan.ts';
import { field, TrackedEntities, type Evidence, type StateChange } from './entity-state.ts';
import type { StatefulAnalytic } from './types.ts';

/** Tunables of the DNS tunneling analytic; defaults are justified in docs/detections.md. */
export interface DnsTunnelingConfig {
  /** Sliding window per (source, parent domain). @default 3600000 (1 h) */
  windowMs: number;
  /** Distinct subdomains of one parent queried by one source within the window. @default 100 */
  minUniqueSubdomains: number;
  /** ...whose mean length (characters left of the parent) reaches this... @default 20 */
  minMeanLabelLength: number;
  /** ...or whose mean Shannon entropy (bits per character) reaches this. @default 3.5 */
  minMeanEntropy: number;
  /** TXT/NULL queries to one parent within the window (tunnels' favourite record types) on their own. @default 50 */
  minTxtNullQueries: number;
  /** Queries kept per (source, parent). @default 5000 */
  maxQueriesPerKey: number;
  /** (source, parent) keys tracked at once; least recently active evicted. @default 100000 */
  maxKeys: number;
  /** Extra multi-label public suffixes (e.g. `pvt.k12.ma.us`) besides the built-in list. @default [] */
  extraPublicSuffixes: readonly string[];
  /** Re-report a growing episode at most this often (event time). @default 300000 */
  updateIntervalMs: number;
}

export const DEFAULT_DNS_TUNNELING_CONFIG: Readonly<DnsTunnelingConfig> = Object.freeze({
  windowMs: 3_600_000,
  minUniqueSubdomains: 100,
  minMeanLabelLength: 20,
  minMeanEntropy: 3.5,
  minTxtNullQueries: 50,
  maxQueriesPerKey: 5000,
  maxKeys: 100_000,
  extraPublicSuffixes: Object.freeze([]),
  updateIntervalMs: 300_000,
});

export const DNS_TUNNELING_RULE_ID = 'mamori.dns.tunneling';

/**
 * Multi-label public suffixes under which names are registered one label deeper (`bbc.co.uk`, not
 * `co.uk`). No public-suffix-list package is installed; this bounded list covers the second-level
 * registries that carry most traffic, and dynamic-DNS and hosting zones where every customer owns a
 * subdomain. A suffix missing here makes the parent one label too short (`example.co.xx` seen as
 * `co.xx`), which pools sources' subdomains and errs towards reporting, never towards missing.
 */
const BUILTIN_SUFFIXES = [
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'ltd.uk', 'plc.uk', 'me.uk', 'net.uk', 'nhs.uk', 'sch.uk',
  'com.au', 'net.au', 'org.au', 'edu.au', 'gov.au', 'asn.au', 'id.au',
  'co.nz', 'org.nz', 'net.nz', 'govt.nz', 'ac.nz',
  'co.jp', 'ne.jp', 'or.jp', 'ac.jp', 'go.jp', 'ad.jp', 'ed.jp', 'gr.jp', 'lg.jp',
  'co.kr', 'or.kr', 'ne.kr', 'go.kr', 'ac.kr', 're.kr',
  'com.cn', 'net.cn', 'org.cn', 'gov.cn', 'edu.cn', 'ac.cn',
  'com.hk', 'net.hk', 'org.hk', 'edu.hk', 'gov.hk', 'com.tw', 'net.tw', 'org.tw', 'edu.tw', 'gov.tw', 'idv.tw',
  'com.sg', 'net.sg', 'org.sg', 'edu.sg', 'gov.sg', 'com.my', 'net.my', 'org.my', 'gov.my', 'edu.my',
  'co.in', 'net.in', 'org.in', 'firm.in', 'gen.in', 'ind.in', 'ac.in', 'edu.in', 'gov.in', 'res.in',
  'co.id', 'or.id', 'web.id', 'ac.id', 'go.id', 'co.th', 'in.th', 'ac.th', 'go.th', 'or.th',
  'com.br', 'net.br', 'org.br', 'gov.br', 'edu.br', 'com.ar', 'net.ar', 'org.ar', 'gob.ar', 'com.mx', 'org.mx', 'gob.mx', 'edu.mx',
  'com.co', 'net.co', 'org.co', 'gov.co', 'com.pe', 'gob.pe', 'com.ve', 'com.uy', 'com.ec', 'cl.cl',
  'co.za', 'org.za', 'gov.za', 'ac.za', 'web.za', 'net.za', 'com.ng', 'gov.ng', 'co.ke', 'or.ke', 'com.eg', 'gov.eg',
  'com.tr', 'net.tr', 'org.tr', 'gov.tr', 'edu.tr', 'bel.tr', 'co.il', 'org.il', 'ac.il', 'gov.il', 'net.il',
  'com.sa', 'gov.sa', 'com.pk', 'gov.pk', 'com.ua', 'net.ua', 'org.ua', 'gov.ua', 'com.pl', 'net.pl', 'org.pl', 'gov.pl',
  'com.ru', 'net.ru', 'org.ru', 'msk.ru', 'spb.ru', 'co.at', 'or.at', 'gv.at', 'ac.at', 'com.es', 'org.es', 'gob.es',
  'com.pt', 'gov.pt', 'com.gr', 'gov.gr', 'com.vn', 'gov.vn', 'edu.vn', 'com.ph', 'gov.ph', 'edu.ph',
  'ddns.net', 'no-ip.org', 'no-ip.biz', 'hopto.org', 'zapto.org', 'sytes.net', 'dyndns.org', 'duckdns.org', '3322.org', 'dynu.net', 'freedns.afraid.org',
  'github.io', 'gitlab.io', 'herokuapp.com', 'azurewebsites.net', 'cloudfront.net', 'appspot.com', 'blogspot.com', 'pages.dev', 'workers.dev',
  'netlify.app', 'vercel.app', 'firebaseapp.com', 'web.app', 's3.amazonaws.com', 'ngrok.io', 'ngrok-free.app',
];

/** Splits a name into (subdomain part, registered parent) with a public-suffix-aware rule. */
export class DomainSplitter {
  private readonly suffixes: Set<string>;
  constructor(extra: readonly string[] = []) {
    this.suffixes = new Set([...BUILTIN_SUFFIXES, ...extra.map((s) => s.toLowerCase())]);
  }

  split(query: string): { sub: string; parent: string } | undefined {
    let q = query.toLowerCase();
    if (q.endsWith('.')) q = q.slice(0, -1);
    const labels = q.split('.');
    if (labels.length < 2 || labels.some((l) => l === '')) return undefined;
    // The longest listed suffix wins (`freedns.afraid.org` over `afraid.org`).
    let suffixLabels = 1;
    for (let k = Math.min(4, labels.length - 1); k >= 2; k--) {
      if (this.suffixes.has(labels.slice(-k).join('.'))) {
        suffixLabels = k;
        break;
      }
    }
    if (labels.length <= suffixLabels) return undefined;
    const parentLabels = suffixLabels + 1;
    return { sub: labels.slice(0, -parentLabels).join('.'), parent: labels.slice(-parentLabels).join('.') };
  }
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

interface Query {
  time: number;
  sub: string;
  length: number;
  entropy: number;
  txtNull: boolean;
}

interface KeyState {
  orgId: string;
  srcIp: string;
  parent: string;
  queries: Query[];
  head: number;
  subs: Map<string, number>;
  /** Sums over distinct subdomains in the window. */
  lengthSum: number;
  entropySum: number;
  txtNull: number;
  lastSeen: number;
  episode: { id: string; first: number; count: number; peakUnique: number; peakMeanLength: number; peakMeanEntropy: number; peakTxtNull: number; lastReported: number; version: number; dirty: boolean; evidence: MamoriDetection['evidence']; reasons: Set<string> } | undefined;
}

/**
 * DNS tunneling and exfiltration: data encoded into many unique, long, random-looking subdomains
 * of one parent domain, or carried in TXT/NULL answers. Per (source, registered parent domain) a
 * sliding window counts distinct subdomains and their mean length and entropy, and TXT/NULL
 * queries.
 */
export class DnsTunnelingAnalytic implements StatefulAnalytic {
  readonly ruleId = DNS_TUNNELING_RULE_ID;
  private readonly keys = new TrackedEntities<KeyState>();
  private readonly splitter: DomainSplitter;

  constructor(private readonly config: DnsTunnelingConfig = DEFAULT_DNS_TUNNELING_CONFIG, private readonly rulesetChecksum = '') {
    this.splitter = new DomainSplitter(config.extraPublicSuffixes);
  }

  size(): number {
    return this.keys.size;
  }

  fork(): DnsTunnelingAnalytic {
    return new DnsTunnelingAnalytic(this.config, this.rulesetChecksum);
  }

  exportChanges(): StateChange[] {
    return this.keys.takeChanges(saveKey);
  }

  importEntity(key: string, order: number, value: unknown): void {
    this.keys.restore(key, order, loadKey(value));
  }

  observe(event: MamoriEvent, watermark = Number.NEGATIVE_INFINITY): MamoriDetection[] {
    const query = event.dns?.query;
    if (!query || !event.src_ip) return [];
    const split = this.splitter.split(query);
    if (!split) return [];
    const key = `${event.org_id}\u0000${event.src_ip}\u0000${split.parent}`;
    const out: MamoriDetection[] = [];
    let state = this.keys.get(key);
    if (state && !this.settle(key, state, watermark, out)) state = undefined;
    if (!state) {
      while (this.keys.size >= this.config.maxKeys) this.keys.delete(this.keys.oldest()!);
      state = { orgId: event.org_id, srcIp: event.src_ip, parent: split.parent, queries: [], head: 0, subs: new Map(), lengthSum: 0, entropySum: 0, txtNull: 0, lastSeen: 0, episode: undefined };
    }
    this.keys.touch(key, state);
    state.lastSeen = Math.max(state.lastSeen, event.time);
    const before = event.time - this.config.windowMs;
    while (state.head < state.queries.length && state.queries[state.head]!.time < before) this.drop(state);
    if (state.queries.length - state.head >= this.config.maxQueriesPerKey) this.drop(state);
    if (state.head > 1024 && state.head * 2 > state.queries.length) {
      state.queries = state.queries.slice(state.head);
      state.head = 0;
    }
    const qtype = (event.dns?.qtype ?? '').toUpperCase();
    const sub = split.sub.replace(/\./g, '');
    const q: Query = { time: event.time, sub: split.sub, length: sub.length, entropy: shannonEntropy(sub), txtNull: qtype === 'TXT' || qtype === 'NULL' || qtype === '16' || qtype === '10' };
    state.queries.push(q);
    if (q.txtNull) state.txtNull++;
    if (q.sub !== '') {
      const n = state.subs.get(q.sub) ?? 0;
      if (n === 0) {
        state.lengthSum += q.length;
        state.entropySum += q.entropy;
      }
      state.subs.set(q.sub, n + 1);
    }

    const unique = state.subs.size;
    const meanLength = unique > 0 ? state.lengthSum / unique : 0;
    const meanEntropy = unique > 0 ? state.entropySum / unique : 0;
    const c = this.config;
    const reasons: string[] = [];
    if (unique >= c.minUniqueSubdomains && meanLength >= c.minMeanLabelLength) reasons.push('long_subdomains');
    if (unique >= c.minUniqueSubdomains && meanEntropy >= c.minMeanEntropy) reasons.push('high_entropy');
    if (state.txtNull >= c.minTxtNullQueries) reasons.push('txt_null_volume');
    let ep = state.episode;
    if (!ep) {
      if (reasons.length === 0) return out;
      const first = state.queries[state.head]?.time ?? event.time;
      ep = state.episode = { id: detectionId(DNS_TUNNELING_RULE_ID, state.orgId, `${state.srcIp}\u0000${state.parent}`, first), first, count: state.queries.length - state.head - 1, peakUnique: 0, peakMeanLength: 0, peakMeanEntropy: 0, peakTxtNull: 0, lastReported: event.time, version: 0, dirty: true, evidence: [], reasons: new Set() };
    }
    ep.count += 1;
    for (const r of reasons) ep.reasons.add(r);
    ep.peakUnique = Math.max(ep.peakUnique, unique);
    ep.peakMeanLength = Math.max(ep.peakMeanLength, meanLength);
    ep.peakMeanEntropy = Math.max(ep.peakMeanEntropy, meanEntropy);
    ep.peakTxtNull = Math.max(ep.peakTxtNull, state.txtNull);
    ep.dirty = true;
    if (ep.evidence.length < 20) ep.evidence.push({ event_id: event.event_id, topic: event.raw.topic, partition: event.raw.partition, offset: event.raw.offset });
    if (ep.version === 0 || event.time - ep.lastReported >= c.updateIntervalMs) out.push(this.report(state));
    return out;
  }

  advance(watermark: number): MamoriDetection[] {
    const out: MamoriDetection[] = [];
    for (const [key, state] of this.keys) this.settle(key, state, watermark, out);
    return out;
  }

  /** A key whose whole window is before the watermark is reported a last time (if it grew) and forgotten. False when it is gone. */
  private settle(key: string, state: KeyState, watermark: number, out: MamoriDetection[]): boolean {
    if (state.lastSeen + this.config.windowMs > watermark) return true;
    if (state.episode?.dirty) out.push(this.report(state));
    this.keys.delete(key);
    return false;
  }

  private drop(state: KeyState): void {
    const q = state.queries[state.head];
    if (!q) return;
    state.head++;
    if (q.txtNull) state.txtNull--;
    if (q.sub === '') return;
    const n = (state.subs.get(q.sub) ?? 1) - 1;
    if (n > 0) state.subs.set(q.sub, n);
    else {
      state.subs.delete(q.sub);
      state.lengthSum -= q.length;
      state.entropySum -= q.entropy;
    }
  }

  private report(state: KeyState): MamoriDetection {
    const ep = state.episode!;
    ep.version++;
    ep.dirty = false;
    ep.lastReported = state.lastSeen;
    const c = this.config;
    const reasons = [...ep.reasons].sort();
    return {
      detection_id: ep.id,
      rule_id: DNS_TUNNELING_RULE_ID,
      rule_version: 1,
      title: `DNS tunneling from ${state.srcIp} via ${state.parent}`,
      severity: reasons.length >= 2 ? 'high' : 'medium',
      confidence: Math.min(0.95, 0.5 + 0.15 * reasons.length),
      tactics: ['TA0011', 'TA0010'],
      techniques: ['T1071.004', 'T1048'],
      org_id: state.orgId,
      entity: { type: 'ip', value: state.srcIp },
      src_ip: state.srcIp,
      first_seen: ep.first,
      last_seen: state.lastSeen,
      detected_at: Date.now(),
      count: ep.count,
      summary:
        `${state.srcIp} queried ${ep.peakUnique} distinct subdomains of ${state.parent} within ${Math.round(c.windowMs / 60_000)} min ` +
        `(mean length ${ep.peakMeanLength.toFixed(1)} chars, mean entropy ${ep.peakMeanEntropy.toFixed(2)} bits/char) and ${ep.peakTxtNull} TXT/NULL queries; ` +
        `thresholds: ${c.minUniqueSubdomains} subdomains with mean length >= ${c.minMeanLabelLength} or entropy >= ${c.minMeanEntropy}, or ${c.minTxtNullQueries} TXT/NULL queries.`,
      evidence: [...ep.evidence],
      attributes: {
        parent_domain: state.parent,
        reasons: reasons.join(','),
        unique_subdomains: String(ep.peakUnique),
        mean_subdomain_length: ep.peakMeanLength.toFixed(1),
        mean_entropy: ep.peakMeanEntropy.toFixed(2),
        txt_null_queries: String(ep.peakTxtNull),
        window_ms: String(c.windowMs),
        version: String(ep.version),
      },
      ruleset_checksum: this.rulesetChecksum,
    };
  }
}

/**
 * A key's state as snapshot data: the live queries (the subdomain counts are rebuilt from them)
 * and the running sums as they are (floating-point sums are kept, not recomputed, so a restored
 * analytic compares exactly the same means against the thresholds).
 */
function saveKey(state: KeyState): unknown {
  const e = state.episode;
  return {
    org: state.orgId, src: state.srcIp, parent: state.parent, queries: state.queries.slice(state.head).map((q) => [q.time, q.sub, q.length, q.entropy, q.txtNull ? 1 : 0]),
    lengthSum: state.lengthSum, entropySum: state.entropySum, txtNull: state.txtNull, lastSeen: state.lastSeen,
    episode: e
      ? { id: e.id, first: e.first, count: e.count, peakUnique: e.peakUnique, peakMeanLength: e.peakMeanLength, peakMeanEntropy: e.peakMeanEntropy, peakTxtNull: e.peakTxtNull, lastReported: e.lastReported, version: e.version, dirty: e.dirty, evidence: e.evidence, reasons: [...e.reasons] }
      : null,
  };
}

function loadKey(data: unknown): KeyState {
  const queries = field<[number, string, number, number, number][]>(data, 'queries').map(([time, sub, length, entropy, txtNull]) => ({ time, sub, length, entropy, txtNull: txtNull === 1 }));
  const subs = new Map<string, number>();
  for (const q of queries) if (q.sub !== '') subs.set(q.sub, (subs.get(q.sub) ?? 0) + 1);
  const e = field<Record<string, unknown> | null>(data, 'episode');
  return {
    orgId: field(data, 'org'), srcIp: field(data, 'src'), parent: field(data, 'parent'), queries, head: 0, subs,
    lengthSum: field(data, 'lengthSum'), entropySum: field(data, 'entropySum'), txtNull: field(data, 'txtNull'), lastSeen: field(data, 'lastSeen'),
    episode: e
      ? {
          id: field(e, 'id'), first: field(e, 'first'), count: field(e, 'count'), peakUnique: field(e, 'peakUnique'), peakMeanLength: field(e, 'peakMeanLength'), peakMeanEntropy: field(e, 'peakMeanEntropy'),
          peakTxtNull: field(e, 'peakTxtNull'), lastReported: field(e, 'lastReported'), version: field(e, 'version'), dirty: field(e, 'dirty'), evidence: field<Evidence>(e, 'evidence'), reasons: new Set(field<string[]>(e, 'reasons')),
        }
      : undefined,
  };
}
