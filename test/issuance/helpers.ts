import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type LeafKeyType = 'P-256' | 'P-384' | 'RSA-2048';

const MAX_OUTPUT = 256 * 1024 * 1024; // `crl -text` of a 20k-entry CRL is a few MB

/** stdout of a successful openssl run; throws (with stderr) on a non-zero exit. */
export function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: MAX_OUTPUT });
}

/** stdout and stderr of an openssl run whatever its exit status (verify and `crl -verify` report on stderr). */
export function opensslResult(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Output of an openssl run that must succeed, stderr included. */
export function opensslAll(args: string[]): string {
  const { status, output } = opensslResult(args);
  if (status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${status}:\n${output}`);
  return output;
}

export function generateLeafKey(type: LeafKeyType): KeyObject {
  if (type === 'RSA-2048') return generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  return generateKeyPairSync('ec', { namedCurve: type }).publicKey;
}

export function spkiOf(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
}

export interface TempDir {
  path: string;
  write(name: string, contents: string | Uint8Array): string;
  remove(): void;
}

export function makeTempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'mailca-issuance-'));
  return {
    path,
    write(name, contents) {
      const file = join(path, name);
      writeFileSync(file, contents);
      return file;
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export const DAY_MS = 86_400_000;
