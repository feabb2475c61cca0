// The node's HTTP API as the browser uses it: same origin, the session cookie, a CSRF token on
// every write, JSON errors turned into `ApiError`s, and a 401 anywhere sends the person to /login.

let csrfToken = null;

/** An error answer of the API (`{"error":{"code","message"}}`), or a network failure. */
export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** Redirects to the login page (once) and returns a promise that never settles. */
function toLogin() {
  if (!toLogin.done) {
    toLogin.done = true;
    window.location.assign('/login');
  }
  return new Promise(() => {});
}

async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (cause) {
    throw new ApiError(0, 'network', 'Your node cannot be reached. Is it still running?', cause);
  }
}

/** Loads the session's CSRF token (`GET /api/v1/session`). */
export async function startSession() {
  const res = await send('GET', '/api/v1/session');
  if (res.status === 401) return toLogin();
  const data = await readBody(res);
  if (!res.ok || !data || typeof data.csrf_token !== 'string') {
    throw errorFrom(res.status, data);
  }
  csrfToken = data.csrf_token;
  return csrfToken;
}

function errorFrom(status, data) {
  const err = data && typeof data === 'object' && data.error ? data.error : null;
  const code = (err && err.code) || (status >= 500 ? 'internal-error' : 'invalid-request');
  const message = (err && err.message) || `The node answered ${status}`;
  return new ApiError(status, code, message, data);
}

/**
 * Calls the API and returns the parsed JSON (null for 204). Throws `ApiError` on an error
 * answer. A write refused for its CSRF token fetches a fresh token and tries once more.
 */
export async function api(method, path, body) {
  let res = await send(method, path, body);
  if (res.status === 401) return toLogin();
  if (res.status === 403 && method !== 'GET') {
    const data = await readBody(res);
    const message = data && data.error && data.error.message ? data.error.message : '';
    if (!/csrf/i.test(message)) throw errorFrom(res.status, data);
    await startSession();
    res = await send(method, path, body);
    if (res.status === 401) return toLogin();
  }
  const data = await readBody(res);
  if (!res.ok) throw errorFrom(res.status, data);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/** Builds a query string from the defined values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** `DELETE /api/v1/session`, then the login page (also when the node is gone). */
export async function logout() {
  try {
    await send('DELETE', '/api/v1/session');
  } finally {
    toLogin.done = true;
    window.location.assign('/login');
  }
}

const pid = (peerId) => encodeURIComponent(peerId);

/** The endpoints, by name. */
export const endpoints = {
  node: () => get('/api/v1/node'),
  peers: () => get('/api/v1/peers'),
  addPeer: (addr) => post('/api/v1/peers', { addr }),
  invite: () => get('/api/v1/network/invite'),
  join: (invite, replace) => post('/api/v1/network/join', replace ? { invite, replace: true } : { invite }),
  blocks: () => get('/api/v1/blocks'),
  block: (peerId, reason) => post('/api/v1/blocks', reason ? { peer_id: peerId, reason } : { peer_id: peerId }),
  unblock: (peerId) => del(`/api/v1/blocks/${pid(peerId)}`),
  // Mutes.
  mutes: () => get('/api/v1/mutes'),
  mute: (peerId) => put(`/api/v1/mutes/${pid(peerId)}`),
  unmute: (peerId) => del(`/api/v1/mutes/${pid(peerId)}`),
  createPost: (body) => post('/api/v1/posts', body),
  post: (id) => get(`/api/v1/posts/${encodeURIComponent(id)}`),
  replies: (id, before, limit = 50) => get(`/api/v1/posts/${encodeURIComponent(id)}/replies${query({ limit, before })}`),
  deletePost: (id) => del(`/api/v1/posts/${encodeURIComponent(id)}`),
  like: (id) => post(`/api/v1/posts/${encodeURIComponent(id)}/like`),
  timeline: (before, limit = 50) => get(`/api/v1/timeline${query({ limit, before })}`),
  user: (peerId) => get(`/api/v1/users/${pid(peerId)}`),
  userPosts: (peerId, before, limit = 50) => get(`/api/v1/users/${pid(peerId)}/posts${query({ limit, before })}`),
  profile: () => get('/api/v1/profile'),
  updateProfile: (update) => put('/api/v1/profile', update),
  follow: (peerId) => post(`/api/v1/follows/${pid(peerId)}`),
  unfollow: (peerId) => del(`/api/v1/follows/${pid(peerId)}`),
  following: () => get('/api/v1/following'),
  followers: () => get('/api/v1/followers'),
  requests: () => get('/api/v1/follows/requests'),
  approve: (peerId) => post(`/api/v1/follows/requests/${pid(peerId)}/approve`),
  reject: (peerId) => post(`/api/v1/follows/requests/${pid(peerId)}/reject`),
  devices: () => get('/api/v1/devices'),
  pair: (peerId) => put(`/api/v1/devices/${pid(peerId)}`),
  unpair: (peerId) => del(`/api/v1/devices/${pid(peerId)}`),
  notifications: (before, limit = 30) => get(`/api/v1/notifications${query({ limit, before })}`),
};

// ---- friendly messages ---------------------------------------------------------------------

const FIELD_NAMES = { text: 'post', bio: 'bio', display_name: 'display name', avatar: 'picture reference', reason: 'note' };
const fmt = new Intl.NumberFormat('en-US');

/**
 * Turns an error into a sentence for people. `context` may name what was being done
 * (`{action: 'follow', name: 'Grace'}`) to make the sentence more precise.
 */
export function friendlyError(err, context = {}) {
  if (!(err instanceof ApiError)) return 'Something went wrong in this page. Reload it and try again.';
  const msg = err.message || '';
  const tooLong = /^invalid ([a-z_]+): (\d+) characters, at most (\d+) allowed/.exec(msg);
  if (tooLong) {
    const field = FIELD_NAMES[tooLong[1]] || tooLong[1].replace(/_/g, ' ');
    return `Your ${field} is too long (${fmt.format(Number(tooLong[2]))} / ${fmt.format(Number(tooLong[3]))} characters)`;
  }
  if (/^invalid text/.test(msg) && /empty/.test(msg)) return 'Your post is empty.';
  if (/peer.?id/i.test(msg) && /invalid|expected/i.test(msg) && err.code === 'invalid-request' && !/yourself|itself/.test(msg)) {
    return context.badId || 'That is not a valid peer id.';
  }
  switch (err.code) {
    case 'network':
      return msg;
    case 'unavailable':
      if (context.name && context.action) {
        return `${context.name}'s node is offline right now; your ${context.action} will be sent when it is back`;
      }
      return /shut/i.test(msg) ? 'Your node is shutting down.' : `Not available right now: ${msg}`;
    case 'timeout':
      return context.name
        ? `${context.name}'s node took too long to answer. Try again in a moment.`
        : 'Your node took too long to answer. Try again in a moment.';
    case 'not-found':
      return context.notFound || 'That is not stored on your node (it may have been deleted).';
    case 'forbidden':
      return sentence(msg);
    case 'rate-limited':
      return 'Slow down a little and try again in a moment.';
    case 'internal-error':
      return 'Something went wrong on your node. Its log has the details.';
    case 'quota-exceeded':
      return `That is too big: ${msg}`;
    default:
      if (/^invalid path/.test(msg)) return context.badId || 'That does not look like a valid id.';
      return sentence(msg.replace(/^invalid request body: /, 'Invalid request: '));
  }
}

function sentence(s) {
  if (!s) return 'Something went wrong.';
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}

/** The post length limit an error tells, if it tells one. */
export function limitFromError(err) {
  const m = err instanceof ApiError ? /invalid text: \d+ characters, at most (\d+) allowed/.exec(err.message) : null;
  return m ? Number(m[1]) : null;
}
