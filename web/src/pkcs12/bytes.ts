/** Small byte helpers. Everything returned is backed by a plain ArrayBuffer, as WebCrypto's BufferSource requires. */

export type Bytes = Uint8Array<ArrayBuffer>;

export function copyBytes(data: Uint8Array | ArrayBuffer): Bytes {
  return new Uint8Array(data instanceof ArrayBuffer ? data.slice(0) : data);
}

export function concatBytes(...parts: Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function randomBytes(length: number): Bytes {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/** RFC 7292 appendix B.1: the password as a big-endian BMPString including a two-byte NUL terminator. */
export function bmpPassword(password: string): Bytes {
  const out = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    // charCodeAt yields UTF-16 code units, so characters outside the BMP become surrogate pairs (as in OpenSSL and NSS).
    const unit = password.charCodeAt(i);
    out[2 * i] = unit >> 8;
    out[2 * i + 1] = unit & 0xff;
  }
  return out;
}
