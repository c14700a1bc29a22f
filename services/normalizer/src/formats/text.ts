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
