import { api } from '../api.ts';
import { h, render } from '../dom.ts';
import type { ViewContext } from '../main.ts';
import { keyForm, showResult } from './keyform.ts';

export function enrolView(ctx: ViewContext): void {
  const form = keyForm(ctx, {
    labelledBy: 'new-title',
    submit: 'Create certificate',
    busyLabel: 'Creating…',
    issue: (csrPem, device) => api.enrol(csrPem, device),
    failed: 'The certificate could not be created',
    done: async (made) => void (await showResult(ctx, made, { title: 'New certificate', heading: 'Your certificate is ready' })),
  });
  render(ctx.main, h('h1', { id: 'new-title' }, 'New certificate'), keyNotice(), form);
}

export function keyNotice(): HTMLElement {
  return h(
    'p',
    { class: 'notice key-notice' },
    h('strong', {}, 'Your private key never leaves this browser. '),
    'It is made here, and only the public part is sent to the server. The key goes into a password-protected file that you download; nobody else, not even the administrators, has a copy.',
  );
}
