import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { huntEvents } from '@mamori/cli';
import { buildDetector, loadCorrelations, loadDetectorConfig } from '@mamori/detector';
import { GroupWindow, type CorrelationFailure } from '@mamori/sigma/correlation';
import { DetectionCodec, EventCodec, type MamoriDetection, type MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import type { ConsumedMessage, OutgoingMessage, Producer } from '@mamori/transport';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CorrelationSourceStage, CorrelationStage } from '../../services/detector/src/state/index.ts';

/** `mamori hunt` as a user runs it (child process), checked against the streaming stages over the same events. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = '/work/shared/data/zeek/stratosphere';
const SCAN = `${DATA}/002-zeek-scenario-port-scanning/conn.log`;
const BENIGN = `${DATA}/006-zeek-scenario-ssh`;
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'mamori-hunt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function mamori(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'silent', ...env },
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const lines = <T>(text: string): T[] => text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);

// A Sigma rule and a correlation over the scanner's unanswered connections, so the comparison covers
// Sigma detections and correlations as well as the built-in analytics.
const RULES = `title: Unanswered connection attempt
id: 7a0e3c44-0000-4000-8000-000000000001
name: unanswered_conn
status: test
logsource: {product: zeek, service: conn}
detection:
  selection: {conn_state: [S0, REJ]}
  condition: selection
level: low
---
title: Many unanswered connections from one source
id: 7a0e3c44-0000-4000-8000-000000000002
correlation:
  type: value_count
  rules: [unanswered_conn]
  group-by: [id.orig_h]
  timespan: 5m
  condition: {field: id.resp_p, gte: 50}
level: high
---
title: DNS to a public resolver
id: 7a0e3c44-0000-4000-8000-000000000003
status: test
logsource: {product: zeek, service: conn}
detection:
  selection: {id.resp_h: 8.8.8.8, id.resp_p: 53}
  condition: selection
level: informational
`;

describe('mamori hunt', () => {
  it('finds the nmap port scan in stratosphere 002', async () => {
    const r = await mamori(['hunt', SCAN]);
    expect(r.code).toBe(0);
    const detections = lines<MamoriDetection>(r.stdout);
    const scans = detections.filter((d) => d.rule_id === 'mamori.network.port_scan');
    expect(scans).toHaveLength(1);
    expect(scans[0]!.src_ip).toBe('172.16.1.11');
    expect(scans[0]!.count).toBeGreaterThan(1000);
    expect(r.stderr).toMatch(/mamori hunt: 1 file\(s\), 4504 records, 4504 events, 0 dead-lettered, event time 2022-09-29T\S+ \.\. 2022-09-29T\S+; \d+ detection\(s\) \(.*mamori\.network\.port_scan 1/);
  }, 120_000);

  it('raises nothing on benign-only input (stratosphere 006: an owner logging in to an SSH honeypot)', async () => {
    const r = await mamori(['hunt', BENIGN]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/0 detection\(s\)/);
  }, 120_000);

  it('gives the same detection ids as the streaming stages over the same events', async () => {
    writeFileSync(join(dir, 'rules.yml'), RULES);
    const hunted = await mamori(['hunt', SCAN, '--rules', dir]);
    expect(hunted.code).toBe(0);
    const huntIds = lines<MamoriDetection>(hunted.stdout).map((d) => d.detection_id).sort();
    expect(hunted.stderr).toMatch(/1 correlation rule\(s\)/);

    // The same file through `mamori normalize` (what the normalizer would put on the events topic).
    const normalized = await mamori(['normalize', SCAN]);
    expect(normalized.code).toBe(0);
    const events = lines<MamoriEvent>(normalized.stdout);
    expect(events).toHaveLength(4504);

    const eventCodec = new EventCodec();
    const detectionCodec = new DetectionCodec();
    const config = loadDetectorConfig({ DETECTOR_RULES_DIRS: dir });
    const streamIds = new Set<string>();
    const codecs = { decodeEvent: (b: Buffer) => eventCodec.decode(b), encodeDetection: (d: MamoriDetection) => detectionCodec.encode(d) };
    const collect = (messages: readonly OutgoingMessage[]) => {
      for (const m of messages) streamIds.add(detectionCodec.decode(m.value as Buffer).detection_id);
    };
    const consumed = (topic: string, list: readonly { value: Buffer; partition?: number; key?: string }[], base: number): ConsumedMessage[] =>
      list.map((m, i) => ({ topic, partition: m.partition ?? 0, offset: String(base + i), key: m.key === undefined ? null : Buffer.from(m.key), value: m.value, headers: {}, timestamp: 0 }));

    // The detector stage, fed the encoded events in event-time order (Zeek writes a conn record when
    // the connection ends, so the file is not in `ts` order; the stream sees what the sensor ships,
    // and hunting defines the order as event time) in batches of its batch size.
    const stage = buildDetector(config, { registry: createRegistry(), codecs, watchRules: false });
    const ordered = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.time - b.e.time || a.i - b.i).map(({ e }) => e);
    const encoded = ordered.map((e) => ({ value: eventCodec.encode(e) }));
    for (let i = 0; i < encoded.length; i += config.maxBatchRecords) {
      const result = await stage.process({ messages: consumed(config.eventsTopic, encoded.slice(i, i + config.maxBatchRecords), i) });
      for (const out of result.outputs) collect(out.messages);
    }
    for (const out of (await stage.tick(Date.now(), true)).outputs) collect(out.messages);

    // The correlation stages of the stream: source stage -> repartition records -> correlation stage,
    // one partition each; the idleness timeout closes the windows at the end of input.
    const correlations = loadCorrelations([dir])!;
    const producer: Producer = {
      connect: async () => {},
      close: async () => {},
      send: async (topic, messages) => {
        if (topic === config.detectionsTopic) collect(messages);
      },
    };
    const source = new CorrelationSourceStage({ eventsTopic: config.eventsTopic, repartitionPartitions: 1, correlations: correlations.set, baseRules: correlations.baseRules, codecs });
    const correlation = new CorrelationStage({
      correlations: correlations.set,
      sourcePartitions: 1,
      partitions: 1,
      allowedLatenessMs: config.allowedLatenessMs,
      eventsTopic: config.eventsTopic,
      detectionsTopic: config.detectionsTopic,
      producer,
      state: { read: async () => new Map() },
      codecs,
      registry: createRegistry(),
      idleSourceMs: 1,
    });
    let repartitionOffset = 0;
    for (let i = 0; i < encoded.length; i += config.maxBatchRecords) {
      const result = await source.process({ messages: consumed(config.eventsTopic, encoded.slice(i, i + config.maxBatchRecords), i) });
      const records = result.outputs.flatMap((o) => o.messages).map((m) => ({ value: m.value as Buffer, ...(m.partition !== undefined ? { partition: m.partition } : {}) }));
      await correlation.process({ messages: consumed('repartition', records, repartitionOffset) });
      repartitionOffset += records.length;
    }
    await correlation.tick(Date.now() + 60_000, false);

    expect([...streamIds].sort()).toEqual(huntIds);
    // Every kind is in the comparison: the port scan, a Sigma rule and the correlation. The base rule
    // that only feeds the correlation (no `generate: true`) raises nothing of its own.
    const rules = new Set(lines<MamoriDetection>(hunted.stdout).map((d) => d.rule_id));
    expect(rules).toEqual(new Set(['mamori.network.port_scan', 'sigma:7a0e3c44-0000-4000-8000-000000000003', '7a0e3c44-0000-4000-8000-000000000002']));
  }, 180_000);
  it('reports a correlation window that throws as CORRELATION_FAILED and keeps the other detections', async () => {
    writeFileSync(join(dir, 'rules.yml'), RULES);
    const normalized = await mamori(['normalize', SCAN]);
    const events = lines<MamoriEvent>(normalized.stdout);
    const config = loadDetectorConfig({ DETECTOR_RULES_DIRS: dir });
    const clean = await huntEvents(config, events);
    const correlationId = '7a0e3c44-0000-4000-8000-000000000002';
    expect(clean.detections.some((d) => d.rule_id === correlationId)).toBe(true);

    const advance = GroupWindow.prototype.advance;
    const spy = vi.spyOn(GroupWindow.prototype, 'advance').mockImplementation(function (this: GroupWindow, ...args) {
      if (this.rule.id === correlationId) throw new Error('planted defect');
      return advance.apply(this, args);
    });
    try {
      const failures: CorrelationFailure[] = [];
      const broken = await huntEvents(config, events, { onCorrelationFailure: (f) => failures.push(f) });
      expect(failures.length).toBeGreaterThan(0);
      for (const f of failures) expect([f.correlationId, f.type, f.message]).toEqual([correlationId, 'value_count', 'planted defect']);
      // Everything but the correlation's own detections is still found, the same as without the defect.
      const others = (list: readonly MamoriDetection[]) => list.filter((d) => d.rule_id !== correlationId).map((d) => d.detection_id).sort();
      expect(broken.detections.some((d) => d.rule_id === correlationId)).toBe(false);
      expect(others(broken.detections)).toEqual(others(clean.detections));
      expect(others(clean.detections).length).toBeGreaterThan(0);
    } finally {
      spy.mockRestore();
    }
  }, 180_000);
});
