//! [`AppState`]: what the handlers share.

use std::sync::Arc;

use kith_config::ApiToken;
use kith_node::NetworkService;
use prometheus_client::registry::Registry;

/// The state every handler can reach. Cheap to clone (a service handle and two `Arc`s).
#[derive(Clone)]
pub struct AppState {
    pub(crate) network: NetworkService,
    pub(crate) api_token: Arc<ApiToken>,
    pub(crate) metrics: Arc<Registry>,
}

impl AppState {
    /// State over a running node's network service, with the API token that `/api/v1/` requires
    /// and the registry that `/metrics` exports.
    pub fn new(network: NetworkService, api_token: ApiToken, metrics: Arc<Registry>) -> Self {
        AppState {
            network,
            api_token: Arc::new(api_token),
            metrics,
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
