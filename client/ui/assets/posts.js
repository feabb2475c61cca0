// Posts: how one is drawn, the compose boxes (main, inline reply, inline quote), the post
// actions (reply, quote, like, delete) and keeping every copy of a post on screen up to date.

import { endpoints, friendlyError, limitFromError } from './api.js';
import { avatar, busy, charCount, fmtNumber, h, icon, nameOf, rememberName, shortId, timeEl, toast } from './dom.js';
import { postPath, setPostLimit, state, userPath } from './state.js';

/** The latest copy of every post this page has drawn, by id. */
const posts = new Map();
/** In-flight or finished lookups of posts drawn as quotes or reply context, by id. */
const lookups = new Map();

/** Remembers a post (and its author's name). */
export function remember(post) {
  if (!post || !post.id) return post;
  const prev = posts.get(post.id);
  const merged = { ...prev, ...post };
  // The node's `liked` wins; without it, what the owner did during this visit.
  if (post.liked === true) state.liked.add(post.id);
  else if (post.liked === false) state.liked.delete(post.id);
  else if (state.liked.has(post.id)) merged.liked = true;
  posts.set(post.id, merged);
  rememberName(post.author, post.author_name);
  return merged;
}

/** The post with this id, from memory or the node (null when the node does not have it). */
export function lookupPost(id) {
  if (posts.has(id)) return Promise.resolve(posts.get(id));
  if (!lookups.has(id)) {
    lookups.set(
      id,
      endpoints.post(id).then(
        (p) => remember(p),
        (err) => {
          lookups.delete(id);
          if (err.code === 'not-found' || err.code === 'invalid-request') {
            lookups.set(id, Promise.resolve(null));
            return null;
          }
          throw err;
        },
      ),
    );
  }
  return lookups.get(id);
}

const isLiked = (post) => (typeof post.liked === 'boolean' ? post.liked : state.liked.has(post.id));

function likeLabel(count, liked) {
  const n = `${fmtNumber(count)} ${count === 1 ? 'like' : 'likes'}`;
  return liked ? `Liked (${n})` : `Like (${n})`;
}

/**
 * One post as `<article class="post" data-id data-author>`.
 * `variant`: `timeline` (default), `focus` (the post a thread page is about), `ancestor`,
 * `reply`, `compact` (inside a notification). `replyContext`: show "Replying to …".
 */
export function renderPost(input, { variant = 'timeline', replyContext = true } = {}) {
  const post = remember(input);
  const own = post.author === state.self;
  const authorName = nameOf(post.author, post.author_name);
  const liked = isLiked(post);
  const likeCount = Number(post.like_count) || 0;

  const head = h(
    'header',
    { class: 'post-head' },
    h('a', { class: 'post-author', href: userPath(post.author), text: authorName }),
    h('span', { class: 'post-handle mono', title: post.author, text: shortId(post.author) }),
    h('span', { class: 'post-dot', 'aria-hidden': 'true', text: '·' }),
    h('a', { class: 'post-time', href: postPath(post.id), title: 'Open this post' }, timeEl(post.created_at)),
  );

  const body = h('div', { class: 'post-body' }, head);
  if (post.reply_to && replyContext) body.appendChild(replyContextLine(post.reply_to));
  body.appendChild(h('div', { class: 'post-text', text: post.text }));
  if (post.quote_of) body.appendChild(quoteEmbed(post.quote_of));

  if (variant !== 'compact') {
    const actions = h(
      'div',
      { class: 'post-actions' },
      h(
        'button',
        { type: 'button', class: 'action', dataset: { action: 'reply' }, 'aria-label': 'Reply', title: 'Reply' },
        icon('reply'),
        h('span', { class: 'reply-count', text: Number(post.reply_count) > 0 ? fmtNumber(post.reply_count) : '' }),
      ),
      h('button', { type: 'button', class: 'action', dataset: { action: 'quote' }, 'aria-label': 'Quote', title: 'Quote' }, icon('quote')),
      h(
        'button',
        {
          type: 'button',
          class: 'action action-like',
          dataset: { action: 'like' },
          'aria-pressed': liked ? 'true' : 'false',
          'aria-label': likeLabel(likeCount, liked),
          title: liked ? 'You liked this' : 'Like',
        },
        icon('heart'),
        h('span', { class: 'like-count', text: fmtNumber(likeCount) }),
      ),
      own
        ? h('button', { type: 'button', class: 'action action-delete', dataset: { action: 'delete' }, 'aria-label': 'Delete post', title: 'Delete' }, icon('trash'))
        : null,
    );
    body.appendChild(actions);
    body.appendChild(h('div', { class: 'post-compose-slot' }));
  }

  return h(
    'article',
    {
      class: `post post-${variant}`,
      dataset: { id: post.id, author: post.author, createdAt: String(post.created_at) },
      'aria-label': `Post by ${authorName}`,
    },
    h('a', { class: 'post-avatar', href: userPath(post.author), tabindex: '-1', 'aria-hidden': 'true' }, avatar(post.author, post.author_name)),
    body,
  );
}

function replyContextLine(parentId) {
  const link = h('a', { href: postPath(parentId), text: 'a post' });
  const line = h('div', { class: 'post-context' }, icon('reply', 'icon-small'), 'Replying to ', link);
  lookupPost(parentId).then(
    (parent) => {
      if (parent) link.textContent = parent.author === state.self ? 'you' : nameOf(parent.author, parent.author_name);
    },
    () => {},
  );
  return line;
}

/** A quoted post drawn small inside another post or a compose box. */
export function quoteEmbed(id) {
  const box = h('div', { class: 'post-quote', dataset: { quoteId: id } }, h('span', { class: 'muted', text: 'Loading the quoted post…' }));
  lookupPost(id).then(
    (quoted) => fillQuote(box, quoted),
    () => fillQuote(box, null, 'The quoted post could not be loaded.'),
  );
  return box;
}

function fillQuote(box, quoted, message) {
  box.textContent = '';
  if (!quoted) {
    box.classList.add('post-quote-missing');
    box.appendChild(h('span', { class: 'muted', text: message || 'The quoted post is not stored on your node.' }));
    return;
  }
  box.append(
    h(
      'div',
      { class: 'post-quote-head' },
      avatar(quoted.author, quoted.author_name, 'avatar-small'),
      h('a', { class: 'post-author', href: userPath(quoted.author), text: nameOf(quoted.author, quoted.author_name) }),
      h('span', { class: 'post-dot', 'aria-hidden': 'true', text: '·' }),
      h('a', { class: 'post-time', href: postPath(quoted.id) }, timeEl(quoted.created_at)),
    ),
    h('div', { class: 'post-quote-text', text: quoted.text }),
  );
}

// ---- keeping posts on screen current -----------------------------------------------------

function articles(id) {
  return document.querySelectorAll(`article.post[data-id="${CSS.escape(id)}"]`);
}

/** Applies a newer copy of a post to every place it is drawn. */
export function updatePost(input) {
  const post = remember(input);
  for (const el of articles(post.id)) {
    const like = el.querySelector(':scope > .post-body > .post-actions [data-action="like"]');
    if (like) setLike(like, Number(post.like_count) || 0, isLiked(post));
    const replies = el.querySelector(':scope > .post-body > .post-actions .reply-count');
    if (replies && post.reply_count !== undefined) replies.textContent = Number(post.reply_count) > 0 ? fmtNumber(post.reply_count) : '';
    const author = el.querySelector(':scope > .post-body > .post-head .post-author');
    if (author && post.author_name) author.textContent = post.author_name;
  }
  return post;
}

function setLike(button, count, liked) {
  button.setAttribute('aria-pressed', liked ? 'true' : 'false');
  button.setAttribute('aria-label', likeLabel(count, liked));
  button.title = liked ? 'You liked this' : 'Like';
  button.querySelector('.like-count').textContent = fmtNumber(count);
}

/** Replies already added to their parent's count here, so that a reply counts once. */
const countedReplies = new Set();

/** A new reply to `parentId` arrived: one more on the parent's reply count where it is drawn. */
export function countReply(parentId, replyId) {
  if (!parentId || countedReplies.has(replyId)) return;
  countedReplies.add(replyId);
  const parent = posts.get(parentId);
  if (parent) updatePost({ ...parent, reply_count: (Number(parent.reply_count) || 0) + 1 });
}

/** Sets a post's like count where it is drawn (from a `like` event without the whole post). */
export function setLikeCount(id, count) {
  const known = posts.get(id);
  if (known) known.like_count = count;
  for (const el of articles(id)) {
    const like = el.querySelector(':scope > .post-body > .post-actions [data-action="like"]');
    if (like) setLike(like, count, like.getAttribute('aria-pressed') === 'true');
  }
}

/** Removes a deleted post everywhere; quotes of it say so. */
export function removePost(id) {
  posts.delete(id);
  lookups.set(id, Promise.resolve(null));
  for (const el of articles(id)) el.remove();
  for (const q of document.querySelectorAll(`.post-quote[data-quote-id="${CSS.escape(id)}"]`)) {
    fillQuote(q, null, 'The quoted post was deleted.');
  }
}

/** Updates the author name on every drawn post of a person. */
export function renameAuthor(peerId, name) {
  if (!name) return;
  rememberName(peerId, name);
  for (const el of document.querySelectorAll(`article.post[data-author="${CSS.escape(peerId)}"] > .post-body > .post-head .post-author`)) {
    el.textContent = name;
  }
}

/** Tells the open page about a post the owner just wrote here. */
function announce(post) {
  document.dispatchEvent(new CustomEvent('kith:posted', { detail: post }));
}

// ---- compose -----------------------------------------------------------------------------

const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/**
 * A compose box. `kind`: `main` (home page, fixed ids), `reply` or `quote` (inline, classes).
 * `target`: the post replied to or quoted. `onDone(post)` runs after a successful post.
 */
export function createCompose({ kind = 'main', target = null, onDone = null, onCancel = null }) {
  const main = kind === 'main';
  const draftKey = main ? 'kith.draft' : null;
  const label = main ? 'Write a post' : kind === 'reply' ? `Reply to ${nameOf(target.author, target.author_name)}` : 'Add your words to the quote';
  const textarea = h('textarea', {
    id: main ? 'compose-text' : null,
    class: `compose-text ${kind === 'reply' ? 'reply-text' : kind === 'quote' ? 'quote-text' : ''}`.trim(),
    rows: main ? 3 : 2,
    placeholder: main ? 'What’s on your mind?' : kind === 'reply' ? 'Write your reply' : 'Say something about it',
    'aria-label': label,
    spellcheck: 'true',
  });
  const count = h('span', { id: main ? 'compose-count' : null, class: 'compose-count', 'aria-live': 'off' });
  const submit = h('button', {
    type: 'submit',
    id: main ? 'compose-submit' : null,
    class: `btn btn-primary ${kind === 'reply' ? 'reply-submit' : kind === 'quote' ? 'quote-submit' : ''}`.trim(),
    text: kind === 'reply' ? 'Reply' : 'Post',
    disabled: true,
  });
  const error = h('p', { class: 'compose-error', role: 'alert', hidden: true });
  const cancel = main ? null : h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel' });
  const countId = `count-${Math.random().toString(36).slice(2, 9)}`;
  count.id = count.id || countId;
  textarea.setAttribute('aria-describedby', count.id);

  const form = h(
    'form',
    { class: `compose compose-${kind}`, novalidate: true },
    main && state.self ? h('div', { class: 'compose-avatar' }, avatar(state.self, state.profile && state.profile.display_name)) : null,
    h(
      'div',
      { class: 'compose-body' },
      textarea,
      kind === 'quote' && target ? quotePreview(target) : null,
      error,
      h('div', { class: 'compose-bar' }, h('span', { class: 'compose-hint', text: `${MAC ? '⌘' : 'Ctrl'}+Enter to post` }), count, cancel, submit),
    ),
  );

  let sending = false;
  const update = () => {
    const n = charCount(textarea.value);
    const limit = state.postLimit;
    count.textContent = `${fmtNumber(n)} / ${fmtNumber(limit)}`;
    count.classList.toggle('near', n > limit * 0.9 && n <= limit);
    count.classList.toggle('over', n > limit);
    textarea.setAttribute('aria-invalid', n > limit ? 'true' : 'false');
    submit.disabled = sending || textarea.value.trim().length === 0 || n > limit;
    if (draftKey) {
      try {
        if (textarea.value) sessionStorage.setItem(draftKey, textarea.value);
        else sessionStorage.removeItem(draftKey);
      } catch {
        // no draft keeping without storage
      }
    }
  };
  if (draftKey) {
    try {
      textarea.value = sessionStorage.getItem(draftKey) || '';
    } catch {
      textarea.value = '';
    }
  }
  const onLimit = () => (form.isConnected ? update() : document.removeEventListener('kith:limit', onLimit));
  document.addEventListener('kith:limit', onLimit);
  textarea.addEventListener('input', () => {
    error.hidden = true;
    update();
  });
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (!submit.disabled) form.requestSubmit(submit);
    } else if (e.key === 'Escape' && cancel) {
      e.preventDefault();
      cancel.click();
    }
  });
  if (cancel) cancel.addEventListener('click', () => onCancel && onCancel());

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submit.disabled || sending) return;
    const body = { text: textarea.value };
    if (kind === 'reply') body.reply_to = target.id;
    if (kind === 'quote') body.quote_of = target.id;
    sending = true;
    textarea.readOnly = true;
    update();
    try {
      const created = remember(await endpoints.createPost(body));
      textarea.value = '';
      textarea.readOnly = false;
      error.hidden = true;
      sending = false;
      update();
      toast(kind === 'reply' ? 'Reply posted' : 'Posted');
      if (onDone) onDone(created);
      announce(created);
    } catch (err) {
      sending = false;
      textarea.readOnly = false;
      const limit = limitFromError(err);
      if (limit) setPostLimit(limit);
      error.textContent = friendlyError(err);
      error.hidden = false;
      update();
      textarea.focus();
    }
  });

  update();
  form.focusText = () => {
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  };
  return form;
}

function quotePreview(target) {
  const box = h('div', { class: 'post-quote', dataset: { quoteId: target.id } });
  fillQuote(box, target);
  return box;
}

// ---- actions -----------------------------------------------------------------------------

function openInline(article, kind) {
  const slot = article.querySelector(':scope > .post-body > .post-compose-slot');
  const id = article.dataset.id;
  const target = posts.get(id);
  if (!slot || !target) return;
  const open = slot.firstElementChild;
  const buttons = article.querySelectorAll(':scope > .post-body > .post-actions [data-action="reply"], :scope > .post-body > .post-actions [data-action="quote"]');
  if (open && open.dataset.kind === kind) {
    open.querySelector('textarea').focus();
    return;
  }
  const keep = open ? open.querySelector('textarea').value : '';
  const close = () => {
    slot.textContent = '';
    for (const b of buttons) b.setAttribute('aria-expanded', 'false');
  };
  const form = createCompose({
    kind,
    target,
    onDone: (created) => {
      close();
      if (kind === 'reply' && created) countReply(id, created.id);
    },
    onCancel: () => {
      close();
      article.querySelector(`:scope > .post-body > .post-actions [data-action="${kind}"]`).focus();
    },
  });
  form.dataset.kind = kind;
  slot.textContent = '';
  slot.appendChild(form);
  for (const b of buttons) b.setAttribute('aria-expanded', b.dataset.action === kind ? 'true' : 'false');
  const textarea = form.querySelector('textarea');
  if (keep) {
    textarea.value = keep;
    textarea.dispatchEvent(new Event('input'));
  }
  form.focusText();
}

async function like(article, button) {
  const id = article.dataset.id;
  if (button.getAttribute('aria-pressed') === 'true') {
    toast('You already liked this post');
    return;
  }
  const known = posts.get(id) || {};
  const before = Number(known.like_count) || Number(button.querySelector('.like-count').textContent.replace(/\D/g, '')) || 0;
  state.liked.add(id);
  setLikeCount(id, before + 1);
  for (const el of articles(id)) {
    const b = el.querySelector(':scope > .post-body > .post-actions [data-action="like"]');
    if (b) setLike(b, before + 1, true);
  }
  try {
    const updated = await endpoints.like(id);
    updatePost({ ...updated, liked: true });
  } catch (err) {
    state.liked.delete(id);
    for (const el of articles(id)) {
      const b = el.querySelector(':scope > .post-body > .post-actions [data-action="like"]');
      if (b) setLike(b, before, false);
    }
    if (posts.has(id)) posts.get(id).like_count = before;
    toast(friendlyError(err, { notFound: 'That post is no longer on your node.' }), 'error');
  }
}

async function remove(article, button) {
  const id = article.dataset.id;
  await busy(button, async () => {
    try {
      await endpoints.deletePost(id);
      removePost(id);
      document.dispatchEvent(new CustomEvent('kith:deleted', { detail: id }));
      toast('Post deleted');
    } catch (err) {
      if (err.code === 'not-found') {
        removePost(id);
        toast('That post was already gone');
      } else {
        toast(friendlyError(err), 'error');
      }
    }
  });
}

/** One delegated listener for every post action on the page. */
export function installPostActions(root = document) {
  root.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    const article = e.target.closest('article.post');
    if (!article) return;
    if (button && article.contains(button) && button.closest('article.post') === article) {
      const action = button.dataset.action;
      if (action === 'reply' || action === 'quote') openInline(article, action);
      else if (action === 'like') like(article, button);
      else if (action === 'delete') remove(article, button);
      return;
    }
    // A click on the post's plain area opens it (links, buttons and forms keep their own job).
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    if (e.target.closest('a, button, input, textarea, label, form, .post-quote')) {
      const quote = e.target.closest('.post-quote');
      if (quote && !e.target.closest('a') && quote.dataset.quoteId && !quote.closest('form') && !quote.classList.contains('post-quote-missing')) {
        state.navigate(postPath(quote.dataset.quoteId));
      }
      return;
    }
    if (article.classList.contains('post-focus')) return;
    const selection = window.getSelection();
    if (selection && !selection.isCollapsed && article.contains(selection.anchorNode)) return;
    state.navigate(postPath(article.dataset.id));
  });
}

// ---- lists of posts ----------------------------------------------------------------------

/**
 * A paged list of posts: draws the first page, and a "Load more" button that follows `next`.
 * `load(before)` returns a PostPage. Returns `{element, list, ids}`.
 */
export function postList({ id, label, load, empty, variant = 'timeline', replyContext = true }) {
  const list = h('div', { id, class: 'post-list', 'aria-label': label, 'aria-busy': 'false' });
  const more = h('button', { type: 'button', class: 'btn load-more', text: 'Load more', hidden: true });
  const status = h('p', { class: 'list-status', role: 'status' });
  const element = h('section', { class: 'post-list-wrap' }, list, status, more);
  const ids = new Set();
  let next = null;
  let oldest = Infinity;

  const drawPage = (page) => {
    for (const p of page.posts || []) {
      if (ids.has(p.id)) continue;
      ids.add(p.id);
      oldest = Math.min(oldest, Number(p.created_at) || oldest);
      list.appendChild(renderPost(p, { variant, replyContext }));
    }
    next = page.next || null;
    more.hidden = !next;
    syncEmpty();
  };

  const syncEmpty = () => {
    const hasPosts = list.querySelector('article.post') !== null;
    const shown = element.querySelector(':scope > [data-test="empty"]');
    if (hasPosts && shown) shown.remove();
    if (!hasPosts && !shown && empty && !next) element.insertBefore(empty(), status);
  };

  more.addEventListener('click', () =>
    busy(more, async () => {
      list.setAttribute('aria-busy', 'true');
      status.textContent = '';
      try {
        drawPage(await load(next));
      } catch (err) {
        status.textContent = friendlyError(err);
      } finally {
        list.setAttribute('aria-busy', 'false');
      }
    }),
  );

  return {
    element,
    list,
    ids,
    /** Loads and draws the first page (throws on failure). */
    async start() {
      list.setAttribute('aria-busy', 'true');
      try {
        drawPage(await load(null));
      } finally {
        list.setAttribute('aria-busy', 'false');
      }
    },
    /** Whether more pages remain. */
    hasMore: () => next !== null,
    /** The oldest post drawn (unix ms). */
    oldest: () => oldest,
    /** Re-checks the empty state after posts were added or removed elsewhere. */
    syncEmpty,
    /** Inserts a post in time order; returns the element (or null when already shown). */
    insert(post, { highlight = false } = {}) {
      if (ids.has(post.id)) return null;
      ids.add(post.id);
      const el = renderPost(post, { variant, replyContext });
      if (highlight) el.classList.add('post-new');
      list.insertBefore(el, findSlot(list, post));
      syncEmpty();
      return el;
    },
    /** Forgets a removed post. */
    forget(postId) {
      ids.delete(postId);
      syncEmpty();
    },
  };
}

/** The drawn post a new one goes before (time order, newest first), or null for the end. */
export function findSlot(list, post) {
  const t = Number(post.created_at) || 0;
  for (const el of list.children) {
    if (el.matches('article.post') && Number(el.dataset.createdAt) <= t) return el;
  }
  return null;
}

