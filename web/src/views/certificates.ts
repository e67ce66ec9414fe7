import { api, ApiError, type Certificate } from '../api.ts';
import { confirmDialog, focus, h, render } from '../dom.ts';
import { displayStatus, formatDate, reasonLabel, STATUS_LABEL } from '../format.ts';
import type { ViewContext } from '../main.ts';

export function statusBadge(c: Pick<Certificate, 'status' | 'not_after'>): HTMLElement {
  const s = displayStatus(c);
  return h('span', { class: `badge badge-${s}` }, STATUS_LABEL[s]);
}

export function deviceName(c: Pick<Certificate, 'device_label'>): string {
  return c.device_label || 'Unnamed device';
}

function details(c: Certificate): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Fingerprint (SHA-256)'),
    h('dd', {}, h('code', { class: 'fingerprint' }, c.fingerprint_sha256)),
    h('dt', {}, 'Issued'),
    h('dd', {}, formatDate(c.not_before)),
    h('dt', {}, c.status === 'expired' ? 'Expired' : 'Expires'),
    h('dd', {}, formatDate(c.not_after)),
    c.revoked_at ? [h('dt', {}, 'Revoked'), h('dd', {}, `${formatDate(c.revoked_at)} — ${reasonLabel(c.revocation_reason)}`)] : null,
    h('dt', {}, 'Serial number'),
    h('dd', {}, h('code', {}, c.serial)),
  );
}

export async function certificatesView(ctx: ViewContext): Promise<void> {
  const { certificates } = await api.myCertificates();
  const flashEl = ctx.takeFlash();
  const live = certificates.filter((c) => c.status === 'active' || c.status === 'not_yet_valid');

  const cards = certificates.map((c) => {
    const titleId = `cert-${c.serial}`;
    const actions = h('div', { class: 'actions' });
    if (c.status === 'active' || c.status === 'not_yet_valid') {
      actions.append(
        h('button', { type: 'button', class: 'button danger', 'aria-describedby': titleId, onclick: () => void lost(ctx, c) }, 'I lost this device'),
      );
    }
    return h(
      'li',
      { class: `cert card status-${displayStatus(c)}`, 'data-serial': c.serial },
      h('div', { class: 'cert-head' }, h('h2', { id: titleId }, deviceName(c)), statusBadge(c)),
      details(c),
      actions.childElementCount ? actions : null,
    );
  });

  render(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', {}, 'My certificates'), h('a', { class: 'button primary', href: '#/new' }, 'New certificate')),
    flashEl,
    h('p', { class: 'lede' }, `Signed in as ${ctx.user.email}. `, live.length === 1 ? 'You have 1 active certificate.' : `You have ${live.length} active certificates.`, ' Make one certificate for each device you send mail from.'),
    certificates.length
      ? h('ul', { class: 'cert-list', 'aria-label': 'Your certificates' }, cards)
      : h('div', { class: 'card empty' }, h('p', {}, 'You have no certificates yet.'), h('p', {}, h('a', { href: '#/new' }, 'Create your first certificate'), ' — it takes about a minute.')),
  );
  if (flashEl) focus(flashEl);
}

async function lost(ctx: ViewContext, c: Certificate): Promise<void> {
  const ok = await confirmDialog({
    title: `Revoke the certificate for “${deviceName(c)}”?`,
    body: [
      'Do this if the device is lost or stolen, or you no longer use it. The mail server stops accepting this certificate within a few minutes.',
      'This cannot be undone. You can create a new certificate for a replacement device at any time.',
    ],
    confirm: 'Revoke certificate',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.revokeMine(c.serial, 'keyCompromise');
    ctx.flash(`The certificate for “${deviceName(c)}” is revoked. The mail server will no longer accept it.`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `The certificate was not revoked: ${e.message}` : 'The certificate was not revoked. Please try again.', 'error');
  }
  ctx.refresh();
}
