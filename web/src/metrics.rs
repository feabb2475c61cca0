//! `GET /metrics`: the node's Prometheus registry (libp2p's metrics and Kith's own) in the
//! OpenMetrics text format.
//!
//! No authentication: the metrics hold counts and timings, no secrets, and the API listens on
//! localhost by default.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{AppState, error::ApiError};

/// The content type of the OpenMetrics text format.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
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
