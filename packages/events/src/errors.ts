import { MamoriError } from '@mamori/core';

/** Stable codes raised by the Avro codecs; listed in docs/errors.md. */
export type CodecErrorCode =
  /** The writer schema (fingerprint or registry id) is not known to this codec. */
  | 'SCHEMA_UNKNOWN'
  /** The writer schema is known but cannot be resolved to the reader schema. */
  | 'SCHEMA_INCOMPATIBLE'
  /** A schema file could not be read or parsed. */
  | 'SCHEMA_INVALID'
  /** The schema lookup (registry) failed; trying again may help. */
  | 'SCHEMA_LOOKUP_FAILED'
  /** The bytes are not a valid encoding: wrong framing, truncated, trailing bytes or garbage. */
  | 'AVRO_DECODE_FAILED'
  /** The value does not match the schema. */
  | 'AVRO_ENCODE_FAILED';

/** Every failure of a codec: never a bare Error, never a crash. */
export class CodecError extends MamoriError {
  declare readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
    this.name = 'CodecError';
  }
}
