/**
 * Micro-benchmark measurement: warm-up rounds, then several rounds in which every case runs once
 * (order rotated per round, so load that comes and goes on a shared machine hits all cases alike).
 * Wall and process CPU time are taken per run; rates and ratios are medians over rounds.
 */

/** One case: `run` does `ops` operations and returns a checksum (kept so the work is not optimized away). */
export interface BenchCase {
  readonly name: string;
  readonly ops: number;
  run(): number;
}

export interface CaseResult {
  readonly name: string;
  readonly ops: number;
  /** Median operations per wall-clock second. */
  readonly wallRate: number;
  /** Median operations per CPU-second of this process (all its threads, GC included): the per-core figure. */
  readonly cpuRate: number;
  /** Per round: CPU-seconds of one run. */
  readonly cpuSeconds: readonly number[];
  readonly wallSeconds: readonly number[];
}

export interface CompareResult {
  readonly results: readonly CaseResult[];
  /** Median over rounds of CPU time per op of `slow` divided by that of `fast` (how many times `slow` costs `fast`). */
  costRatio(slow: string, fast: string): number;
}

export interface CompareOptions {
  /** Rounds run and discarded first (JIT warm-up). @default 2 */
  warmup?: number;
  /** Measured rounds; the median is reported. @default 7 */
  rounds?: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Checksums land here so no case's result is dead code. */
export let sink = 0;

/** Wall and CPU seconds of one call. */
export function timeOnce(fn: () => number): { wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  sink ^= fn();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

export function compare(cases: readonly BenchCase[], options: CompareOptions = {}): CompareResult {
  const warmup = options.warmup ?? 2;
  const rounds = options.rounds ?? 7;
  const wall = cases.map(() => [] as number[]);
  const cpu = cases.map(() => [] as number[]);
  for (let round = 0; round < warmup + rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + round) % cases.length;
      const c = cases[i]!;
      const t = timeOnce(() => c.run());
      if (round >= warmup) {
        wall[i]!.push(t.wall);
        // A run shorter than the cpuUsage granularity would divide by zero; never below 1 µs.
        cpu[i]!.push(Math.max(t.cpu, 1e-6));
      }
    }
  }
  const results: CaseResult[] = cases.map((c, i) => ({
    name: c.name,
    ops: c.ops,
    wallRate: median(wall[i]!.map((s) => c.ops / s)),
    cpuRate: median(cpu[i]!.map((s) => c.ops / s)),
    cpuSeconds: cpu[i]!,
    wallSeconds: wall[i]!,
  }));
  const index = (name: string): number => {
    const i = cases.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`no case named ${name}`);
    return i;
  };
  return {
    results,
    costRatio(slow, fast) {
      const s = index(slow);
      const f = index(fast);
      const perRound = cpu[s]!.map((sec, r) => sec / cases[s]!.ops / (cpu[f]![r]! / cases[f]!.ops));
      return median(perRound);
    },
  };
}

/** 1234567 -> "1,234,567"; rates are rounded to three significant digits first. */
export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const digits = Math.max(0, Math.floor(Math.log10(Math.abs(n) || 1)) - 2);
  const rounded = Math.round(n / 10 ** digits) * 10 ** digits;
  return rounded.toLocaleString('en-US');
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a';
}
