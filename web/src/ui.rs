//! The browser UI: the static files of `client/ui/`, embedded into the binary, and the login.
//!
//! - `/assets/*`: the UI's scripts, styles and icon, to anyone (they hold no data).
//! - The page paths (`/`, `/posts/{id}`, `/users/{id}`, `/followers`, `/following`,
//!   `/notifications`, `/network`, `/settings`): the app shell `index.html` to a browser with a
//!   session; any other request is sent to `/login` (303). The shell fetches everything else
//!   from `/api/v1/` with the session cookie.
//! - `GET /login`: the login page; with `?code=` a one-time login code is redeemed for a
//!   session cookie. `POST /login` checks the password set with `kith passwd`.
//!
//! Every UI response carries a strict Content-Security-Policy (scripts, styles, connections and
//! forms only from this origin, no framing), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`, so that neither a post's text nor a login code in the address
//! bar can leak to, or be acted on by, another site.

use std::{path::PathBuf, sync::Arc};

use axum::{
    Form, Router,
    extract::{Path, Query, State, rejection::FormRejection},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rust_embed::RustEmbed;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{
    AppState, auth,
    error::ApiError,
    router::{Endpoint, Verb},
    session::{Opened, set_cookie},
};

/// The UI's files (`client/ui/`), embedded at build time.
#[derive(RustEmbed)]
#[folder = "../client/ui/"]
struct Assets;

/// The paths the app shell answers (client-side routes).
const PAGES: &[&str] = &[
    "/",
    "/posts/{id}",
    "/users/{peer_id}",
    "/followers",
    "/following",
    "/notifications",
    "/network",
    "/settings",
    "/search",
];

/// The Content-Security-Policy of every UI response.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     form-action 'self'; base-uri 'none'";

/// Password attempts: a burst of 5, then one every 2 seconds, for the whole node.
const LOGIN_BURST: u32 = 5;

/// What the login needs besides the sessions: the password file and the attempt limiter.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    /// `<data-dir>/ui.password`, when the node was given a data dir (`None`: no password login).
    pub password_file: Option<PathBuf>,
    /// Password attempts, for the whole node.
    pub attempts: Arc<DefaultDirectRateLimiter>,
}

impl Default for Login {
    fn default() -> Self {
        let quota = Quota::with_period(std::time::Duration::from_secs(2))
            .expect("2 s is a non-zero period")
            .allow_burst(std::num::NonZeroU32::new(LOGIN_BURST).expect("5 is not zero"));
        Login {
            password_file: None,
            attempts: Arc::new(RateLimiter::direct(quota)),
        }
    }
}

/// The login rows of the endpoint table (documented in the OpenAPI document).
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/login", login_page),
        Endpoint::new(Verb::Post, "/login", login_password),
    ]
}

/// The pages and the assets, with the UI's security headers. (Not in the endpoint table: they
/// are the browser app, not API endpoints.)
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/assets/{*file}", get(asset));
    for page in PAGES {
        router = router.route(page, get(app_shell));
    }
    router.layer(middleware::map_response(|response: Response| async {
        secured(response)
    }))
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(login_page, login_password))]
pub(crate) struct Docs;

/// An embedded file as a response, or 404.
fn file(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                // Always revalidated: a new binary serves new files at the same paths.
                (header::CACHE_CONTROL, "no-cache".to_owned()),
            ],
            file.data,
        )
            .into_response(),
        None => ApiError::not_found(format!("no UI file {path}")).into_response(),
    }
}

async fn asset(Path(file_path): Path<String>) -> Response {
    file(&format!("assets/{file_path}"))
}

async fn app_shell(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if auth::has_session(&state, &headers) {
        file("index.html")
    } else {
        Redirect::to("/login").into_response()
    }
}

/// The query of `GET /login`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LoginQuery {
    /// A one-time login code (from `kith run`'s banner, `kith login` or
    /// `POST /api/v1/session/links`).
    code: Option<String>,
    /// An error to show on the login page (set by the node's own redirects).
    #[allow(dead_code)]
    error: Option<String>,
}

/// The login page; with `?code=`, logs the browser in.
///
/// A valid code (it works once, for an hour) opens a session: `303` to `/` with the session
/// cookie. A used, expired or unknown code: `303` back to `/login?error=…`. Without a code: the
/// login page (or `303` to `/` for a browser that is already logged in).
#[utoipa::path(
    get,
    path = "/login",
    tag = "ui",
    security(()),
    params(LoginQuery),
    responses(
        (status = 200, description = "The login page", content_type = "text/html"),
        (status = 303, description = "Logged in (to `/`, with `Set-Cookie`), already logged in, or a bad code (to `/login?error=…`)"),
    )
)]
async fn login_page(
    State(state): State<AppState>,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let code = query.ok().and_then(|Query(query)| query.code);
    let response = match code {
        Some(code) => match state.sessions.redeem(&code).await {
            Ok(Some(opened)) => logged_in(&opened),
            Err(error) => session_not_opened(&error),
            Ok(None) => back_to_login(
                "This login link was already used or has expired. Run `kith login` on the \
                 node's machine for a new one.",
            ),
        },
        None if auth::has_session(&state, &headers) => Redirect::to("/").into_response(),
        None => file("login.html"),
    };
    secured(response)
}

/// The form of `POST /login`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PasswordForm {
    /// The password set with `kith passwd`.
    password: String,
}

/// Logs the browser in with the password set with `kith passwd`
/// (`application/x-www-form-urlencoded`, field `password`).
///
/// `303` to `/` with the session cookie; `303` to `/login?error=…` for a wrong password, no
/// password set, too many attempts (5 at once, then one every 2 s) or a form from another site.
#[utoipa::path(
    post,
    path = "/login",
    tag = "ui",
    security(()),
    request_body(content = PasswordForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in (to `/`, with `Set-Cookie`) or refused (to `/login?error=…`)"),
    )
)]
async fn login_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    secured(check_password(&state, &headers, form).await)
}

async fn check_password(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    // Another site must not log this browser in to anything (login CSRF).
    if auth::check_origin(headers).is_err() {
        return back_to_login("The login form must be sent from this node's own login page.");
    }
    let Ok(Form(form)) = form else {
        return back_to_login("The login form was not filled in as expected.");
    };
    let Some(path) = state.login.password_file.clone() else {
        return back_to_login("This node has no password login. Use a login link.");
    };
    if state.login.attempts.check().is_err() {
        return back_to_login("Too many attempts. Wait a few seconds and try again.");
    }
    let checked =
        tokio::task::spawn_blocking(move || kith_config::verify_password(&path, &form.password))
            .await;
    match checked {
        Ok(Ok(Some(true))) => match state.sessions.open().await {
            Ok(opened) => logged_in(&opened),
            Err(error) => session_not_opened(&error),
        },
        Ok(Ok(Some(false))) => back_to_login("Wrong password."),
        Ok(Ok(None)) => back_to_login(
            "No password is set for this node. Set one with `kith passwd`, or use a login link.",
        ),
        Ok(Err(error)) => {
            tracing::error!(%error, "reading the UI password file");
            back_to_login("The node could not check the password; see its log.")
        }
        Err(error) => {
            tracing::error!(%error, "the password check failed");
            back_to_login("The node could not check the password; see its log.")
        }
    }
}

/// `303` back to the login page: the store could not record the session.
fn session_not_opened(error: &kith_storage::Error) -> Response {
    tracing::error!(%error, "recording a browser session");
    back_to_login("The node could not record the session; see its log.")
}

/// `303` to `/` with the new session's cookie.
fn logged_in(opened: &Opened) -> Response {
    let mut response = Redirect::to("/").into_response();
    match HeaderValue::from_str(&set_cookie(&opened.token)) {
        Ok(cookie) => {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        // Tokens are base64url: always a valid header value.
        Err(_) => *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    response
}

/// `303` to the login page, showing `message`.
fn back_to_login(message: &str) -> Response {
    let query: String = form_urlencoded::byte_serialize(message.as_bytes()).collect();
    Redirect::to(&format!("/login?error={query}")).into_response()
}

/// Adds the UI's security headers to a response (every page and asset; the login routes, which
/// live in the endpoint table, call it themselves).
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_pages_load_is_embedded() {
        for path in [
            "index.html",
            "login.html",
            "assets/app.js",
            "assets/style.css",
        ] {
            assert!(Assets::get(path).is_some(), "{path} is not embedded");
        }
        let js = Assets::get("assets/app.js").unwrap();
        assert!(
            js.metadata.mimetype().contains("javascript"),
            "module scripts need a JavaScript MIME type, not {}",
            js.metadata.mimetype()
        );
    }
}
