//! kith-storage: the node's sled-backed store.
//!
//! # Brief overview
//!
//! * [`Store`] is the database: a cheap-clone handle, opened once per data directory
//!   ([`Store::open`]) and shared by everything in the node.
//! * Families of trees have their own typed handles: [`PeerBook`] (what we know about peers,
//!   [`PeerRecord`]), [`Blocklist`] ([`BlockEntry`]), [`Mutes`] ([`MuteEntry`]: people the
//!   owner hides from their reads) and [`Meta`] (node-level facts). Each module owns its
//!   tree's key and value encoding.
//! * [`Social`] ([`Store::social`]) is the social core: signed objects
//!   ([`SignedObject`](kith_protocols::SignedObject)) and the indexes the product reads them
//!   through: the home timeline and an author's posts as [`Page`]s with a [`Cursor`], replies,
//!   profiles, likes, tombstones ([`Tombstone`]), follows ([`FollowState`]) and pull-sync
//!   cursors. [`Social::insert`] stores an object with all its index entries in one batch and
//!   says what it did ([`Inserted`]); [`Social::insert_received`] does the same for an object
//!   from another node and also records the owner's [`Notification`] ([`Received`]), listed a
//!   [`NotificationPage`] at a time.
//! * [`Batch`] is the only way to write: puts, removes and read-modify-write updates over any
//!   trees ([`TreeName`]), committed atomically.
//! * [`Error`] is the crate's one error type.
//!
//! # The write path
//!
//! sled writes are durable only after a flush, and a flush costs an `fsync`. The store therefore
//! routes every write through **one writer thread** (`kith-store-writer`, a plain OS thread
//! because sled blocks):
//!
//! ```text
//!  caller task                         writer thread
//!  ───────────                         ─────────────
//!  Batch::commit ──WriteRequest──▶  bounded queue (1024; a full queue makes callers wait)
//!      │                               block for one request, take up to 512 more queued
//!      │                               apply each request in its own sled transaction
//!      │                               Db::flush once for the whole group      (group commit)
//!      ◀──────── oneshot reply ─────── answer each caller: Ok = applied AND flushed
//!                                                                          (flush-before-ack)
//! ```
//!
//! So a write that resolved `Ok` survives a crash; under load many writes share one flush; a
//! batch is all-or-nothing; one failing batch does not fail the others in its group; and since
//! one thread applies everything, read-modify-write updates ([`Batch::update`]) of the same key
//! never lose writes. The social trees write through [`Batch`] too and inherit all of this.
//! Reads do not go through the writer: they hit the sled trees directly and see every
//! acknowledged write.
//!
//! The writer stops on [`Store::close`] or when the last handle is dropped, after applying and
//! flushing everything queued; writes after that return [`Error::WriterGone`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), kith_storage::Error> {
//! use kith_storage::Store;
//! let store = Store::open(std::path::Path::new("/var/lib/kith/db"), 64 * 1024 * 1024)?;
//! store.meta().set("schema", "1").await?; // on disk when this resolves
//! assert_eq!(store.meta().get("schema")?, Some(b"1".to_vec()));
//! store.close().await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod batch;
mod blocks;
mod error;
mod meta;
mod mutes;
mod peers;
mod sessions;
mod social;
mod store;
mod writer;

pub use batch::{Batch, TreeName};
pub use blocks::{BlockEntry, Blocklist};
pub use error::{Error, Result};
pub use meta::Meta;
pub use mutes::{MuteEntry, Mutes};
pub use peers::{ConnectedInfo, MAX_PEER_ADDRS, PeerBook, PeerRecord};
pub use sessions::{BrowserSessions, SessionHash, SessionRecord};
pub use social::{
    Cursor, FollowState, FollowStatus, Inserted, InvalidCursor, MAX_CURSOR_LEN,
    MAX_PENDING_DELETES, Notification, NotificationKind, NotificationPage, Page, Received, Social,
    Tombstone,
};
// Search.
pub use social::TimelineScan;
pub use store::Store;
