export {
  FileSigner,
  encryptPrivateKey,
  generateCaKeyPair,
  keyAlgorithmOf,
  signatureAlgorithmFor,
  signatureHashFor,
  verifySignature,
  type KeyAlgorithm,
  type Signer,
} from './signer.ts';
export { KEY_ENCRYPTION_PBKDF2_ITERATIONS } from './key-encryption.ts';
export { newSerial } from './serial.ts';
export {
  ACCEPTED_REVOCATION_REASONS,
  REVOCATION_REASONS,
  isAcceptedRevocationReason,
  isRevocationReason,
  type RevocationReason,
} from './revocation-reasons.ts';
export {
  createCaCertificate,
  fingerprintSha256Hex,
  formatFingerprintColons,
  issueLeafCertificate,
  toPem,
  type IssuedCertificate,
} from './certificate.ts';
export { buildCrl, buildCrlFromEncodedEntries } from './crl.ts';
export { encodeCrlEntry, type CrlEntry } from './crl-entry.ts';
export {
  LeafTemplate,
  issueLeafCertificateFromTemplate,
  leafTemplateFor,
  type LeafCertificateFields,
  type LeafProfile,
} from './leaf-template.ts';
