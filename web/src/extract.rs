//! Extractor and response wrappers whose every rejection is an [`ApiError`].
//!
//! axum's own `Json` and `Path` answer a bad request with a plain-text body and their own choice
//! of status (415, 422, …). These wrappers run the same extractors and convert the rejection, so
//! a client always gets the API's JSON error with code `invalid-request`: a body that is not
//! JSON, a missing `Content-Type`, a body that does not match the expected shape, a malformed
//! peer id or post id in the path, a query parameter that does not parse, a body over the size
//! limit (413).

use axum::{
    extract::{FromRequest, FromRequestParts},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::error::ApiError;

/// A JSON request body, or a JSON response body.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        // axum's Json answers a serialization failure with a plain-text 500; ours stays JSON.
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(error) => ApiError::internal(&error).into_response(),
        }
    }
}

/// Path parameters, e.g. the `{peer_id}` of `/api/v1/blocks/{peer_id}`.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub T);

/// The query string, e.g. the `?limit=20&before=...` of `/api/v1/timeline`.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);
