//! `GET /api/v1/node`: who this node is (the same document other nodes get from
//! `/public/get/info/0.0.0`).

use axum::{Router, extract::State, routing::get};
use kith_protocols::NodeInfo;

use crate::{AppState, extract::ApiJson};

/// `/node`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/node", get(node_info))
}

async fn node_info(State(state): State<AppState>) -> ApiJson<NodeInfo> {
    ApiJson(state.network.node_info())
}
