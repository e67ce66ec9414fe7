import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailca } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
let dir: string;
const mailca = (args: string[], input?: string) => runMailca(db, args, input);
const csvFile = (name: string, text: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-cli-users-'));
  expect((await mailca(['init'])).code).toBe(0);
});
afterAll(async () => {
  await db?.drop();
});

describe('mailca user password, enable, unlock', () => {
  it('refuses a multi-line password and strips exactly one trailing newline', async () => {
    const two = await mailca(['user', 'add', 'multi@example.test'], 'first line password\nsecond line\n');
    expect(two.code).toBe(1);
    expect(two.stderr).toBe('mailca: password must be one line (it contains a line break)\n');
    expect((await mailca(['user', 'add', 'multi@example.test'], 'one line password\n\n')).code).toBe(1);
    const added = await mailca(['user', 'add', 'multi@example.test'], 'one line password\n');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe('added multi@example.test\n');
  });

  it('sets a password from stdin, or generates and prints one', async () => {
    const set = await mailca(['user', 'password', 'Multi@example.test'], 'another good password\n');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('set the password of multi@example.test; ended 0 session(s)\n');
    const generated = await mailca(['user', 'password', 'multi@example.test']);
    expect(generated.stdout).toMatch(/^set the password of multi@example.test; ended 0 session\(s\)\npassword: [A-Za-z0-9]{20}\n$/);
    expect((await mailca(['user', 'password', 'multi@example.test'], 'two\nlines of password\n')).code).toBe(1);
    const missing = await mailca(['user', 'password', 'nobody@example.test'], 'another good password\n');
    expect(missing).toMatchObject({ code: 1, stderr: 'mailca: no user nobody@example.test\n' });
  });

  it('re-enables a disabled user and clears a lockout', async () => {
    expect((await mailca(['user', 'disable', 'multi@example.test'])).code).toBe(0);
    expect((await mailca(['user', 'enable', 'multi@example.test'])).stdout).toBe('enabled multi@example.test\n');
    expect((await mailca(['user', 'enable', 'multi@example.test'])).stdout).toBe('multi@example.test is already enabled; nothing to do\n');
    expect((await mailca(['user', 'unlock', 'multi@example.test'])).stdout).toBe('unlocked sign-in for multi@example.test\n');
    expect((await mailca(['audit', 'verify'])).code).toBe(0);
  });
});

describe('mailca user import and list', () => {
  it('imports a CSV in one transaction: a bad row by its line, and nothing added', async () => {
    const bad = csvFile('bad.csv', 'email,name,admin,aliases\nann@example.test,Ann,no,\n"bo b@example.test",Bob,no,\n');
    const refused = await mailca(['user', 'import', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('mailca: line 3: "bo b@example.test" is not a valid email address\n');
    const dup = await mailca(['user', 'import', csvFile('dup.csv', 'email,name,admin\nann@example.test,Ann,no\nmulti@example.test,M,no\n')]);
    expect(dup).toMatchObject({ code: 1, stderr: 'mailca: line 3: multi@example.test is already a user\n' });
    expect((await mailca(['user', 'list', '--json'])).stdout).not.toContain('ann@example.test');
    expect((await mailca(['user', 'import', path.join(dir, 'missing.csv')])).stderr).toBe(`mailca: cannot read ${path.join(dir, 'missing.csv')}: ENOENT\n`);

    const good = csvFile('good.csv', 'email,name,admin,aliases\r\nann@example.test,"Ann, Admin",yes,ann.a@example.test;postmaster@example.test\r\ncarl@example.test,,no,\r\n');
    const imported = await mailca(['user', 'import', good]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toBe('added 2 user(s)\n');
  });

  it('lists users as text and JSON', async () => {
    expect((await mailca(['enforce', 'carl@example.test', '--state', 'enforced'])).code).toBe(0);
    const json = await mailca(['user', 'list', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      { email: 'ann@example.test', name: 'Ann, Admin', admin: true, disabled: false, enforcement: 'grace', active_certificates: 0, aliases: ['ann.a@example.test', 'postmaster@example.test'] },
      { email: 'carl@example.test', name: null, admin: false, disabled: false, enforcement: 'enforced', active_certificates: 0, aliases: [] },
      { email: 'multi@example.test', name: null, admin: false, disabled: false, enforcement: 'grace', active_certificates: 0, aliases: [] },
    ]);
    const text = await mailca(['user', 'list']);
    expect(text.stdout.split('\n')[0]).toMatch(/^ann@example.test\s+admin\s+grace\s+0 cert\(s\)\s+aliases ann.a@example.test postmaster@example.test\s+Ann, Admin$/);
    expect(text.stdout).toMatch(/carl@example.test\s+user\s+enforced/);
  });

  it('has --help for each new command', async () => {
    const helps = await Promise.all(['password', 'enable', 'unlock', 'import', 'list'].map((c) => mailca(['user', c, '--help'])));
    for (const h of helps) expect(h).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: mailca user') });
    const missing = await mailca(['user', 'import']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^error: missing required argument 'file'\n$/);
  });

  it('refuses a second active token of the same name', async () => {
    expect((await mailca(['token', 'create', '--role', 'mta', '--name', 'mx7'])).code).toBe(0);
    const again = await mailca(['token', 'create', '--role', 'mta', '--name', 'mx7']);
    expect(again).toMatchObject({ code: 1, stdout: '', stderr: 'mailca: an active token is already named mx7; revoke it first or choose another name\n' });
  });
});
