import { isIP } from 'node:net';
import { Gauge } from '@mamori/metrics';
import { getDetectionStates, type DetectionState, type DetectionStatus, type Severity } from '@mamori/storage';
import { ERROR_RESPONSES } from '../openapi.ts';
import { detectionsAfter, latestStreamCursor, type StreamCursor, type StreamFilters } from '../repositories/investigation.ts';
import { badRequest, queryOptions } from '../security/guards.ts';
import { orgScope, principalOf, requireRole } from '../security/principal.ts';
import type { RegisterRoutes } from './deps.ts';
import { DETECTION_FILTERS, detectionJson } from './detections.ts';
import { assertIpOrCidr } from './events.ts';

interface StreamQuery {
  min_severity?: Severity;
  rule_id?: string;
  technique?: string;
  entity_ip?: string;
  q?: string;
  src_ip?: string;
  status?: string;
  assignee?: string;
}

const MAX_ROWS_PER_POLL = 500;

function encodeEventId(c: StreamCursor): string {
  return Buffer.from(JSON.stringify([c.detectedAt, c.detectionId, c.version])).toString('base64url');
}

function decodeEventId(text: string | undefined): StreamCursor | undefined {
  if (text === undefined || text.length > 512) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 3 && Number.isInteger(v[0]) && typeof v[1] === 'string' && Number.isInteger(v[2])) {
      return { detectedAt: v[0] as number, detectionId: v[1], version: v[2] as number };
    }
  } catch {
    // an unusable Last-Event-ID starts at "now", as a fresh subscriber would
  }
  return undefined;
}

/**
 * `GET /v1/detections/stream`: Server-Sent Events of detections as they are written. Each stream
 * polls storage every API_SSE_POLL_INTERVAL_MS for detection versions newer than its cursor
 * (detected_at, id, version); a reconnect with `Last-Event-ID` resumes after the last one seen.
 * Polling (not a Kafka subscription) keeps the API free of a broker dependency and works with
 * every storage backend and any number of API replicas. Each streamed detection carries its current
 * triage state; `status` and `assignee` filter on it (an update of a detection already triaged as a
 * false positive is not `new`), after the poll, so the cursor still moves past what they leave out.
 */
export const registerStreamRoutes: RegisterRoutes = async (app, { config, storage, registry, logger }) => {
  const gauge = new Gauge({ name: 'mamori_api_sse_subscribers', help: 'Open GET /v1/detections/stream connections.', registers: [registry] });
  let subscribers = 0;
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const close of open) close();
  });

  app.get<{ Querystring: StreamQuery }>(
    '/v1/detections/stream',
    {
      preHandler: requireRole('viewer'),
      schema: {
        tags: ['detections'],
        summary: 'Live detections as Server-Sent Events (event: detection, id: resume cursor); heartbeat comments when idle',
        querystring: { type: 'object', additionalProperties: false, properties: DETECTION_FILTERS },
        response: { 200: { description: 'text/event-stream', type: 'string' }, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (q.entity_ip !== undefined) assertIpOrCidr('entity_ip', q.entity_ip);
      if (q.src_ip !== undefined && isIP(q.src_ip) === 0) throw badRequest('src_ip must be an IPv4 or IPv6 address');
      if (subscribers >= config.maxSseSubscribers) {
        return reply.code(503).header('retry-after', '5').send({ error: 'too_many_streams', message: `at most ${config.maxSseSubscribers} detection streams at once; retry later` });
      }
      const orgs = orgScope(principalOf(request));
      const options = queryOptions(config);
      const filters: StreamFilters = { minSeverity: q.min_severity, ruleId: q.rule_id, srcIp: q.src_ip, technique: q.technique, entityIp: q.entity_ip, text: q.q };
      const statuses = q.status === undefined ? undefined : new Set(q.status.split(',') as DetectionStatus[]);
      const assignee = q.assignee;
      const lastEventId = request.headers['last-event-id'];
      let cursor = decodeEventId(typeof lastEventId === 'string' ? lastEventId : undefined) ?? (await latestStreamCursor(storage, orgs, options));

      subscribers += 1;
      gauge.set(subscribers);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(`retry: 3000\n: stream open\n\n`);

      let closed = false;
      let polling = false;
      let lastWrite = Date.now();
      const poll = async (): Promise<void> => {
        if (closed || polling) return;
        polling = true;
        try {
          const rows = await detectionsAfter(storage, orgs, cursor, filters, MAX_ROWS_PER_POLL, options);
          const states = new Map<string, DetectionState>();
          if (rows.length > 0) {
            const rowOrgs = [...new Set(rows.map((r) => r.row.orgId))];
            for (const state of await getDetectionStates(storage, rowOrgs, rows.map((r) => r.row.detectionId), options)) {
              states.set(`${state.orgId}\u0000${state.detectionId}`, state);
            }
          }
          for (const { row, cursor: next } of rows) {
            if (closed) return;
            cursor = next;
            const state = states.get(`${row.orgId}\u0000${row.detectionId}`);
            if (statuses !== undefined && !statuses.has(state?.status ?? 'new')) continue;
            if (assignee !== undefined && (state?.assignee ?? '') !== assignee) continue;
            raw.write(`id: ${encodeEventId(next)}\nevent: detection\ndata: ${JSON.stringify(detectionJson(row, state))}\n\n`);
            lastWrite = Date.now();
          }
          if (!closed && Date.now() - lastWrite >= config.sseHeartbeatMs) {
            raw.write(': heartbeat\n\n');
            lastWrite = Date.now();
          }
        } catch (error) {
          // Storage trouble: keep the stream, say so once per failure as a comment, retry next tick.
          logger.warn({ err: error }, 'detection stream poll failed');
          if (!closed) raw.write(': poll failed, retrying\n\n');
        } finally {
          polling = false;
        }
      };
      const timer = setInterval(() => void poll(), config.ssePollIntervalMs);
      const close = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        open.delete(close);
        subscribers -= 1;
        gauge.set(subscribers);
        if (!raw.writableEnded) raw.end();
      };
      open.add(close);
      raw.on('close', close);
      raw.on('error', close);
      void poll();
    },
  );
};
