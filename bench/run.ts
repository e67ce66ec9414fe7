// Speed and memory targets for the hot paths. Prints one line per measurement; no assertions.

import { performance } from 'node:perf_hooks';
import { checkCsr } from '../src/enrolment/csr.ts';
import { createCaCertificate, issueLeafCertificate } from '../src/issuance/certificate.ts';
import { buildCrl } from '../src/issuance/crl.ts';
import { newSerial } from '../src/issuance/serial.ts';
import { FileSigner, generateCaKeyPair } from '../src/issuance/signer.ts';
import { renderAllowlist, type AllowlistEntry } from '../src/publishers/formats/index.ts';
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
  const certs: AllowlistEntry[] = Array.from({ length: n }, (_, i) => ({ serial: newSerial(), owner: `user${i}@example.test`, senders: [`user${i}@example.test`], migration: 'grace', subject: `CN=user${i}@example.test`, fingerprintSha256: newSerial() + newSerial(), spkiSha256: newSerial() + newSerial(), notAfter }));
  await time(`postfix allow-list, ${n} entries`, () => renderAllowlist('postfix', certs, { users: [], portalUrl: 'x' }));
  await time(`exim allow-list, ${n} entries`, () => renderAllowlist('exim', certs, { users: [], portalUrl: 'x' }));
}
console.log(`heap used: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);

// Allow-list requests on SQLite with many active certificates: what a long-polling MTA's re-check
// costs (the active-set token) against a full query and render.
{
  const { mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { Store } = await import('../src/store/index.ts');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-'));
  const store = await Store.open({ sqliteFile: path.join(dir, 'bench.sqlite') });
  const caRecord = await store.cas.insert({ name: 'bench', keyAlgorithm: 'P-256', certificatePem: ca.pem, encryptedKeyPem: '-', fingerprintSha256: newSerial() + newSerial(), notBefore: now, notAfter, status: 'active', createdAt: now });
  const user = await store.users.insert({ email: 'bench@example.test', displayName: null, isAdmin: false, passwordHash: null, createdAt: now });
  const n = 20_000;
  await time(`insert ${n} certificate rows (SQLite)`, () =>
    store.transaction(async (tx) => {
      for (let i = 0; i < n; i++) {
        await tx.certificates.insert({ serial: newSerial(), caId: caRecord.id, userId: user.id, email: `user${i}@example.test`, subject: `CN=user${i}@example.test`, fingerprintSha256: newSerial() + newSerial(), spkiSha256: newSerial() + newSerial(), notBefore: now, notAfter: new Date(now.getTime() + 86400_000), certificatePem: '-', deviceLabel: null, createdAt: now, revokedAt: null, revocationReason: null, renewalOf: null, renewedBy: null, supersedeAt: null });
      }
    }),
  );
  const later = new Date(now.getTime() + 1000);
  await time(`allow-list query, ${n} active`, async () => (await store.certificates.listActive(later)).length);
  await store.close();
}
