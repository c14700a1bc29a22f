import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MamoriEvent } from '@mamori/events';
import { parseCorrelationRules, type CorrelationSet, type KeyedFact } from '@mamori/sigma/correlation';
import type { ConsumedMessage, Producer } from '@mamori/transport';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCorrelations } from '../correlation.ts';
import type { CorrelationStage } from './correlation-stage.ts';
import { recordingProducer, repartitionMessages, testStage } from './correlation-test-kit.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

const SET: CorrelationSet = parseCorrelationRules([
  { path: 'idle.yml', doc: { title: 'base', id: 'b1', name: 'failed', logsource: {}, detection: {} } },
  {
    path: 'idle.yml',
    doc: { title: 'Many failed connections', id: 'c1', correlation: { type: 'event_count', rules: ['failed'], 'group-by': ['src_ip'], timespan: '5m', condition: { gte: 3 } } },
  },
]);

function stage(producer: Producer, idleSourceMs: number): CorrelationStage {
  return testStage({ correlations: SET, sourcePartitions: 2, allowedLatenessMs: 60_000, producer, idleSourceMs });
}

const message = repartitionMessages();

function fact(src: string, time: number, seq: number): ConsumedMessage {
  const f: KeyedFact = { correlationId: 'c1', groupKey: encodeURIComponent(src), groupValues: [src], time, ruleIndex: 0, ref: `ev-${seq}` };
  return message({ kind: 'fact', source: 'b:0', seq, fact: f });
}

/** Three failed connections from one source on input partition 0; input partition 1 never sends anything. */
function burst(): ConsumedMessage[] {
  return [fact('10.0.0.9', T0, 1), fact('10.0.0.9', T0 + 10_000, 2), fact('10.0.0.9', T0 + 20_000, 3), message({ kind: 'wm', source: 'b:0', time: T0 + 20_000 })];
}

describe('correlation idleness timeout', () => {
  it('without it, a partition that never sends holds the window open', async () => {
    const producer = recordingProducer();
    const s = stage(producer, 0);
    await s.process({ messages: burst() });
    await s.tick(Date.now() + 3_600_000, false);
    expect(producer.detections).toEqual([]);
  });

  it('with it, an idle partition stops holding the watermark and the window closes when input stops', async () => {
    const producer = recordingProducer();
    const s = stage(producer, 200);
    await s.process({ messages: burst() });
    // Not idle yet: nothing.
    await s.tick(Date.now(), false);
    expect(producer.detections).toEqual([]);
    // Both partitions silent for longer than the timeout: windows close up to the newest event.
    const result = await s.tick(Date.now() + 1_000, false);
    expect(producer.detections).toHaveLength(1);
    expect(producer.detections[0]).toMatchObject({ rule_id: 'c1', count: 3, first_seen: T0, last_seen: T0 + 20_000 });
    // The new watermark reports are written to the changelog with the state.
    expect(result.outputs[0]!.messages.some((m) => m.key === 'm')).toBe(true);
    // A shutdown tick never forces windows closed.
    expect((await stage(recordingProducer(), 200).tick(Date.now() + 1_000, true)).outputs).toEqual([]);
  });

  it('an idle partition is excluded from the minimum while another is active', async () => {
    const producer = recordingProducer();
    const s = stage(producer, 200);
    await s.process({ messages: burst() });
    // Partition 0 keeps reporting (active) far beyond the window; partition 1 stays silent.
    const later = Date.now() + 1_000;
    await s.tick(later - 900, false);
    await s.process({ messages: [message({ kind: 'wm', source: 'b:0', time: T0 + 30 * 60_000 })] });
    await s.tick(Date.now() + 500, false);
    expect(producer.detections.map((d) => d.rule_id)).toEqual(['c1']);
  });
});

describe('loadCorrelations: Sigma base rules adapted for correlations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-corr-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads correlations from the rule packs and resolves group-by fields through the log source mapping', () => {
    writeFileSync(
      join(dir, 'rules.yml'),
      `title: Rejected connection
id: 0c6d4d7e-0000-4000-8000-000000000001
name: rejected_conn
status: test
logsource: {product: zeek, service: conn}
detection:
  sel: {conn_state: REJ}
  condition: sel
level: low
---
title: Many rejected connections from one source
id: 0c6d4d7e-0000-4000-8000-000000000002
correlation:
  type: event_count
  rules: [rejected_conn]
  group-by: [id.orig_h, org_id]
  timespan: 5m
  condition: {gte: 3}
level: high
`,
    );
    const loaded = loadCorrelations([dir])!;
    expect(loaded.set.rules.map((r) => r.id)).toEqual(['0c6d4d7e-0000-4000-8000-000000000002']);
    const event = {
      event_id: 'e1', event_class: 'network_activity', time: T0, ingest_time: T0, org_id: 'org-a', sensor_id: 's', source_format: 'zeek.conn', src_ip: '203.0.113.5', src_port: 1,
      dst_ip: '10.0.0.1', dst_port: 22, protocol: 'tcp', bytes_out: 0, bytes_in: 0, packets_out: 0, packets_in: 0, duration_ms: 0, conn_state: 'REJ', community_id: null,
      raw: { topic: 't', partition: 0, offset: 0 }, attributes: {},
    } as unknown as MamoriEvent;
    const [match] = loaded.baseRules.match(event);
    expect(match).toMatchObject({ ruleId: '0c6d4d7e-0000-4000-8000-000000000001', ruleName: 'rejected_conn', time: T0, eventId: 'e1', fields: { 'id.orig_h': '203.0.113.5', org_id: 'org-a' } });
    expect(loaded.baseRules.match({ ...event, conn_state: 'SF' })).toEqual([]);
    expect(loadCorrelations([])).toBeUndefined();
  });
});
