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
    super('CONFIG_INVALID', message, options);
    this.name = 'ConfigError';
  }
}

/** The error's stable code, or `INTERNAL` for anything not raised by Mamori. */
export function errorCode(error: unknown): string {
  return error instanceof MamoriError ? error.code : 'INTERNAL';
}

export function isRetryable(error: unknown): boolean {
  return error instanceof MamoriError && error.retryable;
}

/** A short single-line message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
