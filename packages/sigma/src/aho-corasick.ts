/**
 * Aho-Corasick automaton over UTF-16 code units: finds every occurrence of any of many patterns in
 * one pass over the text (O(text + matches)). Transitions live in one Map keyed by
 * `state * 65536 + code unit`; failure links are precomputed breadth-first.
 */
export class AhoCorasick {
  private readonly goto = new Map<number, number>();
  private readonly fail: number[] = [0];
  /** Pattern indexes ending at each state, including those reached through failure links. */
  private readonly out: number[][] = [[]];
  /** Dense transitions for ASCII after failure resolution (a DFA): `state * 128 + code`. */
  private dense: Int32Array = new Int32Array(0);
  /** Whether a state has any output (own or inherited). */
  private hasOut: Uint8Array = new Uint8Array(0);

  constructor(readonly patterns: readonly string[]) {
    let states = 1;
    patterns.forEach((p, index) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const key = s * 65536 + p.charCodeAt(i);
        let next = this.goto.get(key);
        if (next === undefined) {
          next = states++;
          this.goto.set(key, next);
          this.fail.push(0);
          this.out.push([]);
        }
        s = next;
      }
      this.out[s]!.push(index);
    });
    // Children per state for the breadth-first pass.
    const children: [number, number][][] = Array.from({ length: states }, () => []);
    for (const [key, next] of this.goto) children[Math.floor(key / 65536)]!.push([key % 65536, next]);
    const queue: number[] = [];
    for (const [, next] of children[0]!) queue.push(next);
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const [c, next] of children[s]!) {
        queue.push(next);
        let f = this.fail[s]!;
        let target = this.goto.get(f * 65536 + c);
        while (target === undefined && f !== 0) {
          f = this.fail[f]!;
          target = this.goto.get(f * 65536 + c);
        }
        this.fail[next] = target !== undefined && target !== next ? target : 0;
        const inherited = this.out[this.fail[next]!]!;
        if (inherited.length > 0) this.out[next] = [...this.out[next]!, ...inherited];
      }
    }
    // Full DFA over ASCII in breadth-first order: a state's missing transition is its failure state's.
    this.dense = new Int32Array(states * 128);
    this.hasOut = new Uint8Array(states);
    const order = [0, ...queue];
    for (const s of order) {
      this.hasOut[s] = this.out[s]!.length > 0 ? 1 : 0;
      for (let c = 0; c < 128; c++) {
        const direct = this.goto.get(s * 65536 + c);
        this.dense[s * 128 + c] = direct ?? (s === 0 ? 0 : this.dense[this.fail[s]! * 128 + c]!);
      }
    }
  }

  /** Calls `onMatch(patternIndex)` for every occurrence (a pattern may be reported more than once). */
  scan(text: string, onMatch: (pattern: number) => void): void {
    const goto = this.goto;
    const fail = this.fail;
    const out = this.out;
    const dense = this.dense;
    const hasOut = this.hasOut;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        s = dense[s * 128 + c]!;
      } else {
        let next = goto.get(s * 65536 + c);
        while (next === undefined && s !== 0) {
          s = fail[s]!;
          next = goto.get(s * 65536 + c);
        }
        s = next ?? 0;
      }
      if (hasOut[s] === 1) {
        const hits = out[s]!;
        for (let j = 0; j < hits.length; j++) onMatch(hits[j]!);
      }
    }
  }
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
