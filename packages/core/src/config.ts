import { ConfigError } from './errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads typed settings from an environment map and collects every problem, so a service reports all
 * of them at boot in one message instead of failing on the first.
 */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(key: string, fallback: string): string {
    const raw = this.env[key];
    return raw === undefined || raw === '' ? fallback : raw;
  }

  optionalString(key: string): string | undefined {
    const raw = this.env[key];
    return raw === undefined || raw === '' ? undefined : raw;
  }

  integer(key: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
    const raw = this.env[key];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    const min = bounds.min ?? Number.MIN_SAFE_INTEGER;
    const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${key}=${JSON.stringify(raw)} must be an integer between ${min} and ${max}`);
      return fallback;
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const raw = this.env[key];
    if (raw === undefined || raw === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.problems.push(`${key}=${JSON.stringify(raw)} must be true or false`);
    return fallback;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const raw = this.env[key];
    if (raw === undefined || raw === '') return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${key}=${JSON.stringify(raw)} must be one of: ${choices.join(', ')}`);
    return fallback;
  }

  list(key: string, fallback: readonly string[]): string[] {
    const raw = this.env[key];
    if (raw === undefined || raw.trim() === '') return [...fallback];
    return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  /** Records a problem found by a caller's own validation. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws one ConfigError listing every problem, or returns the value frozen. */
  done<T extends object>(value: T): Readonly<T> {
    if (this.problems.length > 0) {
      throw new ConfigError(`invalid configuration:\n  - ${this.problems.join('\n  - ')}`);
    }
    return deepFreeze(value);
  }
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
