//! `GET /api/v1/network/invite`: an invite code to this node's private network.
//!
//! The code contains the network key: it is a secret, only for the owner (hence behind auth),
//! to be passed on to people they invite.

use axum::extract::State;
use kith_protocols::InviteView;
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::ApiJson,
    router::{Endpoint, Verb},
};

/// `/network/...`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Verb::Get, "/api/v1/network/invite", invite)]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(invite))]
pub(crate) struct Docs;

/// An invite code to this node's network.
///
/// The code holds the network key plus this node's dialable addresses: a secret for the people
/// the owner invites (`kith join CODE`).
#[utoipa::path(
    get,
    path = "/api/v1/network/invite",
    tag = "network",
    responses(
        (status = 200, description = "The invite", body = InviteView),
    )
)]
pub(crate) async fn invite(State(state): State<AppState>) -> Result<ApiJson<InviteView>, ApiError> {
    let invite = state.network.invite()?;
    Ok(ApiJson(InviteView {
        invite: invite.encode(),
        addrs: invite.addrs,
        network: state.network.node().network().to_owned(),
    }))
}
