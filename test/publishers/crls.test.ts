import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { encodeCrlEntry } from '../../src/issuance/crl-entry.ts';
import { derChildren } from '../../src/issuance/der.ts';
import { isRevocationReason } from '../../src/issuance/revocation-reasons.ts';
import { openKnex } from '../../src/store/db.ts';
import type { CertificateRecord, User } from '../../src/store/index.ts';
import { opensslAll } from '../issuance/helpers.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';

type Env = Awaited<ReturnType<typeof startMailca>>;
let env: Env;
let user: User;
let dir: string;

beforeAll(async () => {
  env = await startMailca({ certLifetimeDays: 10, crlLifetimeHours: 48 });
  user = await addTestUser(env.m, 'carol@example.test');
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-crls-'));
});
afterAll(async () => {
  await env?.stop();
});

async function issue(name: string, keyFile?: string): Promise<CertificateRecord> {
  let csrPem: string;
  if (keyFile) {
    csrPem = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', `/CN=${user.email}`], { encoding: 'utf8' });
  } else {
    csrPem = opensslCsr(dir, name, 'P-256', `/CN=${user.email}`).csrPem;
  }
  return (await enrol(env.m.ctx, testActor, { user, csr: csrPem })).record;
}

async function currentCrl(): Promise<{ pem: string; entries: string[] }> {
  const [crl] = await env.m.publisher.currentCrls();
  if (!crl) throw new Error('no CRL');
  const der = new Uint8Array(Buffer.from(crl.crlPem.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64'));
  const [tbs] = derChildren(der);
  // TBSCertList: version, signature, issuer, thisUpdate, nextUpdate, revokedCertificates?, [0] crlExtensions
  const revoked = derChildren(tbs as Uint8Array)[5];
  const entries = revoked && revoked[0] === 0x30 ? derChildren(revoked).map((e) => Buffer.from(e).toString('hex')) : [];
  return { pem: crl.crlPem, entries };
}

const crlNumberOf = (pem: string): number => {
  const file = path.join(dir, `crl-${Math.random()}.pem`);
  writeFileSync(file, pem);
  return Number(/X509v3 CRL Number: *\n\s+(\d+)/.exec(execFileSync('openssl', ['crl', '-in', file, '-noout', '-text'], { encoding: 'utf8' }))?.[1]);
};

/** The entry the CRL must carry for a stored revocation, encoded from its columns. */
async function expectedEntries(): Promise<string[]> {
  const ca = await env.m.store.cas.findActive();
  const rows = await env.m.store.certificates.listRevokedUnexpired(ca!.id, env.clock.now());
  return rows.map((r) => Buffer.from(encodeCrlEntry({ serial: r.serial, revokedAt: r.revokedAt, reason: isRevocationReason(r.reason) ? r.reason : 'unspecified' })).toString('hex'));
}

describe('CRL entries stored at revocation', () => {
  it('stores each revocation’s entry, same-key revocations included, and the CRL carries exactly those bytes in serial order', async () => {
    const plain = await issue('plain');
    const unspecified = await issue('unspecified');
    const compromised = await issue('compromised');
    const keyFile = path.join(dir, 'compromised.key');
    // A second certificate for the same key: revoked with it when the key is compromised.
    env.clock.advance(1_000);
    const sameKey = await issue('same-key', keyFile);

    await revoke(env.m.ctx, testActor, { serial: plain.serial, reason: 'superseded' });
    env.clock.advance(1_500);
    await revoke(env.m.ctx, testActor, { serial: unspecified.serial, reason: 'unspecified' });
    env.clock.advance(2_250);
    await revoke(env.m.ctx, testActor, { serial: compromised.serial, reason: 'keyCompromise' });

    const ca = await env.m.store.cas.findActive();
    const rows = await env.m.store.certificates.listRevokedUnexpired(ca!.id, env.clock.now());
    expect(rows.map((r) => r.serial)).toEqual([plain.serial, unspecified.serial, compromised.serial, sameKey.serial].sort());
    for (const row of rows) {
      expect(row.crlEntryDer, row.serial).not.toBeNull();
      const reason = isRevocationReason(row.reason) ? row.reason : 'unspecified';
      expect(Buffer.from(row.crlEntryDer as Uint8Array).toString('hex'), row.serial).toBe(Buffer.from(encodeCrlEntry({ serial: row.serial, revokedAt: row.revokedAt, reason })).toString('hex'));
    }
    expect(rows.find((r) => r.serial === sameKey.serial)?.reason).toBe('keyCompromise');

    const crl = await currentCrl();
    expect(crl.entries).toEqual(rows.map((r) => Buffer.from(r.crlEntryDer as Uint8Array).toString('hex')));
    const listed = await env.m.store.certificates.listCrlEntries(ca!.id, env.clock.now());
    expect(listed.map((e) => Buffer.from(e.crlEntryDer as Uint8Array).toString('hex'))).toEqual(crl.entries);
    expect(listed.every((e) => e.serial === undefined)).toBe(true);
  });

  it('encodes rows revoked before entries were stored the same way, without re-signing for them', async () => {
    const before = await currentCrl();
    // What a database revoked before the crl_entry_der column existed looks like after the migration.
    const { knex } = openKnex({ databaseUrl: env.db.databaseUrl, sqliteFile: path.join(env.db.dataDir, 'mailca.sqlite') });
    try {
      const cleared = await knex('certificates').whereNotNull('revoked_at').update({ crl_entry_der: null });
      expect(cleared).toBe(4);
    } finally {
      await knex.destroy();
    }
    const ca = await env.m.store.cas.findActive();
    const rows = await env.m.store.certificates.listRevokedUnexpired(ca!.id, env.clock.now());
    expect(rows.every((r) => r.crlEntryDer === null)).toBe(true);
    const listed = await env.m.store.certificates.listCrlEntries(ca!.id, env.clock.now());
    expect(listed).toEqual(rows.map((r) => ({ crlEntryDer: null, serial: r.serial, revokedAt: r.revokedAt, reason: r.reason })));

    await env.m.publisher.publish();
    const unchanged = await currentCrl();
    expect(unchanged.pem).toBe(before.pem); // the state did not change, so the CRL was not re-signed
    expect(unchanged.entries).toEqual(await expectedEntries());

    // A new revocation next to the old rows: stored and on-the-fly entries side by side.
    const fresh = await issue('fresh');
    env.clock.advance(3_000);
    await revoke(env.m.ctx, testActor, { serial: fresh.serial, reason: 'cessationOfOperation' });
    const mixed = await currentCrl();
    expect(crlNumberOf(mixed.pem)).toBeGreaterThan(crlNumberOf(before.pem));
    expect(mixed.entries).toHaveLength(5);
    expect(mixed.entries).toEqual(await expectedEntries());

    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, ca!.certificatePem);
    const crlFile = path.join(dir, 'mixed.pem');
    writeFileSync(crlFile, mixed.pem);
    expect(opensslAll(['crl', '-in', crlFile, '-CAfile', caFile, '-verify', '-noout'])).toContain('verify OK');
  });
});
