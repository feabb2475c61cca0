//! The whole router: routes, fallbacks and the layers around them.

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::{AppState, api, error::ApiError, health, metrics};

/// How long a request may take until its response starts (the body of a streamed response is not
/// limited); past it the client gets a JSON 504 with code `timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request body accepted; a larger one gets a JSON 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Builds the router of the HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .nest("/api/v1", api::routes(state.clone()))
        .fallback(not_found)
        // Layers listed first wrap the ones after them, so a request passes them top to bottom:
        // - TraceLayer outermost, so that its span covers everything, rejections and timeouts
        //   included (it records method and path, never headers, which hold the token);
        // - the deadline, so that a slow handler is answered with our JSON 504;
        // - the 405 body, turning the router's own empty 405 into JSON;
        // - the body limit (an extension the body extractors obey, so that an oversized body is
        //   an extractor rejection, which `ApiJson` turns into our JSON 413).
        .layer(
            ServiceBuilder::new()
                .layer(
                    // A 5xx is logged at WARN: "a peer did not answer" (503) is no error of
                    // ours, and internal errors log their detail at ERROR themselves.
                    TraceLayer::new_for_http()
                        .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
                )
                .layer(middleware::from_fn(deadline))
                .layer(middleware::map_response(
                    crate::error::json_method_not_allowed,
                ))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Answers with a JSON 504 when the rest of the stack takes longer than [`REQUEST_TIMEOUT`]
/// (tower-http's `TimeoutLayer` would answer an empty 408).
async fn deadline(request: Request, next: Next) -> Response {
    with_deadline(REQUEST_TIMEOUT, request, next).await
}

async fn with_deadline(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_s = limit.as_secs(), "request timed out");
            ApiError::timeout(limit).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::StatusCode, routing::get};
    use kith_protocols::{ApiErrorBody, ErrorCode};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_handler_gets_a_json_504() {
        let app: Router = Router::new()
            .route("/slow", get(std::future::pending::<&'static str>))
            .layer(middleware::from_fn(deadline));
        // With the clock paused, the runtime jumps to the deadline as soon as nothing else can run.
        let response = app
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: ApiErrorBody = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body.error.code, ErrorCode::Timeout);
    }
}
