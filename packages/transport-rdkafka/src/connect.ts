import type { Logger } from '@mamori/core';
import type { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';
import { errorMessage } from '@mamori/core';
import { TransportError } from '@mamori/transport';
import type { KafkaConsumer, LibrdKafkaError, Metadata, Producer } from 'node-rdkafka';

type NativeClient = Producer | KafkaConsumer;

/** node-rdkafka's typed `on` overloads do not unify across client kinds; both are EventEmitters. */
const events = (client: NativeClient): EventEmitter => client as unknown as EventEmitter;
import { errorCodeOf, wrapError } from './errors.ts';
import { ERR } from './native.ts';

/** Opens and closes a TCP connection to `host:port`; rejects with the socket error. */
function probe(broker: string, timeoutMs: number): Promise<void> {
  const at = broker.lastIndexOf(':');
  const host = broker.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(at + 1));
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`connect ${broker} timed out after ${timeoutMs} ms`));
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * Fails fast when no bootstrap broker accepts a TCP connection. librdkafka reconnects forever on its
 * own and only reports "all brokers down" from poll(), which nobody calls during connect, so a closed
 * port would otherwise surface as a metadata timeout.
 */
async function probeAny(brokers: readonly string[], what: string, timeoutMs: number): Promise<void> {
  try {
    await Promise.any(brokers.map((b) => probe(b, timeoutMs)));
  } catch (error) {
    const reasons = error instanceof AggregateError ? error.errors.map(errorMessage).join('; ') : errorMessage(error);
    throw new TransportError('KAFKA_UNREACHABLE', `cannot reach Kafka at ${brokers.join(',')} (${what}): ${reasons}. Is the broker running and KAFKA_BROKERS right?`, {
      cause: error,
      retryable: true,
    });
  }
}

/**
 * Connects a node-rdkafka client, failing fast: a TCP probe first, then librdkafka's own connect
 * (which fetches metadata) bounded by `timeoutMs`; any failure is KAFKA_UNREACHABLE.
 */
export async function connectClient(
  client: NativeClient,
  what: string,
  brokers: readonly string[],
  timeoutMs: number,
): Promise<Metadata> {
  await probeAny(brokers, what, Math.min(timeoutMs, 3_000));
  return connectNative(client, what, brokers, timeoutMs);
}

function connectNative(
  client: NativeClient,
  what: string,
  brokers: readonly string[],
  timeoutMs: number,
): Promise<Metadata> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, metadata?: Metadata): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      events(client).removeListener('event.error', onError);
      if (error === undefined && metadata !== undefined) return resolve(metadata);
      // librdkafka keeps retrying in the background until disconnected.
      try {
        (client as Producer).disconnect(() => undefined);
      } catch {
        // not connected
      }
      reject(wrapError(error, 'KAFKA_UNREACHABLE', what, brokers));
    };
    const onError = (error: LibrdKafkaError): void => {
      if (errorCodeOf(error) === ERR.ALL_BROKERS_DOWN) finish(error);
    };
    const timer = setTimeout(
      () => finish(Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: ERR.TRANSPORT })),
      timeoutMs,
    );
    events(client).on('event.error', onError);
    (client as Producer).connect({ timeout: timeoutMs }, (error: LibrdKafkaError | null, metadata: Metadata) => finish(error ?? undefined, metadata));
  });
}

/** Logs librdkafka's client errors once per distinct message, at warn, so a broker outage is one line. */
export function logClientErrors(client: NativeClient, logger: Logger, component: string): void {
  let last = '';
  events(client).on('event.error', (error: LibrdKafkaError) => {
    const line = `${errorCodeOf(error)}:${error.message}`;
    if (line === last) return;
    last = line;
    logger.warn({ component, code: errorCodeOf(error), error: error.message }, 'librdkafka client error');
  });
}
