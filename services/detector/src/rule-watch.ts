import { watch, type FSWatcher } from 'node:fs';

/**
 * Watches rule directories (recursively) and calls `onChange` once after `debounceMs` of quiet: an
 * editor's save or a `git pull` fires many events, the rule packs reload once. Used by the Sigma
 * rule packs and the correlation rule packs.
 */
export class DebouncedDirectoryWatch {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dirs: readonly string[],
    private readonly onChange: () => void,
  ) {}

  start(debounceMs: number): void {
    for (const dir of this.dirs) {
      const w = watch(dir, { recursive: true }, () => {
        clearTimeout(this.timer);
        this.timer = setTimeout(this.onChange, debounceMs);
        this.timer.unref();
      });
      w.unref();
      this.watchers.push(w);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
