import { parseCidr } from '@mamori/inventory';

/**
 * A minimal MaxMind DB (MMDB v2) writer for tests: an IPv6 search tree with 24-bit records, IPv4
 * networks under ::/96 (where readers look for them), a data section of maps/strings/uint32, and the
 * metadata after the `\xAB\xCD\xEFMaxMind.com` marker. Enough to make real `.mmdb` files for the
 * GeoIP enrichment without shipping or downloading a database.
 */
type Value = string | number | boolean | Value[] | { [key: string]: Value };

function ctrl(type: number, size: number): Buffer {
  const ext = type > 7;
  const head = (ext ? 0 : type << 5);
  let sizeBytes: number[] = [];
  let sizeField: number;
  if (size < 29) sizeField = size;
  else if (size < 285) {
    sizeField = 29;
    sizeBytes = [size - 29];
  } else if (size < 65821) {
    sizeField = 30;
    const s = size - 285;
    sizeBytes = [s >> 8, s & 255];
  } else {
    sizeField = 31;
    const s = size - 65821;
    sizeBytes = [(s >> 16) & 255, (s >> 8) & 255, s & 255];
  }
  return Buffer.from([head | sizeField, ...(ext ? [type - 7] : []), ...sizeBytes]);
}

function uint(type: number, n: number | bigint): Buffer {
  const bytes: number[] = [];
  let v = BigInt(n);
  while (v > 0n) {
    bytes.unshift(Number(v & 255n));
    v >>= 8n;
  }
  return Buffer.concat([ctrl(type, bytes.length), Buffer.from(bytes)]);
}

export function encodeValue(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([ctrl(2, b.length), b]);
  }
  if (typeof v === 'boolean') return ctrl(14, v ? 1 : 0);
  if (typeof v === 'number') return uint(6, v);
  if (Array.isArray(v)) return Buffer.concat([ctrl(11, v.length), ...v.map(encodeValue)]);
  const entries = Object.entries(v);
  return Buffer.concat([ctrl(7, entries.length), ...entries.flatMap(([k, x]) => [encodeValue(k), encodeValue(x)])]);
}

interface Node {
  children: [Node | number | undefined, Node | number | undefined];
}

/** Builds an MMDB file holding `records` (CIDR → data). Networks must not overlap. */
export function buildMmdb(records: { network: string; data: Value }[], databaseType = 'Mamori-Test'): Buffer {
  const root: Node = { children: [undefined, undefined] };
  const data: Buffer[] = [];
  let dataSize = 0;
  for (const { network, data: value } of records) {
    const cidr = parseCidr(network);
    if (typeof cidr === 'string') throw new Error(cidr);
    const bits: number[] = [];
    if (cidr.version === 4) for (let i = 0; i < 96; i++) bits.push(0);
    for (let i = 0; i < cidr.prefixLength; i++) bits.push((cidr.bytes[i >> 3]! >> (7 - (i & 7))) & 1);
    const encoded = encodeValue(value);
    const offset = dataSize;
    data.push(encoded);
    dataSize += encoded.length;
    let node = root;
    for (let i = 0; i < bits.length - 1; i++) {
      const b = bits[i] as 0 | 1;
      let next = node.children[b];
      if (typeof next !== 'object') node.children[b] = next = { children: [undefined, undefined] };
      node = next;
    }
    node.children[bits[bits.length - 1] as 0 | 1] = offset; // a number: a data offset
  }
  // Number nodes breadth-first.
  const nodes: Node[] = [];
  const queue: Node[] = [root];
  while (queue.length) {
    const n = queue.shift()!;
    nodes.push(n);
    for (const c of n.children) if (typeof c === 'object') queue.push(c);
  }
  const index = new Map(nodes.map((n, i) => [n, i]));
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach((n, i) => {
    n.children.forEach((c, side) => {
      const value = c === undefined ? nodeCount : typeof c === 'number' ? nodeCount + 16 + c : index.get(c)!;
      tree.writeUIntBE(value, i * 6 + side * 3, 3);
    });
  });
  const metadata = encodeValue({
    node_count: nodeCount,
    record_size: 24,
    ip_version: 6,
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_700_000_000,
    description: { en: 'test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}
