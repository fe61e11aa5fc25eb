/**
 * SHA-256 (FIPS 180-4) of a string's UTF-8 bytes, in plain TypeScript so the sweep layer
 * runs in a browser too; and the canonical JSON it hashes (keys sorted at every level).
 */

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

const encoder = new TextEncoder();
/** Scratch for the padded message, grown as needed (a sweep hashes every point). */
let msg = new Uint8Array(256);

/** A big-endian 32-bit word of `msg`. */
const word = (at: number) =>
  ((msg[at]! << 24) | (msg[at + 1]! << 16) | (msg[at + 2]! << 8) | msg[at + 3]!) >>> 0;

/**
 * The padded message in `msg`: the bytes, 0x80, zeros, the bit length as 64 bits
 * big-endian. Returns its length.
 */
function pad(text: string): number {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const room = Math.ceil((text.length * 3 + 9) / 64) * 64;
  if (msg.length < room) msg = new Uint8Array(room);
  const n = encoder.encodeInto(text, msg).written;
  const len = Math.ceil((n + 9) / 64) * 64;
  msg.fill(0, n, len);
  msg[n] = 0x80;
  const bits = n * 8;
  const hi = Math.floor(bits / 2 ** 32);
  const lo = bits >>> 0;
  for (let i = 0; i < 4; i++) {
    msg[len - 8 + i] = (hi >>> (24 - 8 * i)) & 0xff;
    msg[len - 4 + i] = (lo >>> (24 - 8 * i)) & 0xff;
  }
  return len;
}

/** The initial hash value (FIPS 180-4 5.3.3). */
const H0 = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
/** Scratch: the hash state and the message schedule (each call starts them afresh). */
const h = new Uint32Array(8);
const w = new Uint32Array(64);

/** Lowercase hex SHA-256 of `text`. */
export function sha256Hex(text: string): string {
  const len = pad(text);
  h.set(H0);
  for (let off = 0; off < len; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = word(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const t1 =
        (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) >>>
        0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  let hex = "";
  for (let i = 0; i < 8; i++) hex += h[i]!.toString(16).padStart(8, "0");
  return hex;
}

/** JSON with the keys of every mapping sorted: equal data, equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** The short hash sweeps record: the first 16 hex digits of the SHA-256 of canonical JSON. */
export function shortHash(v: unknown): string {
  return sha256Hex(canonicalJson(v)).slice(0, 16);
}
