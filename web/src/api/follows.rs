//! Follows, both ways: the owner following others (`POST`/`DELETE /api/v1/follows/{peer_id}`,
//! `GET /api/v1/following`), others following the owner (`GET /api/v1/followers`), and, for a
//! locked account, the requests waiting for the owner (`GET /api/v1/follows/requests`, `POST
//! /api/v1/follows/requests/{peer_id}/approve` and `.../reject`).

use axum::{extract::State, http::StatusCode};
use kith_protocols::{ApiErrorBody, FollowView};
use libp2p::PeerId;
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath},
    router::{Endpoint, Verb},
};

/// `/follows...`, `/following`, `/followers`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Post, "/api/v1/follows/{peer_id}", follow),
        Endpoint::new(Verb::Delete, "/api/v1/follows/{peer_id}", unfollow),
        Endpoint::new(Verb::Get, "/api/v1/following", following),
        Endpoint::new(Verb::Get, "/api/v1/followers", followers),
        Endpoint::new(Verb::Get, "/api/v1/follows/requests", follow_requests),
        Endpoint::new(
            Verb::Post,
            "/api/v1/follows/requests/{peer_id}/approve",
            approve_follower,
        ),
        Endpoint::new(
            Verb::Post,
            "/api/v1/follows/requests/{peer_id}/reject",
            reject_follower,
        ),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    follow,
    unfollow,
    following,
    followers,
    follow_requests,
    approve_follower,
    reject_follower
))]
pub(crate) struct Docs;

/// Follows a person.
///
/// The answer says where the follow stands: `active`, or `requested` when their account is
/// locked and they still have to approve it.
#[utoipa::path(
    post,
    path = "/api/v1/follows/{peer_id}",
    tag = "follows",
    params(("peer_id" = String, Path, description = "Whom to follow")),
    responses(
        (status = 200, description = "The follow", body = FollowView),
        (status = 400, description = "Not a peer id, or the owner's own", body = ApiErrorBody),
        (status = 503, description = "The node is shutting down (an unreachable followee is not an error: the follow stays `requested` and is sent again)", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn follow(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<ApiJson<FollowView>, ApiError> {
    Ok(ApiJson(state.social.follow(peer_id).await?))
}

/// Stops following a person (or withdraws a follow request).
#[utoipa::path(
    delete,
    path = "/api/v1/follows/{peer_id}",
    tag = "follows",
    params(("peer_id" = String, Path, description = "Whom to stop following")),
    responses(
        (status = 204, description = "Not following any more"),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn unfollow(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<StatusCode, ApiError> {
    state.social.unfollow(peer_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The people the owner follows or asked to follow.
#[utoipa::path(
    get,
    path = "/api/v1/following",
    tag = "follows",
    responses((status = 200, description = "The owner's follows", body = Vec<FollowView>))
)]
pub(crate) async fn following(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<FollowView>>, ApiError> {
    Ok(ApiJson(state.social.following()?))
}

/// The people who follow the owner.
#[utoipa::path(
    get,
    path = "/api/v1/followers",
    tag = "follows",
    responses((status = 200, description = "The owner's active followers", body = Vec<FollowView>))
)]
pub(crate) async fn followers(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<FollowView>>, ApiError> {
    Ok(ApiJson(state.social.followers()?))
}

/// The follow requests waiting for the owner's decision (locked accounts only).
#[utoipa::path(
    get,
    path = "/api/v1/follows/requests",
    tag = "follows",
    responses((status = 200, description = "The pending requests", body = Vec<FollowView>))
)]
pub(crate) async fn follow_requests(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<FollowView>>, ApiError> {
    Ok(ApiJson(state.social.follow_requests()?))
}

/// Approves a follow request: the person becomes a follower.
#[utoipa::path(
    post,
    path = "/api/v1/follows/requests/{peer_id}/approve",
    tag = "follows",
    params(("peer_id" = String, Path, description = "Who asked")),
    responses(
        (status = 200, description = "The follow, now active", body = FollowView),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
        (status = 404, description = "No request from that peer", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn approve_follower(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<ApiJson<FollowView>, ApiError> {
    Ok(ApiJson(state.social.approve_follower(peer_id).await?))
}

/// Rejects a follow request (or removes a follower).
#[utoipa::path(
    post,
    path = "/api/v1/follows/requests/{peer_id}/reject",
    tag = "follows",
    params(("peer_id" = String, Path, description = "Who asked")),
    responses(
        (status = 204, description = "Rejected"),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
        (status = 404, description = "That peer neither follows nor asked to", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn reject_follower(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<StatusCode, ApiError> {
    state.social.reject_follower(peer_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
