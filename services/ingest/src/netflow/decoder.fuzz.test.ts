import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetflowDecoder, type DecodeOutcome } from './decoder.ts';
import { loadSampleGroups, samplesPresent } from './samples.ts';
import { FLOW_FIELDS, flowRow, ipfixPacket, set, templateRecord, v9Packet } from './test-packets.ts';

const EXPORTER = '198.51.100.7';

/** Real packets when the samples are there, synthetic ones otherwise: the seeds of the mutations. */
function seeds(): Buffer[] {
  const synthetic = [
    v9Packet([set(0, templateRecord(300, FLOW_FIELDS)), set(300, flowRow('10.0.0.1', '10.0.0.2', 1, 2, 6, 3, 4, 5, 6))]),
    ipfixPacket([set(2, templateRecord(400, [[8, 4], [82, 0xffff], [7, 4, 9]])), set(400, Buffer.from([10, 0, 0, 1, 3, 97, 98, 99, 0, 0, 0, 1]))]),
  ];
  if (!samplesPresent()) return synthetic;
  return [...synthetic, ...loadSampleGroups().flatMap((g) => g.files.flatMap((f) => f.datagrams))];
}

/** A decoder that knows every sample's templates, so mutated data sets reach the record decoding. */
function primedDecoder(packets: readonly Buffer[]): NetflowDecoder {
  const decoder = new NetflowDecoder({ pendingMaxSets: 64 });
  for (const p of packets) decoder.decode(p, EXPORTER, 0);
  return decoder;
}

function checkOutcome(packet: Buffer, out: DecodeOutcome, pendingBefore: number): void {
  // Every record consumes at least one byte of this packet or of one waiting set (each ≤ 64 KiB).
  expect(out.records.length).toBeLessThanOrEqual(packet.length + pendingBefore * 65_536);
  for (const record of out.records) {
    expect(Number.isFinite(record.start_ms)).toBe(true);
    expect(Number.isFinite(record.bytes)).toBe(true);
    expect(Object.keys(record.fields).length).toBeLessThanOrEqual(65);
    JSON.stringify(record);
  }
  for (const error of out.errors) expect(error.code).toMatch(/^NETFLOW_/);
}

describe('NetFlow decoder fuzzing', () => {
  const base = seeds();
  const decoder = primedDecoder(base);

  it('survives random bytes (with plausible version fields)', () => {
    const header = fc.constantFrom(5, 9, 10, 0, 7, 0xffff);
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 2048 }), (version, bytes) => {
        const packet = Buffer.from(bytes);
        if (packet.length >= 2) packet.writeUInt16BE(version, 0);
        const pending = decoder.pendingCount;
        checkOutcome(packet, decoder.decode(packet, EXPORTER, 0), pending);
      }),
      { numRuns: 3000 },
    );
  });

  it('survives mutated real packets: byte flips, truncation, length fields overwritten', () => {
    const mutation = fc.record({
      seed: fc.nat({ max: base.length - 1 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      length: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffff })), { nil: undefined }),
    });
    fc.assert(
      fc.property(mutation, ({ seed, flips, cut, length }) => {
        const packet = Buffer.from(base[seed] as Buffer);
        for (const [at, value] of flips) if (packet.length > 0) packet[at % packet.length] = value;
        if (length !== undefined && packet.length >= 2) packet.writeUInt16BE(length[1], length[0] % (packet.length - 1));
        const mutated = cut === undefined || packet.length === 0 ? packet : packet.subarray(0, cut % packet.length);
        const pending = decoder.pendingCount;
        checkOutcome(mutated, decoder.decode(mutated, EXPORTER, 0), pending);
      }),
      { numRuns: 5000 },
    );
    // The bounds held under the mutations.
    expect(decoder.pendingCount).toBeLessThanOrEqual(64);
    expect(decoder.templateCount).toBeLessThanOrEqual(10_000);
  });
});
