//! Paired devices: peers allowed on the owner's `private` routes (another node or app of the same
//! person). `GET /api/v1/devices`, `PUT /api/v1/devices/{peer_id}` (pair) and `DELETE
//! /api/v1/devices/{peer_id}` (unpair).

use axum::{extract::State, http::StatusCode};
use kith_protocols::{ApiErrorBody, DeviceView};
use libp2p::PeerId;
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath},
    router::{Endpoint, Verb},
};

/// `/devices...`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/devices", devices),
        Endpoint::new(Verb::Put, "/api/v1/devices/{peer_id}", pair_device),
        Endpoint::new(Verb::Delete, "/api/v1/devices/{peer_id}", unpair_device),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(devices, pair_device, unpair_device))]
pub(crate) struct Docs;

/// The paired devices.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    responses((status = 200, description = "The paired devices", body = Vec<DeviceView>))
)]
pub(crate) async fn devices(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<DeviceView>>, ApiError> {
    Ok(ApiJson(state.social.devices()?))
}

/// Pairs a device: the peer may call the owner's `private` routes. Pairing twice is harmless.
#[utoipa::path(
    put,
    path = "/api/v1/devices/{peer_id}",
    tag = "devices",
    params(("peer_id" = String, Path, description = "The device's peer id")),
    responses(
        (status = 200, description = "The paired device", body = DeviceView),
        (status = 400, description = "Not a peer id, or the node's own", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn pair_device(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<ApiJson<DeviceView>, ApiError> {
    Ok(ApiJson(state.social.pair_device(peer_id).await?))
}

/// Unpairs a device.
#[utoipa::path(
    delete,
    path = "/api/v1/devices/{peer_id}",
    tag = "devices",
    params(("peer_id" = String, Path, description = "The device's peer id")),
    responses(
        (status = 204, description = "Unpaired"),
        (status = 400, description = "Not a peer id", body = ApiErrorBody),
        (status = 404, description = "The peer is not paired", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(peer = %peer_id))]
pub(crate) async fn unpair_device(
    State(state): State<AppState>,
    ApiPath(peer_id): ApiPath<PeerId>,
) -> Result<StatusCode, ApiError> {
    super::removed(state.social.unpair_device(peer_id).await?, || {
        format!("peer {peer_id} is not a paired device")
    })
}
