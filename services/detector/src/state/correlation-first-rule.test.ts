import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@mamori/core';
import { EventCodec, type MamoriEvent } from '@mamori/events';
import { createRegistry } from '@mamori/metrics';
import { parseCorrelationRules, type CorrelationSet, type KeyedFact } from '@mamori/sigma/correlation';
import type { ConsumedMessage, Transport } from '@mamori/transport';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDetectorConfig } from '../config.ts';
import { buildDetectorCorrelation, loadCorrelations } from '../correlation.ts';
import { recordingProducer, repartitionMessages, testStage } from './correlation-test-kit.ts';
import { decodeRecord } from './records.ts';
import { CorrelationSourceStage } from './source-stage.ts';

/**
 * A detector that starts with no correlation rule and gets its first one (and later loses all of
 * them) by hot reload: the source stage passes batches untouched while the set is empty and
 * routes facts from the batch after the reload; the correlation stage starts from an empty set.
 */
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const BASE = { path: 'r.yml', doc: { title: 'base', id: 'b1', name: 'failed', logsource: {}, detection: {} } };
const CORR = { path: 'r.yml', doc: { title: 'many failed', id: 'c1', correlation: { type: 'event_count', rules: ['failed'], 'group-by': ['src_ip'], timespan: '5m', condition: { gte: 2 } } } };
const EMPTY: CorrelationSet = parseCorrelationRules([BASE]);
const ONE: CorrelationSet = parseCorrelationRules([BASE, CORR]);

const codec = new EventCodec();
function event(n: number, time: number): MamoriEvent {
  return {
    event_id: `ev-${n}`, event_class: 'network_activity', time, ingest_time: time, org_id: 'org-a', sensor_id: 's1', source_format: 'zeek.conn',
    src_ip: '10.0.0.9', src_port: 40000 + n, dst_ip: '10.0.0.5', dst_port: 22, protocol: 'tcp', bytes_out: 0, bytes_in: 0, packets_out: 1, packets_in: 0,
    duration_ms: 0, conn_state: 'REJ', community_id: null, raw: { topic: 'raw', partition: 0, offset: n }, attributes: {},
  };
}
let offset = 0;
const consumed = (e: MamoriEvent): ConsumedMessage => ({ topic: 'events', partition: 0, offset: String(offset++), key: null, value: codec.encode(e), headers: {}, timestamp: 0 });

describe('first correlation rule without a restart', () => {
  it('source stage: nothing decoded or sent while the set is empty, facts and watermarks from the batch after the reload, nothing again once all are removed', async () => {
    let decoded = 0;
    const source = new CorrelationSourceStage({
      eventsTopic: 'events',
      repartitionTopic: 'repartition',
      repartitionPartitions: 2,
      correlations: EMPTY,
      // Every event matches the base rule "failed".
      baseRules: { match: (e) => [{ ruleId: 'b1', ruleName: 'failed', time: e.time, eventId: e.event_id, fields: { src_ip: e.src_ip } }] },
      codecs: { decodeEvent: (b) => (decoded++, codec.decode(b)) },
    });
    const empty = await source.process({ messages: [consumed(event(1, T0)), consumed(event(2, T0 + 1_000))] });
    expect(empty.outputs[0]!.messages).toEqual([]);
    expect(empty.deadLetters).toEqual([]);
    expect(decoded).toBe(0);

    source.reload(ONE, { match: (e) => [{ ruleId: 'b1', ruleName: 'failed', time: e.time, eventId: e.event_id, fields: { src_ip: e.src_ip } }] });
    expect(source.correlations.rules).toHaveLength(0);
    const routed = await source.process({ messages: [consumed(event(3, T0 + 2_000))] });
    expect(source.correlations.rules.map((r) => r.id)).toEqual(['c1']);
    expect(decoded).toBe(1);
    const records = routed.outputs[0]!.messages.map((m) => decodeRecord(m.value as Buffer));
    expect(records.filter((r) => r.kind === 'fact').map((r) => (r.kind === 'fact' ? [r.fact.correlationId, r.fact.time] : []))).toEqual([['c1', T0 + 2_000]]);
    // One watermark report per repartition partition, at the newest event time of the batch.
    expect(records.filter((r) => r.kind === 'wm').map((r) => (r.kind === 'wm' ? r.time : 0))).toEqual([T0 + 2_000, T0 + 2_000]);

    source.reload(EMPTY, { match: () => [] });
    const removed = await source.process({ messages: [consumed(event(4, T0 + 3_000))] });
    expect(removed.outputs[0]!.messages).toEqual([]);
    expect(decoded).toBe(1);
  });

  it('source stage: a base rule that threw still lets the others\' facts through, and the event is dead-lettered naming it', async () => {
    let failures: string[] = [];
    const source = new CorrelationSourceStage({
      eventsTopic: 'events',
      repartitionTopic: 'repartition',
      repartitionPartitions: 1,
      correlations: ONE,
      baseRules: {
        match: (e) => {
          if (e.time === T0) failures = ['rule b9: planted rule defect'];
          return [{ ruleId: 'b1', ruleName: 'failed', time: e.time, eventId: e.event_id, fields: { src_ip: e.src_ip } }];
        },
        takeFailures: () => {
          const out = failures;
          failures = [];
          return out;
        },
      },
      codecs: { decodeEvent: (b) => codec.decode(b) },
    });
    const first = consumed(event(1, T0));
    const result = await source.process({ messages: [first, consumed(event(2, T0 + 1_000))] });
    const facts = result.outputs[0]!.messages.map((m) => decodeRecord(m.value as Buffer)).filter((r) => r.kind === 'fact');
    expect(facts).toHaveLength(2);
    expect(result.deadLetters.map((d) => [d.message.offset, d.code, d.reason])).toEqual([[first.offset, 'DETECTOR_ANALYTIC_FAILED', 'rule b9: planted rule defect']]);
  });

  it('correlation stage: started with an empty set, counts facts from the reload on and reports with the new checksum', async () => {
    const producer = recordingProducer();
    const s = testStage({ correlations: EMPTY, sourcePartitions: 1, allowedLatenessMs: 0, producer, rulesetChecksum: 'sum-0' });
    const message = repartitionMessages();
    const fact = (time: number, seq: number): ConsumedMessage => {
      const f: KeyedFact = { correlationId: 'c1', groupKey: '10.0.0.9', groupValues: ['10.0.0.9'], time, ruleIndex: 0, ref: `ev-${seq}` };
      return message({ kind: 'fact', source: 'b:0', seq, fact: f });
    };
    // Watermarks only while empty (e.g. from an instance that has not reloaded yet): no state, no output.
    const idle = await s.process({ messages: [message({ kind: 'wm', source: 'b:0', time: T0 })] });
    expect(producer.detections).toEqual([]);
    expect(idle.deadLetters).toEqual([]);
    s.reload(ONE, 'sum-1');
    await s.process({ messages: [fact(T0 + 1_000, 1), fact(T0 + 2_000, 2), message({ kind: 'wm', source: 'b:0', time: T0 + 400_000 })] });
    expect(producer.detections).toHaveLength(1);
    expect(producer.detections[0]).toMatchObject({ rule_id: 'c1', count: 2, first_seen: T0 + 1_000, last_seen: T0 + 2_000, ruleset_checksum: 'sum-1' });
  });

  describe('buildDetectorCorrelation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamori-corr-first-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const deps = { transport: {} as Transport, producer: recordingProducer(), codecs: { decodeEvent: (b: Buffer) => codec.decode(b), encodeDetection: () => Buffer.alloc(0) }, logger: silentLogger(), defaultPartitions: 1, watchRules: false };

    it('builds the correlation half for rule directories without correlations (an empty, reloadable set) and none without directories', () => {
      writeFileSync(join(dir, 'base.yml'), 'title: Rejected\nid: 0c6d4d7e-0000-4000-8000-0000000000aa\nname: rejected\nstatus: test\nlogsource: {product: zeek, service: conn}\ndetection:\n  sel: {conn_state: REJ}\n  condition: sel\nlevel: low\n');
      expect(loadCorrelations([dir])).toBeUndefined();
      const built = buildDetectorCorrelation(loadDetectorConfig({ DETECTOR_RULES_DIRS: dir }), { ...deps, registry: createRegistry() });
      expect(built).toBeDefined();
      expect(built!.set.rules).toEqual([]);
      writeFileSync(join(dir, 'corr.yml'), 'title: Many rejected\nid: 0c6d4d7e-0000-4000-8000-0000000000ab\ncorrelation:\n  type: event_count\n  rules: [rejected]\n  group-by: [id.orig_h]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: high\n');
      expect(built!.packs.reload()).toMatchObject({ result: 'applied', correlations: 1 });
      expect(built!.set.rules.map((r) => r.id)).toEqual(['0c6d4d7e-0000-4000-8000-0000000000ab']);
      built!.packs.close();
      expect(buildDetectorCorrelation(loadDetectorConfig({}), { ...deps, registry: createRegistry() })).toBeUndefined();
    });
  });
});
