import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError, errorMessage } from '@mamori/core';
import { Inventory, parseInventory } from './inventory.ts';

/** Reads and validates an inventory file; throws a ConfigError naming the file and every problem. */
export function loadInventoryFile(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read inventory file ${path} (${errorMessage(error)}); check MAMORI_INVENTORY_FILE`, { cause: error });
  }
  return parseInventory(text, path);
}

export interface InventoryWatchOptions {
  /** Wait this long after the last change before reloading (editors write in several steps). @default 500 */
  debounceMs?: number;
  /** Called after a good new file replaced the inventory. */
  onReload?: (inventory: Inventory) => void;
  /** Called when a changed file is bad; the previous inventory stays in use. */
  onError?: (error: unknown) => void;
}

/**
 * The current inventory of a file, reloadable while running. A bad new file never replaces a good
 * one: the old inventory stays in use and the failure is counted and reported through `onError`.
 */
export class InventoryStore {
  private inventory: Inventory;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Successful reloads since start. */
  reloads = 0;
  /** Failed reloads since start (bad or unreadable file). */
  failures = 0;
  lastError: unknown = undefined;

  constructor(
    readonly path: string,
    initial: Inventory,
  ) {
    this.inventory = initial;
  }

  /** Loads `path` now (throws ConfigError when it is bad: at boot, a bad file must stop the start). */
  static open(path: string): InventoryStore {
    const abs = resolve(path);
    return new InventoryStore(abs, loadInventoryFile(abs));
  }

  get current(): Inventory {
    return this.inventory;
  }

  /** Reads the file again; returns whether the new inventory is in use. Never throws. */
  reload(options: Pick<InventoryWatchOptions, 'onReload' | 'onError'> = {}): boolean {
    try {
      this.inventory = loadInventoryFile(this.path);
      this.reloads++;
      options.onReload?.(this.inventory);
      return true;
    } catch (error) {
      this.failures++;
      this.lastError = error;
      options.onError?.(error);
      return false;
    }
  }

  /**
   * Reloads when the file changes. Watches the directory, not the file, so editors and config
   * management that replace the file (write a temp file, rename it over) are seen too.
   */
  watch(options: InventoryWatchOptions = {}): void {
    if (this.watcher) return;
    const name = basename(this.path);
    const debounceMs = options.debounceMs ?? 500;
    this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
      if (file !== null && file.toString() !== name) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.reload(options);
      }, debounceMs);
      this.timer.unref();
    });
    this.watcher.on('error', (error) => options.onError?.(error));
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }
}
