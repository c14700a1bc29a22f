import { EnvReader, type Env } from '@mamori/core';
import { parseApiKeys, type ApiKey } from './auth.ts';
import type { JwtConfig } from './security/jwt.ts';
import { parseTaxiiPartners, type ResponseConfig, type TaxiiPartner } from './response/response-config.ts';

export interface QueryApiConfig {
  /** API_HOST. @default '127.0.0.1' */
  host: string;
  /** API_PORT. @default 8080 */
  port: number;
  /** MAMORI_API_KEYS (see auth.ts for the format). */
  apiKeys: ApiKey[];
  /** JWT bearer tokens; undefined when neither API_JWT_JWKS_URL nor API_JWT_JWKS_FILE is set. */
  jwt: JwtConfig | undefined;
  /** API_MAX_PAGE_SIZE: rows one request may ask for. @default 500 */
  maxPageSize: number;
  /** API_MAX_RANGE_DAYS: widest time range one query may span. @default 31 */
  maxRangeDays: number;
  /** API_QUERY_TIMEOUT_MS: ClickHouse-side limit per query. @default 10000 */
  queryTimeoutMs: number;
  /** API_BODY_LIMIT_BYTES. @default 65536 */
  bodyLimitBytes: number;
  /** API_RATE_LIMIT_PER_MINUTE: requests per credential (per client address on the unauthenticated docs routes) per minute; 0 = off. @default 600 */
  rateLimitPerMinute: number;
  /** API_MAX_SSE_SUBSCRIBERS: concurrent detection streams. @default 100 */
  maxSseSubscribers: number;
  /** API_SSE_POLL_INTERVAL_MS: how often each stream polls storage for new detections. @default 1000 */
  ssePollIntervalMs: number;
  /** API_SSE_HEARTBEAT_MS: comment line sent on an idle stream. @default 15000 */
  sseHeartbeatMs: number;
  /** API_ENTITY_CONTEXT_MINUTES: surrounding activity shown around a detection, each side. @default 15 */
  entityContextMinutes: number;
  /**
   * API_DETECTION_CACHE_MB: memory for whole detection rows by (organization, id, version) that the
   * detection list reuses (a stored version never changes); 0 = off. @default 64
   */
  detectionCacheMb: number;
  /**
   * API_ENTITY_CACHE_MB: memory for the entity page's roll-ups over settled hours (embedded chDB
   * only, where every insert passes through this process); 0 = off. @default 16
   */
  entityCacheMb: number;
  /**
   * API_LIST_HEADS_CACHE_MB: memory for the newest detection heads of each organizations scope's
   * detection list, from which its first pages in the default order are picked (embedded chDB only,
   * where every insert passes through this process); 0 = off. @default 16
   */
  listHeadsCacheMb: number;
  /**
   * API_ENTITY_CACHE_SETTLE_MINUTES: an hour is settled, and its roll-ups cached, this long after it
   * ends; rows that still arrive for it drop the entries that hold it. @default 120
   */
  entityCacheSettleMinutes: number;
  /** API_DOCS_ENABLED: serve /openapi.json and /docs. @default true */
  docsEnabled: boolean;
  /** Decisions, guard rails, blocklists, STIX and TAXII (response/response-config.ts, docs/response.md). */
  response: ResponseConfig;
}

export function loadQueryApiConfig(env: Env): Readonly<QueryApiConfig> {
  const r = new EnvReader(env);
  let apiKeys: ApiKey[] = [];
  try {
    apiKeys = parseApiKeys(r.string('MAMORI_API_KEYS', ''));
  } catch (error) {
    r.problem((error as Error).message);
  }
  const jwksUrl = r.optionalString('API_JWT_JWKS_URL');
  const jwksFile = r.optionalString('API_JWT_JWKS_FILE');
  const issuer = r.optionalString('API_JWT_ISSUER');
  const audience = r.optionalString('API_JWT_AUDIENCE');
  const rolesClaim = r.string('API_JWT_ROLES_CLAIM', 'mamori_roles');
  const orgsClaim = r.string('API_JWT_ORGS_CLAIM', 'mamori_orgs');
  const clockToleranceS = r.integer('API_JWT_CLOCK_TOLERANCE_S', 30, { min: 0, max: 600 });
  let jwt: JwtConfig | undefined;
  if (jwksUrl !== undefined || jwksFile !== undefined) {
    if (jwksUrl !== undefined && jwksFile !== undefined) r.problem('API_JWT_JWKS_URL and API_JWT_JWKS_FILE are both set; keep one');
    if (jwksUrl !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(jwksUrl);
      } catch {
        r.problem(`API_JWT_JWKS_URL=${JSON.stringify(jwksUrl)} is not a URL; give the https address of the identity provider's JWKS`);
      }
      const loopback = url !== undefined && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
      if (url !== undefined && url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
        r.problem(`API_JWT_JWKS_URL=${JSON.stringify(jwksUrl)} must be https (http only on loopback)`);
      }
    }
    if (issuer === undefined) r.problem('API_JWT_ISSUER is required when a JWKS is configured: the expected iss claim');
    if (audience === undefined) r.problem('API_JWT_AUDIENCE is required when a JWKS is configured: the expected aud claim');
    jwt = {
      ...(jwksUrl !== undefined ? { jwksUrl } : {}),
      ...(jwksFile !== undefined ? { jwksFile } : {}),
      issuer: issuer ?? '',
      audience: audience ?? '',
      rolesClaim,
      orgsClaim,
      clockToleranceS,
    };
  }
  let taxiiPartners: TaxiiPartner[] = [];
  try {
    taxiiPartners = parseTaxiiPartners(r.string('API_TAXII_PARTNERS', ''));
  } catch (error) {
    r.problem((error as Error).message);
  }
  const config: QueryApiConfig = {
    host: r.string('API_HOST', '127.0.0.1'),
    port: r.integer('API_PORT', 8080, { min: 0, max: 65_535 }),
    apiKeys,
    jwt,
    maxPageSize: r.integer('API_MAX_PAGE_SIZE', 500, { min: 1, max: 1000 }),
    maxRangeDays: r.integer('API_MAX_RANGE_DAYS', 31, { min: 1, max: 3660 }),
    queryTimeoutMs: r.integer('API_QUERY_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    bodyLimitBytes: r.integer('API_BODY_LIMIT_BYTES', 65_536, { min: 1024, max: 10_485_760 }),
    rateLimitPerMinute: r.integer('API_RATE_LIMIT_PER_MINUTE', 600, { min: 0, max: 1_000_000 }),
    maxSseSubscribers: r.integer('API_MAX_SSE_SUBSCRIBERS', 100, { min: 0, max: 10_000 }),
    ssePollIntervalMs: r.integer('API_SSE_POLL_INTERVAL_MS', 1000, { min: 100, max: 60_000 }),
    sseHeartbeatMs: r.integer('API_SSE_HEARTBEAT_MS', 15_000, { min: 1000, max: 300_000 }),
    entityContextMinutes: r.integer('API_ENTITY_CONTEXT_MINUTES', 15, { min: 1, max: 1440 }),
    detectionCacheMb: r.integer('API_DETECTION_CACHE_MB', 64, { min: 0, max: 65_536 }),
    entityCacheMb: r.integer('API_ENTITY_CACHE_MB', 16, { min: 0, max: 65_536 }),
    listHeadsCacheMb: r.integer('API_LIST_HEADS_CACHE_MB', 16, { min: 0, max: 65_536 }),
    entityCacheSettleMinutes: r.integer('API_ENTITY_CACHE_SETTLE_MINUTES', 120, { min: 0, max: 7 * 1440 }),
    docsEnabled: r.boolean('API_DOCS_ENABLED', true),
    response: {
      blockRequiresApproval: r.boolean('API_BLOCK_REQUIRES_APPROVAL', true),
      warningLists: r.list('API_WARNING_LISTS', []),
      inventoryFile: r.optionalString('MAMORI_INVENTORY_FILE'),
      taxiiPartners,
      decisionMaxDays: r.integer('API_DECISION_MAX_DAYS', 90, { min: 1, max: 3660 }),
    },
  };
  return r.done(config);
}
