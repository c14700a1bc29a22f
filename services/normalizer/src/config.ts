import { EnvReader, type Env } from '@mamori/core';
import { TOPICS } from '@mamori/pipeline';
import { FORMATS } from './formats/registry.ts';

export interface NormalizerConfig {
  /** Raw topics to consume; default: every topic a registered format claims. */
  rawTopics: string[];
  /** MAMORI_TOPIC_EVENTS. @default 'telemetry.events' */
  eventsTopic: string;
  /** NORMALIZER_MAX_BATCH_RECORDS. @default 2000 */
  maxBatchRecords: number;
  /** MAMORI_INVENTORY_FILE: sensor registry, home networks and assets (docs/inventory.md); unset = none. */
  inventoryFile: string | undefined;
  /** MAMORI_INVENTORY_RELOAD_DEBOUNCE_MS: wait after a change of the file before reloading it; 0 = never reload. @default 500 */
  inventoryReloadDebounceMs: number;
  /**
   * MAMORI_ALLOW_UNREGISTERED_SENSORS: accept records of sensors not in the inventory (stamped with
   * MAMORI_DEFAULT_ORG). @default true without an inventory file, false with one
   */
  allowUnregisteredSensors: boolean;
  /** MAMORI_GEOIP_CITY_DB: MaxMind-format City/Country database; unset = no country/city. */
  geoipCityDb: string | undefined;
  /** MAMORI_GEOIP_ASN_DB: MaxMind-format ASN database; unset = no ASN. */
  geoipAsnDb: string | undefined;
  /** MAMORI_COMMUNITY_ID_SEED: seed of the Community ID hashes the normalizer computes. @default 0 */
  communityIdSeed: number;
}

export function loadNormalizerConfig(env: Env): Readonly<NormalizerConfig> {
  const r = new EnvReader(env);
  const known = FORMATS.flatMap((f) => [...f.topics]);
  const rawTopics = r.list('NORMALIZER_TOPICS', known);
  for (const topic of rawTopics) {
    if (!known.includes(topic)) r.problem(`NORMALIZER_TOPICS names ${JSON.stringify(topic)}, which no registered format reads (known: ${known.join(', ')})`);
  }
  const inventoryFile = r.optionalString('MAMORI_INVENTORY_FILE');
  // Without an inventory there is no registry to check against, so the demo and a single-org
  // install work out of the box; with one, an unknown sensor is a mistake or an intruder.
  const allowUnregisteredSensors = r.boolean('MAMORI_ALLOW_UNREGISTERED_SENSORS', inventoryFile === undefined);
  return r.done({
    rawTopics,
    eventsTopic: r.string('MAMORI_TOPIC_EVENTS', TOPICS.events),
    maxBatchRecords: r.integer('NORMALIZER_MAX_BATCH_RECORDS', 2000, { min: 1, max: 100_000 }),
    inventoryFile,
    inventoryReloadDebounceMs: r.integer('MAMORI_INVENTORY_RELOAD_DEBOUNCE_MS', 500, { min: 0, max: 600_000 }),
    allowUnregisteredSensors,
    geoipCityDb: r.optionalString('MAMORI_GEOIP_CITY_DB'),
    geoipAsnDb: r.optionalString('MAMORI_GEOIP_ASN_DB'),
    communityIdSeed: r.integer('MAMORI_COMMUNITY_ID_SEED', 0, { min: 0, max: 65_535 }),
  });
}
