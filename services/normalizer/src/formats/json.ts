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

/**
 * The JSON objects of a record, as every JSON sensor format reads them: NDJSON lines, line i
 * (0-based, blank lines keep their index) to `onObject(o, i)`, a line that is not a JSON object to
 * `onError`; or, when the first line does not parse and the record has more lines, the whole record
 * as one pretty-printed object (line 0). `onObject` may throw: the caller's own errors pass through.
 */
export function forEachJsonObject(text: string, onObject: (o: JsonObject, line: number) => void, onError: (error: NormalizeError) => void): void {
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const chunk = text.slice(start, end).trim();
    if (chunk !== '') {
      const parsed = parseJsonObject(chunk, line);
      if (parsed instanceof NormalizeError) {
        // A single pretty-printed object spans lines: retry on the whole record before giving up.
        if (line === 0 && end < text.length) {
          const whole = parseJsonObject(text.trim(), 0);
          if (!(whole instanceof NormalizeError)) {
            onObject(whole, 0);
            return;
          }
        }
        onError(parsed);
      } else {
        onObject(parsed, line);
      }
    }
    start = end + 1;
    line++;
  }
}
