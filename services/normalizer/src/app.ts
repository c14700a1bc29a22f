import { errorMessage, type Logger } from '@mamori/core';
import { InventoryStore } from '@mamori/inventory';
import type { Registry } from '@mamori/metrics';
import type { NormalizerConfig } from './config.ts';
import { GeoLookup } from './enrich/geo.ts';
import { normalizerMetrics } from './normalizer-metrics.ts';
import { NormalizerStage, type NormalizerDeps } from './normalizer-stage.ts';

export function buildNormalizer(config: NormalizerConfig, deps: NormalizerDeps): NormalizerStage {
  return new NormalizerStage(config, deps);
}

/** What the normalizer reads from files at start-up: the inventory (watched) and GeoIP databases. */
export interface NormalizerResources {
  readonly inventory: InventoryStore | undefined;
  readonly geo: GeoLookup | undefined;
  /** Stops watching the inventory file. */
  close(): void;
}

/**
 * Loads the inventory file and GeoIP databases named in the config. Throws ConfigError naming the
 * file and every problem, so a bad file stops the start before anything connects. The inventory
 * file is then watched: a good new version replaces the old one, a bad one is logged and counted
 * (`mamori_inventory_reloads_total{result="failed"}`) and the old one stays in use.
 */
export function openNormalizerResources(config: NormalizerConfig, options: { logger?: Logger; registry?: Registry } = {}): NormalizerResources {
  const geo = GeoLookup.open({ cityDb: config.geoipCityDb, asnDb: config.geoipAsnDb });
  const inventory = config.inventoryFile === undefined ? undefined : InventoryStore.open(config.inventoryFile);
  if (inventory && config.inventoryReloadDebounceMs > 0) {
    const metrics = options.registry ? normalizerMetrics(options.registry) : undefined;
    inventory.watch({
      debounceMs: config.inventoryReloadDebounceMs,
      onReload: (inv) => {
        metrics?.inventoryReloads.inc({ result: 'ok' });
        options.logger?.info({ file: inventory.path, sensors: inv.sensorCount, organizations: inv.organizationCount }, 'inventory reloaded');
      },
      onError: (error) => {
        metrics?.inventoryReloads.inc({ result: 'failed' });
        options.logger?.error({ file: inventory.path, err: error }, `inventory reload failed, keeping the previous one: ${errorMessage(error)}`);
      },
    });
  }
  return { inventory, geo, close: () => inventory?.close() };
}
