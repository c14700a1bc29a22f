import type { Logger } from '@mamori/core';
import { silentLogger } from '@mamori/core';
import type { MamoriDetection } from '@mamori/events';
import { IndicatorIndex, type Indicator } from '@mamori/intel';
import { createRegistry } from '@mamori/metrics';
import { StorageError, type StorageDriver } from '@mamori/storage';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INTEL_MATCH_CONFIG, IntelMatchAnalytic } from './analytics/intel.ts';
import { IntelRetroMatcher, detectionMessages } from './intel-retro.ts';

const NOW = Date.UTC(2026, 0, 2);
const ind = (kind: Indicator['kind'], value: string): Indicator => ({ kind, value, source: 'feed', id: `${kind}:${value}`, confidence: 90, validFrom: NOW, validUntil: Infinity });

/** A storage driver that answers retro-match queries with fixed rows (or fails), recording the SQL parameters. */
function fakeStorage(rows: Record<string, unknown>[] | Error): StorageDriver & { calls: Record<string, unknown>[] } {
  const calls: Record<string, unknown>[] = [];
  return {
    name: 'fake', database: 'mamori', calls,
    connect: async () => undefined, exec: async () => undefined, insert: async () => undefined, ping: async () => undefined, close: async () => undefined,
    query: async <T,>(_sql: string, params?: Record<string, unknown>) => {
      calls.push(params ?? {});
      if (rows instanceof Error) throw rows;
      return rows as T[];
    },
  } as StorageDriver & { calls: Record<string, unknown>[] };
}

function recordingLogger(): { logger: Logger; warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger = Object.assign(Object.create(silentLogger()) as Logger, {
    warn: (...args: unknown[]) => void warnings.push(String(args[args.length - 1])),
    error: (...args: unknown[]) => void errors.push(String(args[args.length - 1])),
  });
  return { logger, warnings, errors };
}

async function runs(registry: ReturnType<typeof createRegistry>): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('mamori_intel_retro_runs_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels['outcome']), v.value]));
}

describe('IntelRetroMatcher', () => {
  const row = { event_id: 'e1', org_id: 'org-a', time_ms: String(NOW - 3_600_000), src: '::ffff:10.0.0.5', dst: '::ffff:45.133.1.77', raw_topic: 't', raw_partition: 0, raw_offset: 7, names: [] };

  it('sends stored sightings of new indicators as retro detections, once per detection, and counts the run', async () => {
    const registry = createRegistry();
    const sent: MamoriDetection[][] = [];
    const storage = fakeStorage([row, { ...row, event_id: 'e2', raw_offset: 8 }]);
    const analytic = new IntelMatchAnalytic(() => new IndicatorIndex());
    const m = new IntelRetroMatcher({ analytic, storage, send: async (d) => void sent.push(d), lookbackMs: 86_400_000, maxRows: 100, maxIndicators: 10, registry, logger: silentLogger(), now: () => NOW });
    expect(await m.run([ind('ip', '45.133.1.77'), ind('md5', 'd41d8cd98f00b204e9800998ecf8427e')])).toBe('matched');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.map((d) => [d.entity.value, d.count, d.attributes['retro'], d.evidence.map((e) => e.event_id).join(',')])).toEqual([['10.0.0.5', 2, 'true', 'e1,e2']]);
    // Only addresses and domains go to storage; the parameters carry the values, bounded by maxRows.
    expect(storage.calls[0]!['ips']).toEqual(['::ffff:45.133.1.77']);
    expect(storage.calls[0]!['limit']).toBe(100);
    // Live sightings share the deduplication: the same (indicator, entity) updates the retro detection.
    const live = analytic.sighting('org-a', { event_id: 'e3', raw: { topic: 't', partition: 0, offset: 9 }, src_ip: '10.0.0.5', dst_ip: '45.133.1.77' }, 'dst_ip', { indicator: ind('ip', '45.133.1.77'), observed: '45.133.1.77' }, NOW - 60_000);
    expect(live?.detection_id).toBe(sent[0]![0]!.detection_id);
    expect(live?.count).toBe(3);
    expect(await runs(registry)).toEqual({ matched: 1 });
    const messages = detectionMessages(sent[0]!, () => Buffer.from('x'));
    expect(messages[0]!.key).toBe('org-a|10.0.0.5');
    expect(messages[0]!.headers).toEqual({ 'mamori.rule_id': 'mamori.intel.indicator_match' });
  });

  it('without storage logs once and counts; failures are counted and logged, never thrown; non-address kinds need no run', async () => {
    const registry = createRegistry();
    const { logger, warnings, errors } = recordingLogger();
    const opts = { analytic: new IntelMatchAnalytic(() => new IndicatorIndex()), send: async () => undefined, lookbackMs: 86_400_000, maxRows: 100, maxIndicators: 10, registry, logger, now: () => NOW };
    const none = new IntelRetroMatcher({ ...opts, storage: undefined });
    expect(await none.run([ind('ip', '45.133.1.77')])).toBe('no_storage');
    expect(await none.run([ind('domain', 'evil.example')])).toBe('no_storage');
    expect(warnings).toHaveLength(1);
    expect(await none.run([ind('sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')])).toBe('not_applicable');
    const broken = new IntelRetroMatcher({ ...opts, registry: createRegistry(), storage: fakeStorage(new StorageError('CLICKHOUSE_UNREACHABLE', 'down')) });
    await expect(broken.run([ind('ip', '45.133.1.77')])).resolves.toBe('failed');
    expect(errors).toHaveLength(1);
    const empty = new IntelRetroMatcher({ ...opts, registry: createRegistry(), storage: fakeStorage([]) });
    expect(await empty.run([ind('ip', '45.133.1.78')])).toBe('no_match');
    expect(await runs(registry)).toEqual({ no_storage: 2, not_applicable: 1 });
  });

  it('retro-matches at most maxIndicators new indicators per run, in chunks, and counts the rest', async () => {
    const registry = createRegistry();
    const storage = fakeStorage([]);
    const m = new IntelRetroMatcher({ analytic: new IntelMatchAnalytic(() => new IndicatorIndex()), storage, send: async () => undefined, lookbackMs: 86_400_000, maxRows: 100, maxIndicators: 2500, registry, logger: silentLogger(), now: () => NOW });
    const many = Array.from({ length: 3000 }, (_, i) => ind('ip', `45.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
    expect(await m.run(many)).toBe('no_match');
    expect(storage.calls.map((c) => (c['ips'] as string[]).length)).toEqual([1000, 1000, 500]);
    const skipped = await registry.getSingleMetric('mamori_intel_retro_skipped_indicators_total')!.get();
    expect(skipped.values[0]?.value).toBe(500);
  });
});

describe('retro and live sightings with per-partition deduplication state', () => {
  const indicator = ind('ip', '45.133.1.77');
  const match = { indicator, observed: '45.133.1.77' };
  const sighting = (id: string, offset: number) => ({ event_id: id, raw: { topic: 't', partition: 0, offset }, src_ip: '10.0.0.5', dst_ip: '45.133.1.77' });

  it('a live fork adopts a retro detection of its pair, and its change goes to the changelog', () => {
    const root = new IntelMatchAnalytic(() => new IndicatorIndex());
    const fork = root.fork();
    fork.exportChanges();
    const retro = root.sighting('org-a', sighting('e1', 1), 'dst_ip', match, NOW - 3_600_000, true)!;
    expect(root.size()).toBe(1);
    const live = fork.sighting('org-a', sighting('e2', 2), 'dst_ip', match, NOW - 60_000)!;
    expect(live.detection_id).toBe(retro.detection_id);
    expect(live.count).toBe(2);
    // Handed over: the root forgets it, the fork holds it and reports it as a change.
    expect(root.size()).toBe(0);
    expect(fork.exportChanges()).toEqual([expect.objectContaining({ value: expect.objectContaining({ id: retro.detection_id, count: 2 }) })]);
  });

  it('idle input (advance to Infinity) keeps the pairs: a later sighting within the window updates the open detection', () => {
    const fork = new IntelMatchAnalytic(() => new IndicatorIndex()).fork();
    const first = fork.sighting('org-a', sighting('e1', 1), 'dst_ip', match, NOW - 60_000)!;
    expect(fork.advance(Number.POSITIVE_INFINITY)).toEqual([]);
    expect(fork.size()).toBe(1);
    expect(fork.sighting('org-a', sighting('e2', 2), 'dst_ip', match, NOW)).toMatchObject({ detection_id: first.detection_id, count: 2 });
    // An event-time watermark past the window does forget it.
    fork.advance(NOW - 60_000 + DEFAULT_INTEL_MATCH_CONFIG.dedupWindowMs);
    expect(fork.size()).toBe(0);
  });

  it('a retro sighting updates the fork that holds the pair (a tracked change); a released fork is not consulted', () => {
    const root = new IntelMatchAnalytic(() => new IndicatorIndex());
    const fork = root.fork();
    fork.exportChanges();
    const live = fork.sighting('org-a', sighting('e1', 1), 'dst_ip', match, NOW - 60_000)!;
    fork.exportChanges();
    const retro = root.sighting('org-a', sighting('e0', 0), 'dst_ip', match, NOW - 3_600_000, true)!;
    expect(retro.detection_id).toBe(live.detection_id);
    expect(retro).toMatchObject({ count: 2, first_seen: NOW - 3_600_000 });
    expect(root.size()).toBe(0);
    expect(fork.exportChanges()).toHaveLength(1);

    fork.release();
    const after = root.sighting('org-a', sighting('e3', 3), 'dst_ip', match, NOW - 30_000, true)!;
    expect(after.detection_id).not.toBe(live.detection_id);
    expect(after.count).toBe(1);
  });
});
