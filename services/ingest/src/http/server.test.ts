import { gzipSync } from 'node:zlib';
import { silentLogger } from '@mamori/core';
import { Registry } from '@mamori/metrics';
import { DEAD_LETTER_TOPIC, readDeadLetter } from '@mamori/pipeline';
import type { ConsumedMessage, Producer } from '@mamori/transport';
import { createMemoryTransport, MemoryBroker } from '@mamori/transport/memory';
import { describe, expect, it } from 'vitest';
import { buildHttpIngest, normalizerTopics, type HttpIngestOptions } from './server.ts';
import { hashSensorToken, parseSensorTokens, tokenAuthenticator } from './sensor-tokens.ts';

const TOKEN = 'sensor-one-secret-token-0123456789';
const OTHER = 'someone-elses-token-9876543210abcd';
const options: HttpIngestOptions = { maxBodyBytes: 64 * 1024, maxDecompressedBytes: 256 * 1024, maxLines: 1000, maxLineBytes: 512, maxInflightBytes: 1 << 20, retryAfterSeconds: 7 };
const TOPIC = 'telemetry.raw.zeek.conn';

async function setup(opts: Partial<HttpIngestOptions> = {}, wrap?: (p: Producer) => Producer) {
  const broker = new MemoryBroker();
  const transport = createMemoryTransport(broker);
  await transport.admin().ensureTopics([...normalizerTopics(), DEAD_LETTER_TOPIC].map((topic) => ({ topic })));
  const producer = transport.producer();
  await producer.connect();
  const registry = new Registry();
  const authenticate = tokenAuthenticator(parseSensorTokens(`zeek-edge-1:${hashSensorToken(TOKEN)}; other:${'0'.repeat(64)}`));
  const app = buildHttpIngest({ ...options, ...opts }, { producer: wrap ? wrap(producer) : producer, registry, logger: silentLogger(), authenticate });
  const read = (topic: string): ConsumedMessage[] => broker.topics.get(topic)?.flat() ?? [];
  return { app, read, registry };
}

const post = (payload: string | Buffer, headers: Record<string, string> = {}, path = '/v1/ingest/zeek/conn') => ({
  method: 'POST' as const,
  url: path,
  payload,
  headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', ...headers },
});

describe('HTTP bulk ingest', () => {
  it('accepts only raw topics a normalizer format reads', () => {
    expect(normalizerTopics()).toContain('telemetry.raw.syslog.line');
    expect(normalizerTopics()).toContain('telemetry.raw.cef.line');
  });

  it('produces each line as a record for the authenticated sensor and answers 202', async () => {
    const { app, read, registry } = await setup();
    const res = await app.inject(post('{"a":1}\n\n{"a":2}\r\n{"a":3}'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 3, rejected: 0 });
    const records = read(TOPIC);
    expect(records.map((r) => r.value!.toString())).toEqual(['{"a":1}', '{"a":2}', '{"a":3}']);
    expect(records.every((r) => r.headers['mamori.sensor_id']!.toString() === 'zeek-edge-1')).toBe(true);
    const text = await registry.metrics();
    expect(text).toContain('mamori_ingest_records_total{source="http",result="accepted"} 3');
    expect(text).toContain('mamori_ingest_requests_total{status="202"} 1');
  });

  it('refuses missing (401) and wrong (403) tokens before reading the body, and unknown topics (404)', async () => {
    const { app, read } = await setup();
    expect((await app.inject(post('{}', { authorization: '' }))).statusCode).toBe(401);
    expect((await app.inject(post('{}', { authorization: 'Basic abc' }))).statusCode).toBe(401);
    expect((await app.inject(post('{}', { authorization: `Bearer ${OTHER}` }))).statusCode).toBe(403);
    expect((await app.inject(post('{}', {}, '/v1/ingest/zeek/nope'))).statusCode).toBe(404);
    expect((await app.inject(post('{}', {}, '/v1/ingest/Zeek!/conn'))).statusCode).toBe(400);
    expect((await app.inject(post('{}', { 'content-type': 'application/json' }))).statusCode).toBe(415);
    expect(read(TOPIC)).toHaveLength(0);
  });

  it('inflates gzip bodies', async () => {
    const { app, read } = await setup();
    const res = await app.inject(post(gzipSync('<13>Jan  1 00:00:00 h a: x\n<13>Jan  1 00:00:01 h a: y\n'), { 'content-encoding': 'gzip' }, '/v1/ingest/syslog/line'));
    expect(res.json()).toEqual({ accepted: 2, rejected: 0 });
    expect(read('telemetry.raw.syslog.line')).toHaveLength(2);
  });

  it('stops inflating a decompression bomb at the bound: 413, nothing produced', async () => {
    const { app, read } = await setup();
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x61));
    expect(bomb.length).toBeLessThan(options.maxBodyBytes);
    const res = await app.inject(post(bomb, { 'content-encoding': 'gzip' }));
    expect(res.statusCode).toBe(413);
    expect(read(TOPIC)).toHaveLength(0);
    expect((await app.inject(post(Buffer.from('not gzip'), { 'content-encoding': 'gzip' }))).statusCode).toBe(400);
  });

  it('refuses oversize bodies and too many lines with 413', async () => {
    const { app } = await setup({ maxLines: 2 });
    expect((await app.inject(post('x'.repeat(70 * 1024)))).statusCode).toBe(413);
    expect((await app.inject(post('a\nb\nc\n'))).statusCode).toBe(413);
  });

  it('dead-letters lines over the length and lines that are not UTF-8, with the reason', async () => {
    const { app, read } = await setup();
    const body = Buffer.concat([Buffer.from('{"ok":1}\n'), Buffer.from('y'.repeat(600)), Buffer.from('\n'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('\n{"ok":2}\n')]);
    const res = await app.inject(post(body));
    expect(res.json()).toEqual({ accepted: 2, rejected: 2 });
    const letters = read(DEAD_LETTER_TOPIC).map(readDeadLetter);
    expect(letters.map((l) => [l.code, l.stage, l.sourceTopic, l.value!.length])).toEqual([
      ['INGEST_LINE_TOO_LONG', 'ingest', TOPIC, 512],
      ['INGEST_LINE_NOT_UTF8', 'ingest', TOPIC, 3],
    ]);
    expect(read(DEAD_LETTER_TOPIC)[0]!.headers['mamori.sensor_id']!.toString()).toBe('zeek-edge-1');
  });

  it('answers 202 only after the producer resolved, and 429 with Retry-After while too much is in flight', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sent = false;
    const { app } = await setup({ maxInflightBytes: 100 }, (p) => ({
      connect: () => p.connect(),
      close: () => p.close(),
      send: async (topic, messages) => {
        await gate;
        await p.send(topic, messages);
        sent = true;
      },
    }));
    let answered = false;
    const first = app.inject(post(`${'{"pad":"' + 'z'.repeat(200) + '"}'}\n`)).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    const busy = await app.inject(post('{"a":1}'));
    expect(busy.statusCode).toBe(429);
    expect(busy.headers['retry-after']).toBe('7');
    release();
    const res = await first;
    expect(sent).toBe(true);
    expect(res.statusCode).toBe(202);
    expect((await app.inject(post('{"a":1}'))).statusCode).toBe(202);
  });

  it('answers 503 with Retry-After when Kafka refuses the records', async () => {
    const { app } = await setup({}, (p) => ({ connect: () => p.connect(), close: () => p.close(), send: async () => Promise.reject(new Error('broker down')) }));
    const res = await app.inject(post('{"a":1}'));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
  });
});

describe('sensor tokens', () => {
  it('rejects malformed INGEST_SENSOR_TOKENS entries', () => {
    expect(() => parseSensorTokens('no-hash')).toThrow(/sensor id/);
    expect(() => parseSensorTokens('s1:abc')).toThrow(/64 hex/);
    expect(() => parseSensorTokens(`a:${'1'.repeat(64)};b:${'1'.repeat(64)}`)).toThrow(/another sensor/);
    expect(parseSensorTokens(`syslog:10.0.0.1:${'A'.repeat(64)}`)).toEqual([{ sensorId: 'syslog:10.0.0.1', tokenSha256: 'a'.repeat(64) }]);
  });
});
