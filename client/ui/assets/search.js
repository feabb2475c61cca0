// The search page (/search?q=…): people and posts the node knows that match a query. The
// query lives in the URL, so reload, back and forward show the same search; submitting a new
// one navigates (a new history entry). The matching itself is the node's (GET /api/v1/search):
// names and post text by every word, ignoring case, peer ids by prefix; posts from the newest
// 20,000 of the home timeline.

import { friendlyError, get, query } from './api.js';
import { busy, emptyState, h, icon, nameOf, toast } from './dom.js';
import { renderPost } from './posts.js';
import { followPerson, personRow } from './people.js';
import { state } from './state.js';

/** How many people and posts one search shows. */
const LIMIT = 20;
/** The node's bound on a query, in characters. */
const MAX_QUERY = 100;

const searchPath = (q) => `/search${query({ q })}`;

/** Where the owner stands with a person, as a chip (or null). */
function relationChip(user) {
  if (user.is_self) return h('span', { class: 'chip', text: 'You' });
  if (user.following === 'active') return h('span', { class: 'chip', text: 'Following' });
  if (user.following === 'requested') return h('span', { class: 'chip', text: 'Requested' });
  return null;
}

/** One person found: a row linking to their page, their relation, and Follow when it applies. */
function personResult(user) {
  const name = user.profile && typeof user.profile.display_name === 'string' ? user.profile.display_name : null;
  const meta = [];
  const chip = relationChip(user);
  if (chip) meta.push(chip);
  if (user.follower === 'active' && !user.is_self) meta.push(h('span', { class: 'chip', text: 'Follows you' }));
  if (user.profile && user.profile.locked) meta.push(h('span', { class: 'chip chip-lock' }, icon('lock'), 'Locked'));
  if (user.connected) meta.push(h('span', { class: 'chip chip-online', text: 'Online' }));
  const actions = [];
  if (!user.is_self && !user.following) {
    const button = h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'follow' }, text: 'Follow' });
    button.setAttribute('aria-label', `Follow ${nameOf(user.peer_id, name)}`);
    button.addEventListener('click', () =>
      busy(button, async () => {
        const out = await followPerson(user.peer_id, user);
        if (out.error) {
          toast(out.error, 'error');
          return;
        }
        toast(out.note);
        button.replaceWith(relationChip({ ...user, following: out.status }) || h('span'));
      }),
    );
    actions.push(button);
  }
  return personRow(user.peer_id, name, { meta: meta.length ? meta : null, actions });
}

export async function render(ctx) {
  const q = (ctx.query.get('q') || '').trim();
  ctx.setTitle(q ? `Search: ${q}` : 'Search');

  const input = h('input', {
    id: 'search-input',
    type: 'search',
    name: 'q',
    maxlength: String(MAX_QUERY),
    placeholder: 'Search people and posts',
    'aria-label': 'Search people and posts',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    enterkeyhint: 'search',
    autofocus: true,
  });
  input.value = q;
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'search-submit', text: 'Search' });
  const form = h('form', { class: 'search-form', role: 'search', novalidate: true }, h('div', { class: 'search-field' }, icon('search'), input), submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = input.value.trim();
    if (next === q && q) return;
    state.navigate(next ? searchPath(next) : '/search');
  });

  ctx.view.append(ctx.header('Search'), form);

  if (!q) {
    ctx.view.append(
      emptyState(
        h('p', { class: 'empty-title', text: 'Find people and posts' }),
        h('p', { class: 'muted', text: 'Type a name, a peer id or words from a post. Searches the people your node knows and the newest 20,000 posts of your timeline.' }),
      ),
    );
  } else {
    let results;
    try {
      results = await get(`/api/v1/search${query({ q, limit: LIMIT })}`);
    } catch (err) {
      if (!ctx.isCurrent()) return {};
      ctx.view.append(h('div', { class: 'error-block', role: 'alert' }, h('p', { text: friendlyError(err) })));
      return { mounted: () => input.focus() };
    }
    const people = (results && results.people) || [];
    const posts = (results && results.posts) || [];

    const peopleList = h('ul', { class: 'people' }, people.map(personResult));
    const peopleSection = h(
      'section',
      { id: 'search-people', class: 'search-section', 'aria-label': 'People' },
      h('h2', { class: 'section-title', text: 'People' }),
      people.length ? peopleList : emptyState(h('p', { class: 'muted', text: `No one your node knows matches “${q}”.` })),
    );

    const postList = h('div', { class: 'post-list', 'aria-label': 'Posts' }, posts.map((p) => renderPost(p)));
    const postsSection = h(
      'section',
      { id: 'search-posts', class: 'search-section', 'aria-label': 'Posts' },
      h('h2', { class: 'section-title', text: 'Posts' }),
      posts.length ? postList : emptyState(h('p', { class: 'muted', text: `No post on your node matches “${q}”.` })),
      results && results.posts_truncated
        ? h('p', { class: 'search-note', text: 'Only the newest 20,000 posts were searched; older ones may match too.' })
        : null,
    );
    ctx.view.append(peopleSection, postsSection);
  }

  return {
    mounted() {
      // Autofocus, except over results on a phone, where the keyboard would hide them.
      if (!q || !window.matchMedia('(max-width: 600px)').matches) {
        input.focus({ preventScroll: true });
        const end = input.value.length;
        input.setSelectionRange(end, end);
      }
    },
  };
}
