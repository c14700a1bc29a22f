/**
 * The range of ClickHouse's DateTime64 (1900-01-01 00:00:00.000 to 2299-12-31 23:59:59.999 UTC) in
 * epoch milliseconds: the storage adapters refuse a timestamp outside it before an insert, and the
 * normalizer refuses an event time outside it, so a hostile line's time fails as that line's error
 * instead of failing a whole insert later.
 */
export const DATETIME64_MIN_MS = Date.UTC(1900, 0, 1);
export const DATETIME64_MAX_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);
