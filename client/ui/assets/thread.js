// A post's page (/posts/{id}): the chain of posts it answers, the post itself, and its replies
// (newest first, paged), kept live from the event stream.

import { endpoints, friendlyError } from './api.js';
import { emptyState, fmtNumber, h, nameOf } from './dom.js';
import { lookupPost, postList, remember, removePost, renderPost, updatePost } from './posts.js';

const MAX_ANCESTORS = 20;

export async function render(ctx) {
  const id = ctx.params[0];
  ctx.setTitle('Post');
  const header = ctx.header('Post', { back: true });

  let post;
  try {
    post = remember(await endpoints.post(id));
  } catch (err) {
    if (err.code !== 'not-found' && err.code !== 'invalid-request') throw err;
    ctx.view.append(
      header,
      emptyState(
        h('p', { class: 'empty-title', text: err.code === 'not-found' ? 'This post is not on your node.' : 'That is not a post address.' }),
        h('p', { class: 'muted', text: 'It may have been deleted, or it belongs to someone you do not follow. Your node keeps the posts of the people you follow, your own, and replies to yours.' }),
        h('a', { href: '/', text: 'Back to your home timeline' }),
      ),
    );
    return {};
  }
  const author = nameOf(post.author, post.author_name);
  ctx.setTitle(`${author}: “${[...post.text].slice(0, 40).join('')}${[...post.text].length > 40 ? '…' : ''}”`);

  // The chain of parents, oldest first.
  const ancestors = [];
  let missingParent = null;
  let parentId = post.reply_to;
  const seen = new Set([post.id]);
  while (parentId && ancestors.length < MAX_ANCESTORS && !seen.has(parentId)) {
    seen.add(parentId);
    let parent = null;
    try {
      parent = await lookupPost(parentId);
    } catch {
      parent = null;
    }
    if (!parent) {
      missingParent = parentId;
      break;
    }
    ancestors.unshift(parent);
    parentId = parent.reply_to;
  }
  if (!ctx.isCurrent()) return {};

  const chain = h('div', { class: 'thread-ancestors' });
  if (missingParent) {
    chain.appendChild(h('p', { class: 'thread-missing', text: 'This conversation starts with a post that is not on your node.' }));
  }
  for (const a of ancestors) chain.appendChild(renderPost(a, { variant: 'ancestor', replyContext: false }));
  const focus = renderPost(post, { variant: 'focus', replyContext: false });
  focus.querySelector('.post-time time').textContent = new Date(post.created_at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  focus.querySelector('.post-time time').removeAttribute('data-ts');

  const replies = postList({
    id: 'replies',
    label: 'Replies',
    load: (before) => endpoints.replies(id, before),
    empty: () => emptyState(h('p', { text: 'No replies yet.' }), h('p', { class: 'muted', text: 'Use the reply button to write the first one.' })),
    variant: 'reply',
    replyContext: false,
  });
  const repliesStatus = h('p', { class: 'list-status', role: 'status' });
  ctx.view.append(header, h('div', { class: 'thread' }, chain, focus), h('h2', { class: 'section-title', text: 'Replies' }), repliesStatus, replies.element);
  try {
    await replies.start();
    // A node that does not count replies yet: all of them are on screen, so count those.
    if (post.reply_count === undefined && !replies.hasMore()) {
      const n = replies.ids.size;
      remember({ ...post, reply_count: n });
      const count = focus.querySelector(':scope > .post-body > .post-actions .reply-count');
      if (count) count.textContent = n > 0 ? fmtNumber(n) : '';
    }
  } catch (err) {
    repliesStatus.textContent = `The replies could not be loaded: ${friendlyError(err)}`;
  }

  const deleted = () => {
    const gone = h('p', { class: 'thread-deleted', role: 'status', text: 'This post was deleted.' });
    if (focus.isConnected) focus.replaceWith(gone);
  };
  const onDeleted = (e) => {
    if (e.detail === id) deleted();
    replies.forget(e.detail);
  };
  document.addEventListener('kith:deleted', onDeleted);

  const addReply = (p) => {
    if (p && p.reply_to === id) replies.insert(p, { highlight: true });
  };

  return {
    mounted({ restoring }) {
      if (ancestors.length && !restoring) focus.scrollIntoView({ block: 'start' });
    },
    onEvent(type, data) {
      if (type === 'post' && data.post) {
        if (replies.ids.has(data.post.id)) updatePost(data.post);
        else addReply(data.post);
      } else if (type === 'delete' && data.id) {
        if (data.id === id) deleted();
        removePost(data.id);
        replies.forget(data.id);
      }
    },
    onPosted: addReply,
    async onReconnect() {
      try {
        const [fresh, page] = await Promise.all([endpoints.post(id), endpoints.replies(id, null)]);
        if (!ctx.isCurrent()) return;
        updatePost(fresh);
        for (const p of page.posts || []) addReply(p);
      } catch (err) {
        if (err.code === 'not-found') deleted();
      }
    },
    destroy() {
      document.removeEventListener('kith:deleted', onDeleted);
    },
  };
}
