// vitest globalSetup: decides once per test run where Kafka comes from, and hands the broker list to tests.
// Runs in the main vitest process; never import chDB (or anything that loads it) here.
import { existsSync } from 'node:fs';
import http from 'node:http';

import type { TestProject } from 'vitest/node';

import { freePort, KafkaHarnessError, startLocalCluster, waitForKafka } from './kafka.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated `host:port` list of the Kafka cluster this test run uses. */
    kafkaBrokers: string;
  }
}

/** Where the run's Kafka came from. */
export type KafkaSource = 'env' | 'docker' | 'local';

interface RunKafka {
  readonly brokers: string;
  readonly source: KafkaSource;
  stop(): Promise<void>;
}

interface SharedState {
  users: number;
  kafka: Promise<RunKafka> | undefined;
  previousEnv: string | undefined;
}

// vitest calls globalSetup for the root project and again for each project; they share one Kafka.
const STATE_KEY = Symbol.for('mamori.test.kafka');
const globals = globalThis as typeof globalThis & { [STATE_KEY]?: SharedState };
const state: SharedState = (globals[STATE_KEY] ??= { users: 0, kafka: undefined, previousEnv: undefined });

/** Projects whose tests never touch Kafka (unit tests use in-memory transports). */
const PROJECTS_WITHOUT_KAFKA = new Set(['unit']);

type Mode = 'auto' | 'local' | 'local3' | 'docker' | 'off';

function readMode(): Mode {
  const raw = (process.env['MAMORI_TEST_KAFKA'] ?? 'auto').trim().toLowerCase();
  switch (raw) {
    case '':
    case 'auto':
      return 'auto';
    case 'local':
    case '1':
      return 'local';
    case 'local3':
    case '3':
      return 'local3';
    case 'docker':
      return 'docker';
    case 'off':
    case '0':
      return 'off';
    default:
      throw new KafkaHarnessError(
        `MAMORI_TEST_KAFKA='${raw}' is not one of auto, local, 3, docker, off (unset it for auto)`,
      );
  }
}

function dockerPing(): Promise<boolean> {
  const socketPath = '/var/run/docker.sock';
  if (!existsSync(socketPath)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const request = http.get({ socketPath, path: '/_ping', timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

/** A Docker engine answers: DOCKER_HOST (any form testcontainers supports) or the default unix socket. */
async function dockerReachable(): Promise<boolean> {
  if (process.env['DOCKER_HOST'] === undefined) return dockerPing();
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 10_000).unref());
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return true;
  } catch {
    return false;
  }
}

async function startDockerKafka(): Promise<RunKafka> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host;
  // The broker advertises the host-side port, so bind the same number on both sides.
  const port = await freePort();
  const container = await new GenericContainer('apache/kafka:4.1.2')
    .withExposedPorts({ container: port, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${port},CONTROLLER://0.0.0.0:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_NUM_PARTITIONS: '1',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000)
    .start();
  const brokers = `${host}:${port}`;
  return {
    brokers,
    source: 'docker',
    async stop() {
      await container.stop();
    },
  };
}

async function startLocal(brokers: 1 | 3): Promise<RunKafka> {
  const cluster = await startLocalCluster({ brokers });
  return { brokers: cluster.brokers, source: 'local', stop: () => cluster.stop() };
}

async function acquireKafka(): Promise<RunKafka> {
  const mode = readMode();
  const fromEnv = process.env['KAFKA_BROKERS']?.trim();
  if (fromEnv !== undefined && fromEnv !== '') {
    await waitForKafka(fromEnv, 15_000);
    return { brokers: fromEnv, source: 'env', stop: async () => undefined };
  }
  if (mode === 'local3') return startLocal(3);
  if (mode === 'local') return startLocal(1);
  if (mode === 'docker' || (mode === 'auto' && (await dockerReachable()))) {
    try {
      return await startDockerKafka();
    } catch (error) {
      if (mode === 'docker') throw error;
      const why = error instanceof Error ? error.message : String(error);
      console.warn(`[mamori harness] Docker Kafka failed (${why}); starting a local broker instead`);
    }
  }
  return startLocal(1);
}

function needsKafka(project: TestProject): boolean {
  // With `projects` configured, vitest also runs globalSetup for a root project that owns no tests.
  const virtualRoot = project.isRootProject() && !project.vitest.projects.includes(project);
  return !virtualRoot && !PROJECTS_WITHOUT_KAFKA.has(project.name) && readMode() !== 'off';
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!needsKafka(project)) return async () => undefined;

  if (state.users === 0) {
    state.previousEnv = process.env['KAFKA_BROKERS'];
    state.kafka = acquireKafka();
  }
  state.users++;
  let kafka: RunKafka;
  try {
    kafka = await (state.kafka as Promise<RunKafka>);
  } catch (error) {
    state.users--;
    if (state.users === 0) state.kafka = undefined;
    throw error;
  }
  // Workers fork after every globalSetup has run, and inherit this environment.
  process.env['KAFKA_BROKERS'] = kafka.brokers;
  project.provide('kafkaBrokers', kafka.brokers);
  if (state.users === 1 && kafka.source !== 'env') {
    console.info(`[mamori harness] Kafka (${kafka.source}) at ${kafka.brokers}`);
  }

  let released = false;
  return async () => {
    if (released) return;
    released = true;
    state.users--;
    if (state.users > 0) return;
    state.kafka = undefined;
    if (state.previousEnv === undefined) delete process.env['KAFKA_BROKERS'];
    else process.env['KAFKA_BROKERS'] = state.previousEnv;
    await kafka.stop();
  };
}
