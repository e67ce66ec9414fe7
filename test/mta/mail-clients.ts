/** Real mail clients from Debian, as users run them: msmtp and curl (swaks is in swaks.ts). */
import { spawnSync } from 'node:child_process';
import type { ClientCertificate } from './certs.ts';

export interface ClientRun {
  accepted: boolean;
  transcript: string;
}

const MESSAGE = (from: string): string => `From: <${from}>\r\nTo: <someone@example.org>\r\nSubject: mailca test\r\n\r\nhello\r\n`;

function runClient(command: string, args: string[], input: string): ClientRun {
  const r = spawnSync(command, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw r.error;
  return { accepted: r.status === 0, transcript: `$ ${command} ${args.join(' ')}\n(exit ${r.status})\n${r.stdout}${r.stderr}` };
}

export interface MsmtpRequest {
  port: number;
  tls: 'tls-on-connect' | 'starttls';
  caFile: string;
  certificate: ClientCertificate;
  /** off: the certificate alone ("No authentication"); external: SASL EXTERNAL ("TLS certificate"). */
  auth: 'off' | 'external';
  /** With auth external: the authorisation identity msmtp sends (it sends none without one). */
  user?: string;
  from: string;
}

/** msmtp with tls_cert_file/tls_key_file and `auth off` or `auth external`. */
export function msmtp(request: MsmtpRequest): ClientRun {
  const args = [
    '--host=127.0.0.1', `--port=${request.port}`, '--domain=client.example.test',
    '--tls=on', `--tls-starttls=${request.tls === 'starttls' ? 'on' : 'off'}`,
    `--tls-trust-file=${request.caFile}`, `--tls-cert-file=${request.certificate.certFile}`, `--tls-key-file=${request.certificate.keyFile}`,
    `--auth=${request.auth === 'off' ? 'off' : 'external'}`,
    ...(request.user ? [`--user=${request.user}`] : []),
    `--from=${request.from}`, '--debug', '--', 'someone@example.org',
  ];
  return runClient('msmtp', args, MESSAGE(request.from));
}

export interface CurlRequest {
  port: number;
  tls: 'tls-on-connect' | 'starttls';
  caFile: string;
  certificate: ClientCertificate;
  from: string;
}

/** curl smtps:// (TLS on connect) or smtp:// --ssl-reqd (STARTTLS) with --cert/--key. */
export function curlSmtp(request: CurlRequest): ClientRun {
  const scheme = request.tls === 'tls-on-connect' ? 'smtps' : 'smtp';
  const args = [
    '--silent', '--show-error', '--verbose', '--max-time', '20',
    '--url', `${scheme}://127.0.0.1:${request.port}/client.example.test`,
    ...(request.tls === 'starttls' ? ['--ssl-reqd'] : []),
    '--cacert', request.caFile, '--cert', request.certificate.certFile, '--key', request.certificate.keyFile,
    '--mail-from', request.from, '--mail-rcpt', 'someone@example.org', '--upload-file', '-',
  ];
  return runClient('curl', args, MESSAGE(request.from));
}
