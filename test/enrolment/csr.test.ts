import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CSR_BYTES, checkCsr, type CheckedCsr } from '../../src/enrolment/csr.ts';
import { InvalidCsr } from '../../src/errors.ts';
import { derChildren, derSequence, derTlv } from '../../src/issuance/der.ts';
import { derChildElements, readDerElement, type DerElement } from '../../src/issuance/der-reader.ts';
import { makeTempDir, type TempDir } from '../issuance/helpers.ts';
import { referenceCheckCsr } from './csr-reference.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

x509.cryptoProvider.set(globalThis.crypto);

const CSR_ERROR_CODES = new Set(['csr_malformed', 'csr_signature_invalid', 'csr_key_unsupported', 'csr_too_large']);

let tmp: TempDir;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.remove());

function run(command: string, args: string[]): Buffer {
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

interface OpensslCsrOptions {
  /** `openssl genpkey` arguments for the key, or an existing key file. */
  key: string[] | { file: string };
  digest?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  compressed?: boolean;
}

let counter = 0;
/** A CSR made by the openssl CLI, PEM, with a subject and an extension request. */
function opensslCsr(opts: OpensslCsrOptions): { pem: string; keyFile: string } {
  const name = `k${counter++}`;
  let keyFile = 'file' in opts.key ? opts.key.file : tmp.write(`${name}.key`, run('openssl', ['genpkey', ...opts.key]));
  if (opts.compressed) {
    const compressed = `${tmp.path}/${name}-compressed.key`;
    run('openssl', ['ec', '-in', keyFile, '-conv_form', 'compressed', '-out', compressed]);
    keyFile = compressed;
  }
  const csrFile = `${tmp.path}/${name}.csr`;
  run('openssl', ['req', '-new', '-key', keyFile, `-${opts.digest ?? 'sha256'}`, '-subj', '/O=Example/CN=someone@example.test', '-addext', 'subjectAltName=email:other@evil.test', '-out', csrFile]);
  return { pem: readFileSync(csrFile, 'utf8'), keyFile };
}

const EC_P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const EC_P384 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
const rsa = (bits: number, exponent?: number) => ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, ...(exponent ? ['-pkeyopt', `rsa_keygen_pubexp:${exponent}`] : [])];

function derOf(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

async function outcome(input: string | Uint8Array): Promise<CheckedCsr | InvalidCsr> {
  try {
    return await checkCsr(input);
  } catch (error) {
    if (error instanceof InvalidCsr) return error;
    throw error;
  }
}

async function refusal(input: string | Uint8Array): Promise<string> {
  const result = await outcome(input);
  if (!(result instanceof InvalidCsr)) throw new Error('expected the CSR to be refused');
  return result.code;
}

/** A CSR from @peculiar/x509 and WebCrypto, as the portal makes them. */
async function portalCsr(algorithm: 'ECDSA-P-256' | 'ECDSA-P-384' | 'RSA-2048'): Promise<string> {
  const params =
    algorithm === 'RSA-2048'
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 }
      : { name: 'ECDSA', namedCurve: algorithm === 'ECDSA-P-256' ? 'P-256' : 'P-384', hash: algorithm === 'ECDSA-P-256' ? 'SHA-256' : 'SHA-384' };
  const keys = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=portal user', keys, signingAlgorithm: params });
  return csr.toString('pem');
}

describe('checkCsr on valid requests, against the @peculiar/x509 reference', () => {
  const cases: [string, () => Promise<string>][] = [
    ['openssl P-256', async () => opensslCsr({ key: EC_P256 }).pem],
    ['openssl P-384 SHA-384', async () => opensslCsr({ key: EC_P384, digest: 'sha384' }).pem],
    ['openssl P-256 signed with SHA-384', async () => opensslCsr({ key: EC_P256, digest: 'sha384' }).pem],
    ['openssl P-256 compressed point', async () => opensslCsr({ key: EC_P256, compressed: true }).pem],
    ['openssl P-384 compressed point', async () => opensslCsr({ key: EC_P384, compressed: true }).pem],
    ['openssl RSA 2048', async () => opensslCsr({ key: rsa(2048) }).pem],
    ['openssl RSA 2048 SHA-512', async () => opensslCsr({ key: rsa(2048), digest: 'sha512' }).pem],
    ['openssl RSA 3072 SHA-384', async () => opensslCsr({ key: rsa(3072), digest: 'sha384' }).pem],
    ['openssl RSA 4096', async () => opensslCsr({ key: rsa(4096) }).pem],
    ['openssl RSA 2048 exponent 3', async () => opensslCsr({ key: rsa(2048, 3) }).pem],
    ['portal ECDSA P-256', () => portalCsr('ECDSA-P-256')],
    ['portal ECDSA P-384', () => portalCsr('ECDSA-P-384')],
    ['portal RSA 2048', () => portalCsr('RSA-2048')],
  ];

  it.each(cases)('%s: same key, fingerprint and description in every input form', async (_name, make) => {
    const pem = await make();
    const der = derOf(pem);
    const expected = await referenceCheckCsr(pem);
    const base64 = Buffer.from(der).toString('base64');
    const forms: (string | Uint8Array)[] = [
      pem,
      pem.replaceAll('\n', '\r\n'),
      pem.replaceAll('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'),
      `Certificate Request:\n    Data: as openssl req -text prints it\n${pem}\n\n`,
      base64,
      (base64.match(/.{1,64}/g) ?? []).join('\n'),
      der,
      Buffer.from(der),
      new TextEncoder().encode(pem),
    ];
    for (const form of forms) expect(await checkCsr(form)).toEqual(expected);
    // The canonical key is what the certificate holds: uncompressed EC point, RSA with NULL parameters.
    const spkiHex = Buffer.from(expected.subjectPublicKeySpki).toString('hex');
    if (expected.keyDescription.startsWith('ECDSA')) expect(spkiHex).toMatch(/03(?:42|62)0004[0-9a-f]+$/);
    else expect(spkiHex).toContain('300d06092a864886f70d0101010500');
  });

  it('takes the public key from the request and nothing else', async () => {
    const { pem, keyFile } = opensslCsr({ key: EC_P256 });
    const key = run('openssl', ['pkey', '-in', keyFile, '-pubout', '-outform', 'DER']);
    const checked = await checkCsr(pem);
    expect(Buffer.from(checked.subjectPublicKeySpki).equals(key)).toBe(true);
    expect(checked.keyDescription).toBe('ECDSA P-256');
  });
});

describe('checkCsr refusals', () => {
  it.each([
    ['RSA 1024', rsa(1024)],
    ['P-521', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521']],
    ['Ed25519', ['-algorithm', 'ED25519']],
    ['secp256k1', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1']],
    ['RSA with exponent 2^32+1', rsa(2048, 4294967297)],
  ])('refuses a %s key with csr_key_unsupported', async (_name, key) => {
    expect(await refusal(opensslCsr({ key }).pem)).toBe('csr_key_unsupported');
  });

  it('refuses SHA-1 signatures (not an accepted algorithm)', async () => {
    expect(await refusal(opensslCsr({ key: rsa(2048), digest: 'sha1' }).pem)).toBe('csr_signature_invalid');
  });

  it('refuses tampered requests and mismatched signature algorithms with csr_signature_invalid', async () => {
    const ecDer = derOf(opensslCsr({ key: EC_P256 }).pem);
    const rsaDer = derOf(opensslCsr({ key: rsa(2048) }).pem);
    const tampered = Buffer.from(ecDer);
    const at = tampered.indexOf(Buffer.from('someone'));
    tampered[at] = tampered[at]! ^ 0x01;
    expect(await refusal(tampered)).toBe('csr_signature_invalid');

    const [ecInfo, , ecSignature] = derChildren(ecDer);
    const [rsaInfo, , rsaSignature] = derChildren(rsaDer);
    const oid = (hex: string) => derTlv(0x06, Uint8Array.from(Buffer.from(hex, 'hex')));
    const ecdsaSha256 = oid('2a8648ce3d040302');
    const ecdsaSha384 = oid('2a8648ce3d040303');
    const rsaSha256 = oid('2a864886f70d01010b');
    const NULL = Uint8Array.of(0x05, 0x00);
    // An RSA request claiming ECDSA, an EC request claiming RSA, the wrong hash, parameters where there are none.
    expect(await refusal(derSequence(rsaInfo!, derSequence(ecdsaSha256), rsaSignature!))).toBe('csr_signature_invalid');
    expect(await refusal(derSequence(ecInfo!, derSequence(rsaSha256, NULL), ecSignature!))).toBe('csr_signature_invalid');
    expect(await refusal(derSequence(ecInfo!, derSequence(ecdsaSha384), ecSignature!))).toBe('csr_signature_invalid');
    expect(await refusal(derSequence(ecInfo!, derSequence(ecdsaSha256, NULL), ecSignature!))).toBe('csr_signature_invalid');
    // RSA parameters absent are tolerated; the original (NULL) and the rebuilt request both verify.
    expect(await outcome(derSequence(rsaInfo!, derSequence(rsaSha256), rsaSignature!))).not.toBeInstanceOf(InvalidCsr);
    expect(await outcome(derSequence(ecInfo!, derSequence(ecdsaSha256), ecSignature!))).not.toBeInstanceOf(InvalidCsr);
  });

  it('refuses what is not strict DER, or has anything after the request, with csr_malformed', async () => {
    const pem = opensslCsr({ key: EC_P256 }).pem;
    const der = derOf(pem);
    const content = der.subarray(readDerElement(der, 0).contentStart);
    const withLength = (lengthOctets: number[]) => Uint8Array.from([0x30, ...lengthOctets, ...content]);
    const cases: [string, string | Uint8Array][] = [
      ['trailing byte after the DER', Uint8Array.from([...der, 0])],
      ['trailing text after the PEM block', `${pem}garbage\n`],
      ['a second PEM block', `${pem}${pem}`],
      ['no END line', pem.replace(/-----END[^\n]*\n/, '')],
      ['mismatched END label', pem.replace('END CERTIFICATE REQUEST', 'END NEW CERTIFICATE REQUEST')],
      ['a character outside base64', pem.replace(/\n(.)/, '\n*$1')],
      ['padding in the middle', pem.replace(/\n(....)/, '\n$1==')],
      ['indefinite length', Uint8Array.from([0x30, 0x80, ...content, 0x00, 0x00])],
      ['non-minimal long-form length', withLength([0x83, 0x00, (content.length >> 8) & 0xff, content.length & 0xff])],
      ['long form for a short length', Uint8Array.from([0x30, 0x81, 0x05, 0x02, 0x01, 0x00, 0x05, 0x00])],
      ['a bare SEQUENCE', Uint8Array.of(0x30, 0x00)],
      ['an empty string', ''],
      ['PEM armour around junk', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'],
      ['a certificate instead of a request', `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`],
      ['deep nesting', Uint8Array.from([...Array.from({ length: 40 }, (_, i) => [0x30, 2 * (40 - i - 1)]).flat()])],
    ];
    // Base64 whose unused final bits are set decodes to the same bytes, but is not the canonical encoding.
    for (const extra of [[], [0x00], [0x00, 0x00]]) {
      const padded = Buffer.from([...der, ...extra]).toString('base64');
      if (!padded.endsWith('=')) continue;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const last = padded.replace(/=+$/, '').length - 1;
      cases.push(['non-canonical final base64 bits', `${padded.slice(0, last)}${alphabet[alphabet.indexOf(padded[last]!) + 1]}${padded.slice(last + 1)}`]);
    }
    for (const [name, input] of cases) expect(await refusal(input), name).toBe('csr_malformed');
  });

  it('refuses oversized input with csr_too_large', async () => {
    expect(await refusal('A'.repeat(MAX_CSR_BYTES + 1))).toBe('csr_too_large');
    expect(await refusal(new Uint8Array(MAX_CSR_BYTES + 1))).toBe('csr_too_large');
  });
});


/** Offsets of every element header in a DER encoding (to aim mutations at tags and lengths). */
function headerOffsets(der: Uint8Array): DerElement[] {
  const out: DerElement[] = [];
  const walk = (element: DerElement) => {
    out.push(element);
    if (element.tag & 0x20) for (const child of derChildElements(der, element)) walk(child);
  };
  walk(readDerElement(der, 0));
  return out;
}

function mutate(der: Uint8Array, headers: DerElement[], random: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  const bytes = Uint8Array.from(der);
  const header = headers[pick(headers.length)]!;
  switch (pick(8)) {
    case 0: {
      for (let flips = 1 + pick(4); flips > 0; flips--) bytes[pick(bytes.length)]! ^= 1 << pick(8);
      return bytes;
    }
    case 1:
      return bytes.subarray(0, pick(bytes.length));
    case 2: {
      const lengthAt = header.start + 1;
      const choices = [bytes[lengthAt]! + 1, bytes[lengthAt]! - 1, 0x80, 0x81, 0x82, 0x84, 0xff, pick(256)];
      bytes[lengthAt] = choices[pick(choices.length)]! & 0xff;
      return bytes;
    }
    case 3: {
      // Re-encode one length in a longer (non-minimal) form.
      const length = header.end - header.contentStart;
      const lengthAt = header.start + 1;
      const longForm = [0x82, (length >> 8) & 0xff, length & 0xff];
      return Uint8Array.from([...bytes.subarray(0, lengthAt), ...longForm, ...bytes.subarray(header.contentStart)]);
    }
    case 4:
      return Uint8Array.from([...bytes, ...Array.from({ length: 1 + pick(8) }, () => pick(256))]);
    case 5:
      bytes[header.start] = pick(256);
      return bytes;
    case 6: {
      const at = pick(bytes.length);
      return random() < 0.5 ? Uint8Array.from([...bytes.subarray(0, at), pick(256), ...bytes.subarray(at)]) : Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
    }
    default: {
      // One element's first length octet copied onto another's.
      const other = headers[pick(headers.length)]!;
      bytes[other.start + 1] = bytes[header.start + 1]!;
      return bytes;
    }
  }
}

function mutatePem(pem: string, random: () => number): string {
  const pick = (n: number) => Math.floor(random() * n);
  const at = pick(pem.length);
  switch (pick(4)) {
    case 0:
      return `${pem.slice(0, at)}${String.fromCharCode(pick(128))}${pem.slice(at)}`;
    case 1:
      return `${pem.slice(0, at)}${pem.slice(at + 1)}`;
    case 2:
      return pem.slice(0, at);
    default:
      return `${pem}${String.fromCharCode(33 + pick(90))}`;
  }
}

describe('checkCsr under mutation', () => {
  const MUTATIONS_PER_KEY = 1200;
  const keyTypes: [string, string[], number][] = [
    ['P-256', EC_P256, 0xc5a0256],
    ['P-384', EC_P384, 0xc5a0384],
    ['RSA 2048', rsa(2048), 0xc5a2048],
  ];

  it.each(keyTypes)('%s: every mutated request is a CheckedCsr or an InvalidCsr, and accepted ones match the reference', async (_name, key, seed) => {
    const pem = opensslCsr({ key }).pem;
    const der = derOf(pem);
    const headers = headerOffsets(der);
    const random = seededRandom(seed);
    const codes = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < MUTATIONS_PER_KEY; i++) {
      const input = i % 5 === 4 ? mutatePem(pem, random) : mutate(der, headers, random);
      const result = await outcome(input);
      if (result instanceof InvalidCsr) {
        expect(CSR_ERROR_CODES.has(result.code), result.code).toBe(true);
        codes.set(result.code, (codes.get(result.code) ?? 0) + 1);
      } else {
        accepted++;
        // Anything the strict reader accepts, the old parser accepted too, with the same key.
        expect(await referenceCheckCsr(input)).toEqual(result);
      }
    }
    // The mutations reach every layer: encoding, structure and signature.
    expect(codes.get('csr_malformed') ?? 0).toBeGreaterThan(MUTATIONS_PER_KEY / 4);
    expect(codes.get('csr_signature_invalid') ?? 0).toBeGreaterThan(10);
    expect(accepted).toBeLessThan(MUTATIONS_PER_KEY / 4);
  }, 120_000);
});
