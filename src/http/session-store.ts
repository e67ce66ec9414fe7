import session from 'express-session';
import type { Clock } from '../clock.ts';
import type { SessionRecords } from '../store/views.ts';

type Callback<T = void> = (err?: unknown, value?: T) => void;

/** express-session store on mailca's database, so sessions survive restarts and span instances. */
export class DatabaseSessionStore extends session.Store {
  constructor(
    private readonly sessions: SessionRecords,
    private readonly clock: Clock,
    private readonly idleMs: number,
  ) {
    super();
  }

  private expiry(sess: session.SessionData): Date {
    const cookieExpiry = sess.cookie?.expires ? new Date(sess.cookie.expires) : undefined;
    return cookieExpiry ?? new Date(this.clock.now().getTime() + this.idleMs);
  }

  override get(sid: string, cb: Callback<session.SessionData | null>): void {
    this.sessions.get(sid, this.clock.now()).then(
      (data) => cb(undefined, data ? (JSON.parse(data) as session.SessionData) : null),
      (e: unknown) => cb(e),
    );
  }

  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    // passport keeps the signed-in user's id in the session; recorded so their sessions can be ended together.
    const owner = (sess as { passport?: { user?: unknown } }).passport?.user;
    this.sessions.set(sid, JSON.stringify(sess), this.expiry(sess), typeof owner === 'number' ? owner : null).then(() => cb?.(), (e: unknown) => cb?.(e));
  }

  /** The expiry last written per session: an idle timer moved by less than a minute is not worth a commit. */
  readonly #touched = new Map<string, number>();

  override touch(sid: string, sess: session.SessionData, cb?: Callback): void {
    const expiry = this.expiry(sess);
    const last = this.#touched.get(sid);
    if (last !== undefined && expiry.getTime() - last < Math.min(60_000, this.idleMs / 30)) {
      cb?.();
      return;
    }
    if (this.#touched.size > 100_000) this.#touched.clear();
    this.#touched.set(sid, expiry.getTime());
    this.sessions.touch(sid, expiry).then(() => cb?.(), (e: unknown) => cb?.(e));
  }

  override destroy(sid: string, cb?: Callback): void {
    this.#touched.delete(sid);
    this.sessions.destroy(sid).then(() => cb?.(), (e: unknown) => cb?.(e));
  }
}
