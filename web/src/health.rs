//! Liveness and readiness probes, without authentication: `GET /healthz` says the HTTP server
//! answers, `GET /readyz` whether the node behind it is running (503 while it is not, e.g. during
//! shutdown), for process supervisors and load balancers.

use axum::{Router, extract::State, http::StatusCode, routing::get};
use kith_protocols::StatusView;

use crate::{AppState, extract::ApiJson};

/// `/healthz` and `/readyz`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> ApiJson<StatusView> {
    ApiJson(StatusView {
        status: "ok".to_owned(),
    })
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, ApiJson<StatusView>) {
    if state.network.node().is_running() {
        (
            StatusCode::OK,
            ApiJson(StatusView {
                status: "ready".to_owned(),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            ApiJson(StatusView {
                status: "starting".to_owned(),
            }),
        )
    }
}
