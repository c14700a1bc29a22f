/**
 * A hash map from unsigned 32-bit integers (IPv4 addresses) to values: open addressing with linear
 * probing over typed arrays. A `Map<number, V>` boxes keys above 2^30 as heap numbers (most
 * addresses) and costs several words per entry; here a key is 4 bytes plus one value slot, and a
 * lookup is a multiply, a shift and (almost always) one or two probes.
 */
export class U32Map<V> {
  private keys: Uint32Array;
  private used: Uint8Array;
  private values: (V | undefined)[];
  private mask: number;
  private count = 0;

  constructor(capacity = 16) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.keys = new Uint32Array(size);
    this.used = new Uint8Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  get(key: number): V | undefined {
    const keys = this.keys;
    const used = this.used;
    const mask = this.mask;
    let i = slot(key, mask);
    while (used[i] === 1) {
      if (keys[i] === key) return this.values[i];
      i = (i + 1) & mask;
    }
    return undefined;
  }

  set(key: number, value: V): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const mask = this.mask;
    let i = slot(key, mask);
    while (this.used[i] === 1) {
      if (this.keys[i] === key) {
        this.values[i] = value;
        return;
      }
      i = (i + 1) & mask;
    }
    this.used[i] = 1;
    this.keys[i] = key;
    this.values[i] = value;
    this.count++;
  }

  /** Calls `fn` with every key (table order). */
  forEachKey(fn: (key: number) => void): void {
    const { keys, used } = this;
    for (let i = 0; i < keys.length; i++) if (used[i] === 1) fn(keys[i]!);
  }

  private grow(): void {
    const { keys, used, values } = this;
    const size = keys.length * 2;
    this.keys = new Uint32Array(size);
    this.used = new Uint8Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.count = 0;
    for (let i = 0; i < keys.length; i++) if (used[i] === 1) this.set(keys[i]!, values[i] as V);
  }
}

/** Multiplicative hashing (Knuth) of the key to a slot; addresses cluster in their high bits, so mix first. */
function slot(key: number, mask: number): number {
  const h = Math.imul(key ^ (key >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) & mask;
}
