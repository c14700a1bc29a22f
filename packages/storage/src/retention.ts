import { StorageError } from './errors.ts';
import { assertIdentifier } from './sql.ts';
import type { StorageDriver } from './types.ts';

/**
 * How long events are kept, per event class, counted from when Mamori ingested them (`ingest_time`):
 * archived logs replayed with `mamori import` or `mamori hunt` carry old event times and would
 * otherwise expire (and be dropped by ClickHouse at insert) before anyone could query them.
 */
export interface EventRetention {
  /** Days for classes not listed in `byClass`. @default 90 */
  defaultDays: number;
  /** Days per event class, e.g. `{ network_activity: 30, dns_activity: 180 }`. */
  byClass?: Readonly<Record<string, number>>;
}

const CLASS = /^[A-Za-z0-9_.-]{1,64}$/;

function days(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 3650) throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be a whole number of days, 1-3650`);
  return value;
}

/** The TTL expression of {@link applyEventRetention} (exported for tests and docs). */
export function eventTtlExpression(retention: EventRetention): string {
  const fallback = days('defaultDays', retention.defaultDays);
  const entries = Object.entries(retention.byClass ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return `toDateTime(ingest_time) + toIntervalDay(${fallback})`;
  const branches = entries.map(([cls, d]) => {
    if (!CLASS.test(cls)) throw new StorageError('STORAGE_INVALID_ARGUMENT', `event class ${JSON.stringify(cls)} must be letters, digits, '_', '.', '-'`);
    // Identifiers and numbers only (checked above): DDL has no parameter binding.
    return `event_class = '${cls}', ${days(`retention of ${cls}`, d)}`;
  });
  return `toDateTime(ingest_time) + toIntervalDay(multiIf(${branches.join(', ')}, ${fallback}))`;
}

/**
 * Sets the `events` TTL from configuration (run at start-up, after `migrate`). A metadata change
 * only: `materialize_ttl_after_modify = 0`, so existing parts are not rewritten at start-up; old
 * parts follow the new rule at their next merge (or `ALTER TABLE events MATERIALIZE TTL`).
 * With one retention for every class, whole expired parts are dropped (`ttl_only_drop_parts`);
 * with per-class retention rows expire individually (a daily part mixes classes), so
 * `ttl_only_drop_parts` is turned off.
 */
export async function applyEventRetention(driver: StorageDriver, retention: EventRetention): Promise<string> {
  const db = assertIdentifier('database', driver.database);
  const expression = eventTtlExpression(retention);
  const perClass = Object.keys(retention.byClass ?? {}).length > 0;
  await driver.exec(`ALTER TABLE ${db}.events MODIFY SETTING ttl_only_drop_parts = ${perClass ? 0 : 1}`);
  await driver.exec(`ALTER TABLE ${db}.events MODIFY TTL ${expression} DELETE SETTINGS materialize_ttl_after_modify = 0`);
  return expression;
}
