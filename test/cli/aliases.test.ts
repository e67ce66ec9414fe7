import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailca } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
const mailca = (...args: string[]) => runMailca(db, args);

beforeAll(async () => {
  db = await createTestDatabase();
  for (const args of [['init'], ['user', 'add', 'alice@example.test'], ['user', 'add', 'bob@example.test']]) {
    const r = await mailca(...args);
    expect(r.code, r.stderr).toBe(0);
  }
});
afterAll(async () => {
  await db?.drop();
});

describe('mailca user alias', () => {
  it('adds, lists (text and JSON) and removes sender aliases', async () => {
    const added = await mailca('user', 'alias', 'add', 'Alice@example.test', 'PostMaster@example.test');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe('alice@example.test may now send as postmaster@example.test\n');
    expect((await mailca('user', 'alias', 'add', 'alice@example.test', 'abuse@example.test')).code).toBe(0);

    const listed = await mailca('user', 'alias', 'list', 'alice@example.test');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe('abuse@example.test\npostmaster@example.test\n');
    const json = await mailca('user', 'alias', 'list', 'alice@example.test', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ email: 'alice@example.test', aliases: ['abuse@example.test', 'postmaster@example.test'] });

    const removed = await mailca('user', 'alias', 'remove', 'alice@example.test', 'abuse@example.test');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe('removed sender alias abuse@example.test of alice@example.test\n');
    const none = await mailca('user', 'alias', 'list', 'bob@example.test');
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'bob@example.test has no sender aliases\n' });

    // The address is now taken for `user add` too.
    const user = await mailca('user', 'add', 'postmaster@example.test');
    expect(user.code).toBe(1);
    expect(user.stderr).toBe('mailca: the address postmaster@example.test is a sender alias of alice@example.test; remove the alias first\n');
    expect((await mailca('audit', 'verify')).code).toBe(0);
  });

  it('has --help and refuses bad arguments with a one-line reason', async () => {
    const helps = await Promise.all([['alias'], ['alias', 'add'], ['alias', 'remove'], ['alias', 'list']].map((c) => mailca('user', ...c, '--help')));
    for (const h of helps) {
      expect(h.code).toBe(0);
      expect(h.stdout).toContain('Usage: mailca user alias');
    }
    const cases: [string[], RegExp][] = [
      [['user', 'alias', 'add', 'alice@example.test'], /missing required argument 'alias'/],
      [['user', 'alias', 'add', 'alice@example.test', 'not an address'], /is not a valid email address/],
      [['user', 'alias', 'add', 'nobody@example.test', 'x@example.test'], /no user nobody@example\.test/],
      [['user', 'alias', 'add', 'alice@example.test', 'bob@example.test'], /the address bob@example\.test belongs to a user/],
      [['user', 'alias', 'add', 'bob@example.test', 'postmaster@example.test'], /already a sender alias of alice@example\.test/],
      [['user', 'alias', 'remove', 'bob@example.test', 'postmaster@example.test'], /bob@example\.test has no sender alias postmaster@example\.test/],
      [['user', 'alias', 'list'], /missing required argument 'email'/],
      [['user', 'alias', 'frobnicate'], /unknown command/],
    ];
    const results = await Promise.all(cases.map(([args]) => mailca(...args)));
    results.forEach((r, i) => {
      const [args, reason] = cases[i]!;
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(reason);
    });
    expect((await mailca('user', 'alias', 'list', 'alice@example.test')).stdout).toBe('postmaster@example.test\n');
  });
});
