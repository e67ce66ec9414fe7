import type { Request, Response } from 'express';
import { BadRequest } from '../errors.ts';
import type { Publisher } from '../publishers/publish.ts';
import { contentEtag } from '../publishers/allowlists.ts';
import { sendWithEtag } from './routes/public.ts';

export const MAX_WAIT_SECONDS = 60;
/** Changes made by another instance (or by time) are noticed by re-rendering this often. */
const RECHECK_MS = 500;

export interface Rendered {
  body: string;
  contentType: string;
}

function parseWait(v: unknown): number {
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0) throw new BadRequest('invalid_wait', `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  return Math.min(n, MAX_WAIT_SECONDS);
}

const matches = (ifNoneMatch: string | undefined, etag: string) =>
  !!ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`);

/**
 * Conditional GET with an optional long poll: with `?wait=S` and an If-None-Match that still
 * matches, the request is held until the content changes (a local publish wakes it at once; other
 * instances' changes are seen on a short re-check) or the wait ends (then 304).
 */
export async function sendLongPolled(req: Request, res: Response, publisher: Publisher, render: () => Promise<Rendered>): Promise<void> {
  const waitMs = parseWait(req.query.wait) * 1000;
  const inm = req.get('if-none-match');
  let current = await render();
  if (waitMs > 0 && matches(inm, contentEtag(current.body))) {
    const deadline = Date.now() + waitMs;
    let closed = false;
    res.on('close', () => (closed = true));
    while (!closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(RECHECK_MS, deadline - Date.now()));
        publisher.events.once('published', done);
        function done() {
          clearTimeout(timer);
          publisher.events.off('published', done);
          resolve();
        }
      });
      current = await render();
      if (!matches(inm, contentEtag(current.body))) break;
    }
    if (closed) return;
  }
  sendWithEtag(req, res, current.body, current.contentType);
}
