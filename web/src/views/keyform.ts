// The form and the result page shared by "New certificate" and "Renew": a key made in this browser, a CSR
// sent to the server, and the password-protected PKCS#12 built here from the answer.
import { ApiError, type Enrolment } from '../api.ts';
import type { KeyType } from '../enrol/keys.ts';
import type { Pkcs12Format } from '../pkcs12/index.ts';
import { alertBox, busy, downloadLink, field, focus, h, render, uid } from '../dom.ts';
import { formatDate, MIN_FILE_PASSWORD, passwordStrength } from '../format.ts';
import type { ViewContext } from '../main.ts';
import { importInstructions, smtpSettings } from './help.ts';

// Starts loading the key/CSR/PKCS#12 code as soon as a form is shown.
const loadKeys = () => import('../enrol/keys.ts');

type Child = Node | string | null | undefined | false;

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

/** What the browser made: the file, and the server's answer it was built from. */
export interface Made<T extends Enrolment> {
  issued: T;
  p12: Uint8Array;
  device: string;
  format: Pkcs12Format;
}

export interface KeyFormOptions<T extends Enrolment> {
  /** id of the heading that names the form. */
  labelledBy: string;
  /** Prefills the device name (renewal keeps the old one). */
  device?: string | null;
  submit: string;
  busyLabel: string;
  /** Sends the CSR; the answer is the certificate and chain. */
  issue(csrPem: string, device: string): Promise<T>;
  /** Start of the error message, e.g. "The certificate could not be created". */
  failed: string;
  /** A clearer message for particular API errors, if any. */
  explain?(e: ApiError): string | undefined;
  done(made: Made<T>): Promise<void> | void;
}

/** Device name, key type, file password (with strength hint), file format; the key never leaves the browser. */
export function keyForm<T extends Enrolment>(ctx: ViewContext, opts: KeyFormOptions<T>): HTMLFormElement {
  const keysModule = loadKeys();
  keysModule.catch(() => undefined);
  const email = ctx.user.email;

  const label = field('Device name', h('input', { type: 'text', name: 'device', maxlength: 100, required: true, autocomplete: 'off' }), 'For example “Laptop Thunderbird” or “Work iPhone”, so you can recognise the certificate later.');
  if (opts.device) label.control.value = opts.device;
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
    { class: 'card', novalidate: true, 'aria-labelledby': opts.labelledBy },
    alert.el,
    label.wrap,
    keyType,
    password.wrap,
    repeat.wrap,
    format,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, opts.submit), h('a', { href: '#/', class: 'button' }, 'Cancel')),
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
    const chosenKey = (form.querySelector<HTMLInputElement>('input[name=key-type]:checked')?.value ?? 'P-256') as KeyType;
    const chosenFormat = (form.querySelector<HTMLInputElement>('input[name=file-format]:checked')?.value ?? 'modern') as Pkcs12Format;
    if (!device) return fail('Give the device a name, for example “Laptop Thunderbird”.', label.control);
    if (pw.length < MIN_FILE_PASSWORD) return fail(`The file password needs at least ${MIN_FILE_PASSWORD} characters.`, password.control);
    if (pw !== repeat.control.value) return fail('The two passwords are not the same. Type the file password again in both fields.', repeat.control);

    void busy(form, opts.busyLabel, async () => {
      let made: Made<T>;
      try {
        progress.textContent = 'Creating your key in this browser…';
        const keys = await keysModule;
        const key = await keys.makeKeyAndCsr(chosenKey, email);
        progress.textContent = 'Getting your certificate from the server…';
        const issued = await opts.issue(key.csrPem, device);
        progress.textContent = 'Packing the password-protected file…';
        const p12 = await keys.makePkcs12({
          keys: key.keys,
          certificatePem: issued.certificate,
          chainPem: issued.chain,
          password: pw,
          friendlyName: `${issued.email} (${device})`,
          format: chosenFormat,
        });
        progress.textContent = '';
        made = { issued, p12, device, format: chosenFormat };
      } catch (e) {
        progress.textContent = '';
        if (e instanceof ApiError) return fail(opts.explain?.(e) ?? `${opts.failed}: ${e.message}`);
        return fail(`${opts.failed} in this browser (${(e as Error).message || 'unknown error'}). Please try again, or use another browser.`);
      }
      await opts.done(made);
    });
  });
  return form;
}

/** The download page: the .p12, its facts, `extra` (e.g. what happens to a renewed certificate), then mail setup. */
export async function showResult<T extends Enrolment>(ctx: ViewContext, made: Made<T>, opts: { title: string; heading: string; extra?: Child[] }): Promise<HTMLElement> {
  const { issued } = made;
  const filename = `${issued.email}.p12`;
  const settings = await ctx.settings().catch(() => null);
  const headingId = uid('ready');
  const heading = h('h2', { id: headingId }, opts.heading);
  render(
    ctx.main,
    h('h1', {}, opts.title),
    h(
      'section',
      { class: 'card result', 'aria-labelledby': headingId },
      heading,
      h('p', {}, 'Save the file below and open it on ', h('strong', {}, made.device), '. Your mail program asks for the file password you just chose.'),
      h('p', { class: 'actions' }, downloadLink(made.p12, filename, 'application/x-pkcs12', `Download ${filename}`)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'File format'),
        h('dd', {}, made.format === 'modern' ? 'Modern (AES-256)' : 'Legacy-compatible (3DES)'),
        h('dt', {}, 'Fingerprint (SHA-256)'),
        h('dd', {}, h('code', { class: 'fingerprint' }, issued.fingerprint_sha256)),
        h('dt', {}, 'Expires'),
        h('dd', {}, formatDate(issued.not_after)),
      ),
      h('p', { class: 'hint' }, 'The file is only here until you leave this page. If you lose it, revoke this certificate and create a new one.'),
    ),
    opts.extra ?? null,
    settings ? [smtpSettings(settings, issued.email), importInstructions(settings, issued.email, filename)] : null,
    h('p', {}, h('a', { href: '#/' }, 'Back to my certificates')),
  );
  focus(heading);
  return heading;
}
