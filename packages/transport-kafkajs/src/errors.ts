import { errorMessage } from '@mamori/core';
import { TransportError, type TransportErrorCode } from '@mamori/transport';

const UNREACHABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSRequestTimeoutError',
]);
const UNREACHABLE_TEXT = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|Connection timeout|Failed to connect/i;

/** Follows kafkajs's `originalError` and standard `cause` links. */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && out.length < 8) {
    out.push(current);
    const e = current as { originalError?: unknown; cause?: unknown };
    current = e.originalError ?? e.cause;
  }
  return out;
}

export function isUnreachable(error: unknown): boolean {
  return chain(error).some(
    (e) => (e instanceof Error && UNREACHABLE_NAMES.has(e.name)) || UNREACHABLE_TEXT.test(errorMessage(e)),
  );
}

/** kafkajs's protocol error type, e.g. `TOPIC_ALREADY_EXISTS`, found anywhere in the chain. */
export function protocolType(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const t = (inner as { type?: unknown }).type;
        if (typeof t === 'string') return t;
      }
    }
  }
  return undefined;
}

/**
 * Wraps a kafkajs error at the adapter boundary. Anything that looks like a connection failure
 * becomes KAFKA_UNREACHABLE with the broker list in the message, whatever operation hit it.
 */
export function wrapError(error: unknown, code: TransportErrorCode, what: string, brokers: readonly string[]): TransportError {
  if (error instanceof TransportError) return error;
  const detail = chain(error).map(errorMessage).filter((m, i, all) => all.indexOf(m) === i).join(': ');
  if (isUnreachable(error)) {
    return new TransportError(
      'KAFKA_UNREACHABLE',
      `cannot reach Kafka at ${brokers.join(',')} (${what}): ${detail}. Is the broker running and KAFKA_BROKERS right?`,
      { cause: error, retryable: true },
    );
  }
  const retryable = (error as { retriable?: unknown }).retriable !== false;
  return new TransportError(code, `${what} failed against ${brokers.join(',')}: ${detail}`, { cause: error, retryable });
}
