import { randomUUID } from 'node:crypto';
import { getDetection } from '@mamori/storage';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { DECISION_ACTIONS, DECISION_STATUSES, TLP_LEVELS, appendAudit, decisionJson, effectiveStatus, getDecision, listAudit, listDecisions, nextVersion, saveDecision, type Decision, type DecisionAction, type DecisionStatus, type TlpLevel } from '../response/decision-store.ts';
import { responseContext, type ResponseContext } from '../response/context.ts';
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
  properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } },
} as const;

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

      const open = await listDecisions(storage, { orgIds: [orgId], actions: [body.action], statuses: ['proposed', 'active'], indicatorType: indicator.type, indicatorValue: indicator.value, limit: 10 }, opts);
      const existing = open.find((d) => effectiveStatus(d, now) !== 'expired');
      if (existing) {
        return reply.code(409).send({ error: 'conflict', message: `decision ${existing.id} already ${existing.status === 'proposed' ? 'proposes' : 'applies'} ${body.action} on ${indicator.value}; revoke it first`, decision_id: existing.id });
      }

      const needsApproval = body.action === 'block' && ctx.config.blockRequiresApproval;
      const decision: Decision = {
        id: randomUUID(),
        orgId,
        action: body.action,
        status: needsApproval ? 'proposed' : 'active',
        targetKind: detectionId ? 'detection' : 'indicator',
        detectionId,
        indicatorType: indicator.type,
        indicatorValue: indicator.value,
        justification: body.justification,
        tlp: body.tlp ?? 'amber',
        shareWith,
        requestedBy: principal.id,
        decidedBy: '',
        decisionReason: '',
        createdAt: now,
        updatedAt: now,
        activatedAt: needsApproval ? 0 : now,
        expiresAt,
        version: nextVersion(now),
      };
      await saveDecision(storage, decision);
      await appendAudit(storage, {
        orgId,
        at: now,
        actor: principal.id,
        action: body.action === 'share' ? 'decision.share' : 'decision.create',
        objectType: 'decision',
        objectId: decision.id,
        before: null,
        after: decisionJson(decision, now),
        reason: body.justification,
      });
      return reply.code(201).send(decisionJson(decision, now));
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
      },
    },
    async (request) => {
      const q = request.query;
      const now = ctx.now();
      const rows = await listDecisions(
        storage,
        {
          orgIds: orgScope(principalOf(request)),
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
      const filtered = q.status ? rows.filter((d) => effectiveStatus(d, now) === q.status) : rows;
      return { decisions: filtered.slice(0, q.limit ?? 100).map((d) => decisionJson(d, now)) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/decisions/:id',
    { preHandler: requireRole('viewer'), schema: { tags: ['decisions'], summary: 'One decision with its audit trail', params: ID_PARAMS } },
    async (request, reply) => {
      const scope = orgScope(principalOf(request));
      const d = await getDecision(storage, request.params.id, scope, opts);
      if (!d) return reply.code(404).send({ error: 'not_found', message: 'no such decision' });
      const audit = await listAudit(storage, [d.orgId], d.id, opts);
      return {
        ...decisionJson(d, ctx.now()),
        audit: audit.map((a) => ({ at: new Date(a.at).toISOString(), actor: a.actor, action: a.action, reason: a.reason, before: a.before, after: a.after })),
      };
    },
  );

  const transition = (name: 'approve' | 'reject' | 'revoke') =>
    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      `/v1/decisions/:id/${name}`,
      {
        preHandler: requireRole(name === 'revoke' ? 'analyst' : 'approver'),
        // A POST without a body is an empty one (the reason is optional for approvals).
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: { tags: ['decisions'], summary: `${name[0]!.toUpperCase()}${name.slice(1)} a decision`, params: ID_PARAMS, body: REASON_BODY },
      },
      async (request, reply) => changeStatus(ctx, deps, name, principalOf(request), request.params.id, request.body?.reason, reply),
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
  reason: string | undefined,
  reply: FastifyReply,
): Promise<unknown> {
  const opts = queryOptions(deps.config);
  const now = ctx.now();
  const before = await getDecision(deps.storage, id, orgScope(principal), opts);
  if (!before) return reply.code(404).send({ error: 'not_found', message: 'no such decision' });
  const status = effectiveStatus(before, now);
  if (name === 'revoke') {
    if (status !== 'active' && status !== 'proposed') return reply.code(409).send({ error: 'conflict', message: `a ${status} decision cannot be revoked` });
    if (!reason) return reply.code(400).send({ error: 'bad_request', message: 'a revocation needs a reason' });
  } else {
    if (status !== 'proposed') return reply.code(409).send({ error: 'conflict', message: `only a proposed decision can be ${name}d; this one is ${status}` });
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
  const after: Decision = {
    ...before,
    status: name === 'approve' ? 'active' : name === 'reject' ? 'rejected' : 'revoked',
    decidedBy: principal.id,
    decisionReason: reason ?? '',
    updatedAt: Math.max(now, before.updatedAt + 1),
    activatedAt: name === 'approve' ? now : before.activatedAt,
    version: nextVersion(now),
  };
  await saveDecision(deps.storage, after);
  await appendAudit(deps.storage, {
    orgId: before.orgId,
    // Strictly after the previous change, so the trail orders even within one millisecond.
    at: after.updatedAt,
    actor: principal.id,
    action: `decision.${name}`,
    objectType: 'decision',
    objectId: before.id,
    before: decisionJson(before, now),
    after: decisionJson(after, now),
    reason: reason ?? '',
  });
  return decisionJson(after, now);
}
