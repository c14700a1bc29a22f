import type { MamoriEvent } from '@mamori/events';
import type { SigmaRule } from './ast.ts';
import { LiteralMatcher } from './aho-corasick.ts';
import type { CompiledNode, CompiledRule, ValueTest } from './compile.ts';
import { buildPredicate } from './compile.ts';
import { EventContext, pathGetter, type FieldGetter, type FieldSlot, type FieldValue } from './event-context.ts';
import type { LogsourceMapping } from './mappings.ts';
import { compilePattern, parseWildcards } from './wildcard.ts';

/** A field that contributed to a match, with the event's value. */
export interface MatchedField {
  field: string;
  value: string;
}

export interface RuleMatch {
  rule: SigmaRule;
  /** Fields (and keyword hits, field `keywords`) of the selections that made the rule fire. */
  matched: MatchedField[];
}

/** Counters since the rule set was built. */
export interface RuleSetStats {
  events: number;
  /** Events routed to at least one log source. */
  routed: number;
  /** Rule predicates evaluated (after routing and the literal index). */
  evaluated: number;
  matches: number;
  rules: number;
  /** evaluated / (events × rules): the share of rules evaluated per event. */
  evaluatedShare: number;
}

interface Bucket {
  mapping: LogsourceMapping;
  rules: CompiledRule[];
  /** Rules with no indexable literal: evaluated for every routed event. */
  always: number[];
  indexes: { slot: number; matcher: LiteralMatcher; owners: number[][] }[];
  /** Evaluation marks (generation stamps), one per rule. */
  marks: Uint32Array;
}

type RouteTest = { get: FieldGetter; tests: ((s: string) => boolean)[] };

const ROUTE_CACHE_MAX = 10_000;

/** The literals one of which must occur in a field for the node to be true, or null if none can be named. */
type Need = { slot: number; lit: string }[];

function needOf(node: CompiledNode): Need | null {
  switch (node.k) {
    case 'search':
      return needOf(node.node);
    case 'field': {
      if (node.mode !== 'match' || node.neq || node.tests.length === 0) return null;
      const lits = node.tests.map((t: ValueTest) => t.literal);
      if (lits.some((l) => l === undefined || l.length < 2)) {
        if (!node.all) return null;
        const ok = lits.filter((l): l is string => l !== undefined && l.length >= 2);
        if (ok.length === 0) return null;
        const best = ok.reduce((a, b) => (b.length > a.length ? b : a));
        return [{ slot: node.slot, lit: best }];
      }
      if (node.all) {
        const best = (lits as string[]).reduce((a, b) => (b.length > a.length ? b : a));
        return [{ slot: node.slot, lit: best }];
      }
      return [...new Set(lits as string[])].map((lit) => ({ slot: node.slot, lit }));
    }
    case 'and': {
      let best: Need | null = null;
      for (const a of node.args) {
        const n = needOf(a);
        if (n && (!best || score(n) > score(best))) best = n;
      }
      return best;
    }
    case 'or': {
      const out: Need = [];
      for (const a of node.args) {
        const n = needOf(a);
        if (!n) return null;
        out.push(...n);
      }
      return out;
    }
    default:
      return null;
  }
}

function score(n: Need): number {
  const min = Math.min(...n.map((x) => x.lit.length));
  return Math.min(min, 8) * 1000 - n.length;
}

/**
 * The active rules: routed by log source first (each event goes only to the log sources whose
 * routes it satisfies), then pruned by a literal index per field (Aho-Corasick over the lower-case
 * value), so only rules whose required literals occur are evaluated.
 */
export class RuleSet {
  private readonly buckets: Bucket[] = [];
  private readonly routes: { bucket: Bucket; routes: RouteTest[][] }[] = [];
  private readonly routeKeyGetters: FieldGetter[];
  private readonly routeCache = new Map<string, Bucket[]>();
  private readonly ctx: EventContext;
  private generation = 0;
  private readonly counters = { events: 0, routed: 0, evaluated: 0, matches: 0 };

  constructor(
    readonly rules: readonly CompiledRule[],
    readonly slots: readonly FieldSlot[],
    /** SHA-256 over the sorted rule ids and contents of the active set. */
    readonly checksum: string,
  ) {
    this.ctx = new EventContext(slots);
    const byMapping = new Map<LogsourceMapping, Bucket>();
    for (const rule of rules) {
      let b = byMapping.get(rule.mapping);
      if (!b) {
        b = { mapping: rule.mapping, rules: [], always: [], indexes: [], marks: new Uint32Array(0) };
        byMapping.set(rule.mapping, b);
        this.buckets.push(b);
      }
      b.rules.push(rule);
    }
    const routePaths = new Set<string>();
    for (const b of this.buckets) {
      b.marks = new Uint32Array(b.rules.length);
      const perSlot = new Map<number, Map<string, number[]>>();
      b.rules.forEach((rule, i) => {
        const need = needOf(rule.root);
        if (!need) {
          b.always.push(i);
          return;
        }
        for (const { slot, lit } of need) {
          let lits = perSlot.get(slot);
          if (!lits) perSlot.set(slot, (lits = new Map()));
          const owners = lits.get(lit) ?? [];
          if (!owners.includes(i)) owners.push(i);
          lits.set(lit, owners);
        }
      });
      for (const [slot, lits] of perSlot) b.indexes.push({ slot, matcher: new LiteralMatcher([...lits.keys()]), owners: [...lits.values()] });
      const compiledRoutes = b.mapping.routes.map((r) =>
        Object.entries(r).map(([path, want]): RouteTest => {
          routePaths.add(path);
          const values = Array.isArray(want) ? want : [want];
          return { get: pathGetter(path), tests: values.map((v) => compilePattern(parseWildcards(String(v).toLowerCase()))) };
        }),
      );
      this.routes.push({ bucket: b, routes: compiledRoutes });
    }
    this.routeKeyGetters = [...routePaths].sort().map(pathGetter);
  }

  get size(): number {
    return this.rules.length;
  }

  stats(): RuleSetStats {
    const c = this.counters;
    return { ...c, rules: this.rules.length, evaluatedShare: c.events === 0 || this.rules.length === 0 ? 0 : c.evaluated / (c.events * this.rules.length) };
  }

  resetStats(): void {
    Object.assign(this.counters, { events: 0, routed: 0, evaluated: 0, matches: 0 });
  }

  /** The log sources an event is routed to. */
  route(event: MamoriEvent): LogsourceMapping[] {
    return this.bucketsFor(event).map((b) => b.mapping);
  }

  private bucketsFor(event: MamoriEvent): Bucket[] {
    let key = '';
    for (const g of this.routeKeyGetters) {
      const v = g(event);
      key += `${typeof v === 'string' ? v : v === undefined ? '' : v.join(',')}\u0000`;
    }
    let hit = this.routeCache.get(key);
    if (hit) return hit;
    hit = [];
    for (const { bucket, routes } of this.routes) {
      if (routes.some((route) => route.every((t) => routeValueMatches(t.get(event), t.tests)))) hit.push(bucket);
    }
    if (this.routeCache.size < ROUTE_CACHE_MAX) this.routeCache.set(key, hit);
    return hit;
  }

  /** Rules that fire on the event, with the fields that made them fire. */
  match(event: MamoriEvent): RuleMatch[] {
    this.counters.events++;
    const buckets = this.bucketsFor(event);
    if (buckets.length === 0) return [];
    this.counters.routed++;
    const ctx = this.ctx;
    ctx.reset(event);
    let out: RuleMatch[] | undefined;
    for (const b of buckets) {
      const gen = ++this.generation >>> 0;
      const marks = b.marks;
      const evaluate = (i: number): void => {
        if (marks[i] === gen) return;
        marks[i] = gen;
        this.counters.evaluated++;
        const rule = b.rules[i]!;
        if (rule.test(ctx)) {
          this.counters.matches++;
          (out ??= []).push({ rule: rule.rule, matched: matchedFields(rule.root, ctx, this.slots) });
        }
      };
      for (const i of b.always) evaluate(i);
      for (const idx of b.indexes) {
        const v = ctx.lower(idx.slot);
        if (v === undefined) continue;
        const owners = idx.owners;
        const onMatch = (p: number): void => {
          for (const i of owners[p]!) evaluate(i);
        };
        if (typeof v === 'string') idx.matcher.scan(v, onMatch);
        else for (const x of v) idx.matcher.scan(x, onMatch);
      }
    }
    return out ?? [];
  }

  /** Evaluates every rule routed to the event without the literal index (for tests of the index). */
  matchUnindexed(event: MamoriEvent): SigmaRule[] {
    const out: SigmaRule[] = [];
    this.ctx.reset(event);
    for (const b of this.bucketsFor(event)) for (const r of b.rules) if (r.test(this.ctx)) out.push(r.rule);
    return out;
  }

  /** Why a rule did or did not fire on an event: routing, then every search and field with the values compared. */
  explain(event: MamoriEvent, ruleId: string): Explanation | undefined {
    const rule = this.rules.find((r) => r.rule.id === ruleId || r.rule.title === ruleId);
    if (!rule) return undefined;
    return explainRule(rule, event, this.bucketsFor(event).some((b) => b.mapping === rule.mapping), this.slots);
  }
}

function routeValueMatches(v: FieldValue, tests: ((s: string) => boolean)[]): boolean {
  if (v === undefined) return false;
  const one = (s: string): boolean => {
    const l = s.toLowerCase();
    return tests.some((t) => t(l));
  };
  return typeof v === 'string' ? one(v) : v.some(one);
}

function valueText(v: FieldValue): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v.join(', ');
}

function matchedFields(root: CompiledNode, ctx: EventContext, slots: readonly FieldSlot[]): MatchedField[] {
  const out: MatchedField[] = [];
  const walk = (n: CompiledNode): void => {
    switch (n.k) {
      case 'search':
        walk(n.node);
        return;
      case 'and':
        for (const a of n.args) walk(a);
        return;
      case 'or':
        for (const a of n.args)
          if (buildPredicate(a)(ctx)) {
            walk(a);
            return;
          }
        return;
      case 'field':
        if (n.mode !== 'missing' && !out.some((m) => m.field === n.field)) out.push({ field: slots[n.slot]!.name, value: valueText(ctx.value(n.slot)) });
        return;
      case 'keyword': {
        const texts = ctx.keywords(n.lower);
        const raw = ctx.keywords(false);
        for (const t of n.tests) {
          const i = texts.findIndex((s) => t.test(s, ctx));
          if (i >= 0) out.push({ field: 'keywords', value: raw[i] ?? '' });
        }
        return;
      }
      default:
        return;
    }
  };
  walk(root);
  return out;
}

/** One node of an explanation. */
export interface ExplainNode {
  kind: 'and' | 'or' | 'not' | 'search' | 'field' | 'keyword' | 'const';
  matched: boolean;
  name?: string;
  field?: string;
  modifiers?: string[];
  /** Event paths the field was read from, in order. */
  paths?: readonly string[];
  /** The event's value (as read), `undefined` when absent. */
  value?: string | undefined;
  mode?: string;
  compared?: { expected: string; matched: boolean }[];
  children?: ExplainNode[];
}

export interface Explanation {
  ruleId: string;
  title: string;
  logsource: string;
  routed: boolean;
  matched: boolean;
  detection: ExplainNode;
  filters: { id: string; title: string; matched: boolean; detection: ExplainNode }[];
}

function explainNode(n: CompiledNode, ctx: EventContext, slots: readonly FieldSlot[]): ExplainNode {
  const matched = buildPredicate(n)(ctx);
  switch (n.k) {
    case 'const':
      return { kind: 'const', matched };
    case 'search':
      return { kind: 'search', name: n.name, matched, children: [explainNode(n.node, ctx, slots)] };
    case 'and':
    case 'or':
      return { kind: n.k, matched, children: n.args.map((a) => explainNode(a, ctx, slots)) };
    case 'not':
      return { kind: 'not', matched, children: [explainNode(n.arg, ctx, slots)] };
    case 'keyword': {
      const texts = ctx.keywords(n.lower);
      return { kind: 'keyword', matched, compared: n.tests.map((t) => ({ expected: t.text, matched: texts.some((s) => t.test(s, ctx)) })) };
    }
    case 'field': {
      const raw = ctx.value(n.slot);
      const v = n.lower ? ctx.lower(n.slot) : raw;
      const slot = slots[n.slot]!;
      return {
        kind: 'field',
        matched,
        field: n.field,
        modifiers: n.modifiers,
        paths: slot.paths,
        value: raw === undefined ? undefined : valueText(raw),
        mode: n.mode,
        compared: n.tests.map((t) => {
          const hit = v === undefined ? false : typeof v === 'string' ? t.test(v, ctx) : v.some((x) => t.test(x, ctx));
          return { expected: `${n.neq ? 'not ' : ''}${t.text}`, matched: n.neq ? !hit : hit };
        }),
      };
    }
  }
}

export function explainRule(rule: CompiledRule, event: MamoriEvent, routed: boolean, slots: readonly FieldSlot[]): Explanation {
  const ctx = new EventContext(slots);
  ctx.reset(event);
  const ls = rule.mapping.logsource;
  return {
    ruleId: rule.rule.id,
    title: rule.rule.title,
    logsource: [ls.product, ls.category, ls.service].filter(Boolean).join('/'),
    routed,
    matched: routed && rule.test(ctx),
    detection: explainNode(rule.root, ctx, slots),
    filters: rule.filters.map((f) => ({ id: f.filter.id, title: f.filter.title, matched: buildPredicate(f.root)(ctx), detection: explainNode(f.root, ctx, slots) })),
  };
}
