import { createHash } from 'node:crypto';
import { DECISION_ACTIONS, effectiveDecisionStatus, listDecisions, type Decision, type DecisionAction } from '@mamori/storage';
import type { FastifyInstance } from 'fastify';
import { responseContext } from '../response/context.ts';
import type { IndicatorType } from '../response/indicator-value.ts';
import { buildBundle } from '../response/stix.ts';
import { fullExport } from '../response/stix-export.ts';
import { queryOptions } from '../security/guards.ts';
import { orgScope, principalOf, requireRole } from '../security/principal.ts';
import type { RouteDeps } from './deps.ts';

/** Blocklist names and the indicator types each holds. */
export const BLOCKLISTS: Readonly<Record<string, readonly IndicatorType[]>> = {
  all: ['ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256'],
  ip: ['ipv4', 'ipv6'],
  ipv4: ['ipv4'],
  ipv6: ['ipv6'],
  domain: ['domain'],
  url: ['url'],
  hash: ['md5', 'sha1', 'sha256'],
};
const FORMATS = ['txt', 'csv', 'json'] as const;
type Format = (typeof FORMATS)[number];
const FILE_PATTERN = `^(${Object.keys(BLOCKLISTS).join('|')})\\.(${FORMATS.join('|')})$`;

const CONTENT_TYPES: Record<Format, string> = {
  txt: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Firewalls' URL lists take no scheme (`evil.example/path`). */
function edlValue(d: Decision): string {
  return d.indicatorType === 'url' ? d.indicatorValue.replace(/^[a-z]+:\/\//i, '') : d.indicatorValue;
}

/**
 * Outputs of decisions: firewall blocklists (external dynamic lists) and the STIX 2.1 bundle.
 * Blocklists hold only approved, unexpired, unrevoked block decisions of the caller's organizations.
 */
export async function registerExportRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const ctx = responseContext(deps.config, deps.logger);
  app.addHook('onClose', async () => ctx.close());
  const opts = queryOptions(deps.config);

  app.get<{ Params: { file: string } }>(
    '/v1/blocklists/:file',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['exports'],
        summary: 'Blocklist for firewalls: <name>.txt (one value a line), .csv or .json',
        params: { type: 'object', properties: { file: { type: 'string', pattern: FILE_PATTERN } }, required: ['file'] },
      },
    },
    async (request, reply) => {
      const [name, format] = request.params.file.split('.') as [string, Format];
      const types = new Set(BLOCKLISTS[name] ?? []);
      const now = ctx.now();
      const blocks = await listDecisions(deps.storage, orgScope(principalOf(request)), { actions: ['block'], indicatorTypes: [...types], limit: 100_000 }, opts);
      const relevant = blocks.filter((d) => types.has(d.indicatorType));
      const live = relevant.filter((d) => effectiveDecisionStatus(d, now) === 'active');
      // The list changes when a decision changes or when one expires.
      let lastModified = 0;
      for (const d of relevant) {
        lastModified = Math.max(lastModified, d.updatedAt);
        if (d.expiresAt > 0 && d.expiresAt <= now) lastModified = Math.max(lastModified, d.expiresAt);
      }
      const entries = new Map<string, Decision>();
      for (const d of live.sort((a, b) => a.activatedAt - b.activatedAt || a.id.localeCompare(b.id))) {
        const key = edlValue(d);
        if (!entries.has(key)) entries.set(key, d);
      }
      const sorted = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '');
      let body: string;
      if (format === 'txt') body = sorted.map(([v]) => `${v}\n`).join('');
      else if (format === 'csv') {
        const header = 'value,type,org_id,decision_id,activated_at,expires_at\n';
        body = header + sorted.map(([v, d]) => [v, d.indicatorType, d.orgId, d.id, iso(d.activatedAt), iso(d.expiresAt)].map(csvField).join(',') + '\n').join('');
      } else {
        body = `${JSON.stringify({
          name,
          count: sorted.length,
          last_modified: lastModified > 0 ? new Date(lastModified).toISOString() : null,
          entries: sorted.map(([v, d]) => ({ value: v, type: d.indicatorType, org_id: d.orgId, decision_id: d.id, tlp: d.tlp, activated_at: iso(d.activatedAt), expires_at: iso(d.expiresAt) || null })),
        })}\n`;
      }
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
      const lastModifiedHeader = new Date(Math.floor(Math.max(lastModified, 0) / 1000) * 1000).toUTCString();
      void reply
        .header('etag', etag)
        .header('last-modified', lastModifiedHeader)
        .header('cache-control', 'private, max-age=0, must-revalidate')
        .header('vary', 'authorization');
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch !== undefined) {
        if (ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*')) return reply.code(304).send();
      } else {
        const since = Date.parse(request.headers['if-modified-since'] ?? '');
        if (Number.isFinite(since) && Math.floor(lastModified / 1000) * 1000 <= since) return reply.code(304).send();
      }
      return reply.type(CONTENT_TYPES[format]).send(body);
    },
  );

  app.get<{ Querystring: { org_id?: string; action?: DecisionAction } }>(
    '/v1/stix/bundle',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['exports'],
        summary: 'STIX 2.1 bundle of active decisions: indicators, sightings, detections, identities, TLP markings',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            org_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
            action: { type: 'string', enum: [...DECISION_ACTIONS] },
          },
        },
      },
    },
    async (request, reply) => {
      const scope = orgScope(principalOf(request));
      const q = request.query;
      if (q.org_id !== undefined && scope !== undefined && !scope.includes(q.org_id)) {
        return reply.code(403).send({ error: 'forbidden', message: `this key may not read organization ${q.org_id}` });
      }
      const now = ctx.now();
      const decisions = await listDecisions(
        deps.storage,
        q.org_id !== undefined ? [q.org_id] : scope,
        { actions: q.action ? [q.action] : ['block', 'share'], statuses: ['active'], limit: 100_000 },
        opts,
      );
      const live = decisions.filter((d) => effectiveDecisionStatus(d, now) === 'active');
      const objects = await fullExport(deps.storage, live, ctx.orgName, opts);
      // A Buffer keeps the media type exactly as TAXII and STIX clients compare it (a string gets a charset added).
      return reply.header('content-type', 'application/stix+json;version=2.1').send(Buffer.from(JSON.stringify(buildBundle(objects))));
    },
  );
}
