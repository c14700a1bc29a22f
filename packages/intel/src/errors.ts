import { MamoriError } from '@mamori/core';

/**
 * Codes the intel package defines.
 *
 * - `INTEL_FEED_FETCH_FAILED`: a feed URL or file could not be read (network, HTTP status, missing file); retryable.
 * - `INTEL_FEED_TOO_LARGE`: a feed exceeded its configured size limit; the previous copy stays active.
 * - `INTEL_FEED_INVALID`: a feed is not the declared format (bad JSON, not a STIX bundle or MISP event).
 */
export const INTEL_ERROR_CODES = ['INTEL_FEED_FETCH_FAILED', 'INTEL_FEED_TOO_LARGE', 'INTEL_FEED_INVALID'] as const;
export type IntelErrorCode = (typeof INTEL_ERROR_CODES)[number];

export class IntelError extends MamoriError {
  constructor(code: IntelErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: code === 'INTEL_FEED_FETCH_FAILED' });
    this.name = 'IntelError';
  }
}
