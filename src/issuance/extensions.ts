import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { exactArrayBuffer } from './bytes.ts';

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifierOf(subjectPublicKey: ArrayBuffer): Uint8Array {
  return new Uint8Array(createHash('sha1').update(new Uint8Array(subjectPublicKey)).digest());
}

export function basicConstraintsExtension(ca: boolean): Extension {
  const value = ca ? new BasicConstraints({ cA: true, pathLenConstraint: 0 }) : new BasicConstraints({ cA: false });
  return extension(id_ce_basicConstraints, true, value);
}

export function keyUsageExtension(flags: number): Extension {
  return extension(id_ce_keyUsage, true, new KeyUsage(flags));
}

export const caKeyUsageFlags = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

export function leafKeyUsageFlags(subjectKeyIsRsa: boolean): number {
  return KeyUsageFlags.digitalSignature | (subjectKeyIsRsa ? KeyUsageFlags.keyEncipherment : 0);
}

export function subjectKeyIdentifierExtension(keyIdentifier: Uint8Array): Extension {
  return extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(exactArrayBuffer(keyIdentifier)));
}

export function authorityKeyIdentifierExtension(keyIdentifier: Uint8Array): Extension {
  const value = new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(exactArrayBuffer(keyIdentifier)) });
  return extension(id_ce_authorityKeyIdentifier, false, value);
}

export function emailSubjectAltNameExtension(email: string): Extension {
  return extension(id_ce_subjectAltName, false, new SubjectAlternativeName([new GeneralName({ rfc822Name: email })]));
}

export function extendedKeyUsageExtension(purposes: string[]): Extension {
  return extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage(purposes));
}

export function crlDistributionPointsExtension(uri: string): Extension {
  const point = new DistributionPoint({
    distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: uri })] }),
  });
  return extension(id_ce_cRLDistributionPoints, false, new CRLDistributionPoints([point]));
}
