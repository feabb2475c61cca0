//! The Kith node: a private libp2p network member and the services that run on it.
//!
//! # Brief overview
//!
//! - [`Node`] starts everything from a [`NodeConfig`] and a [`kith_storage::Store`], and returns
//!   once its listeners are bound. It owns the tasks and stops them in [`Node::shutdown`].
//! - The **event loop** (private) is the only code that touches the libp2p swarm. Its composed
//!   behaviour is [`Behaviour`]; its transport comes from [`build_transport`], the one function
//!   that builds TCP → private network (PSK) → Noise → yamux.
//! - [`NodeHandle`] is the cheap-clone front: commands go in over a bounded channel,
//!   [`NodeEvent`]s come out over a broadcast, and [`RouteClient`] calls other nodes' routes.
//! - The **peer-found pipeline** (module `discovery`) receives every [`PeerFound`] from every
//!   discovery source and applies the same rules to all of them: rate limit, skip, blocklist,
//!   dial, ask for info, check, record.
//! - The **dispatcher** serves a [`Router`] of `/visibility/op/domain/version` routes, each its
//!   own libp2p protocol, one task per inbound stream, behind one middleware chain ([`Policy`]).
//! - **Services** ([`NetworkService`]) hold the rules; route handlers and the HTTP API both call
//!   them, so a rule lives in one place.
//!
//! A request from another node flows: TCP → PSK → Noise → yamux → libp2p-stream protocol for the
//! route → dispatcher task (frame size limit, envelope, policy, deadline) → handler → service.

#![deny(missing_docs)]

mod addresses;
mod behaviour;
mod discovery;
mod dispatch;
mod error;
mod event_loop;
mod handle;
mod node;
mod reach;
mod services;
mod state;
mod transport;

pub use behaviour::{Behaviour, IDENTIFY_PROTOCOL, KAD_PROTOCOL};
pub use discovery::PeerFound;
pub use dispatch::{Handler, Policy, RequestContext, RouteClient, Router};
pub use error::Error;
pub use handle::NodeHandle;
pub use node::{Node, NodeConfig};
pub use services::{JoinOutcome, MAX_PAGE, NetworkService, SocialService, SyncReport};
// Search.
pub use services::{
    DEFAULT_SEARCH_LIMIT, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT, MIN_ID_FRAGMENT, SEARCH_SCAN_BUDGET,
};
pub use state::{Connection, now_ms};
pub use transport::{TransportKind, build_transport, check_address};

use kith_protocols::{EventView, NodeInfo};
use libp2p::PeerId;

/// Something that happened on the node, for subscribers (the web UI's event stream, tests).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeEvent {
    /// The first connection to a peer opened.
    PeerConnected {
        /// The peer.
        peer: PeerId,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// The pipeline started dialing a peer.
    DialStarted {
        /// The peer.
        peer: PeerId,
    },
    /// A peer answered its info and belongs to our network.
    PeerVerified {
        /// The peer.
        peer: PeerId,
        /// What it said about itself.
        info: Box<NodeInfo>,
    },
    /// Dialing or checking a peer failed; it will be retried after a backoff.
    PeerFailed {
        /// The peer.
        peer: PeerId,
        /// What went wrong.
        reason: String,
    },
    /// A peer was disconnected because it does not belong (another network, incompatible).
    PeerRejected {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// How the node can be reached changed (a probe, a port mapping, a relay reservation).
    Reachability(Box<kith_protocols::Reachability>),
    /// Something the owner sees happened in the social core (a post arrived, a follow changed).
    Social(Box<EventView>),
}

impl NodeEvent {
    /// What the owner's event stream shows of this event, if anything.
    pub fn to_view(&self) -> Option<EventView> {
        match self {
            NodeEvent::PeerConnected { peer } => Some(EventView::PeerConnected { peer_id: *peer }),
            NodeEvent::PeerDisconnected { peer } => {
                Some(EventView::PeerDisconnected { peer_id: *peer })
            }
            NodeEvent::Social(view) => Some((**view).clone()),
            NodeEvent::DialStarted { .. }
            | NodeEvent::PeerVerified { .. }
            | NodeEvent::PeerFailed { .. }
            | NodeEvent::PeerRejected { .. }
            | NodeEvent::Reachability(_) => None,
        }
    }
}
