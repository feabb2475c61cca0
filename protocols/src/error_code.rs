//! The nine wire error codes and the error object carried by a failed response.
//!
//! [`ErrorCode`] is the one list of failure kinds in Kith: stream responses carry it in
//! `error.code`, and the HTTP API maps it to a status code in one table. Mapping every internal
//! error onto one of these codes in one place keeps a stream reply and an HTTP reply for the same
//! failure from disagreeing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Why a request failed, as sent on the wire (kebab-case strings such as `not-found`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// `not-found`: the thing asked for does not exist here (also: a route the callee does not
    /// serve, when it could negotiate the stream but has no handler).
    NotFound,
    /// `unauthorized`: the caller did not prove who it is, or the proof is invalid.
    Unauthorized,
    /// `forbidden`: the caller is known but not allowed to do this (for example a private route,
    /// or a content route on a bootstrap node).
    Forbidden,
    /// `quota-exceeded`: the request would exceed a storage or size quota; retrying the same
    /// request will not help.
    QuotaExceeded,
    /// `rate-limited`: too many requests; retry later, after `retry_after_ms` when given.
    RateLimited,
    /// `timeout`: the callee gave up on its own work before finishing.
    Timeout,
    /// `invalid-request`: the request is malformed (bad framing, bad JSON, bad body).
    InvalidRequest,
    /// `internal-error`: the callee failed for a reason that is not the caller's fault.
    InternalError,
    /// `unavailable`: the callee cannot serve this right now (shutting down, overloaded, a
    /// dependency is down); retrying later may work.
    Unavailable,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::NotFound,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::QuotaExceeded,
        ErrorCode::RateLimited,
        ErrorCode::Timeout,
        ErrorCode::InvalidRequest,
        ErrorCode::InternalError,
        ErrorCode::Unavailable,
    ];

    /// The wire string, e.g. `"quota-exceeded"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not-found",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::QuotaExceeded => "quota-exceeded",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::Timeout => "timeout",
            ErrorCode::InvalidRequest => "invalid-request",
            ErrorCode::InternalError => "internal-error",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = Error;

    /// Parses the exact wire string (case-sensitive).
    fn from_str(s: &str) -> Result<Self, Error> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| Error::UnknownName {
                kind: "error code",
                value: s.to_owned(),
            })
    }
}

/// The `error` object of a failed response:
/// `{"code":"rate-limited","message":"...","retry_after_ms":1500}`.
///
/// `retry_after_ms` is present only when the callee knows when a retry may succeed. Unknown fields
/// are ignored when reading, so later versions may add fields. `message` is for humans (logs, the
/// UI); programs decide on `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A human-readable explanation. Never contains secrets.
    pub message: String,
    /// How long the caller should wait before retrying, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_after_ms: Option<u64>,
}

impl WireError {
    /// An error with the given code and message and no retry hint.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// Adds a retry hint, rounded down to whole milliseconds (saturating at `u64::MAX`).
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after_ms = Some(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// The retry hint as a [`Duration`], if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(ms) = self.retry_after_ms {
            write!(f, " (retry after {ms} ms)")?;
        }
        Ok(())
    }
}

impl std::error::Error for WireError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_exact_wire_strings() {
        let expected = [
            (ErrorCode::NotFound, "not-found"),
            (ErrorCode::Unauthorized, "unauthorized"),
            (ErrorCode::Forbidden, "forbidden"),
            (ErrorCode::QuotaExceeded, "quota-exceeded"),
            (ErrorCode::RateLimited, "rate-limited"),
            (ErrorCode::Timeout, "timeout"),
            (ErrorCode::InvalidRequest, "invalid-request"),
            (ErrorCode::InternalError, "internal-error"),
            (ErrorCode::Unavailable, "unavailable"),
        ];
        assert_eq!(ErrorCode::ALL.len(), expected.len());
        for (i, (code, s)) in expected.into_iter().enumerate() {
            assert_eq!(ErrorCode::ALL[i], code);
            assert_eq!(code.as_str(), s);
            assert_eq!(code.to_string(), s);
            assert_eq!(s.parse::<ErrorCode>().unwrap(), code);
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<ErrorCode>(&format!("\"{s}\"")).unwrap(),
                code
            );
        }
    }

    #[test]
    fn unknown_codes_are_rejected() {
        for s in [
            "",
            "NotFound",
            "not_found",
            "Not-Found",
            "not-found ",
            "teapot",
        ] {
            assert!(
                matches!(s.parse::<ErrorCode>(), Err(Error::UnknownName { kind: "error code", ref value }) if value == s),
                "{s:?}"
            );
            assert!(serde_json::from_str::<ErrorCode>(&format!("\"{s}\"")).is_err());
        }
    }

    #[test]
    fn wire_error_json_shape() {
        let e = WireError::new(ErrorCode::NotFound, "no such post");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"not-found","message":"no such post"}"#
        );
        let e = WireError::new(ErrorCode::RateLimited, "slow down")
            .with_retry_after(Duration::from_micros(1_500_900));
        assert_eq!(e.retry_after_ms, Some(1500));
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"rate-limited","message":"slow down","retry_after_ms":1500}"#
        );
        assert_eq!(
            e.to_string(),
            "rate-limited: slow down (retry after 1500 ms)"
        );

        let parsed: WireError = serde_json::from_str(
            r#"{"message":"m","future_field":[1,2],"code":"timeout","retry_after_ms":null}"#,
        )
        .unwrap();
        assert_eq!(parsed, WireError::new(ErrorCode::Timeout, "m"));
        assert!(serde_json::from_str::<WireError>(r#"{"code":"timeout"}"#).is_err());
    }

    #[test]
    fn retry_after_saturates() {
        let e = WireError::new(ErrorCode::Unavailable, "x").with_retry_after(Duration::MAX);
        assert_eq!(e.retry_after_ms, Some(u64::MAX));
    }
}
