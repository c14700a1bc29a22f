import { MamoriError } from '@mamori/core';

/**
 * Stable codes of records the normalizer cannot turn into events; listed in docs/errors.md (a test
 * keeps the two in step).
 *
 * - `PARSE_FAILED`: the bytes are not the format's syntax (not JSON, not an object, cut short).
 * - `FIELD_INVALID`: a field is missing or has an impossible value (address, port, timestamp, negative count).
 * - `RECORD_TOO_LARGE`: the record exceeds the format's size limit and was not parsed.
 * - `FORMAT_UNKNOWN`: no format is registered for the record's topic.
 * - `FORMAT_FAILED`: the format's decoder threw: a bug, reported instead of stopping the stream.
 */
export const NORMALIZE_ERROR_CODES = ['PARSE_FAILED', 'FIELD_INVALID', 'RECORD_TOO_LARGE', 'FORMAT_UNKNOWN', 'FORMAT_FAILED'] as const;

/** One of {@link NORMALIZE_ERROR_CODES}. */
export type NormalizeErrorCode = (typeof NORMALIZE_ERROR_CODES)[number];

/**
 * One record (or one line of it) that could not be normalized. Returned, never thrown, on the hot
 * path, so the runner counts and dead-letters it and moves on.
 */
export class NormalizeError extends MamoriError {
  declare readonly code: NormalizeErrorCode;
  /** Line index inside the raw record (0 for single-object records). */
  readonly line: number;
  /** The offending field, when one is to blame. */
  readonly field: string | undefined;

  constructor(code: NormalizeErrorCode, message: string, options: { line?: number; field?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, retryable: false });
    this.name = 'NormalizeError';
    this.line = options.line ?? 0;
    this.field = options.field;
  }

  /** A plain summary for dead-letter headers and golden files. */
  toJSON(): { code: NormalizeErrorCode; line: number; field?: string; message: string } {
    return { code: this.code, line: this.line, ...(this.field === undefined ? {} : { field: this.field }), message: this.message };
  }
}
