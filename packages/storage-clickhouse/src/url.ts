import { StorageError } from '@mamori/storage';

/** A ClickHouse server address split into the parts the client needs. */
export interface ParsedClickHouseUrl {
  /** The URL without credentials, query or fragment (safe to log). */
  url: string;
  /** Credentials found in the URL's userinfo, if any. */
  username?: string;
  password?: string;
}

/** The URL as it can appear in a log line or an error: credentials removed. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    // Not a URL: still hide anything that looks like user:pass@.
    return raw.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * Validates CLICKHOUSE_URL (http or https, a host, no path beyond `/`) and splits out credentials.
 * Throws CLICKHOUSE_URL_INVALID naming the key and the fix.
 */
export function parseClickHouseUrl(raw: string, key = 'CLICKHOUSE_URL'): ParsedClickHouseUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (error) {
    throw new StorageError(
      'CLICKHOUSE_URL_INVALID',
      `${key}=${JSON.stringify(redactUrl(raw))} is not a valid http(s) URL (expected e.g. http://localhost:8123)`,
      { cause: error },
    );
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    throw new StorageError(
      'CLICKHOUSE_URL_INVALID',
      `${key}=${JSON.stringify(redactUrl(raw))} is not a valid http(s) URL: use http:// (port 8123) or https:// (port 8443), not ${u.protocol}//`,
    );
  }
  const parsed: ParsedClickHouseUrl = { url: `${u.protocol}//${u.host}` };
  if (u.username !== '') parsed.username = decodeURIComponent(u.username);
  if (u.password !== '') parsed.password = decodeURIComponent(u.password);
  return parsed;
}
