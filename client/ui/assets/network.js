// The network page: who this node is, its invite code, the peers it knows (live), and the
// ways to reach out: connect to an address, follow by peer id, join a network by invite.

import { endpoints, friendlyError } from './api.js';
import { busy, copyField, emptyState, h, nameOf, rememberName, replaceChildren, shortId } from './dom.js';
import { state, userPath } from './state.js';
import { followPerson, personRow } from './people.js';

function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', { class: 'card-title', text: title }), ...children);
}

function field(label, input, hint) {
  const id = input.id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hint ? h('p', { class: 'hint', text: hint }) : null);
}

/** A form with one text field and a button; `run(value)` returns a message or throws. */
function oneFieldForm({ inputId, buttonId, label, placeholder, buttonText, hint, multiline = false, run }) {
  const input = multiline
    ? h('textarea', { id: inputId, class: 'mono', rows: 2, placeholder, autocomplete: 'off', spellcheck: 'false' })
    : h('input', { id: inputId, type: 'text', class: 'mono', placeholder, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });
  const button = h('button', { type: 'submit', id: buttonId, class: 'btn btn-primary', text: buttonText });
  const result = h('div', { class: 'form-result', role: 'status' });
  const form = h('form', { class: 'inline-form', novalidate: true }, field(label, input, hint), h('div', { class: 'form-row' }, button), result);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      result.className = 'form-result error';
      result.textContent = `Enter ${label.toLowerCase()} first.`;
      input.focus();
      return;
    }
    busy(button, async () => {
      result.className = 'form-result';
      result.textContent = '';
      try {
        const out = await run(value, { input, result });
        if (out) {
          replaceChildren(result, out);
          result.className = 'form-result ok';
        }
      } catch (err) {
        result.className = 'form-result error';
        result.textContent = err instanceof FormError ? err.message : friendlyError(err, { badId: 'That is not a valid peer id.' });
      }
    });
  });
  return form;
}

/** An error whose message is already written for people. */
class FormError extends Error {}

/** Names for the peer list, from the follow lists (which carry display names). */
let namesLearned = false;
async function learnNames() {
  if (namesLearned) return;
  namesLearned = true;
  const lists = await Promise.allSettled([endpoints.following(), endpoints.followers()]);
  for (const r of lists) {
    if (r.status === 'fulfilled' && Array.isArray(r.value)) for (const f of r.value) rememberName(f.peer_id, f.display_name);
  }
}

/** What each reachability status means for the owner, and what to do about it. */
const REACH_TEXT = {
  public: { title: 'Reachable directly', help: 'Other members can connect to this node directly.' },
  mapped: { title: 'Reachable through your router', help: 'Your router forwards a port to this node (UPnP).' },
  relayed: { title: 'Reachable through a relay', help: 'This node is behind a router that others cannot dial, so they reach it through a relay. Posts and messages still arrive; where both routers allow it, connections are upgraded to direct ones.' },
  unknown: { title: 'Not known yet', help: 'Nothing has confirmed that other members can reach this node. If this stays so, ask a friend with a public address to run “kith run --relay”, or forward TCP port 4001 on your router to this machine and start the node with --external-address.' },
};

function reachSection(reach) {
  const r = reach || { status: 'unknown', reason: '', relays: [], external_addrs: [] };
  const text = REACH_TEXT[r.status] || REACH_TEXT.unknown;
  const facts = [h('dt', { text: 'Status' }), h('dd', { id: 'reach-status', 'data-status': r.status, text: text.title })];
  if (r.reason) facts.push(h('dt', { text: 'Why' }), h('dd', { id: 'reach-reason', text: r.reason }));
  if (r.relays && r.relays.length) facts.push(h('dt', { text: 'Relays' }), h('dd', {}, h('ul', { class: 'addr-list mono' }, r.relays.map((p) => h('li', { text: p })))));
  if (r.external_addrs && r.external_addrs.length) facts.push(h('dt', { text: 'Reached at' }), h('dd', {}, h('ul', { class: 'addr-list mono' }, r.external_addrs.map((a) => h('li', { text: a })))));
  return section('How others reach you', h('p', { class: 'muted', id: 'reach-help', text: text.help }), h('dl', { class: 'facts' }, ...facts));
}

const CONNECTION_TEXT = { direct: 'Connected', relayed: 'Connected through a relay', none: 'Not connected' };

function peerRow(p) {
  const meta = [];
  const kind = p.connection || (p.connected ? 'direct' : 'none');
  meta.push(h('span', { class: `status-dot ${p.connected ? 'on' : ''}`, 'aria-hidden': 'true' }));
  meta.push(h('span', { class: 'peer-state', 'data-connection': kind, text: CONNECTION_TEXT[kind] || CONNECTION_TEXT.none }));
  meta.push(h('span', { class: 'chip', title: 'How it was found', text: p.source || 'unknown' }));
  if (p.role) meta.push(h('span', { class: 'chip', text: p.role }));
  if (p.connected && Number.isFinite(p.rtt_ms)) meta.push(h('span', { class: 'muted', text: `${p.rtt_ms} ms` }));
  if (p.rejected) meta.push(h('span', { class: 'peer-problem', text: `Refused: ${p.rejected}` }));
  else if (!p.connected && p.last_failure) meta.push(h('span', { class: 'peer-problem', text: `Last try failed: ${p.last_failure}` }));
  const row = personRow(p.peer_id, null, { meta, cls: p.connected ? 'peer-connected' : 'peer-offline' });
  row.dataset.connected = p.connected ? 'true' : 'false';
  return row;
}

export async function render(ctx) {
  ctx.setTitle('Network');
  namesLearned = false;
  const node = await endpoints.node();
  state.node = node;
  if (!ctx.isCurrent()) return {};

  // This node.
  const addrs = node.listen_addrs || [];
  const about = section(
    'This node',
    h('div', { class: 'field' }, h('span', { class: 'label', text: 'Your peer id' }), copyField({ id: 'node-peer-id', value: node.peer_id, label: 'Peer id' }), h('p', { class: 'hint', text: 'Others follow you by this id.' })),
    h(
      'dl',
      { class: 'facts' },
      h('dt', { text: 'Network' }),
      h('dd', { class: 'mono', id: 'network-id', text: node.network || '—' }),
      h('dt', { text: 'Role' }),
      h('dd', { text: node.role || '—' }),
      h('dt', { text: 'Version' }),
      h('dd', { text: node.version || '—' }),
      h('dt', { text: 'Listening on' }),
      h('dd', {}, addrs.length ? h('ul', { class: 'addr-list mono' }, addrs.map((a) => h('li', { text: a }))) : 'nothing yet'),
    ),
  );

  // The invite code.
  const inviteBody = h('div');
  const invite = section(
    'Invite someone',
    h('p', { class: 'muted', text: 'Anyone with this code can join your network: share it only with people you invite. They run “kith join CODE”, or paste it on their Network page.' }),
    inviteBody,
  );
  const loadInvite = async () => {
    try {
      const inv = await endpoints.invite();
      replaceChildren(
        inviteBody,
        copyField({ id: 'invite-code', value: inv.invite, label: 'Invite code', multiline: true }),
        inv.addrs && inv.addrs.length
          ? h('details', { class: 'details' }, h('summary', { text: `Addresses inside (${inv.addrs.length})` }), h('ul', { class: 'addr-list mono' }, inv.addrs.map((a) => h('li', { text: a }))))
          : null,
      );
    } catch (err) {
      replaceChildren(inviteBody, h('p', { class: 'form-result error', text: `No invite code: ${friendlyError(err)}` }));
    }
  };

  // Peers.
  const peers = h('ul', { id: 'peers', class: 'people peers' });
  const peersTitle = h('h2', { class: 'card-title', text: 'Peers' });
  const peersEmpty = h('div');
  const connect = oneFieldForm({
    inputId: 'connect-addr',
    buttonId: 'connect-submit',
    label: 'Connect by address',
    placeholder: '/ip4/192.168.1.21/tcp/4001/p2p/12D3KooW…',
    buttonText: 'Connect',
    hint: 'A TCP multiaddr, with or without /p2p/PEER_ID.',
    run: async (addr, { input }) => {
      const res = await endpoints.addPeer(addr);
      input.value = '';
      reloadPeers();
      return res && res.peer_id ? `Connecting to ${shortId(res.peer_id)}… it shows up in the list once verified.` : 'Connecting… the peer shows up in the list once verified.';
    },
  });
  const peersCard = h('section', { class: 'card' }, peersTitle, peersEmpty, peers, connect);
  const loadPeers = async () => {
    const [list] = await Promise.all([endpoints.peers(), learnNames()]);
    if (!ctx.isCurrent()) return;
    const others = list.filter((p) => p.peer_id !== node.peer_id);
    const connected = others.filter((p) => p.connected).length;
    peersTitle.textContent = `Peers (${connected} connected, ${others.length} known)`;
    replaceChildren(peers, ...others.map(peerRow));
    replaceChildren(
      peersEmpty,
      others.length
        ? null
        : emptyState(h('p', { class: 'empty-title', text: 'No other nodes found yet.' }), h('p', { class: 'muted', text: 'Share your invite code, or connect by address below. Nodes on your local network find each other on their own.' })),
    );
  };
  let peersTimer = null;
  const reloadPeers = () => {
    clearTimeout(peersTimer);
    peersTimer = setTimeout(() => loadPeers().catch(() => {}), 300);
  };

  // Follow by peer id.
  const follow = section(
    'Follow someone',
    oneFieldForm({
      inputId: 'follow-peer-id',
      buttonId: 'follow-submit',
      label: 'Peer id',
      placeholder: '12D3KooW…',
      buttonText: 'Follow',
      hint: 'Ask them for the peer id shown on their profile or Network page.',
      run: async (peerId, { input }) => {
        if (peerId === node.peer_id) throw new FormError('That is your own peer id: you cannot follow yourself.');
        let user = null;
        try {
          user = await endpoints.user(peerId);
        } catch (err) {
          if (err.code === 'invalid-request') throw err;
        }
        const res = await followPerson(peerId, user);
        if (res.error) throw new FormError(res.error);
        input.value = '';
        return [res.note, ' ', h('a', { href: userPath(peerId), text: `Open ${nameOf(peerId)}'s profile` })];
      },
    }),
  );

  // Join a network by invite.
  const joinResult = h('div', { class: 'form-result', role: 'status' });
  const joinInput = h('textarea', { id: 'join-invite', class: 'mono', rows: 2, placeholder: 'kith1…', autocomplete: 'off', spellcheck: 'false' });
  const joinButton = h('button', { type: 'submit', id: 'join-submit', class: 'btn btn-primary', text: 'Join' });
  const joinForm = h('form', { class: 'inline-form', novalidate: true }, field('Invite code', joinInput, 'An invite code from someone on the network you want to join.'), h('div', { class: 'form-row' }, joinButton), joinResult);
  const joined = (res) => {
    joinInput.value = '';
    joinResult.className = 'form-result ok';
    if (res.restart_required) joinResult.textContent = 'Restart your node to switch networks.';
    else if (res.same_network) joinResult.textContent = `You are already on this network. Connecting to ${res.dialed} ${res.dialed === 1 ? 'peer' : 'peers'} from the invite.`;
    else joinResult.textContent = `Joined. Connecting to ${res.dialed} ${res.dialed === 1 ? 'peer' : 'peers'}.`;
    reloadPeers();
  };
  const join = async (invite, replace) => {
    joinResult.className = 'form-result';
    joinResult.textContent = '';
    try {
      joined(await endpoints.join(invite, replace));
    } catch (err) {
      if (err.code === 'conflict' || err.status === 409) {
        const confirm = h('button', { type: 'button', id: 'join-replace', class: 'btn btn-danger', text: 'Switch networks' });
        const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel' });
        confirm.addEventListener('click', () => busy(confirm, () => join(invite, true)));
        cancel.addEventListener('click', () => {
          joinResult.textContent = '';
          joinResult.className = 'form-result';
        });
        joinResult.className = 'form-result warn';
        replaceChildren(
          joinResult,
          h('p', { text: 'This invite is for another network. Switching leaves your current network: the people on it will not reach you any more, and your node needs a restart.' }),
          err.message ? h('p', { class: 'muted', text: err.message }) : null,
          h('div', { class: 'form-row' }, confirm, cancel),
        );
      } else {
        joinResult.className = 'form-result error';
        joinResult.textContent = friendlyError(err);
      }
    }
  };
  joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const invite = joinInput.value.trim();
    if (!invite) {
      joinResult.className = 'form-result error';
      joinResult.textContent = 'Paste an invite code first.';
      joinInput.focus();
      return;
    }
    busy(joinButton, () => join(invite, false));
  });
  const joinCard = section('Join a network', joinForm);

  ctx.view.append(ctx.header('Network'), about, reachSection(node.reachability), invite, peersCard, follow, joinCard);
  await Promise.all([loadInvite(), loadPeers()]);

  return {
    onEvent(type) {
      if (type === 'peer_connected' || type === 'peer_disconnected' || type === 'profile') reloadPeers();
    },
    onReconnect: reloadPeers,
    destroy() {
      clearTimeout(peersTimer);
    },
  };
}
