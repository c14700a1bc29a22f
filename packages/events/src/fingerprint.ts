/**
 * CRC-64-AVRO (Rabin) fingerprint, as specified in the Avro specification ("Schema Fingerprints").
 * Used only when schemas load, so BigInt's cost does not matter.
 */
const EMPTY = 0xc15d213aa4d7a795n;

const TABLE: bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    table.push(fp & 0xffffffffffffffffn);
  }
  return table;
})();

/** The 64-bit Rabin fingerprint of `bytes` (a schema's Parsing Canonical Form, UTF-8). */
export function crc64Avro(bytes: Uint8Array | string): bigint {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let fp = EMPTY;
  for (const byte of data) {
    fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] as bigint);
  }
  return fp;
}

/** The fingerprint as it appears in single-object encoding: 8 bytes, little-endian. */
export function crc64AvroLE(bytes: Uint8Array | string): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64Avro(bytes));
  return out;
}
