import type { Logger } from '@mamori/core';
import { stageMetrics, type Registry } from '@mamori/metrics';
import { FORMATS } from '@mamori/normalizer';
import { DEAD_LETTER_TOPIC } from '@mamori/pipeline';
import type { OutgoingMessage, Producer } from '@mamori/transport';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { SENSOR_HEADERS } from '../sensor-headers.ts';
import { ingestDeadLetter } from '../syslog/dead-letter.ts';
import { BodyError, decodeBody, splitLines } from './body.ts';
import { ingestMetrics } from './metrics.ts';
import type { SensorAuthenticator } from './sensor-tokens.ts';

/** HTTP bulk ingest settings (INGEST_HTTP_* in config.ts). */
export interface HttpIngestOptions {
  /** INGEST_HTTP_MAX_BODY_BYTES: request body as sent (compressed when gzip). @default 10485760 */
  maxBodyBytes: number;
  /** INGEST_HTTP_MAX_DECOMPRESSED_BYTES: body after gunzip; inflating stops here (413). @default 67108864 */
  maxDecompressedBytes: number;
  /** INGEST_HTTP_MAX_LINES: non-blank lines per request (413 beyond). @default 100000 */
  maxLines: number;
  /** INGEST_HTTP_MAX_LINE_BYTES: longer lines are dead-lettered (INGEST_LINE_TOO_LONG). @default 1048576 */
  maxLineBytes: number;
  /** INGEST_HTTP_MAX_INFLIGHT_BYTES: above this many unacknowledged bytes, requests get 429. @default 67108864 */
  maxInflightBytes: number;
  /** INGEST_HTTP_RETRY_AFTER_S: Retry-After on 429 and 503. @default 5 */
  retryAfterSeconds: number;
}

export interface HttpIngestDeps {
  producer: Producer;
  registry: Registry;
  logger: Logger;
  authenticate: SensorAuthenticator;
  /** Raw topics accepted; default: every topic a normalizer format reads. */
  topics?: readonly string[];
}

const NAME = /^[a-z0-9_-]{1,32}$/;

/** Every raw topic some normalizer format reads: the only topics HTTP ingest writes. */
export function normalizerTopics(): string[] {
  return FORMATS.flatMap((f) => f.topics);
}

declare module 'fastify' {
  interface FastifyRequest {
    sensorId?: string;
  }
}

/**
 * `POST /v1/ingest/:source/:type`: NDJSON (or plain lines), optionally gzip, from an authenticated
 * sensor; each line becomes one record on `telemetry.raw.<source>.<type>` with `mamori.sensor_id`
 * set to the sensor. Answers 202 `{accepted, rejected}` only after Kafka acknowledged every record
 * and dead letter (acks=all), so a sensor that gets no 202 retries the whole request safely
 * (duplicates are possible, loss is not).
 */
export function buildHttpIngest(options: HttpIngestOptions, deps: HttpIngestDeps): FastifyInstance {
  const topics = new Set(deps.topics ?? normalizerTopics());
  const metrics = ingestMetrics(deps.registry);
  const stage = stageMetrics(deps.registry);
  let inflightBytes = 0;
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, disableRequestLogging: true, bodyLimit: options.maxBodyBytes });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl', 'text/plain'], { parseAs: 'buffer', bodyLimit: options.maxBodyBytes }, (_request, body, done) => done(null, body));

  app.addHook('onResponse', async (_request, reply) => {
    metrics.requests.inc({ status: String(reply.statusCode) });
  });
  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.code ?? 'bad_request', message: error.message });
    request.log.error({ err: error }, 'ingest request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });

  app.post<{ Params: { source: string; type: string } }>(
    '/v1/ingest/:source/:type',
    {
      // Before the body is read: who is it, may the topic be written, is there room.
      onRequest: async (request, reply) => {
        const auth = deps.authenticate(request.headers.authorization);
        if (!auth.ok) {
          if (auth.status === 401) reply.header('www-authenticate', 'Bearer');
          return reply.code(auth.status).send({ error: auth.status === 401 ? 'unauthorized' : 'forbidden', message: auth.status === 401 ? 'a sensor bearer token is required' : 'the token belongs to no sensor' });
        }
        request.sensorId = auth.sensorId;
        const { source, type } = request.params as { source: string; type: string };
        if (!NAME.test(source) || !NAME.test(type)) return reply.code(400).send({ error: 'bad_request', message: 'source and type are 1-32 of a-z, 0-9, _ and -' });
        if (!topics.has(`telemetry.raw.${source}.${type}`)) return reply.code(404).send({ error: 'unknown_topic', message: `no normalizer format reads telemetry.raw.${source}.${type}` });
        if (inflightBytes > options.maxInflightBytes) {
          return reply.code(429).header('retry-after', String(options.retryAfterSeconds)).send({ error: 'busy', message: 'too many records are waiting for Kafka; retry later' });
        }
        return undefined;
      },
    },
    async (request, reply) => {
      const topic = `telemetry.raw.${request.params.source}.${request.params.type}`;
      const sensorId = request.sensorId!;
      if (!Buffer.isBuffer(request.body)) return reply.code(415).send({ error: 'unsupported_media_type', message: 'send application/x-ndjson' });
      let lines;
      try {
        const body = await decodeBody(request.body, request.headers['content-encoding'], options.maxDecompressedBytes);
        lines = splitLines(body, options.maxLines, options.maxLineBytes);
      } catch (error) {
        if (error instanceof BodyError) return reply.code(error.status).send({ error: error.code, message: error.message });
        throw error;
      }
      const headers = { [SENSOR_HEADERS.sensorId]: sensorId };
      const now = Date.now();
      const records: OutgoingMessage[] = [];
      const letters: OutgoingMessage[] = [];
      const codes: string[] = [];
      let bytes = 0;
      for (const line of lines) {
        bytes += line.bytes.length + 64;
        if (line.ok) {
          records.push({ key: sensorId, value: line.bytes, headers, timestamp: now });
        } else {
          letters.push(ingestDeadLetter(topic, { key: sensorId, value: line.bytes, headers }, line.code, line.reason));
          codes.push(line.code);
        }
      }
      inflightBytes += bytes;
      try {
        await Promise.all([records.length > 0 ? deps.producer.send(topic, records) : undefined, letters.length > 0 ? deps.producer.send(DEAD_LETTER_TOPIC, letters) : undefined]);
      } catch (error) {
        request.log.error({ err: error, error_code: (error as { code?: string }).code }, 'ingest records could not be produced');
        return reply.code(503).header('retry-after', String(options.retryAfterSeconds)).send({ error: 'unavailable', message: 'Kafka did not take the records; retry the request' });
      } finally {
        inflightBytes -= bytes;
      }
      if (records.length > 0) {
        metrics.records.inc({ source: 'http', result: 'accepted' }, records.length);
        stage.emitted.inc({ stage: 'ingest', topic }, records.length);
      }
      if (letters.length > 0) metrics.records.inc({ source: 'http', result: 'rejected' }, letters.length);
      for (const code of codes) stage.deadLettered.inc({ stage: 'ingest', topic, error_code: code });
      return reply.code(202).send({ accepted: records.length, rejected: letters.length });
    },
  );
  return app;
}

/** Builds and listens; resolves with the address and a close function. */
export async function startHttpIngest(options: HttpIngestOptions & { host: string; port: number }, deps: HttpIngestDeps): Promise<{ url: string; close(): Promise<void> }> {
  const app = buildHttpIngest(options, deps);
  const url = await app.listen({ host: options.host, port: options.port });
  return { url, close: () => app.close() };
}

export const HTTP_INGEST_ERROR_CODES = ['INGEST_LINE_TOO_LONG', 'INGEST_LINE_NOT_UTF8'] as const;
