// DOM helpers shared by every page: element building (never innerHTML: posts and names are
// untrusted text from other people's nodes), icons, times, toasts, avatars and copying.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Builds an element. `attrs` keys: `class`, `text`, `dataset` (object), `on` (object of event
 * listeners), `hidden`/`disabled`/... (booleans), anything else is set as an attribute.
 * Children may be nodes, strings (as text) or null/false (skipped), nested in arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === 'style') throw new Error('inline styles break the Content-Security-Policy');
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Removes every child of `el`, then appends `children`. */
export function replaceChildren(el, ...children) {
  el.textContent = '';
  append(el, children);
  return el;
}

// Icon paths (24×24, stroked). Kept here so the UI makes no request for them.
const ICONS = {
  home: 'M3 10.5 12 3l9 7.5M5 9v11h5v-6h4v6h5V9',
  bell: 'M6 16V11a6 6 0 1 1 12 0v5l2 2H4l2-2M10 20a2 2 0 0 0 4 0',
  network: 'M12 5a2 2 0 1 0 0-.01M5 18a2 2 0 1 0 0-.01M19 18a2 2 0 1 0 0-.01M12 7v4m0 0-5.5 5.5M12 11l5.5 5.5',
  user: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8ZM4 21a8 8 0 0 1 16 0',
  settings: 'M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0M14 4v4M8 10v4M16 16v4',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  reply: 'M9 17 4 12l5-5M4 12h10a6 6 0 0 1 6 6v1',
  quote: 'M4 5h16v11h-8l-5 4v-4H4zM8 9h8M8 12h5',
  heart: 'M12 20s-7-4.4-7-10a4 4 0 0 1 7-2.6A4 4 0 0 1 19 10c0 5.6-7 10-7 10Z',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
  lock: 'M7 11V8a5 5 0 0 1 10 0v3M5 11h14v10H5z',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  close: 'M6 6l12 12M18 6 6 18',
  back: 'M15 5l-7 7 7 7',
  follow: 'M10 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8ZM3 21a7 7 0 0 1 14 0M19 8v6M16 11h6',
  dot: 'M12 12h.01',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14ZM20 20l-4.2-4.2',
};

/** An inline SVG icon (decorative: hidden from assistive technology). */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon ${cls}`.trim());
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name] || ICONS.dot);
  svg.appendChild(path);
  return svg;
}

/** Fills every `[data-icon]` placeholder below `root` with its icon. */
export function fillIcons(root) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    if (!el.firstChild) el.appendChild(icon(el.dataset.icon));
  }
}

// ---- numbers and times -------------------------------------------------------------------

const numberFormat = new Intl.NumberFormat('en-US');
/** 1234 → "1,234". */
export const fmtNumber = (n) => numberFormat.format(n);

/** Unicode code points, the way the node counts characters. */
export const charCount = (text) => [...text].length;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "just now", "5 min", "3 h", "Mar 4", "Mar 4, 2023". */
export function relativeTime(ms, now = Date.now()) {
  const diff = now - ms;
  if (diff < 60_000) return 'just now';
  if (diff < 3_600_000) return `${Math.floor(diff / 60_000)} min`;
  if (diff < 86_400_000) return `${Math.floor(diff / 3_600_000)} h`;
  const d = new Date(ms);
  const base = `${MONTHS[d.getMonth()]} ${d.getDate()}`;
  return d.getFullYear() === new Date(now).getFullYear() ? base : `${base}, ${d.getFullYear()}`;
}

/** The full local date and time, for titles. */
export function fullDate(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
}

/** A `<time>` element that keeps its relative text fresh (see `refreshTimes`). */
export function timeEl(ms) {
  const valid = Number.isFinite(ms) && ms > 0;
  return h('time', {
    datetime: valid ? new Date(ms).toISOString() : null,
    title: valid ? fullDate(ms) : null,
    dataset: { ts: String(ms) },
    text: valid ? relativeTime(ms) : '',
  });
}

/** Rewrites every relative time on the page (called once a minute). */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time[data-ts]')) {
    const ms = Number(el.dataset.ts);
    if (Number.isFinite(ms) && ms > 0) {
      const text = relativeTime(ms, now);
      if (el.textContent !== text) el.textContent = text;
    }
  }
}

/** A short date without time, e.g. for "since". */
export function shortDate(ms) {
  const d = new Date(ms);
  return `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`;
}

// ---- people --------------------------------------------------------------------------------

/** `12D3KooWLrJv…` style ids are long: show the end, which is what differs. */
export function shortId(peerId) {
  if (!peerId || peerId.length <= 14) return peerId || '';
  return `${peerId.slice(0, 4)}…${peerId.slice(-6)}`;
}

/** The display names this page has seen, by peer id. */
export const names = new Map();

/** Remembers a name (ignores empty ones). */
export function rememberName(peerId, name) {
  if (peerId && typeof name === 'string' && name.trim()) names.set(peerId, name.trim());
}

/** The name to show for a person: their display name, else their short id. */
export function nameOf(peerId, fallback) {
  const given = typeof fallback === 'string' && fallback.trim() ? fallback.trim() : null;
  return given || names.get(peerId) || shortId(peerId);
}

function hashString(s) {
  let x = 2166136261;
  for (let i = 0; i < s.length; i += 1) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return x >>> 0;
}

/** A round avatar with initials, its colour derived from the peer id (no pictures to fetch). */
export function avatar(peerId, name, size = '') {
  const label = (name && name.trim()) || '';
  const letters = label
    ? [...label.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0])].join('').toUpperCase()
    : (peerId || '?').slice(-2);
  return h('span', {
    class: `avatar avatar-hue-${hashString(peerId || '') % 12} ${size}`.trim(),
    'aria-hidden': 'true',
    text: letters,
  });
}

// ---- toasts --------------------------------------------------------------------------------

/** Shows a short message in the aria-live region; errors stay longer. */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, icon('close'));
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null }, h('span', { text: message }), close);
  const remove = () => {
    el.classList.add('toast-out');
    setTimeout(() => el.remove(), 200);
  };
  close.addEventListener('click', remove);
  region.appendChild(el);
  while (region.children.length > 4) region.firstChild.remove();
  setTimeout(remove, kind === 'error' ? 9000 : 5000);
}

// ---- clipboard -----------------------------------------------------------------------------

/** Copies text; falls back to selecting a field when the Clipboard API is unavailable. */
export async function copyText(text, field) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      toast('Copied');
      return true;
    }
  } catch {
    // fall through to the selection fallback
  }
  if (field) {
    field.focus();
    field.select();
    // execCommand is deprecated but is the only way without the Clipboard API.
    const ok = document.execCommand && document.execCommand('copy');
    toast(ok ? 'Copied' : 'Selected: press Ctrl+C to copy');
    return Boolean(ok);
  }
  toast('Copying is not available here', 'error');
  return false;
}

/** A read-only monospace value with a Copy button. */
export function copyField({ id, value, label, multiline = false }) {
  const field = multiline
    ? h('textarea', { id, class: 'mono copy-value', readonly: true, rows: 3, 'aria-label': label, spellcheck: 'false' })
    : h('input', { id, class: 'mono copy-value', readonly: true, type: 'text', 'aria-label': label, spellcheck: 'false' });
  field.value = value;
  field.addEventListener('focus', () => field.select());
  const button = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Copy ${label.toLowerCase()}` }, icon('copy'), h('span', { text: 'Copy' }));
  button.addEventListener('click', () => copyText(field.value, field));
  return h('div', { class: 'copy-field' }, field, button);
}

/** Whether the person is typing in a text field right now. */
export function isTyping() {
  const el = document.activeElement;
  if (!el) return false;
  if (el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && /^(text|search|password|)$/.test(el.type))) {
    return el.value.length > 0;
  }
  return el.isContentEditable === true;
}

/** An empty-state block the tests can find. */
export function emptyState(...children) {
  return h('div', { class: 'empty', 'data-test': 'empty' }, ...children);
}

/** Disables a button while `work` runs; returns its result. */
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}
