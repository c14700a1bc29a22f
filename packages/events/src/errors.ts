import { MamoriError } from '@mamori/core';

/**
 * Stable codes raised by the Avro codecs; listed in docs/errors.md (a test keeps the two in step).
 *
 * - `SCHEMA_UNKNOWN`: the writer schema (fingerprint or registry id) is not known to this codec.
 * - `SCHEMA_INCOMPATIBLE`: the writer schema is known but cannot be resolved to the reader schema.
 * - `SCHEMA_INVALID`: a schema file could not be read or parsed.
 * - `SCHEMA_LOOKUP_FAILED`: the schema lookup (registry) failed; trying again may help.
 * - `SCHEMA_REGISTRY_FAILED`: registering a schema with the Schema Registry failed at start-up.
 * - `AVRO_DECODE_FAILED`: the bytes are not a valid encoding: wrong framing, truncated, trailing bytes or garbage.
 * - `AVRO_ENCODE_FAILED`: the value does not match the schema.
 */
export const CODEC_ERROR_CODES = [
  'SCHEMA_UNKNOWN',
  'SCHEMA_INCOMPATIBLE',
  'SCHEMA_INVALID',
  'SCHEMA_LOOKUP_FAILED',
  'SCHEMA_REGISTRY_FAILED',
  'AVRO_DECODE_FAILED',
  'AVRO_ENCODE_FAILED',
] as const;

/** One of {@link CODEC_ERROR_CODES}. */
export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];

/** Every failure of a codec: never a bare Error, never a crash. */
export class CodecError extends MamoriError {
  declare readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
    this.name = 'CodecError';
  }
}
