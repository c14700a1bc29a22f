import { MamoriError } from '@mamori/core';

/** Stable codes of transport errors; listed in docs/errors.md (a test keeps the two in step). */
export const TRANSPORT_ERROR_CODES = [
  'KAFKA_UNREACHABLE',
  'KAFKA_PRODUCE_FAILED',
  'KAFKA_COMMIT_FAILED',
  'KAFKA_ADMIN_FAILED',
  'KAFKA_CONSUME_FAILED',
] as const;

/** One of {@link TRANSPORT_ERROR_CODES}. */
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

/** The broker cannot be reached or answered with an error. Retryable unless stated otherwise. */
export class TransportError extends MamoriError {
  constructor(code: TransportErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, { retryable: true, ...options });
    this.name = 'TransportError';
  }
}
