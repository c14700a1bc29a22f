import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRuntimeConfig } from '@mamori/cli';
import { ConfigError, type Env } from '@mamori/core';
import { loadDetectorConfig } from '@mamori/detector';
import { loadIngestConfig } from '@mamori/ingest';
import { loadNormalizerConfig } from '@mamori/normalizer';
import { loadQueryApiConfig } from '@mamori/query-api';
import { loadWriterConfig } from '@mamori/writer';
import { describe, expect, it } from 'vitest';

/**
 * Keeps docs/configuration.md and the services' config.ts files in step: every key read is
 * documented, literal defaults match, and a bad value is reported at boot naming its key.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');

/** The loader of each service directory that has a `src/config.ts`. */
const LOADERS: Readonly<Record<string, (env: Env) => unknown>> = {
  cli: (env) => loadRuntimeConfig(env),
  detector: loadDetectorConfig,
  ingest: loadIngestConfig,
  normalizer: loadNormalizerConfig,
  'query-api': loadQueryApiConfig,
  writer: loadWriterConfig,
};

type Kind = 'string' | 'integer' | 'boolean' | 'list' | 'oneOf' | 'optionalString';

interface KeyRead {
  service: string;
  key: string;
  kind: Kind;
  /** The default as the docs should show it, when the code gives it as a literal. */
  literalDefault: string | undefined;
}

const READ = /\br\.(string|integer|boolean|list|oneOf|optionalString)\(\s*'([A-Z][A-Z0-9_]*)'\s*,?\s*([^)]*)\)/g;

/** A literal default written in the call, rendered as docs/configuration.md writes it. */
function literalDefault(kind: Kind, rest: string): string | undefined {
  const args = kind === 'oneOf' ? rest.replace(/^\[[^\]]*\](\s*as const)?\s*,\s*/, '') : rest;
  const first = args.split(',')[0]?.trim() ?? '';
  if (kind === 'integer' && /^\d[\d_]*$/.test(first)) return `\`${first.replaceAll('_', '')}\``;
  if (kind === 'boolean' && /^(true|false)$/.test(first)) return `\`${first}\``;
  const quoted = /^'([^']+)'$/.exec(first);
  if ((kind === 'string' || kind === 'oneOf') && quoted?.[1] !== undefined) return `\`${quoted[1]}\``;
  if (kind === 'list') {
    const items = /^\[\s*'([^']+)'\s*\]$/.exec(first);
    if (items?.[1] !== undefined) return `\`${items[1]}\``;
  }
  return undefined;
}

function keysRead(): KeyRead[] {
  const out: KeyRead[] = [];
  for (const service of readdirSync(join(ROOT, 'services')).sort()) {
    const file = join(ROOT, 'services', service, 'src/config.ts');
    if (!existsSync(file)) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(READ)) {
      const kind = match[1] as Kind;
      out.push({ service, key: match[2]!, kind, literalDefault: literalDefault(kind, match[3] ?? '') });
    }
  }
  return out;
}

/** The doc's `## ` section whose heading names `services/<service>/src/config.ts`. */
function sectionOf(service: string): string {
  const sections = DOC.split(/^(?=## )/m);
  return sections.find((s) => s.split('\n', 1)[0]!.includes(`services/${service}/src/config.ts`)) ?? '';
}

/** Table rows of the service's section whose first cell is exactly `KEY`. */
function rowsFor(service: string, key: string): string[][] {
  return sectionOf(service)
    .split('\n')
    .filter((line) => line.startsWith(`| \`${key}\` |`))
    .map((line) => line.slice(1, -1).split('|').map((cell) => cell.trim()));
}

/** The ConfigError a loader throws for `env`; fails the test when it does not throw one. */
function configError(load: (env: Env) => unknown, env: Env): ConfigError {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify(env)}`);
}

const reads = keysRead();

describe('docs/configuration.md', () => {
  it('finds the keys of every service config, and has a loader for each', () => {
    const services = [...new Set(reads.map((r) => r.service))].sort();
    expect(services).toEqual(Object.keys(LOADERS).sort());
    for (const service of services) expect(reads.filter((r) => r.service === service).length).toBeGreaterThan(0);
    // A few keys the regex must see, so a change in call style cannot empty the check silently.
    expect(reads.map((r) => r.key)).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'MAMORI_TRANSPORT', 'CLICKHOUSE_URL', 'PORTSCAN_WINDOW_MS', 'INGEST_SIMULATOR_ATTACKS']));
  });

  it('has a section for each service config', () => {
    const missing = Object.keys(LOADERS).filter((service) => sectionOf(service) === '');
    expect(missing).toEqual([]);
  });

  it('documents every key a service reads, in a table row of its own in that service\'s section', () => {
    const missing = reads.filter((r) => rowsFor(r.service, r.key).length !== 1).map((r) => `${r.service}: ${r.key}`);
    expect(missing).toEqual([]);
  });

  it('shows the literal default of each key', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const { service, key, literalDefault: expected } of reads) {
      if (expected === undefined) continue;
      checked += 1;
      for (const row of rowsFor(service, key)) {
        if (!(row[1] ?? '').includes(expected)) wrong.push(`${key}: doc says ${row[1] ?? '(nothing)'}, code ${expected}`);
      }
    }
    expect(wrong).toEqual([]);
    // Most defaults are literals; a parser that stopped seeing them would pass vacuously.
    expect(checked).toBeGreaterThan(20);
  });

  it('mentions that every problem is reported at boot in one message naming the key', () => {
    expect(DOC).toMatch(/every problem is reported at boot, in one message/i);
  });
});

describe('every config.ts rejects a bad value, naming the key', () => {
  const invalid: Partial<Record<Kind, string>> = { integer: 'not-a-number', boolean: 'maybe', oneOf: 'not-a-choice' };

  for (const { service, key, kind } of reads) {
    const value = invalid[kind];
    if (value === undefined) continue;
    it(`${service}: ${key}=${value}`, () => {
      const error = configError(LOADERS[service]!, { [key]: value });
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain(`${key}="${value}"`);
    });
  }

  it.each([
    ['cli', { METRICS_PORT: '70000' }, 'METRICS_PORT'],
    ['cli', { SHUTDOWN_TIMEOUT_MS: '10' }, 'SHUTDOWN_TIMEOUT_MS'],
    ['cli', { KAFKA_BROKERS: '127.0.0.1:9092,kafka-1' }, 'KAFKA_BROKERS'],
    ['cli', { CLICKHOUSE_URL: 'ftp://clickhouse:21' }, 'CLICKHOUSE_URL'],
    ['cli', { CLICKHOUSE_DATABASE: 'drop table' }, 'CLICKHOUSE_DATABASE'],
    ['detector', { DETECTOR_IDLE_CLOSE_MS: '5' }, 'DETECTOR_IDLE_CLOSE_MS'],
    ['detector', { PORTSCAN_HORIZONTAL_MIN_HOSTS: '1' }, 'PORTSCAN_HORIZONTAL_MIN_HOSTS'],
    ['normalizer', { NORMALIZER_MAX_BATCH_RECORDS: '0' }, 'NORMALIZER_MAX_BATCH_RECORDS'],
    ['normalizer', { NORMALIZER_TOPICS: 'telemetry.raw.nothing' }, 'NORMALIZER_TOPICS'],
    ['writer', { WRITER_MAX_BATCH_RECORDS: '1.5' }, 'WRITER_MAX_BATCH_RECORDS'],
    ['query-api', { API_PORT: '-1' }, 'API_PORT'],
    ['query-api', { API_MAX_RANGE_DAYS: '10days' }, 'API_MAX_RANGE_DAYS'],
    ['query-api', { MAMORI_API_KEYS: 'alice:not-a-hash:viewer:*' }, 'MAMORI_API_KEYS'],
    ['ingest', { INGEST_SIMULATOR_RATE: '-1' }, 'INGEST_SIMULATOR_RATE'],
    ['ingest', { INGEST_SENSOR_ID: 'sensor one' }, 'INGEST_SENSOR_ID'],
  ] as const)('%s rejects %o naming %s', (service, env, key) => {
    expect(configError(LOADERS[service]!, env).message).toContain(key);
  });

  it('reports all of a service’s problems in one message', () => {
    const message = configError(loadRuntimeConfig, { MAMORI_TRANSPORT: 'kafka', METRICS_PORT: 'x', KAFKA_BROKERS: 'kafka-1' }).message;
    for (const key of ['MAMORI_TRANSPORT', 'METRICS_PORT', 'KAFKA_BROKERS']) expect(message).toContain(key);
  });

  it('accepts an empty environment: every key has a default', () => {
    for (const load of Object.values(LOADERS)) expect(() => load({})).not.toThrow();
  });
});
