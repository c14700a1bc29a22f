import { isIP } from 'node:net';
import { listDetections, type DetectionRow, type DetectionState, type Severity } from '@mamori/storage';
import { ERROR_RESPONSES } from '../openapi.ts';
import { readEntityRollups } from '../repositories/entity-rollups.ts';
import { explicitOrgs } from '../security/org-list.ts';
import { TIME_PARAM, badRequest, queryOptions, timeRange } from '../security/guards.ts';
import { orgScope, principalOf, requireRole } from '../security/principal.ts';
import type { RegisterRoutes } from './deps.ts';
import { detectionJson } from './detections.ts';

/** Severity weights of the risk score (docs/api.md). */
export const RISK_WEIGHTS: Readonly<Record<Severity, number>> = { info: 1, low: 5, medium: 15, high: 40, critical: 80 };
/** A detection's contribution halves every this many hours since its last evidence. */
export const RISK_HALF_LIFE_HOURS = 72;
const MAX_ENTITY_DETECTIONS = 100;
const TOP_N = 10;

/**
 * Risk score 0-100 of an entity from its detections:
 * S = Σ weight(severity) × (1 + log10(count)) × 0.5^(age_hours / 72) × status factor
 * (false_positive 0, resolved 0.25, otherwise 1), age measured from the detection's last evidence;
 * score = round(100 × (1 − e^(−S/100))). One recent high scores 33, one recent critical 55.
 */
export function riskScore(detections: readonly { row: DetectionRow; state?: DetectionState | undefined }[], now: number): { score: number; sum: number } {
  let sum = 0;
  for (const { row, state } of detections) {
    const statusFactor = state?.status === 'false_positive' ? 0 : state?.status === 'resolved' ? 0.25 : 1;
    const ageHours = Math.max(0, now - row.lastSeen) / 3_600_000;
    sum += RISK_WEIGHTS[row.severity] * (1 + Math.log10(Math.max(1, row.count))) * 0.5 ** (ageHours / RISK_HALF_LIFE_HOURS) * statusFactor;
  }
  return { score: Math.round(100 * (1 - Math.exp(-sum / 100))), sum };
}

/** `GET /v1/entities/:ip`: the investigation page of one address. */
export const registerEntityRoutes: RegisterRoutes = async (app, { config, storage, detectionCache, stateCache, entityCache, headsCaches }) => {
  app.get<{ Params: { ip: string }; Querystring: { since?: string; until?: string } }>(
    '/v1/entities/:ip',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['entities'],
        summary: 'An address: hourly timeline, risk score, detections, top peers and ports, first and last seen',
        params: { type: 'object', properties: { ip: { type: 'string', maxLength: 45 } }, required: ['ip'] },
        querystring: { type: 'object', additionalProperties: false, properties: { since: TIME_PARAM, until: TIME_PARAM } },
        response: {
          200: {
            type: 'object',
            properties: {
              ip: { type: 'string' },
              since: { type: 'string', format: 'date-time' },
              until: { type: 'string', format: 'date-time' },
              first_seen: { type: ['string', 'null'], format: 'date-time' },
              last_seen: { type: ['string', 'null'], format: 'date-time' },
              risk: {
                type: 'object',
                properties: { score: { type: 'integer' }, raw: { type: 'number' }, detections_considered: { type: 'integer' }, formula: { type: 'string' } },
              },
              timeline: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    hour: { type: 'string', format: 'date-time' },
                    conns_as_src: { type: 'integer' },
                    conns_as_dst: { type: 'integer' },
                    bytes_sent: { type: 'integer' },
                    bytes_received: { type: 'integer' },
                    peers: { type: 'integer' },
                    ports: { type: 'integer' },
                  },
                },
              },
              detections: { type: 'array', items: { $ref: 'Detection#' } },
              top_since: { type: 'string', format: 'date-time' },
              top_peers: { type: 'array', items: { type: 'object', properties: { ip: { type: 'string' }, connections: { type: 'integer' }, bytes: { type: 'integer' } } } },
              top_ports: { type: 'array', items: { type: 'object', properties: { port: { type: 'integer' }, protocol: { type: 'string' }, connections: { type: 'integer' } } } },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const ip = request.params.ip;
      if (isIP(ip) === 0) throw badRequest('the entity must be an IPv4 or IPv6 address');
      const { since, until } = timeRange(config, request.query);
      const principal = principalOf(request);
      const options = queryOptions(config);
      const orgs = await explicitOrgs(principal, storage, options);
      // Every part but the detections comes from the hourly roll-ups (entity_hourly, entity_peer_hourly,
      // entity_port_hourly): reads of the address's own (org, ip, hour) key range, run concurrently;
      // with embedded chDB the settled hours from the entity cache (repositories/entity-rollups.ts).
      const [rollups, page] = await Promise.all([
        readEntityRollups(storage, orgs, ip, since, until, TOP_N, options, entityCache),
        listDetections(
          storage,
          { orgIds: orgScope(principal), entityIp: ip, since, until, limit: MAX_ENTITY_DETECTIONS, includeState: true },
          options,
          detectionCache,
          stateCache,
          headsCaches,
        ),
      ]);
      const { timeline, seen } = rollups;
      const now = Date.now();
      const risk = riskScore(page.detections.map((row) => ({ row, state: page.states?.[row.detectionId] })), now);
      return {
        ip,
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        first_seen: seen ? new Date(seen.first).toISOString() : null,
        last_seen: seen ? new Date(Math.min(seen.last, now)).toISOString() : null,
        risk: {
          score: risk.score,
          raw: Number(risk.sum.toFixed(3)),
          detections_considered: page.detections.length,
          formula: '100*(1-exp(-S/100)), S = sum of weight(severity)*(1+log10(count))*0.5^(age_h/72)*status_factor',
        },
        timeline: timeline.map((h) => ({
          hour: new Date(h.hour).toISOString(),
          conns_as_src: h.connsAsSrc,
          conns_as_dst: h.connsAsDst,
          bytes_sent: h.bytesSent,
          bytes_received: h.bytesReceived,
          peers: h.peers,
          ports: h.ports,
        })),
        detections: page.detections.map((d) => detectionJson(d, page.states?.[d.detectionId])),
        // The roll-ups count whole hours: the top lists start at the hour that holds `since`.
        top_since: new Date(Math.floor(since / 3_600_000) * 3_600_000).toISOString(),
        top_peers: rollups.peers,
        top_ports: rollups.ports,
      };
    },
  );
};
