import type { MamoriEvent } from '@mamori/events';
import { eventIdAt, eventIdPrefix, type FnvState } from '../event-id.ts';
import { NormalizeError } from '../errors.ts';
import type { DecodeContext, DecodeResult, SensorFormat } from '../types.ts';
import { attributesOf, eventTimeMs, FieldError, flattenZeek, optAddress, optPort, optString, type ZeekRecord } from './fields.ts';
import { isZeekTsv, sniffZeekTsv, zeekTsvRecords } from './tsv.ts';
import { isIpv6Flow, protocolOfName } from '../protocol.ts';
import { forEachJsonObject, parseJsonObject } from '../json.ts';

/**
 * What one Zeek log type contributes: its name, OCSF class, which source fields it maps, and the
 * class-specific mapping. Everything else (JSON shapes, TSV, common fields, attributes, errors,
 * event ids, sniffing) is shared.
 */
export interface ZeekLogSpec {
  /** Zeek's `#path` / `_path`, e.g. `dns`; the format id is `zeek.<log>`. */
  readonly log: string;
  /** Other paths with the same columns (RITA's `open_conn`, `open_http`, ...). */
  readonly aliases?: readonly string[];
  /** `MamoriEvent.event_class`. */
  readonly eventClass: string;
  /** Source fields {@link map} consumes; they are not copied into `attributes`. */
  readonly mapped: readonly string[];
  /** Zeek `time` fields besides `ts`: written to `attributes` as epoch ms so JSON (ISO) and TSV agree. */
  readonly times?: readonly string[];
  /** Transport when the entry has no `proto` field ('' when the analyzer runs over both). */
  readonly protocol: string;
  /** Confidence 0..1 that a flattened JSON entry without `_path` is this log type, from its keys. */
  sniffJson(rec: ZeekRecord): number;
  /** Fills the class-specific part of `event` (common fields are set); throws {@link FieldError}. */
  map(rec: ZeekRecord, event: MamoriEvent): void;
}

/** Fields every log type maps onto common event fields. */
const COMMON = ['ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'community_id'];

/** A compiled spec: the sets the hot path needs. */
interface Compiled {
  readonly spec: ZeekLogSpec;
  readonly id: string;
  readonly mapped: ReadonlySet<string>;
  readonly times: ReadonlySet<string>;
  readonly paths: ReadonlySet<string>;
}

function toEvent(c: Compiled, rec: ZeekRecord, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number): MamoriEvent {
  const ts = rec['ts'];
  if (ts === undefined || ts === null) throw new FieldError('ts', 'ts is missing');
  const proto = optString(rec, 'proto');
  // Checked in the order of the event's fields: the first bad one is the error reported.
  const time = eventTimeMs(ts, 'ts');
  // Logs about files and certificates have no connection: '' and 0, as the schema says.
  const srcIp = optAddress(rec, 'id.orig_h') ?? '';
  const event: MamoriEvent = {
    event_id: eventIdAt(prefix, line),
    event_class: c.spec.eventClass,
    time,
    ingest_time: ctx.ingestTime,
    org_id: ctx.orgId,
    sensor_id: ctx.sensorId,
    source_format: c.id,
    src_ip: srcIp,
    src_port: optPort(rec, 'id.orig_p') ?? 0,
    dst_ip: optAddress(rec, 'id.resp_h') ?? '',
    dst_port: optPort(rec, 'id.resp_p') ?? 0,
    // Zeek says `icmp` for ICMPv6 too: the address family tells them apart.
    protocol: proto === null ? c.spec.protocol : protocolOfName(proto, isIpv6Flow(srcIp)),
    bytes_out: 0,
    bytes_in: 0,
    packets_out: 0,
    packets_in: 0,
    duration_ms: 0,
    conn_state: null,
    community_id: optString(rec, 'community_id'),
    raw: { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset },
    attributes: attributesOf(rec, c.mapped, c.times),
  };
  c.spec.map(rec, event);
  return event;
}

function convert(c: Compiled, rec: ZeekRecord, ctx: DecodeContext, prefix: Readonly<FnvState>, line: number, out: DecodeResult): void {
  try {
    out.events.push(toEvent(c, rec, ctx, prefix, line));
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    out.errors.push(new NormalizeError('FIELD_INVALID', `line ${line}: ${error.message}`, { line, field: error.field }));
  }
}

function decodeTsv(c: Compiled, text: string, ctx: DecodeContext, prefix: Readonly<FnvState>, out: DecodeResult): void {
  for (const item of zeekTsvRecords(text)) {
    const line = item.lineNumber;
    if (item.kind === 'error') {
      out.errors.push(new NormalizeError('PARSE_FAILED', item.message, { line }));
    } else if (item.path !== '' && !c.paths.has(item.path)) {
      out.errors.push(new NormalizeError('PARSE_FAILED', `line ${line}: a #path ${item.path} log is not ${c.id}`, { line }));
    } else {
      // #fields names are Zeek's own dotted names: already flat and canonical.
      convert(c, item.record, ctx, prefix, line, out);
    }
  }
}

function decodeJson(c: Compiled, text: string, ctx: DecodeContext, prefix: Readonly<FnvState>, out: DecodeResult): void {
  forEachJsonObject(
    text,
    (o, line) => convert(c, flattenZeek(o), ctx, prefix, line, out),
    (error) => out.errors.push(error),
  );
}

/**
 * Decodes one raw record of a Zeek log: one JSON object (pretty-printed is fine), NDJSON lines, or a
 * Zeek TSV text with its header. Line i (0-based, TSV header lines included) becomes the event with id
 * FNV-1a(topic:partition:offset:i); a bad line yields an error for that line only.
 */
function decodeWith(c: Compiled, bytes: Buffer, ctx: DecodeContext): DecodeResult {
  const out: DecodeResult = { events: [], errors: [] };
  const text = bytes.toString('utf8');
  const prefix = eventIdPrefix(ctx.topic, ctx.partition, ctx.offset);
  if (isZeekTsv(text)) decodeTsv(c, text, ctx, prefix, out);
  else decodeJson(c, text, ctx, prefix, out);
  return out;
}

/** The first JSON object in `head`, flattened, or `null`. */
export function firstJsonEntry(head: string): ZeekRecord | null {
  const text = head.trimStart();
  if (!text.startsWith('{')) return null;
  const end = text.indexOf('\n');
  const parsed = parseJsonObject(end === -1 ? text : text.slice(0, end), 0);
  return parsed instanceof NormalizeError ? null : flattenZeek(parsed);
}

/**
 * Content sniffing for one log type: a TSV `#path` or JSON `_path` naming it (1; an alias 0.9), else
 * the spec's judgement of the first JSON entry's keys. File names never decide.
 */
function sniffWith(c: Compiled, head: string): number {
  const path = sniffZeekTsv(head);
  if (path !== null) return path === c.spec.log ? 1 : c.paths.has(path) ? 0.9 : 0;
  const rec = firstJsonEntry(head);
  if (rec === null || rec['ts'] === undefined) return 0;
  const jsonPath = rec['_path'];
  if (typeof jsonPath === 'string') return jsonPath === c.spec.log ? 1 : c.paths.has(jsonPath) ? 0.9 : 0;
  return c.spec.sniffJson(rec);
}

/** Lower-level entry for tests and tools: decode a record with a spec. */
export interface ZeekLogFormat extends SensorFormat {
  readonly spec: ZeekLogSpec;
  /** Maps one flat Zeek entry (as from {@link flattenZeek} or the TSV reader); throws FieldError. */
  toEvent(rec: ZeekRecord, ctx: DecodeContext, line: number): MamoriEvent;
  sniff(head: string): number;
}

/** Builds the `SensorFormat` `zeek.<log>` on raw topic `telemetry.raw.zeek.<log>`. */
export function zeekLogFormat(spec: ZeekLogSpec): ZeekLogFormat {
  const c: Compiled = {
    spec,
    id: `zeek.${spec.log}`,
    mapped: new Set([...COMMON, ...spec.mapped]),
    times: new Set(spec.times ?? []),
    paths: new Set([spec.log, ...(spec.aliases ?? [])]),
  };
  return {
    id: c.id,
    topics: [`telemetry.raw.zeek.${spec.log}`],
    maxRecordBytes: 1024 * 1024,
    spec,
    decode: (bytes, ctx) => decodeWith(c, bytes, ctx),
    sniff: (head) => sniffWith(c, head),
    toEvent: (rec, ctx, line) => toEvent(c, rec, ctx, eventIdPrefix(ctx.topic, ctx.partition, ctx.offset), line),
  };
}

/** `true` when every key is present in `rec`. */
export function hasAll(rec: ZeekRecord, ...keys: string[]): boolean {
  for (const key of keys) if (rec[key] === undefined) return false;
  return true;
}

/** `true` when any key is present in `rec`. */
export function hasAny(rec: ZeekRecord, ...keys: string[]): boolean {
  for (const key of keys) if (rec[key] !== undefined) return true;
  return false;
}
