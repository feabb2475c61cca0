//! Sync cursors: how far the owner's node has pulled each followee's posts.
//!
//! `sync_cursors` maps a followee (the length-prefixed peer part) to `created_at | id` (40
//! bytes) of the last post fully synced from them: the `after` of the next
//! [`posts_since`](Social::posts_since) request to that followee. A cursor only moves forward,
//! so two sync rounds finishing out of order cannot make the node fetch everything again, nor
//! skip ahead of what it has; [`reset_sync_cursor`](Social::reset_sync_cursor) starts over on
//! purpose.

use kith_protocols::ObjectId;
use libp2p::PeerId;

use super::{Social, keys};
use crate::batch::TreeName;
use crate::error::{Error, Result};

impl Social {
    /// The `(created_at, id)` of the last post fully synced from `peer`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored value does not decode; [`Error::Sled`] if the read
    /// failed.
    pub fn sync_cursor(&self, peer: &PeerId) -> Result<Option<(u64, ObjectId)>> {
        let Some(value) = self.tree(TreeName::SyncCursors).get(keys::peer(peer))? else {
            return Ok(None);
        };
        keys::parse_time_id(&value).map(Some).ok_or_else(|| {
            tracing::warn!(%peer, "corrupt sync cursor");
            Error::Corrupt {
                tree: TreeName::SyncCursors.as_str(),
                key: peer.to_base58(),
            }
        })
    }

    /// Moves `peer`'s sync cursor forward to `cursor`. A cursor at or beyond it is kept (the
    /// cursor never moves back); returns whether it moved. An unreadable stored cursor is
    /// replaced.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn set_sync_cursor(&self, peer: PeerId, cursor: (u64, ObjectId)) -> Result<bool> {
        let (report, moved) = std::sync::mpsc::sync_channel(1);
        self.store
            .batch()
            .update(TreeName::SyncCursors, keys::peer(&peer), move |current| {
                let stored = current.and_then(keys::parse_time_id);
                if stored.is_some_and(|stored| stored >= cursor) {
                    return current.map(<[u8]>::to_vec);
                }
                // Capacity 1 and a single send: this never blocks the writer.
                let _ = report.try_send(());
                Some(keys::time_id(cursor.0, &cursor.1).to_vec())
            })
            .commit()
            .await?;
        // The update ran exactly once before the commit was acknowledged.
        Ok(moved.try_recv().is_ok())
    }

    /// Forgets `peer`'s sync cursor: the next sync starts from their first post.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn reset_sync_cursor(&self, peer: PeerId) -> Result<()> {
        self.store
            .batch()
            .remove(TreeName::SyncCursors, keys::peer(&peer))
            .commit()
            .await
    }
}
