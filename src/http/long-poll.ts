import type { Request, Response } from 'express';
import { BadRequest } from '../errors.ts';
import type { PublishedReads } from '../publishers/publish.ts';
import type { PublishedFile } from '../publishers/published-file.ts';

export const MAX_WAIT_SECONDS = 60;

function parseWait(v: unknown): number {
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0) throw new BadRequest('invalid_wait', `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  return Math.min(n, MAX_WAIT_SECONDS);
}

/** Whether an If-None-Match header names `etag` (strong or weak). */
export const matches = (ifNoneMatch: string | undefined, etag: string): boolean =>
  !!ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`);

/** Sends a published file with its ETag, or 304 when the client already has that version. */
export function sendPublishedFile(req: Request, res: Response, file: PublishedFile): void {
  res.setHeader('ETag', file.etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (matches(req.get('if-none-match'), file.etag)) {
    res.status(304).end();
    return;
  }
  res.type(file.contentType);
  res.setHeader('Content-Length', String(file.size));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  file.stream().pipe(res);
}

/** Caps the number of requests held by long polls; beyond it they get 503 with Retry-After. */
export class LongPollLimit {
  #waiting = 0;
  constructor(readonly max: number) {}
  get waiting(): number {
    return this.#waiting;
  }
  tryEnter(): boolean {
    if (this.#waiting >= this.max) return false;
    this.#waiting++;
    return true;
  }
  leave(): void {
    this.#waiting--;
  }
}

/**
 * Conditional GET of a published file with an optional long poll: with `?wait=S` and an
 * If-None-Match that still matches, the request is held until a publish changes the file (every
 * waiter is woken by that publish and gets what it wrote, nothing is re-rendered) or the wait ends (304).
 */
export async function sendLongPolled(req: Request, res: Response, publisher: PublishedReads, name: string, limit: LongPollLimit): Promise<void> {
  const waitMs = parseWait(req.query.wait) * 1000;
  let file = await publisher.file(name);
  if (waitMs > 0 && matches(req.get('if-none-match'), file.etag)) {
    if (!limit.tryEnter()) {
      res.setHeader('Retry-After', '5');
      res.status(503).json({ error: 'too_many_waiting', message: `${limit.max} requests are already waiting for a change; retry shortly` });
      return;
    }
    const closed = new AbortController();
    res.on('close', () => closed.abort());
    try {
      file = (await publisher.waitForChange(name, file.etag, waitMs, closed.signal)) ?? file;
    } finally {
      limit.leave();
    }
    if (closed.signal.aborted) return;
  }
  sendPublishedFile(req, res, file);
}
