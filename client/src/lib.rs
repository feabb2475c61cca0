//! kith-client: a typed client of a Kith node's local HTTP API.
//!
//! # Brief overview
//!
//! - [`Client`] talks to one node (`http://127.0.0.1:8080` by default) with its API token. It is a
//!   cheap clone; each method is one HTTP request and returns the body type that the node's web
//!   crate serializes, shared through [`kith_protocols`] (re-exported here: [`NodeInfo`],
//!   [`PeerView`], [`PostView`], [`PostPage`], [`UserView`], [`FollowView`], ...).
//! - [`EventStream`] is the node's live event stream ([`Client::events`], server-sent events
//!   parsed into [`EventView`]s).
//! - [`Error`] says what went wrong in terms a user can act on: the node is not running
//!   ([`Error::Connect`]), the node refused the request ([`Error::Api`], with the wire
//!   [`ErrorCode`] and the node's message), or the answer was not what the API promises.
//!
//! The CLI's client commands (`kith status`, `kith post`, `kith timeline`, ...) are built on this
//! crate, and so are the integration tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kith_client::Error> {
//! use kith_client::NewPost;
//!
//! let client = kith_client::Client::new("http://127.0.0.1:8080", "the token from api.token")?;
//! let info = client.node().await?;
//! println!("{} on network {}", info.peer_id, info.network);
//! let post = client
//!     .create_post(&NewPost { text: "hello".into(), reply_to: None, quote_of: None })
//!     .await?;
//! println!("posted {}", post.id);
//! # Ok(())
//! # }
//! ```
//!
//! Plain HTTP only: the API listens on localhost, and no TLS stack is compiled in.

#![deny(missing_docs)]

mod client;
mod error;
mod events;

pub use client::Client;
pub use error::Error;
pub use events::EventStream;
pub use kith_protocols::{
    AddPeerRequest, AddPeerResponse, ApiErrorBody, BlockRequest, BlockView, DeviceView, ErrorCode,
    EventView, FollowOutcome, FollowView, InviteView, JoinRequest, JoinView, LoginLink, NewPost,
    NodeInfo, NotificationKind, NotificationPage, NotificationView, ObjectId, PeerView, PostPage,
    PostView, ProfileUpdate, ProfileView, StatusView, UserView,
};
// Mutes.
pub use kith_protocols::MuteView;
// Reachability.
pub use kith_protocols::{ConnectionKind, ReachStatus, Reachability};
// Search.
pub use kith_protocols::SearchResults;
pub use libp2p::{Multiaddr, PeerId};
