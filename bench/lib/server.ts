// Bench-only: starts mailca (bench/lib/server-child.ts) in a child process and stops it.

import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../../src/config.ts';
import type { BenchDatabase } from './database.ts';
import { peakRssBytes, spawnTracked, stopChild } from './processes.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server-child.ts');
export const CA_PASSPHRASE = 'bench passphrase for the CA key';

/** The configuration every bench instance uses on `db` (the same one the setup code opens). */
export function benchConfig(db: BenchDatabase, overrides: Partial<ConfigInput> = {}): Partial<ConfigInput> {
  return {
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    listen: '127.0.0.1:0',
    caPassphrase: CA_PASSPHRASE,
    sessionSecret: 'bench session secret, the same for every instance',
    logLevel: 'silent',
    ...overrides,
  };
}

export interface ServerProcess {
  url: string;
  pid: number;
  /** VmHWM of the server process so far, bytes. */
  peakRss(): number | undefined;
  stop(): Promise<void>;
}

export async function startServerProcess(config: Partial<ConfigInput>, opts: { startTimeoutMs?: number } = {}): Promise<ServerProcess> {
  // MAILCA_BENCH_PROFILE_DIR=DIR writes a CPU profile of each mailca server the benchmark starts.
  const profile = process.env.MAILCA_BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MAILCA_BENCH_PROFILE_DIR}`] : [];
  const child: ChildProcess = spawnTracked(process.execPath, [...profile, '--import', 'tsx', CHILD], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, MAILCA_BENCH_CONFIG: JSON.stringify(config) },
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const timeoutMs = opts.startTimeoutMs ?? 180_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mailca did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    child.on('message', (m: { type: string; url?: string; message?: string }) => {
      clearTimeout(timer);
      if (m.type === 'ready' && m.url) resolve(m.url);
      else reject(new Error(`mailca failed to start: ${m.message ?? 'unknown error'}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mailca exited (${code}) while starting: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  }).catch(async (e: unknown) => {
    await stopChild(child, 500);
    throw e;
  });
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    peakRss: () => peakRssBytes(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
