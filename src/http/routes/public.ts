import { Router } from 'express';
import { PUBLISHED_FILES, pemToDer } from '../../publishers/publish.ts';
import { contentEtag } from '../../publishers/published-file.ts';
import { matches, sendPublishedFile } from '../long-poll.ts';
import type { Request, Response } from 'express';
import type { HttpCapabilities } from '../capabilities.ts';

/** Sends a body with a content-hash ETag, or 304 when the client already has it. */
export function sendWithEtag(req: Request, res: Response, body: string | Uint8Array, contentType: string): void {
  const etag = contentEtag(body);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (matches(req.get('if-none-match'), etag)) {
    res.status(304).end();
    return;
  }
  res.type(contentType).send(typeof body === 'string' ? body : Buffer.from(body));
}

/** Unauthenticated: the trust bundle, the CRLs and health. Serves what was published; never signs. */
export function publicRoutes({ reads, published }: Pick<HttpCapabilities, 'reads' | 'published'>): Router {
  const r = Router();
  r.get('/healthz', async (_req, res) => {
    await reads.ping();
    res.json({ status: 'ok' });
  });
  r.get('/ca.pem', async (req, res) => sendPublishedFile(req, res, await published.file(PUBLISHED_FILES.caBundle)));
  r.get('/crl.pem', async (req, res) => sendPublishedFile(req, res, await published.file(PUBLISHED_FILES.crlPem)));
  // The trust bundle followed by the CRLs, in one file: Dovecot's ssl_ca.
  r.get('/ca-crl.pem', async (req, res) => sendPublishedFile(req, res, await published.file(PUBLISHED_FILES.caCrlBundle)));
  // One CRL per CA (the distribution point in that CA's certificates).
  r.get('/crl/:file', async (req, res) => {
    const m = /^(\d{1,9})\.(der|pem)$/.exec(String(req.params.file));
    const crl = m ? (await published.currentCrls()).find((c) => c.caId === Number(m[1])) : undefined;
    if (!m || !crl) {
      res.status(404).json({ error: 'no_crl', message: 'no CRL here: see /crl.pem for the CRLs of every trusted CA' });
      return;
    }
    if (m[2] === 'pem') sendWithEtag(req, res, crl.crlPem, 'application/x-pem-file');
    else sendWithEtag(req, res, pemToDer(crl.crlPem), 'application/pkix-crl');
  });
  r.get('/crl.der', async (req, res) => {
    const active = (await published.trustedCas()).find((ca) => ca.status === 'active');
    const crl = (await published.currentCrls()).find((c) => c.caId === active?.id);
    if (!crl) {
      res.status(404).json({ error: 'no_crl', message: 'no CA has been created yet' });
      return;
    }
    sendWithEtag(req, res, pemToDer(crl.crlPem), 'application/pkix-crl');
  });
  return r;
}
