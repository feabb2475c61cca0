//! The authenticated REST API under `/api/v1/`.
//!
//! Each feature module exports its rows of the endpoint table (`endpoints()`, with full paths)
//! and its part of the OpenAPI document (`Docs`). The router nests them under the prefix behind
//! the one auth middleware ([`crate::auth::require_auth`]), which also covers the API's own JSON
//! 404 fallback, so an unauthenticated client learns nothing about which API paths exist.
//!
//! Handlers are thin: they parse the request (through the `Api*` extractors, so that every
//! rejection is the API's JSON error), call one service method of `kith-node` and shape the
//! answer. The rules live in the services.

pub(crate) mod blocks;
pub(crate) mod devices;
pub(crate) mod events;
pub(crate) mod follows;
pub(crate) mod mutes;
pub(crate) mod network;
pub(crate) mod node;
pub(crate) mod notifications;
pub(crate) mod peers;
pub(crate) mod posts;
pub(crate) mod profile;
pub(crate) mod search;
pub(crate) mod session;
pub(crate) mod users;

use axum::{Router, middleware};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{AppState, auth, error::ApiError, router::Endpoint};

/// Every `/api/v1/` endpoint.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    [
        node::endpoints(),
        peers::endpoints(),
        network::endpoints(),
        blocks::endpoints(),
        mutes::endpoints(),
        posts::endpoints(),
        users::endpoints(),
        profile::endpoints(),
        follows::endpoints(),
        devices::endpoints(),
        events::endpoints(),
        notifications::endpoints(),
        search::endpoints(),
        session::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Puts the API's routes (relative to the prefix) behind authentication, with a JSON 404 for
/// unknown API paths (also behind authentication).
pub(crate) fn protect(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, auth::require_auth))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

/// The answer of a removal by key (unblock, unpair, unmute): `204` when something was removed,
/// else `404` with `missing`.
pub(crate) fn removed(
    found: bool,
    missing: impl FnOnce() -> String,
) -> Result<axum::http::StatusCode, ApiError> {
    if found {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(missing()))
    }
}

/// How many items a page holds when the client does not say.
pub(crate) const DEFAULT_PAGE_LIMIT: usize = 50;
/// The most items a page may hold (the social service's own bound).
pub(crate) const MAX_PAGE_LIMIT: usize = kith_node::MAX_PAGE;

/// The query of a paged list: `?limit=&before=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// How many posts at most (1 to 200; 50 when absent).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// The `next` cursor of the previous page; absent for the newest posts.
    before: Option<String>,
}

impl PageQuery {
    /// The checked limit: 400 for 0 or more than [`MAX_PAGE_LIMIT`].
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_LIMIT),
            Some(limit @ 1..) if limit <= MAX_PAGE_LIMIT as u64 => {
                // At most MAX_PAGE_LIMIT: fits any usize.
                Ok(usize::try_from(limit).unwrap_or(MAX_PAGE_LIMIT))
            }
            Some(limit) => Err(ApiError::invalid_request(format!(
                "limit must be between 1 and {MAX_PAGE_LIMIT}, not {limit}"
            ))),
        }
    }

    /// The cursor, if any (an empty `before=` counts as none).
    pub(crate) fn before(&self) -> Option<&str> {
        self.before.as_deref().filter(|cursor| !cursor.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<u64>) -> PageQuery {
        PageQuery {
            limit,
            before: None,
        }
    }

    #[test]
    fn page_limits() {
        assert_eq!(query(None).limit().unwrap(), DEFAULT_PAGE_LIMIT);
        assert_eq!(query(Some(1)).limit().unwrap(), 1);
        assert_eq!(query(Some(200)).limit().unwrap(), 200);
        for bad in [0, 201, u64::MAX] {
            let error = query(Some(bad)).limit().unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn an_empty_cursor_is_none() {
        let page = PageQuery {
            limit: None,
            before: Some(String::new()),
        };
        assert_eq!(page.before(), None);
        let page = PageQuery {
            limit: None,
            before: Some("abc".to_owned()),
        };
        assert_eq!(page.before(), Some("abc"));
    }
}
