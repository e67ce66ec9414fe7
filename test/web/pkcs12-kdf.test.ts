import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bmpPassword } from '../../web/src/pkcs12/bytes.ts';
import { KDF_ID, pkcs12Kdf, type KdfId, type Pkcs12KdfHash } from '../../web/src/pkcs12/pkcs12-kdf.ts';

// Oracle: OpenSSL 3's own PKCS12KDF (it takes the password bytes as given, so we pass the BMPString as hex).
function opensslKdf(hash: Pkcs12KdfHash, password: string, salt: Buffer, id: KdfId, iterations: number, length: number): string {
  const out = execFileSync('openssl', [
    'kdf', '-keylen', String(length),
    '-kdfopt', `digest:${hash.replace('-', '')}`,
    '-kdfopt', `hexpass:${Buffer.from(bmpPassword(password)).toString('hex')}`,
    '-kdfopt', `hexsalt:${salt.toString('hex')}`,
    '-kdfopt', `iter:${iterations}`,
    '-kdfopt', `id:${id}`,
    'PKCS12KDF',
  ], { encoding: 'utf8' });
  return out.trim().replaceAll(':', '').toLowerCase();
}

describe('RFC 7292 appendix B KDF', () => {
  const cases: Array<[Pkcs12KdfHash, string, KdfId, number, number]> = [
    ['SHA-1', 'pässwörd', KDF_ID.key, 2048, 24], // two output blocks: exercises the I_j += B + 1 step
    ['SHA-1', 'pässwörd', KDF_ID.iv, 2048, 8],
    ['SHA-1', '', KDF_ID.mac, 1, 20],
    ['SHA-256', 'a password longer than sixty-four bytes, to span several v-byte blocks 🔑', KDF_ID.mac, 2048, 32],
    ['SHA-256', '', KDF_ID.key, 3, 70],
  ];
  it.each(cases)('%s %j id %i x%i -> %i bytes matches OpenSSL', async (hash, password, id, iterations, length) => {
    const salt = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(20)));
    const ours = await pkcs12Kdf(hash, bmpPassword(password), salt, id, iterations, length);
    expect(Buffer.from(ours).toString('hex')).toBe(opensslKdf(hash, password, salt, id, iterations, length));
  });

  it('encodes the password as a big-endian BMPString with a NUL terminator', () => {
    expect(Buffer.from(bmpPassword('')).toString('hex')).toBe('0000');
    expect(Buffer.from(bmpPassword('ä🔑')).toString('hex')).toBe('00e4d83ddd110000');
  });
});
