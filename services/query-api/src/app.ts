import rateLimit from '@fastify/rate-limit';
import type { Logger } from '@mamori/core';
import { Counter, Gauge, Histogram, type Registry } from '@mamori/metrics';
import { DetectionHeadsCache, DetectionRowCache, EntityRollupCache, StorageError, TriageStateCache, type InsertListener, type StorageDriver } from '@mamori/storage';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { QueryApiConfig } from './config.ts';
import { registerOpenApi } from './openapi.ts';
import { registerDecisionRoutes } from './routes/decisions.ts';
import { registerDetectionRoutes } from './routes/detections.ts';
import { registerEntityRoutes } from './routes/entities.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { registerStreamRoutes } from './routes/stream.ts';
import { registerExportRoutes } from './routes/exports.ts';
import { registerTaxiiRoutes } from './routes/taxii.ts';
import type { RegisterRoutes, RouteDeps } from './routes/deps.ts';
import { createAuthenticator } from './security/authenticator.ts';

export interface QueryApiDeps {
  storage: StorageDriver;
  logger: Logger;
  registry: Registry;
}

/**
 * Every route file of the API, one line each. Each runs in its own plugin scope with
 * {@link RouteDeps}; see routes/deps.ts for the conventions a route follows.
 */
const ROUTES: readonly RegisterRoutes[] = [
  registerStreamRoutes,
  registerDetectionRoutes,
  registerEntityRoutes,
  registerEventRoutes,
  registerStatsRoutes,
  registerDecisionRoutes,
  registerExportRoutes,
  registerTaxiiRoutes,
];

/**
 * The analyst API. Every route under /v1 needs a credential (an API key or a JWT); the caller's
 * organizations bound every query. Inputs are validated by JSON schema, time ranges and page sizes
 * are bounded, every query is parameterized and carries a ClickHouse-side timeout, and each
 * credential is rate limited.
 */
export async function buildQueryApi(config: Readonly<QueryApiConfig>, deps: QueryApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Normal operation logs nothing per request; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  const requests = new Counter({
    name: 'mamori_api_requests_total',
    help: 'API requests by route and status code.',
    labelNames: ['route', 'status'],
    registers: [deps.registry],
  });
  const latency = new Histogram({
    name: 'mamori_api_request_duration_seconds',
    help: 'API request latency by route pattern and status code.',
    labelNames: ['route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.registry],
  });
  const authFailures = new Counter({
    name: 'mamori_api_auth_failures_total',
    help: 'Requests refused for a missing or invalid credential (401) or an insufficient role (403).',
    labelNames: ['reason'],
    registers: [deps.registry],
  });
  const rateLimited = new Counter({
    name: 'mamori_api_rate_limited_total',
    help: 'Requests refused with 429 because their credential (on the docs routes, their address) went over API_RATE_LIMIT_PER_MINUTE.',
    registers: [deps.registry],
  });

  app.addHook('onResponse', async (request, reply) => {
    // routeOptions.url is the route pattern (bounded), never the raw URL.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(reply.statusCode) });
    latency.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (reply.statusCode === 403 && route.startsWith('/v1/')) authFailures.inc({ reason: 'forbidden' });
  });

  // Authentication first (onRequest), for every /v1/ route: rate limiting then keys by principal,
  // and route preHandlers (requireRole) only check the role.
  const authenticator = createAuthenticator(config.apiKeys, config.jwt);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.url?.startsWith('/v1/')) return;
    const result = await authenticator.authenticate(request.headers.authorization);
    if (result.ok) {
      request.principal = result.principal;
      return;
    }
    authFailures.inc({ reason: 'unauthenticated' });
    await reply.code(result.reason === 'jwks_unavailable' ? 503 : 401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: result.message });
  });

  app.setErrorHandler(async (error: Error & { validation?: unknown; statusCode?: number }, request, reply) => {
    if (error.validation) return reply.code(400).send({ error: 'bad_request', message: error.message });
    if (error instanceof StorageError && error.code === 'STORAGE_INVALID_ARGUMENT') return reply.code(400).send({ error: 'bad_request', message: error.message });
    if (error instanceof StorageError && error.code === 'CLICKHOUSE_TIMEOUT') return reply.code(503).send({ error: 'timeout', message: 'the query took too long; narrow the time range or filters' });
    if (error instanceof StorageError && error.code === 'STORAGE_VERSION_CONFLICT') return reply.code(409).send({ error: 'conflict', message: error.message });
    if (error.statusCode === 429) return reply.code(429).send({ error: 'rate_limited', message: error.message });
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return reply.code(error.statusCode).send({ error: 'bad_request', message: error.message });
    request.log.error({ err: error, error_code: (error as { code?: string }).code }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });

  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      hook: 'preHandler',
      keyGenerator: (request) => request.principal?.id ?? `ip:${request.ip}`,
      onExceeded: () => rateLimited.inc(),
      errorResponseBuilder: (_request, context) => ({ statusCode: 429, error: 'rate_limited', message: `more than ${context.max} requests per minute for this credential; retry in ${context.after}` }),
    });
  }

  await registerOpenApi(app, { serveDocs: config.docsEnabled });

  const detectionCache = config.detectionCacheMb > 0 ? new DetectionRowCache(config.detectionCacheMb * 1024 * 1024) : undefined;
  if (detectionCache !== undefined) {
    const cache = detectionCache;
    lookupsCounter(
      deps.registry,
      'mamori_api_detection_cache_lookups_total',
      'Detection rows the list looked up in its row cache (API_DETECTION_CACHE_MB), by result: hit (no read) or miss (read from ClickHouse).',
      cache.stats,
    );
    bytesGauge(deps.registry, 'mamori_api_detection_cache_bytes', 'Approximate heap bytes of the detection rows the list cache holds.', cache);
  }
  // Triage state is cached only where this process is its only writer: embedded chDB, whose data
  // directory one process owns. A ClickHouse server may be written by other API processes.
  const stateCache = detectionCache !== undefined && deps.storage.name === 'chdb' ? new TriageStateCache(Math.max(1, Math.floor(detectionCache.maxBytes / 4))) : undefined;
  if (stateCache !== undefined) {
    lookupsCounter(
      deps.registry,
      'mamori_api_triage_state_cache_lookups_total',
      'Triage states the list and the entity page looked up in the state cache (embedded chDB only), by result: hit (no read) or miss (read from ClickHouse).',
      stateCache.stats,
    );
  }
  // The entity page's settled hours are cached only where every insert passes through this process's
  // driver (embedded chDB), so that late rows for a cached hour are seen and drop it.
  const entityCache = config.entityCacheMb > 0 && deps.storage.onInsert !== undefined ? new EntityRollupCache(config.entityCacheMb * 1024 * 1024, config.entityCacheSettleMinutes * 60_000) : undefined;
  if (entityCache !== undefined) {
    const cache = entityCache;
    observeInserts(app, deps.storage, cache);
    lookupsCounter(
      deps.registry,
      'mamori_api_entity_cache_lookups_total',
      'Entity pages that looked up their settled hours in the entity cache (embedded chDB only), by result: hit (only the hours after them read) or miss (read and kept).',
      cache.stats,
    );
    statCounter(
      deps.registry,
      'mamori_api_entity_cache_invalidations_total',
      'Entity cache entries dropped because rows arrived for hours they hold (a late sensor, a replay).',
      () => cache.stats.invalidations,
    );
    statCounter(
      deps.registry,
      'mamori_api_entity_cache_fallbacks_total',
      'Top peer or port lists of an entity page that the cached candidates could not decide, so read over the whole range.',
      () => cache.stats.fallbacks,
    );
    bytesGauge(deps.registry, 'mamori_api_entity_cache_bytes', 'Approximate heap bytes of the settled roll-ups the entity cache holds.', cache);
  }
  // The newest detection heads of the lists read, kept up to date from the same hook (the ids of
  // inserted detections are read again before the next use): per address of the entity pages read,
  // and per organizations scope of the detection list.
  const addressHeads = entityCache !== undefined ? new DetectionHeadsCache(config.entityCacheMb * 1024 * 1024) : undefined;
  if (addressHeads !== undefined) {
    observeInserts(app, deps.storage, addressHeads);
    headsMetrics(deps.registry, ['mamori_api_address_heads_cache_lookups_total', 'mamori_api_address_heads_cache_bytes'], "Entity pages that picked their detections from the address's cached heads", addressHeads);
  }
  const listHeads =
    config.listHeadsCacheMb > 0 && deps.storage.onInsert !== undefined ? new DetectionHeadsCache(config.listHeadsCacheMb * 1024 * 1024, LIST_HEADS_PER_SCOPE) : undefined;
  if (listHeads !== undefined) {
    observeInserts(app, deps.storage, listHeads);
    headsMetrics(deps.registry, ['mamori_api_list_heads_cache_lookups_total', 'mamori_api_list_heads_cache_bytes'], "Detection lists in the default order that picked their page from the organizations' cached newest heads", listHeads);
  }
  const headsCaches = { address: addressHeads, list: listHeads };
  const routeDeps: RouteDeps = { config, storage: deps.storage, logger: deps.logger, registry: deps.registry, detectionCache, stateCache, entityCache, headsCaches };
  for (const register of ROUTES) await app.register(async (scope) => register(scope, routeDeps));

  await app.ready();
  return app;
}

/**
 * Newest heads an organizations scope's list entry holds: two pages of the largest page size deep
 * (320 KB). Later pages are picked in ClickHouse.
 */
const LIST_HEADS_PER_SCOPE = 2_000;

/** The lookups counter and bytes gauge of a heads cache (named in full, as the metrics documentation test reads them). */
function headsMetrics(registry: Registry, [lookups, bytes]: [string, string], what: string, cache: DetectionHeadsCache): void {
  lookupsCounter(
    registry,
    lookups,
    `${what} (embedded chDB only), by result: hit (nothing read), miss (the newest heads read and kept), refresh (only the detections inserted since read by id), fallback (the page reaches below the heads held: picked in ClickHouse).`,
    cache.stats,
    { hits: 'hit', misses: 'miss', refreshes: 'refresh', fallbacks: 'fallback' },
  );
  bytesGauge(registry, bytes, 'Approximate heap bytes of the detection heads the cache holds.', cache);
}

/** Tells `cache` of every insert through the driver (embedded chDB's `onInsert`) until the app closes. */
function observeInserts(app: FastifyInstance, storage: StorageDriver, cache: { observeInsert: InsertListener }): void {
  const stop = storage.onInsert!((table, rows) => cache.observeInsert(table, rows));
  app.addHook('onClose', async () => stop());
}

/** A gauge of the approximate heap bytes a cache holds, read at each scrape. */
function bytesGauge(registry: Registry, name: string, help: string, cache: { readonly bytes: number }): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(cache.bytes);
    },
  });
}

/** A counter that reports a running total kept elsewhere. */
function statCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const total = read();
      this.inc(total - reported);
      reported = total;
    },
  });
}

/** A counter of a cache's lookups by result: each stat (`hits`, `misses`, ...) under its `result` label. */
function lookupsCounter<K extends string>(
  registry: Registry,
  name: string,
  help: string,
  stats: Readonly<Record<K, number>>,
  results: Readonly<Record<K, string>> = { hits: 'hit', misses: 'miss' } as Record<K, string>,
): void {
  const keys = Object.keys(results) as K[];
  const reported = new Map<K, number>(keys.map((k) => [k, 0]));
  new Counter({
    name,
    help,
    labelNames: ['result'],
    registers: [registry],
    collect() {
      for (const k of keys) {
        this.inc({ result: results[k] }, stats[k] - reported.get(k)!);
        reported.set(k, stats[k]);
      }
    },
  });
}
