import { MamoriError } from '@mamori/core';

/** The broker cannot be reached or answered with a retryable error. */
export class TransportError extends MamoriError {
  constructor(code: 'KAFKA_UNREACHABLE' | 'KAFKA_PRODUCE_FAILED' | 'KAFKA_COMMIT_FAILED' | 'KAFKA_ADMIN_FAILED' | 'KAFKA_CONSUME_FAILED', message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, { retryable: true, ...options });
    this.name = 'TransportError';
  }
}
