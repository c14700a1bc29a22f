import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@mamori/core';
import { createRegistry } from '@mamori/metrics';
import type { StorageDriver } from '@mamori/storage';
import { createMemoryTransport, MemoryBroker } from '@mamori/transport';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDetectorConfig } from './config.ts';
import { openIntelFeeds } from './intel-feeds.ts';
import { IntelKnownLog } from './state/intel-known.ts';

const WARNING_LISTS = new URL('../../../../shared/data/intel/misp-warninglists', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'mamori-intel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('threat-intel feeds from configuration', () => {
  it('parses INTEL_FEEDS and reports bad entries by key', () => {
    const config = loadDetectorConfig({ INTEL_FEEDS: 'partner=stix:/x/bundle.json; local=list:/x/ips.txt' });
    expect(config.intel.feeds).toEqual([
      { name: 'partner', format: 'stix', location: '/x/bundle.json' },
      { name: 'local', format: 'list', location: '/x/ips.txt' },
    ]);
    expect(() => loadDetectorConfig({ INTEL_FEEDS: 'nope' })).toThrow(/INTEL_FEEDS/);
    expect(() => loadDetectorConfig({ INTEL_FEEDS: 'a=list:/x;a=list:/y' })).toThrow(/twice/);
  });

  it.skipIf(!existsSync(WARNING_LISTS))('loads a list feed, applies warning lists, and exposes per-feed freshness', async () => {
    const list = join(dir, 'ips.txt');
    // 45.133.1.20 stands in for hostile infrastructure (documentation ranges are on the RFC 5735 warning
    // list, so they would be suppressed, as 203.0.113.7 is below); 8.8.8.8 is a
    // public resolver that the MISP warning lists cover, so it must be suppressed.
    writeFileSync(list, '45.133.1.20\n203.0.113.7\n8.8.8.8\nevil-c2.example\n');
    const registry = createRegistry();
    const config = loadDetectorConfig({ INTEL_FEEDS: `local=list:${list};broken=list:${join(dir, 'missing.txt')}`, INTEL_WARNING_LISTS: WARNING_LISTS });
    const feeds = (await openIntelFeeds(config.intel, registry, silentLogger()))!;
    try {
      const now = Date.now();
      expect(feeds.index().matchIp('45.133.1.20', now).length).toBe(1);
      expect(feeds.index().matchIp('203.0.113.7', now)).toEqual([]);
      expect(feeds.index().matchIp('8.8.8.8', now)).toEqual([]);
      expect(feeds.index().matchDomain('a.evil-c2.example', now).length).toBe(1);
      const metric = (name: string) => registry.getSingleMetric(name)!.get();
      const success = (await metric('mamori_intel_feed_last_success_timestamp_seconds')).values;
      expect(success.map((v) => v.labels['feed'])).toEqual(['local']);
      const failing = (await metric('mamori_intel_feed_failing')).values;
      expect(failing.find((v) => v.labels['feed'] === 'broken')?.value).toBe(1);
      expect((await metric('mamori_intel_suppressed_indicators')).values[0]?.value).toBeGreaterThanOrEqual(2);
      // 45.133.1.20 and evil-c2.example stay active from the local feed; the broken feed has none.
      const perFeed = Object.fromEntries((await metric('mamori_intel_indicators')).values.map((v) => [v.labels['feed'], v.value]));
      expect(perFeed).toEqual({ local: 2, broken: 0 });
    } finally {
      feeds.close();
    }
  }, 60_000);
});

describe('indicators added while the detector was down', () => {
  it('are retro-matched at the next start (from the known-indicator log), once; the first start retro-matches nothing', async () => {
    const list = join(dir, 'known.txt');
    writeFileSync(list, '45.133.1.30\n45.133.1.31\n');
    const transport = createMemoryTransport(new MemoryBroker());
    const producer = transport.producer();
    await producer.connect();
    const config = loadDetectorConfig({ INTEL_FEEDS: `known=list:${list}` });
    const asked: string[][] = [];
    const storage = {
      name: 'fake', database: 'mamori',
      connect: async () => undefined, exec: async () => undefined, insert: async () => undefined, ping: async () => undefined, close: async () => undefined,
      query: async <T,>(_sql: string, params?: Record<string, unknown>) => {
        asked.push((params?.['ips'] as string[] | undefined) ?? []);
        return [] as T[];
      },
    } as StorageDriver;
    const start = async () => {
      const feeds = (await openIntelFeeds(config.intel, createRegistry(), silentLogger(), { knownLog: new IntelKnownLog({ transport, producer, topic: 'known', groupPrefix: 'unit' }) }))!;
      feeds.enableRetroMatching({ storage, send: async () => undefined });
      // Waits for the retro-matching and the recording the start queued.
      await feeds.refresh();
      feeds.close();
    };

    await start();
    expect(asked).toEqual([]);
    // While down: one indicator removed, one added.
    writeFileSync(list, '45.133.1.31\n45.133.1.32\n');
    await start();
    expect(asked).toEqual([['::ffff:45.133.1.32']]);
    // Nothing changed since: nothing to retro-match; the log holds exactly the current keys.
    await start();
    expect(asked).toHaveLength(1);
    const keys = await new IntelKnownLog({ transport, producer, topic: 'known', groupPrefix: 'unit' }).read();
    expect([...keys].map((k) => k.split('\u0000')[2]).sort()).toEqual(['45.133.1.31', '45.133.1.32']);
  });
});
