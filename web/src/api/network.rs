//! `GET /api/v1/network/invite`: an invite code to this node's private network.
//!
//! The code contains the network key: it is a secret, only for the owner (hence behind auth),
//! to be passed on to people they invite.

use axum::{Router, extract::State, routing::get};
use kith_protocols::InviteView;

use crate::{AppState, error::ApiError, extract::ApiJson};

/// `/network/...`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/network/invite", get(invite))
}

async fn invite(State(state): State<AppState>) -> Result<ApiJson<InviteView>, ApiError> {
    let invite = state.network.invite()?;
    Ok(ApiJson(InviteView {
        invite: invite.encode(),
        addrs: invite.addrs,
        network: state.network.node().network().to_owned(),
    }))
}
