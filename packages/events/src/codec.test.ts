import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { DetectionCodec, EventCodec, RecordCodec } from './codec.ts';
import { withEventDefaults } from './defaults.ts';
import { CodecError } from './errors.ts';
import type { MamoriDetection, MamoriEvent } from './model.ts';
import { loadSchemas, schemaVersion } from './schemas.ts';

function sampleEvent(overrides: Partial<MamoriEvent> = {}): MamoriEvent {
  return withEventDefaults({
    event_id: '9f2c1a7be0d34c55',
    event_class: 'network_activity',
    time: 1_700_000_000_123,
    ingest_time: 1_700_000_001_000,
    org_id: 'org-1',
    sensor_id: 'zeek-01',
    source_format: 'zeek.conn',
    src_ip: '10.20.0.5',
    src_port: 51234,
    dst_ip: '2001:db8::1',
    dst_port: 443,
    protocol: 'tcp',
    bytes_out: 1234,
    bytes_in: 5_000_000_000,
    packets_out: 10,
    packets_in: 12,
    duration_ms: 1500,
    conn_state: 'SF',
    community_id: null,
    raw: { topic: 'telemetry.raw.zeek.conn', partition: 3, offset: 9_007_199_254 },
    attributes: { uid: 'CAbc123', service: 'ssl' },
    ...overrides,
  });
}

function sampleDetection(): MamoriDetection {
  return {
    detection_id: 'd-1',
    rule_id: 'net.horizontal_scan',
    rule_version: 2,
    title: 'Horizontal port scan',
    severity: 'high',
    confidence: 0.75,
    tactics: ['TA0007'],
    techniques: ['T1046'],
    org_id: 'org-1',
    entity: { type: 'ip', value: '10.20.0.66' },
    src_ip: '10.20.0.66',
    first_seen: 1_700_000_000_000,
    last_seen: 1_700_000_060_000,
    detected_at: 1_700_000_061_000,
    count: 120,
    summary: '10.20.0.66 probed 120 hosts on 445/tcp',
    evidence: [{ event_id: 'e1', topic: 'telemetry.raw.zeek.conn', partition: 0, offset: 42 }],
    attributes: { distinct_hosts: '120' },
    ruleset_checksum: 'sha256:abc',
  };
}

/** The v1 Event schema plus one defaulted field: what a compatible v2 looks like. */
function eventV2Schema(): object {
  const v1 = loadSchemas().latest('mamori.Event').type.schema({ exportAttrs: true }) as { fields: object[] };
  return { ...v1, fields: [...v1.fields, { name: 'tenant_tier', type: 'string', default: 'standard' }] };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof CodecError) return error.code;
    throw error;
  }
  return 'NO_ERROR';
}

describe('EventCodec', () => {
  const codec = new EventCodec();

  it('round-trips an event in single-object encoding', () => {
    const event = sampleEvent();
    const buf = codec.encode(event);
    expect(buf.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(buf.subarray(2, 10)).toEqual(codec.schema.fingerprint);
    expect({ ...codec.decode(buf) }).toEqual(event);
  });

  it('keeps timestamps as epoch-ms numbers', () => {
    const decoded = codec.decode(codec.encode(sampleEvent()));
    expect(typeof decoded.time).toBe('number');
    expect(decoded.time).toBe(1_700_000_000_123);
  });

  it('grows its scratch buffer for large values', () => {
    const attributes: Record<string, string> = {};
    for (let i = 0; i < 500; i++) attributes[`k${i}`] = 'x'.repeat(100);
    const event = sampleEvent({ attributes });
    expect(codec.decode(codec.encode(event)).attributes).toEqual(attributes);
  });

  it('rejects values that do not match the schema with AVRO_ENCODE_FAILED', () => {
    expect(codeOf(() => codec.encode({} as MamoriEvent))).toBe('AVRO_ENCODE_FAILED');
    expect(codeOf(() => codec.encode(sampleEvent({ src_ip: 7 as unknown as string })))).toBe('AVRO_ENCODE_FAILED');
  });

  it('reports an unknown fingerprint as SCHEMA_UNKNOWN', () => {
    const buf = codec.encode(sampleEvent());
    buf[5] = (buf[5] ?? 0) ^ 0xff;
    expect(codeOf(() => codec.decode(buf))).toBe('SCHEMA_UNKNOWN');
  });

  it('reports truncated, trailing and unframed bytes as AVRO_DECODE_FAILED', () => {
    const buf = codec.encode(sampleEvent());
    expect(codeOf(() => codec.decode(buf.subarray(0, buf.length - 3)))).toBe('AVRO_DECODE_FAILED');
    expect(codeOf(() => codec.decode(Buffer.concat([buf, Buffer.from([1])])))).toBe('AVRO_DECODE_FAILED');
    expect(codeOf(() => codec.decode(Buffer.from('{"event_id":"x"}')))).toBe('AVRO_DECODE_FAILED');
    expect(codeOf(() => codec.decode(Buffer.alloc(0)))).toBe('AVRO_DECODE_FAILED');
  });

  it('rejects a forged array count quickly instead of looping', () => {
    const det = new DetectionCodec();
    const buf = det.encode({ ...sampleDetection(), tactics: [], techniques: [] });
    // Find the tactics block count (0 for an empty array) right after the confidence float.
    const body = buf.subarray(10);
    const tacticsAt = 10 + body.indexOf(Buffer.from([0, 0, 0x40, 0x3f])) + 4; // 0.75f LE
    const forged = Buffer.concat([buf.subarray(0, tacticsAt), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]), buf.subarray(tacticsAt + 1)]);
    const started = Date.now();
    expect(codeOf(() => det.decode(forged))).toBe('AVRO_DECODE_FAILED');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('DetectionCodec', () => {
  it('round-trips a detection', () => {
    const codec = new DetectionCodec();
    const detection = sampleDetection();
    const decoded = codec.decode(codec.encode(detection));
    expect(JSON.parse(JSON.stringify(decoded))).toEqual(detection);
  });

  it('does not accept an event', () => {
    const buf = new EventCodec().encode(sampleEvent());
    expect(codeOf(() => new DetectionCodec().decode(buf))).toBe('SCHEMA_UNKNOWN');
  });
});

describe('schema evolution', () => {
  const v1 = loadSchemas().latest('mamori.Event');
  const v2 = schemaVersion(eventV2Schema(), 2, 'mamori.event.v2 (test)');

  it('gives v1 and v2 different fingerprints', () => {
    expect(v2.fingerprintHex).not.toBe(v1.fingerprintHex);
  });

  it('reads v1 data with a v2 reader, filling the default', () => {
    const v2codec = new EventCodec({ reader: v2 });
    const decoded = v2codec.decode(new EventCodec().encode(sampleEvent())) as MamoriEvent & { tenant_tier: string };
    expect(decoded.tenant_tier).toBe('standard');
    expect(decoded.src_ip).toBe('10.20.0.5');
  });

  it('reads v2 data with a v1 reader that knows the v2 writer schema, dropping the new field', () => {
    const v2codec = new RecordCodec<MamoriEvent & { tenant_tier: string }>('mamori.Event', { reader: v2 });
    const buf = v2codec.encode({ ...sampleEvent(), tenant_tier: 'gold' });
    const v1codec = new EventCodec({ writers: [v2] });
    const decoded = v1codec.decode(buf);
    expect({ ...decoded }).toEqual(sampleEvent());
    expect('tenant_tier' in decoded).toBe(false);
    // Without the v2 schema the fingerprint is unknown, never misread.
    expect(codeOf(() => new EventCodec().decode(buf))).toBe('SCHEMA_UNKNOWN');
  });

  it('refuses an incompatible writer with SCHEMA_INCOMPATIBLE', () => {
    const bad = schemaVersion({ type: 'record', name: 'mamori.Event', fields: [{ name: 'x', type: 'int' }] });
    expect(codeOf(() => new EventCodec({ writers: [bad] }))).toBe('SCHEMA_INCOMPATIBLE');
  });
});

describe('Confluent framing', () => {
  function confluent(id: number, body: Buffer): Buffer {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(id, 1);
    return Buffer.concat([head, body]);
  }
  const v1 = loadSchemas().latest('mamori.Event');
  const body = v1.type.toBuffer(sampleEvent());

  it('decodes a registered id synchronously', () => {
    const codec = new EventCodec();
    codec.registerId(7, v1.type);
    expect({ ...codec.decode(confluent(7, body)) }).toEqual(sampleEvent());
  });

  it('looks an unseen id up once, then caches it', async () => {
    let calls = 0;
    const codec = new EventCodec({
      lookup: {
        byId: async (id) => {
          calls++;
          return id === 42 ? avsc.Type.forSchema(JSON.parse(v1.canonical) as avsc.Schema) : undefined;
        },
      },
    });
    expect(codeOf(() => codec.decode(confluent(42, body)))).toBe('SCHEMA_UNKNOWN');
    const [a, b] = await Promise.all([codec.decodeAsync(confluent(42, body)), codec.decodeAsync(confluent(42, body))]);
    expect({ ...a }).toEqual(sampleEvent());
    expect({ ...b }).toEqual(sampleEvent());
    expect(calls).toBe(1);
    await expect(codec.decodeAsync(confluent(43, body))).rejects.toMatchObject({ code: 'SCHEMA_UNKNOWN' });
  });

  it('reports a failing lookup as retryable SCHEMA_LOOKUP_FAILED', async () => {
    const codec = new EventCodec({ lookup: { byId: () => Promise.reject(new Error('registry down')) } });
    await expect(codec.decodeAsync(confluent(1, body))).rejects.toMatchObject({ code: 'SCHEMA_LOOKUP_FAILED', retryable: true });
  });
});

describe('garbage never escapes as anything but CodecError', () => {
  // Seeded mulberry32 so that a failure reproduces.
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('survives 5000 mutated events and detections', () => {
    const random = rng(20240601);
    const events = new EventCodec();
    const detections = new DetectionCodec();
    const seeds = [
      { codec: events as RecordCodec<unknown>, buf: events.encode(sampleEvent()) },
      { codec: detections as RecordCodec<unknown>, buf: detections.encode(sampleDetection()) },
    ];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const { codec, buf: original } = seeds[i % 2]!;
      let buf = Buffer.from(original);
      const mode = Math.floor(random() * 4);
      if (mode === 0) {
        // Flip a few body bytes, keeping the header so that the body decoder is exercised.
        for (let k = 0; k < 1 + Math.floor(random() * 4); k++) {
          const at = 10 + Math.floor(random() * (buf.length - 10));
          buf[at] = Math.floor(random() * 256);
        }
      } else if (mode === 1) {
        buf = buf.subarray(0, Math.floor(random() * buf.length));
      } else if (mode === 2) {
        const at = 10 + Math.floor(random() * (buf.length - 10));
        const junk = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 16) }, () => Math.floor(random() * 256)));
        buf = Buffer.concat([buf.subarray(0, at), junk, buf.subarray(at)]);
      } else {
        buf = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
        if (random() < 0.5 && buf.length > 5) buf[0] = 0; // Confluent-looking
      }
      let outcome = 'ok';
      try {
        codec.decode(buf);
      } catch (error) {
        expect(error).toBeInstanceOf(CodecError);
        outcome = (error as CodecError).code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect(outcomes.get('AVRO_DECODE_FAILED')).toBeGreaterThan(100);
  });
});
