import { Registry, collectDefaultMetrics } from 'prom-client';

/** A fresh registry with Node's default process metrics (prefixed `mamori_`). */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'mamori_' });
  return registry;
}
