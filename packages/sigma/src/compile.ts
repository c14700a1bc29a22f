import { RE2JS } from 're2js';
import type { SigmaCondition, SigmaDetection, SigmaFieldItem, SigmaFilter, SigmaRule, SigmaScalar, SigmaSearch } from './ast.ts';
import { compileCidr } from './cidr.ts';
import { expandOfPattern } from './condition.ts';
import { SigmaError, type SigmaErrorCode } from './errors.ts';
import type { EventContext, FieldSlot, FieldValue } from './event-context.ts';
import { describeLogsource, fieldSources, findLogsource, sourcesGetter, sourceText, type LogsourceMapping, type MappingSet } from './mappings.ts';
import { expandPlaceholders, KNOWN_MODIFIERS, ModifierError, TIME_MODIFIERS, transform, TYPE_MODIFIERS } from './modifiers.ts';
import { shapeOf, VALUE_SET_MIN, valueSetPredicate, type ValueShape } from './value-set.ts';
import { compilePattern, longestLiteral, renderTokens, type PatternToken } from './wildcard.ts';

/** One compared value of a field item. */
export interface ValueTest {
  /** The value as the rule means it (after modifiers), for explain output. */
  readonly text: string;
  readonly test: (value: string, ctx: EventContext) => boolean;
  /** A lower-case substring every matching value contains (for the literal index), if any. */
  readonly literal?: string;
  /**
   * For regular expressions: lower-case substrings every matching value contains, as clauses that
   * all hold, each one met by any of its literals (from RE2's prefilter). Also for the literal index.
   */
  readonly allOf?: readonly (readonly string[])[];
  /** Set when the test is one equality, prefix, suffix or substring comparison (value-set.ts). */
  readonly shape?: ValueShape;
}

/** Compiled detection tree; kept for explain and for the literal index. */
export type CompiledNode =
  | {
      k: 'field';
      field: string;
      modifiers: string[];
      line: number;
      slot: number;
      /** `match`: compare values; `null`: absent or empty; `exists`/`missing`: presence only. */
      mode: 'match' | 'null' | 'exists' | 'missing';
      lower: boolean;
      all: boolean;
      neq: boolean;
      tests: ValueTest[];
    }
  | { k: 'keyword'; line: number; lower: boolean; all: boolean; tests: ValueTest[] }
  | { k: 'and' | 'or'; args: CompiledNode[] }
  | { k: 'not'; arg: CompiledNode }
  | { k: 'search'; name: string; node: CompiledNode }
  | { k: 'const'; value: boolean };

/** Assigns accessor slots; slots are shared by every rule of a rule set that reads the same sources. */
export class SlotTable {
  readonly slots: FieldSlot[] = [];
  private readonly byKey = new Map<string, number>();

  slotFor(mappings: MappingSet, mapping: LogsourceMapping | undefined, field: string): number {
    const sources = fieldSources(mappings, mapping, field);
    const key = `${field}\u0000${sources.map(sourceText).join('\u0001')}`;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.slots.length;
      this.slots.push({ id, name: field, paths: sources.map(sourceText), get: sourcesGetter(sources) });
      this.byKey.set(key, id);
    }
    return id;
  }
}

export interface CompileOptions {
  mappings: MappingSet;
  slots: SlotTable;
  /** Placeholder values for `expand`, over those of the mappings. */
  placeholders?: Readonly<Record<string, readonly string[]>>;
}

/** A rule ready to run: its route (log source mapping), tree, predicate and index hint. */
export interface CompiledRule {
  readonly rule: SigmaRule;
  readonly mapping: LogsourceMapping;
  readonly root: CompiledNode;
  /** Filters (global filter rules) attached to this rule: a match of any suppresses the rule. */
  readonly filters: { filter: SigmaFilter; root: CompiledNode }[];
  test: (ctx: EventContext) => boolean;
}

class ItemError extends Error {
  constructor(
    readonly code: SigmaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Compiles one rule; throws SigmaError (invalid or unsupported, with path and line). */
export function compileRule(rule: SigmaRule, options: CompileOptions): CompiledRule {
  const mapping = findLogsource(options.mappings, rule.logsource);
  if (!mapping) {
    throw new SigmaError('SIGMA_LOGSOURCE_UNMAPPED', `no field mapping or route for logsource ${describeLogsource(rule.logsource)} (packages/sigma/mappings)`, rule.path, 0);
  }
  const root = compileDetection(rule.detection, rule.path, mapping, options);
  const compiled: CompiledRule = { rule, mapping, root, filters: [], test: buildPredicate(root) };
  return compiled;
}

/** Attaches a global filter to a compiled rule (the rule then fires only when the filter does not). */
export function attachFilter(rule: CompiledRule, filter: SigmaFilter, options: CompileOptions): void {
  const root = compileDetection(filter.detection, filter.path, rule.mapping, options);
  rule.filters.push({ filter, root });
  const base = buildPredicate(rule.root);
  const excluded = rule.filters.map((f) => buildPredicate(f.root));
  rule.test = (ctx) => {
    if (!base(ctx)) return false;
    for (const ex of excluded) if (ex(ctx)) return false;
    return true;
  };
}

export function compileDetection(det: SigmaDetection, path: string, mapping: LogsourceMapping, options: CompileOptions): CompiledNode {
  const searches = new Map<string, CompiledNode>();
  const searchOf = (name: string): CompiledNode => {
    let n = searches.get(name);
    if (!n) {
      const s = det.searches.get(name);
      if (!s) throw new SigmaError('SIGMA_CONDITION_INVALID', `unknown search identifier '${name}'`, path, det.conditionLine);
      n = { k: 'search', name, node: compileSearch(s, path, mapping, options) };
      searches.set(name, n);
    }
    return n;
  };
  const cond = (c: SigmaCondition): CompiledNode => {
    switch (c.op) {
      case 'and':
      case 'or':
        return { k: c.op, args: c.args.map(cond) };
      case 'not':
        return { k: 'not', arg: cond(c.arg) };
      case 'ref':
        return searchOf(c.name);
      case 'of': {
        const names = expandOfPattern(c.pattern, det.searches.keys());
        const args = names.map(searchOf);
        return args.length === 1 ? args[0]! : { k: c.quantifier === 'one' ? 'or' : 'and', args };
      }
    }
  };
  return cond(det.condition);
}

function compileSearch(s: SigmaSearch, path: string, mapping: LogsourceMapping, options: CompileOptions): CompiledNode {
  if (s.kind === 'any') return { k: 'or', args: s.of.map((x) => compileSearch(x, path, mapping, options)) };
  if (s.items.length === 0) return { k: 'const', value: true };
  const args = s.items.map((item) => {
    try {
      return compileItem(item, mapping, options);
    } catch (error) {
      if (error instanceof ItemError) throw new SigmaError(error.code, `${itemName(item)}: ${error.message}`, path, item.line);
      if (error instanceof ModifierError) {
        const code = error.kind === 'invalid' ? 'SIGMA_MODIFIER_INVALID' : error.kind === 'unsupported' ? 'SIGMA_PLACEHOLDER_UNRESOLVED' : 'SIGMA_EXPANSION_TOO_LARGE';
        throw new SigmaError(code, `${itemName(item)}: ${error.message}`, path, item.line);
      }
      throw error;
    }
  });
  return args.length === 1 ? args[0]! : { k: 'and', args };
}

function itemName(item: SigmaFieldItem): string {
  return `'${[item.field ?? '', ...item.modifiers].join('|')}'`;
}

function scalarText(v: SigmaScalar): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

const WEEK_MS = 7 * 86_400_000;

function timePart(mod: string, s: string): number {
  const t = Date.parse(s.includes('T') || s.endsWith('Z') ? s : `${s.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) return Number.NaN;
  const d = new Date(t);
  switch (mod) {
    case 'minute':
      return d.getUTCMinutes();
    case 'hour':
      return d.getUTCHours();
    case 'day':
      return d.getUTCDate();
    case 'month':
      return d.getUTCMonth() + 1;
    case 'year':
      return d.getUTCFullYear();
    default: {
      // ISO week number.
      const day = (d.getUTCDay() + 6) % 7;
      const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
      const firstThursday = new Date(thursday);
      const jan4 = Date.UTC(firstThursday.getUTCFullYear(), 0, 4);
      return 1 + Math.round((thursday - jan4 - 3 * 86_400_000 + ((new Date(jan4).getUTCDay() + 6) % 7) * 86_400_000) / WEEK_MS);
    }
  }
}

function compileItem(item: SigmaFieldItem, mapping: LogsourceMapping, options: CompileOptions): CompiledNode {
  const mods = item.modifiers.map((m) => m.toLowerCase());
  for (const m of mods) if (!KNOWN_MODIFIERS.has(m)) throw new ItemError('SIGMA_MODIFIER_INVALID', `unknown modifier '${m}'`);
  const has = (m: string): boolean => mods.includes(m);
  const all = has('all');
  const cased = has('cased');
  const neq = has('neq');
  const types = mods.filter((m) => TYPE_MODIFIERS.has(m));
  const timeMod = mods.find((m) => TIME_MODIFIERS.has(m));
  if (types.length > 1) throw new ItemError('SIGMA_MODIFIER_INVALID', `modifiers ${types.join(' and ')} cannot be combined`);
  const type = types[0];
  if ((has('i') || has('m') || has('s')) && type !== 're') throw new ItemError('SIGMA_MODIFIER_INVALID', "'i', 'm' and 's' are sub-modifiers of 're'");
  const placeholders = { ...options.mappings.placeholders, ...(options.placeholders ?? {}) };

  if (item.field === null) {
    if (type) throw new ItemError('SIGMA_MODIFIER_UNSUPPORTED', `'${type}' on keywords (no field) is not supported`);
    const tests = stringTests(item.values, mods, cased, placeholders, true);
    return { k: 'keyword', line: item.line, lower: !cased, all, tests };
  }
  const field = item.field;
  const slot = options.slots.slotFor(options.mappings, mapping, field);
  const base = { k: 'field' as const, field, modifiers: mods, line: item.line, slot, all, neq };

  if (type === 'exists') {
    const v = item.values[0];
    const want = v === true || v === 'true' || v === 'yes' ? true : v === false || v === 'false' || v === 'no' ? false : undefined;
    if (want === undefined || item.values.length !== 1) throw new ItemError('SIGMA_VALUE_INVALID', "'exists' takes one boolean value");
    return { ...base, mode: want ? 'exists' : 'missing', lower: false, tests: [] };
  }
  if (item.values.length === 1 && item.values[0] === null) {
    if (type) throw new ItemError('SIGMA_VALUE_INVALID', `null cannot be used with '${type}'`);
    return { ...base, mode: 'null', lower: false, tests: [] };
  }
  if (type === 're') {
    let flags = 0;
    if (has('i')) flags |= RE2JS.CASE_INSENSITIVE;
    if (has('m')) flags |= RE2JS.MULTILINE;
    if (has('s')) flags |= RE2JS.DOTALL;
    const tests = item.values.map((v): ValueTest => {
      const src = scalarText(v);
      let re: RE2JS;
      try {
        re = RE2JS.compile(src, flags);
      } catch (error) {
        throw new ItemError('SIGMA_REGEX_UNSUPPORTED', `regular expression /${src}/ cannot run in linear time (RE2 syntax): ${(error as Error).message}`);
      }
      const prefix = caseInsensitivePrefix(src, has('i'));
      const allOf = regexClauses(src, flags) ?? (prefix ? [prefix] : undefined);
      return { text: `/${src}/${has('i') ? 'i' : ''}${has('m') ? 'm' : ''}${has('s') ? 's' : ''}`, test: (s) => re.test(s), ...(allOf ? { allOf } : {}) };
    });
    return { ...base, mode: 'match', lower: false, tests };
  }
  if (type === 'cidr') {
    const tests = item.values.map((v): ValueTest => {
      const spec = scalarText(v);
      const fn = compileCidr(spec);
      if (!fn) throw new ItemError('SIGMA_VALUE_INVALID', `'${spec}' is not an IPv4 or IPv6 CIDR range`);
      return { text: `cidr ${spec}`, test: fn };
    });
    return { ...base, mode: 'match', lower: false, tests };
  }
  if (type === 'lt' || type === 'lte' || type === 'gt' || type === 'gte' || timeMod) {
    const read = timeMod ? (s: string) => timePart(timeMod, s) : (s: string) => (s.trim() === '' ? Number.NaN : Number(s));
    const tests = item.values.map((v): ValueTest => {
      const n = typeof v === 'number' ? v : Number(v);
      if (v === null || typeof v === 'boolean' || Number.isNaN(n)) throw new ItemError('SIGMA_VALUE_INVALID', `'${String(v)}' is not a number`);
      const op = type ?? 'eq';
      const cmp: (x: number) => boolean =
        op === 'lt' ? (x) => x < n : op === 'lte' ? (x) => x <= n : op === 'gt' ? (x) => x > n : op === 'gte' ? (x) => x >= n : (x) => x === n;
      return { text: `${timeMod ? `${timeMod} ` : ''}${op} ${n}`, test: (s) => cmp(read(s)) };
    });
    return { ...base, mode: 'match', lower: false, tests };
  }
  if (type === 'fieldref') {
    const tests = item.values.map((v): ValueTest => {
      const other = scalarText(v);
      const otherSlot = options.slots.slotFor(options.mappings, mapping, other);
      const how = has('contains') ? 'contains' : has('startswith') ? 'startswith' : has('endswith') ? 'endswith' : 'equals';
      const cmp = (a: string, b: string): boolean => (how === 'contains' ? a.includes(b) : how === 'startswith' ? a.startsWith(b) : how === 'endswith' ? a.endsWith(b) : a === b);
      return {
        text: `${how} field ${other}`,
        test: (s, ctx) => {
          const o = cased ? ctx.value(otherSlot) : ctx.lower(otherSlot);
          if (o === undefined) return false;
          return typeof o === 'string' ? cmp(s, o) : o.some((x) => cmp(s, x));
        },
      };
    });
    return { ...base, mode: 'match', lower: !cased, tests };
  }
  const tests = stringTests(item.values, mods, cased, placeholders, false);
  return { ...base, mode: 'match', lower: !cased, tests };
}

function stringTests(values: SigmaScalar[], mods: string[], cased: boolean, placeholders: Readonly<Record<string, readonly string[]>>, keyword: boolean): ValueTest[] {
  const out: ValueTest[] = [];
  for (const v of values) {
    if (v === null) throw new ItemError('SIGMA_VALUE_INVALID', 'null is not a keyword');
    const raw = scalarText(v);
    const raws = mods.includes('expand') ? expandPlaceholders(raw, placeholders) : [raw];
    for (const r of raws) {
      // Keywords are searched anywhere in the event's text unless they carry their own wildcards.
      const patterns = transform(typeof v === 'string' ? r : r.replace(/[*?\\]/g, '\\$&'), mods);
      for (const p of patterns) {
        const tokens: PatternToken[] = keyword && !p.some((t) => typeof t !== 'string') ? [-1, ...p, -1] : p;
        const effective = cased ? tokens : tokens.map((t) => (typeof t === 'string' ? t.toLowerCase() : t));
        const lit = longestLiteral(effective);
        // The index looks for the literal in the lower-cased value. A cased literal with a capital sigma
        // is the one case where that can miss: `toLowerCase` writes Σ as σ or ς depending on its neighbours.
        const indexable = lit !== '' && !(cased && lit.includes('\u03a3'));
        const shape = shapeOf(effective);
        out.push({ text: renderTokens(tokens), test: compilePattern(effective), ...(indexable ? { literal: lit.toLowerCase() } : {}), ...(shape ? { shape } : {}) });
      }
    }
  }
  return out;
}

/** RE2's prefilter of a compiled expression (re2js builds it from the syntax tree to reject inputs early). */
interface Re2Prefilter {
  type: number;
  str: string;
  subs: Re2Prefilter[];
}

const PREFILTER_EXACT = 1;
const PREFILTER_AND = 2;
const PREFILTER_OR = 3;

/**
 * Literals one of which occurs in every text the expression matches, lower-cased, or undefined.
 * Read from re2js's prefilter: `test` itself returns false when the prefilter fails (an unanchored
 * search evaluates it first), so indexing on it can never drop a match that `test` would report.
 * Its literals are case-sensitive (case-folded parts give none); only ASCII ones of two or more
 * characters are kept, since for those `raw contains x` implies `lower(raw) contains lower(x)`.
 */
export function requiredLiterals(re: RE2JS): string[] | undefined {
  const pf = (re as unknown as { re2Input?: { prefilter?: Re2Prefilter | null } }).re2Input?.prefilter;
  return pf ? (prefilterLiterals(pf) ?? undefined) : undefined;
}

/**
 * What every text an expression matches contains, lower-cased, as clauses that all hold (each met
 * by any of its literals), or undefined. Read from RE2's prefilter (see `requiredLiterals`), which
 * names no literal of a case-insensitive part. For a case-insensitive expression (`(?i)` in front,
 * or the `i` flag) the prefilter of the same expression without that is read instead: wherever
 * the case-insensitive expression matches a text, the case-sensitive one matches the text with
 * each character replaced by one of its case variants (a literal character by the pattern's own,
 * a class member by one in the class, anything else by itself), so that text holds the literals
 * and the original holds them up to case. Up to case, an ASCII literal's lower case occurs in the
 * lower-cased text, except that RE2 also takes U+017F (`ſ`, its own lower case) for `s` (and U+212A
 * for `k`, whose lower case is `k`): such literals are cut at each `s` into pieces that all occur.
 */
export function regexClauses(src: string, flags: number): string[][] | undefined {
  const folded = (flags & RE2JS.CASE_INSENSITIVE) !== 0 || src.startsWith('(?i)');
  let re: RE2JS;
  try {
    re = RE2JS.compile(src.startsWith('(?i)') ? src.slice(4) : src, flags & ~RE2JS.CASE_INSENSITIVE);
  } catch {
    return undefined;
  }
  const pf = (re as unknown as { re2Input?: { prefilter?: Re2Prefilter | null } }).re2Input?.prefilter;
  return pf ? (prefilterClauses(pf, folded) ?? undefined) : undefined;
}

function prefilterClauses(pf: Re2Prefilter, folded: boolean): string[][] | null {
  switch (pf.type) {
    case PREFILTER_EXACT: {
      if (typeof pf.str !== 'string' || !isAscii(pf.str)) return null;
      const lower = pf.str.toLowerCase();
      const pieces = (folded ? lower.split('s') : [lower]).filter((p) => p.length >= 2);
      return pieces.length === 0 ? null : pieces.map((p) => [p]);
    }
    case PREFILTER_AND: {
      const out: string[][] = [];
      for (const sub of pf.subs) out.push(...(prefilterClauses(sub, folded) ?? []));
      return out.length === 0 ? null : out;
    }
    case PREFILTER_OR: {
      // Each alternative's strongest clause; one of them holds whichever alternative matched.
      const clause: string[] = [];
      for (const sub of pf.subs) {
        const c = prefilterClauses(sub, folded);
        if (!c) return null;
        clause.push(...c.reduce((a, b) => (literalScore(b) > literalScore(a) ? b : a)));
      }
      return [[...new Set(clause)]];
    }
    default:
      return null;
  }
}

function prefilterLiterals(pf: Re2Prefilter): string[] | null {
  switch (pf.type) {
    case PREFILTER_EXACT:
      return typeof pf.str === 'string' && pf.str.length >= 2 && isAscii(pf.str) ? [pf.str.toLowerCase()] : null;
    case PREFILTER_AND: {
      let best: string[] | null = null;
      for (const sub of pf.subs) {
        const l = prefilterLiterals(sub);
        if (l && (!best || literalScore(l) > literalScore(best))) best = l;
      }
      return best;
    }
    case PREFILTER_OR: {
      const out: string[] = [];
      for (const sub of pf.subs) {
        const l = prefilterLiterals(sub);
        if (!l) return null;
        out.push(...l);
      }
      return [...new Set(out)];
    }
    default:
      return null;
  }
}

/** Characters that stand for themselves in RE2 syntax (outside classes), as far as this reader goes. */
const PLAIN = /^[A-Za-z0-9 _,;:'"=!@#%&~`<>\/-]$/;

/**
 * For a case-insensitive expression (`(?i)` in front, or the `i` modifier) that starts with plain
 * characters (`(?i)echo.*clip…`): those characters, lower-cased, which every match starts with up to
 * case. RE2's own prefilter names none (it leaves case-folded literals out). The run stops at the
 * first character with a meaning, loses its last character when a quantifier follows, and there
 * must be no top-level `|` (then every match starts with the run). RE2 folds `k` with U+212A (lower
 * case `k` again) and `s` with U+017F `ſ` (lower case `ſ`), so the run is cut at each `s` and the
 * longest piece kept: that piece then occurs in the lower-cased text of every match.
 */
export function caseInsensitivePrefix(src: string, iFlag: boolean): string[] | undefined {
  let body = src;
  if (body.startsWith('(?i)')) body = body.slice(4);
  else if (!iFlag) return undefined;
  if (hasTopLevelBar(body)) return undefined;
  let run = '';
  for (const ch of body) {
    if (!PLAIN.test(ch)) break;
    run += ch;
  }
  const next = body[run.length];
  if (next === '*' || next === '?' || next === '+' || next === '{') run = run.slice(0, -1);
  const piece = run
    .toLowerCase()
    .split('s')
    .reduce((a, b) => (b.length > a.length ? b : a), '');
  return piece.length >= 2 ? [piece] : undefined;
}

/** Whether `|` occurs outside groups, classes and escapes. */
function hasTopLevelBar(src: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') i++;
    else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      // A `]` right after `[` or `[^` is a member, not the end.
      if (src[i + 1] === '^') i++;
      if (src[i + 1] === ']') i++;
    }
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return false;
  return true;
}

/** Longer literals first (capped at 8 characters), then fewer alternatives. */
export function literalScore(lits: readonly string[]): number {
  let min = Infinity;
  for (const l of lits) min = Math.min(min, l.length);
  return Math.min(min, 8) * 1000 - lits.length * 2;
}

function anyValue(v: FieldValue, test: ValueTest, ctx: EventContext): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return test.test(v, ctx);
  for (const x of v) if (test.test(x, ctx)) return true;
  return false;
}

/** Builds the predicate of a compiled tree. */
export function buildPredicate(node: CompiledNode): (ctx: EventContext) => boolean {
  switch (node.k) {
    case 'const':
      return () => node.value;
    case 'search':
      return buildPredicate(node.node);
    case 'not': {
      const a = buildPredicate(node.arg);
      return (ctx) => !a(ctx);
    }
    case 'and': {
      const fs = node.args.map(buildPredicate);
      if (fs.length === 2) {
        const [a, b] = fs as [(c: EventContext) => boolean, (c: EventContext) => boolean];
        return (ctx) => a(ctx) && b(ctx);
      }
      return (ctx) => {
        for (const f of fs) if (!f(ctx)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = node.args.map(buildPredicate);
      return (ctx) => {
        for (const f of fs) if (f(ctx)) return true;
        return false;
      };
    }
    case 'keyword': {
      const { tests, all, lower } = node;
      return (ctx) => {
        const texts = ctx.keywords(lower);
        const hit = (t: ValueTest): boolean => texts.some((s) => t.test(s, ctx));
        return all ? tests.every(hit) : tests.some(hit);
      };
    }
    case 'field': {
      const { slot, tests, all, neq, lower, mode } = node;
      if (mode === 'null') return (ctx) => {
        const v = ctx.value(slot);
        return v === undefined || v === '' || (typeof v !== 'string' && v.length === 0);
      };
      if (mode === 'exists') return (ctx) => ctx.value(slot) !== undefined;
      if (mode === 'missing') return (ctx) => ctx.value(slot) === undefined;
      const read = lower ? (ctx: EventContext) => ctx.lower(slot) : (ctx: EventContext) => ctx.value(slot);
      const single = tests.length === 1 ? tests[0]! : undefined;
      let match: (ctx: EventContext) => boolean;
      if (single && !neq) {
        const t = single.test;
        match = (ctx) => {
          const v = read(ctx);
          if (v === undefined) return false;
          if (typeof v === 'string') return t(v, ctx);
          for (const x of v) if (t(x, ctx)) return true;
          return false;
        };
        return match;
      }
      // Many values (long lists of paths, file names, command-lets): compared as sets.
      if (!neq && !all && tests.length >= VALUE_SET_MIN) return valueSetPredicate(tests, read, (ctx) => ctx.value(slot), lower);
      // neq negates each value's comparison; values are then linked as usual (or; and with `all`).
      const one = neq ? (v: FieldValue, t: ValueTest, ctx: EventContext) => !anyValue(v, t, ctx) : anyValue;
      return (ctx) => {
        const v = read(ctx);
        if (v === undefined && !neq) return false;
        if (all) {
          for (const t of tests) if (!one(v, t, ctx)) return false;
          return true;
        }
        for (const t of tests) if (one(v, t, ctx)) return true;
        return false;
      };
    }
  }
}
