/**
 * Retro-matching against stored events on chDB (main thread of a forked test process): new
 * indicators arrive, stored events of the look-back window that touched them become detections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntelMatchAnalytic, retroMatch } from '@mamori/detector';
import { IndicatorIndex, type Indicator } from '@mamori/intel';
import { insertEvents, migrate, toEventRow } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'mamori-retro-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Relative to now: the events table keeps 90 days (TTL), so a fixed date would age out of it.
const T = Math.floor(Date.now() / 60_000) * 60_000;
const ind = (kind: Indicator['kind'], value: string, extra: Partial<Indicator> = {}): Indicator => ({ kind, value, source: 'feed', id: `${kind}:${value}`, confidence: 90, validFrom: 0, validUntil: Infinity, ...extra });

describe('retroMatch on chDB', () => {
  it('finds past sightings of new IPs, networks and domains within the look-back, parameterized', async () => {
    const driver = createChdbStorage({ path: dir, database: 'retro' });
    await driver.connect();
    await migrate(driver);
    const row = (id: string, minutesAgo: number, src: string, dst: string, attributes: Record<string, string> = {}) =>
      toEventRow({ eventId: id, orgId: 'org-a', time: T - minutesAgo * 60_000, srcIp: src, dstIp: dst, rawTopic: 'telemetry.raw.zeek.conn', rawPartition: 0, rawOffset: 1, attributes });
    await insertEvents(driver, [
      row('e1', 60, '10.0.0.5', '203.0.113.7'),
      row('e2', 30, '10.0.0.6', '198.51.100.77'),
      row('e3', 20, '10.0.0.7', '10.0.0.53', { query: 'a.b.c2.evil-example.net' }),
      row('e4', 10, '10.0.0.8', '192.0.2.1', { query: 'notevil-example.net' }),
      row('e5', 60 * 24 * 30, '10.0.0.9', '203.0.113.7'),
      row('e6', 5, '2001:db8::5', '2001:db8:ffff::1'),
    ]);
    const analytic = new IntelMatchAnalytic(() => new IndicatorIndex());
    const found = await retroMatch(driver, analytic, [ind('ip', '203.0.113.7'), ind('ip', '198.51.100.0/24'), ind('domain', 'evil-example.net'), ind('ip', '2001:db8:ffff::/48'), ind('url', 'x.example/a')], { until: T, lookbackMs: 7 * 86_400_000 });
    const seen = found.map((d) => `${d.entity.value}|${d.attributes['indicator_value']}|${d.attributes['matched_field']}`).sort();
    expect(seen).toEqual([
      '10.0.0.5|203.0.113.7|dst_ip',
      '10.0.0.6|198.51.100.0/24|dst_ip',
      '10.0.0.7|evil-example.net|dns.query',
      '2001:db8::5|2001:db8:ffff::/48|dst_ip',
    ]);
    expect(found.every((d) => d.attributes['retro'] === 'true' && d.severity === 'high')).toBe(true);
    // valid_from does not hold a retro match back (a list's indicators are valid from load time, after
    // the activity); valid_until still ends it: 198.51.100.77 expired 45 minutes ago, before e2 (30 minutes
    // ago) was seen; evil-example.net expired 10 minutes ago, after e3 (20 minutes ago).
    const fresh = new IntelMatchAnalytic(() => new IndicatorIndex());
    const validity = await retroMatch(driver, fresh, [ind('ip', '203.0.113.7', { validFrom: T, validUntil: T + 1 }), ind('ip', '198.51.100.77', { validUntil: T - 45 * 60_000 }), ind('domain', 'evil-example.net', { validUntil: T - 10 * 60_000 })], { until: T + 1, lookbackMs: 7 * 86_400_000 });
    expect(validity.map((d) => `${d.entity.value}|${d.attributes['indicator_value']}`).sort()).toEqual(['10.0.0.5|203.0.113.7', '10.0.0.7|evil-example.net']);
    // Hostile values are data, never SQL.
    expect(await retroMatch(driver, analytic, [ind('domain', "x'); DROP TABLE retro.events; --.com")], { until: T })).toEqual([]);
    await driver.close();
  });
});
