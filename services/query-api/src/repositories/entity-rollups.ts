import {
  EntityRollupCache,
  comparePeers,
  comparePorts,
  entityHourly,
  entityPeerTotals,
  entityPeersSplit,
  entityPortTotals,
  entityPortsSplit,
  entityRange,
  entityTop,
  mergeTop,
  rangePortKey,
  topCandidates,
  type EntityHour,
  type EntityPeer,
  type EntityPeerTotal,
  type EntityPort,
  type QueryOptions,
  type SettledEntityRollups,
  type StorageDriver,
} from '@mamori/storage';
import { firstLastSeen } from './investigation.ts';

const HOUR_MS = 3_600_000;
/** Rows of each top list kept over the settled hours: enough that the live hours rarely reorder past them. */
export const SETTLED_CANDIDATES = 300;

/** What the entity page shows from the hourly roll-ups. */
export interface EntityRollups {
  timeline: EntityHour[];
  peers: EntityPeer[];
  ports: EntityPort[];
  /** First hour and end of the last hour the address was seen in, all time; undefined if never. */
  seen: { first: number; last: number } | undefined;
}

const peerKey = (p: EntityPeerTotal) => p.sortKey;
const asPeer = ({ ip, connections, bytes }: EntityPeerTotal): EntityPeer => ({ ip, connections, bytes });

/** Every part read over the whole range: four statements side by side (entityTop runs two). */
async function readWhole(storage: StorageDriver, orgs: readonly string[], ip: string, since: number, until: number, topN: number, options: QueryOptions): Promise<EntityRollups> {
  const [timeline, top, seen] = await Promise.all([
    entityHourly(storage, orgs, ip, since, until, options),
    entityTop(storage, orgs, ip, since, until, topN, options),
    firstLastSeen(storage, orgs, ip, options),
  ]);
  return { timeline, peers: top.peers, ports: top.ports, seen };
}

/**
 * A miss: the page over the whole range in four statements, as without the cache, whose top lists
 * also rank the rows over the settled hours [firstHour, settledUntil) (entityPeersSplit,
 * entityPortsSplit); the entry for the cache comes from the same reads.
 */
async function readAndSettle(
  storage: StorageDriver,
  orgs: readonly string[],
  ip: string,
  since: number,
  until: number,
  settledUntil: number,
  topN: number,
  options: QueryOptions,
): Promise<{ page: EntityRollups; settled: SettledEntityRollups }> {
  const [timeline, peers, ports, seen] = await Promise.all([
    entityHourly(storage, orgs, ip, since, until, options),
    entityPeersSplit(storage, orgs, ip, since, until, settledUntil, topN, SETTLED_CANDIDATES, options),
    entityPortsSplit(storage, orgs, ip, since, until, settledUntil, topN, SETTLED_CANDIDATES, options),
    firstLastSeen(storage, orgs, ip, options),
  ]);
  return {
    page: { timeline, peers: peers.top.map(asPeer), ports: ports.top, seen },
    settled: {
      settledUntil,
      timeline: timeline.filter((h) => h.hour < settledUntil),
      peers: topCandidates(peers.before, SETTLED_CANDIDATES),
      ports: topCandidates(ports.before, SETTLED_CANDIDATES),
      seen,
    },
  };
}

/**
 * The entity page's timeline, top `topN` peers and ports over the hours overlapping [since, until),
 * and first/last seen. With `cache` (embedded chDB; {@link EntityRollupCache}) and a range that
 * reaches past the settled hours, the settled hours come from the cache (read once) and only the
 * hours after them from ClickHouse, merged exactly; a top list the cached candidates cannot decide
 * is read over the whole range. Otherwise every part is read over the whole range.
 */
export async function readEntityRollups(
  storage: StorageDriver,
  orgs: readonly string[],
  ip: string,
  since: number,
  until: number,
  topN: number,
  options: QueryOptions,
  cache?: EntityRollupCache,
  now: number = Date.now(),
): Promise<EntityRollups> {
  const firstHour = Math.floor(since / HOUR_MS) * HOUR_MS;
  const settledUntil = cache?.settledUntil(now);
  if (cache === undefined || settledUntil === undefined || orgs.length === 0 || settledUntil <= firstHour || until <= settledUntil) {
    return readWhole(storage, orgs, ip, since, until, topN, options);
  }
  const key = EntityRollupCache.key(orgs, ip, firstHour);
  const settled = cache.get(key);
  if (settled === undefined) {
    const generation = cache.generation;
    const read = await readAndSettle(storage, orgs, ip, since, until, settledUntil, topN, options);
    cache.set(key, orgs, read.settled, generation);
    return read.page;
  }
  // The live hours in one statement, ranked there against the cached candidates (mergeTop decides).
  const live = await entityRange(
    storage,
    orgs,
    ip,
    settled.settledUntil,
    until,
    topN,
    { keys: settled.peers.rows.map(peerKey), connections: settled.peers.rows.map((p) => p.connections), bytes: settled.peers.rows.map((p) => p.bytes) },
    { keys: settled.ports.rows.map(rangePortKey), connections: settled.ports.rows.map((p) => p.connections) },
    options,
  );
  const liveTimeline = live.timeline;
  const orWhole = async <T>(merged: T[] | undefined, whole: () => Promise<T[]>): Promise<T[]> => {
    if (merged !== undefined) return merged;
    cache.stats.fallbacks++;
    return whole();
  };
  const [peers, ports] = await Promise.all([
    orWhole(mergeTop(settled.peers, live.peers, topN, peerKey, comparePeers), () => entityPeerTotals(storage, orgs, ip, since, until, topN, options)),
    orWhole(mergeTop(settled.ports, live.ports, topN, rangePortKey, comparePorts), () => entityPortTotals(storage, orgs, ip, since, until, topN, options)),
  ]);
  // First/last seen, all time: the settled entry's (read all time when it was filled), and the live
  // hours from the settled ones on, also those after `until` (late rows in settled hours drop the entry).
  let seen = settled.seen;
  if (live.seenHours !== undefined) {
    seen = { first: seen?.first ?? live.seenHours.first, last: Math.max(seen?.last ?? 0, live.seenHours.last + HOUR_MS) };
  }
  return { timeline: [...settled.timeline, ...liveTimeline], peers: peers.map(asPeer), ports, seen };
}
