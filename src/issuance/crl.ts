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
import { bytesEqual, exactArrayBuffer } from './bytes.ts';
import { readCaCertificate } from './ca-certificate.ts';
import { derUnsignedInteger } from './der.ts';
import { toPem } from './encoding.ts';
import { authorityKeyIdentifierExtension } from './extensions.ts';
import { REVOCATION_REASONS, isRevocationReason, type RevocationReason } from './revocation-reasons.ts';
import { serialToBytes } from './serial.ts';
import { signAndWrap } from './signed-object.ts';
import { signatureAlgorithmFor, type Signer } from './signer.ts';
import { assertBefore, toCertificateTime } from './validation.ts';

export interface CrlEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

// RFC 5280 5.2.3: CRL numbers are at most 20 octets.
const MAX_CRL_NUMBER = (1n << 159n) - 1n;

function crlNumberExtension(crlNumber: bigint): Extension {
  if (crlNumber < 0n || crlNumber > MAX_CRL_NUMBER) throw new Error(`CRL number ${crlNumber} is outside 0..2^159-1`);
  // Encoded by hand: asn1-x509's CRLNumber holds a JS number, which cannot carry a bigint.
  return new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(derUnsignedInteger(crlNumber)) });
}

/** One shared reasonCode extension per reason; 'unspecified' gets none (RFC 5280 5.3.1 SHOULD). */
function reasonCodeExtensions(): Map<RevocationReason, Extension[] | undefined> {
  const byReason = new Map<RevocationReason, Extension[] | undefined>();
  for (const [reason, code] of Object.entries(REVOCATION_REASONS)) {
    if (!isRevocationReason(reason)) continue;
    const extension = new Extension({
      extnID: id_ce_cRLReasons,
      critical: false,
      extnValue: new OctetString(AsnConvert.serialize(new CRLReason(code))),
    });
    byReason.set(reason, reason === 'unspecified' ? undefined : [extension]);
  }
  return byReason;
}

function revokedCertificate(entry: CrlEntry, reasonExtensions: Map<RevocationReason, Extension[] | undefined>): RevokedCertificate {
  if (!isRevocationReason(entry.reason)) throw new Error(`CRL entry ${entry.serial}: unknown reason ${JSON.stringify(entry.reason)}`);
  if (entry.reason === 'removeFromCRL') throw new Error(`CRL entry ${entry.serial}: removeFromCRL is only valid in delta CRLs`);
  return new RevokedCertificate({
    userCertificate: exactArrayBuffer(serialToBytes(entry.serial)),
    revocationDate: new Time(toCertificateTime(entry.revokedAt, `CRL entry ${entry.serial} revokedAt`)),
    crlEntryExtensions: reasonExtensions.get(entry.reason),
  });
}

/**
 * A complete v2 CRL. Linear in the number of entries: each entry is validated and converted once and the
 * TBSCertList is encoded once (unlike X509CrlGenerator, which is quadratic and emits empty entry extensions).
 */
export async function buildCrl(opts: {
  signer: Signer;
  caCertificateDer: Uint8Array;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: Iterable<CrlEntry>;
}): Promise<{ der: Uint8Array; pem: string }> {
  const ca = readCaCertificate(opts.caCertificateDer);
  if (!bytesEqual(opts.signer.publicKeySpki, ca.subjectPublicKeySpki)) {
    throw new Error("Signer key does not match the CA certificate's public key");
  }
  const thisUpdate = toCertificateTime(opts.thisUpdate, 'thisUpdate');
  const nextUpdate = toCertificateTime(opts.nextUpdate, 'nextUpdate');
  assertBefore(thisUpdate, nextUpdate, 'thisUpdate', 'nextUpdate');

  const reasonExtensions = reasonCodeExtensions();
  const seenSerials = new Set<string>();
  const revoked: RevokedCertificate[] = [];
  for (const entry of opts.entries) {
    if (seenSerials.has(entry.serial)) throw new Error(`CRL entry ${entry.serial} appears twice`);
    seenSerials.add(entry.serial);
    revoked.push(revokedCertificate(entry, reasonExtensions));
  }

  const tbs = new TBSCertList({
    version: Version.v2,
    signature: signatureAlgorithmFor(opts.signer.keyAlgorithm),
    issuer: ca.subject,
    thisUpdate: new Time(thisUpdate),
    nextUpdate: new Time(nextUpdate),
    // RFC 5280 5.1.2.6: absent, not an empty SEQUENCE, when nothing is revoked.
    revokedCertificates: revoked.length > 0 ? revoked : undefined,
    crlExtensions: [authorityKeyIdentifierExtension(ca.subjectKeyIdentifier), crlNumberExtension(opts.crlNumber)],
  });
  const der = await signAndWrap(opts.signer, new Uint8Array(AsnConvert.serialize(tbs)));
  return { der, pem: toPem(der, 'X509 CRL') };
}
