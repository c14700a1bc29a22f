import { isIP } from 'node:net';
import { searchEvents, type EventRow } from '@mamori/storage';
import { ERROR_RESPONSES } from '../openapi.ts';
import { explicitOrgs } from '../security/org-list.ts';
import { TIME_PARAM, badRequest, limitParam, pageSize, queryOptions, timeRange } from '../security/guards.ts';
import { principalOf, requireRole } from '../security/principal.ts';
import type { RegisterRoutes } from './deps.ts';

interface EventQuery {
  since?: string;
  until?: string;
  src_ip?: string;
  dst_ip?: string;
  ip?: string;
  port?: number;
  dst_port?: number;
  protocol?: string;
  event_class?: string;
  community_id?: string;
  q?: string;
  limit?: number;
}

const IP_OR_CIDR = { type: 'string', maxLength: 64, description: 'address or CIDR' } as const;

/** An address or a CIDR, checked before it reaches storage (so hostile text is a 400 here). */
export function assertIpOrCidr(name: string, value: string): void {
  const slash = value.indexOf('/');
  const ip = slash < 0 ? value : value.slice(0, slash);
  const prefix = slash < 0 ? '' : value.slice(slash + 1);
  const family = isIP(ip);
  const ok = family !== 0 && (slash < 0 || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)));
  if (!ok) throw badRequest(`${name} must be an IPv4 or IPv6 address or CIDR`);
}

/** `GET /v1/events`: search normalized events, newest first, bounded time range and rows. */
export const registerEventRoutes: RegisterRoutes = async (app, { config, storage }) => {
  app.get<{ Querystring: EventQuery }>(
    '/v1/events',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['events'],
        summary: 'Search normalized events (newest first); the time range defaults to the last 24 hours',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: TIME_PARAM,
            until: TIME_PARAM,
            src_ip: IP_OR_CIDR,
            dst_ip: IP_OR_CIDR,
            ip: { ...IP_OR_CIDR, description: 'address or CIDR on either side' },
            port: { type: 'integer', minimum: 0, maximum: 65535, description: 'source or destination port' },
            dst_port: { type: 'integer', minimum: 0, maximum: 65535 },
            protocol: { type: 'string', maxLength: 16, pattern: '^[A-Za-z0-9_-]+$' },
            event_class: { type: 'string', maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' },
            community_id: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9:+/=]+$' },
            q: { type: 'string', minLength: 1, maxLength: 200, description: 'case-insensitive text in the DNS query, HTTP host or TLS SNI' },
            limit: limitParam(config),
          },
        },
        response: {
          200: { type: 'object', properties: { events: { type: 'array', items: { $ref: 'Event#' } }, truncated: { type: 'boolean' } } },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const options = queryOptions(config);
      const { since, until } = timeRange(config, q.until === undefined && q.since === undefined ? { until: String(Date.now() + 60_000) } : q, 1);
      for (const name of ['src_ip', 'dst_ip', 'ip'] as const) {
        const value = q[name];
        if (value !== undefined) assertIpOrCidr(name, value);
      }
      const limit = pageSize(config, q.limit);
      const orgs = await explicitOrgs(principalOf(request), storage, options);
      const rows = await searchEvents(
        storage,
        orgs,
        {
          since,
          until,
          ...(q.src_ip ? { srcIp: q.src_ip } : {}),
          ...(q.dst_ip ? { dstIp: q.dst_ip } : {}),
          ...(q.ip ? { ip: q.ip } : {}),
          ...(q.port !== undefined ? { port: q.port } : {}),
          ...(q.dst_port !== undefined ? { dstPort: q.dst_port } : {}),
          ...(q.protocol ? { protocol: q.protocol } : {}),
          ...(q.event_class ? { eventClass: q.event_class } : {}),
          ...(q.community_id ? { communityId: q.community_id } : {}),
          ...(q.q ? { text: q.q } : {}),
          limit: Math.min(limit + 1, 1000),
        },
        options,
      );
      return { events: rows.slice(0, limit).map(eventJson), truncated: rows.length > limit };
    },
  );
};

/** The API's JSON shape of an event: snake_case, ISO time. */
export function eventJson(e: EventRow): Record<string, unknown> {
  return {
    id: e.eventId,
    org_id: e.orgId,
    sensor_id: e.sensorId,
    source_format: e.sourceFormat,
    event_class: e.eventClass,
    time: new Date(e.time).toISOString(),
    src_ip: e.srcIp,
    src_port: e.srcPort,
    dst_ip: e.dstIp,
    dst_port: e.dstPort,
    protocol: e.protocol,
    bytes_out: e.bytesOut,
    bytes_in: e.bytesIn,
    packets_out: e.packetsOut,
    packets_in: e.packetsIn,
    duration_ms: e.durationMs,
    conn_state: e.connState,
    community_id: e.communityId,
    attributes: e.attributes,
  };
}
