import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  CRLReason,
  Extension,
  RevokedCertificate,
  TBSCertList,
  Time,
  Version,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
} from '@peculiar/asn1-x509';
import { exactArrayBuffer } from '../../src/issuance/bytes.ts';
import { readCaCertificate } from '../../src/issuance/ca-certificate.ts';
import { derUnsignedInteger } from '../../src/issuance/der.ts';
import { authorityKeyIdentifierExtension } from '../../src/issuance/extensions.ts';
import { signatureAlgorithmFor, type KeyAlgorithm } from '../../src/issuance/signer.ts';

// The CRL construction mailca used before entries were encoded by hand, kept as the reference the hand-written
// DER is compared with byte for byte. Inputs are taken as given (no policy checks): callers pass whole-second
// dates and the serial's INTEGER content octets (minimal two's complement).

function reasonCodeExtension(code: number): Extension {
  return new Extension({ extnID: id_ce_cRLReasons, critical: false, extnValue: new OctetString(AsnConvert.serialize(new CRLReason(code))) });
}

export interface ReferenceEntry {
  serialContent: Uint8Array;
  revokedAt: Date;
  /** undefined: no crlEntryExtensions. */
  reasonCode: number | undefined;
}

export function referenceRevokedCertificate(entry: ReferenceEntry): RevokedCertificate {
  return new RevokedCertificate({
    userCertificate: exactArrayBuffer(entry.serialContent),
    revocationDate: new Time(entry.revokedAt),
    crlEntryExtensions: entry.reasonCode === undefined ? undefined : [reasonCodeExtension(entry.reasonCode)],
  });
}

export function referenceEntryDer(entry: ReferenceEntry): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(referenceRevokedCertificate(entry)));
}

export function referenceTbsCertList(opts: {
  keyAlgorithm: KeyAlgorithm;
  caCertificateDer: Uint8Array;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: readonly ReferenceEntry[];
}): Uint8Array {
  const ca = readCaCertificate(opts.caCertificateDer);
  const revoked = opts.entries.map(referenceRevokedCertificate);
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: signatureAlgorithmFor(opts.keyAlgorithm),
    issuer: ca.subject,
    thisUpdate: new Time(opts.thisUpdate),
    nextUpdate: new Time(opts.nextUpdate),
    revokedCertificates: revoked.length > 0 ? revoked : undefined,
    crlExtensions: [
      authorityKeyIdentifierExtension(ca.subjectKeyIdentifier),
      new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(derUnsignedInteger(opts.crlNumber)) }),
    ],
  });
  return new Uint8Array(AsnConvert.serialize(tbs));
}
