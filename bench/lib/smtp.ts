// Bench-only: a hand-driven SMTP client over TLS on connect that presents a client certificate, so one
// session can stay open across an allow-list change (after test/mta/smtp-session.ts).

import { connect, type TLSSocket } from 'node:tls';

export interface SmtpReply {
  code: number;
  text: string;
}

export interface ClientIdentity {
  certPem: string;
  keyPem: string;
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

  /**
   * TLS to 127.0.0.1:port presenting `client`, the greeting and EHLO. The server's certificate is the bench's own
   * self-signed one: it is not verified (what is measured is the server's decision on the client).
   */
  static async open(port: number, client: ClientIdentity, timeoutMs = 10_000): Promise<SmtpSession> {
    const socket = connect({ host: '127.0.0.1', port, cert: client.certPem, key: client.keyPem, rejectUnauthorized: false, servername: 'mx.example.test' });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    await new Promise<void>((done, fail) => {
      socket.once('secureConnect', () => done());
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('connection closed during the TLS handshake')));
    });
    socket.setTimeout(0);
    const session = new SmtpSession(socket);
    const greeting = await session.reply();
    if (greeting.code !== 220) {
      session.close();
      throw new Error(`greeting: ${greeting.text.trim()}`);
    }
    const ehlo = await session.command('EHLO client.example.test');
    if (ehlo.code !== 250) {
      session.close();
      throw new Error(`EHLO: ${ehlo.text.trim()}`);
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
