/**
 * HyperLogLog (Flajolet et al.) with linear counting for small cardinalities. Used by value_count
 * once a group's distinct values exceed the exact bound: 2^precision one-byte registers, standard
 * error ~1.04/sqrt(2^precision) (precision 11: 2 KiB, ~2.3%).
 */
export class HyperLogLog {
  readonly registers: Uint8Array;
  private readonly p: number;

  constructor(precision = 11, registers?: Uint8Array) {
    this.p = precision;
    this.registers = registers ?? new Uint8Array(1 << precision);
  }

  /** Adds a value; returns the register index if it changed, else -1. */
  add(value: string): number {
    const [h1, h2] = hash64(value);
    const index = h1 >>> (32 - this.p);
    // Rank from the other 32 bits: position of the first 1 bit (1-based), capped.
    const rank = Math.min(Math.clz32(h2) + 1, 33);
    if (rank > this.registers[index]!) {
      this.registers[index] = rank;
      return index;
    }
    return -1;
  }

  estimate(): number {
    return estimateFromRegisters(this.registers);
  }
}

/** 2^-r for every possible register value. */
export const INVERSE_POWERS: Float64Array = Float64Array.from({ length: 64 }, (_, r) => 2 ** -r);

/** Cardinality estimate of registers (possibly the max-merge of several sketches). */
export function estimateFromRegisters(registers: Uint8Array): number {
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < registers.length; i++) {
    const r = registers[i]!;
    sum += INVERSE_POWERS[r]!;
    if (r === 0) zeros += 1;
  }
  return estimateFromSums(registers.length, sum, zeros);
}

/** The estimate from the register count, the sum of 2^-register and the count of zero registers. */
export function estimateFromSums(m: number, sum: number, zeros: number): number {
  const alpha = m >= 128 ? 0.7213 / (1 + 1.079 / m) : m === 64 ? 0.709 : m === 32 ? 0.697 : 0.673;
  const raw = (alpha * m * m) / sum;
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}

/** cyrb53-style 64-bit string hash as two 32-bit halves (fast, well mixed; not cryptographic). */
export function hash64(text: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}
