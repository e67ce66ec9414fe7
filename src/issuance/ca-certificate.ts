import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  Name,
  SubjectKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { bytesEqual } from './bytes.ts';
import { derChildren } from './der.ts';

/** What issuing under a CA certificate needs from it. */
export interface CaCertificateInfo {
  /** Parsed subject; re-encodes to exactly subjectDer (checked), so it can be used as the issuer Name. */
  subject: Name;
  subjectDer: Uint8Array;
  subjectPublicKeySpki: Uint8Array;
  subjectKeyIdentifier: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

export function readCaCertificate(der: Uint8Array): CaCertificateInfo {
  const certificate = AsnConvert.parse(der, Certificate);
  const tbs = certificate.tbsCertificate;
  const tbsRaw = certificate.tbsCertificateRaw;
  if (!tbsRaw) throw new Error('CA certificate: TBSCertificate bytes not available');

  // TBSCertificate children: [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, …
  const fields = derChildren(new Uint8Array(tbsRaw));
  const offset = fields[0]?.[0] === 0xa0 ? 1 : 0;
  const subjectDer = fields[offset + 4];
  const subjectPublicKeySpki = fields[offset + 5];
  if (!subjectDer || !subjectPublicKeySpki) throw new Error('CA certificate: malformed TBSCertificate');
  if (!bytesEqual(new Uint8Array(AsnConvert.serialize(tbs.subject)), subjectDer)) {
    throw new Error('CA certificate: subject Name does not re-encode identically; refusing to issue under it');
  }

  const extensions = tbs.extensions ?? [];
  const basicConstraintsExt = extensions.find((e) => e.extnID === id_ce_basicConstraints);
  if (!basicConstraintsExt || !AsnConvert.parse(basicConstraintsExt.extnValue, BasicConstraints).cA) {
    throw new Error('CA certificate: basicConstraints CA:TRUE is missing');
  }
  const skiExt = extensions.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (!skiExt) throw new Error('CA certificate: subjectKeyIdentifier extension is missing');
  const subjectKeyIdentifier = new Uint8Array(AsnConvert.parse(skiExt.extnValue, SubjectKeyIdentifier).buffer);

  return {
    subject: tbs.subject,
    subjectDer: subjectDer.slice(),
    subjectPublicKeySpki: subjectPublicKeySpki.slice(),
    subjectKeyIdentifier,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
  };
}
