import { sha256Hex } from './bytes.ts';

export function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Lowercase hex SHA-256 of the DER, no separators (the stored form). */
export function fingerprintSha256Hex(der: Uint8Array): string {
  return sha256Hex(der);
}

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
}
const UPPER_HEX = Buffer.from('0123456789ABCDEF', 'latin1');
const colonScratch = Buffer.alloc(3 * 64);

/** "ab12…" → "AB:12:…" (the display form). Hot in list rendering: one pass into a scratch buffer. */
export function formatFingerprintColons(hex: string): string {
  const n = hex.length;
  if (n === 0 || n % 2 !== 0 || n > 128) {
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new Error('formatFingerprintColons: expected an even-length hex string');
    return (hex.toUpperCase().match(/../g) ?? []).join(':');
  }
  let o = 0;
  for (let i = 0; i < n; i += 2) {
    const hi = HEX_VALUE[hex.charCodeAt(i)] ?? -1;
    const lo = HEX_VALUE[hex.charCodeAt(i + 1)] ?? -1;
    if (hi < 0 || lo < 0) throw new Error('formatFingerprintColons: expected an even-length hex string');
    if (i > 0) colonScratch[o++] = 0x3a;
    colonScratch[o++] = UPPER_HEX[hi]!;
    colonScratch[o++] = UPPER_HEX[lo]!;
  }
  return colonScratch.toString('latin1', 0, o);
}
