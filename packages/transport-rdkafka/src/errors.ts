import { errorMessage } from '@mamori/core';
import { TransportError, type TransportErrorCode } from '@mamori/transport';
import { ERR } from './native.ts';

export function errorCodeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

const UNREACHABLE_CODES = new Set<number>([ERR.TRANSPORT, ERR.ALL_BROKERS_DOWN, ERR.RESOLVE]);

export function isUnreachable(error: unknown): boolean {
  const code = errorCodeOf(error);
  return (code !== undefined && UNREACHABLE_CODES.has(code)) || /ECONNREFUSED|brokers are down|Broker transport failure|Connection refused|Failed to resolve/i.test(errorMessage(error));
}

/** Wraps a librdkafka error at the adapter boundary; connection failures become KAFKA_UNREACHABLE. */
export function wrapError(error: unknown, code: TransportErrorCode, what: string, brokers: readonly string[]): TransportError {
  if (error instanceof TransportError) return error;
  const detail = `${errorMessage(error)}${errorCodeOf(error) === undefined ? '' : ` (librdkafka code ${errorCodeOf(error)})`}`;
  if (isUnreachable(error)) {
    return new TransportError(
      'KAFKA_UNREACHABLE',
      `cannot reach Kafka at ${brokers.join(',')} (${what}): ${detail}. Is the broker running and KAFKA_BROKERS right?`,
      { cause: error, retryable: true },
    );
  }
  const retryable = (error as { isRetriable?: unknown } | null)?.isRetriable !== false;
  return new TransportError(code, `${what} failed against ${brokers.join(',')}: ${detail}`, { cause: error, retryable });
}
