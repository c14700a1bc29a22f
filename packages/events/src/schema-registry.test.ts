import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventCodec } from './codec.ts';
import { withEventDefaults } from './defaults.ts';
import { CodecError } from './errors.ts';
import type { MamoriEvent } from './model.ts';
import { ConfluentSchemaRegistry } from './schema-registry.ts';

/**
 * The Schema Registry wire path: register under `<topic>-value`, encode with Confluent framing,
 * decode elsewhere by looking the id up. The registry here is a minimal HTTP server speaking the
 * two REST calls used (POST /subjects/{s}/versions, GET /schemas/ids/{id}); no Schema Registry
 * runs on these machines.
 */
let server: Server;
let url: string;
const schemas: string[] = [];
let requests = 0;
const compatibility: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests += 1;
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
      const subject = /^\/subjects\/([^/]+)\/versions$/.exec(req.url ?? '');
      if (req.method === 'POST' && subject) {
        const { schema } = JSON.parse(body) as { schema: string };
        let id = schemas.indexOf(schema) + 1;
        if (id === 0) id = schemas.push(schema);
        res.end(JSON.stringify({ id }));
        return;
      }
      if (/^\/config\//.test(req.url ?? '')) {
        // Subject compatibility: Mamori asks for FULL, matching its own compatibility gate.
        const asked = body ? (JSON.parse(body) as { compatibility?: string }).compatibility : undefined;
        if (asked) compatibility.push(asked);
        const level = asked ?? compatibility.at(-1);
        if (!level) {
          // Like the registry: a subject without its own setting answers 404 here.
          res.statusCode = 404;
          res.end(JSON.stringify({ error_code: 40408, message: 'Subject does not have subject-level compatibility configured' }));
          return;
        }
        res.end(JSON.stringify({ compatibility: level, compatibilityLevel: level }));
        return;
      }
      const byId = /^\/schemas\/ids\/(\d+)/.exec(req.url ?? '');
      if (req.method === 'GET' && byId) {
        const schema = schemas[Number(byId[1]) - 1];
        if (!schema) {
          res.statusCode = 404;
          res.end(JSON.stringify({ error_code: 40403, message: 'Schema not found' }));
          return;
        }
        res.end(JSON.stringify({ schema }));
        return;
      }
      res.statusCode = 404;
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const event = (): MamoriEvent =>
  withEventDefaults({
    event_id: 'e1',
    event_class: 'network_activity',
    time: 1_700_000_000_000,
    ingest_time: 1_700_000_000_500,
    org_id: 'org',
    sensor_id: 's',
    source_format: 'zeek.conn',
    src_ip: '10.0.0.1',
    src_port: 1234,
    dst_ip: '10.0.0.2',
    dst_port: 80,
    protocol: 'tcp',
    bytes_out: 1,
    bytes_in: 2,
    packets_out: 1,
    packets_in: 1,
    duration_ms: 5,
    conn_state: 'SF',
    community_id: null,
    raw: { topic: 't', partition: 0, offset: 1 },
    attributes: {},
  });

describe('Confluent Schema Registry', () => {
  it('registers, encodes with Confluent framing, and decodes by looking the id up', async () => {
    const registry = new ConfluentSchemaRegistry({ url });
    const schema = new EventCodec().schema;
    const id = await registry.register('telemetry.events', schema);
    expect(await registry.register('telemetry.events', schema)).toBe(id);
    expect(compatibility).toContain('FULL');

    const producerSide = new EventCodec({ confluentId: id });
    const bytes = producerSide.encode(event());
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(id);
    expect(producerSide.decode(bytes)).toEqual(event());

    // A consumer that has never seen the id finds it in the registry once, then decodes synchronously.
    const consumerSide = new EventCodec({ lookup: new ConfluentSchemaRegistry({ url }) });
    expect(() => consumerSide.decode(bytes)).toThrow(CodecError);
    const before = requests;
    await consumerSide.prefetch([bytes, bytes, null, Buffer.from('junk')]);
    expect(requests - before).toBe(1);
    expect(consumerSide.decode(bytes)).toEqual(event());
    // Single-object encoding still decodes on the same codec.
    expect(consumerSide.decode(new EventCodec().encode(event()))).toEqual(event());
  });

  it('leaves an unknown id to decode (SCHEMA_UNKNOWN) and fails the batch when the registry is down', async () => {
    const registry = new ConfluentSchemaRegistry({ url });
    const unknown = Buffer.concat([Buffer.from([0, 0, 0, 0x30, 0x39]), Buffer.from([2, 0])]);
    const codec = new EventCodec({ lookup: registry });
    await codec.prefetch([unknown]);
    expect(() => codec.decode(unknown)).toThrow(expect.objectContaining({ code: 'SCHEMA_UNKNOWN' }));

    const down = new EventCodec({ lookup: new ConfluentSchemaRegistry({ url: 'http://127.0.0.1:1' }) });
    await expect(down.prefetch([unknown])).rejects.toMatchObject({ code: 'SCHEMA_LOOKUP_FAILED', retryable: true });
  }, 30_000);
});
