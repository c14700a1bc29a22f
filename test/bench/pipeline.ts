/**
 * End-to-end pipeline benchmark: simulated Zeek conn lines produced to the raw topic of a real
 * broker, through normalizer -> detector -> writer (`startServices`, one process, embedded chDB in
 * a temp data dir), timed from the first produce until every event of the run is stored.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger, sleep } from '@mamori/core';
import { ALL_SERVICES, loadRuntimeConfig, startServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import { fmtRate, median } from './measure.ts';

export interface PipelineBenchOptions {
  /** Records per timed run. @default 30000 (env BENCH_PIPELINE_RECORDS) */
  records?: number;
  /** Timed runs; the median is reported. @default 3 */
  runs?: number;
  /** Pid of a broker on this machine, to add its CPU time (only when the runner started it). */
  brokerPid?: () => Promise<number | undefined>;
  /** Bound on one run. @default 300000 */
  runTimeoutMs?: number;
}

let clockTicks: number | undefined;

/** User + system CPU-seconds of another process so far, from /proc; undefined where unreadable. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

interface Run {
  records: number;
  seconds: number;
  cpu: number;
  brokerCpu: number | undefined;
  /** CPU-seconds of the sensor process (records built before its clock starts). */
  sensorCpu: number;
}

/**
 * The run's sensor in its own process (pipeline-sensor.ts), connected and with its records built;
 * `go()` starts the produce and resolves with the sensor's CPU-seconds.
 */
function startSensor(run: { brokers: string[]; sensorId: string; seed: string; startTime: number; count: number }): Promise<{ go(): Promise<number> }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./pipeline-sensor.ts', import.meta.url)), [JSON.stringify(run)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let done: ((cpu: number) => void) | undefined;
    let failed: ((error: Error) => void) | undefined;
    child.on('message', (m) => {
      if (m === 'ready') {
        resolve({
          go: () =>
            new Promise<number>((res, rej) => {
              done = res;
              failed = rej;
              child.send('go');
            }),
        });
      } else {
        done?.((m as { cpuSeconds: number }).cpuSeconds);
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const error = new Error(`bench pipeline: the sensor process exited with ${code} before reporting`);
      reject(error);
      failed?.(error);
    });
  });
}

export async function benchPipeline(brokers: string, options: PipelineBenchOptions = {}): Promise<string> {
  const records = options.records ?? Number(process.env['BENCH_PIPELINE_RECORDS'] ?? 30_000);
  const runs = options.runs ?? 3;
  const runTimeoutMs = options.runTimeoutMs ?? 300_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'mamori-bench-'));
  // Embedded chDB needs writer and query-api in one process; the API stays idle during the runs.
  const env = {
    KAFKA_BROKERS: brokers,
    MAMORI_DATA_DIR: dataDir,
    METRICS_PORT: '0',
    API_PORT: '0',
    MAMORI_API_KEYS: `bench:${hashSecret('bench-secret-0123456789abcdef')}:viewer:*`,
    MAMORI_TOPIC_PARTITIONS: '3',
    // The Kafka client of the Mamori process (the sensor always uses kafkajs).
    MAMORI_TRANSPORT: process.env['BENCH_PIPELINE_TRANSPORT'] ?? 'kafkajs',
  };
  const running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: silentLogger() });
  const stamp = Date.now();
  // Events ClickHouse acknowledged, from the writer's own counter: polling a count() would add the
  // benchmark's queries to Mamori's CPU.
  const inserted = running.registry.getSingleMetric('mamori_writer_rows_inserted_total');
  if (!inserted) throw new Error('bench pipeline: the writer registers no mamori_writer_rows_inserted_total');
  const stored = async (): Promise<number> => (await inserted.get()).values.find((v) => v.labels['table'] === 'events')?.value ?? 0;
  let expected = 0;

  const once = async (index: number, count: number): Promise<Run> => {
    // Each run has its own hour of event time, so the detector never sees time go backwards.
    const sensor = await startSensor({
      brokers: brokers.split(','),
      sensorId: `bench-${stamp}-${index}`,
      seed: `bench-${index}`,
      startTime: stamp - 24 * 3_600_000 + index * 3_600_000,
      count,
    });
    expected += count;
    const pid = await options.brokerPid?.();
    const broker0 = pid === undefined ? undefined : processCpuSeconds(pid);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const sensorCpu = sensor.go();
    const deadline = Date.now() + runTimeoutMs;
    for (;;) {
      const n = await stored();
      if (n >= expected) break;
      if (Date.now() > deadline) throw new Error(`pipeline run ${index}: ${n} of ${expected} events stored after ${runTimeoutMs} ms`);
      await sleep(100);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const broker1 = pid === undefined ? undefined : processCpuSeconds(pid);
    return {
      records: count,
      seconds,
      cpu: (cpu.user + cpu.system) / 1e6,
      brokerCpu: broker0 === undefined || broker1 === undefined ? undefined : broker1 - broker0,
      sensorCpu: await sensorCpu,
    };
  };

  /** Batches and records per stage so far, from the stages' `mamori_batch_records` histogram. */
  const batches = async (): Promise<Map<string, { count: number; sum: number }>> => {
    const out = new Map<string, { count: number; sum: number }>();
    const metric = running.registry.getSingleMetric('mamori_batch_records');
    for (const v of (await metric?.get())?.values ?? []) {
      const stage = String(v.labels['stage']);
      const entry = out.get(stage) ?? { count: 0, sum: 0 };
      const name = (v as { metricName?: string }).metricName;
      if (name === 'mamori_batch_records_count') entry.count = v.value;
      else if (name === 'mamori_batch_records_sum') entry.sum = v.value;
      else continue;
      out.set(stage, entry);
    }
    return out;
  };

  const timed: Run[] = [];
  let perBatch = '';
  try {
    await once(0, 2_000); // warm-up: group joins, JIT, first chDB parts
    const before = await batches();
    for (let i = 1; i <= runs; i++) timed.push(await once(i, records));
    const after = await batches();
    perBatch = [...after]
      .map(([stage, a]) => {
        const b = before.get(stage) ?? { count: 0, sum: 0 };
        const n = a.count - b.count;
        return n > 0 ? `${stage} ${n.toLocaleString('en-US')} batches, ${Math.round((a.sum - b.sum) / n).toLocaleString('en-US')} records each` : '';
      })
      .filter((x) => x !== '')
      .sort()
      .join('; ');
  } finally {
    await running.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }

  const rates = timed.map((r) => r.records / r.seconds);
  const perCpu = timed.map((r) => r.records / r.cpu);
  const brokerCpus = timed.map((r) => r.brokerCpu).filter((x): x is number => x !== undefined);
  const perAllCpu = brokerCpus.length === timed.length ? timed.map((r) => r.records / (r.cpu + r.brokerCpu!)) : undefined;
  const seconds = (xs: readonly number[]): string => xs.map((x) => x.toFixed(1)).join(' / ');
  const lines = [
    `${runs} runs of ${records.toLocaleString('en-US')} simulated Zeek conn records (sends of 1000, acks=all), after a 2,000-record warm-up; ` +
      `normalizer, detector and writer in one process (${env.MAMORI_TRANSPORT}, 3 partitions, embedded chDB; query-api started too, as chDB requires, but idle), the broker on the same machine: all of it shares the 2 cores. ` +
      'The sensor is its own process (`pipeline-sensor.ts`: records built and producer connected before the clock starts), so its Kafka produce is not counted as Mamori\'s CPU. ' +
      'Timed from the sensor\'s first produce until the writer\'s `mamori_writer_rows_inserted_total{table="events"}` reaches the events sent so far (read every 100 ms from the in-process registry; no query).',
    '',
    '| Measure | Median | Runs |',
    '| --- | ---: | ---: |',
    `| Records/s end to end (wall) | **${fmtRate(median(rates))}** | ${rates.map(fmtRate).join(' / ')} |`,
    `| Seconds per run | ${median(timed.map((r) => r.seconds)).toFixed(1)} | ${seconds(timed.map((r) => r.seconds))} |`,
    `| Mamori process CPU-seconds | ${median(timed.map((r) => r.cpu)).toFixed(1)} | ${seconds(timed.map((r) => r.cpu))} |`,
    `| Records per Mamori CPU-second | ${fmtRate(median(perCpu))} | ${perCpu.map(fmtRate).join(' / ')} |`,
    `| Sensor process CPU-seconds (not counted above) | ${median(timed.map((r) => r.sensorCpu)).toFixed(1)} | ${seconds(timed.map((r) => r.sensorCpu))} |`,
  ];
  if (perAllCpu) {
    lines.push(`| Broker CPU-seconds | ${median(brokerCpus).toFixed(1)} | ${seconds(brokerCpus)} |`);
    lines.push(`| Records per CPU-second, Mamori + broker | ${fmtRate(median(perAllCpu))} | ${perAllCpu.map(fmtRate).join(' / ')} |`);
  }
  if (perBatch) lines.push('', `Batches over the timed runs (\`mamori_batch_records\`): ${perBatch}.`);
  return lines.join('\n');
}
