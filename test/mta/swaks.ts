import { spawnSync } from 'node:child_process';
import type { SubmissionAuth } from '../../web/src/views/smtp-auth.ts';
import type { ClientCertificate } from './certs.ts';

export type ClientTls = 'none' | 'starttls' | 'tls-on-connect';

export interface SwaksRequest {
  port: number;
  tls: ClientTls;
  certificate?: ClientCertificate;
  auth?: { login: string; password: string };
  /** Stop after this step; default: send a whole message. */
  quitAfter?: 'EHLO' | 'MAIL' | 'RCPT';
  from?: string;
}

export interface SwaksResult {
  /** 0 = every step succeeded; swaks uses 2x codes for the step that failed (23 MAIL, 24 RCPT, 28 AUTH, 29 TLS…). */
  exitCode: number;
  transcript: string;
  /** The message was accepted (or, with quitAfter, every step up to it succeeded). */
  accepted: boolean;
}

/** One SMTP session with swaks against 127.0.0.1. */
export function swaks(request: SwaksRequest): SwaksResult {
  const args = [
    '--server', `127.0.0.1:${request.port}`,
    '--timeout', '10',
    '--helo', 'client.example.test',
    '--from', request.from ?? request.auth?.login ?? request.certificate?.email ?? 'nobody@example.test',
    '--to', 'someone@example.org',
  ];
  if (request.tls === 'starttls') args.push('--tls');
  if (request.tls === 'tls-on-connect') args.push('--tlsc');
  if (request.certificate) args.push('--tls-cert', request.certificate.certFile, '--tls-key', request.certificate.keyFile);
  if (request.auth) {
    args.push('--auth', 'PLAIN', '--auth-user', request.auth.login, '--auth-password', request.auth.password);
  }
  if (request.quitAfter) args.push('--quit-after', request.quitAfter);
  const result = spawnSync('swaks', args, { encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  const exitCode = result.status ?? -1;
  return { exitCode, transcript: `$ swaks ${args.join(' ')}\n${result.stdout}${result.stderr}`, accepted: exitCode === 0 };
}

/** Whether the server offered AUTH in its (last) EHLO answer. */
export function authOffered(transcript: string): boolean {
  return /^<[~-]  250[- ]AUTH /m.test(transcript);
}

/** The MAILCA_SUBMISSION_AUTH value a generated config's notes tell the admin to set. */
export function recommendedSubmissionAuth(notes: string): SubmissionAuth {
  const m = /MAILCA_SUBMISSION_AUTH=(none|external)/.exec(notes);
  if (!m) throw new Error(`the notes name no MAILCA_SUBMISSION_AUTH value:\n${notes}`);
  return m[1] as SubmissionAuth;
}

/** Whether the last EHLO answer of a swaks transcript offers AUTH EXTERNAL. */
export function externalOffered(transcript: string): boolean {
  return /^<[~-]  250[- ]AUTH .*\bEXTERNAL\b/m.test(transcript);
}
