import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailca } from '../helpers/cli.ts';
import { createTestDatabase, openRawDatabase, type TestDatabase } from '../helpers/database.ts';
import { opensslCsr, opensslCsrForKey } from '../helpers/mailca.ts';

let db: TestDatabase;

/** Runs the real `mailca` command against the test database. */
const mailca = (args: string[], input?: string, extraEnv: Record<string, string> = {}) => runMailca(db, args, input, extraEnv);

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('mailca CLI', () => {
  it('before init: key-free commands work, key commands say to run init', async () => {
    const fresh = await createTestDatabase();
    const saved = db;
    db = fresh;
    try {
      expect((await mailca(['user', 'add', 'early@example.test'])).code).toBe(0);
      const rotate = await mailca(['ca', 'rotate']);
      expect(rotate.code).toBe(1);
      expect(rotate.stderr).toContain('mailca init');
    } finally {
      db = saved;
      await fresh.drop();
    }
  });

  it('init creates the CA once, with a generated 0600 passphrase file, and publishes', async () => {
    const first = await mailca(['init', '--name', 'Example Mail CA', '--key-alg', 'P-384']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('created CA "Example Mail CA" (P-384)');
    expect(first.stderr).toContain('ca-passphrase'); // said loudly
    const passFile = path.join(db.dataDir, 'ca-passphrase');
    expect(statSync(passFile).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(db.dataDir, 'publish', 'ca.pem'))).toBe(true);
    const second = await mailca(['init']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already exists');
  });

  it('the CA key is stored encrypted: the database holds no plain private key', async () => {
    const knex = openRawDatabase(db);
    const [row] = await knex('cas').select('encrypted_key_pem');
    await knex.destroy();
    expect(row.encrypted_key_pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(row.encrypted_key_pem).not.toMatch(/BEGIN (EC )?PRIVATE KEY/);
  });

  it('adds users (password from stdin, or generated and printed once), creates tokens', async () => {
    const withPw = await mailca(['user', 'add', 'Alice@Example.test', '--name', 'Alice', '--admin'], 'a very good password\n');
    expect(withPw.code, withPw.stderr).toBe(0);
    expect(withPw.stdout).toContain('added alice@example.test (admin)');
    expect(withPw.stdout).not.toContain('password:');
    const generated = await mailca(['user', 'add', 'bob@example.test']);
    expect(generated.stdout).toMatch(/password: \S{20}/);
    const dup = await mailca(['user', 'add', 'bob@example.test']);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('already exists');
    const token = await mailca(['token', 'create', '--role', 'mta', '--name', 'mx1']);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toMatch(/^mca_[A-Za-z0-9_-]{43}$/);
    const listed = await mailca(['token', 'list']);
    expect(listed.stdout).toMatch(/mta\s+active .* mx1/);
    expect(listed.stdout).not.toContain(token.stdout.trim());
    await mailca(['token', 'create', '--role', 'admin', '--name', 'old-admin']);
    expect((await mailca(['token', 'revoke', 'old-admin'])).stdout).toContain('revoked 1 token');
    expect((await mailca(['token', 'list'])).stdout).toMatch(/admin\s+revoked/);
    expect((await mailca(['token', 'revoke', 'old-admin'])).code).toBe(1);
  });

  it('issues from a CSR file, lists, revokes, publishes, and the lists follow', async () => {
    const { csrFile } = opensslCsr(db.dataDir, 'cli', 'P-256', '/CN=eve@evil.test');
    const issued = await mailca(['issue', '--email', 'bob@example.test', '--csr', csrFile, '--device', 'Phone']);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toContain('BEGIN CERTIFICATE');
    const serial = /issued serial ([0-9a-f]{32})/.exec(issued.stderr)?.[1];
    expect(serial).toBeTruthy();
    const postfix = () => readFileSync(path.join(db.dataDir, 'publish', 'allowlist.postfix'), 'utf8');
    expect(postfix()).toContain(`serial ${serial}`);

    const list = await mailca(['list', '--email', 'bob@example.test', '--status', 'active']);
    expect(list.stdout).toContain(serial);
    expect(list.stdout).toContain('Phone');

    const revoked = await mailca(['revoke', serial!, '--reason', 'cessationOfOperation']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(postfix()).not.toContain(`serial ${serial}`);
    expect((await mailca(['list', '--status', 'revoked'])).stdout).toContain(serial);
    const again = await mailca(['revoke', serial!, '--reason', 'superseded']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already revoked');

    // keyCompromise says which other certificates (same key) it revoked with it.
    const { keyFile, csrFile: firstCsr } = opensslCsr(db.dataDir, 'cli-shared', 'P-256');
    const secondCsr = path.join(db.dataDir, 'cli-shared-2.csr');
    opensslCsrForKey(keyFile, secondCsr);
    const serialOf = (r: { stderr: string }) => /issued serial ([0-9a-f]{32})/.exec(r.stderr)?.[1];
    const one = serialOf(await mailca(['issue', '--email', 'bob@example.test', '--csr', firstCsr]));
    const two = serialOf(await mailca(['issue', '--email', 'bob@example.test', '--csr', secondCsr]));
    expect(one && two).toBeTruthy();
    const compromised = await mailca(['revoke', one!, '--reason', 'keyCompromise']);
    expect(compromised.code, compromised.stderr).toBe(0);
    expect(compromised.stdout).toContain(`revoked ${one} (bob@example.test), reason keyCompromise`);
    expect(compromised.stdout).toContain(`also revoked 1 other certificate(s) with the same key: ${two}`);
    expect(revoked.stdout).not.toContain('also revoked');

    const published = await mailca(['publish']);
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(/published 0 active certificate\(s\); CRL number \d+/);
  });

  it('disables a user and revokes their certificates', async () => {
    const { csrFile } = opensslCsr(db.dataDir, 'cli2', 'P-256');
    await mailca(['issue', '--email', 'alice@example.test', '--csr', csrFile]);
    const disabled = await mailca(['user', 'disable', 'alice@example.test']);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(disabled.stdout).toMatch(/revoked 1 certificate/);
  });

  it('runs commands side by side without breaking the audit chain', async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => mailca(['token', 'create', '--role', 'mta', '--name', `par${i}`])));
    expect(runs.map((r) => r.code), runs.map((r) => r.stderr).join('\n')).toEqual(runs.map(() => 0));
    expect((await mailca(['audit', 'verify'])).code).toBe(0);
  });

  it('verifies the audit chain and detects a changed and a deleted row', async () => {
    const ok = await mailca(['audit', 'verify']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/audit log intact: \d+ event/);

    const knex = openRawDatabase(db);
    try {
      const [second] = await knex('audit_events').orderBy('id').offset(1).limit(1);
      await knex('audit_events').where({ id: second.id }).update({ actor: 'someone-else' });
      const changed = await mailca(['audit', 'verify']);
      expect(changed.code).toBe(1);
      expect(changed.stderr).toContain(`event ${second.id}: contents changed`);
      await knex('audit_events').where({ id: second.id }).update({ actor: second.actor });
      expect((await mailca(['audit', 'verify'])).code).toBe(0);

      await knex('audit_events').where({ id: second.id }).delete();
      const deleted = await mailca(['audit', 'verify']);
      expect(deleted.code).toBe(1);
      expect(deleted.stderr).toContain('link broken');
      await knex('audit_events').insert(second);

      const [last] = await knex('audit_events').orderBy('id', 'desc').limit(1);
      await knex('audit_events').where({ id: last.id }).delete();
      const tail = await mailca(['audit', 'verify']);
      expect(tail.code).toBe(1);
      expect(tail.stderr).toContain('missing or changed');
    } finally {
      await knex.destroy();
    }
  });

  it('rolls the CA over: rotate (cross-signed), list, retire refused then forced', async () => {
    const { csrFile } = opensslCsr(db.dataDir, 'roll', 'P-256');
    await mailca(['user', 'add', 'frank@example.test']);
    expect((await mailca(['issue', '--email', 'frank@example.test', '--csr', csrFile])).code).toBe(0);
    const rotated = await mailca(['ca', 'rotate', '--cross-sign', '--name', 'Example Mail CA 2']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/new CA 2 "Example Mail CA 2" \(P-256\) issues from now on/);
    expect(rotated.stdout).toContain('BEGIN CERTIFICATE');
    const same = await mailca(['ca', 'rotate', '--name', 'Example Mail CA 2']);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('already named');
    const list = await mailca(['ca', 'list']);
    expect(list.stdout).toMatch(/^1\tretiring\tP-384\t\S+\t1\t/m);
    expect(list.stdout).toMatch(/^2\tactive\t/m);
    const refused = await mailca(['ca', 'retire', '1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('still has 1 valid certificate');
    const forced = await mailca(['ca', 'retire', '1', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('revoked 1 certificate');
    expect((await mailca(['ca', 'list'])).stdout).toMatch(/^1\tretired\t/m);
    expect((await mailca(['ca', 'retire', 'x'])).code).toBe(1);
  });

  it('has --help everywhere and refuses bad arguments with a one-line reason', { timeout: 180_000 }, async () => {
    const commands: string[][] = [[], ['init'], ['serve'], ['user', 'add'], ['user', 'disable'], ['token', 'create'], ['token', 'list'], ['token', 'revoke'], ['issue'], ['pull'], ['mta-config'], ['enforce'], ['enforce-policy'], ['readiness'], ['ca', 'rotate'], ['ca', 'list'], ['ca', 'retire'], ['ca', 'notify-renew'], ['revoke'], ['list'], ['publish'], ['audit', 'verify']];
    const helps = await Promise.all(commands.map((cmd) => mailca([...cmd, '--help'])));
    helps.forEach((help, i) => {
      expect(help.code, commands[i]!.join(' ')).toBe(0);
      expect(help.stdout).toContain('Usage: mailca');
    });
    const cases: string[][] = [
      ['frobnicate'],
      ['revoke', 'abcd', '--reason', 'bored'],
      ['revoke', 'abcd'],
      ['token', 'create', '--role', 'root', '--name', 'x'],
      ['list', '--status', 'sleepy'],
      ['issue', '--email', 'bob@example.test', '--csr', '/nonexistent.csr'],
      ['user', 'add', 'not-an-address'],
      ['revoke', 'ab'.repeat(16), '--reason', 'superseded'],
      ['init', '--key-alg', 'DSA'],
    ];
    const results = await Promise.all(cases.map((args) => mailca(args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]!.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack traces
    });
    const badConfig = await mailca(['list'], undefined, { MAILCA_LISTEN: 'nonsense' });
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toContain('MAILCA_LISTEN');
  });
});
