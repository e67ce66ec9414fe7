import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../src/clock.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { encodeCrlEntry } from '../../src/issuance/crl-entry.ts';
import { newSerial } from '../../src/issuance/serial.ts';
import { Publisher } from '../../src/publishers/publish.ts';
import { RevokedSet } from '../../src/publishers/revoked-set.ts';
import type { RevokedForCrl, User } from '../../src/store/index.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

// Two publishers on one database (two instances): each keeps the revocations in memory, and
// neither may sign a CRL that misses a revocation the other already committed.
type Env = Awaited<ReturnType<typeof startMailca>>;
let env: Env;
let user: User;
let dir: string;

beforeAll(async () => {
  env = await startMailca();
  user = await addTestUser(env.m, 'crl@example.test');
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-revset-'));
});
afterAll(async () => {
  await env?.stop();
});

function otherInstance(): Publisher {
  const { store, keyring, clock } = env.m.ctx;
  return new Publisher({ store, keyring, clock, log: pino({ level: 'silent' }), dir: mkdtempSync(path.join(os.tmpdir(), 'mailca-b-')), crlLifetimeMs: 168 * HOUR_MS, portalUrl: 'https://x.test/' });
}

const serialsOf = (pem: string) => [...pem.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase());

describe('CRLs from revocations kept in memory', () => {
  it('a second instance signs no CRL without a revocation the first committed, and both agree on the CRL', async () => {
    const b = otherInstance();
    await b.publish();
    const certs = [];
    for (let i = 0; i < 3; i++) certs.push((await enrol(env.m.ctx, testActor, { user, csr: opensslCsr(dir, `c${i}`).csrPem })).record);
    await revoke(env.m.ctx, testActor, { serial: certs[0]!.serial, reason: 'keyCompromise' });
    const a1 = (await env.m.publisher.currentCrls())[0]!;
    // B has not published since: asked for its CRL, it catches up with the change feed first.
    const b1 = (await b.currentCrls())[0]!;
    await b.publish();
    const b2 = (await b.currentCrls())[0]!;
    expect(b2.crlNumber).toBe(a1.crlNumber);
    expect(b2.crlPem).toBe(a1.crlPem);
    expect(b1.crlNumber).toBeLessThanOrEqual(a1.crlNumber);

    // B revokes next; A's CRL must then carry it, with a higher number.
    await revoke({ ...env.m.ctx, publish: () => b.publish().then(() => undefined) }, testActor, { serial: certs[1]!.serial, reason: 'superseded' });
    const b3 = (await b.currentCrls())[0]!;
    await env.m.publisher.publish();
    const a2 = (await env.m.publisher.currentCrls())[0]!;
    expect(a2.crlNumber).toBe(b3.crlNumber);
    expect(a2.crlNumber).toBeGreaterThan(a1.crlNumber);
    const { execFileSync } = await import('node:child_process');
    const text = execFileSync('openssl', ['crl', '-noout', '-text'], { input: a2.crlPem, encoding: 'utf8' });
    expect(serialsOf(text).sort()).toEqual([certs[0]!.serial, certs[1]!.serial].sort());
    await b.close();
  });
});

describe('RevokedSet', () => {
  it('revocations applied in batches (with repeats and two CAs) give the same ordered entries as one full reload', async () => {
    const random = seededRandom(0x5eed);
    const now = new Date('2026-12-01T00:00:00Z');
    const row = (caId: number, serial: string, reason: 'keyCompromise' | 'superseded'): RevokedForCrl => ({
      caId,
      serial,
      notAfter: new Date(now.getTime() + 86_400_000),
      entry: { crlEntryDer: encodeCrlEntry({ serial, revokedAt: now, reason }) },
    });
    const rows = Array.from({ length: 3_000 }, (_, i) => row(1 + (i % 2), newSerial(), 'superseded'));
    const seq = await env.m.store.changes.latest();

    const whole = new RevokedSet();
    // The last word on a serial wins: half the rows come again with another reason.
    const final = new Map(rows.map((r) => [r.serial, r]));
    for (const r of rows.slice(0, 1_500)) final.set(r.serial, row(r.caId, r.serial, 'keyCompromise'));
    whole.reload([...final.values()], seq);

    const batched = new RevokedSet();
    batched.reload(rows.slice(0, 100), seq);
    let rest = rows.slice(100);
    while (rest.length > 0) {
      const n = 1 + Math.floor(random() * 200);
      batched.apply(rest.slice(0, n), seq);
      rest = rest.slice(n);
    }
    for (let i = 0; i < 1_500; i += 100) batched.apply(rows.slice(i, i + 100).map((r) => row(r.caId, r.serial, 'keyCompromise')), seq);

    for (const caId of [1, 2]) {
      const want = await whole.entries(env.m.store, caId, now);
      const got = await batched.entries(env.m.store, caId, now);
      expect(got.length).toBe(1_500);
      expect(got.map((e) => Buffer.from(e).toString('hex'))).toEqual(want.map((e) => Buffer.from(e).toString('hex')));
    }
  });
});
