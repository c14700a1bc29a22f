import { createHash } from 'node:crypto';
import type { CorrelationRule, CorrelationSet } from './types.ts';

/**
 * Fingerprint of each correlation's definition: what decides which facts it keeps and when it
 * fires (type, referenced rules, group-by, aliases, timespan, condition), plus the fingerprints of
 * the correlations it refers to (a chain whose input changed is a changed chain). Title, level,
 * tags, `generate` and the file it lives in are left out: editing them keeps the windows.
 *
 * A hot reload keeps the state of every correlation whose fingerprint is unchanged; window state
 * persisted with another fingerprint is not restored.
 */
export function correlationFingerprints(set: CorrelationSet): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  // `set.rules` is in evaluation order: a correlation comes after those it refers to.
  for (const rule of set.rules) out.set(rule.id, fingerprintOf(rule, out));
  return out;
}

function fingerprintOf(rule: CorrelationRule, known: ReadonlyMap<string, string>): string {
  const aliases = [...rule.aliases].map(([alias, perRule]) => [alias, [...perRule].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const definition = {
    id: rule.id,
    name: rule.name ?? null,
    type: rule.type,
    rules: rule.rules.map((r) => (r.kind === 'correlation' ? { ref: r.ref, correlation: known.get(r.correlationId!) ?? r.correlationId } : { ref: r.ref })),
    groupBy: rule.groupBy,
    aliases,
    timespanMs: rule.timespanMs,
    condition: { fields: rule.condition.fields, tests: rule.condition.tests.map((t) => [t.op, t.value]) },
  };
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 32);
}
