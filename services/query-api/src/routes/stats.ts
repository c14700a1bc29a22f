import { detectionCountsHourly, topEntities, TOP_ENTITY_METRICS, type TopEntityMetric } from '@mamori/storage';
import { ERROR_RESPONSES } from '../openapi.ts';
import { ingestBySensor } from '../repositories/investigation.ts';
import { explicitOrgs } from '../security/org-list.ts';
import { TIME_PARAM, queryOptions, timeRange } from '../security/guards.ts';
import { principalOf, requireRole } from '../security/principal.ts';
import type { RegisterRoutes } from './deps.ts';

const hourSeries = {
  type: 'array',
  items: { type: 'object', properties: { hour: { type: 'string', format: 'date-time' }, key: { type: 'string' }, count: { type: 'integer' } } },
} as const;

/** `GET /v1/stats`: detections over time by severity and rule, top entities, ingest per sensor. */
export const registerStatsRoutes: RegisterRoutes = async (app, { config, storage }) => {
  app.get<{ Querystring: { since?: string; until?: string; top_by?: TopEntityMetric; top?: number } }>(
    '/v1/stats',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['stats'],
        summary: 'Dashboard figures over a time range (default the last 24 hours), from the hourly roll-ups',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: TIME_PARAM,
            until: TIME_PARAM,
            top_by: { type: 'string', enum: [...TOP_ENTITY_METRICS], default: 'connections' },
            top: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              since: { type: 'string', format: 'date-time' },
              until: { type: 'string', format: 'date-time' },
              detections_by_severity: hourSeries,
              detections_by_rule: hourSeries,
              top_entities: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    org_id: { type: 'string' },
                    ip: { type: 'string' },
                    connections: { type: 'integer' },
                    bytes_sent: { type: 'integer' },
                    bytes_received: { type: 'integer' },
                    peers: { type: 'integer' },
                    ports: { type: 'integer' },
                  },
                },
              },
              ingest: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    org_id: { type: 'string' },
                    sensor_id: { type: 'string' },
                    events: { type: 'integer' },
                    events_per_second: { type: 'number' },
                    hourly: { type: 'array', items: { type: 'object', properties: { hour: { type: 'string', format: 'date-time' }, events: { type: 'integer' } } } },
                  },
                },
              },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const { since, until } = timeRange(config, q.since === undefined && q.until === undefined ? { until: String(Date.now() + 60_000) } : q, 1);
      const options = queryOptions(config);
      const orgs = await explicitOrgs(principalOf(request), storage, options);
      const [bySeverity, byRule, top, ingest] = await Promise.all([
        detectionCountsHourly(storage, orgs, since, until, 'severity', options),
        detectionCountsHourly(storage, orgs, since, until, 'rule', options),
        topEntities(storage, orgs, since, until, { by: q.top_by ?? 'connections', limit: q.top ?? 10 }, options),
        ingestBySensor(storage, orgs, since, until, options),
      ]);
      const iso = (ms: number): string => new Date(ms).toISOString();
      const sensors = new Map<string, { org_id: string; sensor_id: string; events: number; hourly: { hour: string; events: number }[] }>();
      for (const r of ingest) {
        const key = `${r.orgId}\u0000${r.sensorId}`;
        let s = sensors.get(key);
        if (!s) sensors.set(key, (s = { org_id: r.orgId, sensor_id: r.sensorId, events: 0, hourly: [] }));
        s.events += r.events;
        s.hourly.push({ hour: iso(r.hour), events: r.events });
      }
      const seconds = Math.max(1, (Math.min(until, Date.now()) - since) / 1000);
      return {
        since: iso(since),
        until: iso(until),
        detections_by_severity: bySeverity.map((h) => ({ hour: iso(h.hour), key: h.key, count: h.count })),
        detections_by_rule: byRule.map((h) => ({ hour: iso(h.hour), key: h.key, count: h.count })),
        top_entities: top.map((t) => ({ org_id: t.orgId, ip: t.ip, connections: t.connections, bytes_sent: t.bytesSent, bytes_received: t.bytesReceived, peers: t.peers, ports: t.ports })),
        ingest: [...sensors.values()].map((s) => ({ ...s, events_per_second: Number((s.events / seconds).toFixed(3)) })),
      };
    },
  );
};
