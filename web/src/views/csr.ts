import { api, ApiError } from '../api.ts';
import { alertBox, busy, downloadLink, field, focus, h, render } from '../dom.ts';
import { formatDate } from '../format.ts';
import type { ViewContext } from '../main.ts';

const MAX_CSR_BYTES = 32 * 1024;

/** Advanced: a CSR made elsewhere (openssl); the answer is the PEM certificate followed by the CA chain. */
export function csrView(ctx: ViewContext): void {
  const email = ctx.user.email;
  const alert = alertBox();
  const label = field('Device name', h('input', { type: 'text', name: 'device', maxlength: 100, autocomplete: 'off' }), 'Optional; helps you recognise the certificate later.');
  const text = field(
    'Certificate request (PEM)',
    h('textarea', { name: 'csr', rows: 8, spellcheck: 'false', class: 'mono', placeholder: '-----BEGIN CERTIFICATE REQUEST-----' }),
    'Paste the request here, or choose the file below.',
  );
  const file = field('Or upload the request file', h('input', { type: 'file', name: 'csr-file', accept: '.csr,.pem,.req,.txt' }));
  file.control.addEventListener('change', () => {
    const f = file.control.files?.[0];
    if (!f) return;
    if (f.size > MAX_CSR_BYTES) {
      alert.show('That file is too large to be a certificate request.');
      return;
    }
    void f.text().then((t) => {
      text.control.value = t;
      alert.clear();
    });
  });
  const form = h(
    'form',
    { class: 'card', novalidate: true },
    alert.el,
    label.wrap,
    text.wrap,
    file.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Get certificate')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    const csr = text.control.value.trim();
    if (!/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(csr)) {
      alert.show('Paste a certificate request in PEM form: it starts with “-----BEGIN CERTIFICATE REQUEST-----”.');
      focus(text.control);
      return;
    }
    void busy(form, 'Requesting…', async () => {
      try {
        const issued = await api.enrol(csr, label.control.value.trim());
        const pem = [issued.certificate, ...issued.chain].map((p) => p.trim() + '\n').join('');
        const heading = h('h2', { id: 'csr-ready' }, 'Your certificate is ready');
        render(
          ctx.main,
          h('h1', {}, 'Advanced: your own key'),
          h(
            'section',
            { class: 'card result', 'aria-labelledby': 'csr-ready' },
            heading,
            h('p', {}, 'The file holds your certificate followed by the CA certificate. Use it with the key you made the request with.'),
            h('p', { class: 'actions' }, downloadLink(pem, `${issued.email}.pem`, 'application/x-pem-file', `Download ${issued.email}.pem`)),
            h('dl', { class: 'facts' }, h('dt', {}, 'Fingerprint (SHA-256)'), h('dd', {}, h('code', { class: 'fingerprint' }, issued.fingerprint_sha256)), h('dt', {}, 'Expires'), h('dd', {}, formatDate(issued.not_after))),
            field('Certificate and chain (PEM)', h('textarea', { rows: 10, readonly: true, class: 'mono', spellcheck: 'false' })).wrap,
          ),
          h('p', {}, h('a', { href: '#/' }, 'Back to my certificates')),
        );
        const out = ctx.main.querySelector<HTMLTextAreaElement>('textarea');
        if (out) out.value = pem;
        focus(heading);
      } catch (e) {
        alert.show(e instanceof ApiError ? `The request was refused: ${e.message}` : 'The request failed. Please try again.');
        focus(alert.el);
      }
    });
  });
  render(
    ctx.main,
    h('h1', {}, 'Advanced: your own key'),
    h('p', { class: 'lede' }, 'If you made a key and a certificate request yourself, for example with openssl, send the request here. Your key stays with you; you get the certificate and the CA chain as a PEM file.'),
    h('p', {}, 'For example:'),
    h('pre', { class: 'mono' }, `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n  -keyout mail.key -subj "/CN=${email}" -out mail.csr`),
    h('p', { class: 'hint' }, `The certificate is always for ${email}, whatever names the request carries (its subject is CN=${email} with a serialNumber unique to the certificate). RSA keys need at least 2048 bits.`),
    form,
  );
}
