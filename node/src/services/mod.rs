//! The services: the node's rules, called by both the route handlers (other nodes) and the
//! HTTP handlers (the owner). A rule lives in exactly one of these.

mod network;
mod social;

pub use network::{JoinOutcome, NetworkService};
pub use social::{MAX_PAGE, SocialService, SyncReport};
pub(crate) use social::{SocialConfig, SocialMetrics, profile_summary, spawn_social_tasks};
