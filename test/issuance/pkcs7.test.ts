import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentInfo, SignedData, id_data, id_signedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import { afterAll, describe, expect, it } from 'vitest';
import { derOid } from '../../src/issuance/der.ts';
import { certsOnlyPkcs7 } from '../../src/issuance/pkcs7.ts';
import { openssl } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'mailca-pkcs7-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function selfSigned(name: string): Uint8Array {
  const der = join(dir, `${name}.der`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-subj', `/CN=${name}`, '-days', '1', '-outform', 'DER', '-out', der]);
  return new Uint8Array(readFileSync(der));
}

describe('certs-only PKCS#7', () => {
  const certs = [selfSigned('first'), selfSigned('second')];
  const p7 = certsOnlyPkcs7(certs);

  it('is a SignedData without signers that @peculiar/asn1-cms reads, holding the certificates byte for byte in order', () => {
    const info = AsnConvert.parse(p7, ContentInfo);
    expect(info.contentType).toBe(id_signedData);
    const signed = AsnConvert.parse(info.content, SignedData);
    expect(signed.version).toBe(1);
    expect(signed.digestAlgorithms).toHaveLength(0);
    expect(signed.signerInfos).toHaveLength(0);
    expect(signed.encapContentInfo.eContentType).toBe(id_data);
    expect(signed.encapContentInfo.eContent).toBeUndefined();
    const inside = (signed.certificates ?? []).map((c) => new Uint8Array(AsnConvert.serialize(c.certificate!)));
    expect(inside.map((c) => Buffer.from(c).toString('hex'))).toEqual(certs.map((c) => Buffer.from(c).toString('hex')));
  });

  it('openssl pkcs7 prints both certificates, first first', () => {
    const file = join(dir, 'p7.der');
    writeFileSync(file, p7);
    const out = openssl(['pkcs7', '-inform', 'DER', '-in', file, '-print_certs', '-noout']);
    expect([...out.matchAll(/^subject=(.*)$/gm)].map((m) => m[1])).toEqual(['CN = first', 'CN = second']);
  });

  it('derOid encodes as openssl asn1parse -genstr does', () => {
    for (const oid of ['1.2.840.113549.1.7.2', '1.2.840.10045.3.1.7', '1.3.132.0.34', '2.5.29.17', '2.999.16384', '0.39']) {
      const file = join(dir, `oid-${oid}.der`);
      openssl(['asn1parse', '-genstr', `OID:${oid}`, '-noout', '-out', file]);
      const reference = readFileSync(file);
      expect(Buffer.from(derOid(oid)).toString('hex'), oid).toBe(Buffer.from(reference).toString('hex'));
    }
    expect(() => derOid('3.1')).toThrow();
    expect(() => derOid('1.40')).toThrow();
  });
});
