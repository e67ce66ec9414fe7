import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPkcs12, type Pkcs12Format } from '../../web/src/pkcs12/index.ts';

// Real tools only: OpenSSL 3 CLI and NSS (pk12util/certutil, Thunderbird's library) read what we build.

interface Run {
  status: number | null;
  out: string; // stdout + stderr: `openssl pkcs12 -info` prints its info lines on stderr
}

function run(cmd: string, args: string[]): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function ok(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.out}`);
  return r.out;
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

const subtle = globalThis.crypto.subtle;
const FRIENDLY_NAME = 'alice@example.test (Laptop Thunderbird)';
const PASSWORD = 'pässwörd';

type KeyType = 'P-256' | 'RSA-2048';

interface Leaf {
  keyType: KeyType;
  pkcs8: Uint8Array;
  certPem: string;
  certDer: Uint8Array;
}

interface Built {
  name: string;
  keyType: KeyType;
  format: Pkcs12Format;
  password: string;
  file: string;
  certPem: string;
  ms: number;
}

let dir = '';
let caDer: Uint8Array;
const built: Built[] = [];

async function makeLeaf(keyType: KeyType): Promise<Leaf> {
  const pair =
    keyType === 'P-256'
      ? await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
      : await subtle.generateKey(
          { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
          true,
          ['sign', 'verify'],
        );
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
  const base = path.join(dir, keyType);
  fs.writeFileSync(`${base}.key.pem`, pem('PRIVATE KEY', pkcs8), { mode: 0o600 });
  ok('openssl', ['req', '-new', '-key', `${base}.key.pem`, '-subj', `/CN=alice@example.test ${keyType}`, '-out', `${base}.csr`]);
  ok('openssl', [
    'x509', '-req', '-in', `${base}.csr`, '-CA', path.join(dir, 'ca.pem'), '-CAkey', path.join(dir, 'ca.key'),
    '-set_serial', keyType === 'P-256' ? '2' : '3', '-days', '30', '-sha256', '-out', `${base}.crt`,
  ]);
  ok('openssl', ['x509', '-in', `${base}.crt`, '-outform', 'DER', '-out', `${base}.der`]);
  return { keyType, pkcs8, certPem: `${base}.crt`, certDer: fs.readFileSync(`${base}.der`) };
}

async function build(leaf: Leaf, format: Pkcs12Format, password: string): Promise<Built> {
  const name = `${leaf.keyType} ${format} ${password === '' ? 'empty password' : JSON.stringify(password)}`;
  const t0 = performance.now();
  const p12 = await buildPkcs12({
    privateKeyPkcs8: leaf.pkcs8,
    certificateDer: leaf.certDer,
    chainDer: [caDer],
    password,
    friendlyName: FRIENDLY_NAME,
    format,
  });
  const ms = performance.now() - t0;
  const file = path.join(dir, `${leaf.keyType}-${format}-${password === '' ? 'empty' : 'pw'}.p12`);
  fs.writeFileSync(file, p12);
  return { name, keyType: leaf.keyType, format, password, file, certPem: leaf.certPem, ms };
}

function opensslPkcs12(b: Built, password: string, extra: string[]): Run {
  return run('openssl', ['pkcs12', '-in', b.file, '-passin', `pass:${password}`, ...(b.format === 'legacy' ? ['-legacy'] : []), ...extra]);
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailca-pkcs12-'));
  ok('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'ca.key'),
    '-subj', '/CN=mailca test CA', '-days', '30', '-sha256', '-out', path.join(dir, 'ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  ok('openssl', ['x509', '-in', path.join(dir, 'ca.pem'), '-outform', 'DER', '-out', path.join(dir, 'ca.der')]);
  caDer = fs.readFileSync(path.join(dir, 'ca.der'));

  const leaves = await Promise.all([makeLeaf('P-256'), makeLeaf('RSA-2048')]);
  // Sequential so the timings are not skewed by each other.
  for (const leaf of leaves) {
    for (const format of ['modern', 'legacy'] as const) built.push(await build(leaf, format, PASSWORD));
  }
  for (const format of ['modern', 'legacy'] as const) built.push(await build(leaves[0]!, format, ''));
  for (const b of built) console.log(`buildPkcs12 ${b.name}: ${b.ms.toFixed(0)} ms`);
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// describe.each needs the cases before beforeAll runs, so cases are looked up by index.
const CASES = [
  'P-256 modern', 'P-256 legacy', 'RSA-2048 modern', 'RSA-2048 legacy', 'P-256 modern (empty password)', 'P-256 legacy (empty password)',
].map((label, index) => ({ label, index }));

describe.each(CASES)('PKCS#12 $label', ({ index }) => {
  const b = (): Built => built[index]!;

  it('opens with openssl pkcs12 -info: key, leaf and CA certificate, attributes, expected algorithms', () => {
    const r = opensslPkcs12(b(), b().password, ['-info', '-nodes']);
    expect(r.status, r.out).toBe(0);
    expect(count(r.out, '-----BEGIN PRIVATE KEY-----')).toBe(1);
    expect(count(r.out, '-----BEGIN CERTIFICATE-----')).toBe(2);
    expect(r.out).toContain('issuer=CN = mailca test CA');
    expect(r.out).toContain('subject=CN = mailca test CA');
    expect(count(r.out, `friendlyName: ${FRIENDLY_NAME}`)).toBe(2);
    expect(count(r.out, 'localKeyID:')).toBe(2);
    expect(r.out).toContain('Bag Attributes: <No Attributes>'); // the CA certificate
    if (b().format === 'legacy') {
      expect(r.out).toContain('PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048');
      expect(r.out).toContain('Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048');
      expect(r.out).toContain('MAC: sha1, Iteration 2048');
    } else {
      const pbes2 = /PBES2, PBKDF2, AES-256-CBC, Iteration (\d+), PRF hmacWithSHA256/;
      expect(r.out).toMatch(new RegExp(`PKCS7 Encrypted data: ${pbes2.source}`));
      expect(r.out).toMatch(new RegExp(`Shrouded Keybag: ${pbes2.source}`));
      expect(Number(pbes2.exec(r.out)?.[1])).toBeGreaterThanOrEqual(100_000);
      expect(r.out).toContain('MAC: sha256, Iteration 2048');
    }
  });

  it('refuses a wrong password (OpenSSL and NSS)', () => {
    const r = opensslPkcs12(b(), 'wrong password', ['-info', '-nodes']);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/Mac verify error/);
    const db = fs.mkdtempSync(path.join(dir, 'nss-wrong-'));
    ok('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
    expect(run('pk12util', ['-i', b().file, '-d', `sql:${db}`, '-W', 'wrong password']).status).not.toBe(0);
  });

  it('holds the private key of the certificate', () => {
    const keyOut = opensslPkcs12(b(), b().password, ['-nocerts', '-nodes']);
    expect(keyOut.status, keyOut.out).toBe(0);
    const keyFile = `${b().file}.key.pem`;
    fs.writeFileSync(keyFile, keyOut.out.slice(keyOut.out.indexOf('-----BEGIN PRIVATE KEY-----')), { mode: 0o600 });
    const fromKey = ok('openssl', ['pkey', '-in', keyFile, '-pubout']);
    const fromCert = ok('openssl', ['x509', '-in', b().certPem, '-pubkey', '-noout']);
    expect(fromKey).toContain('-----BEGIN PUBLIC KEY-----');
    expect(fromKey).toBe(fromCert);
    const keyText = ok('openssl', ['pkey', '-in', keyFile, '-noout', '-text']);
    expect(keyText).toContain(b().keyType === 'P-256' ? 'NIST CURVE: P-256' : 'Private-Key: (2048 bit');
  });

  it('imports into NSS (pk12util) with the key paired to the certificate', () => {
    const db = fs.mkdtempSync(path.join(dir, 'nss-'));
    ok('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
    const imp = run('pk12util', ['-i', b().file, '-d', `sql:${db}`, '-W', b().password]);
    expect(imp.status, imp.out).toBe(0);
    const keys = ok('certutil', ['-K', '-d', `sql:${db}`]);
    expect(keys).toMatch(new RegExp(`<\\s*0>\\s+${b().keyType === 'P-256' ? 'ec' : 'rsa'}\\s+[0-9a-f]{40}\\s+${FRIENDLY_NAME.replace(/[()]/g, '\\$&')}`));
    const certs = ok('certutil', ['-L', '-d', `sql:${db}`]);
    expect(certs).toMatch(new RegExp(`${FRIENDLY_NAME.replace(/[()]/g, '\\$&')}\\s+u,u,u`)); // u = has its private key
    expect(certs).toContain('mailca test CA');
  });
});

describe('buildPkcs12 input checks', () => {
  it('rejects an unknown format and an empty key', async () => {
    const base = { privateKeyPkcs8: new Uint8Array([1]), certificateDer: new Uint8Array([1]), chainDer: [], password: 'x', friendlyName: 'x' };
    await expect(buildPkcs12({ ...base, format: 'pem' as Pkcs12Format })).rejects.toThrow(/unknown PKCS#12 format/);
    await expect(buildPkcs12({ ...base, privateKeyPkcs8: new Uint8Array(0), format: 'modern' })).rejects.toThrow(/empty/);
  });
});
