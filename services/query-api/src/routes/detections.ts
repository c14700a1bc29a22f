import { isIP } from 'node:net';
import {
  DETECTION_SORTS,
  DETECTION_STATUSES,
  SEVERITIES,
  appendDetectionState,
  getDetection,
  getDetectionState,
  listAudit,
  listDetections,
  searchEvents,
  type DetectionRow,
  type DetectionSort,
  type DetectionState,
  type DetectionStatus,
  type EventRow,
  type Severity,
} from '@mamori/storage';
import { DETECTION_PROPERTIES, ERROR_RESPONSES } from '../openapi.ts';
import { eventsByIds } from '../repositories/investigation.ts';
import { auditedChange } from '../response/audited.ts';
import { DAY_MS, TIME_PARAM, badRequest, limitParam, pageSize, queryOptions, timeRange } from '../security/guards.ts';
import { orgScope, principalOf, requireRole } from '../security/principal.ts';
import type { RegisterRoutes } from './deps.ts';
import { eventJson } from './events.ts';

interface ListQuery {
  since?: string;
  until?: string;
  min_severity?: Severity;
  rule_id?: string;
  src_ip?: string;
  status?: string;
  assignee?: string;
  technique?: string;
  entity_ip?: string;
  q?: string;
  sort?: DetectionSort;
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string;
}

interface TriageBody {
  status?: DetectionStatus;
  assignee?: string;
  note?: string;
  expected_version?: number;
}

const STATUS_LIST = `^(${DETECTION_STATUSES.join('|')})(,(${DETECTION_STATUSES.join('|')})){0,${DETECTION_STATUSES.length - 1}}$`;

/** Filters shared by the list and the stream (querystring schema properties). */
export const DETECTION_FILTERS = {
  min_severity: { type: 'string', enum: [...SEVERITIES] },
  rule_id: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' },
  technique: { type: 'string', maxLength: 32, pattern: '^[A-Za-z0-9._-]+$', description: 'ATT&CK technique; T1071 also matches T1071.001' },
  entity_ip: { type: 'string', maxLength: 64, description: 'address or CIDR, matched against the source and an ip entity' },
  q: { type: 'string', minLength: 1, maxLength: 200, description: 'case-insensitive text in the title' },
  src_ip: { type: 'string', maxLength: 45, description: 'exact source address' },
  status: { type: 'string', maxLength: 100, pattern: STATUS_LIST, description: `current triage status: one or more of ${DETECTION_STATUSES.join(', ')}, comma-separated` },
  assignee: { type: 'string', maxLength: 128, description: 'current assignee (exact); empty for unassigned' },
} as const;
const MAX_EVIDENCE_EVENTS = 100;
const MAX_CONTEXT_EVENTS = 200;

/** Detection id in a URL: what the detector produces (hex, letters, `-`, `_`). */
export const DETECTION_ID_PARAMS = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' } },
  required: ['id'],
} as const;

/** `GET /v1/detections`, `GET /v1/detections/:id`. */
export const registerDetectionRoutes: RegisterRoutes = async (app, { config, storage, logger, detectionCache, stateCache, headsCaches }) => {
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
            min_severity: DETECTION_FILTERS.min_severity,
            rule_id: DETECTION_FILTERS.rule_id,
            src_ip: DETECTION_FILTERS.src_ip,
            technique: DETECTION_FILTERS.technique,
            entity_ip: DETECTION_FILTERS.entity_ip,
            q: DETECTION_FILTERS.q,
            status: DETECTION_FILTERS.status,
            assignee: DETECTION_FILTERS.assignee,
            sort: { type: 'string', enum: [...DETECTION_SORTS], default: 'last_seen' },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
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
          ...(q.status ? { status: q.status.split(',') as DetectionStatus[] } : {}),
          ...(q.assignee !== undefined ? { assignee: q.assignee } : {}),
          ...(q.technique ? { technique: q.technique } : {}),
          ...(q.entity_ip ? { entityIp: q.entity_ip } : {}),
          ...(q.q ? { text: q.q } : {}),
          sort: q.sort ?? 'last_seen',
          order: q.order ?? 'desc',
          includeState: true,
          ...(q.cursor ? { cursor: q.cursor } : {}),
          limit: pageSize(config, q.limit),
        },
        queryOptions(config),
        detectionCache,
        stateCache,
        headsCaches,
      );
      return { detections: page.detections.map((d) => detectionJson(d, page.states?.[d.detectionId])), next_cursor: page.nextCursor ?? null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/detections/:id',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['detections'],
        summary: 'One detection with its triage state, evidence events and the entity\'s surrounding activity',
        params: DETECTION_ID_PARAMS,
        response: {
          200: {
            type: 'object',
            properties: {
              ...DETECTION_PROPERTIES,
              evidence_events: { type: 'array', items: { $ref: 'Event#' } },
              context: {
                type: 'object',
                properties: {
                  ip: { type: ['string', 'null'] },
                  since: { type: 'string', format: 'date-time' },
                  until: { type: 'string', format: 'date-time' },
                  events: { type: 'array', items: { $ref: 'Event#' } },
                  truncated: { type: 'boolean' },
                },
              },
            },
          },
          404: { $ref: 'Error#' },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const options = queryOptions(config);
      const row = await getDetection(storage, request.params.id, orgScope(principalOf(request)), options);
      // Another organization's detection is indistinguishable from a missing one.
      if (!row) return reply.code(404).send({ error: 'not_found', message: 'no such detection' });
      const orgs = [row.orgId];
      const contextMs = config.entityContextMinutes * 60_000;
      // The window around the detection, capped to the search bound (the last 31 days of it).
      const until = row.lastSeen + contextMs;
      const since = Math.max(row.firstSeen - contextMs, until - 31 * DAY_MS + 1);
      const ip = entityIp(row);
      const [state, evidence, context] = await Promise.all([
        getDetectionState(storage, orgs, row.detectionId, options),
        eventsByIds(storage, row.orgId, row.evidenceEventIds.slice(0, MAX_EVIDENCE_EVENTS), { since: row.firstSeen - contextMs, until, srcIp: row.srcIp }, options),
        ip === undefined ? Promise.resolve([] as EventRow[]) : searchEvents(storage, orgs, { since, until, ip, limit: MAX_CONTEXT_EVENTS + 1 }, options),
      ]);
      return {
        ...detectionJson(row, state),
        evidence_events: evidence.map(eventJson),
        context: {
          ip: ip ?? null,
          since: new Date(since).toISOString(),
          until: new Date(until).toISOString(),
          events: context.slice(0, MAX_CONTEXT_EVENTS).map(eventJson),
          truncated: context.length > MAX_CONTEXT_EVENTS,
        },
      };
    },
  );

  app.patch<{ Params: { id: string }; Body: TriageBody }>(
    '/v1/detections/:id',
    {
      preHandler: requireRole('analyst'),
      schema: {
        tags: ['detections'],
        summary: 'Triage: change status, assignee, add a note (analyst or above); audited',
        params: DETECTION_ID_PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            status: { type: 'string', enum: [...DETECTION_STATUSES] },
            assignee: { type: 'string', maxLength: 128, pattern: '^[^\\u0000-\\u001f]*$', description: 'empty string unassigns' },
            note: { type: 'string', maxLength: 4000, description: 'why; recorded in the audit log' },
            expected_version: { type: 'integer', minimum: 0, description: 'optimistic concurrency: the state version you read; 409 when it moved' },
          },
        },
        response: {
          200: { type: 'object', properties: { detection: { $ref: 'Detection#' }, state: { $ref: 'TriageState#' } } },
          404: { $ref: 'Error#' },
          409: { $ref: 'Error#' },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const options = queryOptions(config);
      const row = await getDetection(storage, request.params.id, orgScope(principal), options);
      if (!row) return reply.code(404).send({ error: 'not_found', message: 'no such detection' });
      const body = request.body;
      if (body.status === undefined && body.assignee === undefined && body.note === undefined) throw badRequest('give status, assignee or note');
      const orgs = [row.orgId];
      const before = await getDetectionState(storage, orgs, row.detectionId, options);
      // The audit entry is written before the state row (auditedChange): no triage change is stored without it.
      // The state cache learns the outcome: the new state, or, when the write failed, nothing it can trust.
      let after: DetectionState;
      try {
        after = await auditedChange(storage, logger, (audit) =>
          appendDetectionState(
            storage,
            orgs,
            {
              detectionId: row.detectionId,
              orgId: row.orgId,
              status: body.status ?? before?.status ?? 'new',
              assignee: body.assignee ?? before?.assignee ?? '',
              note: body.note ?? '',
              changedBy: principal.id,
              ...(body.expected_version !== undefined ? { expectedVersion: body.expected_version } : {}),
            },
            options,
            (next) =>
              audit({
                orgId: row.orgId,
                actor: principal.id,
                action: 'detection.triaged',
                targetType: 'detection',
                targetId: row.detectionId,
                beforeJson: JSON.stringify(triageSnapshot(before)),
                afterJson: JSON.stringify(triageSnapshot(next)),
                reason: body.note ?? '',
                at: next.changedAt,
                requestId: String(request.id),
              }),
          ),
        );
      } catch (error) {
        // It may have been stored all the same (a timeout after the insert): read it again next time.
        stateCache?.forget(row.orgId, row.detectionId);
        throw error;
      }
      stateCache?.wrote(after);
      return { detection: detectionJson(row, after), state: stateJson(after) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
    '/v1/detections/:id/audit',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['detections'],
        summary: 'Audit trail of a detection, newest first: who changed what, when, before, after and why',
        params: DETECTION_ID_PARAMS,
        querystring: { type: 'object', additionalProperties: false, properties: { limit: limitParam(config) } },
        response: {
          200: {
            type: 'object',
            properties: {
              entries: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    at: { type: 'string', format: 'date-time' },
                    actor: { type: 'string' },
                    action: { type: 'string' },
                    before: { type: ['object', 'null'], additionalProperties: true },
                    after: { type: ['object', 'null'], additionalProperties: true },
                    reason: { type: 'string' },
                    request_id: { type: 'string' },
                  },
                },
              },
            },
          },
          404: { $ref: 'Error#' },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const options = queryOptions(config);
      const row = await getDetection(storage, request.params.id, orgScope(principalOf(request)), options);
      if (!row) return reply.code(404).send({ error: 'not_found', message: 'no such detection' });
      const entries = await listAudit(storage, [row.orgId], { targetType: 'detection', targetId: row.detectionId, limit: pageSize(config, request.query.limit) }, options);
      return {
        entries: entries.map((e) => ({
          id: e.id,
          at: new Date(e.at).toISOString(),
          actor: e.actor,
          action: e.action,
          before: parseJsonObject(e.beforeJson),
          after: parseJsonObject(e.afterJson),
          reason: e.reason,
          request_id: e.requestId,
        })),
      };
    },
  );
};

/** The API's JSON shape of a detection: snake_case, ISO times. */
export function detectionJson(d: DetectionRow, state?: DetectionState): Record<string, unknown> {
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
    status: state?.status ?? 'new',
    assignee: state?.assignee ? state.assignee : null,
    triage_version: state?.version ?? 0,
  };
}

/** The address a detection is about: an `ip` entity, else its source. */
export function entityIp(d: DetectionRow): string | undefined {
  if (d.entityType === 'ip' && isIP(d.entityValue) !== 0) return d.entityValue;
  return d.srcIp;
}

function triageSnapshot(state: DetectionState | undefined): Record<string, unknown> {
  return { status: state?.status ?? 'new', assignee: state?.assignee ?? '', note: state?.note ?? '', version: state?.version ?? 0 };
}

function stateJson(state: DetectionState): Record<string, unknown> {
  return {
    status: state.status,
    assignee: state.assignee === '' ? null : state.assignee,
    note: state.note,
    changed_by: state.changedBy,
    changed_at: new Date(state.changedAt).toISOString(),
    version: state.version,
  };
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  if (text === '') return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
