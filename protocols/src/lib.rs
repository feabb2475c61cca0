//! The Kith wire contract: everything two nodes must agree on to talk, and nothing else. Pure
//! data and codecs: no sockets, no database, no clock beyond stamping new messages.
//!
//! # Brief overview
//!
//! A node calls another node's *route* by opening a libp2p stream whose protocol name is the
//! route id, writing one framed [`Request`] and reading one framed [`Response`]:
//!
//! - [`Route`] names an endpoint, `/{visibility}/{op}/{domain}[/{sub}]/{major.minor.patch}`
//!   (e.g. `/public/get/info/0.0.0`); [`Route::protocol`] is the stream protocol to negotiate.
//!   The well-known routes are in [`routes`]; [`class_of`] tells infrastructure routes (served by
//!   every node) from content routes (refused by bootstrap nodes).
//! - [`read_frame`] / [`write_frame`] (and the typed [`read_message`] / [`write_message`]) move
//!   one unsigned-varint length-prefixed UTF-8 JSON message of at most [`MAX_FRAME_LEN`] bytes
//!   over a `futures::io` stream; [`decode_frame`] / [`encode_frame`] are the same codec over
//!   byte buffers. Failures are [`FrameError`]s.
//! - [`Request`] (`{"id","ts","body"}`) and [`Response`] (`{"id","ok":true,"body"}` or
//!   `{"id","ok":false,"error"}`) are the envelopes. A failure carries a [`WireError`] whose
//!   [`ErrorCode`] is one of nine kebab-case codes shared with the HTTP API.
//! - [`NodeInfo`] is the body of the info route, checked with [`NodeInfo::check_compatible`]
//!   against our network and [`PROTOCOL_VERSION`]; [`PeersResponse`] is the body of the peers
//!   route.
//! - [`NETWORK_TOPIC`] carries [`Announcement`]s over gossipsub; [`user_topic`] names an author's
//!   topic. [`PeerSource`] records how a peer was found.
//! - [`SignedObject`] is a profile, post, follow, like or tombstone signed by its author
//!   (RFC 8785 canonical JSON, Ed25519, id = SHA-256 of the canonical bytes):
//!   [`SignedObject::create`] makes one, [`SignedObject::verify`] checks one from any relay.
//!   The API bodies of the local HTTP API ([`PeerView`], …) live here too, so the client crate
//!   needs nothing else.
//!
//! Parse failures of names and documents are [`Error`]s.
//!
//! ```
//! use kith_protocols::{Request, Response, Route, decode_frame, encode_frame, routes, MAX_FRAME_LEN};
//!
//! let route: Route = "/public/get/info/0.0.0".parse()?;
//! assert_eq!(route, routes::info());
//!
//! let request = Request::new(serde_json::json!({}));
//! let mut wire = Vec::new();
//! encode_frame(&serde_json::to_vec(&request)?, &mut wire)?;
//! let (header_len, payload_len) = decode_frame(&wire, MAX_FRAME_LEN)?.expect("complete frame");
//! let back: Request = serde_json::from_slice(&wire[header_len..header_len + payload_len])?;
//! assert_eq!(back, request);
//!
//! let response: Response = Response::ok(request.id, serde_json::json!({"hello": "world"}));
//! assert_eq!(
//!     serde_json::to_string(&response)?,
//!     format!(r#"{{"id":"{}","ok":true,"body":{{"hello":"world"}}}}"#, request.id),
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod api;
mod envelope;
mod error;
mod error_code;
mod frame;
mod info;
mod object;
mod route;
mod session;
mod social;
mod source;
mod topic;

pub use api::{
    AddPeerRequest, AddPeerResponse, ApiErrorBody, ApiErrorDetail, BlockRequest, BlockView,
    ConnectionKind, DeviceView, EventView, FollowView, InviteView, JoinRequest, JoinView, NewPost,
    NotificationKind, NotificationPage, NotificationView, PeerView, PostPage, PostView,
    ProfileUpdate, ProfileView, StatusView, UserView,
};
// Mutes.
pub use api::MuteView;
// Search.
pub use api::SearchResults;
pub use envelope::{Request, Response, now_unix_ms};
pub use error::Error;
pub use error_code::{ErrorCode, WireError};
pub use frame::{
    FrameError, MAX_FRAME_LEN, MAX_HEADER_LEN, decode_frame, decode_message, encode_frame,
    read_frame, read_message, write_frame, write_message,
};
pub use info::{
    Incompatibility, NodeInfo, PROTOCOL_VERSION, PeerEntry, PeersResponse, ProfileSummary,
    ReachStatus, Reachability, protocol_compatible,
};
pub use object::{
    Content, DEFAULT_MAX_POST_CHARS, MAX_AVATAR_CHARS, MAX_BIO_CHARS, MAX_CLOCK_SKEW_MS,
    MAX_CREATED_AT, MAX_DISPLAY_NAME_CHARS, MAX_OBJECT_LEN, OBJECT_ID_HEX_LEN, OBJECT_VERSION,
    ObjectError, ObjectId, ObjectKind, PostContent, Profile, SignedObject, Signer, VerifyRules,
};
pub use route::{MAX_SEGMENT_LEN, Op, Route, RouteClass, Version, Visibility, class_of, routes};
pub use session::{LoginLink, SessionView};
pub use social::{
    FollowBody, FollowDecision, FollowOutcome, FollowReply, MAX_DIGEST_RANGES, MAX_SYNC_BYTES,
    MAX_SYNC_IDS, MAX_SYNC_PAGE, ObjectsBody, ObjectsPage, ObjectsReply, Position, PostsRequest,
    PostsResponse, ProfileResponse, RangeDigest, TimeRange, TimelineRequest,
};
pub use source::PeerSource;
pub use topic::{
    Announcement, MAX_ANNOUNCEMENT_ADDRS, MAX_ANNOUNCEMENT_LEN, NETWORK_TOPIC, parse_user_topic,
    user_topic,
};
