import { WasmDfa } from './wasm-dfa.ts';

/**
 * Aho-Corasick automaton over UTF-16 code units: finds every occurrence of any of many patterns in
 * one pass over the text (O(text + matches)).
 *
 * ASCII runs through a full DFA (failure links resolved at build time) over a compressed alphabet:
 * each ASCII code unit maps to a class, every code unit that occurs in no pattern to class 0, whose
 * transition is always the root. States are renumbered so that those with an output come last, and
 * the table holds row offsets (`state * classes`), so one step is `s = table[s + class]` and one
 * comparison tells whether anything ends there. Code units from U+0080 take the classic
 * goto/failure walk over per-state maps (rare in Sigma literals and in events).
 */
export class AhoCorasick {
  /** ASCII code unit → class, exact. */
  private readonly exactClass = new Uint8Array(128);
  /** ASCII code unit → class with `A`–`Z` read as `a`–`z` (the text as `toLowerCase` would give it). */
  private readonly foldClass = new Uint8Array(128);
  private readonly classes: number;
  /** Row offset (`state * classes`) of the next state, per row offset and class. */
  private readonly table: Int32Array;
  private readonly fail: Int32Array;
  /** Row offset of the first state with an output: every state from there on has one. */
  private readonly outRow: number;
  /** Transitions on code units from U+0080, per state (absent for most states). */
  private readonly wide: (Map<number, number> | undefined)[];
  private readonly hasWide: boolean;
  /** Per state with an output (from the first): pattern indexes ending there, including those reached through failure links. */
  private readonly out: (readonly number[])[];
  /** States of the automaton (for sizing and tests). */
  readonly states: number;
  /**
   * Length of the shortest pattern: a shorter text holds no occurrence, nor, when every pattern is
   * ASCII, does its lower case (each ASCII code unit of `toLowerCase()` comes from its own code unit
   * of the text; U+0130 grows to two code units, the second not ASCII).
   */
  private readonly minLength: number;
  /** Length of the longest pattern (how far apart the two runs over a long text start, `wasm-dfa.ts`). */
  private readonly maxLength: number;
  /** `scanLower` finds nothing in a text shorter than this (`minLength`, or 0 with patterns from U+0080). */
  readonly lowerSkipBelow: number;
  /** For sets of long ASCII patterns: a scanner that skips ahead (used by `scanLower`). */
  private readonly skip: SkipScanner | undefined;
  /** The ASCII loop of `scanLower` in WebAssembly, built on the first long text (null: unavailable). */
  private wasm: WasmDfa | null | undefined;

  /**
   * `wasm`: long all-ASCII texts may run through WebAssembly (`wasm-dfa.ts`; one instance of ~130 KB
   * and up per automaton, built on its first such text): for automata that scan every event (the rule
   * set's indexes), not the many that rule evaluations use now and then.
   */
  constructor(
    readonly patterns: readonly string[],
    private readonly options: { wasm?: boolean } = {},
  ) {
    let classes = 1;
    for (const p of patterns) {
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        if (c < 128 && this.exactClass[c] === 0) this.exactClass[c] = classes++;
      }
    }
    this.classes = classes;
    for (let c = 0; c < 128; c++) this.foldClass[c] = c >= 65 && c <= 90 ? this.exactClass[c + 32]! : this.exactClass[c]!;

    let max = 1;
    for (const p of patterns) max += p.length;
    let table = new Int32Array(max * classes);
    const wide: (Map<number, number> | undefined)[] = [];
    const own: (number[] | undefined)[] = [];
    let states = 1;
    let hasWide = false;
    patterns.forEach((p, index) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        if (c < 128) {
          const at = s * classes + this.exactClass[c]!;
          let next = table[at]!;
          if (next === 0) table[at] = next = states++;
          s = next;
        } else {
          hasWide = true;
          let m = wide[s];
          if (!m) wide[s] = m = new Map();
          let next = m.get(c);
          if (next === undefined) {
            m.set(c, (next = states++));
          }
          s = next;
        }
      }
      (own[s] ??= []).push(index);
    });
    if (states < max) table = table.slice(0, states * classes);
    const fail = new Int32Array(states);
    const out: (readonly number[])[] = new Array<readonly number[]>(states).fill(NO_OUTPUT);
    const hasOut = new Uint8Array(states);
    if (own[0]) {
      out[0] = own[0];
      hasOut[0] = 1;
    }
    // Breadth-first: a state's failure target is shallower, so its row and outputs are final when read.
    const queue = new Int32Array(states);
    let tail = 0;
    for (let k = 0; k < classes; k++) {
      const child = table[k]!;
      if (child !== 0) queue[tail++] = child;
    }
    if (wide[0]) for (const child of wide[0].values()) queue[tail++] = child;
    for (let head = 0; head < tail; head++) {
      const s = queue[head]!;
      const f = fail[s]!;
      const row = s * classes;
      const frow = f * classes;
      for (let k = 0; k < classes; k++) {
        const child = table[row + k]!;
        if (child !== 0) {
          fail[child] = table[frow + k]!;
          queue[tail++] = child;
        } else table[row + k] = table[frow + k]!;
      }
      const m = wide[s];
      if (m) {
        for (const [c, child] of m) {
          let g = f;
          let target = wide[g]?.get(c);
          while (target === undefined && g !== 0) {
            g = fail[g]!;
            target = wide[g]?.get(c);
          }
          fail[child] = target ?? 0;
          queue[tail++] = child;
        }
      }
      const mine = own[s];
      const inherited = out[f]!;
      if (mine || inherited.length > 0) {
        out[s] = mine ? (inherited.length > 0 ? [...mine, ...inherited] : mine) : inherited;
        hasOut[s] = 1;
      }
    }
    // Renumber: states without output first (breadth-first, the root stays 0), then those with output.
    const order = [0, ...queue.subarray(0, tail)];
    const newId = new Int32Array(states);
    let n = 0;
    for (const st of order) if (hasOut[st] === 0) newId[st] = n++;
    const outStart = n;
    for (const st of order) if (hasOut[st] === 1) newId[st] = n++;
    const rows = new Int32Array(states * classes);
    const fail2 = new Int32Array(states);
    const wide2: (Map<number, number> | undefined)[] = [];
    const out2: (readonly number[])[] = new Array<readonly number[]>(states - outStart);
    for (let st = 0; st < states; st++) {
      const id = newId[st]!;
      for (let k = 0; k < classes; k++) rows[id * classes + k] = newId[table[st * classes + k]!]! * classes;
      fail2[id] = newId[fail[st]!]!;
      const m = wide[st];
      if (m) wide2[id] = new Map([...m].map(([c, next]) => [c, newId[next]!]));
      if (id >= outStart) out2[id - outStart] = out[st]!;
    }
    this.table = rows;
    this.fail = fail2;
    this.wide = wide2;
    this.hasWide = hasWide;
    this.out = out2;
    this.outRow = outStart * classes;
    this.states = states;
    let minLength = Infinity;
    for (const p of patterns) minLength = Math.min(minLength, p.length);
    this.minLength = minLength;
    let maxLength = 0;
    for (const p of patterns) maxLength = Math.max(maxLength, p.length);
    this.maxLength = maxLength;
    this.lowerSkipBelow = hasWide ? 0 : minLength;
    this.skip = SkipScanner.build(patterns, hasWide);
  }

  /**
   * Calls `onMatch(patternIndex)` for every occurrence in `text` (a pattern may be reported more than
   * once). `onMatch` returning true stops the scan; the result says whether it did.
   */
  scan(text: string, onMatch: OnMatch): boolean {
    if (text.length < this.minLength) return false;
    const table = this.table;
    const cls = this.exactClass;
    const outRow = this.outRow;
    let s = 0;
    if (outRow === 0 && this.report(0, onMatch)) return true;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = c < 128 ? table[s + cls[c]!]! : this.wideStep(s, c);
      if (s >= outRow && this.report(s, onMatch)) return true;
    }
    return false;
  }

  /**
   * Reports every pattern occurring in `text.toLowerCase()`, as `scan(text.toLowerCase(), onMatch)`
   * would, without building the lower-case copy: `A`–`Z` are read as `a`–`z`. That is exact because
   * `toLowerCase` maps each code point on its own (only Σ looks at its neighbours, and it stays
   * non-ASCII) and the only code points from U+0080 whose lower case contains ASCII are U+0130
   * (`i̇`) and U+212A (`k`). So when no pattern has a code unit from U+0080, any other such code
   * unit only breaks runs (the root state); on those two, or when patterns have such code units,
   * the real lower-case text is scanned instead (patterns already seen may be reported twice).
   * `onMatch` returning true stops the scan, as in `scan`.
   */
  scanLower(text: string, onMatch: OnMatch): boolean {
    if (text.length < this.lowerSkipBelow) return false;
    if (this.skip) return this.skip.scanLower(text, onMatch);
    // Long texts: the same DFA steps in WebAssembly (all-ASCII texts, whatever the patterns: an ASCII
    // text takes only the table's steps, as in the loop below; no empty pattern).
    if (text.length >= WASM_MIN_TEXT && this.options.wasm === true && this.outRow > 0) {
      if (this.wasm === undefined) this.wasm = WasmDfa.build(this.table, this.foldClass, this.outRow, this.maxLength);
      const done = this.wasm?.scan(text, (row) => this.report(row, onMatch));
      if (done !== undefined) return done;
    }
    const table = this.table;
    const cls = this.foldClass;
    const outRow = this.outRow;
    let s = 0;
    if (outRow === 0 && this.report(0, onMatch)) return true;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 128) s = table[s + cls[c]!]!;
      else if (this.hasWide || c === 0x130 || c === 0x212a) return this.scan(text.toLowerCase(), onMatch);
      else s = 0;
      if (s >= outRow && this.report(s, onMatch)) return true;
    }
    return false;
  }

  /** Whether `scanLower` skips ahead (Wu-Manber: every pattern ASCII and at least `SKIP_MIN_LENGTH` long). */
  get skips(): boolean {
    return this.skip !== undefined;
  }

  /** Whether any pattern occurs in `text` (`lower`: in `text.toLowerCase()`), stopping at the first. */
  occursIn(text: string, lower: boolean): boolean {
    return lower ? this.scanLower(text, STOP) : this.scan(text, STOP);
  }

  private report(row: number, onMatch: OnMatch): boolean {
    const hits = this.out[(row - this.outRow) / this.classes]!;
    for (let j = 0; j < hits.length; j++) if (onMatch(hits[j]!) === true) return true;
    return false;
  }

  /** One step on a code unit from U+0080, from and to row offsets. */
  private wideStep(row: number, c: number): number {
    if (!this.hasWide) return 0;
    let s = row / this.classes;
    for (;;) {
      const next = this.wide[s]?.get(c);
      if (next !== undefined) return next * this.classes;
      if (s === 0) return 0;
      s = this.fail[s]!;
    }
  }
}

/** Shortest text `scanLower` runs through WebAssembly (shorter ones cost less than the call and copy). */
export const WASM_MIN_TEXT = 64;

/** Called with each pattern found; returning `true` (exactly) stops the scan. */
export type OnMatch = (pattern: number) => unknown;

const STOP: OnMatch = () => true;

const NO_OUTPUT: readonly number[] = Object.freeze([]);

/** Shortest pattern length from which skipping beats the automaton's one step per character. */
export const SKIP_MIN_LENGTH = 5;

/** ASCII lower case, and 0 for code units from U+0080 (no pattern of a skip scanner has one). */
const FOLD = new Uint8Array(128);
for (let c = 0; c < 128; c++) FOLD[c] = c >= 65 && c <= 90 ? c + 32 : c;

/**
 * Wu-Manber for a set of lower-case ASCII patterns at least `SKIP_MIN_LENGTH` long, over the text as
 * `toLowerCase` gives it: a window as long as the shortest pattern slides over the text; the pair
 * of characters at its end says how far it may jump without passing the end of any pattern's
 * first `m` characters (`m - 1` when the pair occurs in no pattern's first `m`). Where the jump is
 * 0, the patterns whose first `m` characters end with that pair are compared in place.
 *
 * The text is read through `g`: `A`–`Z` as `a`–`z`, U+212A as `k`, U+0130 as `i`, any other code
 * unit from U+0080 as 0 (in the pairs; the comparison never takes it for a pattern character). The
 * scan finds every occurrence in `g(text)` (a jump never passes the end of an occurrence's first
 * `m` characters: it is the least distance from the pair to the end of a prefix holding it; there
 * the pair gives jump 0 and the comparison finds it). Those are exactly the occurrences in
 * `text.toLowerCase()`: it maps each code unit on its own and keeps its length, except U+0130,
 * which becomes `i` + U+0307; ASCII patterns hold no U+0307, so an occurrence may end on that `i`
 * but not run through it, and the comparison accepts U+0130 only as a pattern's last character.
 * (Only U+0130 and U+212A have a lower case with ASCII in it; Σ looks at its neighbours but stays
 * non-ASCII.) So no pass over the text looks for those two first.
 */
class SkipScanner {
  private constructor(
    private readonly patterns: readonly string[],
    private readonly m: number,
    /** Jump per pair `fold(a) * 128 + fold(b)`. */
    private readonly shift: Uint8Array,
    /** Per pair: patterns whose first `m` characters end with it, `start[pair]..start[pair + 1]` in `list`. */
    private readonly start: Int32Array,
    private readonly list: Int32Array,
  ) {}

  static build(patterns: readonly string[], hasWide: boolean): SkipScanner | undefined {
    if (hasWide || patterns.length === 0) return undefined;
    let m = Infinity;
    for (const p of patterns) m = Math.min(m, p.length);
    if (m < SKIP_MIN_LENGTH) return undefined;
    const cap = Math.min(m - 1, 255);
    const shift = new Uint8Array(128 * 128).fill(cap);
    const counts = new Int32Array(128 * 128 + 1);
    for (const p of patterns) {
      for (let j = Math.max(1, m - 1 - cap); j < m; j++) {
        const pair = FOLD[p.charCodeAt(j - 1)]! * 128 + FOLD[p.charCodeAt(j)]!;
        shift[pair] = Math.min(shift[pair]!, m - 1 - j);
      }
      counts[FOLD[p.charCodeAt(m - 2)]! * 128 + FOLD[p.charCodeAt(m - 1)]! + 1]!++;
    }
    for (let i = 0; i < 128 * 128; i++) counts[i + 1]! += counts[i]!;
    const start = counts.slice();
    const fill = counts.slice();
    const list = new Int32Array(patterns.length);
    patterns.forEach((p, k) => {
      list[fill[FOLD[p.charCodeAt(m - 2)]! * 128 + FOLD[p.charCodeAt(m - 1)]!]!++] = k;
    });
    return new SkipScanner(patterns, m, shift, start, list);
  }

  /** Reports every pattern occurring in `text.toLowerCase()` (see the class comment); true when `onMatch` stopped it. */
  scanLower(text: string, onMatch: OnMatch): boolean {
    const { m, shift, start, list, patterns } = this;
    const n = text.length;
    let pos = m - 1;
    while (pos < n) {
      const a = text.charCodeAt(pos - 1);
      const b = text.charCodeAt(pos);
      const pair = (a < 128 ? FOLD[a]! : foldWide(a)) * 128 + (b < 128 ? FOLD[b]! : foldWide(b));
      const jump = shift[pair]!;
      if (jump > 0) {
        pos += jump;
        continue;
      }
      const from = pos - m + 1;
      for (let k = start[pair]!; k < start[pair + 1]!; k++) {
        const p = patterns[list[k]!]!;
        const last = p.length - 1;
        if (from + p.length > n) continue;
        let i = 0;
        while (i <= last) {
          const c = text.charCodeAt(from + i);
          const f = c < 128 ? FOLD[c]! : c === 0x212a ? 107 : c === 0x130 && i === last ? 105 : -1;
          if (f !== p.charCodeAt(i)) break;
          i++;
        }
        if (i > last && onMatch(list[k]!) === true) return true;
      }
      pos++;
    }
    return false;
  }
}

/** `g` of a code unit from U+0080 (see `SkipScanner`): U+212A is `k`, U+0130 is `i`, others 0. */
function foldWide(c: number): number {
  return c === 0x212a ? 107 : c === 0x130 ? 105 : 0;
}

/** Below this many patterns a loop of `includes` is cheaper than the automaton. */
export const AHO_CORASICK_MIN_PATTERNS = 8;

/** Finds which of a set of literals occur in a text: Aho-Corasick from 8 patterns, `includes` below. */
export class LiteralMatcher {
  private readonly ac: AhoCorasick | undefined;

  constructor(readonly patterns: readonly string[]) {
    this.ac = patterns.length >= AHO_CORASICK_MIN_PATTERNS ? new AhoCorasick(patterns) : undefined;
  }

  scan(text: string, onMatch: (pattern: number) => void): void {
    if (this.ac) {
      this.ac.scan(text, onMatch);
      return;
    }
    for (let i = 0; i < this.patterns.length; i++) if (text.includes(this.patterns[i]!)) onMatch(i);
  }
}
