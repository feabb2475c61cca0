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
    /// How we are connected to it right now.
    #[serde(default)]
    pub connection: ConnectionKind,
}

/// How a peer is connected: directly, only through a relay, or not at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    /// At least one connection goes straight to the peer.
    Direct,
    /// Every open connection goes through a relay.
    Relayed,
    /// No connection is open.
    #[default]
    None,
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
    /// Whether the owner has liked it.
    #[serde(default)]
    pub liked: bool,
    /// How many replies to it this node holds.
    #[serde(default)]
    pub reply_count: u64,
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

/// `GET /api/v1/search?q=`: the people and posts this node knows that match a query.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    /// Matching people: an exact peer id first, then people the owner follows, then others.
    pub people: Vec<UserView>,
    /// Matching posts, home timeline first, newest first.
    pub posts: Vec<PostView>,
    /// Whether the post search stopped at its scan budget (the newest 20,000 posts) before
    /// reaching the oldest post: older posts may match too.
    #[serde(default)]
    pub posts_truncated: bool,
}

/// What a notification tells the owner.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Someone replied to one of the owner's posts (`post` is the reply).
    Reply,
    /// Someone liked one of the owner's posts (`post` is the liked post).
    Like,
    /// Someone started following the owner.
    Follow,
    /// Someone asked to follow the owner's locked account.
    FollowRequest,
}

/// One notification: something that happened to the owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationView {
    /// Stable and unique: the id of the object that caused it (the reply, the like, the
    /// follow).
    pub id: String,
    /// What happened.
    pub kind: NotificationKind,
    /// When this node learned of it (unix ms, this node's clock).
    pub at: u64,
    /// Who did it.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub actor: PeerId,
    /// Their display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The post it is about: the reply for `reply`, the liked post for `like`; absent for
    /// follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<PostView>,
}

/// A page of notifications, newest first: `{"notifications":[...],"next":cursor|null}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationPage {
    /// The notifications.
    pub notifications: Vec<NotificationView>,
    /// Pass as `before` for the next page; `null` at the end.
    pub next: Option<String>,
}

/// `POST /api/v1/network/join`: join the network of an invite code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The invite code (`kith1…`).
    pub invite: String,
    /// Whether to replace the node's network key when the invite is for another network.
    #[serde(default)]
    pub replace: bool,
}

/// The answer to `POST /api/v1/network/join`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinView {
    /// The invite's network (the key's fingerprint).
    pub network: String,
    /// Whether the node already was on that network.
    pub same_network: bool,
    /// How many of the invite's addresses the node started connecting to.
    pub dialed: u64,
    /// Whether the node must be restarted to be on the network (its key was replaced).
    pub restart_required: bool,
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
    /// Whether the owner muted them (their posts and notifications are hidden from the home
    /// timeline, the event stream and the notification list; their own page still shows them).
    #[serde(default)]
    pub muted: bool,
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

/// One muted person (`GET /api/v1/mutes`, and the answer of `PUT /api/v1/mutes/{peer_id}`):
/// hidden from the owner's home timeline, event stream and notifications, still followed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MuteView {
    /// The muted person's peer id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Since when they are muted (unix ms).
    pub since_ms: u64,
    /// Their display name, when their profile is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
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
    /// A notification was recorded (see `GET /api/v1/notifications`).
    Notification {
        /// The notification.
        notification: NotificationView,
    },
    /// A post held here was liked (by the owner or someone else): its new count.
    Like {
        /// The liked post.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        post_id: ObjectId,
        /// How many likes of it this node knows of now.
        like_count: u64,
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
            EventView::Notification { .. } => "notification",
            EventView::Like { .. } => "like",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn post() -> PostView {
        PostView {
            id: ObjectId::from_bytes([0xab; 32]),
            author: PeerId::random(),
            author_name: None,
            created_at: 5,
            text: "hi".to_owned(),
            reply_to: None,
            quote_of: None,
            like_count: 2,
            liked: true,
            reply_count: 3,
        }
    }

    #[test]
    fn a_post_without_the_newer_fields_reads_as_not_liked_and_unreplied() {
        let mut value = serde_json::to_value(post()).unwrap();
        assert_eq!(value["liked"], true);
        assert_eq!(value["reply_count"], 3);
        let object = value.as_object_mut().unwrap();
        object.remove("liked");
        object.remove("reply_count");
        let read: PostView = serde_json::from_value(value).unwrap();
        assert!(!read.liked);
        assert_eq!(read.reply_count, 0);
    }

    #[test]
    fn notifications_have_the_documented_shape() {
        let actor = PeerId::random();
        let view = NotificationView {
            id: "ab".repeat(32),
            kind: NotificationKind::FollowRequest,
            at: 1_700_000_000_000,
            actor,
            actor_name: None,
            post: None,
        };
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "id": "ab".repeat(32),
                "kind": "follow_request",
                "at": 1_700_000_000_000u64,
                "actor": actor.to_base58(),
            })
        );
        let with_post = NotificationView {
            kind: NotificationKind::Reply,
            actor_name: Some("Grace".to_owned()),
            post: Some(post()),
            ..view
        };
        let value = serde_json::to_value(&with_post).unwrap();
        assert_eq!(value["kind"], "reply");
        assert_eq!(value["actor_name"], "Grace");
        assert_eq!(value["post"]["reply_count"], 3);
        let back: NotificationView = serde_json::from_value(value).unwrap();
        assert_eq!(back, with_post);
    }

    #[test]
    fn every_event_is_named_by_its_type() {
        let peer_id = PeerId::random();
        let events = [
            EventView::Post { post: post() },
            EventView::Delete {
                id: ObjectId::from_bytes([1; 32]),
                author: peer_id,
            },
            EventView::FollowRequest { peer_id },
            EventView::Follower {
                peer_id,
                status: FollowOutcome::Active,
            },
            EventView::Following {
                peer_id,
                status: FollowOutcome::Removed,
            },
            EventView::Profile { peer_id },
            EventView::PeerConnected { peer_id },
            EventView::PeerDisconnected { peer_id },
            EventView::Notification {
                notification: NotificationView {
                    id: "1".to_owned(),
                    kind: NotificationKind::Like,
                    at: 1,
                    actor: peer_id,
                    actor_name: None,
                    post: Some(post()),
                },
            },
            EventView::Like {
                post_id: ObjectId::from_bytes([2; 32]),
                like_count: 7,
            },
        ];
        for event in events {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["type"], event.name(), "{value}");
            assert_eq!(serde_json::from_value::<EventView>(value).unwrap(), event);
        }
        let like = EventView::Like {
            post_id: ObjectId::from_bytes([2; 32]),
            like_count: 7,
        };
        assert_eq!(
            serde_json::to_value(like).unwrap(),
            json!({"type": "like", "post_id": "02".repeat(32), "like_count": 7})
        );
    }

    #[test]
    fn join_requests_default_to_not_replacing_and_refuse_unknown_fields() {
        let request: JoinRequest = serde_json::from_value(json!({"invite": "kith1x"})).unwrap();
        assert_eq!(
            request,
            JoinRequest {
                invite: "kith1x".to_owned(),
                replace: false,
            }
        );
        assert!(
            serde_json::from_value::<JoinRequest>(json!({"invite": "kith1x", "force": true}))
                .is_err()
        );
    }
}
