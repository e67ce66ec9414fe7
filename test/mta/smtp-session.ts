/** A hand-driven SMTP session over TLS on connect: keeps one connection open across list changes. */
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import type { ClientCertificate } from './certs.ts';

export interface SmtpReply {
  code: number;
  text: string;
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

  /** Connects to 127.0.0.1:port with TLS (presenting `certificate`) and reads the greeting. */
  static async tlsOnConnect(port: number, caFile: string, certificate?: ClientCertificate): Promise<SmtpSession> {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(caFile),
      servername: 'localhost',
      cert: certificate ? readFileSync(certificate.certFile) : undefined,
      key: certificate ? readFileSync(certificate.keyFile) : undefined,
    });
    await new Promise<void>((done, fail) => {
      socket.once('secureConnect', () => done());
      socket.once('error', fail);
    });
    const session = new SmtpSession(socket);
    const greeting = await session.reply();
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
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
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}
