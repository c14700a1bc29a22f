import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NAMES } from '@mamori/cli';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** deploy/compose cannot run here (no Docker engine); this keeps it consistent with the code and docs. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const compose = parse(readFileSync(join(ROOT, 'deploy/compose/compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; environment?: Record<string, string>; image?: string }>;
};
const configDoc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
const prometheus = parse(readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
  scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
};

describe('docker compose', () => {
  const mamori = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'run');

  it('runs every Mamori service with a valid command', () => {
    expect(mamori.map(([name]) => name).sort()).toEqual([...SERVICE_NAMES].sort());
    for (const [name, service] of mamori) expect(service.command, name).toEqual(['run', name]);
  });

  it('sets only documented configuration keys', () => {
    for (const [name, service] of mamori) {
      for (const key of Object.keys(service.environment ?? {})) {
        expect(configDoc, `${name}: ${key} is not in docs/configuration.md`).toContain(`\`${key}\``);
      }
    }
  });

  it('has three Kafka brokers, ClickHouse, Prometheus and Grafana', () => {
    const images = Object.values(compose.services).map((s) => s.image ?? '');
    expect(images.filter((i) => i.startsWith('apache/kafka:'))).toHaveLength(3);
    for (const image of ['clickhouse/clickhouse-server:', 'prom/prometheus:', 'grafana/grafana:']) expect(images.some((i) => i.startsWith(image)), image).toBe(true);
  });

  it('Prometheus scrapes every Mamori service on its metrics port', () => {
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    for (const [name, service] of mamori) {
      expect(targets, name).toContain(`${name}:${service.environment?.['METRICS_PORT']}`);
    }
  });
});
