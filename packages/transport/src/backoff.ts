/** Options for the delay before a failed batch is delivered again. */
export interface BackoffOptions {
  /** Delay after the first failure. @default 100 */
  initialMs?: number;
  /** Upper bound on the delay. @default 5000 */
  maxMs?: number;
}

/**
 * Capped exponential back-off for redelivery after a handler rejected: 100, 200, 400 ... 5000 ms by
 * default. `attempt` counts consecutive failures starting at 1; a success resets it.
 */
export function redeliveryDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 5000;
  return Math.min(max, initial * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}
