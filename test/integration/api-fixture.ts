import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@mamori/core';
import { createRegistry, type Registry } from '@mamori/metrics';
import { buildQueryApi, hashSecret, loadQueryApiConfig } from '@mamori/query-api';
import { insertDetections, insertEvents, migrate, toDetectionRow, toEventRow, type StorageDriver } from '@mamori/storage';
import { createChdbStorage } from '@mamori/storage-chdb';
import type { FastifyInstance } from 'fastify';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

/** Shared set-up of the api-*.test.ts files: chDB with two organizations' events and detections, keys and a JWKS. */
export const NOW = Date.now();
export const MIN = 60_000;
export const ISSUER = 'https://idp.test';
export const AUDIENCE = 'mamori-api';

export const SECRETS = {
  'viewer-a': 'viewer-a-secret-0123456789',
  'analyst-a': 'analyst-a-secret-0123456789',
  'analyst-b': 'analyst-b-secret-0123456789',
  admin: 'admin-all-secret-0123456789',
} as const;
export type KeyId = keyof typeof SECRETS;
export const key = (id: KeyId) => ({ authorization: `Bearer ${id}.${SECRETS[id]}` });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export interface Fixture {
  dir: string;
  storage: StorageDriver;
  jwksFile: string;
  privateKey: CryptoKey;
  otherKey: CryptoKey;
  env: Record<string, string>;
  /** An API over the fixture's storage, or over `storage` (a wrapper of it); closed with the fixture. */
  build(extra?: Record<string, string>, registry?: Registry, storage?: StorageDriver): Promise<FastifyInstance>;
  sign(claims: Record<string, unknown>, opts?: { key?: CryptoKey; exp?: string | number; aud?: string; iss?: string; sub?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function createFixture(database: string): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'mamori-api-'));
  const storage = createChdbStorage({ path: dir, database });
  await storage.connect();
  await migrate(storage, { database });

  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));

  // Events: org-a 10.0.0.5 talking to three peers around the detections; org-b its own.
  const events = [];
  for (let i = 0; i < 60; i++) {
    events.push(
      toEventRow({
        eventId: `ev-a-${i}`,
        orgId: 'org-a',
        sensorId: i % 2 === 0 ? 'sensor-a1' : 'sensor-a2',
        sourceFormat: 'zeek-conn',
        eventClass: 'flow',
        time: NOW - 30 * MIN + i * 10_000,
        srcIp: '10.0.0.5',
        srcPort: 40_000 + i,
        dstIp: `192.0.2.${(i % 3) + 1}`,
        dstPort: i % 4 === 0 ? 443 : 22,
        protocol: 'tcp',
        bytesOut: 100,
        bytesIn: 200,
      }),
    );
  }
  for (let i = 0; i < 10; i++) {
    events.push(toEventRow({ eventId: `ev-b-${i}`, orgId: 'org-b', sensorId: 'sensor-b1', eventClass: 'flow', time: NOW - 20 * MIN + i * 1000, srcIp: '10.9.9.9', dstIp: '198.51.100.7', dstPort: 3389, protocol: 'tcp' }));
  }
  await insertEvents(storage, events);

  const detections = [
    toDetectionRow({
      detectionId: 'det-a-scan',
      orgId: 'org-a',
      ruleId: 'mamori.network.port_scan',
      title: 'Port scan from 10.0.0.5',
      severity: 'high',
      techniques: ['T1046'],
      tactics: ['discovery'],
      entityType: 'ip',
      entityValue: '10.0.0.5',
      srcIp: '10.0.0.5',
      firstSeen: NOW - 30 * MIN,
      lastSeen: NOW - 20 * MIN,
      detectedAt: NOW - 19 * MIN,
      count: 12,
      evidenceEventIds: ['ev-a-0', 'ev-a-1', 'ev-a-2', 'ev-b-0'],
      version: 1,
    }),
    toDetectionRow({
      detectionId: 'det-a-beacon',
      orgId: 'org-a',
      ruleId: 'mamori.network.beacon',
      title: 'Beaconing to 192.0.2.1',
      severity: 'medium',
      techniques: ['T1071.001'],
      entityType: 'ip',
      entityValue: '10.0.0.6',
      srcIp: '10.0.0.6',
      firstSeen: NOW - 60 * MIN,
      lastSeen: NOW - 10 * MIN,
      detectedAt: NOW - 9 * MIN,
      version: 1,
    }),
    toDetectionRow({
      detectionId: 'det-b-rdp',
      orgId: 'org-b',
      ruleId: 'mamori.auth.brute_force',
      title: 'RDP brute force',
      severity: 'critical',
      entityType: 'ip',
      entityValue: '10.9.9.9',
      srcIp: '10.9.9.9',
      firstSeen: NOW - 20 * MIN,
      lastSeen: NOW - 5 * MIN,
      detectedAt: NOW - 4 * MIN,
      version: 1,
    }),
  ];
  await insertDetections(storage, detections);

  const env: Record<string, string> = {
    MAMORI_API_KEYS: [
      `viewer-a:${hashSecret(SECRETS['viewer-a'])}:viewer:org-a`,
      `analyst-a:${hashSecret(SECRETS['analyst-a'])}:analyst:org-a`,
      `analyst-b:${hashSecret(SECRETS['analyst-b'])}:analyst:org-b`,
      `admin:${hashSecret(SECRETS.admin)}:admin:*`,
    ].join(';'),
    API_JWT_JWKS_FILE: jwksFile,
    API_JWT_ISSUER: ISSUER,
    API_JWT_AUDIENCE: AUDIENCE,
    API_MAX_PAGE_SIZE: '200',
    API_SSE_POLL_INTERVAL_MS: '200',
    API_SSE_HEARTBEAT_MS: '1000',
  };
  const apps: FastifyInstance[] = [];
  return {
    dir,
    storage,
    jwksFile,
    privateKey,
    otherKey: other.privateKey,
    env,
    async build(extra = {}, registry = createRegistry(), over = storage) {
      const app = await buildQueryApi(loadQueryApiConfig({ ...env, ...extra }), { storage: over, logger: silentLogger(), registry });
      apps.push(app);
      return app;
    },
    async sign(claims, opts = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(opts.iss ?? ISSUER)
        .setAudience(opts.aud ?? AUDIENCE)
        .setSubject(opts.sub ?? 'alice')
        .setIssuedAt()
        .setExpirationTime(opts.exp ?? '5m')
        .sign(opts.key ?? privateKey);
    },
    async close() {
      for (const app of apps) await app.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
