// What every module needs to know about this node and session, in one shared object, so that
// modules can read it without importing each other in circles.

const LIMIT_KEY = 'kith.maxPostChars';

function storedLimit() {
  try {
    const n = Number(localStorage.getItem(LIMIT_KEY));
    return Number.isInteger(n) && n > 0 ? n : 1000;
  } catch {
    return 1000;
  }
}

export const state = {
  /** The node's peer id (the owner), from `GET /api/v1/node`. */
  self: null,
  /** The whole `GET /api/v1/node` answer. */
  node: null,
  /** The owner's profile (`GET /api/v1/profile`). */
  profile: null,
  /** The post length limit in characters (1000 unless the node said otherwise). */
  postLimit: storedLimit(),
  /** Posts the owner liked during this visit (until every PostView carries `liked`). */
  liked: new Set(),
  /** Set by the router: navigate(path) without a page load. */
  navigate: (path) => window.location.assign(path),
};

/** Adopts a new post length limit learned from the node, and tells the open compose boxes. */
export function setPostLimit(limit) {
  if (!Number.isInteger(limit) || limit <= 0 || limit === state.postLimit) return;
  state.postLimit = limit;
  try {
    localStorage.setItem(LIMIT_KEY, String(limit));
  } catch {
    // storage may be disabled; the limit then lasts for this visit
  }
  document.dispatchEvent(new CustomEvent('kith:limit', { detail: limit }));
}

/** The URL path of a person's page. */
export const userPath = (peerId) => `/users/${encodeURIComponent(peerId)}`;
/** The URL path of a post's page. */
export const postPath = (id) => `/posts/${encodeURIComponent(id)}`;
