//! `GET /api/v1/peers` (the peer book with live connection state) and `POST /api/v1/peers`
//! (connect to a peer by address).

use axum::{extract::State, http::StatusCode};
use kith_protocols::{AddPeerRequest, AddPeerResponse, ApiErrorBody, PeerView};
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::ApiJson,
    router::{Endpoint, Verb},
};

/// `/peers`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/peers", list_peers),
        Endpoint::new(Verb::Post, "/api/v1/peers", add_peer),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list_peers, add_peer))]
pub(crate) struct Docs;

/// The peers the node knows, with their live connection state.
#[utoipa::path(
    get,
    path = "/api/v1/peers",
    tag = "peers",
    responses(
        (status = 200, description = "The peer book, connected peers first", body = Vec<PeerView>),
    )
)]
pub(crate) async fn list_peers(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<PeerView>>, ApiError> {
    Ok(ApiJson(state.network.peers()?))
}

/// Connects to a peer by address.
///
/// 202 Accepted: the peer has been handed to the connection pipeline (an address without a
/// `/p2p/` id has been dialed to learn who is there); being connected and verified follows
/// asynchronously, as `GET /api/v1/peers` shows.
#[utoipa::path(
    post,
    path = "/api/v1/peers",
    tag = "peers",
    request_body = AddPeerRequest,
    responses(
        (status = 202, description = "Handed to the connection pipeline", body = AddPeerResponse),
        (status = 400, description = "Not a TCP multiaddr (QUIC is refused)", body = ApiErrorBody),
        (status = 503, description = "The address could not be dialed", body = ApiErrorBody),
        (status = 504, description = "Dialing took longer than the request deadline", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(addr = %request.addr))]
pub(crate) async fn add_peer(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AddPeerRequest>,
) -> Result<(StatusCode, ApiJson<AddPeerResponse>), ApiError> {
    let peer_id = state.network.add_peer(request.addr).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(AddPeerResponse { peer_id })))
}
