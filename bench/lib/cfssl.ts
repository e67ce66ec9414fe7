// Bench-only: Debian's `cfssl serve` (golang-cfssl) as the issuance peer: a P-256 CA made with
// openssl, one client-auth signing profile, listening on 127.0.0.1.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/net.ts';
import { spawnTracked, stopChild } from './processes.ts';

export const CFSSL = process.env.MAILCA_BENCH_CFSSL ?? '/usr/bin/cfssl';

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.end();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface CfsslServer {
  url: string;
  stop(): Promise<void>;
}

export async function startCfssl(): Promise<CfsslServer> {
  if (!existsSync(CFSSL)) throw new Error(`${CFSSL} is not installed (Debian package golang-cfssl)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-cfssl-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'ca-key.pem'), '-out', path.join(dir, 'ca.pem'), '-subj', '/CN=bench cfssl CA', '-days', '3650'], { stdio: 'pipe' });
    const profile = { expiry: '8760h', usages: ['digital signature', 'client auth'] };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ signing: { default: profile, profiles: { client: profile } } }));
    const port = await freePort();
    const child = spawnTracked(CFSSL, ['serve', '-address', '127.0.0.1', '-port', String(port), '-ca', path.join(dir, 'ca.pem'), '-ca-key', path.join(dir, 'ca-key.pem'), '-config', path.join(dir, 'config.json')], { stdio: 'ignore' });
    try {
      await waitForPort(port, 10_000);
    } catch (e) {
      await stopChild(child, 500);
      throw e;
    }
    return {
      url: `http://127.0.0.1:${port}`,
      async stop() {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
