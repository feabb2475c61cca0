//! `GET /api/v1/peers` (the peer book with live connection state) and `POST /api/v1/peers`
//! (connect to a peer by address).

use axum::{Router, extract::State, http::StatusCode, routing::get};
use kith_protocols::{AddPeerRequest, AddPeerResponse, PeerView};

use crate::{AppState, error::ApiError, extract::ApiJson};

/// `/peers`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/peers", get(list).post(add))
}

async fn list(State(state): State<AppState>) -> Result<ApiJson<Vec<PeerView>>, ApiError> {
    Ok(ApiJson(state.network.peers()?))
}

/// 202 Accepted: the peer has been handed to the connection pipeline (an address without a
/// `/p2p/` id has been dialed to learn who is there); being connected and verified follows
/// asynchronously, as `GET /api/v1/peers` shows.
#[tracing::instrument(skip_all, fields(addr = %request.addr))]
async fn add(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AddPeerRequest>,
) -> Result<(StatusCode, ApiJson<AddPeerResponse>), ApiError> {
    let peer_id = state.network.add_peer(request.addr).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(AddPeerResponse { peer_id })))
}
