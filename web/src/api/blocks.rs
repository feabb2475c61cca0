//! The blocklist: `GET /api/v1/blocks`, `POST /api/v1/blocks` (block a peer: disconnected now,
//! never dialed or accepted again) and `DELETE /api/v1/blocks/{peer_id}`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get},
};
use kith_protocols::{BlockRequest, BlockView};
use libp2p::PeerId;

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath},
};

/// `/blocks` and `/blocks/{peer_id}`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/blocks", get(list).post(block))
        .route("/blocks/{peer_id}", delete(unblock))
}

async fn list(State(state): State<AppState>) -> Result<ApiJson<Vec<BlockView>>, ApiError> {
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

#[tracing::instrument(skip_all, fields(peer = %request.peer_id))]
async fn block(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.network.block(request.peer_id, request.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, fields(peer = %peer_id))]
async fn unblock(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<StatusCode, ApiError> {
    if state.network.unblock(peer_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "peer {peer_id} is not blocked"
        )))
    }
}
