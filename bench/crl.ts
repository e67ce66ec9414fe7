// 4. Building a CRL of 100,000 entries with mailca's CRL builder, next to `openssl ca -gencrl` over
// an index.txt of the same number of revoked entries (same key type, P-256; the whole process
// timed). Uses buildCrlFromEncodedEntries (entries encoded once with encodeCrlEntry at revocation,
// as stored) when src/issuance provides both, else buildCrl.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as crlModule from '../src/issuance/crl.ts';
import * as issuanceModule from '../src/issuance/index.ts';
import { createCaCertificate } from '../src/issuance/certificate.ts';
import { newSerial } from '../src/issuance/serial.ts';
import { FileSigner, generateCaKeyPair } from '../src/issuance/signer.ts';
import type { Measurement } from './lib/context.ts';
import { percentile } from './lib/http.ts';
import { errorText, notAvailable, row } from './lib/report.ts';

const M = 'crl';
const REASON = 'cessationOfOperation' as const;

/** YYMMDDHHMMSSZ, as openssl's index.txt writes times. */
const indexTime = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

function median(values: number[]): number {
  return percentile(values, 50);
}

/** Runs `fn` up to `rounds` times (fewer once `budgetMs` is spent) and returns the median time. */
async function timed(rounds: number, budgetMs: number, fn: () => Promise<unknown> | unknown): Promise<{ ms: number; rounds: number }> {
  const times: number[] = [];
  const start = performance.now();
  while (times.length < rounds && (times.length === 0 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), rounds: times.length };
}

function opensslCrlTime(dir: string, serials: string[], revokedAt: Date, rounds: number): { ms: number; rounds: number } {
  const key = path.join(dir, 'ca-key.pem');
  const cert = path.join(dir, 'ca.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=bench openssl CA', '-days', '3650', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'pipe' });
  const expiry = indexTime(new Date(Date.now() + 300 * 86_400_000));
  const revoked = `${indexTime(revokedAt)},${REASON}`;
  writeFileSync(path.join(dir, 'index.txt'), serials.map((s, i) => `R\t${expiry}\t${revoked}\t${s.toUpperCase()}\tunknown\t/CN=user${i}@example.test\n`).join(''));
  writeFileSync(path.join(dir, 'crlnumber'), '01\n');
  const cnf = path.join(dir, 'openssl.cnf');
  writeFileSync(
    cnf,
    [
      '[ca]',
      'default_ca = bench',
      '[bench]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'crlnumber = $dir/crlnumber',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca-key.pem',
      'default_md = sha256',
      'default_crl_days = 7',
      'unique_subject = no',
      'crl_extensions = crl_ext',
      '[crl_ext]',
      'authorityKeyIdentifier = keyid:always',
      '',
    ].join('\n'),
  );
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = spawnSync('openssl', ['ca', '-gencrl', '-config', cnf, '-out', path.join(dir, 'crl.pem'), '-batch'], { stdio: 'pipe' });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`openssl ca -gencrl: ${r.stderr.toString().trim().split('\n')[0]}`);
  }
  const count = (execFileSync('openssl', ['crl', '-in', path.join(dir, 'crl.pem'), '-noout', '-text'], { maxBuffer: 1 << 30 }).toString().match(/Serial Number:/g) ?? []).length;
  if (count !== serials.length) throw new Error(`openssl's CRL has ${count} entries, expected ${serials.length}`);
  return { ms: median(times), rounds };
}

interface EncodedBuilder {
  encodeCrlEntry(entry: crlModule.CrlEntry): Uint8Array;
  buildCrlFromEncodedEntries(opts: Omit<Parameters<typeof crlModule.buildCrl>[0], 'entries'> & { encodedEntries: Uint8Array[] }): Promise<{ der: Uint8Array }>;
}

export const crl: Measurement = {
  id: M,
  title: 'CRL building next to openssl ca -gencrl',
  async run(ctx) {
    const n = ctx.quick ? 2_000 : 100_000;
    const rounds = ctx.quick ? 1 : 3;
    const figure = `CRL of ${n.toLocaleString('en-US')} entries`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-crl-'));
    try {
      const revokedAt = new Date(Date.now() - 3_600_000);
      const serials = Array.from({ length: n }, () => newSerial());
      let peer: { ms: number; rounds: number } | undefined;
      let peerError: string | undefined;
      try {
        peer = opensslCrlTime(dir, serials, revokedAt, rounds);
      } catch (e) {
        peerError = errorText(e);
      }

      const signer = new FileSigner(generateCaKeyPair('P-256').privateKey);
      const now = new Date();
      const ca = await createCaCertificate({ signer, commonName: 'bench CA', serial: newSerial(), notBefore: now, notAfter: new Date(now.getTime() + 3650 * 86_400_000) });
      const base = { signer, caCertificateDer: ca.der, crlNumber: 2n, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * 86_400_000) };
      const entries = serials.map((serial) => ({ serial, revokedAt, reason: REASON }));
      const encodedApi = { ...(crlModule as object), ...(issuanceModule as object) } as Partial<EncodedBuilder>;
      let builder = 'buildCrl';
      let build = () => crlModule.buildCrl({ ...base, entries });
      if (typeof encodedApi.buildCrlFromEncodedEntries === 'function' && typeof encodedApi.encodeCrlEntry === 'function') {
        // The entries are encoded at revocation and stored: not part of building the CRL.
        try {
          const encoded = entries.map((e) => encodedApi.encodeCrlEntry!(e));
          const fromEncoded = () => encodedApi.buildCrlFromEncodedEntries!({ ...base, encodedEntries: encoded });
          await fromEncoded();
          builder = 'buildCrlFromEncodedEntries';
          build = fromEncoded as typeof build;
        } catch (e) {
          builder = `buildCrl (buildCrlFromEncodedEntries failed here: ${errorText(e)})`;
        }
      }
      let der: Uint8Array | undefined;
      const ours = await timed(rounds, 20_000, async () => {
        der = (await build()).der;
      });
      // The CRL must be a real one: openssl verifies it against the CA and counts its entries.
      writeFileSync(path.join(dir, 'mailca-ca.pem'), ca.pem);
      writeFileSync(path.join(dir, 'mailca.crl'), der!);
      const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', path.join(dir, 'mailca.crl'), '-CAfile', path.join(dir, 'mailca-ca.pem'), '-noout', '-text'], { stdio: 'pipe', maxBuffer: 1 << 30 }).toString();
      const count = (text.match(/Serial Number:/g) ?? []).length;
      const verified = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', path.join(dir, 'mailca.crl'), '-CAfile', path.join(dir, 'mailca-ca.pem'), '-noout', '-verify'], { stdio: 'pipe' });
      const verifyOk = verified.status === 0 && /verify OK/.test(verified.stderr.toString() + verified.stdout.toString());
      if (count !== n || !verifyOk) throw new Error(`mailca's CRL ${verifyOk ? 'verifies' : 'does not verify'} and has ${count} of ${n} entries`);
      return [
        row({
          measurement: M,
          figure,
          value: ours.ms,
          unit: 'ms',
          peer: 'openssl ca -gencrl',
          peerValue: peer?.ms ?? null,
          target: { kind: 'ratio-at-most', ratio: 1.0 },
          note: [`${builder}, median of ${ours.rounds} (openssl: whole process, median of ${peer?.rounds ?? 0}); verified with openssl crl -verify`, peerError ? `openssl n/a (${peerError})` : ''].filter(Boolean).join('; '),
        }),
      ];
    } catch (e) {
      return [notAvailable(M, figure, errorText(e), { peer: 'openssl ca -gencrl' })];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
