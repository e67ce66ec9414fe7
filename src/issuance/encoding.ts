import { sha256Hex } from './bytes.ts';

export function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Lowercase hex SHA-256 of the DER, no separators (the stored form). */
export function fingerprintSha256Hex(der: Uint8Array): string {
  return sha256Hex(der);
}

/** "ab12…" → "AB:12:…" (the display form). */
export function formatFingerprintColons(hex: string): string {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new Error('formatFingerprintColons: expected an even-length hex string');
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}
