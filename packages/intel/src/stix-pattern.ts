/**
 * The part of the STIX 2.1 patterning grammar that names observable values: observation
 * expressions `[ ... ]` holding comparisons `object-type:path op literal` joined by AND/OR, with
 * parentheses, and observations joined by OR. Everything else parses (so it can be reported
 * precisely) or fails with a reason: qualifiers (WITHIN, REPEATS, START/STOP), AND/FOLLOWEDBY
 * between observations, operators other than `=` (and `ISSUBSET` for networks), non-string literals.
 */

/** One `object:path op 'value'` comparison. */
export interface Comparison {
  objectType: string;
  /** The property path, quotes removed: `value`, `hashes.SHA-256`. */
  path: string;
  operator: string;
  negated: boolean;
  /** The literal as written when it is a string; undefined for other literal kinds. */
  value: string | undefined;
}

/** A pattern in disjunctive normal form: OR over conjunctions of comparisons. */
export type PatternDnf = Comparison[][];

export class PatternError extends Error {}

type Token = { t: 'punct'; v: string } | { t: 'word'; v: string } | { t: 'str'; v: string } | { t: 'other'; v: string };

const OPERATORS = new Set(['=', '!=', '<', '>', '<=', '>=', 'IN', 'LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET', 'EXISTS']);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if ('[]()'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new PatternError('unterminated string literal');
        const d = text[i]!;
        if (d === '\\') {
          s += text[i + 1] ?? '';
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ t: 'str', v: s });
    } else if ('=!<>'.includes(c)) {
      const two = text.slice(i, i + 2);
      const op = two === '!=' || two === '<=' || two === '>=' ? two : c;
      out.push({ t: 'word', v: op });
      i += op.length;
    } else if (/[thb]/.test(c) && text[i + 1] === "'") {
      // Timestamp, hex and binary literals: kept as "other" (unsupported as indicator values).
      const end = text.indexOf("'", i + 2);
      if (end < 0) throw new PatternError('unterminated literal');
      out.push({ t: 'other', v: text.slice(i, end + 1) });
      i = end + 1;
    } else {
      // A word or an object path; paths may hold quoted components (`hashes.'SHA-256'`).
      let w = '';
      while (i < text.length && !/[\s[\]()=!<>]/.test(text[i]!)) {
        if (text[i] === "'") {
          const end = text.indexOf("'", i + 1);
          if (end < 0) throw new PatternError('unterminated quoted path component');
          w += text.slice(i + 1, end);
          i = end + 1;
        } else w += text[i++];
      }
      out.push({ t: 'word', v: w });
    }
  }
  return out;
}

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  parsePattern(): PatternDnf {
    const dnf = this.observationOr();
    if (this.at < this.tokens.length) {
      const tok = this.tokens[this.at]!;
      if (tok.t === 'word' && /^(AND|FOLLOWEDBY)$/i.test(tok.v)) throw new PatternError(`${tok.v.toUpperCase()} between observations needs correlation of separate events (unsupported)`);
      if (tok.t === 'word' && /^(WITHIN|REPEATS|START)$/i.test(tok.v)) throw new PatternError(`qualifier ${tok.v.toUpperCase()} is unsupported`);
      throw new PatternError(`unexpected ${JSON.stringify(tok.v)}`);
    }
    return dnf;
  }

  private observationOr(): PatternDnf {
    let dnf = this.observation();
    while (this.peekWord('OR')) {
      this.at++;
      dnf = dnf.concat(this.observation());
    }
    return dnf;
  }

  private observation(): PatternDnf {
    const tok = this.tokens[this.at];
    if (tok?.t === 'punct' && tok.v === '(') {
      this.at++;
      const inner = this.observationOr();
      this.expect(')');
      return inner;
    }
    this.expect('[');
    const dnf = this.comparisonOr();
    this.expect(']');
    return dnf;
  }

  private comparisonOr(): PatternDnf {
    let dnf = this.comparisonAnd();
    while (this.peekWord('OR')) {
      this.at++;
      dnf = dnf.concat(this.comparisonAnd());
    }
    return dnf;
  }

  private comparisonAnd(): PatternDnf {
    let dnf = this.comparisonTerm();
    while (this.peekWord('AND')) {
      this.at++;
      const right = this.comparisonTerm();
      const product: PatternDnf = [];
      for (const a of dnf) for (const b of right) product.push([...a, ...b]);
      if (product.length > 1024) throw new PatternError('pattern expands to more than 1024 alternatives');
      dnf = product;
    }
    return dnf;
  }

  private comparisonTerm(): PatternDnf {
    const tok = this.tokens[this.at];
    if (tok?.t === 'punct' && tok.v === '(') {
      this.at++;
      const inner = this.comparisonOr();
      this.expect(')');
      return inner;
    }
    return [[this.comparison()]];
  }

  private comparison(): Comparison {
    const pathTok = this.tokens[this.at++];
    if (pathTok?.t !== 'word' || !pathTok.v.includes(':')) throw new PatternError(`expected an object path, found ${JSON.stringify(pathTok?.v ?? 'end of pattern')}`);
    const colon = pathTok.v.indexOf(':');
    let negated = false;
    if (this.peekWord('NOT')) {
      negated = true;
      this.at++;
    }
    const opTok = this.tokens[this.at++];
    const operator = opTok?.t === 'word' ? opTok.v.toUpperCase() : '';
    if (!OPERATORS.has(operator)) throw new PatternError(`expected a comparison operator after ${pathTok.v}, found ${JSON.stringify(opTok?.v ?? 'end of pattern')}`);
    let value: string | undefined;
    const lit = this.tokens[this.at];
    if (lit?.t === 'str') {
      value = lit.v;
      this.at++;
    } else if (lit?.t === 'punct' && lit.v === '(') {
      // A set literal for IN: skip to its end.
      let depth = 0;
      do {
        const x = this.tokens[this.at++];
        if (!x) throw new PatternError('unterminated set literal');
        if (x.t === 'punct' && x.v === '(') depth++;
        if (x.t === 'punct' && x.v === ')') depth--;
      } while (depth > 0);
    } else if (lit && lit.t !== 'punct') this.at++;
    return { objectType: pathTok.v.slice(0, colon).toLowerCase(), path: pathTok.v.slice(colon + 1), operator, negated, value };
  }

  private peekWord(word: string): boolean {
    const tok = this.tokens[this.at];
    return tok?.t === 'word' && tok.v.toUpperCase() === word;
  }

  private expect(punct: string): void {
    const tok = this.tokens[this.at++];
    if (tok?.t !== 'punct' || tok.v !== punct) throw new PatternError(`expected ${punct}, found ${JSON.stringify(tok?.v ?? 'end of pattern')}`);
  }
}

/** Parses a STIX pattern into DNF; throws {@link PatternError} with the reason. */
export function parseStixPattern(pattern: string): PatternDnf {
  return new Parser(tokenize(pattern)).parsePattern();
}
