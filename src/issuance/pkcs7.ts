import { concatBytes } from './bytes.ts';
import { derOid, derSequence, derSetOf, derTlv, derUnsignedInteger } from './der.ts';

const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_DATA = '1.2.840.113549.1.7.1';
const TAG_CONTEXT_0 = 0xa0;

/**
 * A "certs-only" PKCS#7 / CMS message (RFC 5652 SignedData with no signers and no content, as
 * RFC 7030 answers with): ContentInfo { id-signedData, SignedData { version 1, no digest
 * algorithms, encapContentInfo id-data, certificates, no signerInfos } }. The certificates are
 * copied byte for byte, in the order given (the issued certificate first: BER, as CMS allows, so
 * the set is not re-sorted), never re-encoded.
 */
export function certsOnlyPkcs7(certificatesDer: readonly Uint8Array[]): Uint8Array {
  const signedData = derSequence(
    derUnsignedInteger(1n),
    derSetOf(), // digestAlgorithms
    derSequence(derOid(ID_DATA)), // encapContentInfo without eContent
    derTlv(TAG_CONTEXT_0, concatBytes([...certificatesDer])), // certificates [0] IMPLICIT CertificateSet
    derSetOf(), // signerInfos
  );
  return derSequence(derOid(ID_SIGNED_DATA), derTlv(TAG_CONTEXT_0, signedData));
}
