import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SKIP_PROMTOOL, promtool } from './promtool.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROM = join(ROOT, 'deploy/prometheus');

interface Rule {
  alert: string;
  expr: string;
  annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(join(PROM, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups;
const alerts = groups.flatMap((g) => g.rules);

describe.skipIf(SKIP_PROMTOOL)('Prometheus configuration and alert rules (promtool)', () => {
  it('the configuration and rules pass promtool check', () => {
    const config = promtool(['check', 'config', 'prometheus.yml'], PROM);
    expect(config.output, config.output).toMatch(/SUCCESS/);
    expect(config.status).toBe(0);
    const rules = promtool(['check', 'rules', 'alerts.yml'], PROM);
    expect(rules.status, rules.output).toBe(0);
  });

  it('every alert behaves as its unit tests say (promtool test rules)', () => {
    const result = promtool(['test', 'rules', 'alerts.test.yml'], PROM);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('every dashboard query is valid PromQL', () => {
    // promtool has no expression checker: wrap each panel query in a recording rule and check those.
    const dir = mkdtempSync(join(tmpdir(), 'mamori-dash-'));
    try {
      const rules: { record: string; expr: string }[] = [];
      for (const file of ['pipeline', 'detections', 'storage-api']) {
        const dashboard = JSON.parse(readFileSync(join(ROOT, `deploy/grafana/dashboards/${file}.json`), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
        dashboard.panels.forEach((p, i) => p.targets.forEach((t, j) => rules.push({ record: `dashboard:${file.replace('-', '_')}:p${i}_${j}`, expr: t.expr })));
      }
      writeFileSync(join(dir, 'dash.yml'), JSON.stringify({ groups: [{ name: 'dashboards', rules }] }));
      const result = promtool(['check', 'rules', 'dash.yml'], dir);
      expect(result.status, result.output).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboards use documented metrics', () => {
  it('every metric a dashboard queries is in docs/metrics.md', () => {
    const metricsDoc = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
    for (const file of ['pipeline', 'detections', 'storage-api']) {
      const text = readFileSync(join(ROOT, `deploy/grafana/dashboards/${file}.json`), 'utf8');
      for (const metric of new Set(text.match(/mamori_[a-z_]+/g) ?? [])) {
        const base = metric.replace(/_(bucket|sum|count)$/, '');
        if (base.startsWith('mamori_process_') || base.startsWith('mamori_nodejs_')) continue;
        expect(metricsDoc, `${file}.json uses ${metric}, not in docs/metrics.md`).toContain(`\`${base}\``);
      }
    }
  });
});

describe('alert rules are documented and tested', () => {
  const tests = readFileSync(join(PROM, 'alerts.test.yml'), 'utf8');
  const operations = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const metricsDoc = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
  for (const alert of alerts) {
    it(`${alert.alert}: has a unit test, a runbook and uses documented metrics`, () => {
      expect(tests).toContain(`alertname: ${alert.alert}`);
      expect(alert.annotations?.['runbook']).toBe(`docs/operations.md#${alert.alert.toLowerCase()}`);
      expect(operations).toMatch(new RegExp(`^### ${alert.alert}$`, 'm'));
      for (const metric of alert.expr.match(/mamori_[a-z_]+/g) ?? []) {
        const base = metric.replace(/_(bucket|sum|count)$/, '');
        expect(metricsDoc, `${metric} in ${alert.alert} is not in docs/metrics.md`).toContain(`\`${base}\``);
      }
    });
  }
});
