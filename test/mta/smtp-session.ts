/**
 * A hand-driven SMTP session over TLS on connect: keeps one connection open across list changes. Used by the MTA
 * tests and by the bench (bench/lib/smtp.ts).
 */
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ClientCertificate } from './certs.ts';

export interface SmtpReply {
  code: number;
  text: string;
}

/** TLS settings of a session to 127.0.0.1 (host and port are the session's own). */
export type SmtpTlsOptions = Omit<ConnectionOptions, 'host' | 'port' | 'socket' | 'path'>;

export interface SmtpOpenOptions {
  /** Fail when the TLS handshake has not finished within this many ms (default: no limit of its own). */
  handshakeTimeoutMs?: number;
  /** An EHLO line sent after the greeting (e.g. 'EHLO client.example.test'); opening fails unless it gets 250. */
  ehlo?: string;
}

export class SmtpSession {
  private buffer = '';
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to 127.0.0.1:port with TLS (presenting `certificate`, verified against `caFile`) and reads the greeting. */
  static async tlsOnConnect(port: number, caFile: string, certificate?: ClientCertificate): Promise<SmtpSession> {
    return SmtpSession.open(port, {
      ca: readFileSync(caFile),
      servername: 'localhost',
      cert: certificate ? readFileSync(certificate.certFile) : undefined,
      key: certificate ? readFileSync(certificate.keyFile) : undefined,
    });
  }

  /** TLS to 127.0.0.1:port with `tls`, the greeting (220) and, with `options.ehlo`, EHLO (250); closed if either fails. */
  static async open(port: number, tls: SmtpTlsOptions, options: SmtpOpenOptions = {}): Promise<SmtpSession> {
    const socket = connect({ ...tls, host: '127.0.0.1', port });
    const { handshakeTimeoutMs } = options;
    if (handshakeTimeoutMs !== undefined) socket.setTimeout(handshakeTimeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${handshakeTimeoutMs} ms`)));
    await new Promise<void>((done, fail) => {
      socket.once('secureConnect', () => done());
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('connection closed during the TLS handshake')));
    });
    if (handshakeTimeoutMs !== undefined) socket.setTimeout(0);
    const session = new SmtpSession(socket);
    const greeting = await session.reply();
    if (greeting.code !== 220) {
      session.close();
      throw new Error(`greeting: ${greeting.text.trim()}`);
    }
    if (options.ehlo !== undefined) {
      const ehlo = await session.command(options.ehlo);
      if (ehlo.code !== 250) {
        session.close();
        throw new Error(`EHLO: ${ehlo.text.trim()}`);
      }
    }
    return session;
  }

  private async reply(): Promise<SmtpReply> {
    for (;;) {
      // A complete reply ends with a line "NNN text" (no dash after the code).
      const m = /(^|\n)(\d{3}) [^\n]*\n/.exec(this.buffer);
      if (m) {
        const end = m.index + m[0].length;
        const text = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end);
        return { code: Number(m[2]), text };
      }
      if (this.closed) return { code: 0, text: `connection closed${this.buffer ? `: ${this.buffer}` : ''}` };
      await new Promise<void>((done) => {
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  /** Sends one command line and reads its reply; code 0 once the connection is closed. */
  async command(line: string): Promise<SmtpReply> {
    if (this.closed) return { code: 0, text: 'connection closed' };
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** QUIT (without waiting long for its answer) and close. */
  async quit(): Promise<void> {
    if (!this.closed) {
      this.socket.write('QUIT\r\n');
      await Promise.race([this.reply(), new Promise((r) => setTimeout(r, 200))]);
    }
    this.close();
  }

  close(): void {
    this.socket.destroy();
  }
}
