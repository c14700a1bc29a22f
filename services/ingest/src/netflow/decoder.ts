import { NetflowError, type NetflowErrorCode } from './errors.ts';
import { ipv4, ipv6, mac, ntpToMs, readUnsigned, readUnsignedExact, type FlowRecord } from './flow-record.ts';
import { informationElement } from './information-elements.ts';

/** Bounds of the decoder's per-exporter state. Every option has a default. */
export interface NetflowDecoderOptions {
  /** A template not re-sent for this long is forgotten. @default 1800000 */
  templateTtlMs?: number;
  /** A data set whose template has not arrived is kept this long, then counted NETFLOW_TEMPLATE_MISSING. @default 10000 */
  pendingMaxAgeMs?: number;
  /** At most this many data sets wait for templates (all exporters); the oldest is dropped first. @default 1000 */
  pendingMaxSets?: number;
  /** At most this many packet bytes are held by waiting data sets. @default 16777216 */
  pendingMaxBytes?: number;
  /** Templates kept (all exporters); the least recently (re-)sent is dropped first. @default 10000 */
  maxTemplates?: number;
  /** Exporter/domain states (sampling, system init time) kept. @default 10000 */
  maxExporters?: number;
  /** Entries in `FlowRecord.fields` per record; further fields are counted in `fields._truncated`. @default 64 */
  maxFieldsPerRecord?: number;
  /** Longest string or hex value in `fields`, in source bytes; longer values are cut. @default 256 */
  maxFieldValueBytes?: number;
}

/** A packet whose waiting data sets were given up (template never came): dead-letter it. */
export interface ExpiredPacket {
  readonly exporter: string;
  readonly packet: Buffer;
  readonly error: NetflowError;
  /** Data sets of that packet that were dropped. */
  readonly sets: number;
}

/** What one call to `decode` produced. Never thrown: every problem is in `errors`. */
export interface DecodeOutcome {
  /** Version read from the header (0 when the packet is shorter than 2 bytes). */
  version: number;
  /** Flow records of this packet, plus those of earlier packets whose template arrived now. */
  records: FlowRecord[];
  /** Problems of this packet; records decoded before a problem are still in `records`. */
  errors: NetflowError[];
  /** Templates and options templates learned (or withdrawn) from this packet. */
  templates: number;
  /** Options data records applied to the exporter's state (sampling, system init time). */
  optionsRecords: number;
  /** Data sets of this packet that wait for their template. */
  pending: number;
  /** Earlier packets given up during this call (pending age or count bound). */
  expired: ExpiredPacket[];
}

interface FieldSpec {
  readonly id: number;
  /** 0xffff: variable length (IPFIX, and some v9 exporters). */
  readonly length: number;
  readonly pen: number;
}

interface Template {
  readonly id: number;
  readonly fields: readonly FieldSpec[];
  readonly scopeCount: number;
  readonly options: boolean;
  /** Fixed bytes plus one per variable-length field: a set rest shorter than this is padding. */
  readonly minRecordLength: number;
  learnedAt: number;
}

interface ExporterState {
  samplingInterval: number | undefined;
  samplers: Map<number, number>;
  systemInitMs: number | undefined;
}

interface PacketContext {
  readonly exporter: string;
  readonly version: 9 | 10;
  readonly domain: number;
  /** Header export time, epoch ms. */
  readonly exportMs: number;
  /** v9 header sysUptime, ms; -1 for IPFIX. */
  readonly uptimeMs: number;
  readonly statePrefix: string;
}

interface PendingSet {
  readonly key: string;
  readonly ctx: PacketContext;
  readonly packet: Buffer;
  readonly start: number;
  readonly end: number;
  readonly arrivedAt: number;
}

const VARIABLE = 0xffff;
const TWO_32 = 0x1_0000_0000;
const V5_HEADER = 24;
const V5_RECORD = 48;
const V9_HEADER = 20;
const IPFIX_HEADER = 16;

function allZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** The first non-zero counter in order of preference (an exporter may send IN_BYTES 0 and OUT_BYTES n). */
/**
 * The ports of an ICMP/ICMPv6 flow as Zeek and Suricata write them (and Community ID hashes them):
 * type as the source port, code as the destination port. Exporters say it three ways: icmpTypeCode
 * (32/139, `type << 8 | code`), icmpType/icmpCode (176-179, Cisco ASA NSEL, whose ports carry the
 * ICMP identifier), or, with no such field, `type << 8 | code` in the destination port and 0 in the
 * source port (NetFlow v5 and most v9 exporters). Other port pairs are left as the exporter sent them.
 */
export function icmpPorts(srcPort: number, dstPort: number, typeCode: number | undefined, type: number | undefined, code: number | undefined): [number, number] {
  if (typeCode !== undefined) return [(typeCode >> 8) & 0xff, typeCode & 0xff];
  if (type !== undefined) return [type & 0xff, (code ?? 0) & 0xff];
  if (srcPort === 0) return [(dstPort >> 8) & 0xff, dstPort & 0xff];
  return [srcPort, dstPort];
}

function isIcmp(protocol: number): boolean {
  return protocol === 1 || protocol === 58;
}

function firstCount(candidates: readonly (number | undefined)[]): number {
  for (const c of candidates) if (c !== undefined && c > 0) return c;
  return 0;
}

/** Uptime-relative time to epoch ms, taking one 32-bit wrap of the uptime counter into account. */
function uptimeToMs(exportMs: number, uptimeMs: number, value: number): number {
  let delta = value - uptimeMs;
  if (delta > 0x8000_0000) delta -= TWO_32;
  else if (delta < -0x8000_0000) delta += TWO_32;
  return exportMs + delta;
}

/**
 * Stateful NetFlow v5 / v9 / IPFIX decoder for any number of exporters. Templates are cached per
 * (exporter, version, source id / observation domain, template id); data sets that arrive before
 * their template wait (bounded by age, count and bytes) and are decoded when it arrives.
 * `decode` never throws and always terminates: every length is checked against the packet.
 */
export class NetflowDecoder {
  private readonly templateTtlMs: number;
  private readonly pendingMaxAgeMs: number;
  private readonly pendingMaxSets: number;
  private readonly pendingMaxBytes: number;
  private readonly maxTemplates: number;
  private readonly maxExporters: number;
  private readonly maxFields: number;
  private readonly maxValueBytes: number;
  private readonly templates = new Map<string, Template>();
  private readonly exporters = new Map<string, ExporterState>();
  private pending: PendingSet[] = [];
  private pendingBytes = 0;

  constructor(options: NetflowDecoderOptions = {}) {
    this.templateTtlMs = options.templateTtlMs ?? 1_800_000;
    this.pendingMaxAgeMs = options.pendingMaxAgeMs ?? 10_000;
    this.pendingMaxSets = options.pendingMaxSets ?? 1000;
    this.pendingMaxBytes = options.pendingMaxBytes ?? 16 * 1024 * 1024;
    this.maxTemplates = options.maxTemplates ?? 10_000;
    this.maxExporters = options.maxExporters ?? 10_000;
    this.maxFields = options.maxFieldsPerRecord ?? 64;
    this.maxValueBytes = options.maxFieldValueBytes ?? 256;
  }

  /** Templates currently cached (all exporters). */
  get templateCount(): number {
    return this.templates.size;
  }

  /** Data sets currently waiting for a template. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Decodes one UDP payload from `exporter`. `now` is wall-clock ms, for template and pending expiry. */
  decode(packet: Buffer, exporter: string, now: number = Date.now()): DecodeOutcome {
    const out: DecodeOutcome = { version: 0, records: [], errors: [], templates: 0, optionsRecords: 0, pending: 0, expired: [] };
    this.expireInto(now, out.expired);
    if (packet.length < 2) {
      out.errors.push(new NetflowError('NETFLOW_MALFORMED', `packet of ${packet.length} bytes has no version field`, 0));
      return out;
    }
    const version = packet.readUInt16BE(0);
    out.version = version;
    if (version === 5) this.decodeV5(packet, exporter, out);
    else if (version === 9) this.decodeV9(packet, exporter, now, out);
    else if (version === 10) this.decodeIpfix(packet, exporter, now, out);
    else out.errors.push(new NetflowError('NETFLOW_VERSION_UNSUPPORTED', `NetFlow version ${version} is not supported (5, 9 and 10/IPFIX are)`, 0));
    return out;
  }

  /** Gives up waiting data sets older than the pending bound and forgets expired templates. */
  expire(now: number = Date.now()): ExpiredPacket[] {
    const expired: ExpiredPacket[] = [];
    this.expireInto(now, expired);
    return expired;
  }

  // ---------------------------------------------------------------- v5

  private decodeV5(buf: Buffer, exporter: string, out: DecodeOutcome): void {
    if (buf.length < V5_HEADER) {
      out.errors.push(new NetflowError('NETFLOW_MALFORMED', `v5 header needs ${V5_HEADER} bytes, packet has ${buf.length}`, 0));
      return;
    }
    const count = buf.readUInt16BE(2);
    const need = V5_HEADER + count * V5_RECORD;
    if (need > buf.length) {
      out.errors.push(new NetflowError('NETFLOW_MALFORMED', `v5 header announces ${count} records (${need} bytes), packet has ${buf.length} bytes`, 2));
      return;
    }
    const uptime = buf.readUInt32BE(4);
    const exportMs = buf.readUInt32BE(8) * 1000 + Math.floor(buf.readUInt32BE(12) / 1_000_000);
    const domain = (buf[20] as number) * 256 + (buf[21] as number);
    const samplingInterval = buf.readUInt16BE(22) & 0x3fff;
    for (let i = 0; i < count; i++) {
      const o = V5_HEADER + i * V5_RECORD;
      const record: FlowRecord = {
        exporter,
        observation_domain: domain,
        version: 5,
        template_id: 0,
        start_ms: uptimeToMs(exportMs, uptime, buf.readUInt32BE(o + 24)),
        end_ms: uptimeToMs(exportMs, uptime, buf.readUInt32BE(o + 28)),
        src_ip: ipv4(buf, o),
        dst_ip: ipv4(buf, o + 4),
        src_port: buf.readUInt16BE(o + 32),
        dst_port: buf.readUInt16BE(o + 34),
        protocol: buf[o + 38] as number,
        bytes: buf.readUInt32BE(o + 20),
        packets: buf.readUInt32BE(o + 16),
        tcp_flags: buf[o + 37] as number,
        input_if: buf.readUInt16BE(o + 12),
        output_if: buf.readUInt16BE(o + 14),
        fields: {
          ipNextHopIPv4Address: ipv4(buf, o + 8),
          ipClassOfService: buf[o + 39] as number,
          bgpSourceAsNumber: buf.readUInt16BE(o + 40),
          bgpDestinationAsNumber: buf.readUInt16BE(o + 42),
          sourceIPv4PrefixLength: buf[o + 44] as number,
          destinationIPv4PrefixLength: buf[o + 45] as number,
        },
      };
      if (isIcmp(record.protocol)) [record.src_port, record.dst_port] = icmpPorts(record.src_port, record.dst_port, undefined, undefined, undefined);
      if (samplingInterval > 0) record.sampling_interval = samplingInterval;
      out.records.push(record);
    }
  }

  // ---------------------------------------------------------------- v9 and IPFIX framing

  private decodeV9(buf: Buffer, exporter: string, now: number, out: DecodeOutcome): void {
    if (buf.length < V9_HEADER) {
      out.errors.push(new NetflowError('NETFLOW_MALFORMED', `v9 header needs ${V9_HEADER} bytes, packet has ${buf.length}`, 0));
      return;
    }
    const domain = buf.readUInt32BE(16);
    const ctx: PacketContext = {
      exporter,
      version: 9,
      domain,
      exportMs: buf.readUInt32BE(8) * 1000,
      uptimeMs: buf.readUInt32BE(4),
      statePrefix: `${exporter}|9|${domain}`,
    };
    this.decodeSets(buf, V9_HEADER, buf.length, ctx, now, out);
  }

  private decodeIpfix(buf: Buffer, exporter: string, now: number, out: DecodeOutcome): void {
    if (buf.length < IPFIX_HEADER) {
      out.errors.push(new NetflowError('NETFLOW_MALFORMED', `IPFIX header needs ${IPFIX_HEADER} bytes, packet has ${buf.length}`, 0));
      return;
    }
    const length = buf.readUInt16BE(2);
    if (length < IPFIX_HEADER || length > buf.length) {
      out.errors.push(new NetflowError('NETFLOW_MALFORMED', `IPFIX message length ${length} does not fit the packet of ${buf.length} bytes`, 2));
      return;
    }
    const domain = buf.readUInt32BE(12);
    const ctx: PacketContext = {
      exporter,
      version: 10,
      domain,
      exportMs: buf.readUInt32BE(4) * 1000,
      uptimeMs: -1,
      statePrefix: `${exporter}|10|${domain}`,
    };
    // Bytes after `length` are not part of the message (one message per datagram): ignored.
    this.decodeSets(buf, IPFIX_HEADER, length, ctx, now, out);
  }

  private decodeSets(buf: Buffer, start: number, end: number, ctx: PacketContext, now: number, out: DecodeOutcome): void {
    const ipfix = ctx.version === 10;
    let off = start;
    while (off < end) {
      if (end - off < 4 || buf.readUInt16BE(off + 2) < 4) {
        // Exporters zero-fill packets (and v9 allows padding): only non-zero leftovers are malformed.
        if (!allZero(buf, off, end)) out.errors.push(new NetflowError('NETFLOW_MALFORMED', `set at byte ${off} is shorter than its 4-byte header`, off));
        return;
      }
      const setId = buf.readUInt16BE(off);
      const setLength = buf.readUInt16BE(off + 2);
      const setEnd = off + setLength;
      if (setEnd > end) {
        out.errors.push(new NetflowError('NETFLOW_MALFORMED', `set ${setId} at byte ${off} has length ${setLength}, overrunning the packet (${end} bytes)`, off));
        return;
      }
      const body = off + 4;
      if (setId === (ipfix ? 2 : 0)) this.templateSet(buf, body, setEnd, ctx, now, out);
      else if (setId === (ipfix ? 3 : 1)) (ipfix ? this.ipfixOptionsSet(buf, body, setEnd, ctx, now, out) : this.v9OptionsSet(buf, body, setEnd, ctx, now, out));
      else if (setId >= 256) this.dataSet(buf, body, setEnd, setId, ctx, now, out);
      else if (ipfix && setId < 2) out.errors.push(new NetflowError('NETFLOW_MALFORMED', `IPFIX set id ${setId} is not allowed`, off));
      // Other ids below 256 are reserved: skipped.
      off = setEnd;
    }
  }

  // ---------------------------------------------------------------- templates

  private invalid(out: DecodeOutcome, message: string, offset: number): void {
    out.errors.push(new NetflowError('NETFLOW_TEMPLATE_INVALID', message, offset));
  }

  /** v9 template flowset (id 0) and IPFIX template set (id 2): the same layout but the enterprise bit. */
  private templateSet(buf: Buffer, p: number, end: number, ctx: PacketContext, now: number, out: DecodeOutcome): void {
    const ipfix = ctx.version === 10;
    while (end - p >= 4) {
      const id = buf.readUInt16BE(p);
      const count = buf.readUInt16BE(p + 2);
      if (id === 0 && count === 0 && allZero(buf, p, end)) return; // padding
      const at = p;
      p += 4;
      if (count === 0) {
        if (ipfix) {
          this.withdraw(ctx, id, 2);
          out.templates++;
          continue;
        }
        this.invalid(out, `v9 template ${id} at byte ${at} has no fields`, at);
        continue;
      }
      const fields = this.readFieldSpecs(buf, p, end, count, ipfix);
      if (fields === undefined) {
        out.errors.push(new NetflowError('NETFLOW_MALFORMED', `template ${id} at byte ${at} announces ${count} fields that overrun its set`, at));
        return;
      }
      p = fields.next;
      this.learn(ctx, id, fields.specs, 0, false, now, at, out);
    }
  }

  private v9OptionsSet(buf: Buffer, p: number, end: number, ctx: PacketContext, now: number, out: DecodeOutcome): void {
    while (end - p >= 6) {
      const id = buf.readUInt16BE(p);
      const scopeBytes = buf.readUInt16BE(p + 2);
      const optionBytes = buf.readUInt16BE(p + 4);
      if (id === 0 && allZero(buf, p, end)) return; // padding
      const at = p;
      p += 6;
      if (scopeBytes % 4 !== 0 || optionBytes % 4 !== 0) {
        this.invalid(out, `v9 options template ${id} at byte ${at}: scope (${scopeBytes}) and option (${optionBytes}) lengths must be multiples of 4`, at);
        return;
      }
      if (p + scopeBytes + optionBytes > end) {
        out.errors.push(new NetflowError('NETFLOW_MALFORMED', `v9 options template ${id} at byte ${at} overruns its flowset`, at));
        return;
      }
      const specs: FieldSpec[] = [];
      for (let q = p; q < p + scopeBytes + optionBytes; q += 4) specs.push({ id: buf.readUInt16BE(q), length: buf.readUInt16BE(q + 2), pen: 0 });
      p += scopeBytes + optionBytes;
      this.learn(ctx, id, specs, scopeBytes / 4, true, now, at, out);
    }
  }

  private ipfixOptionsSet(buf: Buffer, p: number, end: number, ctx: PacketContext, now: number, out: DecodeOutcome): void {
    while (end - p >= 4) {
      const id = buf.readUInt16BE(p);
      const count = buf.readUInt16BE(p + 2);
      if (id === 0 && count === 0 && allZero(buf, p, end)) return; // padding
      const at = p;
      if (count === 0) {
        p += 4;
        this.withdraw(ctx, id, 3);
        out.templates++;
        continue;
      }
      if (end - p < 6) {
        out.errors.push(new NetflowError('NETFLOW_MALFORMED', `options template ${id} at byte ${at} is cut short`, at));
        return;
      }
      const scopeCount = buf.readUInt16BE(p + 4);
      p += 6;
      const fields = this.readFieldSpecs(buf, p, end, count, true);
      if (fields === undefined) {
        out.errors.push(new NetflowError('NETFLOW_MALFORMED', `options template ${id} at byte ${at} announces ${count} fields that overrun its set`, at));
        return;
      }
      p = fields.next;
      if (scopeCount === 0 || scopeCount > count) {
        this.invalid(out, `options template ${id} at byte ${at}: scope field count ${scopeCount} must be 1..${count}`, at);
        continue;
      }
      this.learn(ctx, id, fields.specs, scopeCount, true, now, at, out);
    }
  }

  private readFieldSpecs(buf: Buffer, p: number, end: number, count: number, ipfix: boolean): { specs: FieldSpec[]; next: number } | undefined {
    const specs: FieldSpec[] = [];
    for (let i = 0; i < count; i++) {
      if (end - p < 4) return undefined;
      const raw = buf.readUInt16BE(p);
      const length = buf.readUInt16BE(p + 2);
      p += 4;
      if (ipfix && raw & 0x8000) {
        if (end - p < 4) return undefined;
        specs.push({ id: raw & 0x7fff, length, pen: buf.readUInt32BE(p) });
        p += 4;
      } else {
        specs.push({ id: raw, length, pen: 0 });
      }
    }
    return { specs, next: p };
  }

  private learn(ctx: PacketContext, id: number, fields: FieldSpec[], scopeCount: number, options: boolean, now: number, at: number, out: DecodeOutcome): void {
    if (id < 256) {
      this.invalid(out, `template id ${id} at byte ${at} is below 256`, at);
      return;
    }
    let minRecordLength = 0;
    for (const f of fields) minRecordLength += f.length === VARIABLE ? 1 : f.length;
    if (minRecordLength === 0) {
      this.invalid(out, `template ${id} at byte ${at} describes records of zero length`, at);
      return;
    }
    const key = `${ctx.statePrefix}|${id}`;
    this.templates.delete(key); // re-insert: the map stays ordered by last (re-)send
    this.templates.set(key, { id, fields, scopeCount, options, minRecordLength, learnedAt: now });
    if (this.templates.size > this.maxTemplates) {
      const oldest = this.templates.keys().next().value;
      if (oldest !== undefined) this.templates.delete(oldest);
    }
    out.templates++;
    if (this.pending.length > 0) this.release(key, out);
  }

  /** IPFIX withdrawal: a template id, or every template of the set's kind when the id is the set id. */
  private withdraw(ctx: PacketContext, id: number, setId: 2 | 3): void {
    if (id !== setId) {
      this.templates.delete(`${ctx.statePrefix}|${id}`);
      return;
    }
    const prefix = `${ctx.statePrefix}|`;
    for (const [key, template] of this.templates) {
      if (key.startsWith(prefix) && template.options === (setId === 3)) this.templates.delete(key);
    }
  }

  private lookup(key: string, now: number): Template | undefined {
    const template = this.templates.get(key);
    if (template === undefined) return undefined;
    if (now - template.learnedAt > this.templateTtlMs) {
      this.templates.delete(key);
      return undefined;
    }
    return template;
  }

  // ---------------------------------------------------------------- pending data sets

  private release(key: string, out: DecodeOutcome): void {
    const waiting = this.pending.filter((p) => p.key === key);
    if (waiting.length === 0) return;
    this.pending = this.pending.filter((p) => p.key !== key);
    const template = this.templates.get(key) as Template;
    for (const p of waiting) {
      this.pendingBytes -= p.packet.length;
      this.decodeRecords(p.packet, p.start, p.end, template, p.ctx, out);
    }
  }

  private enqueue(entry: PendingSet, out: DecodeOutcome): void {
    this.pending.push(entry);
    this.pendingBytes += entry.packet.length;
    const evicted: PendingSet[] = [];
    while (this.pending.length > this.pendingMaxSets || (this.pendingBytes > this.pendingMaxBytes && this.pending.length > 1)) {
      const oldest = this.pending.shift() as PendingSet;
      this.pendingBytes -= oldest.packet.length;
      evicted.push(oldest);
    }
    if (evicted.length > 0) this.giveUp(evicted, 'the pending buffer is full', out.expired);
  }

  private expireInto(now: number, expired: ExpiredPacket[]): void {
    if (this.pending.length > 0) {
      const stale = this.pending.filter((p) => now - p.arrivedAt > this.pendingMaxAgeMs);
      if (stale.length > 0) {
        this.pending = this.pending.filter((p) => now - p.arrivedAt <= this.pendingMaxAgeMs);
        for (const p of stale) this.pendingBytes -= p.packet.length;
        this.giveUp(stale, `no template within ${this.pendingMaxAgeMs} ms`, expired);
      }
    }
    // Templates are ordered by last (re-)send: expired ones are at the front.
    for (const [key, template] of this.templates) {
      if (now - template.learnedAt <= this.templateTtlMs) break;
      this.templates.delete(key);
    }
  }

  private giveUp(sets: PendingSet[], why: string, expired: ExpiredPacket[]): void {
    const byPacket = new Map<Buffer, { exporter: string; ids: Set<number>; count: number }>();
    for (const s of sets) {
      let entry = byPacket.get(s.packet);
      if (entry === undefined) {
        entry = { exporter: s.ctx.exporter, ids: new Set(), count: 0 };
        byPacket.set(s.packet, entry);
      }
      entry.ids.add(Number(s.key.slice(s.key.lastIndexOf('|') + 1)));
      entry.count++;
    }
    for (const [packet, entry] of byPacket) {
      const code: NetflowErrorCode = 'NETFLOW_TEMPLATE_MISSING';
      const ids = [...entry.ids].join(', ');
      expired.push({ exporter: entry.exporter, packet, sets: entry.count, error: new NetflowError(code, `data set(s) for template ${ids} from ${entry.exporter} dropped: ${why}`) });
    }
  }

  // ---------------------------------------------------------------- data

  private dataSet(buf: Buffer, start: number, end: number, setId: number, ctx: PacketContext, now: number, out: DecodeOutcome): void {
    const key = `${ctx.statePrefix}|${setId}`;
    const template = this.lookup(key, now);
    if (template === undefined) {
      if (end > start) {
        out.pending++;
        this.enqueue({ key, ctx, packet: buf, start, end, arrivedAt: now }, out);
      }
      return;
    }
    this.decodeRecords(buf, start, end, template, ctx, out);
  }

  private decodeRecords(buf: Buffer, start: number, end: number, template: Template, ctx: PacketContext, out: DecodeOutcome): void {
    let p = start;
    while (end - p >= template.minRecordLength) {
      const next = template.options ? this.optionsRecord(buf, p, end, template, ctx) : this.flowRecord(buf, p, end, template, ctx, out);
      if (next < 0) {
        out.errors.push(new NetflowError('NETFLOW_MALFORMED', `record of template ${template.id} at byte ${p} overruns its set`, p));
        return;
      }
      if (template.options) out.optionsRecords++;
      p = next;
    }
  }

  /** Length of the field at `p` and where its value starts, or undefined when it overruns `end`. */
  private static fieldExtent(buf: Buffer, p: number, end: number, length: number): { start: number; length: number } | undefined {
    if (length !== VARIABLE) return p + length <= end ? { start: p, length } : undefined;
    if (p >= end) return undefined;
    let len = buf[p] as number;
    let start = p + 1;
    if (len === 255) {
      if (start + 2 > end) return undefined;
      len = buf.readUInt16BE(start);
      start += 2;
    }
    return start + len <= end ? { start, length: len } : undefined;
  }

  private state(prefix: string): ExporterState {
    let s = this.exporters.get(prefix);
    if (s === undefined) {
      s = { samplingInterval: undefined, samplers: new Map(), systemInitMs: undefined };
      this.exporters.set(prefix, s);
      if (this.exporters.size > this.maxExporters) {
        const oldest = this.exporters.keys().next().value;
        if (oldest !== undefined) this.exporters.delete(oldest);
      }
    }
    return s;
  }

  /** Options data: keeps sampling and system init time per exporter/domain; returns the next offset or -1. */
  private optionsRecord(buf: Buffer, p: number, end: number, template: Template, ctx: PacketContext): number {
    let interval: number | undefined;
    let packetSpace: number | undefined;
    let samplerId: number | undefined;
    let systemInit: number | undefined;
    const ipfix = ctx.version === 10;
    for (let i = 0; i < template.fields.length; i++) {
      const f = template.fields[i] as FieldSpec;
      const extent = NetflowDecoder.fieldExtent(buf, p, end, f.length);
      if (extent === undefined) return -1;
      p = extent.start + extent.length;
      // v9 scope fields are scope types (1 = system, 2 = interface, ...), not field types.
      if (f.pen !== 0 || extent.length === 0 || extent.length > 8 || (!ipfix && i < template.scopeCount)) continue;
      const value = readUnsigned(buf, extent.start, extent.length);
      if (f.id === 34 || f.id === 50 || f.id === 305) interval = value;
      else if (f.id === 306) packetSpace = value;
      else if (f.id === 48 || f.id === 302) samplerId = value;
      else if (f.id === 160) systemInit = value;
    }
    const s = this.state(ctx.statePrefix);
    if (systemInit !== undefined) s.systemInitMs = systemInit;
    if (interval !== undefined && interval > 0) {
      const rate = packetSpace !== undefined ? Math.round((interval + packetSpace) / interval) : interval;
      if (samplerId !== undefined && s.samplers.size < 256) s.samplers.set(samplerId, rate);
      else if (samplerId !== undefined && s.samplers.has(samplerId)) s.samplers.set(samplerId, rate);
      else s.samplingInterval = rate;
    }
    return p;
  }

  private flowRecord(buf: Buffer, p: number, end: number, template: Template, ctx: PacketContext, out: DecodeOutcome): number {
    const v9 = ctx.version === 9;
    const fields: Record<string, string | number> = {};
    let fieldCount = 0;
    let truncated = 0;
    let srcV4: string | undefined;
    let srcV6: string | undefined;
    let dstV4: string | undefined;
    let dstV6: string | undefined;
    let srcPort: number | undefined;
    let dstPort: number | undefined;
    let altSrcPort: number | undefined;
    let altDstPort: number | undefined;
    let protocol = 0;
    let tcpFlags = 0;
    let inputIf = 0;
    let outputIf = 0;
    let direction: number | undefined;
    let icmpTypeCode: number | undefined;
    let icmpType: number | undefined;
    let icmpCode: number | undefined;
    let samplerId: number | undefined;
    let samplingInterval: number | undefined;
    // Counters in order of preference: delta, total, initiator (ASA), post (v9 OUT_*).
    const bytes: (number | undefined)[] = [undefined, undefined, undefined, undefined];
    const packets: (number | undefined)[] = [undefined, undefined, undefined, undefined];
    let startMs: number | undefined;
    let endMs: number | undefined;
    let startUp: number | undefined;
    let endUp: number | undefined;
    let startDeltaUs: number | undefined;
    let endDeltaUs: number | undefined;
    let systemInit: number | undefined;

    for (const f of template.fields) {
      const extent = NetflowDecoder.fieldExtent(buf, p, end, f.length);
      if (extent === undefined) return -1;
      const { start: o, length: len } = extent;
      p = o + len;
      if (len === 0) continue;
      const ie = informationElement(f.id, f.pen, v9);
      const numeric = len <= 8 && (ie === undefined || ie.type === 'u');
      const n = numeric ? readUnsigned(buf, o, len) : 0;
      let mapped = true;
      if (f.pen === 0) {
        switch (f.id) {
          case 1: bytes[0] = n; break;
          case 85: bytes[1] = n; break;
          case 231: bytes[2] = n; break;
          case 23: bytes[3] = n; break;
          case 2: packets[0] = n; break;
          case 86: packets[1] = n; break;
          case 298: packets[2] = n; break;
          case 24: packets[3] = n; break;
          case 4: protocol = n; break;
          case 6: tcpFlags = n & 0xffff; break;
          case 7: srcPort = n; break;
          case 11: dstPort = n; break;
          case 180: case 182: altSrcPort = n; mapped = false; break;
          case 181: case 183: altDstPort = n; mapped = false; break;
          case 8: if (len === 4) srcV4 = ipv4(buf, o); else mapped = false; break;
          case 12: if (len === 4) dstV4 = ipv4(buf, o); else mapped = false; break;
          case 27: if (len === 16) srcV6 = ipv6(buf, o); else mapped = false; break;
          case 28: if (len === 16) dstV6 = ipv6(buf, o); else mapped = false; break;
          case 10: inputIf = n; break;
          case 14: outputIf = n; break;
          case 61: direction = n; break;
          case 32: case 139: icmpTypeCode = n; mapped = false; break;
          case 176: case 178: icmpType = n; mapped = false; break;
          case 177: case 179: icmpCode = n; mapped = false; break;
          case 48: case 302: samplerId = n; mapped = false; break;
          case 34: case 50: case 305: samplingInterval = n; mapped = false; break;
          case 21: endUp = n; break;
          case 22: startUp = n; break;
          case 150: startMs = n * 1000; break;
          case 151: endMs = n * 1000; break;
          case 152: startMs = n; break;
          case 153: endMs = n; break;
          case 154: case 156: if (len === 8) startMs = ntpToMs(buf, o); else mapped = false; break;
          case 155: case 157: if (len === 8) endMs = ntpToMs(buf, o); else mapped = false; break;
          case 158: startDeltaUs = n; break;
          case 159: endDeltaUs = n; break;
          case 160: systemInit = n; mapped = false; break;
          default: mapped = false;
        }
        if (mapped && !numeric && f.id !== 8 && f.id !== 12 && f.id !== 27 && f.id !== 28 && !(f.id >= 154 && f.id <= 157)) mapped = false;
      } else {
        mapped = false;
      }
      if (mapped) continue;
      if (fieldCount >= this.maxFields) {
        truncated++;
        continue;
      }
      const name = ie?.name ?? `${f.pen}.${f.id}`;
      if (fields[name] === undefined) fieldCount++;
      fields[name] = this.fieldValue(buf, o, len, ie?.type ?? 'bytes');
    }
    if (truncated > 0) fields['_truncated'] = truncated;

    const state = this.exporters.get(ctx.statePrefix);
    const initMs = systemInit ?? state?.systemInitMs;
    const fromUptime = (value: number): number =>
      ctx.uptimeMs >= 0 ? uptimeToMs(ctx.exportMs, ctx.uptimeMs, value) : initMs !== undefined ? initMs + value : ctx.exportMs;
    if (startMs === undefined) {
      if (startUp !== undefined) startMs = fromUptime(startUp);
      else if (startDeltaUs !== undefined) startMs = ctx.exportMs - Math.floor(startDeltaUs / 1000);
    }
    if (endMs === undefined) {
      if (endUp !== undefined) endMs = fromUptime(endUp);
      else if (endDeltaUs !== undefined) endMs = ctx.exportMs - Math.floor(endDeltaUs / 1000);
    }
    startMs ??= endMs ?? ctx.exportMs;
    endMs ??= Math.max(startMs, ctx.exportMs);

    srcPort ??= altSrcPort ?? 0;
    dstPort ??= altDstPort ?? 0;
    if (isIcmp(protocol)) [srcPort, dstPort] = icmpPorts(srcPort & 0xffff, dstPort & 0xffff, icmpTypeCode, icmpType, icmpCode);
    const record: FlowRecord = {
      exporter: ctx.exporter,
      observation_domain: ctx.domain,
      version: ctx.version,
      template_id: template.id,
      start_ms: startMs,
      end_ms: endMs,
      src_ip: srcV4 !== undefined && (srcV6 === undefined || srcV4 !== '0.0.0.0') ? srcV4 : srcV6 ?? null,
      dst_ip: dstV4 !== undefined && (dstV6 === undefined || dstV4 !== '0.0.0.0') ? dstV4 : dstV6 ?? null,
      src_port: srcPort & 0xffff,
      dst_port: dstPort & 0xffff,
      protocol,
      bytes: firstCount(bytes),
      packets: firstCount(packets),
      tcp_flags: tcpFlags,
      input_if: inputIf,
      output_if: outputIf,
      fields,
    };
    if (direction === 0) record.direction = 'ingress';
    else if (direction === 1) record.direction = 'egress';
    const sampling = samplingInterval ?? (samplerId !== undefined ? state?.samplers.get(samplerId) : undefined) ?? state?.samplingInterval;
    if (sampling !== undefined && sampling > 0) record.sampling_interval = sampling;
    out.records.push(record);
    return p;
  }

  private fieldValue(buf: Buffer, o: number, len: number, type: string): string | number {
    switch (type) {
      case 'u':
        if (len <= 8) return readUnsignedExact(buf, o, len);
        break;
      case 'ipv4':
        if (len === 4) return ipv4(buf, o);
        break;
      case 'ipv6':
        if (len === 16) return ipv6(buf, o);
        break;
      case 'mac':
        if (len === 6) return mac(buf, o);
        break;
      case 'ntp':
        if (len === 8) return ntpToMs(buf, o);
        break;
      case 'string': {
        let stop = o + Math.min(len, this.maxValueBytes);
        while (stop > o && buf[stop - 1] === 0) stop--;
        return buf.toString('utf8', o, stop);
      }
    }
    return buf.toString('hex', o, o + Math.min(len, this.maxValueBytes));
  }
}
