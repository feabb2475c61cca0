//! The whole router: the table of endpoints, the fallbacks and the layers around them.
//!
//! Every endpoint is one row of [`endpoints`]: method, full path, handler. The router is built
//! from that table and nothing else, and the OpenAPI document (module `openapi`) must describe
//! exactly the same set of `(method, path)` pairs: a test compares the two, so an endpoint added
//! without its documentation (or documented but not routed) fails the build's tests.

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    handler::Handler,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter, on},
};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::{AppState, api, error::ApiError, health, metrics, openapi};

/// How long a request may take until its response starts (the body of a streamed response, such
/// as the event stream, is not limited); past it the client gets a JSON 504 with code `timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request body accepted; a larger one gets a JSON 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The prefix of the authenticated REST API.
pub(crate) const API_PREFIX: &str = "/api/v1";

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Delete => MethodFilter::DELETE,
        }
    }

    /// The method's name, upper case.
    #[cfg_attr(not(test), allow(dead_code))] // for the tests that compare table and document
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

/// One row of the endpoint table.
pub(crate) struct Endpoint {
    /// The method (the router only needs it inside `route`; the tests read it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) verb: Verb,
    /// The full path, in axum's and OpenAPI's `{param}` syntax, e.g. `/api/v1/posts/{id}`.
    pub(crate) path: &'static str,
    route: MethodRouter<AppState>,
}

impl Endpoint {
    /// `handler` answers `verb` on `path`.
    pub(crate) fn new<H, T>(verb: Verb, path: &'static str, handler: H) -> Endpoint
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Endpoint {
            verb,
            path,
            route: on(verb.filter(), handler),
        }
    }
}

/// Every endpoint the server answers, public probes and authenticated API alike.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    let mut all = Vec::new();
    all.extend(health::endpoints());
    all.extend(metrics::endpoints());
    all.extend(openapi::endpoints());
    all.extend(crate::ui::endpoints());
    all.extend(api::endpoints());
    all
}

/// Builds the router of the HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut api = Router::new();
    for endpoint in endpoints() {
        match endpoint.path.strip_prefix(API_PREFIX) {
            Some(relative) => api = api.route(relative, endpoint.route),
            None => public = public.route(endpoint.path, endpoint.route),
        }
    }
    public
        .nest(API_PREFIX, api::protect(api, state.clone()))
        .merge(crate::ui::routes())
        .fallback(not_found)
        // Layers listed first wrap the ones after them, so a request passes them top to bottom:
        // - TraceLayer outermost, so that its span covers everything, rejections and timeouts
        //   included (it records method and path, never headers, which hold the token);
        // - the deadline, so that a slow handler is answered with our JSON 504 (it bounds the
        //   time to the response's head only: the event stream's body runs on);
        // - the 405 body, turning the router's own empty 405 into JSON;
        // - the body limit (an extension the body extractors obey, so that an oversized body is
        //   an extractor rejection, which `ApiJson` turns into our JSON 413; it limits request
        //   bodies only, never a response).
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

/// Answers with a JSON 504 when the rest of the stack takes longer than [`REQUEST_TIMEOUT`] to
/// produce a response (tower-http's `TimeoutLayer` would answer an empty 408).
async fn deadline(request: Request, next: Next) -> Response {
    with_deadline(REQUEST_TIMEOUT, request, next).await
}

pub(crate) async fn with_deadline(limit: Duration, request: Request, next: Next) -> Response {
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
    use std::collections::BTreeSet;

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

    #[test]
    fn the_table_has_no_duplicates_and_every_api_path_is_under_the_prefix() {
        let mut seen = BTreeSet::new();
        for endpoint in endpoints() {
            assert!(
                seen.insert((endpoint.verb, endpoint.path)),
                "{} {} is listed twice",
                endpoint.verb.as_str(),
                endpoint.path
            );
            assert!(endpoint.path.starts_with('/'), "{}", endpoint.path);
            if endpoint.path.starts_with("/api/") && endpoint.path != openapi::DOCUMENT_PATH {
                assert!(
                    endpoint.path.starts_with(&format!("{API_PREFIX}/")),
                    "{} is outside {API_PREFIX}/ and so unauthenticated",
                    endpoint.path
                );
            }
        }
    }
}
