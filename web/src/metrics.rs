//! `GET /metrics`: the node's Prometheus registry (libp2p's metrics and Kith's own) in the
//! OpenMetrics text format.
//!
//! No authentication: the metrics hold counts and timings, no secrets, and the API listens on
//! localhost by default.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use kith_protocols::ApiErrorBody;
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    router::{Endpoint, Verb},
};

/// The content type of the OpenMetrics text format.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Verb::Get, "/metrics", metrics)]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(metrics))]
pub(crate) struct Docs;

/// The node's metrics (libp2p's and Kith's own) in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "probes",
    security(()),
    responses(
        (status = 200, description = "OpenMetrics text", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 500, description = "The registry could not be encoded", body = ApiErrorBody),
    )
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &state.metrics)
        .map_err(|error| ApiError::internal(&error))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
        )],
        text,
    )
        .into_response())
}
