/**
 * Detector benchmark: normalized simulator events through `PortScanAnalytic.observe`, a fresh
 * analytic per round, closed with `advance(Infinity)`. Two streams: office traffic with two scans
 * (most events leave at the probe check), and a scan-heavy one where probes dominate.
 */
import { isProbe, PortScanAnalytic } from '@mamori/detector';
import type { MamoriEvent } from '@mamori/events';
import { createSimulator, type AttackSpec } from '@mamori/ingest';
import { compare, fmtRate, type CompareOptions } from './measure.ts';
import { BENCH_ATTACKS, normalizeLines, simulatedLines } from './inputs.ts';

export interface DetectorBenchOptions extends CompareOptions {
  /** Events per round of the office stream. @default 100000 */
  events?: number;
}

const SCAN_HEAVY: readonly AttackSpec[] = [
  { kind: 'horizontal_scan', at: 5_000, targets: 4000, ports: [22, 80, 443, 445, 3389], durationMs: 120_000 },
  { kind: 'vertical_scan', at: 10_000, ports: 15_000, durationMs: 100_000 },
  { kind: 'horizontal_scan', at: 20_000, targets: 2000, ports: [23, 2323], durationMs: 60_000 },
];

export function benchDetector(options: DetectorBenchOptions = {}): string {
  const office = normalizeLines(simulatedLines(options.events ?? 100_000));
  const heavy = normalizeLines(Array.from(createSimulator({ seed: 'bench-scans', ratePerSecond: 50, durationMs: 150_000, attacks: SCAN_HEAVY }), (r) => r.line));
  const reports = new Map<string, number>();
  const observeAll = (name: string, events: readonly MamoriEvent[]) => ({
    name,
    ops: events.length,
    run: () => {
      const analytic = new PortScanAnalytic();
      let d = 0;
      for (const e of events) d += analytic.observe(e).length;
      d += analytic.advance(Infinity, Date.now()).length;
      reports.set(name, d);
      return d;
    },
  });
  const r = compare([observeAll('office', office), observeAll('scans', heavy)], options);
  const row = (name: string, label: string, events: readonly MamoriEvent[]): string => {
    const c = r.results.find((x) => x.name === name)!;
    const probes = events.filter(isProbe).length;
    const minutes = (events[events.length - 1]!.time - events[0]!.time) / 60_000;
    return `| ${label} | ${events.length.toLocaleString('en-US')} over ${minutes.toFixed(1)} min | ${((100 * probes) / events.length).toFixed(1)}% | ${reports.get(name)} | **${fmtRate(c.cpuRate)}** | ${fmtRate(c.wallRate)} |`;
  };
  return [
    'Events are normalized simulator lines fed in time order; each round builds a fresh analytic and closes it with `advance(Infinity)`. ' +
      'Non-probes return at the first check, so the probe share decides the rate.',
    '',
    '| Stream | Events | Probes | Detection reports | Events per CPU-second | Events/s (wall) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row('office', `office traffic, 200 conn/s, ${BENCH_ATTACKS.length} scans`, office),
    row('scans', `scan-heavy: 50 conn/s, ${SCAN_HEAVY.length} large scans`, heavy),
  ].join('\n');
}
