import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntelMatchAnalytic } from '@mamori/detector';
import type { MamoriEvent } from '@mamori/events';
import { IntelStore } from '@mamori/intel';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * List feeds made every entry valid from the time the list was (re)loaded, and the store reloads
 * on every refresh, as does a detector restart. An event older than the last load never matched a
 * listed value: the backlog a restarted detector works through (events that arrived while it was
 * down), an event within the allowed lateness just before an hourly refresh, archived logs in
 * `mamori hunt`. The same events matched when the detector had kept running: a restart changed the
 * detections. Found by reading the detector for restart-dependent results (issue #4).
 */
const dir = mkdtempSync(join(tmpdir(), 'mamori-list-valid-from-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conn(id: string, time: number): MamoriEvent {
  return {
    event_id: id, event_class: 'network_activity', time, ingest_time: time, org_id: 'org-l', sensor_id: 's', source_format: 'zeek.conn',
    src_ip: '10.0.0.5', src_port: 40000, dst_ip: '198.51.100.66', dst_port: 443, protocol: 'tcp', bytes_out: 10, bytes_in: 10, packets_out: 1, packets_in: 1,
    duration_ms: 5, conn_state: 'SF', community_id: null, raw: { topic: 'raw', partition: 0, offset: 1 }, attributes: {},
  };
}

describe('list feed entries and events older than the load', () => {
  it('match whenever the list was loaded (boot after downtime, refresh), until their TTL ends', async () => {
    writeFileSync(join(dir, 'bad.txt'), '# bad addresses\n198.51.100.66\n');
    const loadedAt = Date.UTC(2026, 4, 1, 12, 0, 0);
    let now = loadedAt;
    const store = new IntelStore({ feeds: [{ name: 'list', format: 'list', location: join(dir, 'bad.txt'), ttlMs: 86_400_000 }], now: () => now });
    await store.refresh();
    const analytic = new IntelMatchAnalytic(() => store.index).fork();
    // A detector started at `loadedAt` after ten minutes down works through the backlog.
    expect(analytic.observe(conn('backlog', loadedAt - 600_000))).toHaveLength(1);
    // An hour later the feed refreshes; an event from just before the refresh arrives a few seconds late.
    now = loadedAt + 3_600_000;
    await store.refresh();
    expect(analytic.observe(conn('late', now - 5_000))).toMatchObject([{ count: 2 }]);
    // The TTL still ends an entry: a day after the last load it no longer matches.
    expect(analytic.observe(conn('expired', now + 86_400_000 + 1))).toEqual([]);
  });
});
