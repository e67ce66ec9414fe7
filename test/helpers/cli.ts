import { execFile } from 'node:child_process';
import path from 'node:path';
import type { TestDatabase } from './database.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/mailca.mjs');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `mailca` command against a test database, `input` on stdin. */
export function runMailca(db: TestDatabase, args: string[], input?: string, extraEnv: Record<string, string> = {}): Promise<CliRun> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', MAILCA_DATA_DIR: db.dataDir, MAILCA_LOG_LEVEL: 'warn', ...extraEnv };
  if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}
