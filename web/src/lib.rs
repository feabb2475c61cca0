//! kith-web: the node's local HTTP API, an axum router over the node's services.
//!
//! # Brief overview
//!
//! - [`AppState`] is what every handler can reach: the node's
//!   [`NetworkService`](kith_node::NetworkService) and
//!   [`SocialService`](kith_node::SocialService), the API token, the browser sessions and the
//!   password login, the metrics registry and the token that ends event streams. It is a cheap clone, built with [`AppState::new`] from a
//!   running [`Node`](kith_node::Node).
//! - [`router`] builds the whole [`axum::Router`] from one table of endpoints (method, path,
//!   handler): the unauthenticated probes (`/healthz`, `/readyz`, `/metrics`), the OpenAPI
//!   document (`/api/openapi.json`, generated from the handlers' annotations with utoipa) and the
//!   REST API under `/api/v1/` (node, peers, network, blocks, mutes, posts, replies, timeline,
//!   users, profile, follows, devices, notifications, search, session, and the server-sent event
//!   stream `/api/v1/events`), behind one auth middleware (bearer token or session cookie with
//!   its CSRF checks, module `auth`), plus the browser UI embedded from `client/ui/` and its
//!   login (module `ui`). Tests drive it directly with `tower::ServiceExt::oneshot`.
//! - [`serve`] runs the router on a bound listener (with `TCP_NODELAY`) until a cancellation
//!   token fires, then ends the event streams and shuts down gracefully.
//!
//! A request flows: trace span → 10 s deadline (to the response's head; a stream's body runs
//! on) → body limit (64 KiB) → routing → (under `/api/v1/`) credentials check → handler →
//! service in `kith-node`. Every failure on that path,
//! including the router's own 404 and 405 and every extractor rejection, is answered by the one
//! error type (module `error`) as `{"error":{"code","message"}}`, with the status picked from the
//! wire [`ErrorCode`](kith_protocols::ErrorCode) by one table:
//!
//! | code | status |
//! |---|---|
//! | `not-found` | 404 |
//! | `unauthorized` | 401 (with `WWW-Authenticate: Bearer`) |
//! | `forbidden` | 403 |
//! | `quota-exceeded` | 413 (the same request will never fit; 429 would invite a retry) |
//! | `rate-limited` | 429 (with `Retry-After` when known) |
//! | `timeout` | 504 |
//! | `invalid-request` | 400; 405 for a wrong method and 413 for a body over 64 KiB |
//! | `internal-error` | 500 (generic message; the detail is logged) |
//! | `unavailable` | 503 |

#![deny(missing_docs)]

mod api;
mod auth;
mod error;
mod extract;
mod health;
mod metrics;
mod openapi;
mod router;
mod server;
mod session;
mod state;
#[cfg(test)]
mod tests;
mod ui;

pub use router::{MAX_BODY_BYTES, REQUEST_TIMEOUT, router};
pub use server::serve;
pub use state::AppState;
