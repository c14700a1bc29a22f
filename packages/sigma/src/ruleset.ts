import { errorMessage } from '@mamori/core';
import type { MamoriEvent } from '@mamori/events';
import type { SigmaRule } from './ast.ts';
import { AhoCorasick } from './aho-corasick.ts';
import type { CompiledNode, CompiledRule } from './compile.ts';
import { buildPredicate } from './compile.ts';
import { EventContext, pathGetter, type FieldGetter, type FieldSlot, type FieldValue } from './event-context.ts';
import { KEYWORDS, needOf, vetoOf } from './literal-need.ts';
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

/** A log source of the rule set: the rules compiled for it and the fields its rules are indexed on. */
interface Bucket {
  id: number;
  mapping: LogsourceMapping;
  /** Rules (indexes into `RuleSet.rules`) with no indexable literal and no veto: evaluated for every routed event. */
  always: number[];
  /** Rules with no indexable literal but a veto (`vetoOf`): evaluated after the scan unless a veto literal was found. */
  vetoable: number[];
  /** Index slots its rules need scanned (field slots, `KEYWORDS` for the event's texts). */
  slots: Set<number>;
}

/** All literals of one field (or of the keyword texts) over every log source, in one automaton. */
interface SlotIndex {
  slot: number;
  matcher: AhoCorasick;
  /** Per pattern: the alternative literals (see `RuleSet`) it is. */
  owners: Int32Array[];
  /** Whether it also holds the keyword literals of its log sources (`slotIndex`). */
  keywords: boolean;
}

/** What to do for one combination of routed log sources (cached with the route). */
interface Plan {
  buckets: Bucket[];
  always: Int32Array;
  vetoable: Int32Array;
  /** Indexes whose values are read one by one (all of them when `byAttribute` is undefined). */
  indexes: SlotIndex[];
  /**
   * Indexes of fields read from exactly one attribute, by attribute key: the event's attributes are
   * walked once and each present one is scanned by its automata, instead of probing every indexed key
   * (most absent). For plans indexing at least `ATTRIBUTE_WALK_MIN` such fields, and for every plan
   * with a keyword index (whose texts walk the attributes anyway). With a keyword index, the first
   * index of each key also holds the keyword literals (`slotIndex`): a string attribute scanned by it
   * is not scanned again for keywords.
   */
  byAttribute: Map<string, SlotIndex[]> | undefined;
  /** The keyword index, scanned over the event's texts (`scanTexts`) except attributes `byAttribute` covers. */
  keywords: SlotIndex | undefined;
}

/** A level of the route cache: a route path's value to the next level, or to the plan at the last. */
type RouteNode = Map<string | undefined, RouteNode | Plan>;

type RouteTest = { path: string; get: FieldGetter; tests: ((s: string) => boolean)[] };

/**
 * The route cache under one value of the first route path (`source_format`): the trie over the
 * paths that routes not ruled out by that value test (`undefined` plan until seen when none is left).
 */
interface RouteBranch {
  getters: FieldGetter[];
  node: RouteNode;
  plan: Plan | undefined;
}

const ROUTE_CACHE_MAX = 10_000;
/** Read first: every shipped route names the event's format, and most paths matter for one format only. */
const FIRST_ROUTE_PATH = 'source_format';

/**
 * Plans with at least this many fields read from a single attribute walk the event's attributes instead
 * of looking each field up (Windows Security: ~40 such fields indexed, 3–20 attributes per event).
 */
const ATTRIBUTE_WALK_MIN = 16;
const NO_FAILURES: readonly string[] = Object.freeze([]);
/** Failures kept until taken; more are dropped (a caller that never takes them must not grow memory). */
const MAX_FAILURES = 100;
const ATTRIBUTES_PREFIX = 'attributes.';

/**
 * The active rules: routed by log source first (each event goes only to the log sources whose
 * routes it satisfies), then pruned by a literal index: per field, one automaton over the literals
 * of the rules of the routed log sources (and one over their keyword literals, run over every text
 * of the event), each value scanned once per event and case-folded while scanning; a rule is
 * evaluated only once all literals of one of its alternatives (literal-need.ts) were found.
 */
export class RuleSet {
  private readonly buckets: Bucket[] = [];
  /** Per rule: its bucket. */
  private readonly bucketOf: Int32Array;
  /** Per bucket, per slot: literal → its alternative literals. */
  private readonly literals = new Map<number, Map<number, Map<string, number[]>>>();
  /** Slot indexes by slot and contributing buckets (`slot:b1,b2`), built when a plan first needs one. */
  private readonly indexes = new Map<string, SlotIndex>();
  private readonly routes: { bucket: Bucket; routes: RouteTest[][] }[] = [];
  /** The getter of `FIRST_ROUTE_PATH`, when some route tests it. */
  private readonly firstRouteGetter: FieldGetter | undefined;
  private readonly routeBranches = new Map<string | undefined, RouteBranch>();
  private routeCacheSize = 0;
  private readonly plans = new Map<string, Plan>();
  private readonly ctx: EventContext;
  /** Per rule: the generation of the last event it was evaluated for. */
  private readonly marks: Uint32Array;
  /** Per bucket: the generation of the last event routed to it. */
  private readonly routed: Uint32Array;
  private generation = 0;
  /*
   * The literal index. A rule's need (literal-need.ts) is a list of alternatives, each a set of
   * literals that must all occur. Every (alternative, literal) pair is one "alternative literal";
   * the automaton patterns own them. A rule is evaluated once all literals of one of its
   * alternatives were seen in the event (stamps per alternative literal count each literal once).
   */
  /** Per alternative: its rule. */
  private readonly altRule: Int32Array;
  /** Per alternative: how many distinct literals it needs. */
  private readonly altNeeds: Uint8Array;
  /** Per alternative literal: its alternative. Owners below 0 are vetoes instead: `-1 - rule`. */
  private readonly litAlt: Int32Array;
  /** Per rule: the generation of the last event a veto literal of it was found in. */
  private readonly vetoStamp: Uint32Array;
  private readonly altStamp: Uint32Array;
  private readonly altSeen: Uint8Array;
  private readonly litStamp: Uint32Array;
  private owners: Int32Array[] = [];
  private found: number[] = [];
  private readonly counters = { events: 0, routed: 0, evaluated: 0, matches: 0 };
  /** Evaluation failures not yet taken ({@link takeFailures}). */
  private failed: string[] = [];
  private readonly onHit = (pattern: number): void => {
    const gen = this.generation;
    const lits = this.owners[pattern]!;
    for (let j = 0; j < lits.length; j++) {
      const l = lits[j]!;
      if (l < 0) {
        this.vetoStamp[-1 - l] = gen;
        continue;
      }
      if (this.litStamp[l] === gen) continue;
      this.litStamp[l] = gen;
      const alt = this.litAlt[l]!;
      const r = this.altRule[alt]!;
      if (this.marks[r] === gen || this.routed[this.bucketOf[r]!] !== gen) continue;
      if (this.altStamp[alt] !== gen) {
        this.altStamp[alt] = gen;
        this.altSeen[alt] = 0;
      }
      if (++this.altSeen[alt]! === this.altNeeds[alt]) this.evaluate(r);
    }
  };

  constructor(
    readonly rules: readonly CompiledRule[],
    readonly slots: readonly FieldSlot[],
    /** SHA-256 over the sorted rule ids and contents of the active set. */
    readonly checksum: string,
  ) {
    this.ctx = new EventContext(slots);
    this.marks = new Uint32Array(rules.length);
    this.bucketOf = new Int32Array(rules.length);
    const byMapping = new Map<LogsourceMapping, Bucket>();
    const altRule: number[] = [];
    const altNeeds: number[] = [];
    const litAlt: number[] = [];
    const perSlot = (b: Bucket, slot: number): Map<string, number[]> => {
      let slots = this.literals.get(b.id);
      if (!slots) this.literals.set(b.id, (slots = new Map()));
      let lits = slots.get(slot);
      if (!lits) slots.set(slot, (lits = new Map()));
      return lits;
    };
    const needs = rules.map((rule, r) => {
      let b = byMapping.get(rule.mapping);
      if (!b) {
        b = { id: this.buckets.length, mapping: rule.mapping, always: [], vetoable: [], slots: new Set() };
        byMapping.set(rule.mapping, b);
        this.buckets.push(b);
      }
      this.bucketOf[r] = b.id;
      const need = needOf(rule.root);
      if (!need) b.always.push(r);
      // The fields scanned for a log source are those of its alternatives' strongest literals.
      else for (const alternative of need) b.slots.add(alternative[0]!.slot);
      return need;
    });
    needs.forEach((need, r) => {
      if (!need) return;
      const b = this.buckets[this.bucketOf[r]!]!;
      for (const alternative of need) {
        // Further literals only where the field is scanned anyway: a field read for every event just
        // to confirm a conjunction costs more than the evaluations it saves. Fewer literals: weaker, still sound.
        const kept = alternative.filter((l, i) => i === 0 || b.slots.has(l.slot));
        const alt = altRule.length;
        altRule.push(r);
        altNeeds.push(kept.length);
        for (const { slot, lit } of kept) {
          const l = litAlt.length;
          litAlt.push(alt);
          const lits = perSlot(b, slot);
          const owners = lits.get(lit);
          if (!owners) lits.set(lit, [l]);
          else owners.push(l);
        }
      }
    });
    // Rules without a need but with vetoes on fields their log source scans anyway: the veto
    // literals join those fields' automata (owner `-1 - rule`), and the rule is evaluated after the
    // scan only when none was found (e.g. `selection and not 1 of filter_*` with `contains` filters).
    for (const b of this.buckets) {
      b.always = b.always.filter((r) => {
        const vetoes = vetoOf(rules[r]!.root, rules[r]!.filters.map((f) => f.root)).filter((v) => b.slots.has(v.slot));
        if (vetoes.length === 0) return true;
        for (const { slot, lit } of vetoes) {
          const lits = perSlot(b, slot);
          const owners = lits.get(lit);
          if (!owners) lits.set(lit, [-1 - r]);
          else if (!owners.includes(-1 - r)) owners.push(-1 - r);
        }
        b.vetoable.push(r);
        return false;
      });
    }
    this.vetoStamp = new Uint32Array(rules.length);
    this.altRule = Int32Array.from(altRule);
    this.altNeeds = Uint8Array.from(altNeeds);
    this.litAlt = Int32Array.from(litAlt);
    this.altStamp = new Uint32Array(altRule.length);
    this.altSeen = new Uint8Array(altRule.length);
    this.litStamp = new Uint32Array(litAlt.length);
    this.routed = new Uint32Array(this.buckets.length);
    const routePaths = new Set<string>();
    for (const b of this.buckets) {
      const compiledRoutes = b.mapping.routes.map((r) =>
        Object.entries(r).map(([path, want]): RouteTest => {
          routePaths.add(path);
          const values = Array.isArray(want) ? want : [want];
          return { path, get: pathGetter(path), tests: values.map((v) => compilePattern(parseWildcards(String(v).toLowerCase()))) };
        }),
      );
      this.routes.push({ bucket: b, routes: compiledRoutes });
    }
    this.firstRouteGetter = routePaths.has(FIRST_ROUTE_PATH) ? pathGetter(FIRST_ROUTE_PATH) : undefined;
    // Each log source's own automata are built now (the large ones take a while); only the merged
    // ones of fields that several routed log sources index are built when a plan first needs them.
    for (const b of this.buckets) for (const slot of b.slots) this.slotIndex(slot, [b]);
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
    return this.planFor(event).buckets.map((b) => b.mapping);
  }

  private planFor(event: MamoriEvent): Plan {
    // The route cache is a trie over the values of the route paths (absent is its own key, arrays
    // are told apart from strings), so finding an event's plan builds no key string. Its first
    // level is the event's format, and below it only the paths of the routes that format leaves.
    const branch = this.routeBranch(event);
    if (branch.plan) return branch.plan;
    let node: RouteNode = branch.node;
    const getters = branch.getters;
    if (getters.length === 0) return (branch.plan = this.routeSlow(event, node, 0, getters));
    for (let i = 0; i < getters.length; i++) {
      const v = getters[i]!(event);
      const k = typeof v === 'string' || v === undefined ? v : `\u0001${v.join('\u0000')}`;
      const next: RouteNode | Plan | undefined = node.get(k);
      if (next === undefined) return this.routeSlow(event, node, i, getters);
      node = next as RouteNode;
    }
    return node as unknown as Plan;
  }

  /**
   * The route cache branch of the event's format. Its paths are those of the routes that do not test
   * the format or accept the event's: a route that rejects the format is false whatever the other
   * paths hold, so events that agree on the format and on those paths go to the same log sources.
   */
  private routeBranch(event: MamoriEvent): RouteBranch {
    const v = this.firstRouteGetter ? this.firstRouteGetter(event) : undefined;
    const k = typeof v === 'string' || v === undefined ? v : `\u0001${v.join('\u0000')}`;
    let branch = this.routeBranches.get(k);
    if (branch) return branch;
    const paths = new Set<string>();
    for (const { routes } of this.routes) {
      for (const route of routes) {
        const first = route.find((t) => t.path === FIRST_ROUTE_PATH);
        if (first && !routeValueMatches(v, first.tests)) continue;
        for (const t of route) if (t.path !== FIRST_ROUTE_PATH) paths.add(t.path);
      }
    }
    branch = { getters: [...paths].sort().map(pathGetter), node: new Map(), plan: undefined };
    // Formats are few; past the cache bound a branch serves its event only (routed the slow way).
    if (this.routeBranches.size < ROUTE_CACHE_MAX) this.routeBranches.set(k, branch);
    return branch;
  }

  /** Routes an event the slow way and caches its plan under the remaining trie levels, `ROUTE_CACHE_MAX` plans at most. */
  private routeSlow(event: MamoriEvent, at: RouteNode, level: number, getters: readonly FieldGetter[]): Plan {
    const buckets: Bucket[] = [];
    for (const { bucket, routes } of this.routes) {
      if (routes.some((route) => route.every((t) => routeValueMatches(t.get(event), t.tests)))) buckets.push(bucket);
    }
    const plan = this.planOf(buckets);
    if (this.routeCacheSize >= ROUTE_CACHE_MAX || getters.length === 0) return plan;
    this.routeCacheSize++;
    let node = at;
    for (let i = level; i < getters.length; i++) {
      const v = getters[i]!(event);
      const k = typeof v === 'string' || v === undefined ? v : `\u0001${v.join('\u0000')}`;
      if (i === getters.length - 1) node.set(k, plan);
      else {
        let next = node.get(k) as RouteNode | undefined;
        if (!next) node.set(k, (next = new Map()));
        node = next;
      }
    }
    return plan;
  }

  /** The plan of a set of log sources: their always-evaluated rules and the indexes to scan (shared by equal sets). */
  private planOf(buckets: Bucket[]): Plan {
    const id = buckets.map((b) => b.id).join(',');
    let plan = this.plans.get(id);
    if (plan) return plan;
    const slots = new Set<number>();
    for (const b of buckets) for (const s of b.slots) slots.add(s);
    const sourcesOf = (s: number): Bucket[] => buckets.filter((b) => b.slots.has(s));
    const indexes = [...slots].sort((a, b) => a - b).map((s) => this.slotIndex(s, sourcesOf(s)));
    const attributeKey = (slot: number): string | undefined => {
      const paths = slot === KEYWORDS ? [] : this.slots[slot]!.paths;
      return paths.length === 1 && paths[0]!.startsWith(ATTRIBUTES_PREFIX) ? paths[0]!.slice(ATTRIBUTES_PREFIX.length) : undefined;
    };
    const keywords = slots.has(KEYWORDS) ? indexes.find((idx) => idx.slot === KEYWORDS) : undefined;
    let byAttribute: Map<string, SlotIndex[]> | undefined;
    if (keywords || indexes.filter((idx) => attributeKey(idx.slot) !== undefined).length >= ATTRIBUTE_WALK_MIN) {
      byAttribute = new Map();
      for (const idx of indexes) {
        const key = attributeKey(idx.slot);
        if (key === undefined) continue;
        const list = byAttribute.get(key);
        if (list) list.push(idx);
        // The key's first index also finds the keyword literals in its value (one scan of the text for
        // both), unless it skips ahead: its long literals skip further alone than with the keywords'.
        else byAttribute.set(key, [keywords && !idx.matcher.skips ? this.slotIndex(idx.slot, sourcesOf(idx.slot), sourcesOf(KEYWORDS)) : idx]);
      }
    }
    plan = {
      buckets,
      always: Int32Array.from(buckets.flatMap((b) => b.always)),
      vetoable: Int32Array.from(buckets.flatMap((b) => b.vetoable)),
      indexes: indexes.filter((idx) => idx.slot !== KEYWORDS && (!byAttribute || attributeKey(idx.slot) === undefined)),
      byAttribute,
      keywords,
    };
    this.plans.set(id, plan);
    return plan;
  }

  /**
   * One automaton for a field over the literals of the given log sources (those of a plan that index
   * the field), so a field is scanned once per event whatever the number of its log sources, and only
   * for literals of rules routed there. Shared by every plan with the same sources for the field.
   * With `keywordSources`, also the keyword literals of those log sources (for an attribute that is a
   * keyword text too: a hit reports the field's and the keywords' owners of the literal alike).
   */
  private slotIndex(slot: number, buckets: readonly Bucket[], keywordSources: readonly Bucket[] = []): SlotIndex {
    const ids = (bs: readonly Bucket[]): string => bs.map((b) => b.id).join(',');
    const key = `${slot}:${ids(buckets)}${keywordSources.length > 0 ? `+${ids(keywordSources)}` : ''}`;
    let index = this.indexes.get(key);
    if (index) return index;
    const merged = new Map<string, number[]>();
    const add = (from: readonly Bucket[], s: number): void => {
      for (const b of from) {
        for (const [lit, owners] of this.literals.get(b.id)?.get(s) ?? []) {
          const into = merged.get(lit);
          if (into) into.push(...owners);
          else merged.set(lit, [...owners]);
        }
      }
    };
    add(buckets, slot);
    add(keywordSources, KEYWORDS);
    index = { slot, matcher: new AhoCorasick([...merged.keys()], { wasm: true }), owners: [...merged.values()].map((o) => Int32Array.from(o)), keywords: keywordSources.length > 0 };
    this.indexes.set(key, index);
    return index;
  }

  private evaluate(r: number): void {
    this.marks[r] = this.generation;
    this.counters.evaluated++;
    try {
      if (this.rules[r]!.test(this.ctx)) this.found.push(r);
    } catch (error) {
      // One rule's defect costs that rule, not the event's other rules. Bounded for callers that never take them.
      if (this.failed.length < MAX_FAILURES) this.failed.push(`rule ${this.rules[r]!.rule.id}: ${errorMessage(error)}`);
    }
  }

  /**
   * Rules whose evaluation threw since the last call (`rule <id>: <message>`), then cleared: such a
   * rule counts as not matching and the event's other rules are evaluated as usual.
   */
  takeFailures(): readonly string[] {
    if (this.failed.length === 0) return NO_FAILURES;
    const out = this.failed;
    this.failed = [];
    return out;
  }

  private scanValue(idx: SlotIndex, v: FieldValue): void {
    if (v === undefined) return;
    this.owners = idx.owners;
    if (typeof v === 'string') idx.matcher.scanLower(v, this.onHit);
    else for (const x of v) idx.matcher.scanLower(x, this.onHit);
  }

  /**
   * Scans the event's attributes with the automata of the fields read from them (what probing each
   * indexed key gives, at the cost of the attributes present). A key with spaces is what a field
   * without them may read (`pathGetter`): when the event has one, the fields not found under their
   * own key are looked up the usual way.
   */
  private walkAttributes(byAttribute: Map<string, SlotIndex[]>, event: MamoriEvent, keywords: SlotIndex | undefined): void {
    const attributes = event.attributes as Record<string, FieldValue>;
    const minKeyword = keywords === undefined ? 0 : keywords.matcher.lowerSkipBelow;
    // The keys for-in lists: the context's own keys (enumerated once per event) unless some are inherited.
    let keys = this.ctx.attributeKeys();
    if (this.ctx.attributesInherit()) {
      const all: string[] = [];
      for (const k in attributes) all.push(k);
      keys = all;
    }
    let spaced = false;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!;
      const list = byAttribute.get(k);
      const v = attributes[k];
      if (list === undefined) {
        if (!spaced && k.includes(' ')) spaced = true;
        if (keywords === undefined) continue;
        // Strings (nearly every attribute) without a call.
        if (typeof v === 'string') {
          if (v.length >= minKeyword) {
            this.owners = keywords.owners;
            keywords.matcher.scanLower(v, this.onHit);
          }
        } else this.scanKeywordText(keywords, v, 1);
        continue;
      }
      for (let i = 0; i < list.length; i++) this.scanValue(list[i]!, v);
      // A string is the keyword text the first index just scanned, when it holds the keyword literals.
      if (keywords && (typeof v !== 'string' || !list[0]!.keywords)) this.scanKeywordText(keywords, v, 1);
    }
    if (!spaced) return;
    for (const [k, list] of byAttribute) {
      if (attributes[k] !== undefined) continue;
      for (const idx of list) this.scanValue(idx, this.ctx.value(idx.slot));
    }
  }

  /**
   * Scans the event's keyword texts (`EventContext.keywords`: every non-empty string, in arrays at
   * any depth and objects down to three levels, but not under `raw`, `event_id`, `org_id`,
   * `sensor_id`) without collecting them; the attributes through `walkAttributes`, whose merged
   * indexes cover the string attributes they scan. Which automaton finds a literal, and in which
   * order the texts are read, does not matter: hits only count literals seen.
   */
  private scanTexts(plan: Plan, keywords: SlotIndex, event: MamoriEvent): void {
    const e = event as unknown as Record<string, unknown>;
    // Keys and values in the same order; the values listed natively (reading `e[k]` per key is a
    // megamorphic keyed load: ~0.4 µs more per Windows event).
    const keys = Object.keys(e);
    const values = Object.values(e);
    const minKeyword = keywords.matcher.lowerSkipBelow;
    let walked = false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === 'raw' || k === 'event_id' || k === 'org_id' || k === 'sensor_id') continue;
      const v = values[i];
      if (typeof v === 'string') {
        if (v.length >= minKeyword) {
          this.owners = keywords.owners;
          keywords.matcher.scanLower(v, this.onHit);
        }
      } else if (v === event.attributes && !Array.isArray(v) && plan.byAttribute) {
        // Not an array, as for EventContext.keywords, which walks the context's attribute keys there.
        walked = true;
        this.walkAttributes(plan.byAttribute, event, keywords);
      } else if (v !== null && typeof v === 'object') this.scanKeywordText(keywords, v, 0);
    }
    // Attributes that are not an own enumerable object (never from the codec): fields the usual way.
    if (!walked && plan.byAttribute) this.walkAttributes(plan.byAttribute, event, undefined);
  }

  /** Scans the keyword texts in a value (`walkText` in event-context.ts: objects to depth 3, arrays at any). */
  private scanKeywordText(keywords: SlotIndex, v: unknown, depth: number): void {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v !== '') {
        this.owners = keywords.owners;
        keywords.matcher.scanLower(v, this.onHit);
      }
    } else if (Array.isArray(v)) {
      for (const x of v) this.scanKeywordText(keywords, x, depth + 1);
    } else if (typeof v === 'object' && depth < 3) {
      const values = Object.values(v as Record<string, unknown>);
      const minKeyword = keywords.matcher.lowerSkipBelow;
      for (let i = 0; i < values.length; i++) {
        const x = values[i];
        // Strings without a call (a class record's values: process, file, registry), numbers and null skipped.
        if (typeof x === 'string') {
          if (x !== '' && x.length >= minKeyword) {
            this.owners = keywords.owners;
            keywords.matcher.scanLower(x, this.onHit);
          }
        } else if (x !== null && typeof x === 'object') this.scanKeywordText(keywords, x, depth + 1);
      }
    }
  }

  /** Rules that fire on the event (in rule set order), with the fields that made them fire. */
  match(event: MamoriEvent): RuleMatch[] {
    this.counters.events++;
    const plan = this.planFor(event);
    if (plan.buckets.length === 0) return [];
    this.counters.routed++;
    const ctx = this.ctx;
    ctx.reset(event);
    // Plans that walk the attributes enumerate their keys first: the field getters' spaced-key
    // lookups (on a missing attribute) then use those keys instead of enumerating them again.
    if (plan.byAttribute) ctx.attributeKeys();
    const gen = (this.generation = (this.generation + 1) >>> 0);
    if (gen === 0) {
      // Wrapped after 2^32 events: clear the stamps once so none is mistaken for this event's.
      for (const a of [this.marks, this.routed, this.altStamp, this.litStamp, this.vetoStamp]) a.fill(0);
      this.generation = 1;
      return this.match(event);
    }
    for (const b of plan.buckets) this.routed[b.id] = gen;
    this.found.length = 0;
    const always = plan.always;
    for (let i = 0; i < always.length; i++) this.evaluate(always[i]!);
    const indexes = plan.indexes;
    for (let i = 0; i < indexes.length; i++) this.scanValue(indexes[i]!, ctx.value(indexes[i]!.slot));
    if (plan.keywords) this.scanTexts(plan, plan.keywords, event);
    else if (plan.byAttribute) this.walkAttributes(plan.byAttribute, event, undefined);
    const vetoable = plan.vetoable;
    for (let i = 0; i < vetoable.length; i++) if (this.vetoStamp[vetoable[i]!] !== gen) this.evaluate(vetoable[i]!);
    const found = this.found;
    if (found.length === 0) return [];
    this.counters.matches += found.length;
    if (found.length > 1) found.sort((a, b) => a - b);
    return found.map((r) => {
      const rule = this.rules[r]!;
      return { rule: rule.rule, matched: matchedFields(rule.root, ctx, this.slots) };
    });
  }

  /** Evaluates every rule routed to the event without the literal index (for tests of the index), in rule set order. */
  matchUnindexed(event: MamoriEvent): SigmaRule[] {
    const out: SigmaRule[] = [];
    const ids = new Set(this.planFor(event).buckets.map((b) => b.id));
    this.ctx.reset(event);
    this.rules.forEach((r, i) => {
      if (ids.has(this.bucketOf[i]!) && r.test(this.ctx)) out.push(r.rule);
    });
    return out;
  }

  /** Why a rule did or did not fire on an event: routing, then every search and field with the values compared. */
  explain(event: MamoriEvent, ruleId: string): Explanation | undefined {
    const rule = this.rules.find((r) => r.rule.id === ruleId || r.rule.title === ruleId);
    if (!rule) return undefined;
    return explainRule(rule, event, this.planFor(event).buckets.some((b) => b.mapping === rule.mapping), this.slots);
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
