/** A Sigma string value with its wildcards: literal text, `*` (any run) and `?` (one character). */
export type PatternToken = string | typeof STAR | typeof ONE;
export const STAR = -1;
export const ONE = -2;

/**
 * Parses Sigma's escaping: `\*`, `\?` and `\\` are the literal characters; a backslash before
 * anything else is itself (so `C:\Windows\` needs no doubling).
 */
export function parseWildcards(value: string): PatternToken[] {
  const out: PatternToken[] = [];
  let acc = '';
  const flush = (): void => {
    if (acc !== '') out.push(acc);
    acc = '';
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') {
      const n = value[i + 1];
      if (n === '*' || n === '?' || n === '\\') {
        acc += n;
        i++;
      } else acc += c;
    } else if (c === '*') {
      flush();
      if (out[out.length - 1] !== STAR) out.push(STAR);
    } else if (c === '?') {
      flush();
      out.push(ONE);
    } else acc += c;
  }
  flush();
  return out;
}

/** Merges adjacent literals and runs of `*`. */
export function normalizeTokens(tokens: readonly PatternToken[]): PatternToken[] {
  const out: PatternToken[] = [];
  for (const t of tokens) {
    const last = out[out.length - 1];
    if (typeof t === 'string') {
      if (t === '') continue;
      if (typeof last === 'string') out[out.length - 1] = last + t;
      else out.push(t);
    } else if (t === STAR && last === STAR) continue;
    else out.push(t);
  }
  return out;
}

export function isLiteral(tokens: readonly PatternToken[]): boolean {
  return tokens.every((t) => typeof t === 'string');
}

export function literalText(tokens: readonly PatternToken[]): string {
  return tokens.filter((t): t is string => typeof t === 'string').join('');
}

/** Renders tokens back to Sigma syntax (for messages and explain). */
export function renderTokens(tokens: readonly PatternToken[]): string {
  return tokens.map((t) => (t === STAR ? '*' : t === ONE ? '?' : t.replace(/[\\*?]/g, '\\$&'))).join('');
}

/** The longest literal run: every string the pattern matches contains it. */
export function longestLiteral(tokens: readonly PatternToken[]): string {
  let best = '';
  for (const t of tokens) if (typeof t === 'string' && t.length > best.length) best = t;
  return best;
}

/**
 * Compiles a pattern to the cheapest test: equality, startsWith, endsWith, includes, or a linear
 * glob matcher (no regular expressions, so no backtracking blow-up).
 */
export function compilePattern(input: readonly PatternToken[]): (s: string) => boolean {
  const t = normalizeTokens(input);
  if (t.length === 0) return (s) => s === '';
  const a = t[0]!;
  const b = t[1];
  const c = t[2];
  if (t.length === 1) {
    if (a === STAR) return () => true;
    if (typeof a === 'string') return (s) => s === a;
  }
  if (t.length === 2) {
    if (a === STAR && typeof b === 'string') return (s) => s.endsWith(b);
    if (typeof a === 'string' && b === STAR) return (s) => s.startsWith(a);
  }
  if (t.length === 3) {
    if (a === STAR && typeof b === 'string' && c === STAR) return (s) => s.includes(b);
    if (typeof a === 'string' && b === STAR && typeof c === 'string') {
      const min = a.length + c.length;
      return (s) => s.length >= min && s.startsWith(a) && s.endsWith(c);
    }
  }
  // Flatten to code units: literal chars, ONE, STAR.
  const pat: (string | number)[] = [];
  for (const x of t) {
    if (typeof x === 'string') for (const ch of x.split('')) pat.push(ch);
    else pat.push(x);
  }
  return (s) => globMatch(s, pat);
}

/**
 * Iterative wildcard matching with a single backtrack point (the last `*`): O(n·m) worst case,
 * never exponential.
 */
function globMatch(s: string, p: readonly (string | number)[]): boolean {
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const pc = p[pi];
    if (pc !== undefined && pc !== STAR && (pc === ONE || pc === s[si])) {
      si++;
      pi++;
    } else if (pc === STAR) {
      starP = pi++;
      starS = si;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else return false;
  }
  while (p[pi] === STAR) pi++;
  return pi === p.length;
}
