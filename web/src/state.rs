//! [`AppState`]: what the handlers share.

use std::sync::Arc;

use kith_config::ApiToken;
use kith_node::{NetworkService, Node, SocialService};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

/// The state every handler can reach. Cheap to clone (service handles, `Arc`s and a token).
#[derive(Clone)]
pub struct AppState {
    pub(crate) network: NetworkService,
    pub(crate) social: SocialService,
    pub(crate) api_token: Arc<ApiToken>,
    pub(crate) metrics: Arc<Registry>,
    /// Cancelled when long-lived responses (the event stream) must end: a child of the node's
    /// shutdown token, and [`serve`](crate::serve) makes its own child that it cancels when the
    /// server starts its graceful shutdown (an open stream would otherwise hold that shutdown
    /// up until its deadline).
    pub(crate) streams_end: CancellationToken,
}

impl AppState {
    /// State over a running node's services, with the API token that `/api/v1/` requires. The
    /// node's metrics registry is what `/metrics` exports.
    pub fn new(node: &Node, api_token: ApiToken) -> Self {
        AppState {
            network: node.network().clone(),
            social: node.social().clone(),
            api_token: Arc::new(api_token),
            metrics: node.metrics(),
            streams_end: node.shutdown_token().child_token(),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token's own Debug is redacted; the registry's is noise.
        f.debug_struct("AppState")
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}
