import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, errorMessage, type Logger } from '@mamori/core';
import { WarningLists, type MispWarningList } from '@mamori/intel';
import { InventoryStore, type Inventory } from '@mamori/inventory';
import type { QueryApiConfig } from '../config.ts';
import { warningListSources, type GuardRailSources } from './guard-rails.ts';
import type { ResponseConfig } from './response-config.ts';

/** What the response routes share: the guard rails' sources, loaded once per config object. */
export interface ResponseContext {
  config: ResponseConfig;
  guardRails: GuardRailSources;
  /** The organization's display name for STIX identities. */
  orgName(orgId: string): string;
  /** The clock (tests of expiry insert expired timestamps instead of moving it). */
  now(): number;
  /** Stops watching the inventory file (idempotent; every response plugin calls it on close). */
  close(): void;
}

const contexts = new WeakMap<object, ResponseContext>();

/**
 * Loads the inventory (home networks, watched for changes) and the warning lists named by the
 * config, once per config object; a missing or broken file stops the start with a ConfigError naming the key.
 */
export function responseContext(config: Readonly<QueryApiConfig>, logger?: Logger): ResponseContext {
  let ctx = contexts.get(config);
  if (ctx) return ctx;
  const rc = config.response;
  const store = rc.inventoryFile ? InventoryStore.open(rc.inventoryFile) : undefined;
  // A changed inventory applies to the next decision; a bad new file keeps the previous one.
  store?.watch({ onError: (error) => logger?.error({ err: error, error_code: 'INVENTORY_RELOAD_FAILED' }, `inventory reload failed, the previous one stays in use: ${errorMessage(error)}`) });
  const lists = rc.warningLists.length > 0 ? warningListSources(loadWarningLists(rc.warningLists)) : { warningLists: undefined, warningNetworks: undefined };
  const current = (): Inventory | undefined => store?.current;
  ctx = {
    config: rc,
    guardRails: { inventory: current, ...lists },
    orgName: (id) => current()?.organization(id)?.name ?? id,
    now: () => Date.now(),
    close: () => store?.close(),
  };
  contexts.set(config, ctx);
  return ctx;
}

/** Files or folders (every `.json` below, as the detector's INTEL_WARNING_LISTS): the MISP warning lists they hold. */
export function loadWarningLists(locations: readonly string[]): MispWarningList[] {
  const lists: MispWarningList[] = [];
  const files: string[] = [];
  const walk = (path: string, depth: number): void => {
    let stats;
    try {
      stats = statSync(path);
    } catch (error) {
      throw new ConfigError(`API_WARNING_LISTS: cannot read ${path} (${errorMessage(error)}); name MISP warning-list files or folders`, { cause: error });
    }
    if (!stats.isDirectory()) {
      files.push(path);
      return;
    }
    if (depth > 4) return;
    for (const entry of readdirSync(path).sort()) {
      const child = join(path, entry);
      if (statSync(child).isDirectory()) walk(child, depth + 1);
      else if (entry.endsWith('.json')) files.push(child);
    }
  };
  for (const location of locations) walk(location, 0);
  for (const file of files) {
    try {
      lists.push(WarningLists.fromJson(readFileSync(file, 'utf8'), file));
    } catch (error) {
      throw new ConfigError(`API_WARNING_LISTS: ${errorMessage(error)}`, { cause: error });
    }
  }
  return lists;
}
