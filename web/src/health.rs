//! Liveness and readiness probes, without authentication: `GET /healthz` says the HTTP server
//! answers, `GET /readyz` whether the node behind it is running (503 while it is not, e.g. during
//! shutdown), for process supervisors and load balancers.

use axum::{extract::State, http::StatusCode};
use kith_protocols::StatusView;
use utoipa::OpenApi;

use crate::{
    AppState,
    extract::ApiJson,
    router::{Endpoint, Verb},
};

/// `/healthz` and `/readyz`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/healthz", healthz),
        Endpoint::new(Verb::Get, "/readyz", readyz),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(healthz, readyz))]
pub(crate) struct Docs;

/// Liveness: the HTTP server answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "probes",
    security(()),
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = StatusView))
)]
pub(crate) async fn healthz() -> ApiJson<StatusView> {
    ApiJson(StatusView {
        status: "ok".to_owned(),
    })
}

/// Readiness: the node behind the server is running.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    security(()),
    responses(
        (status = 200, description = "`{\"status\":\"ready\"}`", body = StatusView),
        (status = 503, description = "`{\"status\":\"starting\"}`: the node is not running", body = StatusView),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, ApiJson<StatusView>) {
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
