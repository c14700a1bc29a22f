import { NormalizeError } from './errors.ts';

/** A parsed JSON object (not null, not an array). */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * One line of a JSON-lines record as an object, or the PARSE_FAILED error naming the line: the
 * shared first step of every JSON sensor format.
 */
export function parseJsonObject(text: string, line: number): JsonObject | NormalizeError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return new NormalizeError('PARSE_FAILED', `line ${line}: not JSON (${(cause as Error).message})`, { line, cause });
  }
  if (!isJsonObject(value)) return new NormalizeError('PARSE_FAILED', `line ${line}: not a JSON object`, { line });
  return value;
}
