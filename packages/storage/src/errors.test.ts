import { describe, expect, it } from 'vitest';
import { MamoriError } from '@mamori/core';
import { StorageError, parseClickHouseCode, storageErrorFromEngine } from './errors.ts';

describe('storage errors', () => {
  it('parses the ClickHouse code from an engine message', () => {
    expect(parseClickHouseCode('Code: 62. DB::Exception: Syntax error')).toBe(62);
    expect(parseClickHouseCode('something else')).toBeUndefined();
  });

  it('maps engine codes to storage codes and retryability', () => {
    expect(storageErrorFromEngine('query', 'Code: 159. DB::Exception: Timeout exceeded', undefined, null)).toMatchObject({
      code: 'CLICKHOUSE_TIMEOUT',
      clickhouseCode: 159,
      retryable: true,
    });
    expect(storageErrorFromEngine('insert', 'Code: 252. Too many parts', undefined, null)).toMatchObject({
      code: 'CLICKHOUSE_INSERT_FAILED',
      retryable: true,
    });
    expect(storageErrorFromEngine('query', 'x', 516, null)).toMatchObject({ code: 'CLICKHOUSE_AUTH_FAILED', retryable: false });
    expect(storageErrorFromEngine('query', 'Code: 62. Syntax error', undefined, null)).toMatchObject({
      code: 'CLICKHOUSE_QUERY_FAILED',
      retryable: false,
    });
  });

  it('is a MamoriError with a cause', () => {
    const cause = new Error('inner');
    const error = new StorageError('CLICKHOUSE_UNREACHABLE', 'down', { cause });
    expect(error).toBeInstanceOf(MamoriError);
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('StorageError');
  });
});
