//! Authentication of `/api/v1/`: one middleware in front of every API route.
//!
//! Today a request proves itself with `Authorization: Bearer <api.token>` (the token file in the
//! data dir, for the CLI and scripts). The browser UI's session cookie will be a second way in,
//! checked here as well, so that no handler ever looks at credentials.
//!
//! The token is compared in constant time ([`kith_config::ApiToken::verify`]) and never logged.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::Response,
};

use crate::{AppState, error::ApiError};

/// Lets the request through if it carries valid credentials, else answers 401.
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer_token(request.headers())?;
    if !state.api_token.verify(token) {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(next.run(request).await)
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
    fn other_schemes_and_missing_headers_are_refused() {
        assert!(bearer_token(&HeaderMap::new()).is_err());
        assert!(bearer_token(&headers("Basic dXNlcjpwYXNz")).is_err());
        assert!(bearer_token(&headers("Bearer")).is_err());
        assert!(bearer_token(&headers("abc")).is_err());
    }
}
