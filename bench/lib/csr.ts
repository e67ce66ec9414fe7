// Bench-only: many distinct P-256 CSRs, made fast with node:crypto and a few bytes of hand-written DER
// (the load generator must not spend its time building requests).

import { generateKeyPairSync, sign } from 'node:crypto';

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const ECDSA_WITH_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex');
const OID_COMMON_NAME = Buffer.from('0603550403', 'hex');

/** A PKCS#10 request for a fresh P-256 key, subject CN=`commonName`, signed by that key. */
export function p256CsrPem(commonName: string): string {
  return p256KeyAndCsrPem(commonName).csrPem;
}

/** A fresh P-256 key (PKCS#8 PEM) and its PKCS#10 request, subject CN=`commonName`: for a client that presents the issued certificate. */
export function p256KeyAndCsrPem(commonName: string): { keyPem: string; csrPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, OID_COMMON_NAME, tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const info = tlv(0x30, Buffer.from([0x02, 0x01, 0x00]), subject, spki, Buffer.from([0xa0, 0x00]));
  const signature = sign('sha256', info, privateKey);
  const der = tlv(0x30, info, ECDSA_WITH_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  const csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), csrPem };
}

/** `n` distinct CSRs (distinct keys); callers cycle through them when they need more. */
export function csrPool(n: number, commonName = 'bench@example.test'): string[] {
  return Array.from({ length: n }, () => p256CsrPem(commonName));
}
