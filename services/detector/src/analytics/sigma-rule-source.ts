import type { MamoriEvent } from '@mamori/events';
import { fieldSources, loadMappings, type CompiledRule, type FieldSource, type LoadedRules, type MappingSet } from '@mamori/sigma';
import { CorrelationRouter, type BaseRuleMatch, type CorrelationSet } from '@mamori/sigma/correlation';
import type { BaseRuleSource } from './correlation.ts';

/** Every field name a correlation reads from a base rule's events: group-by, alias targets, condition fields. */
export function correlationFieldNames(set: CorrelationSet): string[] {
  const names = new Set<string>();
  for (const rule of set.rules) {
    for (const name of [...rule.groupBy, ...rule.condition.fields]) if (!rule.aliases.has(name)) names.add(name);
    for (const perRule of rule.aliases.values()) for (const field of perRule.values()) names.add(field);
  }
  return [...names].sort();
}

function pathValue(event: MamoriEvent, path: string): unknown {
  let current: unknown = event;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function readSource(event: MamoriEvent, source: FieldSource): unknown {
  if (typeof source === 'string') {
    if (source.startsWith('attributes.')) {
      const name = source.slice('attributes.'.length);
      const attrs = event.attributes as Record<string, unknown> | undefined;
      if (attrs && Object.hasOwn(attrs, name)) return attrs[name];
    }
    return pathValue(event, source);
  }
  const parts = source.join.map((p) => pathValue(event, p)).filter((v): v is string => typeof v === 'string' && v !== '');
  return parts.length === 0 ? undefined : parts.join(source.sep);
}

/**
 * The value of a field as a correlation names it, for events of one base rule: the rule's log
 * source mapping first (so `id.orig_h` of a Zeek rule reads `src_ip`, `IpAddress` of a Windows
 * rule reads `src_ip`), then the normalized event's own path (`src_ip`, `org_id`, `auth.user`),
 * then `attributes.<field>`.
 */
function fieldReader(mappings: MappingSet, compiled: CompiledRule | undefined, field: string): (event: MamoriEvent) => unknown {
  const fallback = `attributes.${field}`;
  const mapped = compiled ? fieldSources(mappings, compiled.mapping, field).filter((s) => s !== fallback) : [];
  const sources: FieldSource[] = [...mapped, field, fallback];
  return (event) => {
    for (const s of sources) {
      const v = readSource(event, s);
      if (present(v)) return v;
    }
    return undefined;
  };
}

/**
 * {@link BaseRuleSource} over a compiled Sigma rule set: an event's matches of base rules some
 * correlation refers to, each with the fields the correlations read (resolved through the rule's
 * log source mapping). Rules no correlation needs are not reported.
 */
export function sigmaRuleSource(loaded: LoadedRules, set: CorrelationSet, mappings: MappingSet = loadMappings()): BaseRuleSource {
  const router = new CorrelationRouter(set);
  const names = correlationFieldNames(set);
  const readers = new Map<string, { name: string; read: (event: MamoriEvent) => unknown }[]>();
  for (const compiled of loaded.rules) {
    const rule = compiled.rule;
    if (!router.wants(rule.id, rule.name)) continue;
    readers.set(rule.id, names.map((name) => ({ name, read: fieldReader(mappings, compiled, name) })));
  }
  return {
    match(event: MamoriEvent): BaseRuleMatch[] {
      if (readers.size === 0) return [];
      const out: BaseRuleMatch[] = [];
      for (const m of loaded.ruleSet.match(event)) {
        const fieldReaders = readers.get(m.rule.id);
        if (!fieldReaders) continue;
        const fields: Record<string, unknown> = {};
        for (const { name, read } of fieldReaders) {
          const v = read(event);
          if (v !== undefined) fields[name] = v;
        }
        out.push({ ruleId: m.rule.id, ...(m.rule.name !== undefined ? { ruleName: m.rule.name } : {}), time: event.time, eventId: event.event_id, fields });
      }
      return out;
    },
    takeFailures: () => loaded.ruleSet.takeFailures(),
  };
}
