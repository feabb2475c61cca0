//! [`Error`]: everything that can go wrong talking to a node, in terms a user can act on.

use kith_protocols::{ApiErrorBody, ErrorCode};
use reqwest::StatusCode;

/// How much of an unexpected (non-API) response body is kept for the error message.
pub(crate) const MAX_QUOTED_BODY: usize = 200;

/// Everything that can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL cannot be used.
    #[error("invalid node API address `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token cannot be sent in an HTTP header (it contains control characters).
    #[error("the API token contains characters that cannot be sent in an HTTP header")]
    InvalidToken,
    /// Nothing answers at the node's address.
    #[error("cannot connect to the node at {url}: is the node running? start it with `kith run`")]
    Connect {
        /// The URL that was tried.
        url: String,
        /// The connection error.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with an API error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The wire error code.
        code: ErrorCode,
        /// The node's message.
        message: String,
    },
    /// The node answered with an error status but without the API's error body (something else
    /// listens there, or a proxy answered).
    #[error("unexpected answer from {url}: HTTP {status}: {body}")]
    UnexpectedResponse {
        /// The URL of the request.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A successful answer's body does not have the expected shape.
    #[error("cannot decode the answer from {url}")]
    Decode {
        /// The URL of the request.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The event stream is not well-formed server-sent events (a line longer than the limit, or
    /// not UTF-8).
    #[error("malformed event stream from {url}: {reason}")]
    EventStream {
        /// The URL of the stream.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Not fatal: the event stream fell behind and the node dropped `missed` events; the stream
    /// goes on with the next one. Whatever the caller shows may be stale: reload it.
    #[error("missed {missed} events: the event stream fell behind")]
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// The request failed after connecting (timeout, connection reset, ...).
    #[error("the request to the node failed")]
    Http(#[from] reqwest::Error),
}

/// The error for a non-success answer: the API's error body when there is one.
pub(crate) fn error_from(url: String, status: StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(body) => Error::Api {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let mut quoted: String = text.chars().take(MAX_QUOTED_BODY).collect();
            if text.chars().count() > MAX_QUOTED_BODY {
                quoted.push('…');
            }
            Error::UnexpectedResponse {
                url,
                status: status.as_u16(),
                body: quoted,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_bodies_are_decoded() {
        let body = br#"{"error":{"code":"rate-limited","message":"slow down"}}"#;
        match error_from(
            "http://x/api/v1/peers".into(),
            StatusCode::TOO_MANY_REQUESTS,
            body,
        ) {
            Error::Api {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 429);
                assert_eq!(code, ErrorCode::RateLimited);
                assert_eq!(message, "slow down");
            }
            other => panic!("expected Api, got {other:?}"),
        }
    }

    #[test]
    fn other_error_bodies_are_quoted_briefly() {
        let body = "<html>".repeat(100);
        let error = error_from(
            "http://x/healthz".into(),
            StatusCode::BAD_GATEWAY,
            body.as_bytes(),
        );
        match &error {
            Error::UnexpectedResponse { status, body, url } => {
                assert_eq!(*status, 502);
                assert_eq!(url, "http://x/healthz");
                assert_eq!(body.chars().count(), MAX_QUOTED_BODY + 1);
                assert!(body.ends_with('…'));
            }
            other => panic!("expected UnexpectedResponse, got {other:?}"),
        }
        // An unknown error code is not an API error body either.
        let body = br#"{"error":{"code":"teapot","message":"short and stout"}}"#;
        assert!(matches!(
            error_from("http://x".into(), StatusCode::IM_A_TEAPOT, body),
            Error::UnexpectedResponse { status: 418, .. }
        ));
    }
}
