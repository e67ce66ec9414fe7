import { X509Certificate } from 'node:crypto';
import { Forbidden, Unauthenticated } from '../errors.ts';
import { derOid, derSequence, derSetOf } from '../issuance/der.ts';
import type { CertificateRecord, User } from '../store/index.ts';
import type { EnrolmentContext } from './context.ts';
import { ACCEPTED_CSR_ALGORITHMS } from './csr.ts';
import type { EnrolmentResult } from './enrol.ts';
import { renew } from './renew.ts';

/**
 * The EST CsrAttrs (RFC 7030 §4.5.2) for mailca's CSR checks: an ecPublicKey attribute naming the
 * curves accepted, rsaEncryption, and each accepted signature algorithm. Nothing else in a CSR
 * matters: the subject and extensions are decided by mailca.
 */
export function csrAttributesDer(): Uint8Array {
  const a = ACCEPTED_CSR_ALGORITHMS;
  return derSequence(
    derSequence(derOid(a.ecPublicKey), derSetOf(...a.ecCurves.map(derOid))),
    derOid(a.rsaEncryption),
    ...a.signatures.map(derOid),
  );
}

const UNKNOWN = 'the client certificate was not issued by mailca: present your current mailca certificate (curl --cert FILE --key FILE), or enrol with /.well-known/est/simpleenroll';

/**
 * The mailca certificate presented in a TLS handshake, and its owner. It must be exactly a
 * certificate mailca issued (found by serial, same bytes), from a CA still trusted (active or
 * retiring, not retired), and verify under that CA's key. Whether it may be renewed (revoked,
 * expired, already renewed, the renewal window) is for renew() to say.
 */
export async function certificateOwner(ctx: Pick<EnrolmentContext, 'store'>, der: Uint8Array): Promise<{ certificate: CertificateRecord; user: User }> {
  let presented: X509Certificate;
  try {
    presented = new X509Certificate(der);
  } catch {
    throw new Unauthenticated('unknown_client_certificate', UNKNOWN);
  }
  const serial = presented.serialNumber.toLowerCase().replace(/^0+/, '').padStart(32, '0');
  const certificate = /^[0-9a-f]{32}$/.test(serial) ? await ctx.store.certificates.findBySerial(serial) : undefined;
  if (!certificate || !new X509Certificate(certificate.certificatePem).raw.equals(presented.raw)) throw new Unauthenticated('unknown_client_certificate', UNKNOWN);
  const ca = (await ctx.store.cas.listTrusted()).find((c) => c.id === certificate.caId);
  if (!ca || !presented.verify(new X509Certificate(ca.certificatePem).publicKey)) {
    throw new Unauthenticated('untrusted_client_certificate', `certificate ${certificate.serial} is from a CA mailca no longer trusts; enrol with /.well-known/est/simpleenroll`);
  }
  const user = await ctx.store.users.findById(certificate.userId);
  if (!user || user.disabledAt) throw new Forbidden('user_disabled', `${certificate.email} is disabled`);
  return { certificate, user };
}

/**
 * EST simplereenroll: the successor of the certificate the client authenticated with, for that
 * certificate's owner, under the renewal rules (renew.ts).
 */
export async function reenrolWithCertificate(ctx: EnrolmentContext, req: { certificateDer: Uint8Array; csr: string; sourceIp: string | null }): Promise<EnrolmentResult> {
  const { certificate, user } = await certificateOwner(ctx, req.certificateDer);
  return renew(ctx, { id: `user:${user.email}`, sourceIp: req.sourceIp }, { user, serial: certificate.serial, csr: req.csr });
}
