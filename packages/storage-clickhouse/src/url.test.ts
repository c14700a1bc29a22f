import { describe, expect, it } from 'vitest';
import { StorageError } from '@mamori/storage';
import { createClickHouseStorage } from './clickhouse-storage.ts';
import { parseClickHouseUrl, redactUrl } from './url.ts';

describe('parseClickHouseUrl', () => {
  it('accepts http and https and splits out credentials', () => {
    expect(parseClickHouseUrl('http://localhost:8123')).toEqual({ url: 'http://localhost:8123' });
    expect(parseClickHouseUrl('https://user:p%40ss@ch.example:8443/')).toEqual({
      url: 'https://ch.example:8443',
      username: 'user',
      password: 'p@ss',
    });
  });

  it.each(['localhost:8123', 'tcp://localhost:9000', 'not a url', '', 'clickhouse://u:secret@h:9000'])(
    'refuses %j naming the key, without credentials',
    (raw) => {
      const error = (() => {
        try {
          parseClickHouseUrl(raw);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'CLICKHOUSE_URL_INVALID', retryable: false });
      expect((error as Error).message).toContain('CLICKHOUSE_URL=');
      expect((error as Error).message).toContain('is not a valid http(s) URL');
      expect((error as Error).message).not.toContain('secret');
    },
  );

  it('redacts credentials', () => {
    expect(redactUrl('http://u:secret@h:8123/?password=x')).toBe('http://h:8123');
    expect(redactUrl('nonsense //u:secret@h')).not.toContain('secret');
  });

  it('is checked when the driver is created, and the database name too', () => {
    expect(() => createClickHouseStorage({ url: 'ftp://h' })).toThrow(/CLICKHOUSE_URL=/);
    expect(() => createClickHouseStorage({ url: 'http://h:8123', database: 'x; DROP' })).toThrow(StorageError);
  });
});
