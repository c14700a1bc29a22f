import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger, sleep } from '@mamori/core';
import { createSimulator, produceSimulation } from '@mamori/ingest';
import { TOPICS } from '@mamori/pipeline';
import { loadRuntimeConfig } from './config.ts';
import { createApiKey } from './keys.ts';
import { ALL_SERVICES, startServices, type RunningServices } from './runtime.ts';
import { demoAttacks } from './simulate.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const KAFKA_SH = `${REPO}deploy/local/kafka.sh`;

export interface DemoOptions {
  rate: number;
  durationS: number;
  /** Stop after the simulation and the final detections instead of waiting for Ctrl-C. */
  exitWhenDone: boolean;
  say: (line: string) => void;
}

interface DetectionJson {
  id: string;
  title: string;
  severity: string;
  count: number;
  src_ip: string | null;
  first_seen: string;
  last_seen: string;
  attributes: Record<string, string>;
}

/**
 * `mamori demo`: a local Kafka broker, every service in this process, a simulated office network
 * with injected port scans, and the detections as the API returns them.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { say } = options;
  const home = process.env['MAMORI_HOME'] ?? `${REPO}.mamori`;
  const demoDir = `${home}/demo`;
  const env: Record<string, string | undefined> = { ...process.env };
  let stopKafka: (() => Promise<void>) | undefined;

  if (!env['KAFKA_BROKERS']) {
    const port = env['MAMORI_DEMO_KAFKA_PORT'] ?? '9092';
    rmSync(`${demoDir}/kafka`, { recursive: true, force: true });
    say(`starting a local Kafka broker on 127.0.0.1:${port} (deploy/local/kafka.sh)`);
    await runScript(['start', '--port', port, '--data', `${demoDir}/kafka`, '--watch-pid', String(process.pid)]);
    env['KAFKA_BROKERS'] = `127.0.0.1:${port}`;
    stopKafka = () => runScript(['stop', '--data', `${demoDir}/kafka`]).catch(() => undefined);
  } else {
    say(`using the Kafka at KAFKA_BROKERS=${env['KAFKA_BROKERS']}`);
  }
  if (!env['CLICKHOUSE_URL'] && !env['MAMORI_DATA_DIR']) {
    rmSync(`${demoDir}/data`, { recursive: true, force: true });
    env['MAMORI_DATA_DIR'] = `${demoDir}/data`;
  }
  const key = createApiKey('demo', 'admin', '*');
  env['MAMORI_API_KEYS'] = [env['MAMORI_API_KEYS'], key.entry].filter(Boolean).join(';');
  env['DETECTOR_IDLE_CLOSE_MS'] ??= '3000';
  env['LOG_LEVEL'] ??= 'warn';

  let running: RunningServices | undefined;
  const shutdown = async (): Promise<void> => {
    say('stopping services (draining batches, committing offsets)');
    await running?.close().catch((error: unknown) => say(`shutdown: ${(error as Error).message}`));
    if (stopKafka) {
      say('stopping Kafka');
      await stopKafka();
    }
  };
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const config = loadRuntimeConfig(env);
    running = await startServices(ALL_SERVICES, config, env, { logger: createLogger({ name: 'mamori', level: env['LOG_LEVEL'] }), progress: say });
    const apiUrl = running.apiUrl!;
    const producer = running.transport.producer({ clientId: 'mamori-demo' });
    await producer.connect();

    const durationMs = options.durationS * 1000;
    const simulator = createSimulator({ seed: 7, startTime: Date.now(), ratePerSecond: options.rate, durationMs, attacks: demoAttacks(durationMs) });
    say(`simulating ${options.durationS} s of a 50-host office network at ${options.rate} connections/s; attackers: ${simulator.attackSources.join(', ')}`);

    const seen = new Map<string, number>();
    const poll = async (): Promise<DetectionJson[]> => {
      const res = await fetch(`${apiUrl}/v1/detections?limit=100`, { headers: { authorization: `Bearer ${key.token}` } });
      if (!res.ok) return [];
      const body = (await res.json()) as { detections: DetectionJson[] };
      for (const d of body.detections) {
        if (seen.get(d.id) !== d.count) {
          say(`${seen.has(d.id) ? 'updated' : 'DETECTION'} [${d.severity}] ${d.title}: ${d.count} probes, ${d.attributes['distinct_hosts']} hosts, ${d.attributes['distinct_ports']} ports`);
          seen.set(d.id, d.count);
        }
      }
      return body.detections;
    };
    let lastProgress = 0;
    const stats = await produceSimulation(producer, simulator, {
      topic: TOPICS.rawZeekConn,
      sensorId: 'sim-zeek-1',
      ratePerSecond: options.rate,
      signal: abort.signal,
      onProgress: (s) => {
        if (Date.now() - lastProgress >= 5000) {
          lastProgress = Date.now();
          say(`produced ${s.produced} sensor records`);
          void poll().catch(() => undefined);
        }
      },
    });
    await producer.close();
    if (!abort.signal.aborted) {
      say(`simulation done: ${stats.produced} records (${Object.entries(stats.byLabel).map(([k, v]) => `${k}: ${v}`).join(', ')}); waiting for the last windows to close`);
      await sleep(Number(env['DETECTOR_IDLE_CLOSE_MS']) + 4000, abort.signal);
    }
    const detections = await poll();
    process.stdout.write(`\n${detections.length} detection(s):\n`);
    for (const d of detections) {
      process.stdout.write(`  [${d.severity}] ${d.title}  count=${d.count}  ${d.first_seen} .. ${d.last_seen}  id=${d.id}\n`);
    }
    process.stdout.write(
      `\nAPI:      ${apiUrl}\n` +
        `Token:    ${key.token}   (admin, all organizations; valid for this demo run)\n` +
        `Try:      curl -H 'Authorization: Bearer ${key.token}' '${apiUrl}/v1/detections?min_severity=medium'\n` +
        `Metrics:  http://${config.metricsHost}:${running.metricsPort}/metrics\n\n`,
    );
    if (!options.exitWhenDone && !abort.signal.aborted) {
      say('services keep running; press Ctrl-C to stop everything');
      await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    return detections.length > 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await shutdown();
  }
}

function runScript(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [KAFKA_SH, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`deploy/local/kafka.sh ${args[0]} failed (exit ${code}); see the message above`))));
  });
}
