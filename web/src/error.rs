//! [`ApiError`]: the one error type of the HTTP API, and the one place that turns a failure into
//! a status code and a JSON body.
//!
//! Every failure a client can see, from a handler, an extractor, the auth check, the timeout or
//! the router itself, becomes an [`ApiError`] and is written as
//! `{"error":{"code":"…","message":"…"}}` ([`ApiErrorBody`]). The status comes from [`status`], a
//! table over the wire's [`ErrorCode`]s, so an HTTP reply and a stream reply for the same failure
//! cannot disagree. Two answers that HTTP itself defines more precisely than any wire code (405
//! Method Not Allowed, 413 Content Too Large) carry the code `invalid-request` and their own
//! status; they are built only here.
//!
//! Internal errors never show their detail to the client: the body says "internal error" and the
//! detail goes to the log, inside the request's trace span.

use std::{borrow::Cow, fmt, time::Duration};

use axum::{
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use kith_protocols::{ApiErrorBody, ApiErrorDetail, ErrorCode};

/// The HTTP status for a wire error code: the only table that maps one onto the other.
///
/// - `quota-exceeded` is 413 rather than 429: the code means that the same request will never
///   fit, while 429 tells a client to wait and retry.
/// - `timeout` is 504: the node gave up on work it was waiting for (a peer, a dial).
/// - `unavailable` is 503: shutting down or overloaded; retrying later may work.
pub(crate) fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The message shown for every internal error; the detail is only logged.
const INTERNAL_MESSAGE: &str = "internal error";

/// A failed API request, as the client will see it.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    /// When a retry may succeed (`rate-limited`, `unavailable`); sent as `Retry-After`.
    retry_after: Option<Duration>,
    /// Set only for the answers HTTP defines itself; see the module docs.
    http: Option<HttpAnswer>,
}

/// Answers whose status HTTP defines more precisely than the wire codes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HttpAnswer {
    MethodNotAllowed,
    ContentTooLarge,
    Conflict,
}

impl ApiError {
    /// An error with the given code and a message for the client.
    ///
    /// For `internal-error` use [`ApiError::internal`], which keeps the detail out of the body.
    pub(crate) fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            http: None,
        }
    }

    /// `not-found`.
    pub(crate) fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `unauthorized` (answered with `WWW-Authenticate: Bearer`).
    pub(crate) fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// `forbidden`.
    pub(crate) fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `invalid-request`.
    pub(crate) fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `timeout`: the request took longer than the API allows.
    pub(crate) fn timeout(limit: Duration) -> Self {
        Self::new(
            ErrorCode::Timeout,
            format!("the request took longer than {} s", limit.as_secs()),
        )
    }

    /// `internal-error`: logs `detail` (with its source chain) and shows a generic message.
    pub(crate) fn internal(detail: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %Chain(detail), "request failed");
        Self::new(ErrorCode::InternalError, INTERNAL_MESSAGE)
    }

    /// 405 with code `invalid-request`.
    pub(crate) fn method_not_allowed() -> Self {
        ApiError {
            http: Some(HttpAnswer::MethodNotAllowed),
            ..Self::invalid_request("this endpoint does not accept that method")
        }
    }

    /// 413 with code `invalid-request`: the request body is over the API's limit.
    pub(crate) fn content_too_large() -> Self {
        ApiError {
            http: Some(HttpAnswer::ContentTooLarge),
            ..Self::invalid_request(format!(
                "the request body is larger than {} KiB",
                crate::MAX_BODY_BYTES / 1024
            ))
        }
    }

    /// 409 with code `invalid-request`: a well-formed request that conflicts with the node's
    /// state (no wire code means "conflict").
    pub(crate) fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            http: Some(HttpAnswer::Conflict),
            ..Self::invalid_request(message)
        }
    }

    /// Adds a retry hint, sent as `Retry-After` (whole seconds, rounded up).
    #[must_use]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The wire code of this error.
    #[cfg(test)]
    pub(crate) fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status of this error.
    pub(crate) fn status(&self) -> StatusCode {
        match self.http {
            Some(HttpAnswer::MethodNotAllowed) => StatusCode::METHOD_NOT_ALLOWED,
            Some(HttpAnswer::ContentTooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Some(HttpAnswer::Conflict) => StatusCode::CONFLICT,
            None => status(self.code),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: self.code,
                message: self.message.into_owned(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.code == ErrorCode::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<kith_node::Error> for ApiError {
    fn from(error: kith_node::Error) -> Self {
        match error.code() {
            ErrorCode::InternalError => ApiError::internal(&error),
            code => ApiError::new(code, error.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                ApiError::invalid_request(format!("invalid request body: {}", source_text(&e)))
            }
            JsonRejection::JsonSyntaxError(e) => ApiError::invalid_request(format!(
                "the request body is not JSON: {}",
                source_text(&e)
            )),
            JsonRejection::MissingJsonContentType(_) => ApiError::invalid_request(
                "expected a request body with `Content-Type: application/json`",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::content_too_large()
            }
            other => ApiError::invalid_request(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => {
                ApiError::invalid_request(format!("invalid path: {}", e.body_text()))
            }
            // Only a route declared without the parameter its handler extracts: our bug.
            other => ApiError::internal(&other),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        match rejection {
            QueryRejection::FailedToDeserializeQueryString(e) => {
                ApiError::invalid_request(format!("invalid query: {}", source_text(&e)))
            }
            other => ApiError::invalid_request(other.body_text()),
        }
    }
}

/// The innermost message of an extractor's error, e.g. serde's "missing field `addr` at line 1
/// column 2", without axum's generic prefix.
fn source_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
}

/// Formats an error with its sources: `outer: inner: innermost`.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// Gives the 405 that axum's router answers by itself (empty body, `Allow` header) our JSON body,
/// keeping its headers. Installed with `axum::middleware::map_response`.
pub(crate) async fn json_method_not_allowed(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut json = ApiError::method_not_allowed().into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn body_of(response: Response) -> ApiErrorBody {
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_code_has_an_error_status() {
        for &code in ErrorCode::ALL {
            let status = status(code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}: {status}"
            );
        }
        assert_eq!(status(ErrorCode::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(ErrorCode::InvalidRequest), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(ErrorCode::InternalError),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[tokio::test]
    async fn body_is_the_shared_error_shape() {
        let response = ApiError::not_found("no such post").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = body_of(response).await;
        assert_eq!(body.error.code, ErrorCode::NotFound);
        assert_eq!(body.error.message, "no such post");
    }

    #[tokio::test]
    async fn unauthorized_asks_for_a_bearer_token() {
        let response = ApiError::unauthorized("missing token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn retry_after_is_rounded_up_to_seconds() {
        let response = ApiError::new(ErrorCode::RateLimited, "slow down")
            .with_retry_after(Duration::from_millis(1500))
            .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_detail() {
        let detail = std::io::Error::other("disk on fire at /secret/path");
        let response = ApiError::internal(&detail).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(response).await;
        assert_eq!(body.error.code, ErrorCode::InternalError);
        assert_eq!(body.error.message, INTERNAL_MESSAGE);
    }

    #[tokio::test]
    async fn node_errors_keep_their_code() {
        let error: ApiError = kith_node::Error::Stopped.into();
        assert_eq!(error.code(), ErrorCode::Unavailable);
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        let error: ApiError = kith_node::Error::Transport("noise".into()).into();
        assert_eq!(error.code(), ErrorCode::InternalError);
        let body = body_of(error.into_response()).await;
        assert_eq!(body.error.message, INTERNAL_MESSAGE);
    }

    #[tokio::test]
    async fn http_answers_keep_the_invalid_request_code() {
        let too_large = ApiError::content_too_large();
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.code(), ErrorCode::InvalidRequest);
        let not_allowed = ApiError::method_not_allowed();
        assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            body_of(not_allowed.into_response()).await.error.code,
            ErrorCode::InvalidRequest
        );
    }

    #[tokio::test]
    async fn routers_405_gets_a_json_body_and_keeps_allow() {
        let response = Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET,HEAD")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = json_method_not_allowed(response).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body_of(response).await.error.code,
            ErrorCode::InvalidRequest
        );
    }
}
