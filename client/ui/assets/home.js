// The home page: the compose box and the home timeline, live. New posts never move what the
// reader is looking at: they go in at once only when the reader is at the top and not typing
// (or when they land below the screen); otherwise they wait behind the "N new posts" button.

import { endpoints } from './api.js';
import { emptyState, h, icon, isTyping } from './dom.js';
import { createCompose, findSlot, postList, removePost, updatePost } from './posts.js';
import { state } from './state.js';

export async function render(ctx) {
  ctx.setTitle('Home');
  const pending = new Map();
  let list = null;

  const newPosts = h('button', { type: 'button', id: 'new-posts', class: 'new-posts', hidden: true }, icon('back', 'icon-up'), h('span', { class: 'new-posts-label' }));
  const newPostsWrap = h('div', { class: 'new-posts-wrap' }, newPosts);

  const compose = createCompose({
    kind: 'main',
    onDone: (post) => {
      const el = list.insert(post, { highlight: true });
      if (el) pending.delete(post.id);
    },
  });

  const emptyTimeline = () => {
    const write = h('button', { type: 'button', class: 'link-button', text: 'write your first post' });
    write.addEventListener('click', () => compose.focusText());
    return emptyState(
      h('p', { class: 'empty-title' }, 'Your timeline is empty. Follow someone from the ', h('a', { href: '/network', text: 'Network page' }), ', or ', write, '.'),
      h('p', { class: 'muted', text: 'Your posts and the posts of the people you follow show up here, newest first.' }),
    );
  };

  list = postList({
    id: 'timeline',
    label: 'Home timeline',
    load: (before) => endpoints.timeline(before),
    empty: emptyTimeline,
  });
  ctx.view.append(ctx.header('Home'), compose, newPostsWrap, list.element);
  await list.start();

  const updateButton = () => {
    const n = pending.size;
    newPosts.hidden = n === 0;
    newPosts.querySelector('.new-posts-label').textContent = n === 1 ? '1 new post' : `${n} new posts`;
  };

  const atTop = () => window.scrollY <= 40 || list.list.getBoundingClientRect().top >= 0;

  /** A post for the timeline that is not on screen yet. */
  const incoming = (post) => {
    if (!post || !post.id || list.ids.has(post.id) || pending.has(post.id)) return;
    // Older than everything drawn while more pages remain: "Load more" brings it in order.
    if (list.hasMore() && Number(post.created_at) < list.oldest()) return;
    const slot = findSlot(list.list, post);
    const slotTop = slot ? slot.getBoundingClientRect().top : list.list.getBoundingClientRect().bottom;
    // The owner's own posts count as expected, even while a reply box still holds the text.
    if (slotTop >= window.innerHeight || (atTop() && (post.author === state.self || !isTyping()))) {
      list.insert(post, { highlight: true });
      return;
    }
    pending.set(post.id, post);
    updateButton();
  };

  newPosts.addEventListener('click', () => {
    const posts = [...pending.values()].sort((a, b) => b.created_at - a.created_at);
    pending.clear();
    updateButton();
    let first = null;
    for (const p of posts) {
      const el = list.insert(p, { highlight: true });
      if (el && !first) first = el;
    }
    window.scrollTo({ top: 0, behavior: 'smooth' });
    const target = list.list.querySelector('article.post') || first;
    if (target) {
      target.setAttribute('tabindex', '-1');
      target.focus({ preventScroll: true });
    }
  });

  const onDeleted = (e) => {
    pending.delete(e.detail);
    updateButton();
    list.forget(e.detail);
  };
  document.addEventListener('kith:deleted', onDeleted);

  return {
    onEvent(type, data) {
      if (type === 'post' && data.post) {
        if (list.ids.has(data.post.id)) updatePost(data.post);
        else incoming(data.post);
      } else if (type === 'delete' && data.id) {
        pending.delete(data.id);
        updateButton();
        removePost(data.id);
        list.forget(data.id);
      } else if (type === 'following' && data.status === 'removed') {
        // Unfollowing takes their posts off the timeline (scroll anchoring keeps the view still).
        for (const [id, p] of pending) if (p.author === data.peer_id) pending.delete(id);
        updateButton();
        for (const el of list.list.querySelectorAll(`article.post[data-author="${CSS.escape(data.peer_id)}"]`)) {
          list.ids.delete(el.dataset.id);
          el.remove();
        }
        list.syncEmpty();
      }
    },
    onPosted(post) {
      // Written here: show it now if the top is in view, even if its event already queued it.
      if (pending.has(post.id) && atTop()) {
        pending.delete(post.id);
        updateButton();
        list.insert(post, { highlight: true });
      } else incoming(post);
    },
    async onReconnect() {
      try {
        const page = await endpoints.timeline(null);
        if (!ctx.isCurrent()) return;
        for (const p of (page.posts || []).slice().reverse()) {
          if (list.ids.has(p.id)) updatePost(p);
          else incoming(p);
        }
      } catch {
        // the next reconnect or page load catches up
      }
    },
    onReselect() {
      if (pending.size) newPosts.click();
    },
    destroy() {
      document.removeEventListener('kith:deleted', onDeleted);
    },
  };
}
