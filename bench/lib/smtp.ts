// The bench's SMTP sessions: test/mta/smtp-session.ts, opened with a client certificate given as PEM, EHLO included.

import { SmtpSession } from '../../test/mta/smtp-session.ts';

export type { SmtpSession };

export interface ClientIdentity {
  certPem: string;
  keyPem: string;
}

/**
 * TLS to 127.0.0.1:port presenting `client`, the greeting and EHLO. The server's certificate is the bench's own
 * self-signed one: it is not verified (what is measured is the server's decision on the client).
 */
export async function openSmtpSession(port: number, client: ClientIdentity, timeoutMs = 10_000): Promise<SmtpSession> {
  return SmtpSession.open(
    port,
    { cert: client.certPem, key: client.keyPem, rejectUnauthorized: false, servername: 'mx.example.test' },
    { handshakeTimeoutMs: timeoutMs, ehlo: 'EHLO client.example.test' },
  );
}
