import { describe, expect, it } from 'vitest';
import { eventId, eventIdAt, eventIdPrefix, fnv1a64Hex } from './event-id.ts';

/** Byte-wise FNV-1a 64 with BigInt, straight from the definition. */
function reference(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

describe('FNV-1a 64 event ids', () => {
  it('matches the published FNV-1a 64 vectors', () => {
    expect(fnv1a64Hex('')).toBe('cbf29ce484222325');
    expect(fnv1a64Hex('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Hex('foobar')).toBe('85944171f73967e8');
  });

  it('agrees with a BigInt reference on topic:partition:offset:line strings', () => {
    for (let i = 0; i < 500; i++) {
      const text = `telemetry.raw.zeek.conn:${i % 7}:${i * 7919}:${i % 13}`;
      expect(fnv1a64Hex(text)).toBe(reference(text));
    }
  });

  it('gives the same id through the prefix shortcut', () => {
    const prefix = eventIdPrefix('telemetry.raw.zeek.conn', 3, 123456789);
    for (const line of [0, 1, 9, 10, 12345]) expect(eventIdAt(prefix, line)).toBe(eventId('telemetry.raw.zeek.conn', 3, 123456789, line));
  });
});

describe('event id prefix fast path', () => {
  it('equals the plain string hash for every kind of partition, offset and line number', () => {
    const numbers = [0, 1, 9, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, 2 ** 53 - 1, 1e21, -1, 1.5, Number.NaN];
    for (const topic of ['telemetry.raw.zeek.conn', 'telemetry.raw.suricata.eve', 'x']) {
      for (const partition of numbers) {
        for (const offset of numbers) {
          const prefix = eventIdPrefix(topic, partition, offset);
          for (const line of [0, 7, 10, 1000]) expect(eventIdAt(prefix, line)).toBe(reference(`${topic}:${partition}:${offset}:${line}`));
        }
      }
    }
  });

  it('keeps a prefix usable after other ids were computed', () => {
    const a = eventIdPrefix('telemetry.raw.zeek.conn', 1, 2);
    eventIdPrefix('telemetry.raw.zeek.dns', 3, 4);
    expect(eventIdAt(a, 5)).toBe(eventId('telemetry.raw.zeek.conn', 1, 2, 5));
  });
});
