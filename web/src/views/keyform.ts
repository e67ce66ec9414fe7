// The form and the result page shared by "New certificate" and "Renew": a key made in this browser, a CSR
// sent to the server, and the password-protected PKCS#12 built here from the answer.
import { api, ApiError, type Enrolment } from '../api.ts';
import type { KeyType } from '../enrol/keys.ts';
import type { Pkcs12Format } from '../pkcs12/index.ts';
import { alertBox, busy, downloadLink, field, focus, h, holdUnsaved, render, uid } from '../dom.ts';
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
  /** Call once the file is saved (the download link was used): until then the page must not be replaced. */
  saved: () => void;
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
  // Not a sign-in password: autocomplete=off and neutral names, so password managers neither fill it nor offer to
  // "update" the portal password with it.
  const password = field('File password', h('input', { type: 'password', name: 'file-protection', autocomplete: 'off', required: true, minlength: MIN_FILE_PASSWORD }), passwordStrength('').label);
  const meter = h('meter', { min: 0, max: 3, low: 1.5, high: 2.5, optimum: 3, value: 0, 'aria-hidden': 'true' });
  password.wrap.insertBefore(meter, password.hint);
  password.hint?.setAttribute('aria-live', 'polite');
  const repeat = field('Repeat the file password', h('input', { type: 'password', name: 'file-protection-repeat', autocomplete: 'off', required: true }));
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
      let keys: Awaited<ReturnType<typeof loadKeys>>;
      let key: Awaited<ReturnType<typeof keys.makeKeyAndCsr>>;
      let issued: T;
      try {
        progress.textContent = 'Creating your key in this browser…';
        keys = await keysModule;
        key = await keys.makeKeyAndCsr(chosenKey, email);
        progress.textContent = 'Getting your certificate from the server…';
        issued = await opts.issue(key.csrPem, device);
      } catch (e) {
        progress.textContent = '';
        if (e instanceof ApiError) return fail(opts.explain?.(e) ?? `${opts.failed}: ${e.message}`);
        return fail(`${opts.failed} in this browser (${(e as Error).message || 'unknown error'}). Please try again, or use another browser.`);
      }
      // From here the server holds an active certificate whose key exists only in this page: keep the key and the
      // answer until the file is downloaded, and keep the page from being replaced (e.g. by the idle sign-out).
      const saved = holdUnsaved();
      const pack = async (): Promise<Made<T>> => {
        const p12 = await keys.makePkcs12({
          keys: key.keys,
          certificatePem: issued.certificate,
          chainPem: issued.chain,
          password: pw,
          friendlyName: `${issued.email} (${device})`,
          format: chosenFormat,
        });
        return { issued, p12, device, format: chosenFormat, saved };
      };
      progress.textContent = 'Packing the password-protected file…';
      let made: Made<T>;
      try {
        made = await pack();
      } catch (e) {
        progress.textContent = '';
        return packingFailed(form, { issued, error: e, pack, done: opts.done, saved });
      }
      progress.textContent = '';
      await opts.done(made);
    });
  });
  return form;
}

/**
 * The certificate was issued but the file could not be packed: the key is still in this page. Offers "Try again"
 * (packs again with the same key and certificate) and "Revoke this new certificate" in place of the form.
 */
function packingFailed<T extends Enrolment>(form: HTMLFormElement, o: { issued: T; error: unknown; pack: () => Promise<Made<T>>; done: (made: Made<T>) => Promise<void> | void; saved: () => void }): void {
  const headingId = uid('pack-failed');
  const alert = alertBox();
  const progress = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });
  const reason = (e: unknown) => (e as Error | undefined)?.message || 'unknown error';
  const explain = (e: unknown) =>
    `Your certificate was issued, but this browser could not pack it into the password-protected file (${reason(e)}). Your new key is still here, on this page only: try again, and do not leave or reload this page until the file is downloaded.`;
  const retry = h('button', { type: 'button', class: 'button primary' }, 'Try again');
  const revoke = h('button', { type: 'button', class: 'button danger' }, 'Revoke this new certificate');
  const actions = h('div', { class: 'actions' }, retry, revoke);
  const section = h(
    'section',
    { class: 'card pack-failed', 'aria-labelledby': headingId, 'data-serial': o.issued.serial },
    h('h2', { id: headingId }, 'The file could not be made'),
    alert.el,
    h('p', {}, 'If trying again does not help, revoke the new certificate, so that nobody can use a certificate without its key, and create a new one (perhaps in another browser).'),
    h('dl', { class: 'facts' }, h('dt', {}, 'Serial'), h('dd', {}, h('code', {}, o.issued.serial)), h('dt', {}, 'Fingerprint (SHA-256)'), h('dd', {}, h('code', { class: 'fingerprint' }, o.issued.fingerprint_sha256))),
    actions,
    progress,
  );
  const setBusy = (on: boolean, text = '') => {
    retry.disabled = on;
    revoke.disabled = on;
    section.setAttribute('aria-busy', String(on));
    progress.textContent = text;
  };
  retry.addEventListener('click', () => {
    alert.clear();
    setBusy(true, 'Packing the password-protected file…');
    o.pack().then(
      async (made) => {
        setBusy(false);
        await o.done(made);
      },
      (e: unknown) => {
        setBusy(false);
        alert.show(explain(e));
        focus(alert.el);
      },
    );
  });
  revoke.addEventListener('click', () => {
    alert.clear();
    setBusy(true, 'Revoking the new certificate…');
    api.revokeMine(o.issued.serial, 'cessationOfOperation').then(
      () => {
        o.saved(); // nothing is left to save
        const done = h('p', { class: 'alert alert-ok', role: 'status' }, 'The new certificate is revoked. Nobody can use it. You can create a new certificate now.');
        render(section, h('h2', { id: headingId }, 'The new certificate is revoked'), done, h('p', { class: 'actions' }, h('a', { href: '#/new', class: 'button primary' }, 'New certificate'), h('a', { href: '#/', class: 'button' }, 'Back to my certificates')));
        focus(done);
      },
      (e: unknown) => {
        setBusy(false);
        alert.show(`The new certificate was not revoked: ${e instanceof ApiError ? e.message : reason(e)}`);
        focus(alert.el);
      },
    );
  });
  form.replaceWith(section);
  alert.show(explain(o.error));
  focus(alert.el);
}

/** The download page: the .p12, its facts, `extra` (e.g. what happens to a renewed certificate), then mail setup. */
export async function showResult<T extends Enrolment>(ctx: ViewContext, made: Made<T>, opts: { title: string; heading: string; extra?: Child[] }): Promise<HTMLElement> {
  const { issued } = made;
  const filename = `${issued.email}.p12`;
  const settings = await ctx.settings().catch(() => null);
  const headingId = uid('ready');
  const heading = h('h2', { id: headingId }, opts.heading);
  const download = downloadLink(made.p12, filename, 'application/x-pkcs12', `Download ${filename}`);
  download.addEventListener('click', made.saved);
  render(
    ctx.main,
    h('h1', {}, opts.title),
    h(
      'section',
      { class: 'card result', 'aria-labelledby': headingId },
      heading,
      h('p', {}, 'Save the file below and open it on ', h('strong', {}, made.device), '. Your mail program asks for the file password you just chose.'),
      h('p', { class: 'actions' }, download),
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
