export { Counter, Gauge, Histogram, Registry } from 'prom-client';
export { createRegistry } from './registry.ts';
export { stageMetrics, type StageMetrics } from './stage-metrics.ts';
export { OpsServer, type OpsServerOptions, type ReadinessCheck } from './ops-server.ts';
