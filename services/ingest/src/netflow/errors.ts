import { MamoriError } from '@mamori/core';

/**
 * Stable codes of NetFlow/IPFIX packets the decoder could not (fully) decode; listed in
 * docs/errors.md (a test keeps the two in step) and docs/netflow.md.
 *
 * - `NETFLOW_MALFORMED`: a header or set is cut short, a length overruns the packet, a set is shorter
 *   than its 4-byte header, a v5 record count does not match the packet size.
 * - `NETFLOW_VERSION_UNSUPPORTED`: the version field is not 5, 9 or 10.
 * - `NETFLOW_TEMPLATE_MISSING`: a data set waited for its template longer than the pending bound (age
 *   or count) and was dropped.
 * - `NETFLOW_TEMPLATE_INVALID`: a template or options template that cannot describe a record (no
 *   fields, zero record length, template id below 256, scope count larger than the field count).
 */
export const NETFLOW_ERROR_CODES = ['NETFLOW_MALFORMED', 'NETFLOW_VERSION_UNSUPPORTED', 'NETFLOW_TEMPLATE_MISSING', 'NETFLOW_TEMPLATE_INVALID'] as const;

/**
 * Codes the collector logs (never per packet: throttled) besides the decoder's:
 *
 * - `NETFLOW_PRODUCE_FAILED`: a batch of flows or dead letters could not be produced; it is dropped
 *   and counted in `mamori_ingest_dropped_total{source="netflow",reason="produce_failed"}`.
 * - `NETFLOW_SOCKET_ERROR`: the UDP socket reported an error after it was bound.
 */
export const NETFLOW_COLLECTOR_ERROR_CODES = ['NETFLOW_PRODUCE_FAILED', 'NETFLOW_SOCKET_ERROR'] as const;

/** One of {@link NETFLOW_ERROR_CODES}. */
export type NetflowErrorCode = (typeof NETFLOW_ERROR_CODES)[number];

/** A packet (or part of it) the decoder refused. Returned in the decode outcome, never thrown. */
export class NetflowError extends MamoriError {
  declare readonly code: NetflowErrorCode;
  /** Byte offset in the packet where the problem was found (-1 when it is not about one place). */
  readonly offset: number;

  constructor(code: NetflowErrorCode, message: string, offset = -1) {
    super(code, message, { retryable: false });
    this.name = 'NetflowError';
    this.offset = offset;
  }
}
