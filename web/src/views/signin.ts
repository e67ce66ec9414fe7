import { api, ApiError, type SignInOptions, type User } from '../api.ts';
import { alertBox, busy, field, focus, h, render } from '../dom.ts';

/** Fetched once per page load; without an answer the page offers the password form. */
let options: Promise<SignInOptions> | undefined;
const signInOptions = () => (options ??= api.signInOptions().catch(() => ({ password: true, providers: [] })));

/**
 * The sign-in page: the address and password form (when the server takes passwords) and a
 * "Sign in with <provider>" button per provider the browser is sent to. `error` is a failed
 * sign-in at such a provider, as the server reported it.
 */
export async function signInView(main: HTMLElement, opts: { notice?: string; error?: string; onSignedIn(user: User): void }): Promise<void> {
  const { password: takesPasswords, providers } = await signInOptions();
  const alert = alertBox();
  if (opts.error) alert.show(opts.error);
  const buttons = providers.map((p) => h('p', { class: 'actions' }, h('a', { class: `button${takesPasswords ? '' : ' primary'}`, href: p.start }, `Sign in with ${p.label}`)));
  const card = (...children: (Node | null)[]) =>
    h(
      'form',
      { class: 'card narrow', novalidate: true, 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title' }, 'Sign in'),
      h('p', {}, takesPasswords ? 'Sign in with your email address and password to get a certificate for your mail program.' : 'Sign in to get a certificate for your mail program.'),
      opts.notice ? h('p', { class: 'notice', role: 'status' }, opts.notice) : null,
      alert.el,
      ...children,
    );
  if (!takesPasswords) {
    const form = card(...buttons);
    form.addEventListener('submit', (ev) => ev.preventDefault());
    render(main, form);
    focus(opts.error ? alert.el : (form.querySelector('a') ?? form.querySelector('h1')));
    return;
  }
  const email = field('Email', h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }));
  const password = field('Password', h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true }));
  const form = card(
    email.wrap,
    password.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Sign in')),
    buttons.length ? h('p', { class: 'hint' }, 'Or:') : null,
    ...buttons,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    const e = email.control.value.trim();
    const p = password.control.value;
    if (!e || !p) {
      alert.show(!e ? 'Enter your email address.' : 'Enter your password.');
      focus(!e ? email.control : password.control);
      return;
    }
    void busy(form, 'Signing in…', async () => {
      try {
        const { user } = await api.login(e, p);
        opts.onSignedIn(user);
      } catch (err) {
        password.control.value = '';
        alert.show(err instanceof ApiError ? err.message : 'Signing in failed. Please try again.');
        email.control.setAttribute('aria-invalid', 'true');
        password.control.setAttribute('aria-invalid', 'true');
      }
    }).then(() => {
      if (!form.isConnected) return;
      focus(password.control);
    });
  });
  render(main, form);
  focus(opts.error ? alert.el : email.control.value ? password.control : email.control);
}
