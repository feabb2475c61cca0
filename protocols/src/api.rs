//! The JSON bodies of the node's local HTTP API (`/api/v1/...`) that are not wire objects.
//!
//! They live here, next to the wire contract, because both sides need them: the web crate
//! serializes them and the client crate (which depends on this crate only) deserializes them.

use kith_config::Role;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::{ErrorCode, FollowOutcome, ObjectId, PeerSource};

/// A peer as the owner sees it: the peer book merged with the live connection state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeerView {
    /// The peer's id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Whether a connection is open right now.
    pub connected: bool,
    /// Known addresses (for a peer we dialed, the live remote address comes first).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub addrs: Vec<Multiaddr>,
    /// How the peer was first found.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub source: PeerSource,
    /// The role the peer reported in its info, once verified.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddPeerRequest {
    /// A TCP multiaddr, with or without a `/p2p/` component.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub addr: Multiaddr,
}

/// The answer to `POST /api/v1/peers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddPeerResponse {
    /// The peer at that address, when known.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub peer_id: Option<PeerId>,
}

/// `GET /api/v1/network/invite`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteView {
    /// The invite code (`kith1…`): the network key plus this node's dialable addresses.
    pub invite: String,
    /// The addresses inside the code.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub addrs: Vec<Multiaddr>,
    /// The network key's fingerprint, safe to show.
    pub network: String,
}

/// `POST /api/v1/blocks`: block a peer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Whom to block.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Why, for the owner's own notes.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One entry of `GET /api/v1/blocks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockView {
    /// The blocked peer.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// The owner's note.
    pub reason: Option<String>,
    /// Since when (unix ms).
    pub since_ms: u64,
}

/// The body of every HTTP error: `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// The error.
    pub error: ApiErrorDetail,
}

/// The inside of [`ApiErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorDetail {
    /// One of the wire's error codes.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: ErrorCode,
    /// A message for people.
    pub message: String,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusView {
    /// `ok`, `ready` or `starting`.
    pub status: String,
}

/// `POST /api/v1/posts`: `{"text":"...","reply_to"?:id,"quote_of"?:id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    /// The text (the node's post length limit applies).
    pub text: String,
    /// The post this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reply_to: Option<ObjectId>,
    /// The post this one quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub quote_of: Option<ObjectId>,
}

/// A post as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostView {
    /// The post's id (SHA-256 of its canonical form).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ObjectId,
    /// Its author.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub author: PeerId,
    /// The author's display name, when their profile is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// When the author wrote it (unix ms, the author's clock).
    pub created_at: u64,
    /// The text.
    pub text: String,
    /// The post this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reply_to: Option<ObjectId>,
    /// The post this one quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub quote_of: Option<ObjectId>,
    /// How many likes this node knows of.
    #[serde(default)]
    pub like_count: u64,
}

/// A page of posts, newest first: `{"posts":[...],"next":cursor|null}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostPage {
    /// The posts.
    pub posts: Vec<PostView>,
    /// Pass as `before` for the next page; `null` at the end.
    pub next: Option<String>,
}

/// A person's profile as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileView {
    /// The name shown; may be empty.
    pub display_name: String,
    /// Free text; may be empty.
    #[serde(default)]
    pub bio: String,
    /// A reference to their picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Whether they approve followers.
    #[serde(default)]
    pub locked: bool,
    /// When this version of the profile was signed (unix ms); absent for a summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<u64>,
}

/// `PUT /api/v1/profile`: the fields to change; absent fields keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New bio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    /// New avatar reference (`""` removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Lock or unlock the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

/// `GET /api/v1/users/{peer_id}`: a person and how they relate to the owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    /// Their peer id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Whether this is the owner.
    pub is_self: bool,
    /// Their profile, when known (only a summary for a locked account the owner does not
    /// follow).
    pub profile: Option<ProfileView>,
    /// Where the owner's follow of them stands, if the owner follows or asked to.
    pub following: Option<FollowOutcome>,
    /// Where their follow of the owner stands, if they follow or asked to.
    pub follower: Option<FollowOutcome>,
    /// Whether their node is connected now.
    pub connected: bool,
}

/// One follow relation: `GET /api/v1/following`, `/followers`, `/follows/requests`, and the
/// answer of `POST /api/v1/follows/{peer_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowView {
    /// The other side.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Where it stands.
    pub status: FollowOutcome,
    /// Since when (unix ms).
    pub since_ms: u64,
    /// Their display name, when their profile is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One paired device (`GET /api/v1/devices`): a peer allowed on `private` routes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    /// The device's peer id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Since when it is paired (unix ms).
    pub since_ms: u64,
}

/// One server-sent event of `GET /api/v1/events`; the SSE `event:` name is the `type`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventView {
    /// A post arrived on the home timeline (the owner's or a followee's).
    Post {
        /// The post.
        post: PostView,
    },
    /// A post was deleted by its author.
    Delete {
        /// The deleted post.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        id: ObjectId,
        /// Its author.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        author: PeerId,
    },
    /// Someone asked to follow the owner's locked account.
    FollowRequest {
        /// Who asked.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        peer_id: PeerId,
    },
    /// Someone's follow of the owner changed.
    Follower {
        /// Who.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        peer_id: PeerId,
        /// Where it stands now.
        status: FollowOutcome,
    },
    /// The owner's follow of someone changed (approved, rejected, undone).
    Following {
        /// Whom.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        peer_id: PeerId,
        /// Where it stands now.
        status: FollowOutcome,
    },
    /// A profile the node keeps changed.
    Profile {
        /// Whose.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        peer_id: PeerId,
    },
    /// A peer's node connected.
    PeerConnected {
        /// The peer.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        peer_id: PeerId,
    },
    /// A peer's node disconnected.
    PeerDisconnected {
        /// The peer.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        peer_id: PeerId,
    },
}

impl EventView {
    /// The SSE `event:` name: the same string as `type`.
    pub fn name(&self) -> &'static str {
        match self {
            EventView::Post { .. } => "post",
            EventView::Delete { .. } => "delete",
            EventView::FollowRequest { .. } => "follow_request",
            EventView::Follower { .. } => "follower",
            EventView::Following { .. } => "following",
            EventView::Profile { .. } => "profile",
            EventView::PeerConnected { .. } => "peer_connected",
            EventView::PeerDisconnected { .. } => "peer_disconnected",
        }
    }
}
