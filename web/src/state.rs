//! [`AppState`]: what the handlers share.

use std::{path::PathBuf, sync::Arc};

use kith_config::ApiToken;
use kith_node::{NetworkService, Node, SocialService};
use kith_protocols::LoginLink;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::{session::Sessions, ui::Login};

/// The state every handler can reach. Cheap to clone (service handles, `Arc`s and a token).
#[derive(Clone)]
pub struct AppState {
    pub(crate) network: NetworkService,
    pub(crate) social: SocialService,
    pub(crate) api_token: Arc<ApiToken>,
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) login: Login,
    pub(crate) metrics: Arc<Registry>,
    pub(crate) streams_end: CancellationToken,
}

impl AppState {
    /// The state of `node`'s API, which accepts `api_token` as a bearer token and login links
    /// for browsers, whose sessions it keeps in the node's store. There is no password login
    /// until [`AppState::with_password_file`].
    pub async fn new(node: &Node, api_token: ApiToken) -> Self {
        AppState {
            network: node.network().clone(),
            social: node.social().clone(),
            api_token: Arc::new(api_token),
            sessions: Arc::new(Sessions::load(node.store().browser_sessions()).await),
            login: Login::default(),
            metrics: node.metrics(),
            streams_end: node.shutdown_token().child_token(),
        }
    }

    /// Lets browsers log in with the password whose hash `kith passwd` writes to `path` (read
    /// at every attempt, so a new password works at once).
    #[must_use]
    pub fn with_password_file(mut self, path: PathBuf) -> Self {
        self.login.password_file = Some(path);
        self
    }

    /// A new one-time login link to the UI at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn login_link(&self, base: &str) -> LoginLink {
        let (code, expires_at) = self.sessions.new_login_code();
        LoginLink {
            url: format!("{}/login?code={code}", base.trim_end_matches('/')),
            expires_at,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}
