import { api, ApiError } from '../api.ts';
import { alertBox, busy, field, focus, h, render } from '../dom.ts';
import type { ViewContext } from '../main.ts';

/** The server refuses shorter passwords (MIN_PASSWORD_LENGTH in src/enrolment/users.ts). */
const MIN_PASSWORD = 10;

/** #/password: change one's own sign-in password (the current one is required). */
export function passwordView(ctx: ViewContext): void {
  const flash = ctx.takeFlash();
  const alert = alertBox();
  const current = field('Current password', h('input', { type: 'password', name: 'current-password', autocomplete: 'current-password', required: true }));
  const next = field('New password', h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD }), `At least ${MIN_PASSWORD} characters, on one line.`);
  const again = field('New password again', h('input', { type: 'password', name: 'new-password-again', autocomplete: 'new-password', required: true }));
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true, 'aria-labelledby': 'password-title' },
    h('h1', { id: 'password-title' }, 'Change your password'),
    h('p', {}, 'This is the password you sign in to this portal with. Your other sessions end; this one stays signed in.'),
    flash,
    alert.el,
    current.wrap,
    next.wrap,
    again.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Change password')),
  );
  const invalid = (control: HTMLInputElement, message: string) => {
    alert.show(message);
    control.setAttribute('aria-invalid', 'true');
    focus(control);
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    for (const f of [current, next, again]) f.control.removeAttribute('aria-invalid');
    if (!current.control.value) return invalid(current.control, 'Enter your current password.');
    if (next.control.value.length < MIN_PASSWORD) return invalid(next.control, `The new password needs at least ${MIN_PASSWORD} characters.`);
    if (next.control.value !== again.control.value) return invalid(again.control, 'The two new passwords are not the same.');
    void busy(form, 'Changing…', async () => {
      try {
        await api.changeMyPassword(current.control.value, next.control.value);
        for (const f of [current, next, again]) f.control.value = '';
        ctx.flash('Your password was changed.');
        ctx.refresh();
      } catch (e) {
        if (e instanceof ApiError && e.code === 'wrong_password') return invalid(current.control, 'The current password is not correct.');
        alert.show(e instanceof ApiError ? e.message : 'The password was not changed. Please try again.');
        focus(alert.el);
      }
    });
  });
  render(ctx.main, form);
  focus(flash ?? current.control);
}
