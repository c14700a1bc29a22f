import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

/** deploy/k8s validated against the Kubernetes OpenAPI schemas (kubernetes-models), plus our own rules. */
const DIR = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  // Manifests are free-form YAML; the schema validator above checks their shape.
  spec?: Record<string, any>;
}
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const docs: (Doc & { file: string })[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => ({ ...(d.toJS() as Doc), file })),
);

describe('Kubernetes manifests', () => {
  it('every document is a known kind that passes schema validation', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const doc of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${doc.file}: ${doc.apiVersion} ${doc.kind} has no validator`).toBeDefined();
      expect(() => new Model!(doc as never).validate(), `${doc.file}: ${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
  });

  it('rejects an invalid manifest (the validator is real)', () => {
    const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two', selector: {}, template: {} } };
    expect(() => new Deployment(bad as never).validate()).toThrow();
  });

  const deployments = docs.filter((d) => d.kind === 'Deployment');
  it('has a Deployment per service, each with probes, resources, a PDB and the ops port', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['detector', 'ingest', 'normalizer', 'query-api', 'writer']);
    for (const d of deployments) {
      const c = d.spec!['template'].spec.containers[0];
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.resources.requests.cpu && c.resources.limits.memory).toBeTruthy();
      expect(c.args).toEqual(['run', d.metadata.name]);
      expect(docs.some((p) => p.kind === 'PodDisruptionBudget' && p.metadata.name === d.metadata.name)).toBe(true);
    }
  });

  it('scales normalizer and detector on consumer lag', () => {
    for (const name of ['normalizer', 'detector']) {
      const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler' && d.metadata.name === name)!;
      expect(hpa.spec!['scaleTargetRef'].name).toBe(name);
      const external = hpa.spec!['metrics'].find((m: { type: string }) => m.type === 'External');
      expect(external.external.metric.name).toBe('mamori_consumer_lag_records');
      expect(external.external.metric.selector.matchLabels.stage).toBe(name);
    }
  });

  it('the kustomization lists every manifest', () => {
    const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });
});
