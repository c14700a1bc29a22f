// Local Kafka for tests: drives deploy/local/kafka.sh (real KRaft brokers from Maven jars, no Docker).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Kafka, logLevel } from 'kafkajs';

/** Absolute path of the script that fetches, starts and stops local brokers. */
export const KAFKA_SCRIPT: string = fileURLToPath(new URL('../../deploy/local/kafka.sh', import.meta.url));

/** Controller (KRaft quorum) ports sit this far above the client ports; must match kafka.sh. */
export const CONTROLLER_PORT_OFFSET = 100;

/** First base port tried for test clusters (kept away from 9092, 19092, 29092 used by hand-started brokers). */
export const DEFAULT_TEST_BASE_PORT = 39092;

/** Options for {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /**
   * Number of nodes; each is broker and KRaft controller. With 3: replication factor 3, min.insync.replicas 2.
   * @default 1
   */
  brokers?: 1 | 3;
  /**
   * Client port of the first broker (the others use the next ports, controllers +100).
   * @default the first base at or after 39092 whose client and controller ports are all free
   */
  basePort?: number;
  /**
   * Data directory (formatted once, reused when it already holds a cluster of the same size).
   * @default a fresh `mamori-kafka-*` directory under the OS temp dir, removed by `stop()`
   */
  dataDir?: string;
  /**
   * A pid whose exit stops the cluster even if `stop()` is never called (a crashed test run);
   * `false` to disable.
   * @default process.pid
   */
  watchPid?: number | false;
  /**
   * Bound for the whole start, including a first Maven fetch of the jars.
   * @default 240_000
   */
  startTimeoutMs?: number;
}

/** A running local cluster started through kafka.sh. */
export interface LocalCluster {
  /** Comma-separated `host:port` list, the form `KAFKA_BROKERS` takes. */
  readonly brokers: string;
  /** One `host:port` per node; index i is node id i + 1. */
  readonly brokerList: readonly string[];
  /** Data directory holding every node's config, logs and pid file. */
  readonly dataDir: string;
  /** Stops every node (SIGTERM, SIGKILL after a bound); removes the data dir if the harness created it. */
  stop(): Promise<void>;
  /** SIGKILLs the broker at `index` (0-based, as in `brokerList`) and resolves once the process is gone. */
  killBroker(index: number): Promise<void>;
  /** Stops the broker at `index` gracefully (controlled shutdown). */
  stopBroker(index: number): Promise<void>;
  /** Starts the broker at `index` again and resolves once it answers. */
  restartBroker(index: number): Promise<void>;
  /** Pid of the broker at `index`, or undefined when it is not running. */
  brokerPid(index: number): Promise<number | undefined>;
}

/** Raised when the local broker cannot be started or reached; the message says how to fix it. */
export class KafkaHarnessError extends Error {
  override readonly name = 'KafkaHarnessError';
}

/** A TCP port that is free right now on 127.0.0.1, chosen by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Whether nothing listens on `port` and it can be bound on 127.0.0.1. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** First base port at or after `from` where the client and controller ports of `brokers` nodes are all free. */
export async function freeBasePort(brokers: number, from: number = DEFAULT_TEST_BASE_PORT): Promise<number> {
  for (let base = from; base < from + 2_000; base += 10) {
    const ports: number[] = [];
    for (let i = 0; i < brokers; i++) ports.push(base + i, base + CONTROLLER_PORT_OFFSET + i);
    const free = await Promise.all(ports.map(isPortFree));
    if (free.every(Boolean)) return base;
  }
  throw new KafkaHarnessError(`no free Kafka base port between ${from} and ${from + 2_000}`);
}

interface ScriptResult {
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(args: readonly string[], timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [KAFKA_SCRIPT, ...args],
      { timeout: timeoutMs, killSignal: 'SIGTERM', maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() || error.message;
          reject(new KafkaHarnessError(`kafka.sh ${args[0] ?? ''} failed:\n${detail}`, { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); where procfs exists, its state field tells. A tiny synchronous read,
  // only polled while waiting for a killed broker to go away.
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
  } catch {
    return true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a local KRaft cluster through `deploy/local/kafka.sh start` and resolves once every node answers.
 * Picks a free base port (retrying on a lost race with another run) and a temp data dir unless given.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const brokers = options.brokers ?? 1;
  const timeoutMs = options.startTimeoutMs ?? 240_000;
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), `mamori-kafka-${brokers}b-`)));
  const watchPid = options.watchPid === undefined ? process.pid : options.watchPid;

  let basePort = options.basePort ?? (await freeBasePort(brokers));
  let started = false;
  for (let attempt = 1; !started; attempt++) {
    const args = ['start', '--brokers', String(brokers), '--port', String(basePort), '--data', dataDir];
    if (watchPid !== false) args.push('--watch-pid', String(watchPid));
    try {
      await runScript(args, timeoutMs);
      started = true;
    } catch (error) {
      const lostPortRace = error instanceof Error && /already in use/.test(error.message);
      if (!lostPortRace || options.basePort !== undefined || attempt >= 5) {
        await runScript(['stop', '--data', dataDir], 60_000).catch(() => undefined);
        if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
        throw error;
      }
      basePort = await freeBasePort(brokers, basePort + 10);
    }
  }

  const brokerList = Array.from({ length: brokers }, (_, i) => `127.0.0.1:${basePort + i}`);
  const checkIndex = (index: number): number => {
    if (!Number.isInteger(index) || index < 0 || index >= brokers) {
      throw new RangeError(`broker index ${index} is outside 0..${brokers - 1}`);
    }
    return index + 1;
  };
  const brokerPid = async (index: number): Promise<number | undefined> => {
    const node = checkIndex(index);
    const text = await readFile(path.join(dataDir, `node-${node}`, 'kafka.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
  };
  let stopped = false;

  return {
    brokers: brokerList.join(','),
    brokerList,
    dataDir,
    brokerPid,
    async stop() {
      if (stopped) return;
      stopped = true;
      await runScript(['stop', '--data', dataDir], 120_000);
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
    async killBroker(index) {
      const pid = await brokerPid(index);
      if (pid === undefined) return;
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while (pidAlive(pid)) {
        if (Date.now() > deadline) throw new KafkaHarnessError(`broker ${index} (pid ${pid}) survived SIGKILL`);
        await sleep(50);
      }
    },
    async stopBroker(index) {
      await runScript(['stop', '--data', dataDir, '--node', String(checkIndex(index))], 120_000);
    },
    async restartBroker(index) {
      await runScript(['start', '--data', dataDir, '--node', String(checkIndex(index))], timeoutMs);
    },
  };
}

/** Parses `host:port[,host:port...]`; throws a message naming `KAFKA_BROKERS` when it is malformed. */
export function parseBrokerList(brokers: string): Array<{ host: string; port: number }> {
  const entries = brokers
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new KafkaHarnessError('KAFKA_BROKERS is empty; set it to host:port[,host:port]');
  return entries.map((entry) => {
    const match = /^(.+):(\d+)$/.exec(entry);
    const host = match?.[1];
    const port = Number(match?.[2]);
    if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new KafkaHarnessError(`KAFKA_BROKERS entry '${entry}' is not host:port (e.g. 127.0.0.1:9092)`);
    }
    return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
  });
}

function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves once the cluster at `brokers` answers a Kafka metadata request (kafkajs `describeCluster`);
 * rejects with a message naming the brokers after `timeoutMs`.
 */
export async function waitForKafka(brokers: string, timeoutMs = 30_000): Promise<void> {
  const endpoints = parseBrokerList(brokers);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const reachable = await Promise.all(endpoints.map((e) => tcpAnswers(e.host, e.port, 2_000)));
    if (reachable.some(Boolean)) {
      const kafka = new Kafka({
        clientId: 'mamori-harness',
        brokers: endpoints.map((e) => `${e.host}:${e.port}`),
        logLevel: logLevel.NOTHING,
        connectionTimeout: 3_000,
        requestTimeout: 5_000,
        retry: { retries: 0 },
      });
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length > 0) return;
      } catch (error) {
        lastError = error;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
    await sleep(500);
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ' (no TCP answer)';
  throw new KafkaHarnessError(
    `Kafka at ${brokers} did not answer within ${Math.round(timeoutMs / 1000)}s${why}; ` +
      'start it (pnpm kafka start) or unset KAFKA_BROKERS to let the harness start a local broker',
  );
}
