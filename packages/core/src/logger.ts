import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Normal operation logs nothing per event; errors are logged once with their
 * code. Secrets never reach a log line: known credential fields are redacted.
 */
export function createLogger(options: { name: string; level?: string }): Logger {
  return pino({
    name: options.name,
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { service: options.name },
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'apiKey', '*.apiKey', 'authorization', '*.authorization', 'sasl', '*.sasl'],
      censor: '[redacted]',
    },
  });
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
