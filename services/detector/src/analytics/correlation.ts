import type { MamoriDetection, MamoriEvent, Severity } from '@mamori/events';
import type { BaseRuleMatch, CorrelationMatch, CorrelationRule } from '@mamori/sigma/correlation';

/**
 * What the correlation stages need from the Sigma rule set: which base rules an event matches.
 * The Sigma RuleSet (packages/sigma) is adapted to this; tests use plain predicates.
 */
export interface BaseRuleSource {
  /** Base rules the event matches, with the event's fields for group-by, aliases and values. */
  match(event: MamoriEvent): BaseRuleMatch[];
  /** Base rules whose evaluation threw since the last call (`rule <id>: <message>`; the others' matches stand), then cleared. */
  takeFailures?(): readonly string[];
}

/** A base rule as a predicate: enough for tests and for hand-written rules. */
export interface PredicateRule {
  id: string;
  name?: string;
  test(event: MamoriEvent): boolean;
}

/** {@link BaseRuleSource} over predicates; the event itself is the field source (nested names work). */
export function predicateRuleSource(rules: readonly PredicateRule[]): BaseRuleSource {
  return {
    match(event) {
      const out: BaseRuleMatch[] = [];
      for (const rule of rules) {
        if (!rule.test(event)) continue;
        out.push({
          ruleId: rule.id,
          ...(rule.name !== undefined ? { ruleName: rule.name } : {}),
          time: event.time,
          eventId: event.event_id,
          fields: event as unknown as Record<string, unknown>,
        });
      }
      return out;
    },
  };
}

const LEVELS: Record<string, Severity> = { informational: 'info', info: 'info', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };

export interface CorrelationDetectionOptions {
  /** Organization when the group has no `org_id` value. @default 'default' */
  defaultOrgId?: string;
  rulesetChecksum?: string;
  /** Topic named in evidence references (correlation evidence carries event ids only). */
  eventsTopic: string;
  /** Detection time; injected for tests. */
  now?: number;
}

/**
 * A correlation match as a detection. The id is the match's: correlation id + group key + window
 * start, so a replay, a restart or another instance produces the same id and the writer's
 * ReplacingMergeTree keeps one row.
 */
export function correlationDetection(match: CorrelationMatch, rule: CorrelationRule, options: CorrelationDetectionOptions): MamoriDetection {
  const groupText = Object.entries(match.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const attributes: Record<string, string> = {
    correlation_type: match.type,
    group_key: match.groupKey,
    window_start: String(match.windowStart),
    window_end: String(match.windowEnd),
    value: String(match.value),
    estimated: String(match.estimated),
    rule_path: rule.path,
  };
  for (const [k, v] of Object.entries(match.group)) attributes[`group.${k}`] = v;
  const srcIp = match.group['src_ip'] ?? match.group['source.ip'] ?? null;
  return {
    detection_id: match.id,
    rule_id: rule.id,
    rule_version: 1,
    title: rule.title,
    severity: LEVELS[rule.level ?? ''] ?? 'medium',
    confidence: 0.8,
    tactics: [],
    techniques: [],
    org_id: match.group['org_id'] ?? options.defaultOrgId ?? 'default',
    entity: { type: 'correlation_group', value: groupText === '' ? '*' : groupText },
    src_ip: srcIp,
    first_seen: match.windowStart,
    last_seen: match.windowEnd,
    detected_at: options.now ?? Date.now(),
    count: match.factCount,
    summary: `${rule.title}: ${match.type} ${match.value} over ${groupText || 'all events'}`,
    evidence: match.refs.map((ref) => ({ event_id: ref, topic: options.eventsTopic, partition: -1, offset: -1 })),
    attributes,
    ruleset_checksum: options.rulesetChecksum ?? '',
  };
}
