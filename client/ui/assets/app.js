// Kith's browser UI: start-up, the router (history API, real paths), the page lifecycle, the
// live event stream and the pieces of the shell (nav, notification badge, connection banner).
//
// Each page module exports `render(ctx)`, which builds the page into `ctx.view` (not yet on
// screen) and returns handlers: `onEvent(type, data)`, `onReconnect()`, `onPosted(post)`,
// `destroy()`. Events that arrive while a page loads are kept and handed to it once it shows,
// so nothing falls between loading the state and applying the stream on top of it.

import { endpoints, friendlyError, logout, startSession } from './api.js';
import { fillIcons, h, icon, nameOf, refreshTimes, rememberName, replaceChildren, toast } from './dom.js';
import { countReply, installPostActions, remember, removePost, renameAuthor, setLikeCount, updatePost } from './posts.js';
import { state, userPath } from './state.js';

// Page modules load on first use, so the first page downloads only what it needs.
const lazy = (load, name = 'render') => async (ctx) => (await load())[name](ctx);

const ROUTES = [
  { re: /^\/$/, page: lazy(() => import('./home.js')), nav: 'home' },
  { re: /^\/posts\/([^/]+)\/?$/, page: lazy(() => import('./thread.js')) },
  { re: /^\/users\/([^/]+)\/?$/, page: lazy(() => import('./people.js'), 'renderProfile'), nav: (m) => (decodeURIComponent(m[1]) === state.self ? 'profile' : null) },
  { re: /^\/followers\/?$/, page: lazy(() => import('./people.js'), 'renderFollowers'), nav: 'profile' },
  { re: /^\/following\/?$/, page: lazy(() => import('./people.js'), 'renderFollowing'), nav: 'profile' },
  { re: /^\/notifications\/?$/, page: lazy(() => import('./notifications.js')), nav: 'notifications' },
  { re: /^\/network\/?$/, page: lazy(() => import('./network.js')), nav: 'network' },
  { re: /^\/settings\/?$/, page: lazy(() => import('./settings.js')), nav: 'settings' },
  // Search.
  { re: /^\/search\/?$/, page: lazy(() => import('./search.js')), nav: 'search' },
];

const EVENT_NAMES = [
  'post', 'delete', 'like', 'follow_request', 'follower', 'following', 'profile',
  'peer_connected', 'peer_disconnected', 'notification', 'lagged',
];

const main = document.getElementById('main');
let generation = 0;
let current = null; // the page on screen: its handlers
let queued = null; // events that arrived while the page loads
let firstRender = true;

/** Whether a path is one of the app's pages (the rest goes to the server). */
function isAppPath(path) {
  return ROUTES.some((r) => r.re.test(path));
}

/** Navigates without a page load, keeping the scroll position of the page left behind. */
function navigate(path, { replace = false } = {}) {
  const url = new URL(path, window.location.href);
  if (url.origin !== window.location.origin || !isAppPath(url.pathname)) {
    window.location.assign(url.href);
    return;
  }
  const target = url.pathname + url.search + url.hash;
  if (replace) {
    history.replaceState({ scrollY: 0 }, '', target);
  } else {
    history.replaceState({ ...(history.state || {}), scrollY: window.scrollY }, '');
    history.pushState({ scrollY: 0 }, '', target);
  }
  show({ scrollY: 0 });
}
state.navigate = navigate;

function setNav(key) {
  for (const a of document.querySelectorAll('a[data-nav]')) {
    if (a.dataset.nav === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function pageHeader(title, { back = false } = {}) {
  const heading = h('h1', { class: 'page-title', tabindex: '-1', text: title });
  const backButton = back ? h('button', { type: 'button', class: 'icon-btn page-back', 'aria-label': 'Back' }, icon('back')) : null;
  if (backButton) {
    backButton.addEventListener('click', () => {
      if (history.state && history.state.inApp) history.back();
      else navigate('/');
    });
  }
  return h('header', { class: 'page-head' }, backButton, heading);
}

/** Renders the page for the current location. */
async function show({ scrollY = 0 } = {}) {
  const gen = ++generation;
  if (current && current.destroy) current.destroy();
  current = null;
  // Keep what arrived since the stream opened (at start-up, or during a load this one replaces).
  if (!queued) queued = [];
  document.body.dataset.ready = 'false';
  const path = window.location.pathname;
  const route = ROUTES.find((r) => r.re.test(path));
  const match = route ? route.re.exec(path) : null;
  setNav(route ? (typeof route.nav === 'function' ? route.nav(match) : route.nav) : null);
  if (history.state === null || !history.state.inApp) {
    history.replaceState({ ...(history.state || {}), inApp: !firstRender }, '');
  }

  const loading = setTimeout(() => {
    if (gen === generation) replaceChildren(main, h('div', { class: 'page-loading', role: 'status', text: 'Loading…' }));
  }, 150);
  const view = h('div', { class: 'view' });
  const ctx = {
    view,
    params: match ? match.slice(1).map(decodeURIComponent) : [],
    query: new URLSearchParams(window.location.search),
    isCurrent: () => gen === generation,
    header: pageHeader,
    markSeen,
    setTitle: (t) => {
      document.title = t ? `${t} · Kith` : 'Kith';
    },
  };
  let page = null;
  try {
    if (route) {
      page = (await route.page(ctx)) || {};
    } else {
      ctx.setTitle('Not found');
      view.append(pageHeader('Not found', { back: true }), h('div', { class: 'empty', 'data-test': 'empty' }, h('p', { text: 'There is no page at this address.' }), h('a', { href: '/', text: 'Go to your home timeline' })));
      page = {};
    }
  } catch (err) {
    if (gen !== generation) return;
    console.error(err);
    replaceChildren(view, pageHeader('Something went wrong'), errorBlock(err));
    page = {};
  }
  clearTimeout(loading);
  if (gen !== generation) {
    if (page && page.destroy) page.destroy();
    return;
  }
  fillIcons(view);
  replaceChildren(main, view);
  current = page;
  window.scrollTo(0, scrollY);
  if (page.mounted) page.mounted({ restoring: scrollY > 0 });
  if (!firstRender) {
    const heading = main.querySelector('h1');
    if (heading && !document.activeElement?.matches('input, textarea')) heading.focus({ preventScroll: true });
  }
  firstRender = false;
  const pending = queued;
  queued = null;
  for (const [type, data] of pending) deliver(type, data);
  if (route && route.nav === 'home') performance.mark('kith:timeline-rendered'); // benches/ui.rs
  document.body.dataset.ready = 'true';
}

function errorBlock(err, onRetry = () => show()) {
  const retry = h('button', { type: 'button', class: 'btn', text: 'Try again' });
  retry.addEventListener('click', onRetry);
  return h('div', { class: 'error-block', role: 'alert' }, h('p', { text: friendlyError(err) }), retry);
}

// ---- links -------------------------------------------------------------------------------

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || !isAppPath(url.pathname)) return;
  e.preventDefault();
  if (url.pathname === window.location.pathname && url.search === window.location.search) {
    window.scrollTo({ top: 0, behavior: 'smooth' });
    if (current && current.onReselect) current.onReselect();
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => {
  show({ scrollY: (history.state && history.state.scrollY) || 0 });
});

document.addEventListener('kith:posted', (e) => {
  if (current && current.onPosted) current.onPosted(e.detail);
});

// ---- the event stream --------------------------------------------------------------------

const banner = document.getElementById('connection-banner');
let source = null;
let lost = false;
let bannerTimer = null;
let retryTimer = null;
let retryDelay = 1000;

function markLost() {
  if (!lost) {
    lost = true;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => {
      if (lost) banner.hidden = false;
    }, 700);
  }
}

function markOpen() {
  clearTimeout(bannerTimer);
  banner.hidden = true;
  retryDelay = 1000;
  if (lost) {
    lost = false;
    resync();
  }
}

function connectEvents() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = new EventSource('/api/v1/events');
  source.addEventListener('open', markOpen);
  source.addEventListener('error', () => {
    markLost();
    if (source.readyState === EventSource.CLOSED) scheduleRetry();
  });
  for (const name of EVENT_NAMES) {
    source.addEventListener(name, (m) => receive(name, m.data));
  }
  source.addEventListener('message', (m) => receive(null, m.data));
}

// A page kept in the back/forward cache would hold its event stream open, and the browser
// allows only six connections to one host: close the stream when the page is hidden that way,
// and reopen it (and reload what the page shows) when the page comes back.
window.addEventListener('pagehide', (event) => {
  if (event.persisted && source) {
    clearTimeout(retryTimer);
    source.close();
    source = null;
  }
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted) {
    connectEvents();
    resync();
  }
});

/** The browser gave up (an error status, say): check the session, then try again, slower each time. */
function scheduleRetry() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(async () => {
    try {
      await startSession(); // a 401 here goes to the login page
    } catch {
      // still unreachable: the stream attempt below fails again and reschedules
    }
    retryDelay = Math.min(retryDelay * 2, 30000);
    connectEvents();
  }, retryDelay);
}

function receive(name, raw) {
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return;
  }
  if (!data || typeof data !== 'object') return;
  const type = name || data.type;
  if (!type) return;
  if (type === 'lagged') {
    resync();
    return;
  }
  global(type, data);
  if (queued) queued.push([type, data]);
  else deliver(type, data);
  if (type === 'delete' && data.id) removePost(data.id);
}

function deliver(type, data) {
  if (current && current.onEvent) {
    try {
      current.onEvent(type, data);
    } catch (err) {
      console.error('event handler', type, err);
    }
  }
}

/** After a gap in the stream: reload what may have changed. */
function resync() {
  scheduleBadge();
  if (current && current.onReconnect) current.onReconnect();
}

/** Follows and unfollows the owner made here lately, so their echo does not toast twice. */
const ownFollowActions = new Map();
document.addEventListener('kith:follow-action', (e) => ownFollowActions.set(e.detail, Date.now()));
const recentlyActed = (peerId) => Date.now() - (ownFollowActions.get(peerId) || 0) < 15000;

/** What every page shares: names, counts, toasts, the badge. */
function global(type, data) {
  switch (type) {
    case 'post':
      if (data.post) {
        const known = document.querySelector(`article.post[data-id="${CSS.escape(data.post.id)}"]`);
        if (known) updatePost(data.post);
        else remember(data.post);
        if (data.post.reply_to) countReply(data.post.reply_to, data.post.id);
        if (data.post.reply_to && data.post.author !== state.self) scheduleBadge();
      }
      break;
    case 'like': {
      if (data.post && data.post.id) updatePost(data.post);
      else {
        const id = data.post_id || data.id;
        if (id && Number.isFinite(data.like_count)) setLikeCount(id, data.like_count);
        else if (id && document.querySelector(`article.post[data-id="${CSS.escape(id)}"]`)) {
          endpoints.post(id).then(updatePost, () => {});
        }
      }
      if (data.author === state.self || (data.post && data.post.author === state.self)) scheduleBadge();
      break;
    }
    case 'profile':
      if (data.peer_id) refreshPerson(data.peer_id);
      break;
    case 'follow_request':
      toast(`${nameOf(data.peer_id)} asked to follow you`);
      scheduleBadge();
      break;
    case 'follower':
      if (data.status === 'active') scheduleBadge();
      break;
    case 'following':
      if (!recentlyActed(data.peer_id)) {
        if (data.status === 'active') toast(`You now follow ${nameOf(data.peer_id)}`);
        else if (data.status === 'removed') toast(`You no longer follow ${nameOf(data.peer_id)}`);
      }
      break;
    case 'notification':
      scheduleBadge();
      break;
    default:
      break;
  }
}

async function refreshPerson(peerId) {
  try {
    if (peerId === state.self) {
      state.profile = await endpoints.profile();
      rememberName(peerId, state.profile.display_name);
      renameAuthor(peerId, state.profile.display_name);
      return;
    }
    const user = await endpoints.user(peerId);
    if (user && user.profile && user.profile.display_name) renameAuthor(peerId, user.profile.display_name);
  } catch {
    // a failed refresh leaves the old name; the next page load fixes it
  }
}

// ---- the notification badge ----------------------------------------------------------------

const SEEN_KEY = 'kith.notificationsSeen';
const badge = document.getElementById('notif-badge');
let badgeTimer = null;

function seenAt() {
  try {
    return Number(localStorage.getItem(SEEN_KEY)) || 0;
  } catch {
    return 0;
  }
}

/** Marks notifications up to `at` as seen (the notifications page calls it through its ctx). */
function markSeen(at) {
  try {
    if (at > seenAt()) localStorage.setItem(SEEN_KEY, String(at));
  } catch {
    // without storage the badge just counts again next visit
  }
  setBadge(0);
}

function setBadge(n) {
  badge.hidden = n <= 0;
  badge.textContent = n > 99 ? '99+' : String(n);
  const link = badge.closest('a');
  link.setAttribute('aria-label', n > 0 ? `Notifications (${n} new)` : 'Notifications');
}

function scheduleBadge() {
  clearTimeout(badgeTimer);
  badgeTimer = setTimeout(refreshBadge, 1200);
}

async function refreshBadge() {
  if (window.location.pathname === '/notifications') return;
  const seen = seenAt();
  try {
    const page = await endpoints.notifications(null, 50);
    const list = (page && page.notifications) || [];
    setBadge(list.filter((n) => Number(n.at) > seen).length);
  } catch {
    try {
      const requests = await endpoints.requests();
      setBadge(Array.isArray(requests) ? requests.length : 0);
    } catch {
      // leave the badge as it is
    }
  }
}

// ---- start -------------------------------------------------------------------------------

async function boot() {
  fillIcons(document.body);
  history.scrollRestoration = 'manual';
  for (const b of document.querySelectorAll('[data-action="logout"]')) b.addEventListener('click', () => logout());
  installPostActions(document);
  setInterval(() => refreshTimes(), 60000);
  try {
    await startSession();
    // The stream first, then the state (API.md: nothing falls in between); the first page
    // gets what arrives meanwhile.
    queued = [];
    connectEvents();
    const [node, profile] = await Promise.all([endpoints.node(), endpoints.profile().catch(() => null)]);
    state.node = node;
    state.self = node.peer_id;
    state.profile = profile;
    if (profile) rememberName(node.peer_id, profile.display_name);
    document.getElementById('nav-profile').setAttribute('href', userPath(node.peer_id));
  } catch (err) {
    queued = null;
    replaceChildren(main, h('div', { class: 'view' }, pageHeader('Kith'), errorBlock(err, () => window.location.reload())));
    document.body.dataset.ready = 'true';
    return;
  }
  await show({ scrollY: (history.state && history.state.scrollY) || 0 });
  refreshBadge();
}

boot();
