//! Authentication of `/api/v1/`: one middleware in front of every API route.
//!
//! A request proves itself in one of two ways, and no handler ever looks at credentials:
//!
//! - `Authorization: Bearer <api.token>` (the token file in the data dir), for the CLI and
//!   scripts. Compared in constant time ([`kith_config::ApiToken::verify`]), never logged. A
//!   bearer token is never sent by a browser on its own, so these requests need no CSRF check.
//! - The browser UI's session cookie ([`crate::session`]). A cookie *is* sent by the browser on
//!   its own, so a request that changes something (any method but GET, HEAD, OPTIONS) must also
//!   carry the session's CSRF token in `X-CSRF-Token`, and, when the browser names its `Origin`,
//!   come from this node's own origin. A cross-site form cannot set the header, and SameSite=Strict
//!   keeps the cookie off cross-site requests in the first place.
//!
//! When both are present the bearer token decides.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::Response,
};

use crate::{
    AppState,
    error::ApiError,
    session::{Session, session_cookie},
};

/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session a cookie-authenticated request belongs to (a request extension; absent for bearer
/// requests).
#[derive(Debug, Clone)]
pub(crate) struct CookieSession {
    /// The cookie's value (to end the session at logout).
    pub token: String,
    /// The session.
    pub session: Session,
}

/// Lets the request through if it carries valid credentials, else answers 401 (or 403 for a
/// cookie request that fails the CSRF checks).
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    if headers.contains_key(header::AUTHORIZATION) {
        let token = bearer_token(headers)?;
        if !state.api_token.verify(token) {
            return Err(ApiError::unauthorized("the bearer token is not valid"));
        }
        return Ok(next.run(request).await);
    }
    let Some(token) = cookie_token(headers) else {
        return Err(ApiError::unauthorized(
            "missing credentials: send `Authorization: Bearer <token>` with the token from the \
             data dir's api.token file, or log in to the web UI",
        ));
    };
    let session = state
        .sessions
        .get(&token)
        .ok_or_else(|| ApiError::unauthorized("the session has ended or expired: log in again"))?;
    if !is_safe(request.method()) {
        check_origin(headers)?;
        check_csrf(headers, &session)?;
    }
    request
        .extensions_mut()
        .insert(CookieSession { token, session });
    Ok(next.run(request).await)
}

/// The session cookie's value, if the request has one.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session_cookie)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

/// Whether the request has a live session cookie.
pub(crate) fn has_session(state: &AppState, headers: &HeaderMap) -> bool {
    cookie_token(headers).is_some_and(|token| state.sessions.get(&token).is_some())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A browser that names the request's origin must name this node's (`http://<Host>`).
pub(crate) fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default();
    let same = origin.to_str().ok().is_some_and(|origin| {
        !host.is_empty()
            && (origin.strip_prefix("http://") == Some(host)
                || origin.strip_prefix("https://") == Some(host))
    });
    if same {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "cross-site request refused: it does not come from this node's own pages",
        ))
    }
}

fn check_csrf(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    let matches = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| session.csrf_matches(value));
    if matches {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "missing or wrong X-CSRF-Token: a request with the session cookie that changes \
             something must carry the token from GET /api/v1/session",
        ))
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive, as
/// RFC 9110 says).
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "missing credentials: send `Authorization: Bearer <token>` with the token from the \
             data dir's api.token file",
        )
    };
    let value = headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized(
            "unsupported authorization scheme: use `Authorization: Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(&headers("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&headers("bearer  abc ")).unwrap(), "abc");
        assert_eq!(bearer_token(&headers("BEARER abc")).unwrap(), "abc");
    }

    #[test]
    fn origins() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            check_origin(&headers).is_ok(),
            "no Origin: not a cross-site browser request"
        );
        for (origin, ok) in [
            ("http://127.0.0.1:8080", true),
            ("https://127.0.0.1:8080", true),
            ("http://127.0.0.1:8081", false),
            ("http://localhost:8080", false),
            ("null", false),
            ("http://evil.example", false),
        ] {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            assert_eq!(check_origin(&headers).is_ok(), ok, "{origin}");
        }
        headers.remove(header::HOST);
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://"));
        assert!(check_origin(&headers).is_err());
    }

    #[test]
    fn other_schemes_and_missing_headers_are_refused() {
        assert!(bearer_token(&HeaderMap::new()).is_err());
        assert!(bearer_token(&headers("Basic dXNlcjpwYXNz")).is_err());
        assert!(bearer_token(&headers("Bearer")).is_err());
        assert!(bearer_token(&headers("abc")).is_err());
    }
}
