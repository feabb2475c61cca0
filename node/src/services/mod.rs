//! The services: the node's rules, called by both the route handlers (other nodes) and the
//! HTTP handlers (the owner). A rule lives in exactly one of these.

mod network;

pub use network::NetworkService;
