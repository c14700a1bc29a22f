import type { Logger } from '@mamori/core';
import type { Registry } from '@mamori/metrics';
import type { DetectionRowCache, EntityRollupCache, HeadsCaches, StorageDriver, TriageStateCache } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import type { QueryApiConfig } from '../config.ts';

/**
 * What every route file receives. A route file exports one `register<Area>Routes(app, deps)` of type
 * {@link RegisterRoutes}; app.ts lists it in ROUTES (one line). Each runs inside its own Fastify
 * plugin scope, after authentication (onRequest, every `/v1/` URL), rate limiting and the error
 * handler are in place. Conventions for a route:
 *
 * - `preHandler: requireRole('viewer' | 'analyst' | 'approver' | 'admin')` from `../security/principal.ts`;
 * - storage calls take `orgScope(principalOf(request))` and `queryOptions(deps.config)`;
 *   another organization's object is a 404, never a 403;
 * - a JSON schema for querystring, params, body and (where practical) the 200 response, with
 *   `tags` and `summary` for the OpenAPI document; time ranges through `timeRange()`, pages through
 *   `limitParam()` (`../security/guards.ts`); throw `badRequest()` for a 400.
 */
export interface RouteDeps {
  config: Readonly<QueryApiConfig>;
  storage: StorageDriver;
  logger: Logger;
  registry: Registry;
  /** Detection rows by (org, id, version) for the detection list; undefined when API_DETECTION_CACHE_MB is 0. */
  detectionCache: DetectionRowCache | undefined;
  /**
   * Current triage states for the list and the entity page; only where this process is the only writer
   * of triage state (embedded chDB) and API_DETECTION_CACHE_MB is not 0. PATCH records each change in it.
   */
  stateCache: TriageStateCache | undefined;
  /**
   * The entity page's roll-ups over settled hours; only where every insert passes through this
   * process's driver (`storage.onInsert`: embedded chDB) and API_ENTITY_CACHE_MB is not 0.
   */
  entityCache: EntityRollupCache | undefined;
  /**
   * The newest detection heads of the lists read: `list` per organizations scope (API_LIST_HEADS_CACHE_MB
   * not 0), `address` per address of the entity pages read (with `entityCache`); embedded chDB only.
   */
  headsCaches: HeadsCaches;
}

export type RegisterRoutes = (app: FastifyInstance, deps: RouteDeps) => Promise<void>;
