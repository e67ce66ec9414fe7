import type { Store } from './index.ts';

/** Some methods of some parts of the store: `{ part: ['method', …] }`. */
type ViewSpec = { readonly [P in keyof Store]?: readonly (keyof Store[P])[] };
type ViewOf<S extends ViewSpec> = { readonly [P in keyof S & keyof Store]: Pick<Store[P], NonNullable<S[P]>[number] & keyof Store[P]> };

/** Functions calling the named methods, and nothing else: the object leads to no store, connection or other method. */
function view<S extends ViewSpec>(store: Store, spec: S): ViewOf<S> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [part, methods] of Object.entries(spec) as [keyof Store, readonly PropertyKey[]][]) {
    const target = store[part] as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>;
    out[part] = Object.freeze(Object.fromEntries(methods.map((m) => [m, (...a: unknown[]) => target[m]!(...a)])));
  }
  return Object.freeze(out) as unknown as ViewOf<S>;
}

/** The reads the HTTP tier makes directly (its changes go through the enrolment functions). */
const HTTP_READS = {
  certificates: ['list', 'search', 'findBySerial', 'listForUser', 'countActive', 'countUsersWithActive', 'countExpiringBy', 'countRevokedSince'],
  users: ['count', 'findById', 'findByEmail'],
  cas: ['findActive'],
  tokens: ['list'],
  audit: ['list'],
  enforcement: ['policy'],
} as const satisfies ViewSpec;

export type StoreReads = ViewOf<typeof HTTP_READS> & { ping(): Promise<void> };

/** A read-only view of the store for the HTTP tier. */
export function storeReads(store: Store): StoreReads {
  return Object.freeze({ ...view(store, HTTP_READS), ping: () => store.ping() });
}

const SESSION_RECORDS = { sessions: ['get', 'set', 'touch', 'destroy'] } as const satisfies ViewSpec;

/** What express-session needs of the store: its own session rows, and nothing else. */
export type SessionRecords = ViewOf<typeof SESSION_RECORDS>['sessions'];

export function sessionRecords(store: Store): SessionRecords {
  return view(store, SESSION_RECORDS).sessions;
}
