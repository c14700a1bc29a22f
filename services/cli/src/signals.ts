/**
 * Runs `shutdown` on the first SIGINT or SIGTERM and exits when it finishes, or after
 * `timeoutMs` with code 1. A second signal exits at once.
 */
export function onShutdownSignal(shutdown: () => Promise<void>, timeoutMs: number, log: (line: string) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`${signal}: draining in-flight batches and committing offsets (at most ${Math.round(timeoutMs / 1000)} s)`);
    const timer = setTimeout(() => {
      log('shutdown timed out');
      process.exit(1);
    }, timeoutMs + 5000);
    timer.unref();
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`shutdown had errors: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
