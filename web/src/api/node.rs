//! `GET /api/v1/node`: who this node is (the same document other nodes get from
//! `/public/get/info/0.0.0`).

use axum::extract::State;
use kith_protocols::NodeInfo;
use utoipa::OpenApi;

use crate::{
    AppState,
    extract::ApiJson,
    router::{Endpoint, Verb},
};

/// `/node`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Verb::Get, "/api/v1/node", node_info)]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(node_info))]
pub(crate) struct Docs;

/// Who this node is.
///
/// Its peer id, role, network fingerprint, versions, the routes it serves, its listen addresses
/// and the owner's profile summary: the same document other nodes get from
/// `/public/get/info/0.0.0`.
#[utoipa::path(
    get,
    path = "/api/v1/node",
    tag = "node",
    responses(
        (status = 200, description = "The node's info", body = NodeInfo),
    )
)]
pub(crate) async fn node_info(State(state): State<AppState>) -> ApiJson<NodeInfo> {
    ApiJson(state.network.node_info())
}
