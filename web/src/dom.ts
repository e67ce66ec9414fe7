/** A few DOM helpers: build elements from data, never from HTML strings (no innerHTML anywhere). */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the content of `el`. */
export function render(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

let idCounter = 0;
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field; the hint and error are tied to the input with aria-describedby. */
export function field<T extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(label: string, control: T, hint?: Child): { wrap: HTMLDivElement; control: T; hint: HTMLElement | null } {
  control.id ||= uid('f');
  const hintEl = hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
  return { wrap, control, hint: hintEl };
}

/** An alert region: errors in words, announced to screen readers. */
export function alertBox(): { el: HTMLDivElement; show(message: string, kind?: 'error' | 'ok'): void; clear(): void } {
  const el = h('div', { class: 'alert', role: 'alert', hidden: true });
  return {
    el,
    show(message, kind = 'error') {
      el.className = `alert alert-${kind}`;
      el.textContent = message;
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
      el.textContent = '';
    },
  };
}

/** Moves keyboard focus to the element (headings get tabindex=-1 so they can take it). */
export function focus(el: HTMLElement | null | undefined): void {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) el.setAttribute('tabindex', '-1');
  el.focus();
}

/** Disables a form's controls while `work` runs; the submit button says what is happening. */
export async function busy<T>(form: HTMLFormElement, label: string, work: () => Promise<T>): Promise<T> {
  const controls = Array.from(form.elements) as (HTMLInputElement | HTMLButtonElement)[];
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]');
  const before = submit?.textContent ?? '';
  const wasDisabled = controls.map((c) => c.disabled);
  controls.forEach((c) => (c.disabled = true));
  form.setAttribute('aria-busy', 'true');
  if (submit) submit.textContent = label;
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => (c.disabled = wasDisabled[i] ?? false));
    form.removeAttribute('aria-busy');
    if (submit) submit.textContent = before;
  }
}

/** Object URLs of the files offered on the page now showing; released when the user leaves it. */
const pageUrls = new Set<string>();
/** Results on this page whose file the user has not saved yet (see holdUnsaved). */
const unsaved = new Set<object>();

/** Offers bytes as a file download until the user moves to another page (see leavePage). */
export function downloadLink(bytes: Uint8Array | string, filename: string, type: string, text: string): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)], { type }));
  pageUrls.add(url);
  return h('a', { class: 'button primary', href: url, download: filename }, text);
}

/**
 * Marks the page as holding something that exists only in this browser (a new key, a file not yet downloaded).
 * While held, the page is not replaced by the sign-in page when the session ends. Returns the release.
 */
export function holdUnsaved(): () => void {
  const token = {};
  unsaved.add(token);
  return () => void unsaved.delete(token);
}

export function hasUnsaved(): boolean {
  return unsaved.size > 0;
}

/** The user moved to another page: the files offered here are gone (their object URLs are revoked). */
export function leavePage(): void {
  for (const url of pageUrls) URL.revokeObjectURL(url);
  pageUrls.clear();
  unsaved.clear();
}

/** A modal confirmation; resolves true when confirmed. The dialog element handles focus and Escape. */
export function confirmDialog(opts: { title: string; body: Child[]; confirm: string; danger?: boolean; extra?: HTMLElement }): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const ok = h('button', { type: 'submit', class: opts.danger ? 'button danger' : 'button primary', value: 'ok' }, opts.confirm);
    const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    const form = h('form', { method: 'dialog' }, h('h2', { id: titleId }, opts.title), ...opts.body.map((b) => (typeof b === 'string' ? h('p', {}, b) : b)), opts.extra, h('div', { class: 'actions' }, ok, cancel));
    const dialog = h('dialog', { 'aria-labelledby': titleId }, form);
    const opener = document.activeElement as HTMLElement | null;
    let result = false;
    form.addEventListener('submit', () => (result = true));
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener?.isConnected) opener.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
