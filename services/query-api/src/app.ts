import { isIP } from 'node:net';
import type { Logger } from '@mamori/core';
import { Counter, Histogram, type Registry } from '@mamori/metrics';
import { SEVERITIES, StorageError, getDetection, listDetections, type DetectionRow, type Severity, type StorageDriver } from '@mamori/storage';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticate, hasRole, type Principal, type Role } from './auth.ts';
import type { QueryApiConfig } from './config.ts';

export interface QueryApiDeps {
  storage: StorageDriver;
  logger: Logger;
  registry: Registry;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const DAY_MS = 86_400_000;

interface ListQuery {
  since?: string;
  until?: string;
  min_severity?: Severity;
  rule_id?: string;
  src_ip?: string;
  limit?: number;
  cursor?: string;
}

const timeParam = { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch milliseconds' } as const;

/**
 * The analyst API. Every route under /v1 needs an API key (Authorization: Bearer <id>.<secret>);
 * the key's organizations bound every query. Inputs are validated by JSON schema, time ranges and
 * page sizes are bounded, and every query is parameterized and carries a ClickHouse-side timeout.
 */
export async function buildQueryApi(config: QueryApiConfig, deps: QueryApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Normal operation logs nothing per request; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  const { storage } = deps;
  const requests = new Counter({
    name: 'mamori_api_requests_total',
    help: 'API requests by route and status code.',
    labelNames: ['route', 'status'],
    registers: [deps.registry],
  });
  const latency = new Histogram({
    name: 'mamori_api_request_duration_seconds',
    help: 'API request latency by route.',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });
  const authFailures = new Counter({
    name: 'mamori_api_auth_failures_total',
    help: 'Requests refused for a missing or invalid credential (401) or an insufficient role (403).',
    labelNames: ['reason'],
    registers: [deps.registry],
  });

  app.addHook('onResponse', async (request, reply) => {
    // routeOptions.url is the route pattern (bounded), never the raw URL.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });

  function requireRole(role: Role) {
    return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const principal = authenticate(config.apiKeys, request.headers.authorization);
      if (!principal) {
        authFailures.inc({ reason: 'unauthenticated' });
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid API key is required' });
        return;
      }
      if (!hasRole(principal, role)) {
        authFailures.inc({ reason: 'forbidden' });
        await reply.code(403).send({ error: 'forbidden', message: `requires role ${role}` });
        return;
      }
      request.principal = principal;
    };
  }

  app.setErrorHandler(async (error: Error & { validation?: unknown; statusCode?: number }, request, reply) => {
    if (error.validation) return reply.code(400).send({ error: 'bad_request', message: error.message });
    if (error instanceof StorageError && error.code === 'STORAGE_INVALID_ARGUMENT') return reply.code(400).send({ error: 'bad_request', message: error.message });
    if (error instanceof StorageError && error.code === 'CLICKHOUSE_TIMEOUT') return reply.code(503).send({ error: 'timeout', message: 'the query took too long; narrow the time range or filters' });
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return reply.code(error.statusCode).send({ error: 'bad_request', message: error.message });
    request.log.error({ err: error, error_code: (error as { code?: string }).code }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });

  app.get<{ Querystring: ListQuery }>(
    '/v1/detections',
    {
      preHandler: requireRole('viewer'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: timeParam,
            until: timeParam,
            min_severity: { type: 'string', enum: [...SEVERITIES] },
            rule_id: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' },
            src_ip: { type: 'string', maxLength: 45 },
            limit: { type: 'integer', minimum: 1, maximum: config.maxPageSize, default: Math.min(100, config.maxPageSize) },
            cursor: { type: 'string', maxLength: 512 },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const until = q.until === undefined ? Date.now() + DAY_MS : parseTime('until', q.until);
      const since = q.since === undefined ? until - 7 * DAY_MS : parseTime('since', q.since);
      if (since >= until) return reply.code(400).send({ error: 'bad_request', message: 'since must be before until' });
      if (until - since > config.maxRangeDays * DAY_MS) {
        return reply.code(400).send({ error: 'bad_request', message: `the time range may span at most ${config.maxRangeDays} days` });
      }
      if (q.src_ip !== undefined && isIP(q.src_ip) === 0) return reply.code(400).send({ error: 'bad_request', message: 'src_ip must be an IPv4 or IPv6 address' });
      const page = await listDetections(
        storage,
        {
          orgIds: orgScope(request.principal!),
          since,
          until,
          ...(q.min_severity ? { minSeverity: q.min_severity } : {}),
          ...(q.rule_id ? { ruleId: q.rule_id } : {}),
          ...(q.src_ip ? { srcIp: q.src_ip } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
          limit: q.limit ?? Math.min(100, config.maxPageSize),
        },
        { timeoutMs: config.queryTimeoutMs },
      );
      return { detections: page.detections.map(detectionJson), next_cursor: page.nextCursor ?? null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/detections/:id',
    {
      preHandler: requireRole('viewer'),
      schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' } }, required: ['id'] } },
    },
    async (request, reply) => {
      const row = await getDetection(storage, request.params.id, orgScope(request.principal!), { timeoutMs: config.queryTimeoutMs });
      // Another organization's detection is indistinguishable from a missing one.
      if (!row) return reply.code(404).send({ error: 'not_found', message: 'no such detection' });
      return detectionJson(row);
    },
  );

  await app.ready();
  return app;
}

function orgScope(principal: Principal): readonly string[] | undefined {
  return principal.orgs === '*' ? undefined : principal.orgs;
}

function parseTime(name: string, text: string): number {
  const ms = /^\d{1,15}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new StorageError('STORAGE_INVALID_ARGUMENT', `${name} must be an ISO 8601 time or epoch milliseconds`);
  return ms;
}

/** The API's JSON shape of a detection: snake_case, ISO times. */
export function detectionJson(d: DetectionRow): Record<string, unknown> {
  let evidence: unknown = [];
  try {
    evidence = JSON.parse(d.evidenceJson || '[]');
  } catch {
    evidence = [];
  }
  return {
    id: d.detectionId,
    org_id: d.orgId,
    rule_id: d.ruleId,
    rule_version: d.ruleVersion,
    title: d.title,
    severity: d.severity,
    confidence: d.confidence,
    tactics: d.tactics,
    techniques: d.techniques,
    entity: { type: d.entityType, value: d.entityValue },
    src_ip: d.srcIp ?? null,
    first_seen: new Date(d.firstSeen).toISOString(),
    last_seen: new Date(d.lastSeen).toISOString(),
    detected_at: new Date(d.detectedAt).toISOString(),
    count: d.count,
    summary: d.summary,
    evidence,
    attributes: d.attributes,
    ruleset_checksum: d.rulesetChecksum,
  };
}
