import type { CompiledNode, ValueTest } from './compile.ts';

/** Index slot of the keyword texts (every text of the event), beside the field slots. */
export const KEYWORDS = -1;

/** A lower-case literal that must occur in a field's lower-cased value (or in some keyword text). */
export interface NeededLiteral {
  readonly slot: number;
  readonly lit: string;
}

/**
 * What a rule cannot match without, as alternatives: for the rule to be true, every literal of at
 * least one alternative occurs in the event. `null`: nothing can be named (the rule is evaluated
 * for every event of its log source). Each alternative lists its strongest literal first.
 */
export type Need = readonly (readonly NeededLiteral[])[];

/** Most alternatives a conjunction may multiply out to; past it the weaker side is left out. */
const MAX_ALTERNATIVES = 64;
/** Most literals one alternative keeps (the longest ones: more only costs owner checks). */
const MAX_CONJUNCTION = 4;

/** Strength of a literal: longer is rarer, capped at 8 characters; one non-ASCII character counts as 4. */
function strength(lit: string): number {
  let ascii = true;
  for (let i = 0; i < lit.length; i++) if (lit.charCodeAt(i) >= 128) ascii = false;
  return Math.min(ascii ? lit.length : lit.length + 3, 8);
}

/** A literal too weak to index: empty, or one ASCII character (occurs almost everywhere). */
function weak(lit: string): boolean {
  return lit.length === 0 || strength(lit) < 2;
}

/** What a value test needs, or null: its `literal`, else every clause of its `allOf` (weak clauses left out). */
function testNeed(slot: number, t: ValueTest): Need | null {
  if (t.literal !== undefined) return weak(t.literal) ? null : [[{ slot, lit: t.literal }]];
  let need: Need | null = null;
  for (const clause of t.allOf ?? []) {
    if (clause.length === 0 || clause.some(weak)) continue;
    const n: Need = clause.map((lit) => [{ slot, lit }]);
    need = need ? both(need, n) : n;
  }
  return need;
}

/** How selective a need is: its weakest alternative's strongest literal, then fewer alternatives. */
export function needScore(need: Need): number {
  let weakest = Infinity;
  for (const alt of need) {
    let best = 0;
    for (const l of alt) best = Math.max(best, strength(l.lit) * 10 + (l.slot === KEYWORDS ? 0 : 1));
    weakest = Math.min(weakest, best);
  }
  return weakest * 1000 - need.length;
}

/** Distinct literals, strongest first (the first is the alternative's trigger), at most `MAX_CONJUNCTION`. */
function normalize(alt: readonly NeededLiteral[]): NeededLiteral[] {
  const seen = new Map<string, NeededLiteral>();
  for (const l of alt) seen.set(`${l.slot}\u0000${l.lit}`, l);
  return [...seen.values()].sort((a, b) => strength(b.lit) - strength(a.lit)).slice(0, MAX_CONJUNCTION);
}

/** Both needs hold: every pair of alternatives, or the stronger need alone when that grows too large. */
function both(a: Need, b: Need): Need {
  if (a.length * b.length > MAX_ALTERNATIVES) return needScore(a) >= needScore(b) ? a : b;
  const out: NeededLiteral[][] = [];
  for (const x of a) for (const y of b) out.push(normalize([...x, ...y]));
  return out;
}

function testsNeed(slot: number, tests: readonly ValueTest[], all: boolean): Need | null {
  if (tests.length === 0) return null;
  const per = tests.map((t) => testNeed(slot, t));
  if (all) {
    // Every value must match: each value with literals adds its own requirement.
    let need: Need | null = null;
    for (const n of per) if (n) need = need ? both(need, n) : n;
    return need;
  }
  // One value must match: every value has to name its literals.
  const out = new Map<string, readonly NeededLiteral[]>();
  for (const n of per) {
    if (!n) return null;
    for (const alt of n) out.set(alt.map((l) => l.lit).join('\u0000'), alt);
  }
  return [...out.values()];
}

/**
 * The literals a rule cannot match without. Field item: one of its values' literals in that field
 * (with `all`: every value's). Keywords: the same in some text of the event. `and`: the children's
 * needs combined; `or`: any child's, so every child must name one. `not`, `exists`, `neq`,
 * numbers, CIDR ranges and field references name none. A regular expression names what RE2's
 * prefilter requires (compile.ts, `regexClauses`).
 *
 * Soundness: each case only states what a true node implies (a matching value contains the
 * literal of its pattern; a true `and` has every child true; a true `or` has some child true),
 * and dropping literals from an alternative or a side of a conjunction only weakens it.
 */
export function needOf(node: CompiledNode): Need | null {
  switch (node.k) {
    case 'search':
      return needOf(node.node);
    case 'field':
      if (node.mode !== 'match' || node.neq) return null;
      return testsNeed(node.slot, node.tests, node.all);
    case 'keyword':
      return testsNeed(KEYWORDS, node.tests, node.all);
    case 'and': {
      const needs = node.args.map(needOf).filter((n): n is Need => n !== null);
      if (needs.length === 0) return null;
      // Strongest first, so it is the one kept when a product grows too large.
      needs.sort((a, b) => needScore(b) - needScore(a));
      return needs.reduce(both);
    }
    case 'or': {
      const out: (readonly NeededLiteral[])[] = [];
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

/**
 * Literals whose presence makes a node true (any one suffices), or none: a field item compared
 * case-insensitively whose value tests include a plain `contains` (that test holds exactly when its
 * literal occurs in the lower-cased value, or in one of its values), `or` and searches through their
 * children. Literals shorter than `VETO_MIN_LENGTH` are left out (they would crowd the automata).
 */
function sufficientOf(node: CompiledNode, out: NeededLiteral[]): void {
  switch (node.k) {
    case 'search':
      sufficientOf(node.node, out);
      return;
    case 'or':
      for (const a of node.args) sufficientOf(a, out);
      return;
    case 'field':
      if (node.mode !== 'match' || node.neq || !node.lower || (node.all && node.tests.length > 1)) return;
      for (const t of node.tests) {
        if (t.shape?.op === 'contains' && t.shape.lit.length >= VETO_MIN_LENGTH) out.push({ slot: node.slot, lit: t.shape.lit });
      }
      return;
    default:
      return;
  }
}

/** Shortest veto literal. */
export const VETO_MIN_LENGTH = 5;

/**
 * Literals whose presence in their field's lower-cased value makes a rule false (a *veto*): the
 * literals that make true a `not` under the root's conjunctions (`selection and not 1 of filter_*`),
 * and those that make true a filter attached to the rule. Sound for the same reason as `needOf`:
 * a present literal makes its `contains` test, hence the `or` above it, hence the `not`'s argument
 * true, and the conjunction holding that `not` false.
 */
export function vetoOf(root: CompiledNode, filters: readonly CompiledNode[] = []): NeededLiteral[] {
  const out: NeededLiteral[] = [];
  const walk = (n: CompiledNode): void => {
    if (n.k === 'search') walk(n.node);
    else if (n.k === 'and') for (const a of n.args) walk(a);
    else if (n.k === 'not') sufficientOf(n.arg, out);
  };
  walk(root);
  for (const f of filters) sufficientOf(f, out);
  return out;
}
