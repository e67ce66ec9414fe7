import { api, type Certificate } from '../api.ts';
import { focus, h, render, uid } from '../dom.ts';
import { canRenew, formatDate, formatDateTime, STATUS_LABEL, displayStatus } from '../format.ts';
import type { ViewContext } from '../main.ts';
import { deviceName, endOverlapButton } from './certificates.ts';
import { keyNotice } from './enrol.ts';
import { keyForm, showResult } from './keyform.ts';

/** #/renew/<serial>: a new key in this browser, the successor certificate, and a new .p12, like enrolment. */
export async function renewView(ctx: ViewContext): Promise<void> {
  const serial = ctx.param ?? '';
  const { certificates } = await api.myCertificates();
  const c = certificates.find((x) => x.serial === serial);
  if (!c || !canRenew(c)) return cannotRenew(ctx, c);

  const device = deviceName(c);
  const form = keyForm(ctx, {
    labelledBy: 'renew-title',
    device: c.device_label,
    submit: 'Renew certificate',
    busyLabel: 'Renewing…',
    issue: (csrPem, label) => api.renew(c.serial, csrPem, label),
    failed: 'The certificate could not be renewed',
    explain: (e) => {
      if (e.code === 'not_in_renewal_window') return `This certificate cannot be renewed yet.${c.renewal_opens ? ` You can renew it from ${formatDate(c.renewal_opens)}.` : ''}`;
      if (e.code === 'already_renewed') return 'This certificate was already renewed, perhaps in another window. Go back to My certificates to see the new one.';
      if (e.code === 'not_renewable') return 'This certificate can no longer be renewed: it was revoked or has expired. Create a new certificate instead.';
      return undefined;
    },
    done: async (made) => {
      // The old certificate's overlap end is in the list (the renewal answer does not carry it).
      const overlapEnds = await api
        .myCertificates()
        .then((r) => r.certificates.find((x) => x.serial === c.serial)?.overlap_ends ?? null)
        .catch(() => null);
      const titleId = uid('overlap');
      await showResult(ctx, made, {
        title: 'Renew certificate',
        heading: 'Your new certificate is ready',
        extra: [
          h(
            'section',
            { class: 'card overlap', 'aria-labelledby': titleId },
            h('h2', { id: titleId }, 'Your old certificate'),
            h(
              'p',
              { 'data-testid': 'overlap-note' },
              overlapEnds
                ? ['The old certificate keeps working until ', h('strong', {}, formatDateTime(overlapEnds)), ', so you have time to install the new file on every device that uses it. Then it stops working by itself.']
                : 'The old certificate keeps working for a few days, so you have time to install the new file on every device that uses it. Then it stops working by itself.',
            ),
            h('p', {}, 'Once the new certificate is installed everywhere, you can stop the old one now.'),
            h('div', { class: 'actions' }, endOverlapButton(ctx, { serial: c.serial, device_label: c.device_label, overlap_ends: overlapEnds }, { afterwards: 'list' })),
          ),
        ],
      });
    },
  });

  render(
    ctx.main,
    h('h1', { id: 'renew-title' }, 'Renew certificate'),
    h(
      'p',
      { class: 'lede' },
      'Renewing gives ',
      h('strong', {}, device),
      ` a new key and a new certificate for ${c.email}. The current certificate (expires ${formatDate(c.not_after)}) keeps working for a few days after you renew, so you have time to install the new file.`,
    ),
    keyNotice(),
    form,
  );
}

function cannotRenew(ctx: ViewContext, c: Certificate | undefined): void {
  let why: string;
  if (!c) why = 'This certificate is not one of yours, or it no longer exists.';
  else if (c.renewed_by) why = `The certificate for “${deviceName(c)}” was already renewed. The new certificate is in your list.`;
  else if (c.status !== 'active') why = `The certificate for “${deviceName(c)}” is ${STATUS_LABEL[displayStatus(c)].toLowerCase()}, so it cannot be renewed. Create a new certificate instead.`;
  else why = `The certificate for “${deviceName(c)}” cannot be renewed yet.${c.renewal_opens ? ` You can renew it from ${formatDate(c.renewal_opens)}.` : ''}`;
  const msg = h('p', { class: 'alert alert-error', role: 'alert' }, why);
  render(ctx.main, h('h1', {}, 'Renew certificate'), msg, h('p', {}, h('a', { href: '#/' }, 'Back to my certificates'), ' · ', h('a', { href: '#/new' }, 'New certificate')));
  focus(msg);
}
