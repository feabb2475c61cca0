//! The private network: `GET /api/v1/network/invite` (an invite code to it) and `POST
//! /api/v1/network/join` (join the network of someone else's invite code).
//!
//! An invite code contains the network key: it is a secret, only for the owner (hence behind
//! auth), to be passed on to people they invite.
//!
//! Joining another network replaces the node's network key, which cuts it off from everyone
//! on its current network and takes a restart, so the node does it only when the request says
//! `"replace": true`. Without it the answer is `409 Conflict`: the one answer of this API whose
//! status does not come from its wire code (no code means "conflicts with the node's state"):
//! it carries `invalid-request`, as the other HTTP-specific answers (405, 413) do.

use axum::extract::State;
use kith_node::JoinOutcome;
use kith_protocols::{ApiErrorBody, InviteView, JoinRequest, JoinView};
use utoipa::OpenApi;

use crate::{
    AppState,
    error::ApiError,
    extract::ApiJson,
    router::{Endpoint, Verb},
};

/// `/network/...`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Verb::Get, "/api/v1/network/invite", invite),
        Endpoint::new(Verb::Post, "/api/v1/network/join", join),
    ]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(invite, join))]
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

/// Joins the network of an invite code.
///
/// An invite for this node's own network: the node connects to the invite's peers (`dialed`
/// says how many) and nothing else changes. An invite for another network: `409` unless
/// `replace` is `true`; with it, the invite's network key and bootstrap peers are stored as
/// `kith join --replace CODE` stores them (the old key is kept as a backup next to it) and the
/// node must be restarted to switch (`restart_required`).
#[utoipa::path(
    post,
    path = "/api/v1/network/join",
    tag = "network",
    request_body = JoinRequest,
    responses(
        (status = 200, description = "Joined, or on this network already", body = JoinView),
        (status = 400, description = "Not an invite code", body = ApiErrorBody),
        (status = 409, description = "The invite is for another network and `replace` was not \
            set (code `invalid-request`); nothing changed", body = ApiErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(replace = request.replace))]
pub(crate) async fn join(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<JoinRequest>,
) -> Result<ApiJson<JoinView>, ApiError> {
    match state.network.join(&request.invite, request.replace).await? {
        JoinOutcome::Joined(view) => Ok(ApiJson(view)),
        JoinOutcome::OtherNetwork { current, invited } => Err(ApiError::conflict(format!(
            "this invite is for network {invited} and this node is on network {current}: \
             joining replaces the node's network key (the old one is kept as a backup) and needs \
             a restart; send \"replace\": true to do it"
        ))),
    }
}
