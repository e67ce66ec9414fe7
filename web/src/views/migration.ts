import { api, ApiError } from '../api.ts';
import { alertBox, busy, confirmDialog, field, focus, h, render } from '../dom.ts';
import { formatDate } from '../format.ts';
import type { ViewContext } from '../main.ts';

/** Names shown per list; the rest are counted. */
const LIST_LIMIT = 50;
const SVG_NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** Enrolled users per day against all users, drawn here as SVG (no library, no CDN). */
function progressChart(history: { users_total: number; days: { date: string; enrolled: number }[] }): SVGSVGElement {
  const W = 640;
  const H = 200;
  const pad = { l: 44, r: 12, t: 12, b: 28 };
  const max = Math.max(1, history.users_total, ...history.days.map((d) => d.enrolled));
  const n = history.days.length;
  const x = (i: number) => pad.l + (n <= 1 ? 0 : (i * (W - pad.l - pad.r)) / (n - 1));
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const line = history.days.map((d, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(d.enrolled).toFixed(1)}`).join(' ');
  const last = history.days[n - 1];
  const title = `Enrolled users over the last ${n} days: ${history.days[0]?.enrolled ?? 0} on ${history.days[0]?.date ?? ''}, ${last?.enrolled ?? 0} of ${history.users_total} on ${last?.date ?? ''}.`;
  return svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart', 'data-testid': 'progress-chart', width: '100%' },
    svg('title', {}, title),
    svg('line', { x1: pad.l, x2: W - pad.r, y1: y(history.users_total), y2: y(history.users_total), stroke: '#8a94a0', 'stroke-dasharray': '4 3' }),
    svg('text', { x: pad.l - 6, y: y(history.users_total) + 4, 'text-anchor': 'end', 'font-size': 11 }, String(history.users_total)),
    svg('text', { x: pad.l - 6, y: y(0) + 4, 'text-anchor': 'end', 'font-size': 11 }, '0'),
    svg('line', { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), stroke: '#8a94a0' }),
    svg('path', { d: `${line} L${x(n - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z`, fill: '#1f6feb22', stroke: 'none' }),
    svg('path', { d: line, fill: 'none', stroke: '#1f6feb', 'stroke-width': 2, 'data-testid': 'progress-line' }),
    svg('text', { x: pad.l, y: H - 8, 'font-size': 11 }, history.days[0]?.date ?? ''),
    svg('text', { x: W - pad.r, y: H - 8, 'font-size': 11, 'text-anchor': 'end' }, last?.date ?? ''),
  );
}

function stat(value: number, label: string, id: string): HTMLElement {
  return h('li', { class: 'stat card' }, h('div', { class: 'stat-body' }, h('span', { class: 'stat-value', 'data-testid': id }, String(value)), h('span', { class: 'stat-label' }, label)));
}

function people(title: string, id: string, emails: string[], action?: (email: string) => HTMLElement): HTMLElement {
  const shown = emails.slice(0, LIST_LIMIT);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, `${title} (${emails.length})`),
    emails.length
      ? h('ul', { class: 'plain', 'aria-labelledby': id }, shown.map((e) => h('li', { 'data-email': e }, e, action ? [' ', action(e)] : [])))
      : h('p', { class: 'hint' }, 'Nobody.'),
    emails.length > shown.length ? h('p', { class: 'hint' }, `and ${emails.length - shown.length} more (see Users).`) : null,
  );
}

/** #/admin/migration: moving the site to mandatory certificates. */
export async function adminMigrationView(ctx: ViewContext, head: (title: string, current: string) => HTMLElement[]): Promise<void> {
  const [r, history, policy] = await Promise.all([api.readiness(), api.readinessHistory(90), api.enforcementPolicy()]);
  const flash = ctx.takeFlash();
  const act = async (what: string, confirm: { title: string; body: string[]; button: string }, run: () => Promise<number | void>) => {
    const ok = await confirmDialog({ title: confirm.title, body: confirm.body, confirm: confirm.button, danger: true });
    if (!ok) return;
    try {
      const n = await run();
      ctx.flash(typeof n === 'number' ? `${what}: ${n} user${n === 1 ? '' : 's'} changed.` : `${what}.`);
    } catch (e) {
      ctx.flash(e instanceof ApiError ? `Nothing changed: ${e.message}` : 'Nothing changed.', 'error');
    }
    ctx.refresh();
  };
  const enforceOne = (email: string) =>
    h('button', {
      type: 'button',
      class: 'button small',
      'aria-label': `Enforce ${email}`,
      onclick: () => void act(`${email} must now use a certificate`, { title: `Enforce ${email}?`, body: [`${email} will be refused with a password alone from now on; they hold a certificate, so their mail keeps flowing through it.`], button: 'Enforce' }, async () => void (await api.enforceUser(email))),
    }, 'Enforce');
  const enrolledInGrace = r.ready_to_enforce.length;
  const withoutCert = r.users_total - r.enrolled;
  const actions = h(
    'section',
    { class: 'card', 'aria-labelledby': 'enforce-title' },
    h('h2', { id: 'enforce-title' }, 'Enforce'),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button',
        class: 'button',
        disabled: enrolledInGrace === 0,
        onclick: () => void act('All enrolled users are enforced', { title: 'Enforce all enrolled users?', body: [`${enrolledInGrace} user${enrolledInGrace === 1 ? '' : 's'} will be refused with a password alone from now on. Each holds a certificate.`], button: 'Enforce enrolled users' }, async () => (await api.enforceEnrolled()).users_changed),
      }, `Enforce all enrolled users (${enrolledInGrace})`),
      h('button', {
        type: 'button',
        class: 'button danger',
        onclick: () => void act('Everybody is enforced', { title: 'Enforce everybody?', body: [`${r.users_total} user${r.users_total === 1 ? '' : 's'} will be refused with a password alone from now on.`, withoutCert ? `${withoutCert} of them hold no certificate: they cannot send mail until they make one.` : 'Every one of them holds a certificate.'], button: 'Enforce everybody' }, async () => (await api.enforceEverybody()).users_changed),
      }, 'Enforce everybody'),
    ),
  );

  const alert = alertBox();
  const days = field('Days after first enrolment', h('input', { type: 'number', name: 'after-days', min: 0, max: 3650, value: policy.after_first_enrolment_days ?? '' }), 'Each user is enforced this many days after their first certificate. Empty: no such schedule.');
  const deadline = field('Deadline', h('input', { type: 'date', name: 'deadline', value: policy.deadline ? policy.deadline.slice(0, 10) : '' }), 'From this day (00:00 UTC) everybody is enforced. Empty: no deadline.');
  const schedule = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'schedule-title' },
    h('h2', { id: 'schedule-title' }, 'Schedule'),
    h('p', {}, policy.deadline ? `Current deadline: ${formatDate(policy.deadline)}.` : 'No deadline is set.'),
    alert.el,
    days.wrap,
    deadline.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Save schedule')),
  );
  schedule.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.clear();
    const d = days.control.value.trim();
    if (d && !/^\d+$/.test(d)) {
      alert.show('Days must be a whole number, or empty.');
      return focus(days.control);
    }
    const p = { after_first_enrolment_days: d ? Number(d) : null, deadline: deadline.control.value ? `${deadline.control.value}T00:00:00Z` : null };
    void (async () => {
      const ok = await confirmDialog({
        title: 'Save the schedule?',
        body: [p.deadline ? `From ${p.deadline.slice(0, 10)} every user without an exemption will be refused with a password alone; ${withoutCert} hold no certificate today.` : 'There will be no deadline.', p.after_first_enrolment_days !== null ? `Each user is enforced ${p.after_first_enrolment_days} day(s) after their first certificate.` : 'No per-user schedule.'],
        confirm: 'Save schedule',
      });
      if (!ok) return;
      await busy(schedule, 'Saving…', async () => {
        try {
          await api.setEnforcementPolicy(p);
          ctx.flash('The schedule is saved.');
          ctx.refresh();
        } catch (e) {
          alert.show(e instanceof ApiError ? e.message : 'The schedule was not saved.');
          focus(alert.el);
        }
      });
    })();
  });

  render(
    ctx.main,
    ...head('Migration', '#/admin/migration'),
    flash,
    h('ul', { class: 'stats', 'aria-label': 'Readiness' }, stat(r.enrolled, 'Enrolled', 'm-enrolled'), stat(r.enforced, 'Enforced', 'm-enforced'), stat(r.grace, 'In grace (password allowed)', 'm-grace'), stat(r.users_total - r.enrolled, 'Not enrolled', 'm-not-enrolled')),
    h('section', { class: 'card', 'aria-labelledby': 'chart-title' }, h('h2', { id: 'chart-title' }, `Enrolled users, last ${history.days.length} days`), progressChart(history), h('p', { class: 'hint' }, `${r.enrolled_percent}% of ${r.users_total} users hold a certificate now.`)),
    people('Enforced without a certificate (cannot send)', 'm-enforced-none', r.enforced_without_certificate),
    people('Ready to enforce (enrolled, still in grace)', 'm-ready', r.ready_to_enforce, enforceOne),
    actions,
    schedule,
  );
  if (flash) focus(flash);
}

