// Builders of synthetic NetFlow v9 / IPFIX packets for the tests (not used at run time).

export type FieldDef = readonly [id: number, length: number, pen?: number];

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A set/flowset: id, length (header included), body padded to 4 bytes unless `pad` is false. */
export function set(id: number, body: Buffer, pad = true): Buffer {
  const padding = pad ? (4 - ((body.length + 4) % 4)) % 4 : 0;
  return Buffer.concat([u16(id), u16(4 + body.length + padding), body, Buffer.alloc(padding)]);
}

export function v9Packet(sets: Buffer[], header: { uptimeMs?: number; unixSecs?: number; sourceId?: number; count?: number } = {}): Buffer {
  return Buffer.concat([u16(9), u16(header.count ?? sets.length), u32(header.uptimeMs ?? 100_000), u32(header.unixSecs ?? 1_700_000_000), u32(1), u32(header.sourceId ?? 0), ...sets]);
}

export function ipfixPacket(sets: Buffer[], header: { exportSecs?: number; domain?: number } = {}): Buffer {
  const body = Buffer.concat(sets);
  return Buffer.concat([u16(10), u16(16 + body.length), u32(header.exportSecs ?? 1_700_000_000), u32(1), u32(header.domain ?? 0), body]);
}

/** One template record (v9 flowset 0 / IPFIX set 2 body). Enterprise fields get the bit and the PEN. */
export function templateRecord(id: number, fields: readonly FieldDef[]): Buffer {
  const parts = [u16(id), u16(fields.length)];
  for (const [fieldId, length, pen] of fields) {
    if (pen === undefined) parts.push(u16(fieldId), u16(length));
    else parts.push(u16(fieldId | 0x8000), u16(length), u32(pen));
  }
  return Buffer.concat(parts);
}

/** IPFIX options template record (set 3 body). */
export function ipfixOptionsTemplate(id: number, scopeCount: number, fields: readonly FieldDef[]): Buffer {
  const t = templateRecord(id, fields);
  return Buffer.concat([t.subarray(0, 4), u16(scopeCount), t.subarray(4)]);
}

/** Unsigned big-endian of `length` bytes. */
export function uint(value: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let v = BigInt(value);
  for (let i = length - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

export function ip(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

/** IPFIX variable-length encoding: 1 length byte, or 255 + 2 length bytes. */
export function varField(value: Buffer): Buffer {
  return value.length < 255 ? Buffer.concat([Buffer.from([value.length]), value]) : Buffer.concat([Buffer.from([255]), u16(value.length), value]);
}

/** A simple IPv4 flow template: src, dst, sport, dport, proto, bytes, packets, start/end uptime. */
export const FLOW_FIELDS: readonly FieldDef[] = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [1, 4], [2, 4], [22, 4], [21, 4]];

export function flowRow(src: string, dst: string, sport: number, dport: number, proto: number, bytes: number, packets: number, startUp: number, endUp: number): Buffer {
  return Buffer.concat([ip(src), ip(dst), uint(sport, 2), uint(dport, 2), uint(proto, 1), uint(bytes, 4), uint(packets, 4), uint(startUp, 4), uint(endUp, 4)]);
}
