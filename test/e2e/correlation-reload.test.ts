import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, sleep } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import { ALL_SERVICES, loadRuntimeConfig, startServices, type RunningServices } from '@mamori/cli';
import { hashSecret } from '@mamori/query-api';
import { loadRuleDirectory } from '@mamori/sigma';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Correlation rules hot-reload while the pipeline runs: the rule file is edited between two
 * bursts of the same attacker, with no restart.
 *
 * Before the edit: "keep" (>= 6 rejections in 10 minutes) and "change" (>= 10) each hold 4 facts,
 * below their thresholds. The edit leaves "keep" as it was and lowers "change" to >= 3. After
 * it, 3 more rejections arrive: "keep" fires with all 7... at its 6th fact, counting the 4 from
 * before the edit (its window survived); "change" fires at the 3rd new fact with only the new ones
 * (a changed correlation starts fresh). Both detections carry the checksum of the edited rule set.
 * Then a broken file is dropped in: the reload is rejected and the edited set stays active.
 */
const brokers = inject('kafkaBrokers');
const dataDir = mkdtempSync(join(tmpdir(), 'mamori-e2e-corr-reload-'));
const rulesDir = mkdtempSync(join(tmpdir(), 'mamori-e2e-corr-reload-rules-'));
const SECRET = 'e2e-secret-corr-reload-0123456789';
const SENSOR = 'e2e-zeek-corr-reload';
const RUN = randomUUID().slice(0, 8);
const KEEP = '6a1e7a52-2c1b-4f61-9a0e-00000000000b';
const CHANGE = '6a1e7a52-2c1b-4f61-9a0e-00000000000c';
const T0 = Date.now() - 20 * 60_000;
const ATTACKER = '203.0.113.77';

const base = `title: Rejected connection attempt
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
const correlation = (id: string, title: string, gte: number) => `title: ${title}
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
const rules = (changeThreshold: number) => `${base}---\n${correlation(KEEP, 'Rejections, unchanged rule', 6)}---\n${correlation(CHANGE, 'Rejections, edited rule', changeThreshold)}`;

interface ApiDetection {
  rule_id: string;
  count: number;
  first_seen: string;
  last_seen: string;
  ruleset_checksum: string;
}

let running: RunningServices;
let n = 0;
const conn = (ts: number): string =>
  JSON.stringify({ ts: ts / 1000, uid: `C${RUN}${n}`, 'id.orig_h': ATTACKER, 'id.orig_p': 40000 + n++, 'id.resp_h': '10.0.0.5', 'id.resp_p': 22, proto: 'tcp', conn_state: 'REJ', duration: 0.001, orig_bytes: 0, resp_bytes: 0 });

async function sendAt(times: number[]): Promise<void> {
  const producer = running.transport.producer({ clientId: `e2e-corr-reload-${n}` });
  await producer.connect();
  await producer.send(TOPICS.rawZeekConn, times.map((t) => ({ key: SENSOR, value: conn(t), headers: { 'mamori.sensor_id': SENSOR } })));
  await producer.close();
}

async function metric(pattern: RegExp, predicate: (value: number) => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let value = Number.NaN;
  while (Date.now() < deadline) {
    const m = pattern.exec(await running.registry.metrics());
    value = m ? Number(m[1]) : Number.NaN;
    if (predicate(value)) return value;
    await sleep(250);
  }
  throw new Error(`metric ${pattern} never satisfied the condition (last value ${value})`);
}

async function apiDetections(): Promise<ApiDetection[]> {
  const res = await fetch(`${running.apiUrl}/v1/detections?limit=200`, { headers: { authorization: `Bearer e2e.${SECRET}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { detections: ApiDetection[] }).detections.filter((d) => d.rule_id === KEEP || d.rule_id === CHANGE);
}

beforeAll(async () => {
  writeFileSync(join(rulesDir, 'rejected.yml'), rules(10));
  const env = {
    KAFKA_BROKERS: brokers,
    MAMORI_DATA_DIR: dataDir,
    METRICS_PORT: '0',
    API_PORT: '0',
    MAMORI_API_KEYS: `e2e:${hashSecret(SECRET)}:viewer:*`,
    MAMORI_TOPIC_PARTITIONS: '2',
    MAMORI_TOPIC_EVENTS: `e2e.${RUN}.events`,
    MAMORI_TOPIC_DETECTIONS: `e2e.${RUN}.detections`,
    MAMORI_TOPIC_CORRELATION_REPARTITION: `e2e.${RUN}.repartition`,
    MAMORI_TOPIC_CORRELATION_STATE: `e2e.${RUN}.state`,
    DETECTOR_RULES_DIRS: rulesDir,
    DETECTOR_IDLE_CLOSE_MS: '1500',
    DETECTOR_CORRELATION_IDLE_SOURCE_MS: '1500',
    SIGMA_RELOAD_DEBOUNCE_MS: '200',
  };
  running = await startServices(ALL_SERVICES, loadRuntimeConfig(env), env, { logger: silentLogger() });
}, 180_000);

afterAll(async () => {
  await running?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(rulesDir, { recursive: true, force: true });
});

describe('correlation rules edited while the detector runs', () => {
  it('keeps the unchanged correlation window, restarts the edited one, stamps the new checksum, rejects a broken file', async () => {
    const before = [0, 10_000, 20_000, 30_000].map((d) => T0 + d);
    await sendAt(before);
    // Both correlations hold the 4 facts (admitted into their windows once the idle sources let the watermark pass).
    await metric(/^mamori_correlation_state_facts (\d+)/m, (v) => v >= 8, 45_000);
    expect(await apiDetections()).toEqual([]);

    writeFileSync(join(rulesDir, 'rejected.yml'), rules(3));
    const expectedChecksum = loadRuleDirectory([rulesDir]).checksum;
    await metric(/^mamori_correlation_rule_reloads_total\{result="applied"\} (\d+)/m, (v) => v >= 1, 15_000);

    const after = [40_000, 50_000, 60_000].map((d) => T0 + d);
    await sendAt(after);
    let found: ApiDetection[] = [];
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline) {
      found = await apiDetections();
      if (found.length >= 2) break;
      await sleep(500);
    }
    const keep = found.filter((d) => d.rule_id === KEEP);
    const change = found.filter((d) => d.rule_id === CHANGE);
    expect(keep).toHaveLength(1);
    expect(change).toHaveLength(1);
    // Unchanged: the window from before the edit survived (6 facts from the first one).
    expect(keep[0]).toMatchObject({ count: 6, ruleset_checksum: expectedChecksum });
    expect(Date.parse(keep[0]!.first_seen)).toBe(before[0]);
    expect(Date.parse(keep[0]!.last_seen)).toBe(after[1]);
    // Edited: started fresh, 3 facts after the edit only.
    expect(change[0]).toMatchObject({ count: 3, ruleset_checksum: expectedChecksum });
    expect(Date.parse(change[0]!.first_seen)).toBe(after[0]);
    expect(Date.parse(change[0]!.last_seen)).toBe(after[2]);

    // The stage kept one group window (keep) and dropped one (change) at the swap.
    expect(await metric(/^mamori_correlation_reload_windows_total\{outcome="kept"\} (\d+)/m, (v) => v >= 1, 1_000)).toBe(1);
    expect(await metric(/^mamori_correlation_reload_windows_total\{outcome="dropped"\} (\d+)/m, (v) => v >= 1, 1_000)).toBe(1);

    // A file that does not compile: rejected, counted; the edited set stays active.
    writeFileSync(join(rulesDir, 'broken.yml'), `${correlation('6a1e7a52-2c1b-4f61-9a0e-00000000000d', 'Broken', 2).replace('rejected_connection', 'no_such_rule')}`);
    await metric(/^mamori_correlation_rule_reloads_total\{result="rejected"\} (\d+)/m, (v) => v >= 1, 15_000);
    expect(await metric(/^mamori_correlation_rules (\d+)/m, (v) => v === 2, 1_000)).toBe(2);
  }, 150_000);
});
