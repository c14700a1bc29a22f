/**
 * Typed AST and stream types for Sigma correlation rules (specification 2.1, correlation section).
 * The engine evaluates these over "a base rule matched" facts in event time.
 */

/** The seven correlation types of Sigma 2.1. */
export const CORRELATION_TYPES = [
  'event_count',
  'value_count',
  'temporal',
  'temporal_ordered',
  'value_sum',
  'value_avg',
  'value_percentile',
] as const;
export type CorrelationType = (typeof CORRELATION_TYPES)[number];

export const CONDITION_OPERATORS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** One comparison; a condition is the AND of one or more of them. */
export interface ConditionTest {
  readonly op: ConditionOperator;
  readonly value: number;
}

export interface CorrelationCondition {
  /** value_* types: the field(s) whose values are counted, summed, averaged or ranked. */
  readonly fields: readonly string[];
  /** AND of every test (`gt: 100` + `lte: 200` is a range). */
  readonly tests: readonly ConditionTest[];
}

/** A rule a correlation refers to, resolved: a base (detection) rule or another correlation. */
export interface RuleReference {
  /** As written in `rules:` (an id or a name). */
  readonly ref: string;
  readonly kind: 'base' | 'correlation';
  /** For `kind: 'correlation'`: the referenced correlation's id. */
  readonly correlationId?: string;
}

/** A parsed, validated correlation rule. */
export interface CorrelationRule {
  /** The rule's `id`, or `name:<name>` / `path#index` when it has none (ids are never empty). */
  readonly id: string;
  readonly name?: string;
  readonly title: string;
  /** File the rule came from, for errors and detections. */
  readonly path: string;
  readonly level?: string;
  readonly type: CorrelationType;
  readonly rules: readonly RuleReference[];
  /** Field names or alias names, in the order written. */
  readonly groupBy: readonly string[];
  /** alias -> (rule name or id -> field in that rule's events). */
  readonly aliases: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly timespanMs: number;
  readonly condition: CorrelationCondition;
  /** `generate: true`: the referenced rules also report their own matches. @default false */
  readonly generate: boolean;
  /** 0 when every referenced rule is a base rule; 1 + the deepest referenced correlation otherwise. */
  readonly depth: number;
  /** Other top-level attributes (tags, falsepositives, ...) kept as written. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** Correlation rules in evaluation order (a correlation always after those it refers to). */
export interface CorrelationSet {
  readonly rules: readonly CorrelationRule[];
  readonly byId: ReadonlyMap<string, CorrelationRule>;
  /** Deepest correlation depth (0 without chains). */
  readonly maxDepth: number;
  /** Base rule references (ids or names) some correlation needs facts for. */
  readonly baseRefs: ReadonlySet<string>;
}

/** What the engine is fed: one base (detection) rule matched one event. */
export interface BaseRuleMatch {
  readonly ruleId: string;
  readonly ruleName?: string;
  /** Event time, epoch ms. */
  readonly time: number;
  /** Deterministic id of the event (evidence, and the tie-break between equal times). */
  readonly eventId: string;
  /** Event fields, by the names group-by, aliases and condition fields use (dotted names as keys). */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * A fact routed to one correlation and group: the unit that crosses the repartition topic.
 * Compact on purpose: it is also what window state stores.
 */
export interface KeyedFact {
  readonly correlationId: string;
  readonly groupKey: string;
  /** Group-by values in `groupBy` order. */
  readonly groupValues: readonly string[];
  /** Event time, epoch ms. */
  readonly time: number;
  /** Index into the correlation's `rules`. */
  readonly ruleIndex: number;
  /** The condition field's value (value_* types); a tuple is joined for multi-field value_count. */
  readonly value?: string | number;
  /** Event id (base facts) or match id (facts derived from a chained correlation). */
  readonly ref: string;
}

/** A correlation that fired for one group over one window. */
export interface CorrelationMatch {
  readonly correlationId: string;
  readonly correlationName?: string;
  readonly type: CorrelationType;
  readonly groupKey: string;
  /** group-by name -> value. */
  readonly group: Readonly<Record<string, string>>;
  /** Earliest event time in the matching window, epoch ms. */
  readonly windowStart: number;
  /** Event time of the fact that made the window match, epoch ms. */
  readonly windowEnd: number;
  /** The aggregate that satisfied the condition (count, distinct count, sum, average, percentile rank, rules seen). */
  readonly value: number;
  /** Facts in the window (capped by `maxRefs`); `factCount` has the full count. */
  readonly refs: readonly string[];
  readonly factCount: number;
  /** True when `value` is an estimate (value_count beyond its exact bound). */
  readonly estimated: boolean;
  /** Deterministic: correlation id + group key + window start. */
  readonly id: string;
}
