//! Batches: the only way to write to the store.
//!
//! A [`Batch`] collects puts, removes and read-modify-write updates over any of the store's
//! trees ([`TreeName`]). [`Batch::commit`] hands the whole batch to the writer thread, which
//! applies it in one sled transaction (all of it or none of it), flushes, and only then answers.
//! See the crate docs for the write path as a whole.

use std::fmt;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::store::Store;
use crate::writer::WriteRequest;

/// The store's sled trees. Every key lives in exactly one of them.
///
/// The social trees (`Objects` onwards) are written and read only through
/// [`Social`](crate::Social); their key layouts are documented in its module. Later versions add
/// trees, hence `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TreeName {
    /// The peer book: peer id bytes -> [`PeerRecord`](crate::PeerRecord) as JSON.
    Peers,
    /// The blocklist: peer id bytes -> [`BlockEntry`](crate::BlockEntry) as JSON.
    Blocks,
    /// Node-level facts: UTF-8 key -> raw bytes.
    Meta,
    /// Signed objects: object id -> the object's exact JSON bytes.
    Objects,
    /// An author's posts: author | created_at | post id -> empty.
    PostsByAuthor,
    /// The home timeline: created_at | author | post id -> empty.
    Timeline,
    /// Replies: parent id | created_at | reply id -> empty.
    Replies,
    /// Tombstones: deleted post id -> the deletes recorded for it.
    Tombstones,
    /// An author's deletes: author | created_at | delete id -> empty.
    DeletesByAuthor,
    /// Likes: post id | liker -> like id.
    Likes,
    /// Like counters: post id -> number of likes (u64, big-endian).
    LikeCounts,
    /// Peers we follow: peer -> [`FollowState`](crate::FollowState) as JSON.
    Following,
    /// Peers following us: peer -> [`FollowState`](crate::FollowState) as JSON.
    Followers,
    /// Current profiles: peer -> created_at | profile id.
    Profiles,
    /// Pull-sync progress: followee -> created_at | object id.
    SyncCursors,
    /// Reply counters: parent post id -> number of replies stored (u64, big-endian).
    ReplyCounts,
    /// The owner's notifications: at_ms | object id -> kind | actor | post id.
    Notifications,
    /// People the owner muted: peer id bytes -> [`MuteEntry`](crate::MuteEntry) as JSON.
    Mutes,
    /// The owner's browser sessions: SHA-256 of the session token ->
    /// [`SessionRecord`](crate::SessionRecord) as JSON.
    BrowserSessions,
}

impl TreeName {
    /// Every tree, in a fixed order.
    pub const ALL: [TreeName; 19] = [
        TreeName::Peers,
        TreeName::Blocks,
        TreeName::Meta,
        TreeName::Objects,
        TreeName::PostsByAuthor,
        TreeName::Timeline,
        TreeName::Replies,
        TreeName::Tombstones,
        TreeName::DeletesByAuthor,
        TreeName::Likes,
        TreeName::LikeCounts,
        TreeName::Following,
        TreeName::Followers,
        TreeName::Profiles,
        TreeName::SyncCursors,
        TreeName::ReplyCounts,
        TreeName::Notifications,
        TreeName::Mutes,
        TreeName::BrowserSessions,
    ];

    /// The name of the sled tree on disk. These names are part of the on-disk format: never
    /// rename one.
    pub const fn as_str(self) -> &'static str {
        match self {
            TreeName::Peers => "peers",
            TreeName::Blocks => "blocks",
            TreeName::Meta => "meta",
            TreeName::Objects => "objects",
            TreeName::PostsByAuthor => "posts_by_author",
            TreeName::Timeline => "timeline",
            TreeName::Replies => "replies",
            TreeName::Tombstones => "tombstones",
            TreeName::DeletesByAuthor => "deletes_by_author",
            TreeName::Likes => "likes",
            TreeName::LikeCounts => "like_counts",
            TreeName::Following => "following",
            TreeName::Followers => "followers",
            TreeName::Profiles => "profiles",
            TreeName::SyncCursors => "sync_cursors",
            TreeName::ReplyCounts => "reply_counts",
            TreeName::Notifications => "notifications",
            TreeName::Mutes => "mutes",
            TreeName::BrowserSessions => "browser_sessions",
        }
    }

    /// Position in [`TreeName::ALL`].
    pub(crate) const fn index(self) -> usize {
        match self {
            TreeName::Peers => 0,
            TreeName::Blocks => 1,
            TreeName::Meta => 2,
            TreeName::Objects => 3,
            TreeName::PostsByAuthor => 4,
            TreeName::Timeline => 5,
            TreeName::Replies => 6,
            TreeName::Tombstones => 7,
            TreeName::DeletesByAuthor => 8,
            TreeName::Likes => 9,
            TreeName::LikeCounts => 10,
            TreeName::Following => 11,
            TreeName::Followers => 12,
            TreeName::Profiles => 13,
            TreeName::SyncCursors => 14,
            TreeName::ReplyCounts => 15,
            TreeName::Notifications => 16,
            TreeName::Mutes => 17,
            TreeName::BrowserSessions => 18,
        }
    }
}

impl fmt::Display for TreeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A read-modify-write function run by the writer inside the batch's transaction: it gets the
/// current value (as seen by the transaction, i.e. including the batch's earlier operations) and
/// returns the new value (`None` removes the key) or an error that aborts the whole batch.
pub(crate) type UpdateFn = Box<dyn FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>> + Send>;

/// One operation of a batch.
pub(crate) struct Op {
    pub(crate) tree: TreeName,
    pub(crate) key: Vec<u8>,
    pub(crate) action: Action,
}

/// What an [`Op`] does to its key.
pub(crate) enum Action {
    Put(Vec<u8>),
    Remove,
    Update(UpdateFn),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match &self.action {
            Action::Put(value) => format!("put({} bytes)", value.len()),
            Action::Remove => "remove".to_owned(),
            Action::Update(_) => "update".to_owned(),
        };
        f.debug_struct("Op")
            .field("tree", &self.tree)
            .field("key_len", &self.key.len())
            .field("action", &action)
            .finish()
    }
}

/// A group of writes applied atomically: after [`commit`](Batch::commit) resolves with `Ok`,
/// every operation is applied and flushed to disk; on `Err`, none is.
///
/// Operations apply in the order they were added, so a later `update` of a key sees an earlier
/// `put` of the same batch. Build one with [`Store::batch`]:
///
/// ```no_run
/// # async fn demo(store: kith_storage::Store) -> Result<(), kith_storage::Error> {
/// use kith_storage::TreeName;
/// store
///     .batch()
///     .put(TreeName::Meta, "schema", "1")
///     .remove(TreeName::Meta, "stale")
///     .commit()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a batch does nothing until it is committed"]
pub struct Batch {
    store: Store,
    ops: Vec<Op>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").field("ops", &self.ops).finish()
    }
}

impl Batch {
    pub(crate) fn new(store: Store) -> Self {
        Batch {
            store,
            ops: Vec::new(),
        }
    }

    /// Sets `key` in `tree` to `value`.
    pub fn put(
        mut self,
        tree: TreeName,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Self {
        self.ops.push(Op {
            tree,
            key: key.into(),
            action: Action::Put(value.into()),
        });
        self
    }

    /// Removes `key` from `tree` (removing a missing key is not an error).
    pub fn remove(mut self, tree: TreeName, key: impl Into<Vec<u8>>) -> Self {
        self.ops.push(Op {
            tree,
            key: key.into(),
            action: Action::Remove,
        });
        self
    }

    /// Read-modify-write of one key: `f` receives the current value (`None` if absent) and
    /// returns the new one (`None` removes the key).
    ///
    /// `f` runs on the writer thread, inside the batch's transaction, and the writer applies one
    /// batch at a time, so concurrent updates of the same key never lose writes. Keep `f` short
    /// and non-blocking: every other write in the process waits while it runs. If `f` panics,
    /// the batch is not applied and `commit` returns [`Error::Transaction`]; the store carries
    /// on.
    pub fn update(
        self,
        tree: TreeName,
        key: impl Into<Vec<u8>>,
        f: impl FnOnce(Option<&[u8]>) -> Option<Vec<u8>> + Send + 'static,
    ) -> Self {
        self.try_update(tree, key, move |current| Ok(f(current)))
    }

    /// Like [`update`](Batch::update), but `f` may fail: an `Err` aborts the whole batch (none
    /// of its operations is applied) and `commit` returns that error.
    pub fn try_update(
        mut self,
        tree: TreeName,
        key: impl Into<Vec<u8>>,
        f: impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>> + Send + 'static,
    ) -> Self {
        self.ops.push(Op {
            tree,
            key: key.into(),
            action: Action::Update(Box::new(f)),
        });
        self
    }

    /// Number of operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Applies the batch atomically and waits until it is flushed to disk.
    ///
    /// Resolves `Ok` only after the batch's transaction succeeded *and* the flush that followed
    /// it did (flush-before-ack). An empty batch resolves `Ok` at once without touching the
    /// writer. When the writer's queue is full, this waits for room (backpressure, no error).
    ///
    /// Cancel safety: once the batch has been queued, dropping this future does not cancel it;
    /// it is still applied, only the answer is lost.
    ///
    /// # Errors
    ///
    /// [`Error::WriterGone`] if the store was closed; [`Error::Sled`] if the transaction or the
    /// flush failed; [`Error::Transaction`] or the error of a [`try_update`](Batch::try_update)
    /// function if the batch was aborted.
    pub async fn commit(self) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.store
            .send(WriteRequest::Commit {
                ops: self.ops,
                reply,
            })
            .await?;
        answer.await.map_err(|_| Error::WriterGone)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_indexes_and_names_match_all() {
        let mut names = std::collections::HashSet::new();
        for (position, tree) in TreeName::ALL.into_iter().enumerate() {
            assert_eq!(tree.index(), position, "{tree}");
            assert!(names.insert(tree.as_str()), "{tree} named twice");
        }
    }
}
