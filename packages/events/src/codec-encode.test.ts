import { describe, expect, it } from 'vitest';
import { EventCodec, RecordCodec } from './codec.ts';
import { CodecError } from './errors.ts';
import type { MamoriEvent } from './model.ts';
import { schemaVersion } from './schemas.ts';

// encode() writes with the compiled writer (avro-writer.ts) into shared slabs and hands out views:
// every returned Buffer must keep its own bytes, whatever is encoded after it.

function conn(i: number, attributes: Record<string, string> = { uid: `C${i}`, service: 'dns' }): MamoriEvent {
  return {
    event_id: `id-${i}`,
    event_class: 'network_activity',
    time: 1_700_000_000_000 + i,
    ingest_time: 1_700_000_001_000,
    org_id: 'org-1',
    sensor_id: 'zeek-01',
    source_format: 'zeek.conn',
    src_ip: '10.0.0.1',
    src_port: i % 65536,
    dst_ip: '2001:db8::1',
    dst_port: 53,
    protocol: 'udp',
    bytes_out: i * 7,
    bytes_in: 5_000_000_000 + i,
    packets_out: 1,
    packets_in: 2,
    duration_ms: 15,
    conn_state: i % 3 === 0 ? null : 'SF',
    community_id: null,
    raw: { topic: 'telemetry.raw.zeek.conn', partition: 1, offset: 10_000_000_000 + i },
    attributes,
  };
}

function single(codec: RecordCodec<unknown>, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xc3, 0x01]), codec.schema.fingerprint, body]);
}

describe('EventCodec.encode (compiled writer)', () => {
  it('returns buffers that keep their bytes while later values are encoded (slab views never overlap)', () => {
    const codec = new EventCodec();
    const kept: { event: MamoriEvent; bytes: Buffer; copy: Buffer }[] = [];
    // Enough events to fill several slabs, with now and then one larger than a slab.
    for (let i = 0; i < 3000; i++) {
      const big = i % 997 === 5 ? { blob: 'x'.repeat(70_000 + i) } : undefined;
      const event = conn(i, big);
      const bytes = codec.encode(event);
      kept.push({ event, bytes, copy: Buffer.from(bytes) });
    }
    for (const { event, bytes, copy } of kept) {
      expect(bytes.equals(copy)).toBe(true);
      expect(bytes.equals(single(codec as RecordCodec<unknown>, codec.schema.type.toBuffer(event)))).toBe(true);
    }
  });

  it('writes Confluent framing through the compiled writer', () => {
    const codec = new EventCodec({ confluentId: 258 });
    const event = conn(1);
    const bytes = codec.encode(event);
    expect([...bytes.subarray(0, 5)]).toEqual([0, 0, 0, 1, 2]);
    expect(bytes.subarray(5).equals(codec.schema.type.toBuffer(event))).toBe(true);
    expect({ ...codec.decode(bytes) }).toMatchObject({ event_id: 'id-1', bytes_in: 5_000_000_001 });
  });

  it('throws CodecError AVRO_ENCODE_FAILED naming the field, and the next value encodes cleanly', () => {
    const codec = new EventCodec();
    const bad = { ...conn(2), attributes: { uid: 7 } } as unknown as MamoriEvent;
    let error: unknown;
    try {
      codec.encode(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).code).toBe('AVRO_ENCODE_FAILED');
    expect((error as CodecError).message).toContain('attributes');
    expect(() => codec.encode(null as unknown as MamoriEvent)).toThrow(CodecError);
    const good = conn(3);
    expect(codec.encode(good).equals(single(codec as RecordCodec<unknown>, codec.schema.type.toBuffer(good)))).toBe(true);
  });

  it('still encodes schemas the writer does not compile, through avsc', () => {
    const wrapped = schemaVersion({
      type: 'record',
      name: 'W',
      namespace: 'test',
      fields: [
        { name: 'u', type: [{ type: 'record', name: 'A', fields: [{ name: 'a', type: 'int' }] }, { type: 'record', name: 'B', fields: [{ name: 'b', type: 'int' }] }] },
        { name: 'n', type: 'string', default: 'd' },
      ],
    });
    const codec = new RecordCodec<Record<string, unknown>>('test.W', { reader: wrapped });
    const value = { u: { 'test.B': { b: 3 } } };
    const bytes = codec.encode(value);
    expect(bytes.equals(single(codec as RecordCodec<unknown>, wrapped.type.toBuffer({ ...value, n: 'd' })))).toBe(true);
    expect(() => codec.encode({ u: { C: {} } })).toThrow(CodecError);
  });
});

describe('RecordCodec.splitEncoder', () => {
  it('gives encode()\'s bytes when the caller writes the split field, across slab boundaries', () => {
    const codec = new EventCodec();
    const split = codec.splitEncoder('attributes')!;
    // The caller's writer: the map as Avro (one block, then the empty one), here through a second codec's bytes.
    const plain = new EventCodec();
    const values: Buffer[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const attributes: Record<string, string> = { uid: `C${i}`, history: 'ShADadFf'.repeat(i % 40), note: 'x'.repeat((i * 37) % 3000) };
      const event = conn(i, attributes);
      const { attributes: _, ...head } = event;
      const mapBytes = mapEncoding(attributes);
      values.push(
        split(head, (buf, pos) => {
          for (let j = 0; j < mapBytes.length; j++) if (pos + j < buf.length) buf[pos + j] = mapBytes[j]!;
          return pos + mapBytes.length;
        }),
      );
      expected.push(plain.encode(event).toString('hex'));
    }
    expect(values.map((v) => v.toString('hex'))).toEqual(expected);
    expect(values.map((v) => codec.decode(v).attributes['uid'])).toEqual(expected.map((_, i) => `C${i}`));
  });

  it('refuses what encode() refuses, and a field the schema does not have', () => {
    const codec = new EventCodec();
    const split = codec.splitEncoder('attributes')!;
    const { attributes: _, ...head } = conn(1);
    expect(() => split({ ...head, src_port: 1.5 }, (_buf, pos) => pos)).toThrow(CodecError);
    expect(codec.splitEncoder('nope' as keyof MamoriEvent & string)).toBeUndefined();
  });
});

/** A string map's Avro encoding: count, key/value strings, the empty block (ASCII only). */
function mapEncoding(map: Record<string, string>): Buffer {
  const parts: number[] = [];
  const long = (n: number): void => {
    let z = n * 2;
    while (z > 0x7f) {
      parts.push((z & 0x7f) | 0x80);
      z = Math.floor(z / 128);
    }
    parts.push(z);
  };
  const entries = Object.entries(map);
  if (entries.length > 0) {
    long(entries.length);
    for (const [k, v] of entries) {
      long(k.length);
      parts.push(...Buffer.from(k));
      long(v.length);
      parts.push(...Buffer.from(v));
    }
  }
  parts.push(0);
  return Buffer.from(parts);
}
