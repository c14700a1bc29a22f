import { Counter, Gauge, type Registry } from '@mamori/metrics';
import { CORRELATION_TYPES, type CorrelationStats, type CorrelationType } from '@mamori/sigma/correlation';

/** What the metrics read from the correlation stage. */
export interface CorrelationMetricsSource {
  stats: CorrelationStats;
  openWindows(): number;
  stateFacts(): number;
  restores(): number;
  /** Group windows kept and dropped by rule-set reloads so far. */
  reloadWindows?(): { kept: number; dropped: number };
}

/**
 * Correlation metrics. Labels are bounded: `correlation_type` has seven values; no rule id or
 * group value ever becomes a label.
 */
export function registerCorrelationMetrics(registry: Registry, source: CorrelationMetricsSource): void {
  const seen = new Map<string, number>();
  const delta = (name: string, total: number): number => {
    const d = total - (seen.get(name) ?? 0);
    seen.set(name, total);
    return Math.max(0, d);
  };
  const perType = (name: string, help: string, map: () => Map<CorrelationType, number>): void => {
    const counter: Counter<'correlation_type'> = new Counter({
      name,
      help,
      labelNames: ['correlation_type'],
      registers: [registry],
      collect: () => {
        for (const type of CORRELATION_TYPES) counter.inc({ correlation_type: type }, delta(`${name}:${type}`, map().get(type) ?? 0));
      },
    });
  };
  perType('mamori_correlation_evaluations_total', 'Window evaluations (one per group and event time admitted).', () => source.stats.evaluations);
  perType('mamori_correlation_matches_total', 'Correlation matches.', () => source.stats.matches);
  perType(
    'mamori_correlation_failures_total',
    'Group windows dropped because their evaluation threw, and matches skipped because their detection or chained facts could not be built (a defect; the other groups go on).',
    () => source.stats.failures,
  );
  perType('mamori_correlation_late_facts_total', 'Facts older than the evaluated watermark: counted, not admitted (their windows were already evaluated).', () => source.stats.late);
  const single = (name: string, help: string, read: () => number): void => {
    const counter: Counter = new Counter({ name, help, registers: [registry], collect: () => counter.inc(delta(name, read())) });
  };
  single('mamori_correlation_duplicate_facts_total', 'Redelivered facts dropped by their source sequence number.', () => source.stats.duplicates);
  single('mamori_correlation_overflow_facts_total', 'Facts dropped from a window that reached its size limit.', () => source.stats.overflow);
  single('mamori_correlation_restores_total', 'Partitions whose state was restored from the changelog.', () => source.restores());
  const reloadWindows: Counter<'outcome'> = new Counter({
    name: 'mamori_correlation_reload_windows_total',
    help: 'Group windows at hot reloads of the correlation rules: kept (definition unchanged) or dropped (correlation removed or changed).',
    labelNames: ['outcome'],
    registers: [registry],
    collect: () => {
      const now = source.reloadWindows?.() ?? { kept: 0, dropped: 0 };
      for (const outcome of ['kept', 'dropped'] as const) reloadWindows.inc({ outcome }, delta(`reload:${outcome}`, now[outcome]));
    },
  });
  const openWindows: Gauge = new Gauge({ name: 'mamori_correlation_open_windows', help: 'Groups with correlation state.', registers: [registry], collect: () => openWindows.set(source.openWindows()) });
  const facts: Gauge = new Gauge({ name: 'mamori_correlation_state_facts', help: 'Facts held in correlation windows.', registers: [registry], collect: () => facts.set(source.stateFacts()) });
}
