import { api, ApiError, type User } from '../api.ts';
import { alertBox, busy, field, focus, h, render } from '../dom.ts';

export function signInView(main: HTMLElement, opts: { notice?: string; onSignedIn(user: User): void }): void {
  const email = field('Email', h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }));
  const password = field('Password', h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true }));
  const alert = alertBox();
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', {}, 'Sign in with your email address and password to get a certificate for your mail program.'),
    opts.notice ? h('p', { class: 'notice', role: 'status' }, opts.notice) : null,
    alert.el,
    email.wrap,
    password.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Sign in')),
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
  focus(email.control.value ? password.control : email.control);
}
