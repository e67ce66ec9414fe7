import type { PortalSettings } from '../api.ts';
import { h, render } from '../dom.ts';
import type { ViewContext } from '../main.ts';
import { submissionAdvice } from './smtp-auth.ts';

const SECURITY: Record<'tls' | 'starttls', string> = { tls: 'SSL/TLS', starttls: 'STARTTLS' };

/** The outgoing-server settings, from the server's configuration. */
export function smtpSettings(s: PortalSettings, email: string): HTMLElement {
  const ports = s.smtp.ports.map((p) => `${p.port} (${SECURITY[p.security]})`).join(' or ');
  return h(
    'section',
    { class: 'card smtp', 'aria-labelledby': 'smtp-title' },
    h('h2', { id: 'smtp-title' }, 'Outgoing mail server (SMTP) settings'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Server'),
      h('dd', {}, h('code', { 'data-testid': 'smtp-host' }, s.smtp.host)),
      h('dt', {}, 'Port and security'),
      h('dd', { 'data-testid': 'smtp-ports' }, ports || 'Ask your administrator'),
      h('dt', {}, 'Authentication'),
      h('dd', { 'data-testid': 'smtp-auth' }, submissionAdvice(s.smtp.auth, s.enforcement).explanation, ' Certificate: the one for ', h('strong', {}, email)),
    ),
    s.smtp.ports.length > 1 ? h('p', { class: 'hint' }, `Use ${s.smtp.ports[0]?.port} if your mail program offers it; ${s.smtp.ports[1]?.port} works where the first is blocked.`) : null,
  );
}

function steps(...items: (string | Node)[][]): HTMLElement {
  return h('ol', {}, items.map((parts) => h('li', {}, parts)));
}

/** How to import the .p12 and use it, per mail program. `file` is the downloaded file's name. */
export function importInstructions(s: PortalSettings, email: string, file: string): HTMLElement {
  const tls = s.smtp.ports.find((p) => p.security === 'tls') ?? s.smtp.ports[0];
  const port = tls ? `${tls.port}` : '465';
  const sec = tls ? SECURITY[tls.security] : 'SSL/TLS';
  const host = h('code', {}, s.smtp.host);
  const f = h('code', {}, file);
  const advice = submissionAdvice(s.smtp.auth, s.enforcement);
  const method = h('strong', {}, advice.method);
  const userName = advice.method === 'Normal password' ? [', User Name to ', h('code', {}, email)] : [];
  const section = (title: string, body: HTMLElement, note?: string) => h('details', { class: 'client' }, h('summary', {}, title), body, note ? h('p', { class: 'hint' }, note) : null);
  return h(
    'section',
    { class: 'instructions', 'aria-labelledby': 'import-title' },
    h('h2', { id: 'import-title' }, 'Put the certificate into your mail program'),
    h('p', {}, 'You need the file ', f, ' and the file password you chose. Open the section for your mail program.'),
    section(
      'Thunderbird',
      steps(
        ['Open ', h('strong', {}, 'Settings → Privacy & Security'), ', scroll to ', h('strong', {}, 'Certificates'), ' and choose ', h('strong', {}, 'Manage Certificates…'), '.'],
        ['On the ', h('strong', {}, 'Your Certificates'), ' tab choose ', h('strong', {}, 'Import…'), ', pick ', f, ' and type the file password.'],
        ['Open ', h('strong', {}, 'Account Settings → Outgoing Server (SMTP)'), ', select your server and choose ', h('strong', {}, 'Edit…'), '.'],
        ['Set Server Name to ', host, ', Port to ', port, ', Connection security to ', sec, ...userName, ' and Authentication method to ', method, '.'],
      ),
    ),
    section(
      'Apple Mail (Mac)',
      steps(
        ['Double-click ', f, '. Keychain Access opens: add it to the ', h('strong', {}, 'login'), ' keychain and type the file password.'],
        ['In Mail open ', h('strong', {}, 'Settings → Accounts → Server Settings'), '. Under Outgoing Mail Server turn off “Automatically manage connection settings”.'],
        ['Set Host Name to ', host, ', Port to ', port, ', tick “Use TLS/SSL”, and choose ', method.cloneNode(true), ' as Authentication, then your certificate.'],
      ),
      'Older macOS versions only open files made with the “legacy-compatible” format.',
    ),
    section(
      'iPhone and iPad',
      steps(
        ['Send ', f, ' to the device (AirDrop, or a mail to yourself) and tap it.'],
        ['Open ', h('strong', {}, 'Settings → Profile Downloaded'), ', tap ', h('strong', {}, 'Install'), ' and type your device passcode, then the file password.'],
        ['In ', h('strong', {}, 'Settings → Mail → Accounts'), ' open your account, then ', h('strong', {}, 'Outgoing Mail Server (SMTP)'), ': set the server to ', host, ', turn on “Use SSL” and set the port to ', port, '.'],
      ),
      'Older iOS versions only open files made with the “legacy-compatible” format.',
    ),
    section(
      'Outlook (Windows)',
      steps(
        ['Double-click ', f, '. In the Certificate Import Wizard choose ', h('strong', {}, 'Current User'), ', type the file password and let Windows choose the certificate store.'],
        ['In Outlook open ', h('strong', {}, 'File → Account Settings'), ', select your account and open the server settings.'],
        ['Set the outgoing server to ', host, ', port ', port, ' with encryption ', sec, '. Windows offers your certificate when the server asks for it.'],
      ),
      'Older Outlook versions need a certificate with an RSA 2048 key in the “legacy-compatible” format.',
    ),
    section(
      'Android',
      steps(
        ['Copy ', f, ' to the phone. Open ', h('strong', {}, 'Settings → Security → Encryption & credentials → Install a certificate → VPN & app user certificate'), ' and pick the file.'],
        ['Type the file password and give the certificate a name you recognise.'],
        ['In your mail app (for example Thunderbird for Android) set the outgoing server to ', host, ', security ', sec, ', port ', port, ', and choose the installed certificate as ', h('strong', {}, 'Client certificate'), '.'],
      ),
      'Some older Android versions only open files made with the “legacy-compatible” format.',
    ),
  );
}

export async function helpView(ctx: ViewContext): Promise<void> {
  const s = await ctx.settings();
  render(
    ctx.main,
    h('h1', {}, 'Set up your mail program'),
    h('p', { class: 'lede' }, 'Your mail server accepts mail from devices that show a certificate from this portal. Each device needs its own certificate: ', h('a', { href: '#/new' }, 'create one'), ', then follow the steps below.'),
    smtpSettings(s, ctx.user.email),
    importInstructions(s, ctx.user.email, `${ctx.user.email}.p12`),
  );
}
