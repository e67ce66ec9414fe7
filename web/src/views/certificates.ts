import { alsoRevokedSentence, api, ApiError, type Certificate } from '../api.ts';
import { confirmDialog, focus, h, render } from '../dom.ts';
import { canRenew, displayStatus, formatDate, formatDateTime, reasonLabel, STATUS_LABEL } from '../format.ts';
import type { ViewContext } from '../main.ts';

export function statusBadge(c: Parameters<typeof displayStatus>[0]): HTMLElement {
  const s = displayStatus(c);
  return h('span', { class: `badge badge-${s}` }, STATUS_LABEL[s]);
}

export function deviceName(c: Pick<Certificate, 'device_label'>): string {
  return c.device_label || 'Unnamed device';
}

function details(c: Certificate, all: Certificate[]): HTMLElement {
  const predecessor = c.renewal_of ? all.find((x) => x.serial === c.renewal_of) : undefined;
  const renewalNotYet = c.status === 'active' && !c.renewed_by && c.renewal_opens && !canRenew(c);
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Fingerprint (SHA-256)'),
    h('dd', {}, h('code', { class: 'fingerprint' }, c.fingerprint_sha256)),
    h('dt', {}, 'Issued'),
    h('dd', {}, formatDate(c.not_before)),
    h('dt', {}, c.status === 'expired' ? 'Expired' : 'Expires'),
    h('dd', {}, formatDate(c.not_after)),
    renewalNotYet ? [h('dt', {}, 'Renewal opens'), h('dd', {}, formatDate(c.renewal_opens ?? null))] : null,
    c.revoked_at ? [h('dt', {}, 'Revoked'), h('dd', {}, `${formatDate(c.revoked_at)} — ${reasonLabel(c.revocation_reason)}`)] : null,
    c.renewal_of ? [h('dt', {}, 'Renews'), h('dd', {}, predecessor ? `${deviceName(predecessor)}, serial ` : 'Serial ', h('code', {}, c.renewal_of))] : null,
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
    let note: HTMLElement | null = null;
    if (canRenew(c)) {
      note = h('p', { class: 'cert-note' }, 'You can renew this certificate now: you get a new file for this device, and the current one keeps working until you have installed it.');
      actions.append(h('a', { class: 'button primary', href: `#/renew/${encodeURIComponent(c.serial)}`, 'aria-describedby': titleId }, 'Renew'));
    }
    if (c.status === 'active' && c.renewed_by) {
      note = h('p', { class: 'cert-note notice', id: `renewed-${c.serial}`, 'data-testid': 'renewed-note' }, c.overlap_ends ? `Renewed — the old certificate stops working on ${formatDateTime(c.overlap_ends)}.` : 'Renewed — the old certificate stops working soon.');
      actions.append(endOverlapButton(ctx, c, { afterwards: 'refresh', describedBy: `${titleId} renewed-${c.serial}` }));
    }
    if (c.status === 'active' || c.status === 'not_yet_valid') {
      actions.append(
        h('button', { type: 'button', class: 'button danger', 'aria-describedby': titleId, onclick: () => void lost(ctx, c) }, 'I lost this device'),
      );
    }
    return h(
      'li',
      { class: `cert card status-${displayStatus(c)}`, 'data-serial': c.serial },
      h('div', { class: 'cert-head' }, h('h2', { id: titleId }, deviceName(c)), statusBadge(c)),
      details(c, certificates),
      note,
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

/**
 * "I’ve installed the new certificate everywhere": after confirmation, the renewed (old) certificate is superseded now
 * instead of at the end of the overlap. Afterwards the list is redrawn, or shown if we are elsewhere.
 */
export function endOverlapButton(ctx: ViewContext, old: Pick<Certificate, 'serial' | 'device_label'> & { overlap_ends?: string | null }, opts: { afterwards: 'refresh' | 'list'; describedBy?: string }): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'button', 'aria-describedby': opts.describedBy }, 'I’ve installed the new certificate everywhere');
  button.addEventListener('click', () => void endOverlap(ctx, old, opts.afterwards));
  return button;
}

async function endOverlap(ctx: ViewContext, old: Pick<Certificate, 'serial' | 'device_label'> & { overlap_ends?: string | null }, afterwards: 'refresh' | 'list'): Promise<void> {
  const ok = await confirmDialog({
    title: `Stop the old certificate for “${deviceName(old)}” now?`,
    body: [
      'Do this when the new certificate is installed in every mail program that used the old one. The mail server stops accepting the old certificate within a few minutes.',
      old.overlap_ends ? `This cannot be undone. If you do nothing, the old certificate stops working by itself on ${formatDateTime(old.overlap_ends)}.` : 'This cannot be undone.',
    ],
    confirm: 'Stop the old certificate',
  });
  if (!ok) return;
  try {
    await api.endOverlap(old.serial);
    ctx.flash(`The old certificate for “${deviceName(old)}” is retired (replaced by the new one). The mail server will only accept the new certificate.`);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'no_overlap') ctx.flash('The old certificate was already retired.');
    else ctx.flash(e instanceof ApiError ? `The old certificate was not retired: ${e.message}` : 'The old certificate was not retired. Please try again.', 'error');
  }
  if (afterwards === 'list' && location.hash !== '#/') location.hash = '#/';
  else ctx.refresh();
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
    const r = await api.revokeMine(c.serial, 'keyCompromise');
    ctx.flash(`The certificate for “${deviceName(c)}” is revoked. The mail server will no longer accept it.${alsoRevokedSentence(r)}`);
  } catch (e) {
    ctx.flash(e instanceof ApiError ? `The certificate was not revoked: ${e.message}` : 'The certificate was not revoked. Please try again.', 'error');
  }
  ctx.refresh();
}
