import { alsoRevokedSentence, api, ApiError, type Certificate, type CertificatePage, type User, type UserPage } from '../api.ts';
import { alertBox, busy, confirmDialog, field, focus, h, render } from '../dom.ts';
import { formatDate, REVOCATION_REASONS } from '../format.ts';

/** The server refuses shorter sign-in passwords (MIN_PASSWORD_LENGTH in src/enrolment/users.ts). */
const MIN_USER_PASSWORD = 10;
/** Certificates per page in the search. */
const PAGE_SIZE = 50;
import type { ViewContext } from '../main.ts';
import { deviceName, statusBadge } from './certificates.ts';

export function adminHead(title: string, current: string): HTMLElement[] {
  const tabs = [
    ['#/admin', 'Overview'],
    ['#/admin/users', 'Users'],
    ['#/admin/certificates', 'Certificates'],
    ['#/admin/migration', 'Migration'],
  ].map(([hash, text]) => h('li', {}, h('a', { href: hash, 'aria-current': hash === current ? 'page' : undefined }, text)));
  return [h('nav', { class: 'tabs', 'aria-label': 'Admin' }, h('ul', {}, tabs)), h('h1', {}, title)];
}

export async function adminOverviewView(ctx: ViewContext): Promise<void> {
  const o = await api.overview();
  const stat = (value: number, label: string, href: string, id: string) => h('li', { class: 'stat card' }, h('a', { href }, h('span', { class: 'stat-value', 'data-testid': id }, String(value)), h('span', { class: 'stat-label' }, label)));
  render(
    ctx.main,
    ...adminHead('Admin overview', '#/admin'),
    h(
      'ul',
      { class: 'stats' },
      stat(o.users, 'Users', '#/admin/users', 'stat-users'),
      stat(o.users_with_active_certificate, 'Users with an active certificate', '#/admin/users', 'stat-users-active'),
      stat(o.certificates_expiring_soon, `Certificates expiring in ${o.window_days} days`, '#/admin/certificates', 'stat-expiring'),
      stat(o.revocations_recent, `Revocations in the last ${o.window_days} days`, '#/admin/certificates', 'stat-revoked'),
    ),
  );
}

export async function adminUsersView(ctx: ViewContext): Promise<void> {
  const flash = ctx.takeFlash();
  const alert = alertBox();
  const email = field('Email', h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off', autocapitalize: 'none' }));
  const name = field('Name', h('input', { type: 'text', name: 'name', autocomplete: 'off' }), 'Optional.');
  // autocomplete=off: this is someone else's password, not one for the browser to save for this site.
  const password = field(
    'Initial password',
    h('input', { type: 'password', name: 'initial-secret', autocomplete: 'off', minlength: MIN_USER_PASSWORD }),
    `At least ${MIN_USER_PASSWORD} characters. Leave it empty to have the server make one, shown here once. Give it to the person in a safe way.`,
  );
  const admin = h('input', { type: 'checkbox', name: 'admin', id: 'new-user-admin' });
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'add-user-title' },
    h('h2', { id: 'add-user-title' }, 'Add a user'),
    alert.el,
    email.wrap,
    name.wrap,
    password.wrap,
    h('div', { class: 'field check' }, admin, h('label', { for: admin.id }, 'Administrator')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add user')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    if (!email.control.value.trim()) {
      alert.show('Enter the new user’s email address.');
      return focus(email.control);
    }
    const pw = password.control.value;
    if (pw && pw.length < MIN_USER_PASSWORD) {
      alert.show(`The initial password needs at least ${MIN_USER_PASSWORD} characters, or leave it empty to have one made.`);
      password.control.setAttribute('aria-invalid', 'true');
      return focus(password.control);
    }
    password.control.removeAttribute('aria-invalid');
    void busy(form, 'Adding…', async () => {
      try {
        const added = await api.addUser({ email: email.control.value.trim(), name: name.control.value.trim(), password: pw || undefined, admin: admin.checked });
        if (added.generated_password) return showGeneratedPassword(ctx, added.user, added.generated_password);
        ctx.flash(`${added.user.email} was added.`);
        ctx.refresh();
      } catch (e) {
        alert.show(e instanceof ApiError ? e.message : 'The user was not added. Please try again.');
        focus(alert.el);
      }
    });
  });

  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const q = field('Find users', h('input', { type: 'search', name: 'user-q', autocomplete: 'off', spellcheck: 'false', value: lastUserSearch.q }), 'The start of an address, e.g. “ali” or “alice@”.');
  const search = h('form', { class: 'card search', role: 'search', 'aria-label': 'Users' }, q.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Find')));
  const load = async (offset: number, focusOn?: 'previous' | 'next') => {
    try {
      let page = await api.users(lastUserSearch.q, offset, USER_PAGE_SIZE);
      if (!page.users.length && page.total > 0 && offset > 0) page = await api.users(lastUserSearch.q, Math.floor((page.total - 1) / USER_PAGE_SIZE) * USER_PAGE_SIZE, USER_PAGE_SIZE);
      lastUserSearch.offset = page.offset;
      render(results, userTable(ctx, page, (o, which) => void load(o, which)));
      if (focusOn) {
        const buttons = results.querySelectorAll<HTMLButtonElement>('.pager button');
        const [prev, next] = [buttons[0], buttons[1]];
        focus(focusOn === 'next' ? (next?.disabled ? prev : next) : prev?.disabled ? next : prev);
      }
    } catch (e) {
      render(results, h('p', { class: 'alert alert-error', role: 'alert' }, e instanceof ApiError ? e.message : 'The users could not be loaded.'));
    }
  };
  search.addEventListener('submit', (ev) => {
    ev.preventDefault();
    lastUserSearch = { q: q.control.value.trim(), offset: 0 };
    void busy(search, 'Finding…', () => load(0));
  });
  await load(lastUserSearch.offset);
  render(ctx.main, ...adminHead('Users', '#/admin/users'), flash, search, results, form);
  if (flash) focus(flash);
}

/** Users per page, and the search and page shown (kept across the refresh after an action). */
const USER_PAGE_SIZE = 50;
let lastUserSearch = { q: '', offset: 0 };

function enforcementLabel(u: User): HTMLElement | string {
  if (u.disabled_at || !u.enforcement) return '';
  if (u.enforcement === 'enforced') return h('span', { class: u.active_certificates ? 'badge badge-active' : 'badge badge-expiring' }, u.active_certificates ? 'Certificate required' : 'Certificate required, has none');
  return h('span', { class: 'badge badge-expired' }, u.enforced_from ? `Password allowed until ${formatDate(u.enforced_from)}` : 'Password allowed');
}

function userTable(ctx: ViewContext, page: UserPage, go: (offset: number, which: 'previous' | 'next') => void): HTMLElement {
  const { users, total, offset } = page;
  if (!users.length) return h('p', {}, lastUserSearch.q ? `No user’s address starts with “${lastUserSearch.q}”.` : 'No users yet.');
  const rows = users.map((u) =>
    h(
      'tr',
      { 'data-email': u.email },
      h('th', { scope: 'row' }, u.email),
      h('td', {}, u.name ?? ''),
      h('td', {}, u.admin ? 'Administrator' : 'User'),
      h('td', {}, u.disabled_at ? `Disabled ${formatDate(u.disabled_at)}` : 'Enabled'),
      h('td', { class: 'enforcement' }, enforcementLabel(u)),
      h('td', { class: 'certificates' }, String(u.active_certificates ?? '')),
      h('td', { class: 'aliases' }, u.aliases?.length ? u.aliases.join(', ') : h('span', { class: 'hint' }, 'None')),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'row-actions' },
          h('a', { href: `#/admin/aliases/${encodeURIComponent(u.email)}`, class: 'button small', 'aria-label': `Sender aliases of ${u.email}` }, 'Aliases'),
          u.email !== ctx.user.email ? h('button', { type: 'button', class: 'button small', 'aria-label': `Reset the password of ${u.email}`, onclick: () => void resetUserPassword(ctx, u) }, 'Reset password') : null,
          u.disabled_at ? h('button', { type: 'button', class: 'button small', 'aria-label': `Enable ${u.email}`, onclick: () => void enable(ctx, u) }, 'Enable') : null,
          !u.disabled_at && u.email !== ctx.user.email ? h('button', { type: 'button', class: 'button small danger', 'aria-label': `Disable ${u.email}`, onclick: () => void disable(ctx, u) }, 'Disable') : null,
        ),
      ),
    ),
  );
  const paged = users.length < total;
  const shown = paged ? `Showing ${offset + 1}–${offset + users.length} of ${total} users` : `${total} user${total === 1 ? '' : 's'}`;
  const table = h(
    'div',
    { class: 'table-wrap' },
    h('table', {}, h('caption', {}, shown), h('thead', {}, h('tr', {}, ['Email', 'Name', 'Role', 'State', 'Enforcement', 'Active certificates', 'Sender aliases', h('span', { class: 'sr-only' }, 'Actions')].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)),
  );
  if (!paged) return table;
  const size = page.limit || USER_PAGE_SIZE;
  const prev = h('button', { type: 'button', class: 'button', disabled: offset <= 0, 'aria-label': 'Previous page of users' }, 'Previous');
  const next = h('button', { type: 'button', class: 'button', disabled: offset + users.length >= total, 'aria-label': 'Next page of users' }, 'Next');
  prev.addEventListener('click', () => go(Math.max(0, offset - size), 'previous'));
  next.addEventListener('click', () => go(offset + size, 'next'));
  return h('div', {}, table, h('nav', { class: 'pager actions', 'aria-label': 'User pages' }, prev, h('span', { class: 'pager-where' }, `Page ${Math.floor(offset / size) + 1} of ${Math.ceil(total / size)}`), next));
}

async function resetUserPassword(ctx: ViewContext, u: User): Promise<void> {
  const ok = await confirmDialog({
    title: `Reset the password of ${u.email}?`,
    body: ['The server makes a new password, shown to you once. Their old password stops working and they are signed out everywhere.'],
    confirm: 'Reset password',
  });
  if (!ok) return;
  try {
    const r = await api.resetPassword(u.email);
    if (r.generated_password) return showGeneratedPassword(ctx, u, r.generated_password, 'reset');
    ctx.flash(`The password of ${u.email} was reset.`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `The password was not reset: ${e.message}` : 'The password was not reset.', 'error');
  }
  ctx.refresh();
}

async function enable(ctx: ViewContext, u: User): Promise<void> {
  const ok = await confirmDialog({
    title: `Enable ${u.email}?`,
    body: ['They can sign in again. Their old certificates stay revoked: they make a new one in the portal.'],
    confirm: 'Enable user',
  });
  if (!ok) return;
  try {
    await api.enableUser(u.email);
    ctx.flash(`${u.email} is enabled again.`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `${u.email} was not enabled: ${e.message}` : `${u.email} was not enabled.`, 'error');
  }
  ctx.refresh();
}

/** #/admin/aliases/<email>: the addresses a user's certificates may send as besides their own. */
export async function adminAliasesView(ctx: ViewContext): Promise<void> {
  const email = ctx.param ?? '';
  const flash = ctx.takeFlash();
  let aliases: string[];
  try {
    ({ aliases } = await api.aliases(email));
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 400)) throw e;
    render(ctx.main, ...adminHead('Sender aliases', '#/admin/users'), h('p', { class: 'alert alert-error', role: 'alert' }, e.message), h('p', {}, h('a', { href: '#/admin/users' }, 'Back to users')));
    return;
  }
  const alert = alertBox();
  const alias = field('Alias address', h('input', { type: 'email', name: 'alias', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }), 'Not a user’s address, and not another user’s alias.');
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'add-alias-title' },
    h('h2', { id: 'add-alias-title' }, 'Add a sender alias'),
    alert.el,
    alias.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add alias')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    const value = alias.control.value.trim();
    if (!value) {
      alert.show('Enter the address to add.');
      return focus(alias.control);
    }
    void busy(form, 'Adding…', async () => {
      try {
        const added = await api.addAlias(email, value);
        ctx.flash(`${added.email} may now send as ${added.alias}.`);
        ctx.refresh();
      } catch (e) {
        alert.show(e instanceof ApiError ? e.message : 'The alias was not added. Please try again.');
        focus(alert.el);
      }
    });
  });
  const list = aliases.length
    ? h(
        'ul',
        { class: 'alias-list', 'aria-label': `Sender aliases of ${email}` },
        aliases.map((a) => h('li', { 'data-alias': a }, h('span', { class: 'alias' }, a), h('button', { type: 'button', class: 'button small danger', 'aria-label': `Remove ${a}`, onclick: () => void removeAlias(ctx, email, a) }, 'Remove'))),
      )
    : h('p', {}, `${email} has no sender aliases.`);
  render(
    ctx.main,
    ...adminHead(`Sender aliases of ${email}`, '#/admin/users'),
    flash,
    h('p', { class: 'lede' }, `Certificates of ${email} may send mail as ${email} and as these addresses. Mail servers check the sender (MAIL FROM) against this list.`),
    h('section', { class: 'card', 'aria-label': 'Aliases' }, list),
    form,
    h('p', {}, h('a', { href: '#/admin/users' }, 'Back to users')),
  );
  if (flash) focus(flash);
}

async function removeAlias(ctx: ViewContext, email: string, alias: string): Promise<void> {
  const ok = await confirmDialog({
    title: `Remove ${alias}?`,
    body: [`Certificates of ${email} will no longer be accepted for mail from ${alias}.`],
    confirm: 'Remove alias',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.removeAlias(email, alias);
    ctx.flash(`${email} may no longer send as ${alias}.`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `The alias was not removed: ${e.message}` : 'The alias was not removed.', 'error');
  }
  ctx.refresh();
}

/** The password the server made for a new user, shown this once (it is not stored anywhere it could be shown again). */
function showGeneratedPassword(ctx: ViewContext, u: User, generated: string, what: 'added' | 'reset' = 'added'): void {
  const headingId = 'generated-password-title';
  const value = h('code', { class: 'generated-password', 'data-testid': 'generated-password' }, generated);
  const copy = h('button', { type: 'button', class: 'button' }, 'Copy password');
  const copied = h('span', { role: 'status', class: 'hint' });
  copy.addEventListener('click', () => {
    navigator.clipboard?.writeText(generated).then(
      () => (copied.textContent = ' Copied.'),
      () => (copied.textContent = ' Copying did not work here: select the password and copy it by hand.'),
    );
  });
  const heading = h('h2', { id: headingId }, what === 'added' ? `${u.email} was added` : `The password of ${u.email} was reset`);
  render(
    ctx.main,
    ...adminHead('Users', '#/admin/users'),
    h(
      'section',
      { class: 'card generated', 'aria-labelledby': headingId },
      heading,
      h('p', { class: 'alert alert-ok', role: 'status' }, what === 'added' ? 'The server made this initial password. Copy it now: it is shown only this once and cannot be shown again.' : 'The server made this new password. Copy it now: it is shown only this once and cannot be shown again.'),
      h('p', {}, value, ' ', copy, copied),
      h('p', {}, 'Give it to the person in a safe way (not in the same message as their address). Nobody, not even the server, can show it again.'),
      h('p', { class: 'actions' }, h('a', { href: '#/admin/users', class: 'button primary' }, 'Done, back to users')),
    ),
  );
  focus(heading);
}

async function disable(ctx: ViewContext, u: User): Promise<void> {
  const ok = await confirmDialog({
    title: `Disable ${u.email}?`,
    body: ['They can no longer sign in, and all their certificates are revoked at once, so the mail server stops accepting them.'],
    confirm: 'Disable user',
    danger: true,
  });
  if (!ok) return;
  try {
    const r = await api.disableUser(u.email);
    ctx.flash(`${u.email} is disabled; ${r.revoked_serials.length} certificate(s) revoked.`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `${u.email} was not disabled: ${e.message}` : 'The user was not disabled.', 'error');
  }
  ctx.refresh();
}

/** Search terms and the page shown survive the refresh after a revocation. */
let lastSearch = { q: '', status: '', offset: 0 };

export async function adminCertificatesView(ctx: ViewContext): Promise<void> {
  const flash = ctx.takeFlash();
  const q = field('Search', h('input', { type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false', value: lastSearch.q }), 'An address (or part of one), a serial number or a SHA-256 fingerprint.');
  const status = field(
    'Status',
    h('select', { name: 'status' }, [
      ['', 'Any status'],
      ['active', 'Active'],
      ['revoked', 'Revoked'],
      ['expired', 'Expired'],
      ['not_yet_valid', 'Not yet valid'],
    ].map(([v, t]) => h('option', { value: v, selected: v === lastSearch.status }, t))),
  );
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const form = h('form', { class: 'card search', role: 'search' }, q.wrap, status.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Search')));

  /** Shows the page at `offset` of the current search; `focusOn` is the pager button to keep focus on afterwards. */
  const load = async (offset: number, focusOn?: 'previous' | 'next') => {
    try {
      let page = await api.searchCertificates(lastSearch.q, lastSearch.status, offset, PAGE_SIZE);
      if (!page.certificates.length && page.total > 0 && offset > 0) {
        // The page emptied (e.g. after a revocation under a status filter): show the last page there is.
        page = await api.searchCertificates(lastSearch.q, lastSearch.status, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE, PAGE_SIZE);
      }
      lastSearch.offset = page.offset;
      render(results, certificateTable(ctx, page, (o, which) => void load(o, which)));
      if (focusOn) {
        const buttons = results.querySelectorAll<HTMLButtonElement>('.pager button');
        const [prev, next] = [buttons[0], buttons[1]];
        focus(focusOn === 'next' ? (next?.disabled ? prev : next) : prev?.disabled ? next : prev);
      }
    } catch (e) {
      render(results, h('p', { class: 'alert alert-error', role: 'alert' }, e instanceof ApiError ? e.message : 'The search failed.'));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    lastSearch = { q: q.control.value.trim(), status: status.control.value, offset: 0 };
    void busy(form, 'Searching…', () => load(0));
  });
  await load(lastSearch.offset);
  render(ctx.main, ...adminHead('All certificates', '#/admin/certificates'), flash, form, results);
  if (flash) focus(flash);
}

function certificateTable(ctx: ViewContext, page: CertificatePage, go: (offset: number, which: 'previous' | 'next') => void): HTMLElement {
  const { certificates: certs, total, offset } = page;
  if (!certs.length) return h('p', {}, 'No certificates match.');
  const rows = certs.map((c) =>
    h(
      'tr',
      { 'data-serial': c.serial },
      h('th', { scope: 'row' }, c.email),
      h('td', {}, deviceName(c)),
      h('td', {}, statusBadge(c)),
      h('td', {}, h('code', { class: 'fingerprint' }, c.fingerprint_sha256), h('br'), h('small', {}, 'Serial ', h('code', {}, c.serial))),
      h('td', {}, formatDate(c.not_after)),
      h('td', {}, c.status === 'active' || c.status === 'not_yet_valid' ? h('button', { type: 'button', class: 'button small danger', 'aria-label': `Revoke ${c.email} ${deviceName(c)}`, onclick: () => void revoke(ctx, c) }, 'Revoke') : null),
    ),
  );
  const paged = certs.length < total;
  const shown = paged ? `Showing ${offset + 1}–${offset + certs.length} of ${total} certificates` : `${total} certificate${total === 1 ? '' : 's'}`;
  const table = h(
    'div',
    { class: 'table-wrap' },
    h('table', {}, h('caption', {}, shown), h('thead', {}, h('tr', {}, ['Address', 'Device', 'Status', 'Fingerprint (SHA-256)', 'Expires', h('span', { class: 'sr-only' }, 'Actions')].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)),
  );
  if (!paged) return table;
  const size = page.limit || PAGE_SIZE;
  const pages = Math.ceil(total / size);
  const current = Math.floor(offset / size) + 1;
  const prev = h('button', { type: 'button', class: 'button', disabled: offset <= 0, 'aria-label': 'Previous page of certificates' }, 'Previous');
  const next = h('button', { type: 'button', class: 'button', disabled: offset + certs.length >= total, 'aria-label': 'Next page of certificates' }, 'Next');
  prev.addEventListener('click', () => go(Math.max(0, offset - size), 'previous'));
  next.addEventListener('click', () => go(offset + size, 'next'));
  return h('div', {}, table, h('nav', { class: 'pager actions', 'aria-label': 'Certificate pages' }, prev, h('span', { class: 'pager-where' }, `Page ${current} of ${pages}`), next));
}

async function revoke(ctx: ViewContext, c: Certificate): Promise<void> {
  const reason = field('Reason', h('select', { name: 'reason' }, REVOCATION_REASONS.map((r) => h('option', { value: r.value }, r.label))));
  const ok = await confirmDialog({
    title: `Revoke the certificate of ${c.email}?`,
    body: [`Device: ${deviceName(c)}. Serial ${c.serial}.`, 'The mail server stops accepting it within a few minutes. This cannot be undone.'],
    extra: reason.wrap,
    confirm: 'Revoke certificate',
    danger: true,
  });
  if (!ok) return;
  try {
    const r = await api.revokeAny(c.serial, reason.control.value);
    ctx.flash(`The certificate of ${c.email} (${deviceName(c)}) is revoked.${alsoRevokedSentence(r)}`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `The certificate was not revoked: ${e.message}` : 'The certificate was not revoked.', 'error');
  }
  ctx.refresh();
}
