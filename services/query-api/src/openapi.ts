import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** JSON schema properties of a detection (shared by the Detection schema and the detail response). */
export const DETECTION_PROPERTIES = {
  id: { type: 'string' },
  org_id: { type: 'string' },
  rule_id: { type: 'string' },
  rule_version: { type: 'integer' },
  title: { type: 'string' },
  severity: { type: 'string', enum: ['info', 'low', 'medium', 'high', 'critical'] },
  confidence: { type: 'number' },
  tactics: { type: 'array', items: { type: 'string' } },
  techniques: { type: 'array', items: { type: 'string' } },
  entity: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' } } },
  src_ip: { type: ['string', 'null'] },
  first_seen: { type: 'string', format: 'date-time' },
  last_seen: { type: 'string', format: 'date-time' },
  detected_at: { type: 'string', format: 'date-time' },
  count: { type: 'integer' },
  summary: { type: 'string' },
  evidence: {},
  evidence_event_ids: { type: 'array', items: { type: 'string' } },
  attributes: { type: 'object', additionalProperties: { type: 'string' } },
  ruleset_checksum: { type: 'string' },
  status: { type: 'string' },
  assignee: { type: ['string', 'null'] },
  triage_version: { type: 'integer' },
} as const;

/** Shared JSON schemas, referenced from routes as `{ $ref: '<id>#' }` and listed as OpenAPI components. */
export const SHARED_SCHEMAS = [
  {
    $id: 'Error',
    type: 'object',
    properties: { error: { type: 'string' }, message: { type: 'string' } },
    required: ['error', 'message'],
  },
  {
    $id: 'Detection',
    type: 'object',
    properties: DETECTION_PROPERTIES,
  },
  {
    $id: 'TriageState',
    type: 'object',
    properties: {
      status: { type: 'string' },
      assignee: { type: ['string', 'null'] },
      note: { type: 'string' },
      changed_by: { type: 'string' },
      changed_at: { type: 'string', format: 'date-time' },
      version: { type: 'integer' },
    },
  },
  {
    $id: 'Event',
    type: 'object',
    properties: {
      id: { type: 'string' },
      org_id: { type: 'string' },
      sensor_id: { type: 'string' },
      source_format: { type: 'string' },
      event_class: { type: 'string' },
      time: { type: 'string', format: 'date-time' },
      src_ip: { type: 'string' },
      src_port: { type: 'integer' },
      dst_ip: { type: 'string' },
      dst_port: { type: 'integer' },
      protocol: { type: 'string' },
      bytes_out: { type: 'integer' },
      bytes_in: { type: 'integer' },
      packets_out: { type: 'integer' },
      packets_in: { type: 'integer' },
      duration_ms: { type: 'integer' },
      conn_state: { type: 'string' },
      community_id: { type: 'string' },
      attributes: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
] as const;

/** Standard error responses of an authenticated route, for `schema.response`. */
export const ERROR_RESPONSES = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  429: { $ref: 'Error#' },
  503: { $ref: 'Error#' },
} as const;

/**
 * OpenAPI 3 at `/openapi.json` and Swagger UI at `/docs`, both without authentication: the
 * document describes the API, it holds no data. Register before any route so every route is seen.
 */
export async function registerOpenApi(app: FastifyInstance, options: { serveDocs: boolean }): Promise<void> {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Mamori analyst API',
        version: '1',
        description:
          'Detections, triage, entities, events and statistics, scoped to the caller\'s organizations. Authenticate with `Authorization: Bearer <key id>.<secret>` (API key) or `Authorization: Bearer <JWT>`. See docs/api.md.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key `<id>.<secret>` or a JWT signed by a key of the configured JWKS' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
  });
  if (!options.serveDocs) return;
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: false } });
}
