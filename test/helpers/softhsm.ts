import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  dir: string;
  /** The SoftHSM2 config naming this token store (SOFTHSM2_CONF). */
  conf: string;
  module: string;
  label: string;
  pin: string;
  /** SOFTHSM2_CONF plus the MAILCA_PKCS11_* variables for a child process (add MAILCA_PKCS11_KEY_LABEL). */
  env: Record<string, string>;
  /** The same as config keys, for testConfig(). */
  config: { pkcs11Module: string; pkcs11TokenLabel: string; pkcs11Pin: string };
  /** Runs the real pkcs11-tool (OpenSC) against this token, logged in. */
  pkcs11Tool(args: string[]): string;
  remove(): void;
}

/**
 * A private SoftHSM2 token store in a temporary directory with one initialised token. The PKCS#11
 * module reads SOFTHSM2_CONF when it is initialised, once per process: this sets it for the current
 * process too, so use one token store per test file.
 */
export function createSoftHsmToken(label = 'mailca', pin = '87654321'): SoftHsmToken {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-softhsm-'));
  mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '12345678', '--pin', pin], { env, stdio: 'pipe' });
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    module: SOFTHSM_MODULE,
    label,
    pin,
    env: { SOFTHSM2_CONF: conf, MAILCA_PKCS11_MODULE: SOFTHSM_MODULE, MAILCA_PKCS11_TOKEN_LABEL: label, MAILCA_PKCS11_PIN: pin },
    config: { pkcs11Module: SOFTHSM_MODULE, pkcs11TokenLabel: label, pkcs11Pin: pin },
    pkcs11Tool: (args) => execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', label, '--login', '--pin', pin, ...args], { env, encoding: 'utf8', stdio: 'pipe' }),
    remove() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** pkcs11-tool's listing of the private keys with this label: one block per key. */
export function privateKeyBlocks(token: SoftHsmToken, keyLabel: string): string[] {
  return token
    .pkcs11Tool(['--list-objects', '--type', 'privkey'])
    .split(/(?=Private Key Object)/)
    .filter((block) => new RegExp(`label:\\s+${keyLabel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm').test(block));
}
