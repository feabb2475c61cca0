//! Posts and the home timeline: `POST /api/v1/posts` (write one), `GET` and `DELETE
//! /api/v1/posts/{id}`, `POST /api/v1/posts/{id}/like`, `GET /api/v1/posts/{id}/replies` (the
//! replies this node holds, newest first) and `GET /api/v1/timeline` (the owner's and their
//! followees' posts, newest first, a page at a time).

use axum::{extract::State, http::StatusCode};
use kith_protocols::{ApiErrorBody, NewPost, ObjectId, PostPage, PostView};
use utoipa::OpenApi;

use crate::{
    AppState,
    api::PageQuery,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    router::{Endpoint, Verb},
};

/// `/posts...` and `/timeline`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Post, "/api/v1/posts", create_post),
        Endpoint::new(Verb::Get, "/api/v1/posts/{id}", get_post),
        Endpoint::new(Verb::Delete, "/api/v1/posts/{id}", delete_post),
        Endpoint::new(Verb::Post, "/api/v1/posts/{id}/like", like_post),
        Endpoint::new(Verb::Get, "/api/v1/posts/{id}/replies", replies),
        Endpoint::new(Verb::Get, "/api/v1/timeline", timeline),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(create_post, get_post, delete_post, like_post, replies, timeline))]
pub(crate) struct Docs;

/// Writes a post as the owner.
///
/// The post is signed, stored durably and sent to followers; the answer is the stored post.
#[utoipa::path(
    post,
    path = "/api/v1/posts",
    tag = "posts",
    request_body = NewPost,
    responses(
        (status = 201, description = "The stored post", body = PostView),
        (status = 400, description = "Empty or too long text, or a bad reply/quote id", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn create_post(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewPost>,
) -> Result<(StatusCode, ApiJson<PostView>), ApiError> {
    let post = state.social.create_post(new).await?;
    Ok((StatusCode::CREATED, ApiJson(post)))
}

/// One post by id.
#[utoipa::path(
    get,
    path = "/api/v1/posts/{id}",
    tag = "posts",
    params(("id" = String, Path, description = "The post's id: 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The post", body = PostView),
        (status = 400, description = "Not a post id", body = ApiErrorBody),
        (status = 404, description = "No such post here", body = ApiErrorBody),
    )
)]
pub(crate) async fn get_post(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ObjectId>,
) -> Result<ApiJson<PostView>, ApiError> {
    Ok(ApiJson(state.social.post(&id)?))
}

/// Deletes one of the owner's posts (followers are told, with a signed delete).
#[utoipa::path(
    delete,
    path = "/api/v1/posts/{id}",
    tag = "posts",
    params(("id" = String, Path, description = "The post's id: 64 lowercase hex digits")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a post id", body = ApiErrorBody),
        (status = 403, description = "Someone else's post", body = ApiErrorBody),
        (status = 404, description = "No such post here", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(post = %id))]
pub(crate) async fn delete_post(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ObjectId>,
) -> Result<StatusCode, ApiError> {
    state.social.delete_post(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Likes a post as the owner; liking twice counts once.
#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/like",
    tag = "posts",
    params(("id" = String, Path, description = "The post's id: 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The post, with its new like count", body = PostView),
        (status = 400, description = "Not a post id", body = ApiErrorBody),
        (status = 404, description = "No such post here", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(post = %id))]
pub(crate) async fn like_post(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ObjectId>,
) -> Result<ApiJson<PostView>, ApiError> {
    Ok(ApiJson(state.social.like(&id).await?))
}

/// The replies to a post that this node holds, newest first.
///
/// A node holds the replies to the owner's posts (from anyone) and the replies its followees
/// wrote. Paged like the timeline.
#[utoipa::path(
    get,
    path = "/api/v1/posts/{id}/replies",
    tag = "posts",
    params(("id" = String, Path, description = "The post's id: 64 lowercase hex digits"), PageQuery),
    responses(
        (status = 200, description = "A page of replies, newest first", body = PostPage),
        (status = 400, description = "Not a post id, or a bad limit or cursor", body = ApiErrorBody),
        (status = 404, description = "No such post here", body = ApiErrorBody),
    )
)]
pub(crate) async fn replies(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ObjectId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<PostPage>, ApiError> {
    let limit = page.limit()?;
    Ok(ApiJson(state.social.replies(&id, limit, page.before())?))
}

/// The home timeline: the owner's posts and their followees', newest first.
///
/// Pass the page's `next` as `before` for the following page; `next` is `null` at the end.
#[utoipa::path(
    get,
    path = "/api/v1/timeline",
    tag = "posts",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of posts", body = PostPage),
        (status = 400, description = "A bad limit or cursor", body = ApiErrorBody),
    )
)]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<PostPage>, ApiError> {
    let limit = page.limit()?;
    Ok(ApiJson(state.social.timeline(limit, page.before())?))
}
