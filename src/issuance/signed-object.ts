import { AsnConvert } from '@peculiar/asn1-schema';
import { derBitString, derSequence } from './der.ts';
import { signatureAlgorithmFor, verifySignatureOffThread, type Signer } from './signer.ts';

/**
 * Signs an encoded TBSCertificate / TBSCertList and wraps it as SEQUENCE { tbs, signatureAlgorithm, signature }.
 * The tbs bytes are embedded as signed rather than re-encoded through the Certificate/CertificateList classes:
 * that would encode a 100k-entry CRL twice and could only ever differ from what was signed.
 */
export async function signAndWrap(signer: Signer, tbsDer: Uint8Array): Promise<Uint8Array> {
  const signature = await signer.sign(tbsDer);
  // Cheap against a broken or mismatched signer (remote/HSM signers included): never emit a bad signature.
  if (!(await verifySignatureOffThread(signer.keyAlgorithm, signer.publicKeySpki, tbsDer, signature))) {
    throw new Error(`Signer returned a signature that does not verify (${signer.keyAlgorithm})`);
  }
  const algorithm = new Uint8Array(AsnConvert.serialize(signatureAlgorithmFor(signer.keyAlgorithm)));
  return derSequence(tbsDer, algorithm, derBitString(signature));
}
