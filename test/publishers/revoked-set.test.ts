import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../src/clock.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { Publisher } from '../../src/publishers/publish.ts';
import type { User } from '../../src/store/index.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';

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
