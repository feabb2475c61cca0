//! The JSON bodies of the node's local HTTP API (`/api/v1/...`) that are not wire objects.
//!
//! They live here, next to the wire contract, because both sides need them: the web crate
//! serializes them and the client crate (which depends on this crate only) deserializes them.

use kith_config::Role;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::{ErrorCode, PeerSource};

/// A peer as the owner sees it: the peer book merged with the live connection state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PeerView {
    /// The peer's id.
    pub peer_id: PeerId,
    /// Whether a connection is open right now.
    pub connected: bool,
    /// Known addresses (for a peer we dialed, the live remote address comes first).
    pub addrs: Vec<Multiaddr>,
    /// How the peer was first found.
    pub source: PeerSource,
    /// The role the peer reported in its info, once verified.
    pub role: Option<Role>,
    /// Latest measured round-trip time.
    pub rtt_ms: Option<u32>,
    /// First time the peer turned up (unix ms).
    pub first_seen_ms: Option<u64>,
    /// Latest time the peer turned up (unix ms).
    pub last_seen_ms: Option<u64>,
    /// Latest time it was verified as a member of our network (unix ms).
    pub last_connected_ms: Option<u64>,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// Why the latest attempt failed.
    pub last_failure: Option<String>,
    /// Why we disconnected it for good, if we did (another network, incompatible version).
    pub rejected: Option<String>,
    /// Its software, e.g. `kith/0.1.0`.
    pub agent_version: Option<String>,
}

/// `POST /api/v1/peers`: connect to a peer by address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AddPeerRequest {
    /// A TCP multiaddr, with or without a `/p2p/` component.
    pub addr: Multiaddr,
}

/// The answer to `POST /api/v1/peers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddPeerResponse {
    /// The peer at that address, when known.
    pub peer_id: Option<PeerId>,
}

/// `GET /api/v1/network/invite`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InviteView {
    /// The invite code (`kith1…`): the network key plus this node's dialable addresses.
    pub invite: String,
    /// The addresses inside the code.
    pub addrs: Vec<Multiaddr>,
    /// The network key's fingerprint, safe to show.
    pub network: String,
}

/// `POST /api/v1/blocks`: block a peer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Whom to block.
    pub peer_id: PeerId,
    /// Why, for the owner's own notes.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One entry of `GET /api/v1/blocks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlockView {
    /// The blocked peer.
    pub peer_id: PeerId,
    /// The owner's note.
    pub reason: Option<String>,
    /// Since when (unix ms).
    pub since_ms: u64,
}

/// The body of every HTTP error: `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// The error.
    pub error: ApiErrorDetail,
}

/// The inside of [`ApiErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiErrorDetail {
    /// One of the wire's error codes.
    pub code: ErrorCode,
    /// A message for people.
    pub message: String,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusView {
    /// `ok`, `ready` or `starting`.
    pub status: String,
}
