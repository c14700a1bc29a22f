/**
 * Something that holds resources and must be released: a consumer, a storage session, an HTTP
 * server. Services register each one so that shutdown closes them in reverse order of start.
 */
export interface Closeable {
  close(): Promise<void>;
}

/** Closes registered resources in reverse order, each at most once, bounded in time. */
export class Lifecycle implements Closeable {
  private readonly hooks: { name: string; close: () => Promise<void> }[] = [];
  private closing: Promise<void> | undefined;

  register(name: string, close: () => Promise<void>): void {
    this.hooks.push({ name, close });
  }

  /**
   * Runs every close hook (last registered first). Errors are collected, not thrown midway, so one
   * failing resource does not leave the others open. Rejects with an AggregateError if any failed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      for (const hook of [...this.hooks].reverse()) {
        try {
          await hook.close();
        } catch (error) {
          errors.push(new Error(`closing ${hook.name} failed`, { cause: error }));
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'shutdown had errors');
    })();
    return this.closing;
  }
}

/** Resolves after `ms`, or early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Rejects with `message` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
