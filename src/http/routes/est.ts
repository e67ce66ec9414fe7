import express, { Router, type Request, type Response } from 'express';
import { csrAttributesDer } from '../../enrolment/est.ts';
import { BadRequest, Forbidden, Unauthenticated } from '../../errors.ts';
import { certsOnlyPkcs7 } from '../../issuance/pkcs7.ts';
import { pemToDer } from '../../publishers/publish.ts';
import type { CertificateRecord } from '../../store/index.ts';
import type { HttpCapabilities } from '../capabilities.ts';
import { errorHandler, type ErrorSender } from '../errors.ts';
import type { PasswordSignIn } from '../sign-in/password.ts';
import { peerCertificateDer } from '../tls.ts';

export const EST_REALM = 'mailca EST';

/** EST answers errors in plain text; every 401 carries the Basic challenge. */
const sendEstError: ErrorSender = (res, status, _code, message) => {
  if (status === 401) res.setHeader('WWW-Authenticate', `Basic realm="${EST_REALM}"`);
  res.status(status).type('text/plain').send(`${message}\n`);
};

/** Base64 in 64-character lines, as RFC 7030's examples show. */
function base64Lines(der: Uint8Array): Buffer {
  const b64 = Buffer.from(der).toString('base64');
  return Buffer.from(`${b64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}`, 'latin1');
}

function sendBase64(res: Response, contentType: string, der: Uint8Array): void {
  // A Buffer body, so express adds no charset to the content type.
  res.status(200).set({ 'Content-Type': contentType, 'Content-Transfer-Encoding': 'base64', 'Cache-Control': 'no-store' }).send(base64Lines(der));
}

const sendIssued = (res: Response, record: CertificateRecord) => sendBase64(res, 'application/pkcs7-mime; smime-type=certs-only', certsOnlyPkcs7([pemToDer(record.certificatePem)]));

/**
 * The CSR of an EST request (RFC 7030 §4.2.1): base64 DER (line breaks allowed) as
 * application/pkcs10, with `Content-Transfer-Encoding: base64` or none. The content type also
 * keeps other sites' forms out: a browser sends it cross-site only after a CORS preflight, which
 * mailca never grants.
 */
function csrBody(req: Request): string {
  if (!req.is('application/pkcs10')) throw new BadRequest('pkcs10_required', 'send the CSR as base64 DER with Content-Type: application/pkcs10');
  const cte = req.get('content-transfer-encoding')?.trim().toLowerCase();
  if (cte !== undefined && cte !== 'base64') throw new BadRequest('unsupported_transfer_encoding', `Content-Transfer-Encoding "${cte.slice(0, 40)}" is not supported: send the CSR base64-encoded`);
  return Buffer.isBuffer(req.body) ? req.body.toString('latin1') : '';
}

/** The address and password of an `Authorization: Basic` header (RFC 7617, UTF-8). */
function basicCredentials(req: Request): { email: string; password: string } {
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(req.get('authorization') ?? '');
  const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new Unauthenticated('unauthenticated', 'send your mailca address and password with HTTP basic authentication (curl -u address:password)');
  return { email: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Enrolment over Secure Transport (RFC 7030) under /.well-known/est/. Enrolment signs in with the
 * user's password through the configured sign-in providers; re-enrolment is authenticated by the
 * client certificate of the TLS connection to mailca's own HTTPS listener. Either way the
 * certificate is for the authenticated user, whatever the CSR says.
 */
export function estRoutes({ enrolment, published, log }: Pick<HttpCapabilities, 'enrolment' | 'published' | 'log'>, deps: { signIn: PasswordSignIn }): Router {
  const r = Router();
  r.use(express.raw({ type: () => true, limit: '64kb' }));

  // The trust bundle as published (issuing CA first) and any cross certificates: what a client
  // needs to trust mailca's certificates, also across a CA rollover.
  r.get('/cacerts', async (_req, res) => {
    const cas = [...(await published.trustedCas())].sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active'));
    const pems = cas.flatMap((ca) => [ca.certificatePem, ...(ca.crossCertificatePem ? [ca.crossCertificatePem] : [])]);
    sendBase64(res, 'application/pkcs7-mime', certsOnlyPkcs7(pems.map(pemToDer)));
  });

  r.get('/csrattrs', (_req, res) => sendBase64(res, 'application/csrattrs', csrAttributesDer()));

  r.post('/simpleenroll', async (req, res) => {
    const csr = csrBody(req);
    const user = await deps.signIn.signIn(basicCredentials(req), req.ip ?? null);
    const { record } = await enrolment.enrol({ id: `user:${user.email}`, sourceIp: req.ip ?? null }, { user, csr });
    sendIssued(res, record);
  });

  r.post('/simplereenroll', async (req, res) => {
    const csr = csrBody(req);
    const peer = peerCertificateDer(req);
    if (!peer.tls) {
      throw new Forbidden(
        'tls_client_certificate_unavailable',
        're-enrolment needs your certificate in the TLS handshake with mailca itself, and this connection did not reach mailca over its HTTPS listener (MAILCA_TLS_CERT); behind a proxy that terminates TLS, use simpleenroll',
      );
    }
    if (!peer.der) throw new Unauthenticated('client_certificate_required', 'present your current mailca certificate in the TLS handshake (curl --cert FILE --key FILE)');
    const { record } = await enrolment.reenrolWithCertificate({ certificateDer: peer.der, csr, sourceIp: req.ip ?? null });
    sendIssued(res, record);
  });

  r.use((req, res) => sendEstError(res, 404, 'not_found', `no such EST operation: ${req.method} ${req.baseUrl}${req.path} (cacerts, simpleenroll, simplereenroll, csrattrs)`));
  r.use(errorHandler(log, sendEstError));
  return r;
}
