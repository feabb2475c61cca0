//! The owner's own profile: `GET /api/v1/profile` and `PUT /api/v1/profile` (change some fields;
//! the node signs the new version and sends it to followers).

use axum::extract::State;
use kith_protocols::{ApiErrorBody, ProfileUpdate, ProfileView};
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::ApiJson,
    router::{Endpoint, Verb},
};

/// `/profile`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/profile", get_profile),
        Endpoint::new(Verb::Put, "/api/v1/profile", update_profile),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(get_profile, update_profile))]
pub(crate) struct Docs;

/// The owner's profile.
#[utoipa::path(
    get,
    path = "/api/v1/profile",
    tag = "profile",
    responses((status = 200, description = "The owner's profile", body = ProfileView))
)]
pub(crate) async fn get_profile(
    State(state): State<AppState>,
) -> Result<ApiJson<ProfileView>, ApiError> {
    Ok(ApiJson(state.social.profile()?))
}

/// Changes the owner's profile: absent fields keep their value.
#[utoipa::path(
    put,
    path = "/api/v1/profile",
    tag = "profile",
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The new profile", body = ProfileView),
        (status = 400, description = "A field is too long or not valid", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn update_profile(
    State(state): State<AppState>,
    ApiJson(update): ApiJson<ProfileUpdate>,
) -> Result<ApiJson<ProfileView>, ApiError> {
    Ok(ApiJson(state.social.update_profile(update).await?))
}
