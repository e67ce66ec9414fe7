export interface User {
  id: number;
  email: string;
  displayName: string | null;
  isAdmin: boolean;
  passwordHash: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  /** The identity provider this user signs in with (e.g. "ldap"); null for a local account. */
  identityProvider: string | null;
  /** The provider's name for the user (the directory entry's DN); null for a local account. */
  identitySubject: string | null;
}

/** An extra address a user's certificates may send as (MAIL FROM). */
export interface SenderAlias {
  address: string;
  userId: number;
  createdAt: Date;
}

export type CertificateStatus = 'active' | 'revoked' | 'expired' | 'not_yet_valid';

export interface CertificateRecord {
  serial: string;
  caId: number;
  userId: number;
  email: string;
  subject: string;
  /** Lowercase hex SHA-256 of the DER, computed once at issuance. */
  fingerprintSha256: string;
  /** Lowercase hex SHA-256 of the subject public key info. */
  spkiSha256: string;
  notBefore: Date;
  notAfter: Date;
  certificatePem: string;
  deviceLabel: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  revocationReason: string | null;
  /** Serial of the certificate this one renewed. */
  renewalOf: string | null;
  /** Serial of this certificate's successor, once renewed. */
  renewedBy: string | null;
  /** End of the renewal overlap: then this certificate is revoked as superseded. */
  supersedeAt: Date | null;
}

/** What the allow-lists need of an active certificate, and nothing more. */
export interface ActiveCertificate {
  serial: string;
  email: string;
  subject: string;
  fingerprintSha256: string;
  notAfter: Date;
}

/** An active certificate as the publisher reads it, with its owner's id. */
export interface ActiveCertificateRow extends ActiveCertificate {
  userId: number;
  spkiSha256: string;
}

/** What a change to a certificate means for the published files. */
export interface TouchedCertificate {
  serial: string;
  fingerprintSha256: string;
  caId: number;
  userId: number;
  revoked: boolean;
}

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: string;
  /** The CRL entry (DER RevokedCertificate) stored at revocation; null for rows revoked before it was stored. */
  crlEntryDer: Uint8Array | null;
}

/**
 * One entry of a CA's CRL as the store holds it: the encoding stored at revocation, or for a row revoked
 * before encodings were stored, what the CRL publisher needs to encode it.
 */
export type StoredCrlEntry =
  | { crlEntryDer: Uint8Array; serial?: undefined; revokedAt?: undefined; reason?: undefined }
  | { crlEntryDer: null; serial: string; revokedAt: Date; reason: string };

/** A revoked certificate as a CRL needs it. */
export interface RevokedForCrl {
  serial: string;
  caId: number;
  notAfter: Date;
  entry: StoredCrlEntry;
}

export type CaStatus = 'active' | 'retiring' | 'retired';

/**
 * Where a CA's private key lives. The database holds the key itself only for `file` (encrypted under
 * the CA passphrase); for `pkcs11` it holds a reference to a key that never leaves its token.
 */
export type CaKeyLocation =
  | { kind: 'file'; encryptedKeyPem: string }
  | { kind: 'pkcs11'; tokenLabel: string; keyLabel: string; /** CKA_ID, hex ('' when the key has none). */ keyId: string };

export interface CaRecord {
  id: number;
  name: string;
  keyAlgorithm: string;
  certificatePem: string;
  key: CaKeyLocation;
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  status: CaStatus;
  createdAt: Date;
  crossCertificatePem: string | null;
  retiredAt: Date | null;
}

export type TokenRole = 'admin' | 'mta';

export interface ApiToken {
  id: number;
  name: string;
  role: TokenRole;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface AuditEvent {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  sourceIp: string | null;
  details: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

/** A CA's current CRL as stored: its bytes in DER. */
export interface StoredCrl {
  caId: number;
  crlNumber: number;
  thisUpdate: Date;
  nextUpdate: Date;
  crlDer: Uint8Array;
  stateHash: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}
