//! Bodies of the HTTP API's session endpoints (`/api/v1/session`, `/api/v1/session/links`):
//! how the browser UI and `kith login` get in.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/session`: how the caller is authenticated, and the CSRF token a cookie session
/// must send in `X-CSRF-Token` on every request that changes something.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    /// `cookie` (a browser session) or `token` (the bearer token).
    pub via: String,
    /// The session's CSRF token (`null` for bearer requests, which need none).
    pub csrf_token: Option<String>,
    /// When the session ends (unix ms; `null` for bearer requests).
    pub expires_at: Option<u64>,
}

/// `POST /api/v1/session/links`: a one-time login link for a browser.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginLink {
    /// Open it in a browser to log in (it works once).
    pub url: String,
    /// When it stops working (unix ms).
    pub expires_at: u64,
}
