/**
 * What the policy-service tests feed the pull client: a JSON allow-list in the published contract and a
 * stand-in HTTP server that serves it (and the senders table) with ETag/304, as mailca's /api/v1 does.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface JsonCertificate {
  serial: string;
  fingerprint_sha256: string;
  fingerprint_sha256_hex: string;
  address: string;
  owner?: string;
  senders?: string[];
  subject: string;
  not_after: string;
  status?: 'active';
  migration?: 'grace' | 'enforced';
}

export interface JsonAllowlist {
  certificates: JsonCertificate[];
  enforced_users?: string[];
  portal_url?: string;
}

/** A certificate entry for `owner` with a fingerprint made from `seed` (64 hex digits). */
export function entry(seed: string, owner: string, senders: string[] | undefined, opts: { oldFormat?: boolean; notAfter?: string } = {}): JsonCertificate {
  const hex = createHash('sha256').update(seed).digest('hex').toUpperCase();
  return colonEntry(hex.match(/../g)?.join(':') ?? '', owner, senders, opts);
}

/** An entry for a real certificate's `AB:CD:…` fingerprint. */
export function colonEntry(colon: string, owner: string, senders: string[] | undefined, opts: { oldFormat?: boolean; notAfter?: string } = {}): JsonCertificate {
  const base: JsonCertificate = {
    serial: colon.slice(0, 11).replaceAll(':', ''),
    fingerprint_sha256: colon,
    fingerprint_sha256_hex: colon.replaceAll(':', '').toLowerCase(),
    address: owner,
    subject: `CN=${owner}`,
    not_after: opts.notAfter ?? '2099-01-01T00:00:00.000Z',
  };
  if (opts.oldFormat) return base;
  return { ...base, owner, senders: senders ?? [owner], status: 'active', migration: 'enforced' };
}

export const jsonText = (doc: JsonAllowlist): string => JSON.stringify(doc, null, 2) + '\n';

/** `sender login` lines, as mailca publishes senders.postfix. */
export function sendersTable(users: Record<string, string[]>): string {
  return Object.entries(users)
    .flatMap(([login, senders]) => senders.map((s) => `${s} ${login}\n`))
    .join('');
}

/** Serves /api/v1/allowlist?format=json and /api/v1/senders?format=postfix from what the test sets. */
export class StandInServer {
  allowlist = '';
  senders = '';
  private server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = url.pathname === '/api/v1/allowlist' && url.searchParams.get('format') === 'json' ? this.allowlist : url.pathname === '/api/v1/senders' ? this.senders : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found","message":"no such endpoint"}');
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { etag, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
  });

  async start(): Promise<string> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }
}

/** A Postfix-like client of the policy protocol: one connection, many requests. */
export class PolicyConnection {
  private buffer = '';
  private waiting: (() => void) | undefined;
  closed = false;
  readonly ready: Promise<void>;

  private constructor(private readonly socket: Socket) {
    this.ready = new Promise((done, fail) => {
      socket.once('connect', done);
      socket.once('error', fail);
    });
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('utf8');
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(address: { path: string } | { port: number }): Promise<PolicyConnection> {
    const c = new PolicyConnection('path' in address ? connect(address.path) : connect(address.port, '127.0.0.1'));
    await c.ready;
    return c;
  }

  /** Sends raw bytes; resolves with the text up to the first "\n\n" (or null when the server closed the connection). */
  async raw(text: string, terminator = '\n\n'): Promise<string | null> {
    this.socket.write(text);
    for (;;) {
      const end = this.buffer.indexOf(terminator);
      if (end >= 0) {
        const answer = this.buffer.slice(0, end + terminator.length);
        this.buffer = this.buffer.slice(end + terminator.length);
        return answer;
      }
      if (this.closed) return null;
      await new Promise<void>((done) => {
        this.waiting = done;
      });
      this.waiting = undefined;
    }
  }

  /** One policy request; resolves with the action (without "action="), or null if the connection was closed. */
  async ask(attrs: Record<string, string>): Promise<string | null> {
    const lines = Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', protocol_name: 'ESMTP', client_address: '127.0.0.1', recipient: 'someone@example.org', ...attrs });
    const answer = await this.raw(lines.map(([k, v]) => `${k}=${v}\n`).join('') + '\n');
    if (answer === null) return null;
    const m = /^action=(.*)\n\n$/.exec(answer);
    if (!m) throw new Error(`not a policy answer: ${JSON.stringify(answer)}`);
    return m[1] ?? '';
  }

  /** One socketmap lookup (netstring in, netstring out). */
  async lookup(map: string, key: string): Promise<string | null> {
    const body = `${map} ${key}`;
    this.socket.write(`${Buffer.byteLength(body)}:${body},`);
    for (;;) {
      const m = /^(\d+):/.exec(this.buffer);
      if (m) {
        const len = Number(m[1]);
        const start = (m[1] ?? '').length + 1;
        if (this.buffer.length >= start + len + 1) {
          const value = this.buffer.slice(start, start + len);
          this.buffer = this.buffer.slice(start + len + 1);
          return value;
        }
      }
      if (this.closed) return null;
      await new Promise<void>((done) => {
        this.waiting = done;
      });
      this.waiting = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
