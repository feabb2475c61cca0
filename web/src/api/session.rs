//! `/api/v1/session`: the caller's session (the UI's CSRF token), logout, and one-time login
//! links for browsers (`kith login`).

use axum::{
    Extension,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use kith_protocols::{LoginLink, SessionView};
use utoipa::OpenApi;

use crate::{
    AppState,
    auth::CookieSession,
    error::ApiError,
    extract::ApiJson,
    router::{Endpoint, Verb},
    session::clear_cookie,
};

/// `/session...`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/session", session),
        Endpoint::new(Verb::Delete, "/api/v1/session", logout),
        Endpoint::new(Verb::Post, "/api/v1/session/links", login_link),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(session, logout, login_link))]
pub(crate) struct Docs;

/// How the caller is authenticated; for a browser session, its CSRF token.
///
/// The UI reads `csrf_token` once and sends it in `X-CSRF-Token` on every POST, PUT and DELETE.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "session",
    responses(
        (status = 200, description = "The session", body = SessionView),
    )
)]
pub(crate) async fn session(cookie: Option<Extension<CookieSession>>) -> ApiJson<SessionView> {
    ApiJson(match cookie {
        Some(Extension(cookie)) => SessionView {
            via: "cookie".to_owned(),
            csrf_token: Some(cookie.session.csrf_token),
            expires_at: Some(cookie.session.expires_at),
        },
        None => SessionView {
            via: "token".to_owned(),
            csrf_token: None,
            expires_at: None,
        },
    })
}

/// Logs the browser out: ends its session and clears the cookie (`204`). With the bearer token
/// there is no session to end: also `204`.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    responses(
        (status = 204, description = "Logged out"),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    cookie: Option<Extension<CookieSession>>,
) -> Response {
    if let Some(Extension(cookie)) = cookie
        && let Err(error) = state.sessions.close(&cookie.token).await
    {
        return ApiError::internal(&error).into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A new one-time login link (valid for an hour, works once), for the address the request was
/// sent to.
#[utoipa::path(
    post,
    path = "/api/v1/session/links",
    tag = "session",
    responses(
        (status = 201, description = "The link", body = LoginLink),
    )
)]
pub(crate) async fn login_link(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> (StatusCode, ApiJson<LoginLink>) {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| is_plain_host(host))
        .unwrap_or("127.0.0.1");
    let link = state.login_link(&format!("http://{host}"));
    (StatusCode::CREATED, ApiJson(link))
}

/// Whether `host` is a bare `host[:port]` (nothing that would change the link's meaning).
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}
