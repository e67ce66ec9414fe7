import { existsSync } from 'node:fs';
import os from 'node:os';
import { InvalidArgumentError } from 'commander';
import { loadConfig, type Config } from '../config.ts';
import type { Actor } from '../enrolment/context.ts';
import type { KeyStorage } from '../issuance/signer-loader.ts';
import type { CaRecord } from '../store/index.ts';
import { createLogger, databaseName, openMailca, sqliteFile, type Mailca } from '../main.ts';

/** True when opening the database will create it (a missing SQLite file). */
export function isNewDatabase(cfg: Config): boolean {
  return !cfg.databaseUrl && !existsSync(sqliteFile(cfg));
}

/** A command that had to create its database says which one, so a wrong MAILCA_DATA_DIR shows at once. */
export function sayCreatedDatabase(cfg: Config): void {
  console.error(`mailca: created a new database: ${databaseName(cfg)}`);
}

/** A failure the CLI reports in one line and exit status 1. */
export class CliError extends Error {}

export const cliActor = (): Actor => ({ id: `cli:${os.userInfo().username}`, sourceIp: null });

export function config(overrides: Partial<Record<string, unknown>> = {}): Config {
  return loadConfig(process.env, overrides);
}

/** Opens mailca for one command and always closes it. */
export async function withMailca<T>(fn: (m: Mailca) => Promise<T>, opts: { createCaIfMissing?: boolean; newCaKey?: KeyStorage; cfg?: Config } = {}): Promise<T> {
  const cfg = opts.cfg ?? config();
  const log = createLogger({ logLevel: process.env.MAILCA_LOG_LEVEL ? cfg.logLevel : 'warn' });
  const fresh = isNewDatabase(cfg);
  const m = await openMailca(cfg, { log, createCaIfMissing: opts.createCaIfMissing, newCaKey: opts.newCaKey });
  if (fresh) sayCreatedDatabase(cfg);
  if (!opts.createCaIfMissing && !(await m.store.cas.findActive())) {
    console.error(`mailca: warning: the database ${databaseName(cfg)} has no CA: is the server using another ${cfg.databaseUrl ? 'DATABASE_URL' : 'MAILCA_DATA_DIR'}? ("mailca init" creates one here)`);
  }
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const choice = (name: string, allowed: readonly string[]) => (v: string) => {
  if (!allowed.includes(v)) throw new InvalidArgumentError(`${name} must be one of: ${allowed.join(', ')}`);
  return v;
};

/** Where `--pkcs11` puts a new CA key. */
export const keyStorageFlag = (pkcs11: boolean | undefined): KeyStorage => (pkcs11 ? 'pkcs11' : 'file');

export const PKCS11_FLAG_HELP = 'make the CA key in the PKCS#11 token (MAILCA_PKCS11_MODULE, _TOKEN_LABEL, _PIN or _PIN_FILE, _KEY_LABEL), or use the key pair with that label';

/** ", key in PKCS#11 token "T" (label "K")" for a token key; nothing for a file key. */
export function describeCaKey(ca: Pick<CaRecord, 'key'>): string {
  switch (ca.key.kind) {
    case 'file':
      return '';
    case 'pkcs11':
      return `, key in PKCS#11 token "${ca.key.tokenLabel}" (label "${ca.key.keyLabel}")`;
  }
}
