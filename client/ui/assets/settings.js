// Settings: the owner's profile, paired devices, blocked peers, muted people, and logging out.

import { endpoints, friendlyError, logout } from './api.js';
import { busy, charCount, emptyState, fmtNumber, h, rememberName, replaceChildren, shortDate, toast } from './dom.js';
import { renameAuthor } from './posts.js';
import { state } from './state.js';
import { personRow } from './people.js';

const NAME_MAX = 64;
const BIO_MAX = 500;

function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', { class: 'card-title', text: title }), ...children);
}

function counter(input, max) {
  const el = h('span', { class: 'field-count', 'aria-live': 'off' });
  const update = () => {
    const n = charCount(input.value);
    el.textContent = `${fmtNumber(n)} / ${fmtNumber(max)}`;
    el.classList.toggle('over', n > max);
  };
  input.addEventListener('input', update);
  update();
  return { el, update };
}

function profileForm(profile) {
  const name = h('input', { id: 'settings-name', type: 'text', autocomplete: 'nickname', placeholder: 'How others see you' });
  const bio = h('textarea', { id: 'settings-bio', rows: 4, placeholder: 'A few words about you' });
  const locked = h('input', { id: 'settings-locked', type: 'checkbox' });
  const save = h('button', { type: 'submit', id: 'settings-save', class: 'btn btn-primary', text: 'Save profile' });
  const result = h('p', { class: 'form-result', role: 'status' });
  const fill = (p) => {
    name.value = p.display_name || '';
    bio.value = p.bio || '';
    locked.checked = Boolean(p.locked);
  };
  fill(profile);
  const nameCount = counter(name, NAME_MAX);
  const bioCount = counter(bio, BIO_MAX);

  const form = h(
    'form',
    { class: 'settings-form', novalidate: true },
    h('div', { class: 'field' }, h('div', { class: 'field-head' }, h('label', { for: 'settings-name', text: 'Display name' }), nameCount.el), name),
    h('div', { class: 'field' }, h('div', { class: 'field-head' }, h('label', { for: 'settings-bio', text: 'Bio' }), bioCount.el), bio),
    h(
      'div',
      { class: 'field field-check' },
      locked,
      h('label', { for: 'settings-locked' }, h('strong', { text: 'Locked account' }), h('span', { class: 'hint', text: 'You approve each follower. Your posts and full profile go to approved followers only. Unlocking approves every waiting request.' })),
    ),
    h('div', { class: 'form-row' }, save),
    result,
  );

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const current = state.profile || {};
    const update = {};
    if (name.value !== (current.display_name || '')) update.display_name = name.value;
    if (bio.value !== (current.bio || '')) update.bio = bio.value;
    if (locked.checked !== Boolean(current.locked)) update.locked = locked.checked;
    if (!Object.keys(update).length) {
      result.className = 'form-result';
      result.textContent = 'Nothing changed.';
      return;
    }
    busy(save, async () => {
      try {
        const saved = await endpoints.updateProfile(update);
        state.profile = saved;
        fill(saved);
        nameCount.update();
        bioCount.update();
        rememberName(state.self, saved.display_name);
        renameAuthor(state.self, saved.display_name);
        result.className = 'form-result ok';
        result.textContent = 'Saved. Your followers get the new version.';
        toast('Profile saved');
      } catch (err) {
        result.className = 'form-result error';
        result.textContent = friendlyError(err);
      }
    });
  });
  return form;
}

/** A list of peers with one action each, plus a form to add one. */
function peerListCard({ title, intro, listId, emptyText, load, rowMeta, rowName = () => null, action, form }) {
  const list = h('ul', { id: listId, class: 'people' });
  const emptyHolder = h('div');
  const status = h('p', { class: 'list-status', role: 'status' });
  const reload = async () => {
    try {
      const items = await load();
      replaceChildren(
        list,
        ...items.map((item) => {
          const button = h('button', { type: 'button', class: 'btn btn-small btn-outline', dataset: { action: action.name }, text: action.label });
          button.setAttribute('aria-label', `${action.label} ${item.peer_id}`);
          const row = personRow(item.peer_id, rowName(item), { meta: rowMeta(item), actions: [button] });
          button.addEventListener('click', () =>
            busy(button, async () => {
              try {
                await action.run(item.peer_id);
                toast(action.done);
              } catch (err) {
                if (err.code !== 'not-found') {
                  toast(friendlyError(err), 'error');
                  return;
                }
              }
              await reload();
            }),
          );
          return row;
        }),
      );
      replaceChildren(emptyHolder, items.length ? null : emptyState(h('p', { class: 'muted', text: emptyText })));
      status.textContent = '';
    } catch (err) {
      status.textContent = friendlyError(err);
    }
  };
  const element = card(title, h('p', { class: 'muted', text: intro }), emptyHolder, list, status, form(reload));
  return { element, reload };
}

function addForm({ fields, buttonId, buttonText, run }) {
  const button = h('button', { type: 'submit', id: buttonId, class: 'btn btn-primary', text: buttonText });
  const result = h('p', { class: 'form-result', role: 'status' });
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true },
    fields.map(({ input, label }) => h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input)),
    h('div', { class: 'form-row' }, button),
    result,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const first = fields[0].input;
    if (!first.value.trim()) {
      result.className = 'form-result error';
      result.textContent = `Enter a ${fields[0].label.toLowerCase()} first.`;
      first.focus();
      return;
    }
    busy(button, async () => {
      try {
        const message = await run();
        for (const f of fields) f.input.value = '';
        result.className = 'form-result ok';
        result.textContent = message;
        setTimeout(() => {
          if (result.textContent === message) result.textContent = '';
        }, 6000);
      } catch (err) {
        result.className = 'form-result error';
        result.textContent = friendlyError(err, { badId: 'That is not a valid peer id.' });
      }
    });
  });
  return form;
}

const peerInput = (id) => h('input', { id, type: 'text', class: 'mono', placeholder: '12D3KooW…', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });

export async function render(ctx) {
  ctx.setTitle('Settings');
  const profile = await endpoints.profile();
  state.profile = profile;
  if (!ctx.isCurrent()) return {};

  const devices = peerListCard({
    title: 'Paired devices',
    intro: 'Your other nodes that may read your home timeline and act for you on private routes. Pair only machines you own.',
    listId: 'devices',
    emptyText: 'No devices paired.',
    load: () => endpoints.devices(),
    rowMeta: (d) => `Paired ${shortDate(d.since_ms)}`,
    action: { name: 'unpair', label: 'Unpair', done: 'Device unpaired', run: (id) => endpoints.unpair(id) },
    form: (reload) => {
      const input = peerInput('device-peer-id');
      return addForm({
        fields: [{ input, label: 'Peer id of the device' }],
        buttonId: 'device-submit',
        buttonText: 'Pair device',
        run: async () => {
          await endpoints.pair(input.value.trim());
          await reload();
          return 'Device paired.';
        },
      });
    },
  });

  const blocks = peerListCard({
    title: 'Blocked peers',
    intro: 'A blocked peer is never dialed, and its connections are refused both ways.',
    listId: 'blocks',
    emptyText: 'You have not blocked anyone.',
    load: () => endpoints.blocks(),
    rowMeta: (b) => (b.reason ? `Blocked ${shortDate(b.since_ms)}: ${b.reason}` : `Blocked ${shortDate(b.since_ms)}`),
    action: { name: 'unblock', label: 'Unblock', done: 'Unblocked', run: (id) => endpoints.unblock(id) },
    form: (reload) => {
      const input = peerInput('block-peer-id');
      const reason = h('input', { id: 'block-reason', type: 'text', placeholder: 'Optional, for your own notes', autocomplete: 'off' });
      return addForm({
        fields: [{ input, label: 'Peer id' }, { input: reason, label: 'Reason' }],
        buttonId: 'block-submit',
        buttonText: 'Block',
        run: async () => {
          await endpoints.block(input.value.trim(), reason.value.trim() || null);
          await reload();
          return 'Blocked.';
        },
      });
    },
  });

  const mutes = peerListCard({
    title: 'Muted people',
    intro: 'Their posts and notifications stay out of your home timeline, and they are not told. You still follow them, and their profile page still shows their posts.',
    listId: 'mutes',
    emptyText: 'You have not muted anyone.',
    load: () => endpoints.mutes(),
    rowName: (m) => m.name || null,
    rowMeta: (m) => `Muted ${shortDate(m.since_ms)}`,
    action: { name: 'unmute', label: 'Unmute', done: 'Unmuted', run: (id) => endpoints.unmute(id) },
    form: (reload) => {
      const input = peerInput('mute-peer-id');
      return addForm({
        fields: [{ input, label: 'Peer id' }],
        buttonId: 'mute-submit',
        buttonText: 'Mute',
        run: async () => {
          await endpoints.mute(input.value.trim());
          await reload();
          return 'Muted.';
        },
      });
    },
  });

  const logoutButton = h('button', { type: 'button', id: 'logout', class: 'btn btn-outline', dataset: { action: 'logout' }, text: 'Log out' });
  logoutButton.addEventListener('click', () => logout());
  const node = state.node || {};

  ctx.view.append(
    ctx.header('Settings'),
    card('Profile', h('p', { class: 'muted', text: 'How others see you. Changes are signed by your node and sent to your followers.' }), profileForm(profile)),
    devices.element,
    blocks.element,
    mutes.element,
    card('Session', h('p', { class: 'muted', text: 'Log out of this browser. Open a new login link from your node (kith login) to come back.' }), logoutButton),
    h('p', { class: 'about muted', text: `Kith ${node.version || ''} · the theme follows your system's light or dark setting.` }),
  );
  await Promise.all([devices.reload(), blocks.reload(), mutes.reload()]);

  return {};
}
