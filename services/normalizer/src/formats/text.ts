/**
 * `text` without the run of `chars` at its end. A loop, not `/[...]+$/`: V8 retries such a regex at
 * every position of a run of those characters, so a line with a long run of them in the middle
 * took seconds per 10 KB (quadratic backtracking, a hang on a 1 MiB record).
 */
export function stripEnd(text: string, chars: string): string {
  let end = text.length;
  while (end > 0 && chars.includes(text[end - 1]!)) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** What {@link jsonText} writes for a value nested too deep to serialize. */
export const TOO_DEEP = '[nested too deep]';

/**
 * `JSON.stringify` of a value that came from `JSON.parse`, never throwing: `JSON.parse` accepts
 * nesting thousands of levels deep, but `JSON.stringify` of it overflows the stack (RangeError),
 * which made one hostile line fail its whole multi-line record as FORMAT_FAILED.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return TOO_DEEP;
  }
}
