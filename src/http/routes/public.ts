import { Router } from 'express';
import type { CrlRecord } from '../../publishers/crls.ts';
import { PUBLISHED_FILES } from '../../publishers/publish.ts';
import { contentEtag } from '../../publishers/published-file.ts';
import { matches, sendPublishedFile } from '../long-poll.ts';
import type { Request, Response } from 'express';
import type { HttpCapabilities } from '../capabilities.ts';

/** Sends a body with a content-hash ETag, or 304 when the client already has it. */
export function sendWithEtag(req: Request, res: Response, body: string | Uint8Array, contentType: string, etag = contentEtag(body)): void {
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (matches(req.get('if-none-match'), etag)) {
    res.status(304).end();
    return;
  }
  res.type(contentType).send(typeof body === 'string' ? body : Buffer.from(body));
}

/** A CRL's ETags, hashed once per signed CRL rather than per request (megabytes at 100k entries). */
const crlEtags = new WeakMap<CrlRecord, { der: string; pem: string }>();
function crlEtag(crl: CrlRecord, form: 'der' | 'pem'): string {
  let etags = crlEtags.get(crl);
  if (!etags) crlEtags.set(crl, (etags = { der: contentEtag(crl.crlDer), pem: contentEtag(crl.crlPem) }));
  return etags[form];
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
    if (m[2] === 'pem') sendWithEtag(req, res, crl.crlPem, 'application/x-pem-file', crlEtag(crl, 'pem'));
    else sendWithEtag(req, res, crl.crlDer, 'application/pkix-crl', crlEtag(crl, 'der'));
  });
  // The issuing CA's CRL.
  r.get('/crl.der', async (req, res) => {
    const active = (await published.trustedCas()).find((ca) => ca.status === 'active');
    if (!active) {
      res.status(404).json({ error: 'no_crl', message: 'no CA has been created yet' });
      return;
    }
    sendPublishedFile(req, res, await published.file(PUBLISHED_FILES.crlDer));
  });
  return r;
}
