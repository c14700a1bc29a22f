import { DetectionCodec, EventCodec, type MamoriDetection, type MamoriEvent } from '@mamori/events';
import { silentLogger, type Logger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import type { ConsumedMessage } from '@mamori/transport';
import { describe, expect, it } from 'vitest';
import { compileDocuments, parseSigmaFile, RuleSet } from '@mamori/sigma';
import { PortScanAnalytic } from './analytics/port-scan.ts';
import { SigmaAnalytic } from './analytics/sigma.ts';
import type { Analytic } from './analytics/types.ts';
import { DetectorStage } from './detector-stage.ts';

/*
 * One analytic's defect must not blind the others: an analytic that throws on some events sits
 * first, and the port-scan analytic after it must still report exactly what it reports alone.
 */
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const eventCodec = new EventCodec();
const detectionCodec = new DetectionCodec();

function scanEvents(): MamoriEvent[] {
  const out: MamoriEvent[] = [];
  for (let i = 0; i < 200; i++) {
    const time = T0 + i * 1_000;
    out.push({
      event_id: `iso-${i}`, event_class: 'network_activity', time, ingest_time: time, org_id: 'org-i', sensor_id: 's', source_format: 'zeek.conn', src_ip: '203.0.113.7', src_port: 40000 + i,
      dst_ip: `10.1.0.${i % 120}`, dst_port: i % 2 === 0 ? 445 : 139, protocol: 'tcp', bytes_out: 0, bytes_in: 0, packets_out: 1, packets_in: 0, duration_ms: 1, conn_state: 'S0', community_id: null,
      raw: { topic: 'raw', partition: 0, offset: i }, attributes: {},
    });
  }
  return out;
}

/** Throws on every event to port 445 (a planted defect), finds nothing otherwise. */
function brokenAnalytic(): Analytic & { seen: number } {
  return {
    ruleId: 'test.broken',
    seen: 0,
    observe(event) {
      this.seen++;
      if (event.dst_port === 445) throw new Error(`planted defect on ${event.event_id}`);
      return [];
    },
    advance: () => [],
    size: () => 0,
  };
}

function stage(analytics: Analytic[], registry = createRegistry()): DetectorStage {
  return new DetectorStage({
    eventsTopic: 'events',
    detectionsTopic: 'detections',
    analytics,
    codecs: { decodeEvent: (b) => eventCodec.decode(b), encodeDetection: (d) => detectionCodec.encode(d) },
    registry,
    allowedLatenessMs: 5_000,
    idleCloseMs: 600_000,
  });
}

const messages = (): ConsumedMessage[] =>
  scanEvents().map((e, i) => ({ topic: 'events', partition: 0, offset: String(i), key: null, value: eventCodec.encode(e), headers: {}, timestamp: 0 }));

/** One valid detection (port-scan's first over the scan events), as bytes. */
const expectedDetection: Buffer = (() => {
  const found = stage([new PortScanAnalytic()]).observeEvents(scanEvents());
  const first = found[0] ?? stage([new PortScanAnalytic()]).closeAll()[0];
  return detectionCodec.encode(first!);
})();

const records = (out: Awaited<ReturnType<DetectorStage['process']>>): string[] =>
  (out.outputs[0]?.messages ?? []).map((m) => {
    const d: MamoriDetection = detectionCodec.decode(m.value as Buffer);
    return JSON.stringify([d.detection_id, d.rule_id, d.count, d.evidence.length]);
  });

describe('DetectorStage analytic isolation', () => {
  it('feeds every event to the analytics after one that throws, keeps their detections, and dead-letters the event naming the analytic', async () => {
    const reference = stage([new PortScanAnalytic()]);
    const expected = records(await reference.process({ messages: messages() }));
    expect(expected.length).toBeGreaterThan(0);

    const registry = createRegistry();
    const broken = brokenAnalytic();
    const withDefect = stage([broken, new PortScanAnalytic()], registry);
    const result = await withDefect.process({ messages: messages() });
    expect(records(result)).toEqual(expected);
    expect(broken.seen).toBe(200);
    expect(result.deadLetters).toHaveLength(100);
    for (const d of result.deadLetters) {
      expect(d.code).toBe('DETECTOR_ANALYTIC_FAILED');
      expect(d.reason).toBe(`test.broken: planted defect on iso-${Number(d.message.offset)}`);
    }
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/mamori_detector_analytic_failures_total\{analytic="test\.broken"\} 100/);
  });

  it('closes the other analytics\' episodes when one throws while event time advances, counts and logs it, and does not fail the batch', async () => {
    const reference = stage([new PortScanAnalytic()]);
    const expected = [...records(await reference.process({ messages: messages() })), ...records(await reference.tick(Date.now(), true))];
    expect(expected.length).toBeGreaterThan(0);

    const registry = createRegistry();
    const logged: string[] = [];
    const logger = { ...silentLogger(), error: (obj: { analytic: string }, msg: string) => logged.push(`${obj.analytic} ${msg}`) } as unknown as Logger;
    const throwsOnAdvance: Analytic = { ruleId: 'test.advance', observe: () => [], advance: () => { throw new Error('planted advance defect'); }, size: () => 0 };
    const s = new DetectorStage({
      eventsTopic: 'events', detectionsTopic: 'detections', analytics: [throwsOnAdvance, new PortScanAnalytic()],
      codecs: { decodeEvent: (b) => eventCodec.decode(b), encodeDetection: (d) => detectionCodec.encode(d) }, registry, logger, allowedLatenessMs: 5_000, idleCloseMs: 600_000,
    });
    const got = [...records(await s.process({ messages: messages() })), ...records(await s.tick(Date.now(), true))];
    expect(got).toEqual(expected);
    // Once at the batch's end, once at the final close.
    expect(logged).toEqual(['test.advance analytic failed to advance event time; its open episodes may be reported late', 'test.advance analytic failed to advance event time; its open episodes may be reported late']);
    expect(await registry.metrics()).toMatch(/mamori_detector_analytic_failures_total\{analytic="test\.advance"\} 2/);
  });

  it('keeps a Sigma rule that throws to itself: the event\'s other rules still open their detections, and the event is dead-lettered naming the rule', async () => {
    const yaml = [
      'title: Rejected\nid: 22222222-0000-4000-8000-000000000001\nlevel: low\nlogsource: {product: zeek, service: conn}\ndetection:\n  sel: {conn_state: REJ}\n  condition: sel\n',
      'title: SMB\nid: 22222222-0000-4000-8000-000000000002\nlevel: low\nlogsource: {product: zeek, service: conn}\ndetection:\n  sel: {id.resp_p: 445}\n  condition: sel\n',
    ].join('---\n');
    const loaded = compileDocuments(parseSigmaFile(yaml, 'r.yml').documents);
    const brokenId = '22222222-0000-4000-8000-000000000002';
    const ruleSet = new RuleSet(
      loaded.ruleSet.rules.map((r) => (r.rule.id === brokenId ? { ...r, test: () => { throw new Error('planted rule defect'); } } : r)),
      loaded.ruleSet.slots,
      loaded.ruleSet.checksum,
    );
    const events = scanEvents().slice(0, 4).map((e, i) => ({ ...e, conn_state: 'REJ', dst_port: i % 2 === 0 ? 445 : 139 }));
    const msgs = events.map((e, i): ConsumedMessage => ({ topic: 'events', partition: 0, offset: String(i), key: null, value: eventCodec.encode(e), headers: {}, timestamp: 0 }));
    const registry = createRegistry();
    const result = await stage([new SigmaAnalytic({ ruleSet, checksum: loaded.checksum })], registry).process({ messages: msgs });
    const found = (result.outputs[0]?.messages ?? []).map((m) => detectionCodec.decode(m.value as Buffer).rule_id);
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found)).toEqual(new Set(['sigma:22222222-0000-4000-8000-000000000001']));
    expect(result.deadLetters.map((d) => [d.message.offset, d.code, d.reason])).toEqual(
      ['0', '2'].map((o) => [o, 'DETECTOR_ANALYTIC_FAILED', `mamori.sigma: rule ${brokenId}: planted rule defect`]),
    );
    expect(await registry.metrics()).toMatch(/mamori_detector_analytic_failures_total\{analytic="mamori\.sigma"\} 2/);
  });

  it('leaves out a detection that does not fit the schema, charging it to its analytic, and sends the others', async () => {
    const reference = stage([new PortScanAnalytic()]);
    const expected = records(await reference.process({ messages: messages() }));
    expect(expected.length).toBeGreaterThan(0);

    const registry = createRegistry();
    const logged: unknown[] = [];
    const logger = { ...silentLogger(), error: (obj: Record<string, unknown>, msg: string) => logged.push([obj['analytic'], obj['detection'], msg]) } as unknown as Logger;
    // Reports a detection whose detected_at is not a time (a defect) for the first event it sees.
    const malformed: Analytic & { fired: boolean } = {
      ruleId: 'test.malformed',
      fired: false,
      observe(event) {
        if (this.fired) return [];
        this.fired = true;
        const d = detectionCodec.decode(expectedDetection);
        return [{ ...d, detection_id: `bad-${event.event_id}`, detected_at: 'soon' as unknown as number }];
      },
      advance: () => [],
      size: () => 0,
    };
    const s = new DetectorStage({
      eventsTopic: 'events', detectionsTopic: 'detections', analytics: [malformed, new PortScanAnalytic()],
      codecs: { decodeEvent: (b) => eventCodec.decode(b), encodeDetection: (d) => detectionCodec.encode(d) }, registry, logger, allowedLatenessMs: 5_000, idleCloseMs: 600_000,
    });
    const result = await s.process({ messages: messages() });
    expect(records(result)).toEqual(expected);
    expect(result.deadLetters).toEqual([]);
    expect(logged).toEqual([['test.malformed', 'bad-iso-0', 'detection does not fit the schema and was left out']]);
    expect(await registry.metrics()).toMatch(/mamori_detector_analytic_failures_total\{analytic="test\.malformed"\} 1/);
  });

  it('reports the failing analytic through observeEvents (mamori hunt) and still runs the others', () => {
    const failed: string[] = [];
    const hunt = stage([brokenAnalytic(), new PortScanAnalytic()]);
    const found = [...hunt.observeEvents(scanEvents(), (e, error) => failed.push(`${e.event_id} ${(error as Error).message}`)), ...hunt.closeAll()];
    const alone = stage([new PortScanAnalytic()]);
    const reference = [...alone.observeEvents(scanEvents()), ...alone.closeAll()];
    expect(found.map((d) => [d.detection_id, d.count])).toEqual(reference.map((d) => [d.detection_id, d.count]));
    expect(reference.length).toBeGreaterThan(0);
    expect(failed).toHaveLength(100);
    expect(failed[0]).toBe('iso-0 test.broken: planted defect on iso-0');
  });
});
