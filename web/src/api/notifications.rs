//! `GET /api/v1/notifications`: what happened to the owner (replies to and likes of their
//! posts, new followers and follow requests), newest first, a page at a time.
//!
//! The node records each notification together with its cause and announces it on the event
//! stream (`notification`), so a client lists this once and then follows the stream.

use axum::extract::State;
use kith_protocols::{ApiErrorBody, NotificationPage};
use utoipa::OpenApi;

use crate::{
    AppState,
    api::PageQuery,
    error::ApiError,
    extract::{ApiJson, ApiQuery},
    router::{Endpoint, Verb},
};

/// `/notifications`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(
        Verb::Get,
        "/api/v1/notifications",
        notifications,
    )]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(notifications))]
pub(crate) struct Docs;

/// The owner's notifications, newest first.
///
/// `kind` is `reply` (`post` is the reply), `like` (`post` is the owner's liked post),
/// `follow` or `follow_request` (no `post`); `at` is when this node learned of it. Pass the
/// page's `next` as `before` for the following page.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationPage),
        (status = 400, description = "A bad limit or cursor", body = ApiErrorBody),
    )
)]
pub(crate) async fn notifications(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<NotificationPage>, ApiError> {
    let limit = page.limit()?;
    Ok(ApiJson(state.social.notifications(limit, page.before())?))
}
