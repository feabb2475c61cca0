// The notifications page: follow requests waiting for a decision, then what happened to the
// owner (replies, likes, follows, mentions; unknown kinds drawn generically), newest first.

import { endpoints, friendlyError } from './api.js';
import { avatar, busy, emptyState, h, icon, nameOf, rememberName, timeEl } from './dom.js';
import { renderPost } from './posts.js';
import { postPath, userPath } from './state.js';
import { requestsSection } from './people.js';

const SEEN_KEY = 'kith.notificationsSeen';
function lastSeen() {
  try {
    return Number(localStorage.getItem(SEEN_KEY)) || 0;
  } catch {
    return 0;
  }
}

const KINDS = {
  reply: { icon: 'reply', verb: 'replied to your post' },
  like: { icon: 'heart', verb: 'liked your post' },
  follow: { icon: 'follow', verb: 'followed you' },
  follow_request: { icon: 'lock', verb: 'asked to follow you' },
  mention: { icon: 'quote', verb: 'mentioned you' },
};

function renderNotification(n, seen) {
  const kind = KINDS[n.kind];
  rememberName(n.actor, n.actor_name);
  const actor = nameOf(n.actor, n.actor_name);
  const line = h(
    'p',
    { class: 'notification-line' },
    h('a', { class: 'notification-actor', href: userPath(n.actor), text: actor }),
    ' ',
    kind ? kind.verb : 'has something new for you',
    kind ? null : h('span', { class: 'chip', text: String(n.kind || 'notification').replace(/_/g, ' ') }),
    h('span', { class: 'post-dot', 'aria-hidden': 'true', text: ' · ' }),
    timeEl(Number(n.at)),
  );
  let extra = null;
  if (n.post && n.post.id) {
    if (n.kind === 'like') {
      extra = h('a', { class: 'notification-quote', href: postPath(n.post.id), text: n.post.text });
    } else {
      extra = renderPost(n.post, { variant: n.kind === 'reply' || n.kind === 'mention' ? 'timeline' : 'compact', replyContext: false });
    }
  } else if (n.kind === 'follow_request') {
    extra = h('p', { class: 'muted' }, 'Decide in ', h('a', { href: '/followers', text: 'Followers' }), '.');
  }
  return h(
    'li',
    {
      class: `notification notification-${kind ? n.kind : 'other'} ${Number(n.at) > seen ? 'unread' : ''}`.trim(),
      dataset: { id: String(n.id), kind: String(n.kind || '') },
    },
    h('div', { class: 'notification-icon' }, icon(kind ? kind.icon : 'bell')),
    h('div', { class: 'notification-body' }, h('div', { class: 'notification-head' }, avatar(n.actor, n.actor_name, 'avatar-small'), line), extra),
  );
}

export async function render(ctx) {
  ctx.setTitle('Notifications');
  const { markSeen } = ctx;
  const seen = lastSeen();
  const requests = requestsSection();
  const list = h('ul', { id: 'notifications', class: 'notifications' });
  const more = h('button', { type: 'button', class: 'btn load-more', text: 'Load more', hidden: true });
  const status = h('p', { class: 'list-status', role: 'status' });
  const wrap = h('section', { class: 'list-section', 'aria-label': 'Notifications' }, list, status, more);
  const ids = new Set();
  let next = null;
  let newest = 0;
  let unsupported = false;

  const syncEmpty = () => {
    const shown = wrap.querySelector('[data-test="empty"]');
    if (list.children.length && shown) shown.remove();
    if (!list.children.length && !shown && !next) {
      wrap.insertBefore(
        emptyState(
          h('p', { class: 'empty-title', text: 'No notifications yet.' }),
          h('p', { class: 'muted', text: 'When someone follows you, replies to your posts or likes them, it shows up here.' }),
        ),
        status,
      );
    }
  };

  const draw = (items, { top = false } = {}) => {
    const fresh = [];
    for (const n of items) {
      if (!n || n.id === undefined || ids.has(String(n.id))) continue;
      ids.add(String(n.id));
      newest = Math.max(newest, Number(n.at) || 0);
      fresh.push(renderNotification(n, seen));
    }
    if (top) list.prepend(...fresh);
    else list.append(...fresh);
    syncEmpty();
  };

  const loadPage = async (before) => {
    try {
      const page = await endpoints.notifications(before);
      next = (page && page.next) || null;
      more.hidden = !next;
      return (page && page.notifications) || [];
    } catch (err) {
      if (err.code === 'not-found') {
        unsupported = true; // an older node without notifications: show the requests only
        next = null;
        return [];
      }
      throw err;
    }
  };

  more.addEventListener('click', () =>
    busy(more, async () => {
      try {
        draw(await loadPage(next));
        status.textContent = '';
      } catch (err) {
        status.textContent = friendlyError(err);
      }
    }),
  );

  ctx.view.append(ctx.header('Notifications'), requests.element, wrap);
  const [items] = await Promise.all([loadPage(null), requests.load()]);
  draw(items);
  if (unsupported) status.textContent = 'This node does not keep notifications yet.';
  markSeen(Math.max(newest, Date.now()));

  let timer = null;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const page = await endpoints.notifications(null);
        if (!ctx.isCurrent()) return;
        draw(((page && page.notifications) || []).slice(), { top: true });
        markSeen(Math.max(newest, Date.now()));
      } catch {
        // keep the list as it is
      }
    }, 600);
  };

  return {
    onEvent(type, data) {
      if (type === 'notification') {
        const n = data.notification || (data.kind ? data : null);
        if (n && n.id !== undefined) {
          draw([n], { top: true });
          markSeen(Math.max(newest, Date.now()));
        } else refresh();
      } else if (type === 'follow_request' || type === 'follower') {
        requests.load();
        refresh();
      } else if (type === 'post' || type === 'like') {
        refresh();
      } else if (type === 'delete' && data.id) {
        for (const li of list.querySelectorAll('li.notification')) {
          if (li.querySelector(`article.post[data-id="${CSS.escape(data.id)}"]`) || li.querySelector(`a[href="${postPath(data.id)}"]`)) li.remove();
        }
        syncEmpty();
      }
    },
    onReconnect() {
      requests.load();
      refresh();
    },
    destroy() {
      clearTimeout(timer);
    },
  };
}
