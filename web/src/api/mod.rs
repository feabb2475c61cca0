//! The authenticated REST API under `/api/v1/`.
//!
//! Each feature module exports `routes()`; they are merged here behind the one auth middleware
//! ([`crate::auth::require_auth`]), which also covers the API's own JSON 404 fallback, so an
//! unauthenticated client learns nothing about which API paths exist.

mod blocks;
mod network;
mod node;
mod peers;

use axum::{Router, middleware};

use crate::{AppState, auth, error::ApiError};

/// Every `/api/v1/` route, to be nested under that prefix.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(node::routes())
        .merge(peers::routes())
        .merge(network::routes())
        .merge(blocks::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, auth::require_auth))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}
