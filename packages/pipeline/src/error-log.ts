import { errorCode, type Logger } from '@mamori/core';

/**
 * Logs errors without flooding: the first error of each code is logged with its object, later ones
 * of the same code at most once per interval with the number suppressed in between. Metrics carry
 * the exact counts; logs carry the example.
 */
export class ThrottledErrorLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  error(context: Record<string, unknown>, error: unknown, message: string, code = errorCode(error), now = Date.now()): void {
    const seen = this.last.get(code);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed += 1;
      return;
    }
    this.logger.error({ ...context, err: error, error_code: code, suppressed: seen?.suppressed ?? 0 }, message);
    this.last.set(code, { at: now, suppressed: 0 });
  }
}
