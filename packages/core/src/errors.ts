/**
 * Codes core itself defines; listed in docs/errors.md (a test keeps the two in step).
 *
 * - `CONFIG_INVALID`: a {@link ConfigError}: bad environment, command line or listen address at boot.
 * - `INTERNAL`: what {@link errorCode} reports for anything that is not a MamoriError (a bug or an
 *   unwrapped third-party error).
 */
export const CORE_ERROR_CODES = ['CONFIG_INVALID', 'INTERNAL'] as const;

/** One of {@link CORE_ERROR_CODES}. */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/**
 * Base of every typed error in Mamori. `code` is stable (listed in docs/errors.md and used as a
 * metric label), `retryable` tells runners whether trying again can help.
 */
export class MamoriError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MamoriError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A configuration problem found at boot; the message names the key and the fix. */
export class ConfigError extends MamoriError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID' satisfies CoreErrorCode, message, options);
    this.name = 'ConfigError';
  }
}

/** The error's stable code, or `INTERNAL` for anything not raised by Mamori. */
export function errorCode(error: unknown): string {
  return error instanceof MamoriError ? error.code : ('INTERNAL' satisfies CoreErrorCode);
}

export function isRetryable(error: unknown): boolean {
  return error instanceof MamoriError && error.retryable;
}

/** A short single-line message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
