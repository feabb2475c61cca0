//! The services: the node's rules, called by both the route handlers (other nodes) and the
//! HTTP handlers (the owner). A rule lives in exactly one of these.

mod network;
mod social;

pub use network::{JoinOutcome, NetworkService};
pub use social::{MAX_PAGE, SocialService, SyncReport};
// Search.
pub use social::{
    DEFAULT_SEARCH_LIMIT, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT, MIN_ID_FRAGMENT, SEARCH_SCAN_BUDGET,
};
pub(crate) use social::{SocialConfig, SocialMetrics, profile_summary, spawn_social_tasks};
