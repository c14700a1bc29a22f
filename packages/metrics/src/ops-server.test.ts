import { afterEach, describe, expect, it } from 'vitest';
import { OpsServer } from './ops-server.ts';
import { createRegistry } from './registry.ts';
import { stageMetrics } from './stage-metrics.ts';

describe('OpsServer', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves metrics, health and readiness', async () => {
    const registry = createRegistry();
    stageMetrics(registry).received.inc({ stage: 'normalizer', topic: 'telemetry.raw.zeek.conn' }, 3);
    server = new OpsServer({ registry, port: 0 });
    let ready = false;
    server.addReadinessCheck('kafka', () => ready);
    const port = await server.listen();
    const base = `http://127.0.0.1:${port}`;

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('mamori_records_received_total{stage="normalizer",topic="telemetry.raw.zeek.conn"} 3');
    expect(metrics).toContain('mamori_process_cpu_seconds_total');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('kafka');
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    server.markShuttingDown();
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('registers stage metrics once per registry', () => {
    const registry = createRegistry();
    expect(stageMetrics(registry)).toBe(stageMetrics(registry));
  });
});
