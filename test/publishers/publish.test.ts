import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../src/clock.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { writeFileAtomic } from '../../src/publishers/published-file.ts';
import type { User } from '../../src/store/index.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';

type Env = Awaited<ReturnType<typeof startMailca>>;
let env: Env;
let user: User;
let dir: string;

beforeAll(async () => {
  env = await startMailca({ certLifetimeDays: 10, crlLifetimeHours: 48 });
  user = await addTestUser(env.m, 'alice@example.test');
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-pub-'));
});
afterAll(async () => {
  await env?.stop();
});

const publishDir = () => path.join(env.db.dataDir, 'publish');
const read = (f: string) => readFileSync(path.join(publishDir(), f), 'utf8');
const crlNumber = (pem: string) => {
  const f = path.join(dir, `crl-${Math.random()}.pem`);
  writeFileSync(f, pem);
  return Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(execFileSync('openssl', ['crl', '-in', f, '-noout', '-text'], { encoding: 'utf8' }))?.[1]);
};

async function issue(name: string) {
  const { csrPem } = opensslCsr(dir, name);
  return (await enrol(env.m.ctx, testActor, { user, csr: csrPem })).record;
}

describe('publisher', () => {
  it('publishes the same bytes twice from the same state', async () => {
    await issue('same');
    await env.m.publisher.publish();
    const before = ['allowlist.postfix', 'allowlist.exim', 'allowlist.json', 'ca.pem'].map(read);
    await env.m.publisher.publish();
    expect(['allowlist.postfix', 'allowlist.exim', 'allowlist.json', 'ca.pem'].map(read)).toEqual(before);
    expect(readdirSync(publishDir()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('re-signs the CRL with a strictly increasing number on each change and before nextUpdate', async () => {
    const n0 = crlNumber(read('crl.pem'));
    const cert = await issue('crl');
    await revoke(env.m.ctx, testActor, { serial: cert.serial, reason: 'superseded' });
    const n1 = crlNumber(read('crl.pem'));
    expect(n1).toBeGreaterThan(n0);
    expect(read('crl.pem')).toBe((await env.m.publisher.currentCrls())[0]!.crlPem); // unchanged state → no re-sign

    // The refresh is due halfway through the CRL's 48 h lifetime.
    const due = await env.m.publisher.nextDue();
    expect(due!.getTime()).toBeLessThanOrEqual(env.clock.now().getTime() + 24 * HOUR_MS);
    env.clock.advance(24 * HOUR_MS + 1000);
    await env.m.publisher.publish();
    const n2 = crlNumber(read('crl.pem'));
    expect(n2).toBeGreaterThan(n1);
    const text = execFileSync('openssl', ['crl', '-in', path.join(publishDir(), 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain(cert.serial.toUpperCase());
    // Dovecot's ssl_ca: the trust bundle, then the CRLs, kept in step with both.
    expect(read('ca-crl.pem')).toBe(read('ca.pem') + read('crl.pem'));
  });

  it('drops a certificate from the lists at its exact notAfter', async () => {
    const cert = await issue('expiry');
    expect(read('allowlist.postfix')).toContain(cert.serial);
    const due = await env.m.publisher.nextDue();
    expect(due).toBeDefined();
    env.clock.set(new Date(cert.notAfter.getTime() - 1));
    await env.m.publisher.publish();
    expect(read('allowlist.postfix')).toContain(cert.serial);
    env.clock.set(cert.notAfter);
    await env.m.publisher.publish();
    expect(read('allowlist.postfix')).not.toContain(cert.serial);
    expect(read('allowlist.exim')).not.toContain(cert.fingerprintSha256.toUpperCase());
    expect(read('allowlist.json')).not.toContain(cert.serial);
  });

  it('keeps expired revoked certificates off the CRL', async () => {
    env.clock.advance(-20 * DAY_MS);
    const cert = await issue('expired-revoked');
    await revoke(env.m.ctx, testActor, { serial: cert.serial, reason: 'keyCompromise' });
    expect(read('crl.pem')).toBe((await env.m.publisher.currentCrls())[0]!.crlPem);
    env.clock.advance(20 * DAY_MS);
    await env.m.publisher.publish();
    const text = execFileSync('openssl', ['crl', '-in', path.join(publishDir(), 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).not.toContain(cert.serial.toUpperCase());
  });
});

describe('file modes', () => {
  it('published files are 0644 whatever the umask, so an MTA on the same host can read them', async () => {
    const old = process.umask(0o077);
    try {
      await issue('umask');
      await env.m.publisher.publish();
    } finally {
      process.umask(old);
    }
    for (const f of readdirSync(publishDir())) expect((statSync(path.join(publishDir(), f)).mode & 0o777).toString(8), f).toBe('644');
  });
});

describe('atomic file writes', () => {
  it('a concurrent reader only ever sees a whole old or a whole new file', async () => {
    const file = path.join(dir, 'allowlist.postfix');
    const a = 'A'.repeat(2_000_000);
    const b = 'B'.repeat(1_500_000) + '\n';
    const hashes = new Set([a, b].map((s) => createHash('sha256').update(s).digest('hex')));
    await writeFileAtomic(file, a);
    // The reader runs in another process, reading as fast as it can while we rewrite.
    const reader = spawn(process.execPath, [
      '-e',
      `const fs=require('fs'),c=require('crypto');const seen={};const end=Date.now()+1500;` +
        `while(Date.now()<end){const h=c.createHash('sha256').update(fs.readFileSync(${JSON.stringify(file)})).digest('hex');seen[h]=(seen[h]||0)+1}` +
        `console.log(JSON.stringify(seen))`,
    ]);
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise((r) => reader.on('close', r));
    const stopAt = Date.now() + 1400;
    let writes = 0;
    while (Date.now() < stopAt) {
      await writeFileAtomic(file, writes++ % 2 ? a : b);
    }
    await done;
    const seen = JSON.parse(out) as Record<string, number>;
    expect(writes).toBeGreaterThan(10);
    for (const h of Object.keys(seen)) expect(hashes.has(h)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
