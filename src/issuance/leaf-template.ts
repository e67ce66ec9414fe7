import { derHeaderSize, derTimeSize, writeDerHeader, writeDerTime } from './der.ts';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { id_kp_clientAuth, id_kp_emailProtection } from '@peculiar/asn1-x509';
import { bytesEqual, concatBytes, sha256Hex } from './bytes.ts';
import { readCaCertificate, type CaCertificateInfo } from './ca-certificate.ts';
import { leafSubjectString, type IssuedCertificate } from './certificate.ts';
import { fingerprintSha256Hex, toPem } from './encoding.ts';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  crlDistributionPointsExtension,
  extendedKeyUsageExtension,
  keyUsageExtension,
  leafKeyUsageFlags,
} from './extensions.ts';
import { serialToBytes } from './serial.ts';
import { signatureAlgorithmFor, signatureHashFor, type Signer } from './signer.ts';
import { readSubjectPublicKey } from './subject-key.ts';
import { assertBefore, assertMailbox, assertUri, toCertificateTime } from './validation.ts';

// The client-certificate profile of issueLeafCertificate, with everything that is the same for every
// certificate of one CA and policy encoded once (with the same ASN.1 classes, so the bytes are the same), and
// the per-certificate fields written by hand into one buffer. issueLeafCertificate stays the reference: the
// tests compare the two byte for byte.

/** The policy half of a template's key: what the configuration decides for every certificate. */
export interface LeafProfile {
  crlDistributionUrl?: string | undefined;
  emailProtection?: boolean | undefined;
}

/** What changes per certificate. */
export interface LeafCertificateFields {
  email: string;
  subjectPublicKeySpki: Uint8Array;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

// Fixed octets of the per-certificate parts.
const VERSION_V3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);
const SERIAL_HEADER = Uint8Array.of(0x02, 0x10); // serialToBytes guarantees 16 content octets
const OID_COMMON_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03);
const OID_SERIAL_NUMBER = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x05);
/** The subject's serialNumber is the serial's 32 hex digits (serialToBytes checked them). */
const SERIAL_HEX_LENGTH = 32;
const OID_SUBJECT_ALT_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const SUBJECT_KEY_IDENTIFIER_HEADER = Uint8Array.of(0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14);
const KEY_IDENTIFIER_BYTES = 20;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_OCTET_STRING = 0x04;
const TAG_BIT_STRING = 0x03;
const TAG_UTF8_STRING = 0x0c;
const TAG_PRINTABLE_STRING = 0x13;
const TAG_RFC822_NAME = 0x81; // GeneralName [1] IMPLICIT IA5String
const TAG_EXTENSIONS = 0xa3; // TBSCertificate [3] EXPLICIT

/** Size of a TLV with a single-octet tag and `contentLength` content octets. */
const tlvSize = (contentLength: number): number => derHeaderSize(contentLength) + contentLength;

function writeBytes(out: Uint8Array, offset: number, bytes: Uint8Array): number {
  out.set(bytes, offset);
  return offset + bytes.length;
}

/** Writes an ASCII string (callers checked it is ASCII) one octet per character. */
function writeAscii(out: Uint8Array, offset: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[offset++] = text.charCodeAt(i);
  return offset;
}

function encodedExtension(extension: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(extension));
}

/**
 * One CA's client-certificate profile with its fixed parts pre-encoded. Creating it checks what is the same
 * for every certificate (signer key = CA certificate key, the CA certificate itself, the CRL URL); `issue`
 * checks the rest per certificate, as issueLeafCertificate does.
 */
export class LeafTemplate {
  readonly signer: Signer;
  readonly caCertificateDer: Uint8Array;
  readonly profile: Readonly<LeafProfile>;
  readonly #ca: CaCertificateInfo;
  readonly #verifyKey: KeyObject;
  readonly #hash: 'sha256' | 'sha384';
  readonly #signatureAlgorithm: Uint8Array;
  /** BasicConstraints, KeyUsage and ExtendedKeyUsage, for EC and for RSA subject keys. */
  readonly #leadingExtensionsEc: Uint8Array;
  readonly #leadingExtensionsRsa: Uint8Array;
  /** AuthorityKeyIdentifier and, if configured, CRLDistributionPoints. */
  readonly #trailingExtensions: Uint8Array;

  constructor(opts: { signer: Signer; caCertificateDer: Uint8Array } & LeafProfile) {
    const ca = readCaCertificate(opts.caCertificateDer);
    if (!bytesEqual(opts.signer.publicKeySpki, ca.subjectPublicKeySpki)) {
      throw new Error("Signer key does not match the CA certificate's public key");
    }
    if (opts.crlDistributionUrl !== undefined) assertUri(opts.crlDistributionUrl, 'CRL distribution URL');
    this.signer = opts.signer;
    this.caCertificateDer = opts.caCertificateDer;
    this.profile = Object.freeze({ crlDistributionUrl: opts.crlDistributionUrl, emailProtection: opts.emailProtection === true });
    this.#ca = ca;
    this.#verifyKey = createPublicKey({ key: Buffer.from(ca.subjectPublicKeySpki), format: 'der', type: 'spki' });
    this.#hash = signatureHashFor(opts.signer.keyAlgorithm);
    this.#signatureAlgorithm = new Uint8Array(AsnConvert.serialize(signatureAlgorithmFor(opts.signer.keyAlgorithm)));

    const basicConstraints = encodedExtension(basicConstraintsExtension(false));
    const extendedKeyUsage = encodedExtension(
      extendedKeyUsageExtension(opts.emailProtection === true ? [id_kp_clientAuth, id_kp_emailProtection] : [id_kp_clientAuth]),
    );
    this.#leadingExtensionsEc = concatBytes([basicConstraints, encodedExtension(keyUsageExtension(leafKeyUsageFlags(false))), extendedKeyUsage]);
    this.#leadingExtensionsRsa = concatBytes([basicConstraints, encodedExtension(keyUsageExtension(leafKeyUsageFlags(true))), extendedKeyUsage]);
    const trailing = [encodedExtension(authorityKeyIdentifierExtension(ca.subjectKeyIdentifier))];
    if (opts.crlDistributionUrl !== undefined) trailing.push(encodedExtension(crlDistributionPointsExtension(opts.crlDistributionUrl)));
    this.#trailingExtensions = concatBytes(trailing);
  }

  /** The checked, encoded TBSCertificate for these fields (exactly what `issue` signs). */
  tbsCertificate(fields: LeafCertificateFields): { tbs: Uint8Array; notBefore: Date; notAfter: Date } {
    const serial = serialToBytes(fields.serial);
    const { email } = fields;
    assertMailbox(email);
    const notBefore = toCertificateTime(fields.notBefore, 'notBefore');
    const notAfter = toCertificateTime(fields.notAfter, 'notAfter');
    assertBefore(notBefore, notAfter, 'notBefore', 'notAfter');
    const ca = this.#ca;
    if (notAfter.getTime() > ca.notAfter.getTime()) {
      throw new Error(`notAfter (${notAfter.toISOString()}) is after the CA certificate expires (${ca.notAfter.toISOString()})`);
    }
    const spki = fields.subjectPublicKeySpki;
    const subjectKey = readSubjectPublicKey(spki);
    if (bytesEqual(spki, ca.subjectPublicKeySpki)) throw new Error('Subject public key is the CA key');
    const keyIdentifier = createHash('sha1').update(subjectKey.subjectPublicKey).digest();
    if (keyIdentifier.length !== KEY_IDENTIFIER_BYTES) throw new Error('SHA-1 key identifier has an unexpected length');
    const leadingExtensions = subjectKey.kind === 'rsa' ? this.#leadingExtensionsRsa : this.#leadingExtensionsEc;

    // Sizes, innermost first. The address is ASCII (assertMailbox), one octet per character.
    const emailLength = email.length;
    const validityContent = derTimeSize(notBefore) + derTimeSize(notAfter);
    // Subject: RDN serialNumber (PrintableString, the serial in hex), then RDN CN (UTF8String, the address).
    const serialAttributeContent = OID_SERIAL_NUMBER.length + tlvSize(SERIAL_HEX_LENGTH);
    const serialRdnContent = tlvSize(serialAttributeContent);
    const attributeContent = OID_COMMON_NAME.length + tlvSize(emailLength);
    const rdnContent = tlvSize(attributeContent);
    const subjectContent = tlvSize(serialRdnContent) + tlvSize(rdnContent);
    const generalNamesContent = tlvSize(emailLength);
    const subjectAltNameValue = tlvSize(generalNamesContent);
    const subjectAltNameContent = OID_SUBJECT_ALT_NAME.length + tlvSize(subjectAltNameValue);
    const extensionsContent =
      leadingExtensions.length +
      tlvSize(subjectAltNameContent) +
      SUBJECT_KEY_IDENTIFIER_HEADER.length +
      KEY_IDENTIFIER_BYTES +
      this.#trailingExtensions.length;
    const explicitExtensionsContent = tlvSize(extensionsContent);
    const tbsContent =
      VERSION_V3.length +
      SERIAL_HEADER.length +
      serial.length +
      this.#signatureAlgorithm.length +
      ca.subjectDer.length +
      tlvSize(validityContent) +
      tlvSize(subjectContent) +
      spki.length +
      tlvSize(explicitExtensionsContent);

    const tbs = new Uint8Array(tlvSize(tbsContent));
    let at = writeDerHeader(tbs, 0, TAG_SEQUENCE, tbsContent);
    at = writeBytes(tbs, at, VERSION_V3);
    at = writeBytes(tbs, at, SERIAL_HEADER);
    at = writeBytes(tbs, at, serial);
    at = writeBytes(tbs, at, this.#signatureAlgorithm);
    at = writeBytes(tbs, at, ca.subjectDer);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, validityContent);
    at = writeDerTime(tbs, at, notBefore);
    at = writeDerTime(tbs, at, notAfter);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, subjectContent);
    at = writeDerHeader(tbs, at, TAG_SET, serialRdnContent);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, serialAttributeContent);
    at = writeBytes(tbs, at, OID_SERIAL_NUMBER);
    at = writeDerHeader(tbs, at, TAG_PRINTABLE_STRING, SERIAL_HEX_LENGTH);
    at = writeAscii(tbs, at, fields.serial);
    at = writeDerHeader(tbs, at, TAG_SET, rdnContent);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, attributeContent);
    at = writeBytes(tbs, at, OID_COMMON_NAME);
    at = writeDerHeader(tbs, at, TAG_UTF8_STRING, emailLength);
    at = writeAscii(tbs, at, email);
    at = writeBytes(tbs, at, spki);
    at = writeDerHeader(tbs, at, TAG_EXTENSIONS, explicitExtensionsContent);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, extensionsContent);
    at = writeBytes(tbs, at, leadingExtensions);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, subjectAltNameContent);
    at = writeBytes(tbs, at, OID_SUBJECT_ALT_NAME);
    at = writeDerHeader(tbs, at, TAG_OCTET_STRING, subjectAltNameValue);
    at = writeDerHeader(tbs, at, TAG_SEQUENCE, generalNamesContent);
    at = writeDerHeader(tbs, at, TAG_RFC822_NAME, emailLength);
    at = writeAscii(tbs, at, email);
    at = writeBytes(tbs, at, SUBJECT_KEY_IDENTIFIER_HEADER);
    at = writeBytes(tbs, at, keyIdentifier);
    at = writeBytes(tbs, at, this.#trailingExtensions);
    if (at !== tbs.length) throw new Error(`leaf template: wrote ${at} of ${tbs.length} TBSCertificate octets`);
    return { tbs, notBefore, notAfter };
  }

  /** Issues one certificate: the same result, and the same checks, as issueLeafCertificate. */
  async issue(fields: LeafCertificateFields): Promise<IssuedCertificate> {
    const { tbs, notBefore, notAfter } = this.tbsCertificate(fields);
    const signature = await this.signer.sign(tbs);
    // As signAndWrap: never emit a signature that does not verify (remote/HSM signers included).
    if (!verify(this.#hash, tbs, this.#verifyKey, signature)) {
      throw new Error(`Signer returned a signature that does not verify (${this.signer.keyAlgorithm})`);
    }
    const signatureBits = 1 + signature.length;
    const certificateContent = tbs.length + this.#signatureAlgorithm.length + tlvSize(signatureBits);
    const der = new Uint8Array(tlvSize(certificateContent));
    let at = writeDerHeader(der, 0, TAG_SEQUENCE, certificateContent);
    at = writeBytes(der, at, tbs);
    at = writeBytes(der, at, this.#signatureAlgorithm);
    at = writeDerHeader(der, at, TAG_BIT_STRING, signatureBits);
    der[at++] = 0; // no unused bits
    writeBytes(der, at, signature);
    return {
      der,
      pem: toPem(der, 'CERTIFICATE'),
      serial: fields.serial,
      fingerprintSha256: fingerprintSha256Hex(der),
      spkiSha256: sha256Hex(fields.subjectPublicKeySpki),
      notBefore,
      notAfter,
      subject: leafSubjectString(fields.email, fields.serial),
    };
  }
}

// Templates per CA certificate (the keyring keeps one certificate object per CA, so this is per CA), then per
// signer and profile. Weak on the certificate: a dropped keyring takes its templates with it.
const templatesByCaCertificate = new WeakMap<Uint8Array, Map<string, LeafTemplate>>();
const MAX_TEMPLATES_PER_CA = 16;

/** The cached template for this CA certificate, signer and profile (created on first use). */
export function leafTemplateFor(opts: { signer: Signer; caCertificateDer: Uint8Array } & LeafProfile): LeafTemplate {
  let templates = templatesByCaCertificate.get(opts.caCertificateDer);
  if (!templates) {
    templates = new Map();
    templatesByCaCertificate.set(opts.caCertificateDer, templates);
  }
  const key = JSON.stringify([opts.crlDistributionUrl ?? null, opts.emailProtection === true]);
  const cached = templates.get(key);
  if (cached && cached.signer === opts.signer) return cached;
  const template = new LeafTemplate(opts);
  if (templates.size >= MAX_TEMPLATES_PER_CA) templates.clear();
  templates.set(key, template);
  return template;
}

/** issueLeafCertificate's signature and result, through the cached template. */
export async function issueLeafCertificateFromTemplate(
  opts: { signer: Signer; caCertificateDer: Uint8Array } & LeafProfile & LeafCertificateFields,
): Promise<IssuedCertificate> {
  return leafTemplateFor(opts).issue(opts);
}
