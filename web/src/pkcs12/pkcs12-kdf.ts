import { concatBytes, type Bytes } from './bytes.ts';

/** The PKCS#12 key-derivation function, RFC 7292 appendix B.2. */

export type Pkcs12KdfHash = 'SHA-1' | 'SHA-256';

/** The "ID" byte of appendix B.3: what the derived bytes are for. */
export const KDF_ID = { key: 1, iv: 2, mac: 3 } as const;
export type KdfId = (typeof KDF_ID)[keyof typeof KDF_ID];

/** u = output size of the hash, v = its block size, both in bytes. */
export const KDF_HASH_SIZES: Record<Pkcs12KdfHash, { u: number; v: number }> = {
  'SHA-1': { u: 20, v: 64 },
  'SHA-256': { u: 32, v: 64 },
};

/** Repeats `src` to fill v * ceil(len / v) bytes (empty stays empty). */
function repeatToBlocks(src: Uint8Array, v: number): Bytes {
  const out = new Uint8Array(v * Math.ceil(src.length / v));
  for (let i = 0; i < out.length; i++) out[i] = src[i % src.length] ?? 0;
  return out;
}

/**
 * @param passwordBmp the password already encoded with `bmpPassword` (BMPString + 0x0000)
 * @param length      number of bytes to derive
 */
export async function pkcs12Kdf(
  hash: Pkcs12KdfHash,
  passwordBmp: Uint8Array,
  salt: Uint8Array,
  id: KdfId,
  iterations: number,
  length: number,
): Promise<Bytes> {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('PKCS#12 KDF: iterations must be >= 1');
  const subtle = globalThis.crypto.subtle;
  const { u, v } = KDF_HASH_SIZES[hash];
  const D = new Uint8Array(v).fill(id);
  const I = concatBytes(repeatToBlocks(salt, v), repeatToBlocks(passwordBmp, v));
  const blocks = Math.ceil(length / u);
  const out = new Uint8Array(blocks * u);

  for (let i = 0; i < blocks; i++) {
    let A = new Uint8Array(await subtle.digest(hash, concatBytes(D, I)));
    for (let r = 1; r < iterations; r++) A = new Uint8Array(await subtle.digest(hash, A));
    out.set(A, i * u);
    if (i + 1 === blocks) break;
    // Step 6: B = A repeated to v bytes; every v-byte block I_j of I becomes (I_j + B + 1) mod 2^(8v).
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (I[j + k] ?? 0) + (A[k % u] ?? 0) + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return out.slice(0, length);
}
