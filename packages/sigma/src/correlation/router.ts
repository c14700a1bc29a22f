import type { BaseRuleMatch, CorrelationMatch, CorrelationRule, CorrelationSet, KeyedFact } from './types.ts';

/** Reads `name` from fields: a flat key first (`destination.ip`), then a nested path. */
export function fieldValue(fields: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(fields, name)) return fields[name];
  let current: unknown = fields;
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function scalar(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** Group key from group-by values: unambiguous for any value (each value URI-encoded, comma-joined). */
export function groupKeyOf(values: readonly string[]): string {
  return values.map((v) => encodeURIComponent(v)).join(',');
}

interface Target {
  rule: CorrelationRule;
  ruleIndex: number;
}

/**
 * Why a fact was not routed to a correlation, counted by the engine: a group-by field (after
 * aliases) or the condition field was missing or not usable.
 */
export type RouteSkip = 'missing_group_field' | 'missing_value_field';

/**
 * Turns base-rule matches (and matches of correlations that other correlations refer to) into
 * keyed facts: one per correlation that refers to the rule, with the group key computed through
 * the correlation's aliases.
 */
export class CorrelationRouter {
  private readonly byRef = new Map<string, Target[]>();

  constructor(readonly set: CorrelationSet) {
    for (const rule of set.rules) {
      for (const [ruleIndex, reference] of rule.rules.entries()) {
        const keys = reference.kind === 'correlation' ? correlationKeys(set.byId.get(reference.correlationId!)!) : [reference.ref];
        for (const key of keys) {
          let list = this.byRef.get(key);
          if (!list) this.byRef.set(key, (list = []));
          if (!list.some((t) => t.rule === rule && t.ruleIndex === ruleIndex)) list.push({ rule, ruleIndex });
        }
      }
    }
  }

  /** True when some correlation needs facts of this base rule. */
  wants(ruleId: string, ruleName?: string): boolean {
    return this.byRef.has(ruleId) || (ruleName !== undefined && this.byRef.has(ruleName));
  }

  /** Facts for every correlation that refers to the matched base rule, in a fixed order. */
  routeBase(match: BaseRuleMatch, skipped?: (correlation: CorrelationRule, reason: RouteSkip) => void): KeyedFact[] {
    const names = [match.ruleId, ...(match.ruleName !== undefined && match.ruleName !== match.ruleId ? [match.ruleName] : [])];
    return this.route(names, match.fields, match.time, match.eventId, skipped);
  }

  /** Facts for every correlation that refers to the correlation that matched (chains). */
  routeDerived(match: CorrelationMatch, skipped?: (correlation: CorrelationRule, reason: RouteSkip) => void): KeyedFact[] {
    const names = [match.correlationId, ...(match.correlationName !== undefined ? [match.correlationName] : [])];
    return this.route(names, match.group, match.windowEnd, match.id, skipped);
  }

  private route(
    names: readonly string[],
    fields: Readonly<Record<string, unknown>>,
    time: number,
    ref: string,
    skipped?: (correlation: CorrelationRule, reason: RouteSkip) => void,
  ): KeyedFact[] {
    const facts: KeyedFact[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      for (const { rule, ruleIndex } of this.byRef.get(name) ?? []) {
        const dedupe = `${rule.id}\u0000${ruleIndex}`;
        if (seen.has(dedupe)) continue;
        seen.add(dedupe);
        const fact = this.toFact(rule, ruleIndex, names, fields, time, ref, skipped);
        if (fact) facts.push(fact);
      }
    }
    return facts;
  }

  private toFact(
    rule: CorrelationRule,
    ruleIndex: number,
    names: readonly string[],
    fields: Readonly<Record<string, unknown>>,
    time: number,
    ref: string,
    skipped?: (correlation: CorrelationRule, reason: RouteSkip) => void,
  ): KeyedFact | undefined {
    const written = rule.rules[ruleIndex]!.ref;
    const fieldFor = (name: string): string => {
      const alias = rule.aliases.get(name);
      if (!alias) return name;
      for (const candidate of [written, ...names]) {
        const field = alias.get(candidate);
        if (field !== undefined) return field;
      }
      return name;
    };
    const groupValues: string[] = [];
    for (const name of rule.groupBy) {
      const value = scalar(fieldValue(fields, fieldFor(name)));
      if (value === undefined) {
        skipped?.(rule, 'missing_group_field');
        return undefined;
      }
      groupValues.push(value);
    }
    let value: string | number | undefined;
    if (rule.condition.fields.length > 0) {
      const raw = rule.condition.fields.map((f) => fieldValue(fields, fieldFor(f)));
      if (rule.type === 'value_sum' || rule.type === 'value_avg') {
        const n = typeof raw[0] === 'number' ? raw[0] : typeof raw[0] === 'string' && raw[0].trim() !== '' ? Number(raw[0]) : Number.NaN;
        if (!Number.isFinite(n)) {
          skipped?.(rule, 'missing_value_field');
          return undefined;
        }
        value = n;
      } else {
        const parts = raw.map(scalar);
        if (parts.some((p) => p === undefined)) {
          skipped?.(rule, 'missing_value_field');
          return undefined;
        }
        if (rule.type === 'value_percentile' && typeof raw[0] === 'number') value = raw[0];
        else value = parts.join('\u001f');
      }
    }
    return {
      correlationId: rule.id,
      groupKey: groupKeyOf(groupValues),
      groupValues,
      time,
      ruleIndex,
      ...(value !== undefined ? { value } : {}),
      ref,
    };
  }
}

function correlationKeys(rule: CorrelationRule): string[] {
  return rule.name !== undefined ? [rule.id, rule.name] : [rule.id];
}
