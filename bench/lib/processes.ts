// Bench-only: child processes the bench started, ended by their own pid when the bench ends or fails.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

const children = new Set<ChildProcess>();

function killAll() {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

export function spawnTracked(command: string, args: string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(command, args, opts);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Ends a child we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Peak resident set size of a running process (VmHWM), in bytes; undefined when unreadable. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
