import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  Extension,
  Extensions,
  Name,
  RelativeDistinguishedName,
  TBSCertificate,
  Validity,
  Version,
  id_kp_clientAuth,
  id_kp_emailProtection,
} from '@peculiar/asn1-x509';
import { bytesEqual, exactArrayBuffer, sha256Hex } from './bytes.ts';
import { readCaCertificate } from './ca-certificate.ts';
import { fingerprintSha256Hex, toPem } from './encoding.ts';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  caKeyUsageFlags,
  crlDistributionPointsExtension,
  emailSubjectAltNameExtension,
  extendedKeyUsageExtension,
  keyIdentifierOf,
  keyUsageExtension,
  leafKeyUsageFlags,
  subjectKeyIdentifierExtension,
} from './extensions.ts';
import { serialToBytes } from './serial.ts';
import { signAndWrap } from './signed-object.ts';
import { signatureAlgorithmFor, type Signer } from './signer.ts';
import { checkSubjectPublicKey, type CheckedSubjectKey } from './subject-key.ts';
import { assertBefore, assertDirectoryString, assertMailbox, assertUri, escapeDnValue, toCertificateTime } from './validation.ts';

export { fingerprintSha256Hex, formatFingerprintColons, toPem } from './encoding.ts';

export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
  serial: string;
  /** Lowercase hex SHA-256 of the DER, no colons. */
  fingerprintSha256: string;
  /** Lowercase hex SHA-256 of the subject SubjectPublicKeyInfo DER. */
  spkiSha256: string;
  /** As encoded (whole seconds). */
  notBefore: Date;
  notAfter: Date;
  /** RFC 4514 form, e.g. "CN=alice@example.test,serialNumber=<serial>". */
  subject: string;
}

const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';
const OID_SERIAL_NUMBER = '2.5.4.5';

function utf8Rdn(type: string, value: string): RelativeDistinguishedName {
  return new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
}

/**
 * A client certificate's subject: serialNumber = the certificate's serial (PrintableString, lowercase hex), then
 * CN = the address. The serialNumber is unique per certificate, so a server can log the holder in by it (Dovecot's
 * ssl_cert_username_field = serialNumber) and a revocation takes exactly that certificate off its list.
 */
function leafSubject(email: string, serial: string): Name {
  const serialNumber = new RelativeDistinguishedName([
    new AttributeTypeAndValue({ type: OID_SERIAL_NUMBER, value: new AttributeValue({ printableString: serial }) }),
  ]);
  return new Name([serialNumber, utf8Rdn(OID_COMMON_NAME, email)]);
}

/** RFC 4514 form of leafSubject (last RDN first). */
export function leafSubjectString(email: string, serial: string): string {
  return `CN=${escapeDnValue(email)},serialNumber=${serial}`;
}

interface CertificateFields {
  signer: Signer;
  serial: string;
  issuer: Name;
  subject: Name;
  subjectPublicKeyInfo: CheckedSubjectKey['info'];
  notBefore: Date;
  notAfter: Date;
  extensions: Extension[];
}

/** The single builder behind both profiles: encodes the TBSCertificate, signs it, returns the certificate DER. */
async function buildCertificate(fields: CertificateFields): Promise<Uint8Array> {
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: exactArrayBuffer(serialToBytes(fields.serial)),
    signature: signatureAlgorithmFor(fields.signer.keyAlgorithm),
    issuer: fields.issuer,
    validity: new Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
    subject: fields.subject,
    subjectPublicKeyInfo: fields.subjectPublicKeyInfo,
    extensions: new Extensions(fields.extensions),
  });
  return signAndWrap(fields.signer, new Uint8Array(AsnConvert.serialize(tbs)));
}

export async function createCaCertificate(opts: {
  signer: Signer;
  commonName: string;
  organization?: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}): Promise<{ der: Uint8Array; pem: string }> {
  assertDirectoryString(opts.commonName, 'CA common name');
  if (opts.organization !== undefined) assertDirectoryString(opts.organization, 'CA organization');
  const notBefore = toCertificateTime(opts.notBefore, 'notBefore');
  const notAfter = toCertificateTime(opts.notAfter, 'notAfter');
  assertBefore(notBefore, notAfter, 'notBefore', 'notAfter');

  const subjectPublicKeyInfo = checkSubjectPublicKey(opts.signer.publicKeySpki).info;
  const keyIdentifier = keyIdentifierOf(subjectPublicKeyInfo.subjectPublicKey);
  const rdns = [utf8Rdn(OID_COMMON_NAME, opts.commonName)];
  if (opts.organization !== undefined) rdns.unshift(utf8Rdn(OID_ORGANIZATION, opts.organization));
  const name = new Name(rdns);

  const der = await buildCertificate({
    signer: opts.signer,
    serial: opts.serial,
    issuer: name,
    subject: name,
    subjectPublicKeyInfo,
    notBefore,
    notAfter,
    extensions: [
      basicConstraintsExtension(true),
      keyUsageExtension(caKeyUsageFlags),
      subjectKeyIdentifierExtension(keyIdentifier),
      authorityKeyIdentifierExtension(keyIdentifier),
    ],
  });
  return { der, pem: toPem(der, 'CERTIFICATE') };
}

export async function issueLeafCertificate(opts: {
  signer: Signer;
  caCertificateDer: Uint8Array;
  email: string;
  subjectPublicKeySpki: Uint8Array;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  crlDistributionUrl?: string;
  emailProtection?: boolean;
}): Promise<IssuedCertificate> {
  const ca = readCaCertificate(opts.caCertificateDer);
  if (!bytesEqual(opts.signer.publicKeySpki, ca.subjectPublicKeySpki)) {
    throw new Error("Signer key does not match the CA certificate's public key");
  }
  serialToBytes(opts.serial);
  assertMailbox(opts.email);
  const notBefore = toCertificateTime(opts.notBefore, 'notBefore');
  const notAfter = toCertificateTime(opts.notAfter, 'notAfter');
  assertBefore(notBefore, notAfter, 'notBefore', 'notAfter');
  if (notAfter.getTime() > ca.notAfter.getTime()) {
    throw new Error(`notAfter (${notAfter.toISOString()}) is after the CA certificate expires (${ca.notAfter.toISOString()})`);
  }
  const subjectKey = checkSubjectPublicKey(opts.subjectPublicKeySpki);
  if (bytesEqual(opts.subjectPublicKeySpki, ca.subjectPublicKeySpki)) throw new Error('Subject public key is the CA key');
  if (opts.crlDistributionUrl !== undefined) assertUri(opts.crlDistributionUrl, 'CRL distribution URL');

  const extensions = [
    basicConstraintsExtension(false),
    keyUsageExtension(leafKeyUsageFlags(subjectKey.kind === 'rsa')),
    extendedKeyUsageExtension(opts.emailProtection === true ? [id_kp_clientAuth, id_kp_emailProtection] : [id_kp_clientAuth]),
    emailSubjectAltNameExtension(opts.email),
    subjectKeyIdentifierExtension(keyIdentifierOf(subjectKey.info.subjectPublicKey)),
    authorityKeyIdentifierExtension(ca.subjectKeyIdentifier),
  ];
  if (opts.crlDistributionUrl !== undefined) extensions.push(crlDistributionPointsExtension(opts.crlDistributionUrl));

  const der = await buildCertificate({
    signer: opts.signer,
    serial: opts.serial,
    issuer: ca.subject,
    subject: leafSubject(opts.email, opts.serial),
    subjectPublicKeyInfo: subjectKey.info,
    notBefore,
    notAfter,
    extensions,
  });
  return {
    der,
    pem: toPem(der, 'CERTIFICATE'),
    serial: opts.serial,
    fingerprintSha256: fingerprintSha256Hex(der),
    spkiSha256: sha256Hex(opts.subjectPublicKeySpki),
    notBefore,
    notAfter,
    subject: leafSubjectString(opts.email, opts.serial),
  };
}

/**
 * A cross-certificate: the subject CA's name and key, certified by the issuing (older) CA, so
 * clients that trust only the old CA can build a path to certificates of the new one.
 */
export async function createCrossCertificate(opts: {
  issuerSigner: Signer;
  issuerCertificateDer: Uint8Array;
  subjectCertificateDer: Uint8Array;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}): Promise<{ der: Uint8Array; pem: string }> {
  const issuer = readCaCertificate(opts.issuerCertificateDer);
  const subject = readCaCertificate(opts.subjectCertificateDer);
  if (!bytesEqual(opts.issuerSigner.publicKeySpki, issuer.subjectPublicKeySpki)) {
    throw new Error("Signer key does not match the issuing CA certificate's public key");
  }
  const notBefore = toCertificateTime(opts.notBefore, 'notBefore');
  const notAfter = toCertificateTime(new Date(Math.min(opts.notAfter.getTime(), issuer.notAfter.getTime())), 'notAfter');
  assertBefore(notBefore, notAfter, 'notBefore', 'notAfter');
  const subjectKey = checkSubjectPublicKey(subject.subjectPublicKeySpki);
  const der = await buildCertificate({
    signer: opts.issuerSigner,
    serial: opts.serial,
    issuer: issuer.subject,
    subject: subject.subject,
    subjectPublicKeyInfo: subjectKey.info,
    notBefore,
    notAfter,
    extensions: [
      basicConstraintsExtension(true),
      keyUsageExtension(caKeyUsageFlags),
      subjectKeyIdentifierExtension(subject.subjectKeyIdentifier),
      authorityKeyIdentifierExtension(issuer.subjectKeyIdentifier),
    ],
  });
  return { der, pem: toPem(der, 'CERTIFICATE') };
}
