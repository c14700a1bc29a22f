import { MamoriError } from '@mamori/core';

/**
 * Codes the correlation parser raises (listed in docs/correlation.md).
 *
 * - `SIGMA_CORRELATION_INVALID`: a correlation document breaks the specification (missing or wrong
 *   attribute); the message names the file, the document and the attribute.
 * - `SIGMA_CORRELATION_UNRESOLVED`: a `rules:` entry or an alias names a rule that is not loaded.
 * - `SIGMA_CORRELATION_CYCLE`: correlations refer to each other in a cycle.
 */
export const CORRELATION_ERROR_CODES = ['SIGMA_CORRELATION_INVALID', 'SIGMA_CORRELATION_UNRESOLVED', 'SIGMA_CORRELATION_CYCLE'] as const;
export type CorrelationErrorCode = (typeof CORRELATION_ERROR_CODES)[number];

/** A correlation rule that cannot be used; carries the rule's path (and document index). */
export class CorrelationRuleError extends MamoriError {
  constructor(
    code: CorrelationErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(code, `${path}: ${message}`, { retryable: false });
    this.name = 'CorrelationRuleError';
  }
}
