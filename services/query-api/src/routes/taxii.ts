import { effectiveDecisionStatus, listDecisions } from '@mamori/storage';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { responseContext, type ResponseContext } from '../response/context.ts';
import type { TaxiiPartner } from '../response/response-config.ts';
import { indicatorObjects, type ExportedObject } from '../response/stix-export.ts';
import { STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, acceptsTaxii, authenticatePartner, collectionId, decodeNext, encodeNext, taxiiError, taxiiTimestamp } from '../response/taxii.ts';
import { queryOptions } from '../security/guards.ts';
import type { RouteDeps } from './deps.ts';

const API_ROOT = '/taxii2/mamori/';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

declare module 'fastify' {
  interface FastifyRequest {
    /** The TAXII partner, set by the /taxii2/ authentication hook. */
    taxiiPartner?: TaxiiPartner;
  }
}

interface ObjectsQuery {
  added_after?: string;
  limit?: number;
  next?: string;
  'match[type]'?: string;
  'match[id]'?: string;
  'match[version]'?: string;
  'match[spec_version]'?: string;
}

const OBJECTS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    added_after: { type: 'string', maxLength: 40 },
    limit: { type: 'integer', minimum: 1, maximum: 100_000 },
    next: { type: 'string', maxLength: 512 },
    'match[type]': { type: 'string', maxLength: 512 },
    'match[id]': { type: 'string', maxLength: 4096 },
    'match[version]': { type: 'string', maxLength: 512 },
    'match[spec_version]': { type: 'string', maxLength: 64 },
  },
} as const;

const COLLECTION_PARAMS = { type: 'object', properties: { collection: { type: 'string', maxLength: 64 } }, required: ['collection'] } as const;

/**
 * A read-only TAXII 2.1 server: discovery, one API root, and one collection per partner holding the
 * indicators its organization decided to share with it (`share` decisions naming the partner).
 * Partners authenticate with HTTP Basic or a bearer `<partner id>.<secret>` (API_TAXII_PARTNERS);
 * another partner's collection is a 404, as is any unknown one.
 */
export async function registerTaxiiRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const ctx = responseContext(deps.config, deps.logger);
  app.addHook('onClose', async () => ctx.close());

  const send = (reply: FastifyReply, status: number, body: unknown): FastifyReply => 
    // A Buffer keeps the media type exactly `application/taxii+json;version=2.1` (a string gets a charset added).
    reply.code(status).header('content-type', TAXII_MEDIA_TYPE).send(Buffer.from(JSON.stringify(body)));
  const fail = (reply: FastifyReply, status: number, title: string, description: string): FastifyReply => send(reply, status, taxiiError(status, title, description));

  app.setErrorHandler(async (error: Error & { validation?: unknown; statusCode?: number }, request, reply) => {
    if (error.validation) return fail(reply, 400, 'Bad request', error.message);
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return fail(reply, error.statusCode, 'Bad request', error.message);
    request.log.error({ err: error }, 'TAXII request failed');
    return fail(reply, 500, 'Internal error', 'the server could not answer; try again later');
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/taxii2/')) return;
    if (!acceptsTaxii(request.headers.accept)) {
      return fail(reply, 406, 'Not acceptable', `this server answers with ${TAXII_MEDIA_TYPE}`);
    }
    const partner = authenticatePartner(ctx.config.taxiiPartners, request.headers.authorization);
    if (!partner) {
      void reply.header('www-authenticate', 'Basic realm="mamori-taxii", Bearer');
      return fail(reply, 401, 'Unauthorized', 'partner credentials are required (HTTP Basic or Bearer)');
    }
    request.taxiiPartner = partner;
  });

  const partnerOf = (request: FastifyRequest): TaxiiPartner => request.taxiiPartner!;

  const collectionJson = (p: TaxiiPartner) => ({
    id: collectionId(p),
    title: `Indicators shared by ${ctx.orgName(p.org)} with ${p.id}`,
    description: 'Indicators the organization decided to share with this partner; each object carries its TLP 2.0 marking.',
    can_read: true,
    can_write: false,
    media_types: [STIX_MEDIA_TYPE],
  });

  /** The partner's collection, or a 404 for any other id (another partner's included). */
  const ownCollection = (request: FastifyRequest<{ Params: { collection: string } }>, reply: FastifyReply): TaxiiPartner | undefined => {
    const partner = partnerOf(request);
    if (request.params.collection !== collectionId(partner)) {
      fail(reply, 404, 'Collection not found', 'no such collection for these credentials');
      return undefined;
    }
    return partner;
  };

  app.get('/taxii2/', { schema: { hide: true } }, async (_request, reply) =>
    send(reply, 200, { title: 'Mamori TAXII server', description: 'Indicators shared by Mamori organizations with their partners.', default: API_ROOT, api_roots: [API_ROOT] }),
  );

  app.get(API_ROOT, { schema: { hide: true } }, async (_request, reply) =>
    send(reply, 200, { title: 'Mamori shared indicators', versions: [TAXII_MEDIA_TYPE], max_content_length: deps.config.bodyLimitBytes }),
  );

  app.get(`${API_ROOT}collections/`, { schema: { hide: true } }, async (request, reply) => send(reply, 200, { collections: [collectionJson(partnerOf(request))] }));

  app.get<{ Params: { collection: string } }>(`${API_ROOT}collections/:collection/`, { schema: { hide: true, params: COLLECTION_PARAMS } }, async (request, reply) => {
    const partner = ownCollection(request, reply);
    if (!partner) return reply;
    return send(reply, 200, collectionJson(partner));
  });

  const page = async (q: ObjectsQuery, reply: FastifyReply, partner: TaxiiPartner): Promise<{ items: ExportedObject[]; more: boolean; next?: string } | undefined> => {
    let after = -Infinity;
    if (q.added_after !== undefined) {
      after = Date.parse(q.added_after);
      if (!Number.isFinite(after)) {
        fail(reply, 400, 'Bad request', 'added_after must be an RFC 3339 timestamp');
        return undefined;
      }
    }
    let cursor: { dateAdded: number; id: string } | undefined;
    if (q.next !== undefined) {
      cursor = decodeNext(q.next);
      if (!cursor) {
        fail(reply, 400, 'Bad request', 'next is not a token this server issued');
        return undefined;
      }
    }
    const limit = Math.min(q.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const all = await sharedObjects(ctx, deps, partner);
    const types = q['match[type]']?.split(',').map((s) => s.trim());
    const ids = q['match[id]']?.split(',').map((s) => s.trim());
    const specVersions = q['match[spec_version]']?.split(',').map((s) => s.trim());
    const versions = q['match[version]']?.split(',').map((s) => s.trim());
    const filtered = all.filter((o) => {
      if (o.dateAdded <= after) return false;
      if (cursor && (o.dateAdded < cursor.dateAdded || (o.dateAdded === cursor.dateAdded && String(o.object.id) <= cursor.id))) return false;
      if (types && !types.includes(String(o.object.type))) return false;
      if (ids && !ids.includes(String(o.object.id))) return false;
      if (specVersions && !specVersions.includes('2.1')) return false;
      // One version of each object is kept: `last`, `first`, `all` and its own timestamp select it.
      if (versions && !versions.some((v) => v === 'last' || v === 'first' || v === 'all' || v === objectVersion(o.object))) return false;
      return true;
    });
    const items = filtered.slice(0, limit);
    const more = filtered.length > items.length;
    const last = items[items.length - 1];
    return { items, more, ...(more && last ? { next: encodeNext(last.dateAdded, String(last.object.id)) } : {}) };
  };

  const dateHeaders = (reply: FastifyReply, items: readonly ExportedObject[]): void => {
    const first = items[0];
    const last = items[items.length - 1];
    if (first && last) {
      void reply.header('x-taxii-date-added-first', taxiiTimestamp(first.dateAdded)).header('x-taxii-date-added-last', taxiiTimestamp(last.dateAdded));
    }
  };

  app.get<{ Params: { collection: string }; Querystring: ObjectsQuery }>(
    `${API_ROOT}collections/:collection/objects/`,
    { schema: { hide: true, params: COLLECTION_PARAMS, querystring: OBJECTS_QUERY } },
    async (request, reply) => {
      const partner = ownCollection(request, reply);
      if (!partner) return reply;
      const result = await page(request.query, reply, partner);
      if (!result) return reply;
      dateHeaders(reply, result.items);
      return send(reply, 200, { more: result.more, ...(result.next ? { next: result.next } : {}), objects: result.items.map((o) => o.object) });
    },
  );

  app.get<{ Params: { collection: string; object: string }; Querystring: ObjectsQuery }>(
    `${API_ROOT}collections/:collection/objects/:object/`,
    {
      schema: {
        hide: true,
        params: { type: 'object', properties: { collection: { type: 'string', maxLength: 64 }, object: { type: 'string', maxLength: 200 } }, required: ['collection', 'object'] },
        querystring: OBJECTS_QUERY,
      },
    },
    async (request, reply) => {
      const partner = ownCollection(request, reply);
      if (!partner) return reply;
      const result = await page({ ...request.query, 'match[id]': request.params.object }, reply, partner);
      if (!result) return reply;
      if (result.items.length === 0 && request.query.next === undefined) return fail(reply, 404, 'Object not found', 'no such object in this collection');
      dateHeaders(reply, result.items);
      return send(reply, 200, { more: result.more, ...(result.next ? { next: result.next } : {}), objects: result.items.map((o) => o.object) });
    },
  );

  app.get<{ Params: { collection: string }; Querystring: ObjectsQuery }>(
    `${API_ROOT}collections/:collection/manifest/`,
    { schema: { hide: true, params: COLLECTION_PARAMS, querystring: OBJECTS_QUERY } },
    async (request, reply) => {
      const partner = ownCollection(request, reply);
      if (!partner) return reply;
      const result = await page(request.query, reply, partner);
      if (!result) return reply;
      dateHeaders(reply, result.items);
      return send(reply, 200, {
        more: result.more,
        ...(result.next ? { next: result.next } : {}),
        objects: result.items.map((o) => ({ id: o.object.id, date_added: taxiiTimestamp(o.dateAdded), version: objectVersion(o.object), media_type: STIX_MEDIA_TYPE })),
      });
    },
  );
}

/** An object's version is its `modified` (or `created` for objects without one, such as marking definitions). */
function objectVersion(object: Record<string, unknown>): string {
  return String(object.modified ?? object.created);
}

/** Everything shared with the partner, ordered by (date_added, id): the collection's content. */
async function sharedObjects(ctx: ResponseContext, deps: RouteDeps, partner: TaxiiPartner): Promise<ExportedObject[]> {
  const now = ctx.now();
  const decisions = await listDecisions(deps.storage, [partner.org], { actions: ['share'], statuses: ['active'], sharedWith: partner.id, limit: 100_000 }, queryOptions(deps.config));
  const live = decisions.filter((d) => effectiveDecisionStatus(d, now) === 'active');
  return indicatorObjects(live, ctx.orgName).sort((a, b) => a.dateAdded - b.dateAdded || (String(a.object.id) < String(b.object.id) ? -1 : String(a.object.id) > String(b.object.id) ? 1 : 0));
}
