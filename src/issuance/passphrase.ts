import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

export const PASSPHRASE_FILE = 'ca-passphrase';

export interface PassphraseSource {
  passphrase: string;
  /** Set when the passphrase was generated just now: the operator must be told loudly. */
  generatedFile?: string;
}

/**
 * MAILCA_CA_PASSPHRASE if set; else the passphrase file in the data dir. With `allowGenerate`
 * (first run, no CA yet) a missing file is created with mode 0600.
 */
export function resolveCaPassphrase(opts: { configured?: string; dataDir: string; allowGenerate: boolean }): PassphraseSource {
  if (opts.configured) return { passphrase: opts.configured };
  const file = path.join(opts.dataDir, PASSPHRASE_FILE);
  if (existsSync(file)) {
    const passphrase = readFileSync(file, 'utf8').trim();
    if (passphrase.length < 12) throw new ConfigError('ca_passphrase', `${file} holds a passphrase shorter than 12 characters`);
    return { passphrase };
  }
  if (!opts.allowGenerate) {
    throw new ConfigError('ca_passphrase', `no CA passphrase: set MAILCA_CA_PASSPHRASE or restore ${file}`);
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const passphrase = randomBytes(32).toString('base64url');
  writeFileSync(file, passphrase + '\n', { mode: 0o600, flag: 'wx' });
  return { passphrase, generatedFile: file };
}
