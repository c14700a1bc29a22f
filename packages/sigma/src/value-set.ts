import { AhoCorasick } from './aho-corasick.ts';
import type { EventContext, FieldValue } from './event-context.ts';
import { normalizeTokens, STAR, type PatternToken } from './wildcard.ts';

/** How a string value compares, when it is one of the simple forms `compilePattern` turns into one call. */
export interface ValueShape {
  readonly op: 'equals' | 'startswith' | 'endswith' | 'contains';
  /** The literal, as compared (lower-cased unless the item is `cased`). */
  readonly lit: string;
}

/** The shape of a pattern, or undefined when it has `?` or more than one literal run (a glob). */
export function shapeOf(tokens: readonly PatternToken[]): ValueShape | undefined {
  const t = normalizeTokens(tokens);
  const [a, b, c] = t;
  if (t.length === 1 && typeof a === 'string') return { op: 'equals', lit: a };
  if (t.length === 2 && a === STAR && typeof b === 'string') return { op: 'endswith', lit: b };
  if (t.length === 2 && typeof a === 'string' && b === STAR) return { op: 'startswith', lit: a };
  if (t.length === 3 && a === STAR && typeof b === 'string' && c === STAR) return { op: 'contains', lit: b };
  return undefined;
}

/** Tests of a field item with at least this many values are compared as sets (one lookup per kind). */
export const VALUE_SET_MIN = 8;

/**
 * From this many `contains` values one automaton looks for all of them at once; below, one
 * `includes` each (V8's string search beats an automaton step per character for a few literals).
 */
export const CONTAINS_AUTOMATON_MIN = 16;

interface TrieNode {
  end: boolean;
  next: Map<number, TrieNode>;
}

/** Literals by their code units, read from the front (`startswith`) or from the back (`endswith`). */
class AffixTrie {
  private readonly root: TrieNode = { end: false, next: new Map() };

  constructor(
    literals: readonly string[],
    private readonly fromEnd: boolean,
  ) {
    for (const lit of literals) {
      let node = this.root;
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(fromEnd ? lit.length - 1 - i : i);
        let child = node.next.get(c);
        if (!child) node.next.set(c, (child = { end: false, next: new Map() }));
        node = child;
      }
      node.end = true;
    }
  }

  /** Whether some literal is a prefix (a suffix, read from the end) of `s`. */
  matches(s: string): boolean {
    let node: TrieNode | undefined = this.root;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      node = node.next.get(s.charCodeAt(this.fromEnd ? n - 1 - i : i));
      if (node === undefined) return false;
      if (node.end) return true;
    }
    return false;
  }
}

/** A value test as the set predicate needs it. */
export interface SetMember {
  readonly shape?: ValueShape;
  readonly test: (value: string, ctx: EventContext) => boolean;
}

/**
 * The values of one field item compared at once: true when some value of the field matches some
 * test (what testing each in turn gives). Equalities are one `Set` lookup, prefixes and suffixes
 * one walk of a trie, `contains` literals one automaton scan (over the raw value with case folding
 * when the item compares lower case: `scanLower` reports exactly the literals of `toLowerCase()`);
 * other tests (globs, `?`) run one by one.
 */
export function valueSetPredicate(
  tests: readonly SetMember[],
  read: (ctx: EventContext) => FieldValue,
  readRaw: (ctx: EventContext) => FieldValue,
  lower: boolean,
): (ctx: EventContext) => boolean {
  const equals = new Set<string>();
  const starts: string[] = [];
  const ends: string[] = [];
  const contains: string[] = [];
  const rest: SetMember['test'][] = [];
  for (const t of tests) {
    const s = t.shape;
    if (!s) rest.push(t.test);
    else if (s.op === 'equals') equals.add(s.lit);
    else if (s.op === 'startswith') starts.push(s.lit);
    else if (s.op === 'endswith') ends.push(s.lit);
    else contains.push(s.lit);
  }
  const ac = contains.length >= CONTAINS_AUTOMATON_MIN ? new AhoCorasick(contains) : undefined;
  if (!ac) for (const lit of contains) rest.push((v) => v.includes(lit));
  const startTrie = starts.length > 0 ? new AffixTrie(starts, false) : undefined;
  const endTrie = ends.length > 0 ? new AffixTrie(ends, true) : undefined;
  const hasEquals = equals.size > 0;
  const needsCompared = hasEquals || startTrie !== undefined || endTrie !== undefined || rest.length > 0;
  const one = (x: string, ctx: EventContext): boolean => {
    if (hasEquals && equals.has(x)) return true;
    if (startTrie && startTrie.matches(x)) return true;
    if (endTrie && endTrie.matches(x)) return true;
    for (let i = 0; i < rest.length; i++) if (rest[i]!(x, ctx)) return true;
    return false;
  };
  return (ctx) => {
    if (ac) {
      // The automaton reads the raw value (folding it while scanning when the item compares lower case).
      const raw = lower ? readRaw(ctx) : read(ctx);
      if (raw === undefined) return false;
      if (typeof raw === 'string') {
        if (ac.occursIn(raw, lower)) return true;
      } else for (const x of raw) if (ac.occursIn(x, lower)) return true;
      if (!needsCompared) return false;
    }
    const v = read(ctx);
    if (v === undefined) return false;
    if (typeof v === 'string') return one(v, ctx);
    for (const x of v) if (one(x, ctx)) return true;
    return false;
  };
}
