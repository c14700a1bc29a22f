/**
 * SHA-1 (FIPS 180-4) of a message that fits one 64-byte block (at most 55 bytes), as the Community
 * ID text: `1:` + base64 of the digest, built as one flat string. Community ID hashes 14 bytes
 * (IPv4) or 38 (IPv6) per event. `crypto.hash('sha1', tuple, 'base64')` costs about what this
 * compression costs (~0.6 µs each on the bench machine: the call and digest set-up, not the one
 * block), but `1:${...}` of its result is a concatenation the Avro writer then has to flatten: id +
 * string write measured 1.15 -> 0.95 µs per event (same process, interleaved, load ~3.5). Held to
 * node:crypto over random messages of every length (sha1.test.ts).
 */

/** The message schedule, reused. */
const W = new Int32Array(80);

/** Base64 alphabet as char codes. */
const B64 = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', (c) => c.charCodeAt(0));

/** Longest message of one block: 64 bytes less the 0x80 marker and the 8-byte length. */
export const SHA1_ONE_BLOCK_MAX = 55;

/** `1:` + base64(SHA-1(`message[0, length)`)); throws when the message does not fit one block. */
export function communityIdText(message: Uint8Array, length: number = message.length): string {
  if (length > SHA1_ONE_BLOCK_MAX || length < 0 || length > message.length) throw new RangeError(`one-block SHA-1 takes at most ${SHA1_ONE_BLOCK_MAX} bytes, not ${length}`);
  const w = W;
  for (let i = 0; i < 16; i++) w[i] = 0;
  for (let i = 0; i < length; i++) w[i >> 2]! |= (message[i] as number) << (24 - 8 * (i & 3));
  w[length >> 2]! |= 0x80 << (24 - 8 * (length & 3));
  w[15] = length * 8;
  for (let i = 16; i < 80; i++) {
    const x = (w[i - 3] as number) ^ (w[i - 8] as number) ^ (w[i - 14] as number) ^ (w[i - 16] as number);
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301;
  let b = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  let e = 0xc3d2e1f0 | 0;
  let t = 0;
  for (let i = 0; i < 20; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  const h0 = (a + 0x67452301) | 0;
  const h1 = (b + (0xefcdab89 | 0)) | 0;
  const h2 = (c + (0x98badcfe | 0)) | 0;
  const h3 = (d + 0x10325476) | 0;
  const h4 = (e + (0xc3d2e1f0 | 0)) | 0;
  // 160 bits as 26 full six-bit digits, then the last 4 bits padded to a digit, then '='. Digit k
  // covers bits [6k, 6k + 6) of the big-endian digest; `six` reads them across word boundaries.
  return String.fromCharCode(
    0x31, 0x3a,
    six(h0, h1, 0), six(h0, h1, 6), six(h0, h1, 12), six(h0, h1, 18), six(h0, h1, 24), six(h0, h1, 30),
    six(h1, h2, 4), six(h1, h2, 10), six(h1, h2, 16), six(h1, h2, 22), six(h1, h2, 28),
    six(h2, h3, 2), six(h2, h3, 8), six(h2, h3, 14), six(h2, h3, 20), six(h2, h3, 26),
    six(h3, h4, 0), six(h3, h4, 6), six(h3, h4, 12), six(h3, h4, 18), six(h3, h4, 24), six(h3, h4, 30),
    six(h4, 0, 4), six(h4, 0, 10), six(h4, 0, 16), six(h4, 0, 22), six(h4, 0, 28),
    0x3d,
  );
}

/**
 * The base64 digit of the six bits starting `at` bits into `hi` (0 = its top bit), continuing into
 * `lo` when they cross the word's end (lo = 0 past the digest: base64's zero padding).
 */
function six(hi: number, lo: number, at: number): number {
  const bits = at <= 26 ? (hi >>> (26 - at)) & 63 : ((hi << (at - 26)) | (lo >>> (58 - at))) & 63;
  return B64[bits] as number;
}
