import { isIP } from 'node:net';
import { SEVERITIES, getDetection, listDetections, type DetectionRow, type Severity } from '@mamori/storage';
import { ERROR_RESPONSES } from '../openapi.ts';
import { TIME_PARAM, badRequest, limitParam, pageSize, queryOptions, timeRange } from '../security/guards.ts';
import { orgScope, principalOf, requireRole } from '../security/principal.ts';
import type { RegisterRoutes } from './deps.ts';

interface ListQuery {
  since?: string;
  until?: string;
  min_severity?: Severity;
  rule_id?: string;
  src_ip?: string;
  limit?: number;
  cursor?: string;
}

/** Detection id in a URL: what the detector produces (hex, letters, `-`, `_`). */
export const DETECTION_ID_PARAMS = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' } },
  required: ['id'],
} as const;

/** `GET /v1/detections`, `GET /v1/detections/:id`. */
export const registerDetectionRoutes: RegisterRoutes = async (app, { config, storage }) => {
  app.get<{ Querystring: ListQuery }>(
    '/v1/detections',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['detections'],
        summary: 'List detections, newest first, with filters and cursor paging',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: TIME_PARAM,
            until: TIME_PARAM,
            min_severity: { type: 'string', enum: [...SEVERITIES] },
            rule_id: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' },
            src_ip: { type: 'string', maxLength: 45 },
            limit: limitParam(config),
            cursor: { type: 'string', maxLength: 512 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { detections: { type: 'array', items: { $ref: 'Detection#' } }, next_cursor: { type: ['string', 'null'] } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const { since, until } = timeRange(config, q);
      if (q.src_ip !== undefined && isIP(q.src_ip) === 0) throw badRequest('src_ip must be an IPv4 or IPv6 address');
      const page = await listDetections(
        storage,
        {
          orgIds: orgScope(principalOf(request)),
          since,
          until,
          ...(q.min_severity ? { minSeverity: q.min_severity } : {}),
          ...(q.rule_id ? { ruleId: q.rule_id } : {}),
          ...(q.src_ip ? { srcIp: q.src_ip } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
          limit: pageSize(config, q.limit),
        },
        queryOptions(config),
      );
      return { detections: page.detections.map((d) => detectionJson(d)), next_cursor: page.nextCursor ?? null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/detections/:id',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['detections'],
        summary: 'One detection',
        params: DETECTION_ID_PARAMS,
        response: { 200: { $ref: 'Detection#' }, 404: { $ref: 'Error#' }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const row = await getDetection(storage, request.params.id, orgScope(principalOf(request)), queryOptions(config));
      // Another organization's detection is indistinguishable from a missing one.
      if (!row) return reply.code(404).send({ error: 'not_found', message: 'no such detection' });
      return detectionJson(row);
    },
  );
};

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
    evidence_event_ids: d.evidenceEventIds,
    attributes: d.attributes,
    ruleset_checksum: d.rulesetChecksum,
  };
}
