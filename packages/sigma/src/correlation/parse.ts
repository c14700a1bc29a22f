import { CorrelationRuleError } from './errors.ts';
import {
  CONDITION_OPERATORS,
  CORRELATION_TYPES,
  type ConditionOperator,
  type ConditionTest,
  type CorrelationCondition,
  type CorrelationRule,
  type CorrelationSet,
  type CorrelationType,
  type RuleReference,
} from './types.ts';

/**
 * One parsed YAML document as the rule loader hands it over. Documents without a `correlation`
 * section are base rules: their `id`/`name` make references resolvable; nothing else is read.
 */
export interface CorrelationDocument {
  readonly path: string;
  /** Position in a multi-document file, for messages. */
  readonly index?: number;
  readonly doc: unknown;
}

export interface ParseCorrelationOptions {
  /**
   * Base rules loaded elsewhere (ids and names). When given, a reference that is neither one of
   * them, nor a base document in the input, nor a correlation is an error; when omitted, unknown
   * references are taken as base rules.
   */
  knownBaseRules?: readonly { id: string; name?: string }[];
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `5m`, `1h`, `2d` (number + lowercase unit, as the specification requires) to ms. */
export function parseTimespan(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Raw {
  where: string;
  doc: Record<string, unknown>;
  section: Record<string, unknown>;
  id: string;
  name?: string;
}

/**
 * Parses correlation documents into a {@link CorrelationSet}: validates every attribute, resolves
 * `rules:` to base rules or other correlations (by id or name), orders chains, and computes each
 * correlation's depth. Throws a {@link CorrelationRuleError} naming the file and attribute.
 */
export function parseCorrelationRules(inputs: readonly CorrelationDocument[], options: ParseCorrelationOptions = {}): CorrelationSet {
  const raws: Raw[] = [];
  const baseRefs = new Set<string>();
  for (const base of options.knownBaseRules ?? []) {
    baseRefs.add(base.id);
    if (base.name) baseRefs.add(base.name);
  }
  for (const [i, input] of inputs.entries()) {
    const where = input.index === undefined ? input.path : `${input.path} (document ${input.index + 1})`;
    if (!isRecord(input.doc)) throw new CorrelationRuleError('SIGMA_CORRELATION_INVALID', where, 'document is not a mapping');
    const doc = input.doc;
    const name = typeof doc['name'] === 'string' ? doc['name'] : undefined;
    if (doc['correlation'] === undefined) {
      if (typeof doc['id'] === 'string') baseRefs.add(doc['id']);
      if (name) baseRefs.add(name);
      continue;
    }
    if (!isRecord(doc['correlation'])) throw new CorrelationRuleError('SIGMA_CORRELATION_INVALID', where, '`correlation` must be a mapping');
    const id = typeof doc['id'] === 'string' && doc['id'] !== '' ? doc['id'] : name ? `name:${name}` : `${input.path}#${input.index ?? i}`;
    raws.push({ where, doc, section: doc['correlation'], id, ...(name ? { name } : {}) });
  }

  const byRef = new Map<string, Raw>();
  for (const raw of raws) {
    for (const ref of [raw.id, raw.name]) {
      if (ref === undefined) continue;
      if (byRef.has(ref)) throw new CorrelationRuleError('SIGMA_CORRELATION_INVALID', raw.where, `id or name "${ref}" is used by two correlations`);
      byRef.set(ref, raw);
    }
  }
  const strictBase = options.knownBaseRules !== undefined;

  const parsed = new Map<string, Omit<CorrelationRule, 'depth'>>();
  for (const raw of raws) parsed.set(raw.id, parseOne(raw, byRef, baseRefs, strictBase));

  // Depth and order: depth-first over references, with cycle detection.
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const ordered: CorrelationRule[] = [];
  const visit = (id: string, from: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const rule = parsed.get(id)!;
    if (visiting.has(id)) throw new CorrelationRuleError('SIGMA_CORRELATION_CYCLE', from, `correlation "${id}" refers to itself through its rules`);
    visiting.add(id);
    let d = 0;
    for (const ref of rule.rules) if (ref.kind === 'correlation') d = Math.max(d, 1 + visit(ref.correlationId!, rule.path));
    visiting.delete(id);
    depth.set(id, d);
    ordered.push({ ...rule, depth: d });
    return d;
  };
  for (const raw of raws) visit(raw.id, raw.where);
  ordered.sort((a, b) => a.depth - b.depth);

  const needed = new Set<string>();
  for (const rule of ordered) for (const ref of rule.rules) if (ref.kind === 'base') needed.add(ref.ref);
  return {
    rules: ordered,
    byId: new Map(ordered.map((r) => [r.id, r])),
    maxDepth: ordered.reduce((m, r) => Math.max(m, r.depth), 0),
    baseRefs: needed,
  };
}

function parseOne(raw: Raw, byRef: Map<string, Raw>, baseRefs: Set<string>, strictBase: boolean): Omit<CorrelationRule, 'depth'> {
  const { where, doc, section } = raw;
  const fail = (message: string): never => {
    throw new CorrelationRuleError('SIGMA_CORRELATION_INVALID', where, message);
  };
  const title = doc['title'];
  if (typeof title !== 'string' || title === '') fail('`title` is mandatory');

  const type = section['type'];
  if (typeof type !== 'string' || !(CORRELATION_TYPES as readonly string[]).includes(type)) {
    fail(`correlation.type must be one of ${CORRELATION_TYPES.join(', ')} (got ${JSON.stringify(type)})`);
  }
  const correlationType = type as CorrelationType;

  const rulesRaw = section['rules'];
  if (!Array.isArray(rulesRaw) || rulesRaw.length === 0 || !rulesRaw.every((r) => typeof r === 'string' && r !== '')) {
    fail('correlation.rules must be a non-empty list of rule ids or names');
  }
  const refs = rulesRaw as string[];
  if (new Set(refs).size !== refs.length) fail('correlation.rules lists a rule twice');
  const rules: RuleReference[] = refs.map((ref) => {
    const target = byRef.get(ref);
    if (target !== undefined) {
      if (target.id === raw.id) throw new CorrelationRuleError('SIGMA_CORRELATION_CYCLE', where, `correlation refers to itself ("${ref}")`);
      return { ref, kind: 'correlation', correlationId: target.id };
    }
    if (strictBase && !baseRefs.has(ref)) throw new CorrelationRuleError('SIGMA_CORRELATION_UNRESOLVED', where, `correlation.rules: no rule with id or name "${ref}" is loaded`);
    return { ref, kind: 'base' };
  });

  const groupByRaw = section['group-by'];
  let groupBy: string[] = [];
  if (groupByRaw !== undefined) {
    if (!Array.isArray(groupByRaw) || !groupByRaw.every((g) => typeof g === 'string' && g !== '')) fail('correlation.group-by must be a list of field names');
    groupBy = groupByRaw as string[];
    if (new Set(groupBy).size !== groupBy.length) fail('correlation.group-by lists a field twice');
  } else if (correlationType !== 'temporal' && correlationType !== 'temporal_ordered') {
    // The JSON schema makes group-by mandatory for the aggregating types.
    fail(`correlation.group-by is mandatory for ${correlationType}`);
  }

  const timespanMs = parseTimespan(section['timespan']);
  if (timespanMs === undefined) fail(`correlation.timespan must be a number and a unit s, m, h or d, like "5m" (got ${JSON.stringify(section['timespan'])})`);

  const aliases = new Map<string, Map<string, string>>();
  const aliasesRaw = section['aliases'];
  if (aliasesRaw !== undefined) {
    if (!isRecord(aliasesRaw)) fail('correlation.aliases must map alias names to {rule name: field}');
    for (const [alias, mapping] of Object.entries(aliasesRaw as Record<string, unknown>)) {
      if (!isRecord(mapping)) fail(`correlation.aliases.${alias} must map rule names to field names`);
      const perRule = new Map<string, string>();
      for (const [ruleRef, field] of Object.entries(mapping as Record<string, unknown>)) {
        if (typeof field !== 'string' || field === '') fail(`correlation.aliases.${alias}.${ruleRef} must be a field name`);
        if (!refs.includes(ruleRef)) {
          throw new CorrelationRuleError('SIGMA_CORRELATION_UNRESOLVED', where, `correlation.aliases.${alias}: "${ruleRef}" is not one of correlation.rules`);
        }
        perRule.set(ruleRef, field as string);
      }
      aliases.set(alias, perRule);
    }
  }

  const condition = parseCondition(section['condition'], correlationType, rules.length, fail);

  const generate = doc['generate'] ?? section['generate'] ?? false;
  if (typeof generate !== 'boolean') fail('`generate` must be true or false');

  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!['title', 'id', 'name', 'correlation', 'level', 'generate'].includes(k)) meta[k] = v;
  const level = doc['level'];
  return {
    id: raw.id,
    ...(raw.name ? { name: raw.name } : {}),
    title: title as string,
    path: where,
    ...(typeof level === 'string' ? { level } : {}),
    type: correlationType,
    rules,
    groupBy,
    aliases,
    timespanMs: timespanMs!,
    condition,
    generate: generate as boolean,
    meta,
  };
}

function parseCondition(raw: unknown, type: CorrelationType, ruleCount: number, fail: (m: string) => never): CorrelationCondition {
  const needsField = type === 'value_count' || type === 'value_sum' || type === 'value_avg' || type === 'value_percentile';
  if (raw === undefined) {
    if (type === 'temporal' || type === 'temporal_ordered') {
      // Without a condition every referenced rule must be seen (in order, for temporal_ordered).
      return { fields: [], tests: [{ op: 'gte', value: ruleCount }] };
    }
    return fail(`correlation.condition is mandatory for ${type}`);
  }
  if (!isRecord(raw)) return fail('correlation.condition must be a mapping like {gte: 10}');
  const tests: ConditionTest[] = [];
  let fields: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'field') {
      if (typeof value === 'string' && value !== '') fields = [value];
      else if (Array.isArray(value) && value.length > 0 && value.every((f) => typeof f === 'string' && f !== '')) fields = value as string[];
      else fail('correlation.condition.field must be a field name or a list of them');
      continue;
    }
    if (!(CONDITION_OPERATORS as readonly string[]).includes(key)) fail(`correlation.condition: unknown operator "${key}" (use ${CONDITION_OPERATORS.join(', ')}, field)`);
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(`correlation.condition.${key} must be a number`);
    tests.push({ op: key as ConditionOperator, value: value as number });
  }
  if (tests.length === 0) fail('correlation.condition needs one of gt, gte, lt, lte, eq, neq');
  if (needsField && fields.length === 0) fail(`correlation.condition.field is mandatory for ${type}`);
  if (!needsField && fields.length > 0) fail(`correlation.condition.field is only allowed for value_count, value_sum, value_avg and value_percentile`);
  if (type !== 'value_count' && fields.length > 1) fail(`correlation.condition.field takes one field for ${type}`);
  return { fields, tests };
}

/** AND of every test of the condition. */
export function conditionHolds(condition: CorrelationCondition, value: number): boolean {
  for (const { op, value: limit } of condition.tests) {
    const ok =
      op === 'gt' ? value > limit : op === 'gte' ? value >= limit : op === 'lt' ? value < limit : op === 'lte' ? value <= limit : op === 'eq' ? value === limit : value !== limit;
    if (!ok) return false;
  }
  return true;
}
