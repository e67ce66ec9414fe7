import { api, ApiError } from '../api.ts';
import { alertBox, busy, downloadLink, field, focus, h, render, uid } from '../dom.ts';
import { formatDate, MIN_FILE_PASSWORD, passwordStrength } from '../format.ts';
import type { ViewContext } from '../main.ts';
import { importInstructions, smtpSettings } from './help.ts';

// Starts loading the key/CSR/PKCS#12 code as soon as the form is shown.
const loadKeys = () => import('../enrol/keys.ts');

function radioGroup(legend: string, name: string, options: { value: string; label: string; hint: string }[], checked: string): HTMLFieldSetElement {
  return h(
    'fieldset',
    { class: 'choices' },
    h('legend', {}, legend),
    options.map((o) => {
      const id = uid(name);
      return h(
        'div',
        { class: 'choice' },
        h('input', { type: 'radio', name, id, value: o.value, checked: o.value === checked, 'aria-describedby': `${id}-hint` }),
        h('label', { for: id }, o.label),
        h('p', { class: 'hint', id: `${id}-hint` }, o.hint),
      );
    }),
  );
}

export function enrolView(ctx: ViewContext): void {
  const keysModule = loadKeys();
  keysModule.catch(() => undefined);
  const email = ctx.user.email;

  const label = field('Device name', h('input', { type: 'text', name: 'device', maxlength: 100, required: true, autocomplete: 'off' }), 'For example “Laptop Thunderbird” or “Work iPhone”, so you can recognise the certificate later.');
  const password = field('File password', h('input', { type: 'password', name: 'file-password', autocomplete: 'new-password', required: true, minlength: MIN_FILE_PASSWORD }), passwordStrength('').label);
  const meter = h('meter', { min: 0, max: 3, low: 1.5, high: 2.5, optimum: 3, value: 0, 'aria-hidden': 'true' });
  password.wrap.insertBefore(meter, password.hint);
  password.hint?.setAttribute('aria-live', 'polite');
  const repeat = field('Repeat the file password', h('input', { type: 'password', name: 'file-password-repeat', autocomplete: 'new-password', required: true }));
  password.control.addEventListener('input', () => {
    const s = passwordStrength(password.control.value);
    meter.value = s.score;
    if (password.hint) password.hint.textContent = s.label;
  });

  const keyType = radioGroup(
    'Key type',
    'key-type',
    [
      { value: 'P-256', label: 'ECDSA P-256 (recommended)', hint: 'Small and fast; works with current mail programs.' },
      { value: 'RSA-2048', label: 'RSA 2048', hint: 'For older Outlook versions that do not accept ECDSA keys.' },
    ],
    'P-256',
  );
  const format = radioGroup(
    'File format',
    'file-format',
    [
      { value: 'modern', label: 'Modern (recommended)', hint: 'AES-256 encryption with PBKDF2-SHA256: current Thunderbird, Apple Mail, Outlook, iOS and Android.' },
      { value: 'legacy', label: 'Legacy-compatible', hint: '3DES encryption with a SHA-1 check: for older macOS, Windows and Android versions that cannot open the modern file.' },
    ],
    'modern',
  );

  const alert = alertBox();
  const progress = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'new-title' },
    alert.el,
    label.wrap,
    keyType,
    password.wrap,
    repeat.wrap,
    format,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Create certificate'), h('a', { href: '#/', class: 'button' }, 'Cancel')),
    progress,
  );

  const fail = (message: string, control?: HTMLElement) => {
    alert.show(message);
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      focus(control);
    } else focus(alert.el);
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
    const device = label.control.value.trim();
    const pw = password.control.value;
    const chosenKey = (form.querySelector<HTMLInputElement>('input[name=key-type]:checked')?.value ?? 'P-256') as 'P-256' | 'RSA-2048';
    const chosenFormat = (form.querySelector<HTMLInputElement>('input[name=file-format]:checked')?.value ?? 'modern') as 'modern' | 'legacy';
    if (!device) return fail('Give the device a name, for example “Laptop Thunderbird”.', label.control);
    if (pw.length < MIN_FILE_PASSWORD) return fail(`The file password needs at least ${MIN_FILE_PASSWORD} characters.`, password.control);
    if (pw !== repeat.control.value) return fail('The two passwords are not the same. Type the file password again in both fields.', repeat.control);

    void busy(form, 'Creating…', async () => {
      try {
        progress.textContent = 'Creating your key in this browser…';
        const keys = await keysModule;
        const made = await keys.makeKeyAndCsr(chosenKey, email);
        progress.textContent = 'Getting your certificate from the server…';
        const issued = await api.enrol(made.csrPem, device);
        progress.textContent = 'Packing the password-protected file…';
        const p12 = await keys.makePkcs12({
          keys: made.keys,
          certificatePem: issued.certificate,
          chainPem: issued.chain,
          password: pw,
          friendlyName: `${issued.email} (${device})`,
          format: chosenFormat,
        });
        progress.textContent = '';
        await showResult(ctx, { p12, email: issued.email, device, fingerprint: issued.fingerprint_sha256, notAfter: issued.not_after, format: chosenFormat });
      } catch (e) {
        progress.textContent = '';
        fail(e instanceof ApiError ? `The certificate could not be created: ${e.message}` : `The certificate could not be created in this browser (${(e as Error).message || 'unknown error'}). Please try again, or use another browser.`);
      }
    });
  });

  render(
    ctx.main,
    h('h1', { id: 'new-title' }, 'New certificate'),
    h(
      'p',
      { class: 'notice key-notice' },
      h('strong', {}, 'Your private key never leaves this browser. '),
      'It is made here, and only the public part is sent to the server. The key goes into a password-protected file that you download; nobody else, not even the administrators, has a copy.',
    ),
    form,
  );
}

async function showResult(ctx: ViewContext, r: { p12: Uint8Array; email: string; device: string; fingerprint: string; notAfter: string; format: 'modern' | 'legacy' }): Promise<void> {
  const filename = `${r.email}.p12`;
  const settings = await ctx.settings().catch(() => null);
  const heading = h('h2', { id: 'ready-title' }, 'Your certificate is ready');
  render(
    ctx.main,
    h('h1', {}, 'New certificate'),
    h(
      'section',
      { class: 'card result', 'aria-labelledby': 'ready-title' },
      heading,
      h('p', {}, 'Save the file below and open it on ', h('strong', {}, r.device), '. Your mail program asks for the file password you just chose.'),
      h('p', { class: 'actions' }, downloadLink(r.p12, filename, 'application/x-pkcs12', `Download ${filename}`)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'File format'),
        h('dd', {}, r.format === 'modern' ? 'Modern (AES-256)' : 'Legacy-compatible (3DES)'),
        h('dt', {}, 'Fingerprint (SHA-256)'),
        h('dd', {}, h('code', { class: 'fingerprint' }, r.fingerprint)),
        h('dt', {}, 'Expires'),
        h('dd', {}, formatDate(r.notAfter)),
      ),
      h('p', { class: 'hint' }, 'The file is only here until you leave this page. If you lose it, revoke this certificate and create a new one.'),
    ),
    settings ? [smtpSettings(settings, r.email), importInstructions(settings, r.email, filename)] : null,
    h('p', {}, h('a', { href: '#/' }, 'Back to my certificates')),
  );
  focus(heading);
}
