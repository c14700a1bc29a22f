import type { Logger } from '@mamori/core';
import { InventoryStore } from '@mamori/inventory';
import { errorMessage } from '@mamori/core';
import type { Registry } from '@mamori/metrics';
import { stageMetrics } from '@mamori/metrics';
import type { Producer } from '@mamori/transport';
import type { IngestConfig } from './config.ts';
import { HTTP_INGEST_ERROR_CODES, startHttpIngest } from './http/server.ts';
import { anyAuthenticator, inventoryAuthenticator, tokenAuthenticator, type SensorAuthenticator } from './http/sensor-tokens.ts';
import { NETFLOW_COLLECTOR_ERROR_CODES, NETFLOW_ERROR_CODES, NetflowCollector } from './netflow/index.ts';
import { produceSimulation } from './simulation-producer.ts';
import { createSimulator, type AttackSpec } from './simulator/index.ts';
import { startSyslogListeners, SYSLOG_ERROR_CODES } from './syslog/listeners.ts';

/**
 * Error codes ingest logs (as `error_code`); listed in docs/errors.md.
 *
 * - `INGEST_PRODUCE_FAILED`: the simulator's producer failed for good and simulation stopped.
 * - `NETFLOW_*`: the NetFlow collector's decode and produce codes (`netflow/errors.ts`, docs/netflow.md).
 * - `SYSLOG_*`, `INGEST_LINE_*`: syslog listener and HTTP bulk ingest codes (docs/ingest.md).
 */
export const INGEST_ERROR_CODES = ['INGEST_PRODUCE_FAILED', ...NETFLOW_ERROR_CODES, ...NETFLOW_COLLECTOR_ERROR_CODES, ...SYSLOG_ERROR_CODES, ...HTTP_INGEST_ERROR_CODES] as const;
type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];

export interface IngestDeps {
  producer: Producer;
  registry: Registry;
  logger: Logger;
  /**
   * The live sensor registry when this process already watches it (the normalizer's); otherwise
   * ingest opens MAMORI_INVENTORY_FILE itself for HTTP token checks.
   */
  inventory?: InventoryStore | undefined;
}

export interface IngestService {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A port scan of each kind every ten minutes of simulated time, starting after two minutes. */
export function recurringAttacks(everyMs = 600_000, horizon = 24 * 3_600_000): AttackSpec[] {
  const attacks: AttackSpec[] = [];
  for (let at = 120_000; at < horizon; at += everyMs) {
    attacks.push({ kind: 'horizontal_scan', at, targets: 60, ports: [445], durationMs: 20_000 });
    attacks.push({ kind: 'vertical_scan', at: at + everyMs / 2, ports: 120, durationMs: 15_000 });
  }
  return attacks;
}

/**
 * The ingest service. Today it hosts the Zeek conn traffic simulator, producing realistic sensor
 * lines to the raw topic in real time; sensor entry points (HTTP bulk, syslog, NetFlow) join it here.
 */
export function buildIngest(config: IngestConfig, deps: IngestDeps): IngestService {
  const abort = new AbortController();
  const metrics = stageMetrics(deps.registry);
  let running: Promise<void> | undefined;
  let netflow: NetflowCollector | undefined;
  const entryPoints: { close(): Promise<void> }[] = [];
  // HTTP tokens: INGEST_SENSOR_TOKENS and the sensor registry. A bad inventory file throws here
  // (ConfigError naming every problem), before any entry point listens.
  let ownInventory: InventoryStore | undefined;
  let authenticate: SensorAuthenticator | undefined;
  if (config.http.port > 0) {
    let inventory = deps.inventory;
    if (inventory === undefined && config.http.inventoryFile !== undefined) {
      inventory = ownInventory = InventoryStore.open(config.http.inventoryFile);
      if (config.http.inventoryReloadDebounceMs > 0) {
        ownInventory.watch({
          debounceMs: config.http.inventoryReloadDebounceMs,
          onError: (error) => deps.logger.error({ err: error }, `inventory reload failed, keeping the previous one: ${errorMessage(error)}`),
        });
      }
    }
    const store = inventory;
    authenticate = anyAuthenticator([tokenAuthenticator(config.http.sensorTokens), ...(store ? [inventoryAuthenticator(() => store.current)] : [])]);
  }
  return {
    async start() {
      if (config.syslog.udpPort !== undefined || config.syslog.tcpPort !== undefined) entryPoints.push(await startSyslogListeners(config.syslog, deps));
      if (authenticate) entryPoints.push(await startHttpIngest(config.http, { ...deps, authenticate }));
      if (config.netflow.port > 0) {
        const { port, host, sensorIds, templateTtlMs, pendingMaxAgeMs, pendingMaxSets, batchMaxRecords, batchMaxDelayMs, maxQueuedRecords } = config.netflow;
        netflow = new NetflowCollector({ port, host, sensorIds, batchMaxRecords, batchMaxDelayMs, maxQueuedRecords, decoder: { templateTtlMs, pendingMaxAgeMs, pendingMaxSets } }, deps);
        await netflow.start();
      }
      // The traffic simulator is for demos and tests: off unless INGEST_SIMULATOR_RATE is set.
      if (config.simulatorRate === 0) return;
      const simulator = createSimulator({
        seed: config.simulatorSeed,
        startTime: Date.now(),
        ratePerSecond: config.simulatorRate,
        attacks: config.simulatorAttacks ? recurringAttacks() : [],
      });
      let produced = 0;
      running = produceSimulation(deps.producer, simulator, {
        topic: config.rawTopic,
        sensorId: config.sensorId,
        ratePerSecond: config.simulatorRate,
        signal: abort.signal,
        onProgress: (stats) => {
          metrics.emitted.inc({ stage: 'ingest', topic: config.rawTopic }, stats.produced - produced);
          produced = stats.produced;
        },
      }).then(
        () => undefined,
        (error: unknown) => deps.logger.error({ err: error, error_code: 'INGEST_PRODUCE_FAILED' satisfies IngestErrorCode }, `simulator stopped: ${errorMessage(error)}`),
      );
    },
    async close() {
      abort.abort();
      await Promise.all([running, netflow?.close(), ...entryPoints.map((e) => e.close())]);
      ownInventory?.close();
    },
  };
}
