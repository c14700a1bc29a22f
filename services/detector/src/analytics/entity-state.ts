import type { MamoriDetection } from '@mamori/events';

/** One entity's state change since the last export: its state as JSON-ready data, or null when it is gone. */
export interface StateChange {
  /** The entity key inside its analytic (e.g. organization and source address). */
  readonly key: string;
  /** Position in the analytic's least-recently-active order (restore inserts entities in this order). */
  readonly order: number;
  readonly value: unknown;
}

/**
 * Entities of one analytic with change tracking, so state can be snapshotted incrementally: only
 * entities touched since the last export are written. Keeps the least-recently-active order of a
 * `Map` (re-inserting on activity) and remembers each entity's position in it, so a restored
 * analytic evicts in the same order as the one that wrote the snapshot.
 */
export class TrackedEntities<S> {
  private readonly entries = new Map<string, S>();
  private readonly orders = new Map<string, number>();
  private readonly changed = new Set<string>();
  /** Changes are recorded only once someone asked for them (no changelog: no bookkeeping). */
  private tracking = false;
  private seq = 0;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): S | undefined {
    return this.entries.get(key);
  }

  /**
   * Inserts or re-inserts `key` as the most recently active entity. `changed` false: only the
   * activity order moved (the state is not rewritten to the changelog for that alone).
   */
  touch(key: string, state: S, changed = true): void {
    this.entries.delete(key);
    this.entries.set(key, state);
    this.orders.set(key, ++this.seq);
    if (changed && this.tracking) this.changed.add(key);
  }

  /** The entity's state changed in place (its activity order stays). */
  changedInPlace(key: string): void {
    if (this.tracking) this.changed.add(key);
  }

  delete(key: string): void {
    if (!this.entries.delete(key)) return;
    this.orders.delete(key);
    if (this.tracking) this.changed.add(key);
  }

  /** The least recently active key (evicted first). */
  oldest(): string | undefined {
    const next = this.entries.keys().next();
    return next.done ? undefined : next.value;
  }

  /** Entries in least-recently-active order; deleting the current entry while iterating is safe. */
  [Symbol.iterator](): IterableIterator<[string, S]> {
    return this.entries[Symbol.iterator]();
  }

  values(): IterableIterator<S> {
    return this.entries.values();
  }

  /** Changes since the last call (the first call starts the tracking), each entity once with its current state serialized by `save`. */
  takeChanges(save: (state: S) => unknown): StateChange[] {
    this.tracking = true;
    const out: StateChange[] = [];
    for (const key of this.changed) {
      const state = this.entries.get(key);
      out.push({ key, order: this.orders.get(key) ?? 0, value: state === undefined ? null : save(state) });
    }
    this.changed.clear();
    return out;
  }

  /** Loads a restored entity; call in ascending `order`. Not reported as a change. */
  restore(key: string, order: number, state: S): void {
    this.entries.delete(key);
    this.entries.set(key, state);
    this.orders.set(key, order);
    if (order > this.seq) this.seq = order;
  }
}

/** Evidence references as stored in state snapshots (the detection's own shape, JSON-safe). */
export type Evidence = MamoriDetection['evidence'];

/** Reads a field of a restored snapshot object, failing loudly on a shape it did not write. */
export function field<T>(data: unknown, name: string): T {
  if (typeof data !== 'object' || data === null || !(name in data)) throw new Error(`analytic state snapshot lacks field ${name}`);
  return (data as Record<string, unknown>)[name] as T;
}
