//! Other people (and the owner) by peer id: `GET /api/v1/users/{peer_id}` (their profile and how
//! they relate to the owner) and `GET /api/v1/users/{peer_id}/posts` (their posts this node
//! holds, newest first).

use axum::extract::State;
use kith_protocols::{ApiErrorBody, PostPage, UserView};
use libp2p::PeerId;
use utoipa::OpenApi;

use crate::{
    AppState,
    api::PageQuery,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    router::{Endpoint, Verb},
};

/// `/users/{peer_id}...`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/users/{peer_id}", user),
        Endpoint::new(Verb::Get, "/api/v1/users/{peer_id}/posts", user_posts),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(user, user_posts))]
pub(crate) struct Docs;

/// A person: their profile as far as it is known, the follow relations both ways, and whether
/// their node is connected.
#[utoipa::path(
    get,
    path = "/api/v1/users/{peer_id}",
    tag = "users",
    params(("peer_id" = String, Path, description = "Their peer id")),
    responses(
        (status = 200, description = "The person", body = UserView),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
    )
)]
pub(crate) async fn user(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<ApiJson<UserView>, ApiError> {
    Ok(ApiJson(state.social.user(&peer_id)?))
}

/// A person's posts this node holds, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/users/{peer_id}/posts",
    tag = "users",
    params(("peer_id" = String, Path, description = "Their peer id"), PageQuery),
    responses(
        (status = 200, description = "A page of their posts", body = PostPage),
        (status = 400, description = "Not a peer id, or a bad limit or cursor", body = ApiErrorBody),
    )
)]
pub(crate) async fn user_posts(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<PostPage>, ApiError> {
    let limit = page.limit()?;
    Ok(ApiJson(state.social.user_posts(
        &peer_id,
        limit,
        page.before(),
    )?))
}
