import type { SigmaCondition } from './ast.ts';

/** Thrown by {@link parseCondition}; the caller adds path and line. */
export class ConditionSyntaxError extends Error {}

type Token = { t: 'lp' } | { t: 'rp' } | { t: 'and' } | { t: 'or' } | { t: 'not' } | { t: 'of' } | { t: 'one' } | { t: 'all' } | { t: 'id'; v: string } | { t: 'pipe' };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(\(|\)|\||[^\s()|]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    m = re.exec(text);
    if (!m) {
      if (/^\s*$/.test(text.slice(pos))) break;
      throw new ConditionSyntaxError(`unexpected character at offset ${pos}`);
    }
    pos = re.lastIndex;
    const w = m[1]!;
    const lw = w.toLowerCase();
    if (w === '(') out.push({ t: 'lp' });
    else if (w === ')') out.push({ t: 'rp' });
    else if (w === '|') out.push({ t: 'pipe' });
    else if (lw === 'and') out.push({ t: 'and' });
    else if (lw === 'or') out.push({ t: 'or' });
    else if (lw === 'not') out.push({ t: 'not' });
    else if (lw === 'of') out.push({ t: 'of' });
    else if (lw === 'all') out.push({ t: 'all' });
    else if (w === '1') out.push({ t: 'one' });
    else out.push({ t: 'id', v: w });
  }
  return out;
}

/**
 * Parses a Sigma condition: `or` < `and` < `not` < `1 of x` / `all of x` < parentheses.
 * Aggregations (`| count() by ...`, Sigma 1.0) are rejected with a message naming them.
 */
export function parseCondition(text: string): SigmaCondition {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const describe = (tok: Token | undefined): string => (tok === undefined ? 'end of condition' : tok.t === 'id' ? `'${tok.v}'` : `'${tok.t === 'one' ? '1' : tok.t}'`);

  function parseOr(): SigmaCondition {
    const args = [parseAnd()];
    while (peek()?.t === 'or') {
      i++;
      args.push(parseAnd());
    }
    return args.length === 1 ? args[0]! : { op: 'or', args };
  }
  function parseAnd(): SigmaCondition {
    const args = [parseNot()];
    while (peek()?.t === 'and') {
      i++;
      args.push(parseNot());
    }
    return args.length === 1 ? args[0]! : { op: 'and', args };
  }
  function parseNot(): SigmaCondition {
    if (peek()?.t === 'not') {
      i++;
      return { op: 'not', arg: parseNot() };
    }
    return parseAtom();
  }
  function parseAtom(): SigmaCondition {
    const tok = tokens[i++];
    if (!tok) throw new ConditionSyntaxError('unexpected end of condition');
    if (tok.t === 'lp') {
      const inner = parseOr();
      const close = tokens[i++];
      if (close?.t !== 'rp') throw new ConditionSyntaxError(`expected ')' but found ${describe(close)}`);
      return inner;
    }
    if (tok.t === 'one' || tok.t === 'all') {
      const of = tokens[i++];
      if (of?.t !== 'of') throw new ConditionSyntaxError(`expected 'of' after '${tok.t === 'one' ? '1' : 'all'}' but found ${describe(of)}`);
      const target = tokens[i++];
      if (target?.t !== 'id') throw new ConditionSyntaxError(`expected a search identifier pattern or 'them' after 'of' but found ${describe(target)}`);
      return { op: 'of', quantifier: tok.t === 'one' ? 'one' : 'all', pattern: target.v.toLowerCase() === 'them' ? 'them' : target.v };
    }
    if (tok.t === 'id') {
      if (/^\d+$/.test(tok.v) && tokens[i]?.t === 'of') throw new ConditionSyntaxError(`'${tok.v} of' is not Sigma: only '1 of' and 'all of' exist`);
      return { op: 'ref', name: tok.v };
    }
    if (tok.t === 'pipe') throw new ConditionSyntaxError('aggregation expressions (`| count() ...`) are Sigma 1.0 syntax; use a correlation rule');
    throw new ConditionSyntaxError(`unexpected ${describe(tok)}`);
  }

  if (tokens.length === 0) throw new ConditionSyntaxError('empty condition');
  const result = parseOr();
  if (i < tokens.length) {
    const tok = tokens[i];
    if (tok?.t === 'pipe') throw new ConditionSyntaxError('aggregation expressions (`| count() ...`) are Sigma 1.0 syntax; use a correlation rule');
    throw new ConditionSyntaxError(`unexpected ${describe(tok)} after a complete expression`);
  }
  return result;
}

/** Identifiers an `of` pattern selects (`them`: all not starting with `_`). */
export function expandOfPattern(pattern: string, names: Iterable<string>): string[] {
  const all = [...names];
  if (pattern === 'them') return all.filter((n) => !n.startsWith('_'));
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return all.filter((n) => re.test(n));
}
