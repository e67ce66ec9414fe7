// Speed and memory targets for the hot paths. Prints one line per measurement; no assertions.

import { performance } from 'node:perf_hooks';
import { checkCsr } from '../src/enrolment/csr.ts';
import { createCaCertificate, issueLeafCertificate } from '../src/issuance/certificate.ts';
import { buildCrl } from '../src/issuance/crl.ts';
import { newSerial } from '../src/issuance/serial.ts';
import { FileSigner, generateCaKeyPair } from '../src/issuance/signer.ts';
import { renderEximAllowlist, renderPostfixAllowlist } from '../src/publishers/allowlists.ts';
import type { ActiveCertificate } from '../src/store/index.ts';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

async function time<T>(label: string, fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(48)} ${ms.toFixed(1).padStart(9)} ms`);
  return { ms, value };
}

const signer = new FileSigner(generateCaKeyPair('P-256').privateKey);
const now = new Date();
const notAfter = new Date(now.getTime() + 3650 * 86400_000);
const ca = await createCaCertificate({ signer, commonName: 'bench CA', serial: newSerial(), notBefore: now, notAfter });

// Full issuance: CSR parse + proof of possession + build + sign.
const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=bench', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
const csrPem = csr.toString('pem');
const N = 1000;
const { ms } = await time(`issue ${N} certificates (CSR check + sign)`, async () => {
  for (let i = 0; i < N; i++) {
    const checked = await checkCsr(csrPem);
    await issueLeafCertificate({ signer, caCertificateDer: ca.der, email: `user${i}@example.test`, subjectPublicKeySpki: checked.subjectPublicKeySpki, serial: newSerial(), notBefore: now, notAfter: new Date(now.getTime() + 365 * 86400_000) });
  }
});
console.log(`  → ${(N / (ms / 1000)).toFixed(0)} issuances/s`);

// CRL building must be linear in its entries.
for (const n of [1_000, 10_000, 100_000]) {
  const entries = Array.from({ length: n }, () => ({ serial: newSerial(), revokedAt: now, reason: 'keyCompromise' as const }));
  const { value } = await time(`CRL with ${n} entries`, () => buildCrl({ signer, caCertificateDer: ca.der, crlNumber: 1n, thisUpdate: now, nextUpdate: notAfter, entries }));
  console.log(`  → ${(value.der.length / 1024).toFixed(0)} KiB`);
}

// Allow-list rendering.
for (const n of [10_000, 100_000]) {
  const certs: ActiveCertificate[] = Array.from({ length: n }, (_, i) => ({ serial: newSerial(), email: `user${i}@example.test`, subject: `CN=user${i}@example.test`, fingerprintSha256: newSerial() + newSerial(), notAfter }));
  await time(`postfix allow-list, ${n} entries`, () => renderPostfixAllowlist(certs));
  await time(`exim allow-list, ${n} entries`, () => renderEximAllowlist(certs));
}
console.log(`heap used: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
