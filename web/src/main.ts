import './styles.css';
import { api, ApiError, setSessionHandlers, type PortalSettings, type User } from './api.ts';
import { confirmDialog, focus, h, hasUnsaved, leavePage, render } from './dom.ts';
import { adminAliasesView, adminCertificatesView, adminHead, adminOverviewView, adminUsersView } from './views/admin.ts';
import { adminMigrationView } from './views/migration.ts';
import { certificatesView } from './views/certificates.ts';
import { csrView } from './views/csr.ts';
import { enrolView } from './views/enrol.ts';
import { helpView } from './views/help.ts';
import { passwordView } from './views/password.ts';
import { renewView } from './views/renew.ts';
import { signInView } from './views/signin.ts';

/** What a view gets: where to draw, who is signed in, and how to redraw. */
export interface ViewContext {
  main: HTMLElement;
  user: User;
  /** The part of the address after a route's prefix, e.g. the serial in #/renew/<serial>; null for plain routes. */
  param: string | null;
  settings(): Promise<PortalSettings>;
  /** Shows `message` at the top of the next view drawn. */
  flash(message: string, kind?: 'ok' | 'error'): void;
  /** The flash message as an element (focus it after drawing), or null. */
  takeFlash(): HTMLElement | null;
  refresh(): void;
}

interface Route {
  title: string;
  view: (ctx: ViewContext) => void | Promise<void>;
  admin?: boolean;
  nav?: string;
  /** A prefix route: '#/renew/' matches '#/renew/<param>'. */
  prefix?: boolean;
  /** The navigation entry marked current while this route shows. */
  navAs?: string;
}

const ROUTES: Record<string, Route> = {
  '#/': { title: 'My certificates', view: certificatesView, nav: 'My certificates' },
  '#/new': { title: 'New certificate', view: enrolView, nav: 'New certificate' },
  '#/help': { title: 'Set up your mail program', view: helpView, nav: 'Mail setup' },
  '#/csr': { title: 'Advanced: your own key', view: csrView, nav: 'Advanced' },
  '#/password': { title: 'Change your password', view: passwordView, nav: 'Password' },
  '#/renew/': { title: 'Renew certificate', view: renewView, prefix: true, navAs: '#/' },
  '#/admin': { title: 'Admin overview', view: adminOverviewView, admin: true, nav: 'Admin' },
  '#/admin/users': { title: 'Users', view: adminUsersView, admin: true },
  '#/admin/certificates': { title: 'All certificates', view: adminCertificatesView, admin: true },
  '#/admin/migration': { title: 'Migration', view: (c) => adminMigrationView(c, adminHead), admin: true },
  '#/admin/aliases/': { title: 'Sender aliases', view: adminAliasesView, admin: true, prefix: true, navAs: '#/admin' },
};

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

let user: User | null = null;
let idleMinutes: number | null = null;
let flashMessage: { text: string; kind: 'ok' | 'error' } | undefined;
let signInNotice: string | undefined;
/**
 * A failed sign-in at a provider the browser was sent to: the server answers the callback with this
 * page and the reason in a meta element. The address goes back to the portal's own, so a reload
 * does not replay the provider's answer.
 */
let signInError = document.querySelector<HTMLMetaElement>('meta[name="mailca-sign-in-error"]')?.content;
if (location.pathname !== '/') history.replaceState(null, '', '/');
let idleTimer: ReturnType<typeof setTimeout> | undefined;
let firstRender = true;

/** The route for an address: an exact match, or a prefix route with its parameter. */
function findRoute(hash: string): { key: string; route: Route; param: string | null } | null {
  const exact = ROUTES[hash];
  if (exact && !exact.prefix) return { key: hash, route: exact, param: null };
  for (const [key, route] of Object.entries(ROUTES)) {
    if (!route.prefix || !hash.startsWith(key)) continue;
    const rest = hash.slice(key.length);
    if (rest && !rest.includes('/')) {
      try {
        return { key, route, param: decodeURIComponent(rest) };
      } catch {
        return null;
      }
    }
  }
  return null;
}

const ctx = (u: User, param: string | null = null): ViewContext => ({
  main,
  user: u,
  param,
  settings: () => api.settings(),
  flash: (text, kind = 'ok') => (flashMessage = { text, kind }),
  takeFlash: () => {
    const m = flashMessage;
    flashMessage = undefined;
    return m ? h('p', { class: `alert alert-${m.kind}`, role: m.kind === 'error' ? 'alert' : 'status' }, m.text) : null;
  },
  refresh: () => void route(),
});

function drawNav(current: string): void {
  if (!user) {
    nav.hidden = true;
    nav.replaceChildren();
    return;
  }
  const links = Object.entries(ROUTES)
    .filter(([, r]) => r.nav && (!r.admin || user?.admin))
    .map(([hash, r]) => {
      const active = hash === current || (hash === '#/admin' && current.startsWith('#/admin'));
      return h('li', {}, h('a', { href: hash, 'aria-current': active ? 'page' : undefined }, r.nav));
    });
  const signOut = h('button', { type: 'button', class: 'link-button', onclick: () => void signOutNow() }, 'Sign out');
  render(nav, h('ul', {}, links), h('p', { class: 'who' }, h('span', { class: 'who-email' }, user.email), ' ', signOut));
  nav.hidden = false;
}

async function route(): Promise<void> {
  const found = findRoute(location.hash) ?? { key: '#/', route: ROUTES['#/'] as Route, param: null };
  const hash = found.route.navAs ?? found.key;
  // Whatever the last page offered for download is gone once another page is drawn.
  leavePage();
  if (!user) {
    drawNav(hash);
    document.title = 'Sign in – Mail certificates';
    const shown = { notice: signInNotice, error: signInError };
    signInNotice = undefined;
    signInError = undefined;
    await signInView(main, { ...shown, onSignedIn });
    firstRender = false;
    return;
  }
  const r = found.route;
  drawNav(hash);
  document.title = `${r.title} – Mail certificates`;
  if (r.admin && !user.admin) {
    render(main, h('h1', {}, 'Administrators only'), h('p', {}, 'This page is only for administrators. If you need help with your certificates, ask your administrator.'), h('p', {}, h('a', { href: '#/' }, 'Back to my certificates')));
  } else {
    render(main, h('p', { class: 'loading' }, 'Loading…'));
    try {
      await r.view(ctx(user, found.param));
    } catch (e) {
      if (!user) return; // the session ended while loading; the sign-in page is showing
      render(main, h('h1', {}, r.title), h('div', { class: 'alert alert-error', role: 'alert' }, e instanceof ApiError ? e.message : 'Something went wrong. Please reload the page.'));
    }
  }
  // After navigation, keyboard and screen-reader users start at the new page's heading.
  // A view may already have put focus somewhere more useful (a message, a result).
  if (!firstRender && !main.contains(document.activeElement)) focus(main.querySelector('h1'));
  firstRender = false;
}

function onSignedIn(u: User): void {
  user = u;
  void loadIdleLimit();
  if (findRoute(location.hash)) void route();
  else location.hash = '#/';
}

async function signOutNow(): Promise<void> {
  if (hasUnsaved()) {
    const ok = await confirmDialog({
      title: 'Sign out without saving your file?',
      body: ['Your new certificate’s file has not been downloaded yet. It exists only on this page: if you sign out now, it is gone and you will have to revoke the certificate and make a new one.'],
      confirm: 'Sign out anyway',
      danger: true,
    });
    if (!ok) return;
  }
  try {
    await api.logout();
  } catch {
    /* signed out either way */
  }
  endSession('You are signed out.', true);
}

/**
 * Shows the sign-in page with `notice`. A page holding something that exists only in this browser (a new key, a
 * file not yet downloaded) stays until the user leaves it, unless `force`: it gets a note and a way to sign in.
 */
function endSession(notice: string, force = false): void {
  if (!user) return;
  if (!force && hasUnsaved()) {
    // The idle timer keeps running: once the file is saved, it finds the session gone and shows the sign-in page.
    if (!main.querySelector('.session-ended')) {
      const note = h(
        'div',
        { class: 'alert alert-error session-ended', role: 'alert' },
        h('p', {}, 'Your session has ended. Your new certificate is still on this page: download the file now, then sign in again.'),
        h('p', {}, h('button', { type: 'button', class: 'button', onclick: () => endSession(notice, true) }, 'Sign in again')),
      );
      main.prepend(note);
    }
    return;
  }
  user = null;
  if (idleTimer) clearTimeout(idleTimer);
  document.querySelectorAll('dialog').forEach((d) => d.close());
  signInNotice = notice;
  void route();
}

/** The server ends an idle session; the page follows so nobody works on a dead session. */
async function loadIdleLimit(): Promise<void> {
  try {
    idleMinutes = (await api.settings()).session_idle_minutes;
  } catch {
    idleMinutes = null;
  }
  armIdleTimer();
}

function armIdleTimer(): void {
  if (idleTimer) clearTimeout(idleTimer);
  const minutes = idleMinutes;
  if (!user || !minutes) return;
  idleTimer = setTimeout(() => {
    // Not while a new certificate's file waits to be downloaded: saving it needs no server, and signing out would lose it.
    if (hasUnsaved()) return armIdleTimer();
    api.me().then(armIdleTimer, (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) endSession(`You were signed out after ${minutes} minutes without activity. Please sign in again.`);
      else armIdleTimer();
    });
  }, minutes * 60_000 + 1000);
}

setSessionHandlers(
  () => endSession('Your session has ended. Please sign in again.'),
  () => armIdleTimer(),
);

// Only portal addresses (#/…) are pages; other fragments (e.g. #main) are places within the page.
window.addEventListener('hashchange', () => {
  if (location.hash && !location.hash.startsWith('#/')) return;
  void route();
});
// "Skip to content" moves focus to the page's content without changing the address.
document.querySelector<HTMLAnchorElement>('.skip-link')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  focus(main);
});
// A link to the page already shown (e.g. "New certificate" after making one) starts it afresh.
document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest?.('a[href^="#/"]');
  if (a && a.getAttribute('href') === location.hash && !ev.defaultPrevented) {
    ev.preventDefault();
    void route();
  }
});

async function start(): Promise<void> {
  try {
    user = (await api.me()).user;
    void loadIdleLimit();
  } catch {
    user = null;
  }
  await route();
}
void start();
