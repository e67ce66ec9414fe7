import { expect } from 'vitest';
import { PrivatePostfix } from './private-postfix.ts';
import { run } from './run.ts';
import { MAIL_USERS } from './users.ts';

export { POSTFIX_BIN } from './private-postfix.ts';

/** The tests' private Postfix in `dir`: the test users in its sasldb, TLS handshakes logged. */
export class PostfixInstance extends PrivatePostfix {
  constructor(dir: string) {
    super(dir, { purpose: 'test', saslUsers: MAIL_USERS, extraMainCf: ['smtpd_tls_loglevel = 1'] });
  }
}

/**
 * `postfix check` passed without complaints, in its output or the instance's log, and `postconf -n` reports no
 * unused (misspelt) parameters.
 */
export function expectCleanPostfixCheck(postfix: PostfixInstance, check: { status: number | null; stdout: string; stderr: string }): void {
  expect(check.status, `${check.stdout}${check.stderr}${postfix.log()}`).toBe(0);
  expect(check.stderr).not.toMatch(/warning|error|fatal/i);
  expect(postfix.log()).not.toMatch(/warning|error|fatal/i);
  // postconf reports unused (misspelt) parameters on stderr.
  const postconf = run('postconf', ['-c', postfix.configDir, '-n']);
  expect(postconf.status).toBe(0);
  expect(postconf.stderr).toBe('');
}
