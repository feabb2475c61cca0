// People: a profile page (/users/{peer_id}) with its follow and mute buttons and posts, and the
// owner's own lists (/followers with the follow requests, /following).

import { endpoints, friendlyError } from './api.js';
import { avatar, busy, copyField, emptyState, h, icon, nameOf, names, rememberName, replaceChildren, shortDate, shortId, toast } from './dom.js';
import { postList, removePost, renameAuthor, updatePost } from './posts.js';
import { state, userPath } from './state.js';

/** Tells the shell that the owner just acted on a follow here (so its echo does not toast). */
const acted = (peerId) => document.dispatchEvent(new CustomEvent('kith:follow-action', { detail: peerId }));

const displayName = (user) => {
  const n = user && user.profile && typeof user.profile.display_name === 'string' ? user.profile.display_name.trim() : '';
  return n || null;
};

// ---- follow actions shared by the pages ----------------------------------------------------

/**
 * Follows someone. Returns `{status, note}` with a sentence saying what happened, or
 * `{error}` with a sentence saying what went wrong. `user` (optional) is what is known about
 * them (locked, connected), for a precise sentence.
 */
export async function followPerson(peerId, user = null) {
  const name = nameOf(peerId, displayName(user));
  acted(peerId);
  try {
    const res = await endpoints.follow(peerId);
    rememberName(peerId, res.display_name);
    let note;
    if (res.status === 'active') {
      note = `You now follow ${nameOf(peerId, res.display_name)}.`;
    } else if (user && user.profile && user.profile.locked) {
      note = `Request sent. ${name} approves followers, so you will see their posts once they accept.`;
    } else if (user && !user.connected) {
      note = `${name}'s node is offline right now; your follow will be sent when it is back.`;
    } else {
      note = `Request sent. ${name} has to approve it, or their node has not answered yet.`;
    }
    return { status: res.status, note };
  } catch (err) {
    return { error: friendlyError(err, { action: 'follow', name, badId: 'That is not a valid peer id.' }) };
  }
}

async function unfollowPerson(peerId, wasRequested) {
  const name = nameOf(peerId);
  acted(peerId);
  try {
    await endpoints.unfollow(peerId);
    toast(wasRequested ? `Follow request to ${name} withdrawn` : `You unfollowed ${name}`);
    return true;
  } catch (err) {
    toast(friendlyError(err), 'error');
    return false;
  }
}

async function decide(peerId, approve) {
  const name = nameOf(peerId);
  try {
    if (approve) await endpoints.approve(peerId);
    else await endpoints.reject(peerId);
    toast(approve ? `${name} can now follow you` : `Request from ${name} rejected`);
    return true;
  } catch (err) {
    toast(err.code === 'not-found' ? 'That request was already handled.' : friendlyError(err), err.code === 'not-found' ? 'info' : 'error');
    return err.code === 'not-found';
  }
}

// ---- rows ----------------------------------------------------------------------------------

/** One person in a list: avatar, name (link), short id, a line of details and buttons. */
export function personRow(peerId, name, { meta = null, actions = [], tag = 'li', cls = '' } = {}) {
  rememberName(peerId, name);
  const shown = nameOf(peerId, name);
  return h(
    tag,
    { class: `person ${cls}`.trim(), dataset: { peerId } },
    h('a', { class: 'person-avatar', href: userPath(peerId), tabindex: '-1', 'aria-hidden': 'true' }, avatar(peerId, name || names.get(peerId))),
    h(
      'div',
      { class: 'person-main' },
      h('a', { class: `person-name ${shown === shortId(peerId) ? 'mono' : ''}`.trim(), href: userPath(peerId), title: peerId, text: shown }),
      shown === shortId(peerId) ? null : h('span', { class: 'person-id mono', title: peerId, text: shortId(peerId) }),
      meta ? h('div', { class: 'person-meta' }, meta) : null,
    ),
    actions.length ? h('div', { class: 'person-actions' }, actions) : null,
  );
}

/**
 * The follow requests waiting for the owner, with Approve / Reject. `onChange` runs after a
 * decision. Returns `{element, load}`; the section hides itself when there are none (unless
 * `always`).
 */
export function requestsSection({ onChange = null, always = false } = {}) {
  const list = h('ul', { id: 'follow-requests', class: 'people' });
  const title = h('h2', { class: 'section-title', text: 'Follow requests' });
  const element = h('section', { class: 'requests', 'aria-label': 'Follow requests' }, title, list);
  const load = async () => {
    let requests;
    try {
      requests = await endpoints.requests();
    } catch (err) {
      element.hidden = false;
      replaceChildren(list, h('li', { class: 'list-status', text: friendlyError(err) }));
      return;
    }
    list.textContent = '';
    element.hidden = !always && requests.length === 0;
    title.textContent = requests.length ? `Follow requests (${requests.length})` : 'Follow requests';
    if (!requests.length) {
      list.appendChild(h('li', { class: 'muted list-note', text: 'No follow requests are waiting.' }));
      return;
    }
    for (const r of requests) {
      const approve = h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'approve' }, text: 'Approve' });
      const reject = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'reject' }, text: 'Reject' });
      const row = personRow(r.peer_id, r.display_name, { meta: `Asked ${shortDate(r.since_ms)}`, actions: [approve, reject] });
      const act = (ok) => async () => {
        approve.disabled = true;
        reject.disabled = true;
        if (await decide(r.peer_id, ok)) {
          row.remove();
          await load();
          if (onChange) onChange();
        } else {
          approve.disabled = false;
          reject.disabled = false;
        }
      };
      approve.addEventListener('click', act(true));
      reject.addEventListener('click', act(false));
      list.appendChild(row);
    }
  };
  return { element, load };
}

function listTabs(active) {
  const tab = (href, key, label) => h('a', { class: 'tab', href, 'aria-current': active === key ? 'page' : null, text: label });
  return h('nav', { class: 'tabs', 'aria-label': 'Your connections' }, tab('/followers', 'followers', 'Followers'), tab('/following', 'following', 'Following'));
}

/** Reloads something at most every `ms` (events come in bursts). */
function debounce(fn, ms = 400) {
  let t = null;
  const run = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(t);
  return run;
}

// ---- the profile page ----------------------------------------------------------------------

export async function renderProfile(ctx) {
  const peerId = ctx.params[0];
  let user;
  try {
    user = await endpoints.user(peerId);
  } catch (err) {
    if (err.code !== 'invalid-request') throw err;
    ctx.setTitle('Unknown person');
    ctx.view.append(
      ctx.header('Profile', { back: true }),
      emptyState(h('p', { class: 'empty-title', text: 'That is not a valid peer id.' }), h('p', { class: 'muted', text: 'Peer ids look like 12D3KooW… and are 52 characters long.' })),
    );
    return {};
  }
  const self = user.is_self || peerId === state.self;
  rememberName(peerId, displayName(user));

  const card = h('section', { id: 'profile', class: 'profile-card', dataset: { peerId } });
  const note = h('p', { class: 'follow-note', role: 'status' });
  const followButton = self ? null : h('button', { type: 'button', id: 'follow-button', class: 'btn' });
  let followState = user.following;
  let followBusy = false;
  // Muting hides them from the home timeline, the live updates and the notifications (not from
  // this page: the owner came here for them).
  const muteButton = self ? null : h('button', { type: 'button', id: 'mute-button', class: 'btn btn-ghost' });
  const drawMute = () => {
    if (!muteButton) return;
    muteButton.textContent = user.muted ? 'Unmute' : 'Mute';
    muteButton.setAttribute('aria-pressed', user.muted ? 'true' : 'false');
    muteButton.title = user.muted
      ? 'Show their posts and notifications again'
      : 'Hide their posts and notifications from your timeline. You keep following them; they are not told.';
  };
  if (muteButton) {
    muteButton.addEventListener('click', () =>
      busy(muteButton, async () => {
        const name = nameOf(peerId);
        try {
          if (user.muted) {
            try {
              await endpoints.unmute(peerId);
            } catch (err) {
              if (err.code !== 'not-found') throw err;
            }
            user.muted = false;
            toast(`${name} is unmuted: their posts show in your timeline again.`);
          } else {
            await endpoints.mute(peerId);
            user.muted = true;
            toast(`${name} is muted: their posts stay out of your timeline.`);
          }
          drawCard();
          muteButton.focus();
        } catch (err) {
          toast(friendlyError(err), 'error');
        }
      }),
    );
  }

  const drawFollow = () => {
    if (!followButton) return;
    const s = followState === 'removed' ? null : followState;
    followButton.textContent = s === 'active' ? 'Unfollow' : s === 'requested' ? 'Requested' : 'Follow';
    followButton.className = `btn ${s ? 'btn-outline' : 'btn-primary'}`;
    followButton.dataset.state = s || 'none';
    followButton.title = s === 'requested' ? 'Waiting for an answer. Click to withdraw the request.' : '';
    if (s !== 'requested') note.textContent = '';
    else if (!note.textContent) {
      note.textContent = user.profile && user.profile.locked
        ? `Request sent. ${nameOf(peerId)} approves followers.`
        : user.connected
          ? 'Request sent. Waiting for their node to answer.'
          : `${nameOf(peerId)}'s node is offline right now; your follow will be sent when it is back.`;
    }
  };

  if (followButton) {
    followButton.addEventListener('click', async () => {
      if (followBusy) return;
      followBusy = true;
      followButton.disabled = true;
      try {
        const s = followState === 'removed' ? null : followState;
        if (s) {
          if (await unfollowPerson(peerId, s === 'requested')) {
            followState = null;
            note.textContent = '';
          }
        } else {
          const res = await followPerson(peerId, user);
          if (res.error) toast(res.error, 'error');
          else {
            followState = res.status;
            note.textContent = res.status === 'requested' ? res.note : '';
            if (res.status === 'active') {
              toast(res.note);
              reloadPosts();
            }
          }
        }
      } finally {
        followBusy = false;
        followButton.disabled = false;
        drawFollow();
      }
    });
  }

  const drawCard = () => {
    const name = displayName(user);
    const profile = user.profile || {};
    const badges = h(
      'div',
      { class: 'badges' },
      profile.locked ? h('span', { class: 'chip chip-lock', title: 'Approves followers' }, icon('lock', 'icon-small'), 'Locked') : null,
      self ? h('span', { class: 'chip', text: 'You' }) : null,
      !self && user.follower === 'active' ? h('span', { class: 'chip', text: 'Follows you' }) : null,
      !self ? h('span', { class: `chip ${user.connected ? 'chip-online' : ''}`, text: user.connected ? 'Online' : 'Offline' }) : null,
      !self && user.muted ? h('span', { class: 'chip', dataset: { test: 'muted' }, title: 'Hidden from your timeline and notifications', text: 'Muted' }) : null,
    );
    const actions = h('div', { class: 'profile-actions' });
    if (self) {
      actions.append(
        h('a', { class: 'btn btn-outline', href: '/settings', text: 'Edit profile' }),
        h('a', { class: 'btn btn-ghost', href: '/followers', text: 'Followers' }),
        h('a', { class: 'btn btn-ghost', href: '/following', text: 'Following' }),
      );
    } else {
      actions.append(followButton, muteButton);
    }
    const request = !self && user.follower === 'requested' ? requestBox() : null;
    replaceChildren(
      card,
      h(
        'div',
        { class: 'profile-top' },
        avatar(peerId, name, 'avatar-large'),
        h('div', { class: 'profile-names' }, h('h2', { id: 'profile-name', class: 'profile-name', text: name || (self ? 'You' : shortId(peerId)) }), badges),
      ),
      profile.bio ? h('p', { class: 'profile-bio', text: profile.bio }) : null,
      !user.profile && !self ? h('p', { class: 'muted', text: 'Your node knows nothing about this person yet.' }) : null,
      self && !name ? h('p', { class: 'muted' }, 'You have not set a display name yet. ', h('a', { href: '/settings', text: 'Set one in Settings' }), '.') : null,
      h('div', { class: 'profile-id' }, h('span', { class: 'label', text: 'Peer id' }), copyField({ id: 'profile-peer-id', value: peerId, label: 'Peer id' })),
      actions,
      note,
      request,
    );
    drawFollow();
    drawMute();
    ctx.setTitle(name || shortId(peerId));
    const title = ctx.view.querySelector('.page-title');
    if (title) title.textContent = self ? 'Your profile' : name || 'Profile';
  };

  const requestBox = () => {
    const approve = h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { action: 'approve' }, text: 'Approve' });
    const reject = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'reject' }, text: 'Reject' });
    const act = (ok) => async () => {
      approve.disabled = true;
      reject.disabled = true;
      if (await decide(peerId, ok)) {
        user.follower = ok ? 'active' : null;
        drawCard();
      } else {
        approve.disabled = false;
        reject.disabled = false;
      }
    };
    approve.addEventListener('click', act(true));
    reject.addEventListener('click', act(false));
    return h('div', { class: 'request-box' }, h('span', { text: `${nameOf(peerId)} asked to follow you.` }), h('div', { class: 'person-actions' }, approve, reject));
  };

  const emptyPosts = () =>
    emptyState(
      h('p', {
        class: 'empty-title',
        text: self ? 'You have not posted yet.' : `No posts from ${nameOf(peerId)} on your node yet.`,
      }),
      self
        ? h('p', {}, h('a', { href: '/', text: 'Write your first post' }), ' on the home page.')
        : h('p', {
          class: 'muted',
          text: followState === 'active'
            ? 'Their posts arrive when their node is online.'
            : 'Your node keeps the posts of the people you follow. Follow them to see theirs.',
        }),
    );

  let posts = null;
  const postsWrap = h('div', { class: 'profile-posts' });
  const postsStatus = h('p', { class: 'list-status', role: 'status' });
  const loadPosts = async () => {
    const next = postList({
      id: 'user-posts',
      label: `Posts by ${nameOf(peerId)}`,
      load: (before) => endpoints.userPosts(peerId, before),
      empty: emptyPosts,
    });
    try {
      await next.start();
      postsStatus.textContent = '';
    } catch (err) {
      postsStatus.textContent = `The posts could not be loaded: ${friendlyError(err)}`;
    }
    if (!ctx.isCurrent()) return;
    posts = next;
    replaceChildren(postsWrap, next.element);
  };
  const reloadPosts = debounce(loadPosts, 300);

  drawCard();
  ctx.view.append(ctx.header(self ? 'Your profile' : displayName(user) || 'Profile', { back: !self }), card, h('h2', { class: 'section-title', text: 'Posts' }), postsStatus, postsWrap);
  await loadPosts();

  const refreshUser = debounce(async () => {
    try {
      const fresh = await endpoints.user(peerId);
      if (!ctx.isCurrent()) return;
      user = fresh;
      followState = fresh.following;
      if (displayName(fresh)) renameAuthor(peerId, displayName(fresh));
      drawCard();
    } catch {
      // keep what is shown
    }
  }, 250);

  return {
    onEvent(type, data) {
      if (type === 'post' && data.post && data.post.author === peerId && posts) {
        if (posts.ids.has(data.post.id)) updatePost(data.post);
        else posts.insert(data.post, { highlight: true });
      } else if (type === 'delete' && data.id && posts) {
        removePost(data.id);
        posts.forget(data.id);
      } else if (data.peer_id === peerId) {
        if (type === 'following') {
          followState = data.status === 'removed' ? null : data.status;
          if (followState !== 'requested') note.textContent = '';
          drawFollow();
          if (data.status === 'active') reloadPosts();
        } else if (type === 'peer_connected' || type === 'peer_disconnected') {
          user.connected = type === 'peer_connected';
          drawCard();
        } else if (type === 'follower' || type === 'follow_request' || type === 'profile') {
          refreshUser();
        }
      }
    },
    onPosted(post) {
      if (post.author === peerId && posts) posts.insert(post, { highlight: true });
    },
    onReconnect() {
      refreshUser();
      reloadPosts();
    },
    destroy() {
      refreshUser.cancel();
      reloadPosts.cancel();
    },
  };
}

// ---- /followers and /following -------------------------------------------------------------

export async function renderFollowers(ctx) {
  ctx.setTitle('Followers');
  const list = h('ul', { id: 'followers', class: 'people' });
  const wrap = h('section', { class: 'list-section', 'aria-label': 'Followers' }, list);
  const locked = Boolean(state.profile && state.profile.locked);
  const requests = requestsSection({ always: locked, onChange: () => load() });

  const load = async () => {
    const followers = await endpoints.followers();
    if (!ctx.isCurrent()) return;
    list.textContent = '';
    for (const empty of wrap.querySelectorAll('[data-test="empty"]')) empty.remove();
    if (!followers.length) {
      wrap.appendChild(
        emptyState(
          h('p', { class: 'empty-title', text: 'No followers yet.' }),
          h('p', { class: 'muted' }, 'Share your peer id from ', h('a', { href: userPath(state.self), text: 'your profile' }), ', or invite people from the ', h('a', { href: '/network', text: 'Network page' }), '.'),
        ),
      );
      return;
    }
    for (const f of followers) {
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-ghost', dataset: { action: 'remove-follower' }, text: 'Remove' });
      remove.setAttribute('aria-label', `Remove ${nameOf(f.peer_id, f.display_name)} from your followers`);
      const row = personRow(f.peer_id, f.display_name, { meta: `Follows you since ${shortDate(f.since_ms)}`, actions: [remove] });
      remove.addEventListener('click', () =>
        busy(remove, async () => {
          if (await decide(f.peer_id, false)) {
            row.remove();
            if (!list.children.length) load();
          }
        }),
      );
      list.appendChild(row);
    }
  };

  ctx.view.append(ctx.header('Followers'), listTabs('followers'), requests.element, wrap);
  await Promise.all([requests.load(), load()]);
  const reload = debounce(() => Promise.all([requests.load(), load()]).catch(() => {}), 300);
  return {
    onEvent(type) {
      if (type === 'follow_request' || type === 'follower') reload();
    },
    onReconnect: reload,
    destroy: reload.cancel,
  };
}

export async function renderFollowing(ctx) {
  ctx.setTitle('Following');
  const list = h('ul', { id: 'following', class: 'people' });
  const wrap = h('section', { class: 'list-section', 'aria-label': 'Following' }, list);

  const load = async () => {
    const following = await endpoints.following();
    if (!ctx.isCurrent()) return;
    list.textContent = '';
    for (const empty of wrap.querySelectorAll('[data-test="empty"]')) empty.remove();
    if (!following.length) {
      wrap.appendChild(
        emptyState(
          h('p', { class: 'empty-title', text: 'You do not follow anyone yet.' }),
          h('p', { class: 'muted' }, 'Find people on the ', h('a', { href: '/network', text: 'Network page' }), ', or follow someone by their peer id there.'),
        ),
      );
      return;
    }
    for (const f of following) {
      const requested = f.status === 'requested';
      const button = h('button', { type: 'button', class: 'btn btn-small btn-outline', dataset: { action: 'unfollow' }, text: requested ? 'Withdraw' : 'Unfollow' });
      button.setAttribute('aria-label', `${requested ? 'Withdraw your request to' : 'Unfollow'} ${nameOf(f.peer_id, f.display_name)}`);
      const meta = requested ? h('span', { class: 'chip', text: 'Requested' }) : `Since ${shortDate(f.since_ms)}`;
      const row = personRow(f.peer_id, f.display_name, { meta, actions: [button] });
      button.addEventListener('click', () =>
        busy(button, async () => {
          if (await unfollowPerson(f.peer_id, requested)) {
            row.remove();
            if (!list.children.length) load();
          }
        }),
      );
      list.appendChild(row);
    }
  };

  ctx.view.append(ctx.header('Following'), listTabs('following'), wrap);
  await load();
  const reload = debounce(() => load().catch(() => {}), 300);
  return {
    onEvent(type) {
      if (type === 'following') reload();
    },
    onReconnect: reload,
    destroy: reload.cancel,
  };
}
