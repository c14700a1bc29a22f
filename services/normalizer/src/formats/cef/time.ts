/**
 * Timestamps of the legacy log formats (BSD syslog, CEF): month names, optional year, optional zone.
 * Shared by the syslog format, which delegates CEF messages here anyway.
 */

export const MONTHS: Readonly<Record<string, number>> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

/** Epoch ms of the UTC wall time, or NaN when a field is out of range (Feb 30, 24:00:00). */
export function utcTime(year: number, month: number, day: number, h: number, m: number, s: number, ms: number): number {
  if (month < 0 || month > 11 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60 || ms > 999) return Number.NaN;
  const t = Date.UTC(year, month, day, h, m, Math.min(s, 59), ms);
  // Date.UTC rolls Feb 30 over to Mar 2; refuse instead.
  return new Date(t).getUTCDate() === day ? t : Number.NaN;
}

/**
 * The time of a month-day-clock stamp without a year: of the previous, the current and the next
 * year (of `referenceMs`, UTC), the valid date closest to the reference. A Dec 31 23:59 line read on
 * Jan 1 is last year's; a Jan 1 00:00 line from a sender a little ahead, read on Dec 31, is next
 * year's; Feb 29 lands in the nearest leap year within a year. NaN when no candidate is valid.
 */
export function closestYearTime(referenceMs: number, month: number, day: number, h: number, m: number, s: number, ms: number): number {
  const year = new Date(referenceMs).getUTCFullYear();
  let best = Number.NaN;
  for (const y of [year - 1, year, year + 1]) {
    const t = utcTime(y, month, day, h, m, s, ms);
    if (Number.isNaN(t)) continue;
    if (Number.isNaN(best) || Math.abs(t - referenceMs) < Math.abs(best - referenceMs)) best = t;
  }
  return best;
}

/** `Z`, `UTC`, `GMT`, `+hh:mm`, `+hhmm`, `+hh` to minutes east of UTC; undefined when unknown. */
export function zoneOffsetMinutes(zone: string): number | undefined {
  if (/^(z|utc|gmt|ut)$/i.test(zone)) return 0;
  const match = /^(?:utc|gmt)?([+-])(\d{2}):?(\d{2})?$/i.exec(zone);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  if (minutes > 18 * 60) return undefined;
  return match[1] === '-' ? -minutes : minutes;
}

const CEF_DATE = /^([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?: (\S+))?$/;

/**
 * A CEF time value (`rt`, `start`, `end`, ...): epoch milliseconds, `MMM dd yyyy HH:mm:ss[.SSS] [zone]`,
 * `MMM dd HH:mm:ss[.SSS] [zone]` (year closest to `referenceMs`), or ISO 8601. Zones: UTC/GMT/Z or a
 * numeric offset; no zone, or a named zone we cannot resolve (PST), reads as UTC and sets `zoneGuessed`.
 * NaN when unparseable.
 */
export function parseCefTime(value: string, referenceMs: number): { ms: number; zoneGuessed: boolean } {
  const text = value.trim();
  if (/^\d{9,13}$/.test(text)) {
    // Epoch seconds slipped in by some devices: 10 digits or fewer are seconds.
    const n = Number(text);
    return { ms: text.length <= 10 ? n * 1000 : n, zoneGuessed: false };
  }
  const match = CEF_DATE.exec(text);
  if (match) {
    const month = MONTHS[match[1]!.toLowerCase()];
    if (month === undefined) return { ms: Number.NaN, zoneGuessed: false };
    const [day, h, m, s] = [match[2], match[4], match[5], match[6]].map(Number) as [number, number, number, number];
    const ms = match[7] === undefined ? 0 : Number(match[7].padEnd(3, '0'));
    const wall = match[3] === undefined ? closestYearTime(referenceMs, month, day, h, m, s, ms) : utcTime(Number(match[3]), month, day, h, m, s, ms);
    const offset = match[8] === undefined ? undefined : zoneOffsetMinutes(match[8]);
    return { ms: wall - (offset ?? 0) * 60_000, zoneGuessed: offset === undefined };
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text);
    return { ms: Date.parse(zoned ? text : `${text}Z`), zoneGuessed: !zoned };
  }
  return { ms: Number.NaN, zoneGuessed: false };
}
