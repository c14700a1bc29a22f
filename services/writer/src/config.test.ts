import { ConfigError } from '@mamori/core';
import { describe, expect, it } from 'vitest';
import { loadWriterConfig } from './config.ts';

describe('loadWriterConfig', () => {
  it('batches 50k rows or 1 s and keeps events 90 days, one retention for every class, by default', () => {
    const config = loadWriterConfig({});
    expect(config).toMatchObject({ batchRows: 50_000, flushIntervalMs: 1000, eventRetentionDays: 90, eventRetentionByClass: {} });
  });

  it('reads per-class retention as class=days pairs', () => {
    const config = loadWriterConfig({ WRITER_EVENT_RETENTION_DAYS: '60', WRITER_EVENT_RETENTION_BY_CLASS: 'network_activity=30, dns_activity=180,http.v2=7' });
    expect(config.eventRetentionDays).toBe(60);
    expect(config.eventRetentionByClass).toEqual({ network_activity: 30, dns_activity: 180, 'http.v2': 7 });
    expect(Object.isFrozen(config.eventRetentionByClass)).toBe(true);
  });

  it.each([
    ['network_activity', 'no days'],
    ['network_activity=0', 'zero days'],
    ['network_activity=3651', 'over ten years'],
    ['network_activity=-5', 'negative'],
    ["x' OR 1=1=3", 'not a class name'],
    ['=30', 'no class'],
  ])('refuses WRITER_EVENT_RETENTION_BY_CLASS=%s (%s), naming the key', (value) => {
    expect(() => loadWriterConfig({ WRITER_EVENT_RETENTION_BY_CLASS: value })).toThrow(ConfigError);
    expect(() => loadWriterConfig({ WRITER_EVENT_RETENTION_BY_CLASS: value })).toThrow(/WRITER_EVENT_RETENTION_BY_CLASS/);
  });

  it('refuses a retry cap below the first back-off', () => {
    expect(() => loadWriterConfig({ WRITER_RETRY_INITIAL_MS: '500', WRITER_RETRY_MAX_MS: '100' })).toThrow(/WRITER_RETRY_MAX_MS/);
  });
});
