//! `GET /api/v1/search?q=&limit=`: the people and posts this node knows that match a query.
//!
//! The rules (what matches, the order, the bound on the post scan) are the social service's
//! (`SocialService::search`); this handler reads the query string and runs the search on the
//! blocking pool, since it may read up to 20,000 posts from the store.

use axum::extract::State;
use kith_node::DEFAULT_SEARCH_LIMIT;
use kith_protocols::{ApiErrorBody, SearchResults};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiQuery},
    router::{Endpoint, Verb},
};

/// `/search`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Verb::Get, "/api/v1/search", search)]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(search))]
pub(crate) struct Docs;

/// The query of a search: `?q=&limit=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// What to look for: 1 to 100 characters once trimmed.
    #[param(min_length = 1, max_length = 100)]
    q: Option<String>,
    /// How many people, and how many posts, at most (1 to 50; 20 when absent).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u64>,
}

/// People and posts that match a query.
///
/// People: everyone this node knows a profile or node summary of, or a follow relation with,
/// whose display name contains every word of `q` (ignoring case), or whose peer id starts with
/// `q` (or contains it, from 6 characters on); a whole peer id comes first, then people the
/// owner follows, then others. Posts: those on the home timeline (the owner's and followees')
/// whose text contains every word of `q`, ignoring case, newest first. The search examines the
/// newest 20,000 posts; `posts_truncated` says it stopped there before the oldest.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "The matching people and posts", body = SearchResults),
        (status = 400, description = "An empty or too long query, or a bad limit", body = ApiErrorBody),
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<ApiJson<SearchResults>, ApiError> {
    // Out of range (including too large for usize) is the service's 400 to give.
    let limit = query.limit.map_or(DEFAULT_SEARCH_LIMIT, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    let text = query.q.unwrap_or_default();
    let social = state.social.clone();
    let results = tokio::task::spawn_blocking(move || social.search(&text, limit))
        .await
        .map_err(|error| ApiError::internal(&error))??;
    Ok(ApiJson(results))
}
