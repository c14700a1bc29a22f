import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import { expect } from 'vitest';

/**
 * Shared scaffolding of the correlation end-to-end tests: the whole pipeline in this
 * process on the test broker, with topics of its own run, a rule directory the test edits, raw
 * Zeek conn lines of one attacker, metric polling and the detections API.
 */

/** A Zeek conn base rule (`rejected_connection`: conn_state REJ) for the packs. */
export const REJECTED_BASE_RULE = `title: Rejected connection attempt
id: 6a1e7a52-2c1b-4f61-9a0e-00000000000a
name: rejected_connection
status: test
logsource:
  product: zeek
  service: conn
detection:
  selection:
    conn_state: REJ
  condition: selection
level: low
`;

/** An event_count correlation over `rejected_connection` per source address within 10 minutes. */
export function rejectedCorrelation(id: string, title: string, gte: number): string {
  return `title: ${title}
id: ${id}
correlation:
  type: event_count
  rules:
    - rejected_connection
  group-by:
    - id.orig_h
  timespan: 10m
  condition:
    gte: ${gte}
level: high
`;
}

export interface ApiDetection {
  id: string;
  rule_id: string;
  org_id: string;
  count: number;
  first_seen: string;
  last_seen: string;
  ruleset_checksum: string;
  attributes: Record<string, string>;
}

/** One Zeek conn record the kit sends (destination port and connection state as Zeek writes them). */
export interface ConnSpec {
  /** Event time, epoch ms. */
  ts: number;
  src: string;
  dst: string;
  port: number;
  state: string;
}

export interface CorrelationPipeline {
  readonly running: RunningServices;
  readonly rulesDir: string;
  /** Writes (or replaces) a file of the rule directory. */
  writeRules(file: string, content: string): void;
  /** Sends rejected connections of `attacker` at the given event times (epoch ms) to the raw conn topic. */
  sendAt(attacker: string, times: readonly number[]): Promise<void>;
  /** Sends these connections, in this order, to the raw conn topic. */
  sendConns(conns: readonly ConnSpec[]): Promise<void>;
  /** Polls the metrics until `pattern`'s first group satisfies `predicate`; returns the value. */
  metric(pattern: RegExp, predicate: (value: number) => boolean, timeoutMs: number): Promise<number>;
  /** Detections of the given rule ids from the API. */
  detections(ruleIds: readonly string[]): Promise<ApiDetection[]>;
  /** Polls the API until `done` holds for the detections of `ruleIds` (or the time is up); returns the last answer. */
  waitDetections(ruleIds: readonly string[], done: (found: ApiDetection[]) => boolean, timeoutMs: number): Promise<ApiDetection[]>;
  close(): Promise<void>;
}

/**
 * Starts every service with `files` in a fresh rule directory (file name to content). `partitions`:
 * of every topic the run creates (default 2); `env`: more settings, over the kit's.
 */
export async function startCorrelationPipeline(
  brokers: string,
  name: string,
  files: Record<string, string>,
  options: { partitions?: number; env?: Record<string, string> } = {},
): Promise<CorrelationPipeline> {
  const run = randomUUID().slice(0, 8);
  const dataDir = mkdtempSync(join(tmpdir(), `mamori-e2e-${name}-`));
  const rulesDir = mkdtempSync(join(tmpdir(), `mamori-e2e-${name}-rules-`));
  const secret = `e2e-secret-${name}-0123456789abcdef`;
  const sensor = `e2e-zeek-${name}`;
  const writeRules = (file: string, content: string): void => writeFileSync(join(rulesDir, file), content);
  for (const [file, content] of Object.entries(files)) writeRules(file, content);
  const env = {
    KAFKA_BROKERS: brokers,
    MAMORI_DATA_DIR: dataDir,
    METRICS_PORT: '0',
    API_PORT: '0',
    MAMORI_API_KEYS: `e2e:${hashSecret(secret)}:viewer:*`,
    MAMORI_TOPIC_PARTITIONS: String(options.partitions ?? 2),
    MAMORI_TOPIC_EVENTS: `e2e.${run}.events`,
    MAMORI_TOPIC_DETECTIONS: `e2e.${run}.detections`,
    MAMORI_TOPIC_CORRELATION_REPARTITION: `e2e.${run}.repartition`,
    MAMORI_TOPIC_CORRELATION_STATE: `e2e.${run}.state`,
    DETECTOR_RULES_DIRS: rulesDir,
    DETECTOR_IDLE_CLOSE_MS: '1500',
    DETECTOR_CORRELATION_IDLE_SOURCE_MS: '1500',
    SIGMA_RELOAD_DEBOUNCE_MS: '200',
    ...options.env,
  };
  let running: RunningServices;
  try {
    running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: silentLogger() });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(rulesDir, { recursive: true, force: true });
    throw error;
  }
  let n = 0;
  const line = (c: ConnSpec): string =>
    JSON.stringify({ ts: c.ts / 1000, uid: `C${run}${n}`, 'id.orig_h': c.src, 'id.orig_p': 40000 + n++, 'id.resp_h': c.dst, 'id.resp_p': c.port, proto: 'tcp', conn_state: c.state, duration: 0.001, orig_bytes: 0, resp_bytes: 0 });
  const sendConns = async (conns: readonly ConnSpec[]): Promise<void> => {
    const producer = running.transport.producer({ clientId: `e2e-${name}-${n}` });
    await producer.connect();
    await producer.send(TOPICS.rawZeekConn, conns.map((c) => ({ key: sensor, value: line(c), headers: { 'mamori.sensor_id': sensor } })));
    await producer.close();
  };
  const detections = async (ruleIds: readonly string[]): Promise<ApiDetection[]> => {
    const res = await fetch(`${running.apiUrl}/v1/detections?limit=200`, { headers: { authorization: `Bearer e2e.${secret}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { detections: ApiDetection[] }).detections.filter((d) => ruleIds.includes(d.rule_id));
  };
  return {
    running,
    rulesDir,
    writeRules,
    async sendAt(attacker, times) {
      await sendConns(times.map((ts) => ({ ts, src: attacker, dst: '10.0.0.5', port: 22, state: 'REJ' })));
    },
    sendConns,
    async metric(pattern, predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let value = Number.NaN;
      while (Date.now() < deadline) {
        const m = pattern.exec(await running.registry.metrics());
        value = m ? Number(m[1]) : Number.NaN;
        if (predicate(value)) return value;
        await sleep(250);
      }
      throw new Error(`metric ${pattern} never satisfied the condition (last value ${value})`);
    },
    detections,
    async waitDetections(ruleIds, done, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let found = await detections(ruleIds);
      while (!done(found) && Date.now() < deadline) {
        await sleep(500);
        found = await detections(ruleIds);
      }
      return found;
    },
    async close() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(rulesDir, { recursive: true, force: true });
    },
  };
}
