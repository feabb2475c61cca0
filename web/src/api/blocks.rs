//! The blocklist: `GET /api/v1/blocks`, `POST /api/v1/blocks` (block a peer: disconnected now,
//! never dialed or accepted again) and `DELETE /api/v1/blocks/{peer_id}`.

use axum::{extract::State, http::StatusCode};
use kith_protocols::{ApiErrorBody, BlockRequest, BlockView};
use libp2p::PeerId;
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath},
    router::{Endpoint, Verb},
};

/// `/blocks` and `/blocks/{peer_id}`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/blocks", list_blocks),
        Endpoint::new(Verb::Post, "/api/v1/blocks", block),
        Endpoint::new(Verb::Delete, "/api/v1/blocks/{peer_id}", unblock),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list_blocks, block, unblock))]
pub(crate) struct Docs;

/// The blocked peers.
#[utoipa::path(
    get,
    path = "/api/v1/blocks",
    tag = "blocks",
    responses(
        (status = 200, description = "The blocklist", body = Vec<BlockView>),
    )
)]
pub(crate) async fn list_blocks(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<BlockView>>, ApiError> {
    let views = state
        .network
        .blocks()?
        .into_iter()
        .map(|entry| BlockView {
            peer_id: entry.peer_id,
            reason: entry.reason,
            since_ms: entry.since_ms,
        })
        .collect();
    Ok(ApiJson(views))
}

/// Blocks a peer: it is disconnected now and never dialed or accepted again.
#[utoipa::path(
    post,
    path = "/api/v1/blocks",
    tag = "blocks",
    request_body = BlockRequest,
    responses(
        (status = 204, description = "Blocked"),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %request.peer_id))]
pub(crate) async fn block(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.network.block(request.peer_id, request.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a block.
#[utoipa::path(
    delete,
    path = "/api/v1/blocks/{peer_id}",
    tag = "blocks",
    params(("peer_id" = String, Path, description = "The blocked peer's id")),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
        (status = 404, description = "The peer is not blocked", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn unblock(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<StatusCode, ApiError> {
    super::removed(state.network.unblock(peer_id).await?, || {
        format!("peer {peer_id} is not blocked")
    })
}
