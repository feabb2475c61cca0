//! Mutes: people the owner hides from their home timeline, event stream and notifications
//! without unfollowing or blocking them, and without telling them. `GET /api/v1/mutes`,
//! `PUT /api/v1/mutes/{peer_id}` (mute) and `DELETE /api/v1/mutes/{peer_id}` (unmute). The
//! rule itself (what a mute hides, and where) is the social service's.

use axum::{extract::State, http::StatusCode};
use kith_protocols::{ApiErrorBody, MuteView};
use libp2p::PeerId;
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath},
    router::{Endpoint, Verb},
};

/// `/mutes` and `/mutes/{peer_id}`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/mutes", list_mutes),
        Endpoint::new(Verb::Put, "/api/v1/mutes/{peer_id}", mute),
        Endpoint::new(Verb::Delete, "/api/v1/mutes/{peer_id}", unmute),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list_mutes, mute, unmute), components(schemas(MuteView)))]
pub(crate) struct Docs;

/// The people the owner muted.
#[utoipa::path(
    get,
    path = "/api/v1/mutes",
    tag = "mutes",
    responses((status = 200, description = "The muted people", body = Vec<MuteView>))
)]
pub(crate) async fn list_mutes(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<MuteView>>, ApiError> {
    Ok(ApiJson(state.social.mutes()?))
}

/// Mutes a person: their posts leave the home timeline and the event stream, their
/// notifications the list; they are still followed and their page still shows them. Muting
/// twice is harmless (the first time is kept).
#[utoipa::path(
    put,
    path = "/api/v1/mutes/{peer_id}",
    tag = "mutes",
    params(("peer_id" = String, Path, description = "The person's peer id")),
    responses(
        (status = 200, description = "The mute", body = MuteView),
        (status = 400, description = "Not a peer id, or the owner's own", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn mute(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<ApiJson<MuteView>, ApiError> {
    Ok(ApiJson(state.social.mute(peer_id).await?))
}

/// Unmutes a person: everything they posted shows again (nothing was deleted).
#[utoipa::path(
    delete,
    path = "/api/v1/mutes/{peer_id}",
    tag = "mutes",
    params(("peer_id" = String, Path, description = "The person's peer id")),
    responses(
        (status = 204, description = "Unmuted"),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
        (status = 404, description = "The person is not muted", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn unmute(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<StatusCode, ApiError> {
    super::removed(state.social.unmute(peer_id).await?, || {
        format!("peer {peer_id} is not muted")
    })
}
