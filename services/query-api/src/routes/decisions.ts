import {
  DECISION_ACTIONS,
  DECISION_STATUSES,
  StorageError,
  TLP_LEVELS,
  changeDecision,
  createDecision,
  effectiveDecisionStatus,
  getDecision,
  getDetection,
  listDecisions,
  type Decision,
  type DecisionAction,
  type DecisionStatus,
  type TlpLevel,
} from '@mamori/storage';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { responseContext, type ResponseContext } from '../response/context.ts';
import { auditedChange } from '../response/audited.ts';
import { decisionAuditInput, decisionAuditTrail, decisionJson } from '../response/decision-view.ts';
import { checkGuardRails } from '../response/guard-rails.ts';
import { INDICATOR_TYPES, indicatorFromEntity, parseIndicatorValue, type IndicatorType, type IndicatorValue } from '../response/indicator-value.ts';
import { queryOptions } from '../security/guards.ts';
import { canAccessOrg, orgScope, principalOf, requireRole, type Principal } from '../security/principal.ts';
import type { RouteDeps } from './deps.ts';

const DAY_MS = 86_400_000;
const ID_PARAMS = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } }, required: ['id'] } as const;
const REASON_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: 2000 },
    expected_version: { type: 'integer', minimum: 1, description: 'the `version` you read; 409 `version_conflict` when the decision moved since' },
  },
} as const;

/** A decision as the routes return it (OpenAPI; also the serializer's list of fields). */
const DECISION_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    org_id: { type: 'string' },
    action: { type: 'string', enum: [...DECISION_ACTIONS] },
    status: { type: 'string', enum: [...DECISION_STATUSES, 'expired'] },
    target: { type: 'object', properties: { kind: { type: 'string', enum: ['detection', 'indicator'] }, detection_id: { type: 'string' } } },
    indicator: { type: 'object', properties: { type: { type: 'string' }, value: { type: 'string' } } },
    justification: { type: 'string' },
    tlp: { type: 'string', enum: [...TLP_LEVELS] },
    share_with: { type: 'array', items: { type: 'string' } },
    requested_by: { type: 'string' },
    decided_by: { type: ['string', 'null'] },
    decision_reason: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    activated_at: { type: ['string', 'null'], format: 'date-time' },
    expires_at: { type: ['string', 'null'], format: 'date-time' },
    version: { type: 'integer', description: '1 when made, +1 per approval, rejection or revocation' },
  },
} as const;

/**
 * Errors of the decision routes: `error` is `bad_request`, `forbidden`, `two_person_rule`,
 * `not_found`, `conflict` (the decision's state does not allow the change, or an open decision on
 * the value exists: `decision_id`), `version_conflict` (someone changed it at the same time, or since
 * `expected_version`: `current_version`), `guard_rail` (`rule`, `matched`) or `unknown_partner`.
 */
const DECISION_ERROR = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    rule: { type: 'string' },
    matched: { type: 'string' },
    decision_id: { type: 'string' },
    current_version: { type: 'integer' },
  },
  required: ['error', 'message'],
} as const;
const DECISION_ERRORS = { 400: DECISION_ERROR, 401: { $ref: 'Error#' }, 403: DECISION_ERROR, 404: DECISION_ERROR, 409: DECISION_ERROR, 422: DECISION_ERROR, 429: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

/**
 * Serializes work per key inside this process (creating a decision checks that no open decision on
 * the value exists, then writes: two creates of one value must not interleave). Across several API
 * processes on one ClickHouse server this check is not atomic (docs/response.md).
 */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

interface CreateBody {
  org_id?: string;
  detection_id?: string;
  indicator?: { type: IndicatorType; value: string };
  action: DecisionAction;
  justification: string;
  expires_at?: string;
  tlp?: TlpLevel;
  share_with?: string[];
}

interface ListQuery {
  action?: DecisionAction;
  status?: DecisionStatus | 'expired';
  indicator_type?: IndicatorType;
  indicator_value?: string;
  detection_id?: string;
  limit?: number;
}

/**
 * Response decisions: block, monitor, share or escalate a detection's entity or an indicator, with
 * guard rails (never block home networks, special-purpose ranges or warning-listed values), the
 * two-person rule for blocks, expiry, revocation, and an audit entry for every change.
 */
export async function registerDecisionRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const ctx = responseContext(deps.config, deps.logger);
  app.addHook('onClose', async () => ctx.close());
  const { storage } = deps;
  const opts = queryOptions(deps.config);
  const creating = new KeyedLock();

  app.post<{ Body: CreateBody }>(
    '/v1/decisions',
    {
      preHandler: requireRole('analyst'),
      schema: {
        tags: ['decisions'],
        summary: 'Decide on a detection or an indicator (block, monitor, share, escalate)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['action', 'justification'],
          properties: {
            org_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
            detection_id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
            indicator: {
              type: 'object',
              additionalProperties: false,
              required: ['type', 'value'],
              properties: { type: { type: 'string', enum: [...INDICATOR_TYPES] }, value: { type: 'string', minLength: 1, maxLength: 2048 } },
            },
            action: { type: 'string', enum: [...DECISION_ACTIONS] },
            justification: { type: 'string', minLength: 10, maxLength: 2000 },
            expires_at: { type: 'string', maxLength: 40 },
            tlp: { type: 'string', enum: [...TLP_LEVELS] },
            share_with: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } },
          },
        },
        response: { 201: DECISION_SCHEMA, ...DECISION_ERRORS },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      const now = ctx.now();
      if ((body.detection_id === undefined) === (body.indicator === undefined)) {
        return reply.code(400).send({ error: 'bad_request', message: 'name exactly one of detection_id or indicator' });
      }
      let orgId = body.org_id;
      let indicator: IndicatorValue | string;
      let detectionId = '';
      if (body.detection_id !== undefined) {
        const detection = await getDetection(storage, body.detection_id, orgScope(principal), opts);
        if (!detection || (orgId !== undefined && detection.orgId !== orgId)) return reply.code(404).send({ error: 'not_found', message: 'no such detection' });
        orgId = detection.orgId;
        detectionId = detection.detectionId;
        indicator = indicatorFromEntity(detection.entityType, detection.entityValue);
      } else {
        indicator = parseIndicatorValue(body.indicator!.type, body.indicator!.value);
        if (orgId === undefined) {
          if (principal.orgs === '*' || principal.orgs.length !== 1) {
            return reply.code(400).send({ error: 'bad_request', message: 'org_id is required for a key of several organizations' });
          }
          orgId = principal.orgs[0]!;
        }
        if (!canAccessOrg(principal, orgId)) return reply.code(403).send({ error: 'forbidden', message: `this key may not act for organization ${orgId}` });
      }
      if (typeof indicator === 'string') return reply.code(400).send({ error: 'bad_request', message: indicator });

      let expiresAt = now + ctx.config.decisionMaxDays * DAY_MS;
      if (body.expires_at !== undefined) {
        const ms = /^\d{1,15}$/.test(body.expires_at) ? Number(body.expires_at) : Date.parse(body.expires_at);
        if (!Number.isFinite(ms) || ms <= now) return reply.code(400).send({ error: 'bad_request', message: 'expires_at must be a future ISO 8601 time' });
        if (ms > now + ctx.config.decisionMaxDays * DAY_MS) {
          return reply.code(400).send({ error: 'bad_request', message: `expires_at may be at most ${ctx.config.decisionMaxDays} days ahead (API_DECISION_MAX_DAYS)` });
        }
        expiresAt = ms;
      }

      const shareWith = body.share_with ?? [];
      if (body.action === 'share') {
        if (shareWith.length === 0) return reply.code(400).send({ error: 'bad_request', message: 'a share decision names its partners in share_with' });
        const known = new Set(ctx.config.taxiiPartners.filter((p) => p.org === orgId).map((p) => p.id));
        const unknown = shareWith.filter((p) => !known.has(p));
        if (unknown.length > 0) {
          return reply.code(422).send({ error: 'unknown_partner', message: `not a TAXII partner of organization ${orgId}: ${unknown.join(', ')} (API_TAXII_PARTNERS)` });
        }
      } else if (shareWith.length > 0) {
        return reply.code(400).send({ error: 'bad_request', message: 'share_with belongs to share decisions only' });
      }

      if (body.action === 'block' || body.action === 'share') {
        const refusal = checkGuardRails(orgId, indicator, ctx.guardRails);
        if (refusal) return reply.code(422).send({ error: 'guard_rail', rule: refusal.rule, matched: refusal.matched, message: `refusing to ${body.action} ${indicator.value}: ${refusal.message}` });
      }

      const needsApproval = body.action === 'block' && ctx.config.blockRequiresApproval;
      const value = indicator;
      const org = orgId;
      return creating.run(`${org}\u001f${body.action}\u001f${value.type}\u001f${value.value}`, async () => {
        const open = await listDecisions(storage, [org], { actions: [body.action], statuses: ['proposed', 'active'], indicatorType: value.type, indicatorValue: value.value, limit: 10 }, opts);
        const existing = open.find((d) => effectiveDecisionStatus(d, now) !== 'expired');
        if (existing) {
          return reply.code(409).send({ error: 'conflict', message: `decision ${existing.id} already ${existing.status === 'proposed' ? 'proposes' : 'applies'} ${body.action} on ${value.value}; revoke it first`, decision_id: existing.id });
        }
        // The audit entry is written before the decision (auditedChange): no decision is stored without it.
        const decision = await auditedChange(storage, deps.logger, (audit) =>
          createDecision(
            storage,
            [org],
            {
              orgId: org,
              action: body.action,
              status: needsApproval ? 'proposed' : 'active',
              targetKind: detectionId ? 'detection' : 'indicator',
              detectionId,
              indicatorType: value.type,
              indicatorValue: value.value,
              justification: body.justification,
              tlp: body.tlp ?? 'amber',
              shareWith,
              requestedBy: principal.id,
              createdAt: now,
              expiresAt,
            },
            opts,
            (next) =>
              audit(
                decisionAuditInput(next, {
                  actor: principal.id,
                  action: body.action === 'share' ? 'decision.share' : 'decision.create',
                  before: null,
                  after: decisionJson(next, now),
                  reason: body.justification,
                }),
              ),
          ),
        );
        return reply.code(201).send(decisionJson(decision, now));
      });
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/decisions',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['decisions'],
        summary: 'List decisions of the caller’s organizations, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            action: { type: 'string', enum: [...DECISION_ACTIONS] },
            status: { type: 'string', enum: [...DECISION_STATUSES, 'expired'] },
            indicator_type: { type: 'string', enum: [...INDICATOR_TYPES] },
            indicator_value: { type: 'string', maxLength: 2048 },
            detection_id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
            limit: { type: 'integer', minimum: 1, maximum: deps.config.maxPageSize, default: Math.min(100, deps.config.maxPageSize) },
          },
        },
        response: { 200: { type: 'object', properties: { decisions: { type: 'array', items: DECISION_SCHEMA } } }, ...DECISION_ERRORS },
      },
    },
    async (request) => {
      const q = request.query;
      const now = ctx.now();
      const rows = await listDecisions(
        storage,
        orgScope(principalOf(request)),
        {
          ...(q.action ? { actions: [q.action] } : {}),
          // expired is derived: read active/proposed and filter below
          ...(q.status ? { statuses: q.status === 'expired' ? ['active', 'proposed'] : [q.status] } : {}),
          ...(q.indicator_type ? { indicatorType: q.indicator_type } : {}),
          ...(q.indicator_value ? { indicatorValue: q.indicator_value } : {}),
          ...(q.detection_id ? { detectionId: q.detection_id } : {}),
          limit: q.status ? 10_000 : (q.limit ?? 100),
        },
        opts,
      );
      const filtered = q.status ? rows.filter((d) => effectiveDecisionStatus(d, now) === q.status) : rows;
      return { decisions: filtered.slice(0, q.limit ?? 100).map((d) => decisionJson(d, now)) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/decisions/:id',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['decisions'],
        summary: 'One decision with its audit trail',
        params: ID_PARAMS,
        response: {
          200: {
            type: 'object',
            properties: {
              ...DECISION_SCHEMA.properties,
              audit: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { at: { type: 'string', format: 'date-time' }, actor: { type: 'string' }, action: { type: 'string' }, reason: { type: 'string' }, before: {}, after: {} },
                },
              },
            },
          },
          ...DECISION_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const scope = orgScope(principalOf(request));
      const d = await getDecision(storage, scope, request.params.id, opts);
      if (!d) return reply.code(404).send({ error: 'not_found', message: 'no such decision' });
      const audit = await decisionAuditTrail(storage, d, opts);
      return {
        ...decisionJson(d, ctx.now()),
        audit: audit.map((a) => ({ at: new Date(a.at).toISOString(), actor: a.actor, action: a.action, reason: a.reason, before: a.before, after: a.after })),
      };
    },
  );

  const transition = (name: 'approve' | 'reject' | 'revoke') =>
    app.post<{ Params: { id: string }; Body: { reason?: string; expected_version?: number } | undefined }>(
      `/v1/decisions/:id/${name}`,
      {
        preHandler: requireRole(name === 'revoke' ? 'analyst' : 'approver'),
        // A POST without a body is an empty one (the reason is optional for approvals).
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          tags: ['decisions'],
          summary: `${name[0]!.toUpperCase()}${name.slice(1)} a decision`,
          description: 'Of two conflicting changes of one decision (two approvals, approve and revoke, ...) exactly one succeeds; the other gets 409 `version_conflict` or `conflict`.',
          params: ID_PARAMS,
          body: REASON_BODY,
          response: { 200: DECISION_SCHEMA, ...DECISION_ERRORS },
        },
      },
      async (request, reply) => changeStatus(ctx, deps, name, principalOf(request), request.params.id, request.body ?? {}, reply),
    );
  transition('approve');
  transition('reject');
  transition('revoke');
}

async function changeStatus(
  ctx: ResponseContext,
  deps: RouteDeps,
  name: 'approve' | 'reject' | 'revoke',
  principal: Principal,
  id: string,
  body: { reason?: string; expected_version?: number },
  reply: FastifyReply,
): Promise<unknown> {
  const opts = queryOptions(deps.config);
  const now = ctx.now();
  const reason = body.reason;
  const before = await getDecision(deps.storage, orgScope(principal), id, opts);
  if (!before) return reply.code(404).send({ error: 'not_found', message: 'no such decision' });
  if (body.expected_version !== undefined && body.expected_version !== before.version) {
    return versionConflict(reply, before, `decision ${id} is at version ${before.version}, not ${body.expected_version}: read it again`);
  }
  const status = effectiveDecisionStatus(before, now);
  if (name === 'revoke') {
    if (status !== 'active' && status !== 'proposed') return reply.code(409).send({ error: 'conflict', message: `a ${status} decision cannot be revoked`, decision_id: id });
    if (!reason) return reply.code(400).send({ error: 'bad_request', message: 'a revocation needs a reason' });
  } else {
    if (status !== 'proposed') return reply.code(409).send({ error: 'conflict', message: `only a proposed decision can be ${name}d; this one is ${status}`, decision_id: id });
    if (before.requestedBy === principal.id) {
      return reply.code(403).send({ error: 'two_person_rule', message: `the requester cannot ${name} their own decision; another approver must` });
    }
    if (name === 'reject' && !reason) return reply.code(400).send({ error: 'bad_request', message: 'a rejection needs a reason' });
    if (name === 'approve') {
      // The inventory or warning lists may have changed since the proposal.
      const indicator = parseIndicatorValue(before.indicatorType, before.indicatorValue);
      const refusal = typeof indicator === 'string' ? undefined : checkGuardRails(before.orgId, indicator, ctx.guardRails);
      if (refusal) return reply.code(422).send({ error: 'guard_rail', rule: refusal.rule, matched: refusal.matched, message: `refusing to block ${before.indicatorValue}: ${refusal.message}` });
    }
  }
  let after: Decision;
  try {
    // Only if it is still the version read above: a racing approval, rejection or revocation that
    // wrote first makes this one a version conflict. Readers never see its version; its audit entry
    // (written first) is followed by a `.failed` entry saying it did not take effect.
    after = await auditedChange(deps.storage, deps.logger, (audit) =>
      changeDecision(
        deps.storage,
        [before.orgId],
        before.id,
        before.version,
        { status: name === 'approve' ? 'active' : name === 'reject' ? 'rejected' : 'revoked', decidedBy: principal.id, decisionReason: reason ?? '', updatedAt: now },
        opts,
        (next) =>
          audit(
            decisionAuditInput(next, {
              actor: principal.id,
              action: `decision.${name}`,
              before: decisionJson(before, now),
              after: decisionJson(next, now),
              reason: reason ?? '',
            }),
          ),
      ),
    );
  } catch (error) {
    if (error instanceof StorageError && error.code === 'STORAGE_VERSION_CONFLICT') {
      const current = await getDecision(deps.storage, [before.orgId], before.id, opts);
      return versionConflict(reply, current ?? before, `decision ${id} was changed by someone else at the same time (now ${current ? effectiveDecisionStatus(current, now) : 'unknown'}); read it again`);
    }
    throw error;
  }
  return decisionJson(after, now);
}

function versionConflict(reply: FastifyReply, current: Decision, message: string): FastifyReply {
  return reply.code(409).send({ error: 'version_conflict', message, decision_id: current.id, current_version: current.version });
}
