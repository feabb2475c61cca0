//! The blocklist: peers we refuse to talk to.
//!
//! One entry per blocked peer in the `blocks` tree, keyed by the peer id's bytes, valued as
//! JSON [`BlockEntry`]. The node checks [`Blocklist::contains`] on every connection, so it is a
//! single key lookup; a present key means "blocked" even if its value has become unreadable
//! (failing closed).

use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use crate::batch::TreeName;
use crate::error::Result;
use crate::peers::display_peer_key;
use crate::store::Store;

/// One blocked peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEntry {
    /// The blocked peer.
    pub peer_id: PeerId,
    /// Why, in the owner's words, if they gave a reason.
    pub reason: Option<String>,
    /// When the peer was blocked (unix ms).
    pub since_ms: u64,
}

/// Handle to the blocklist. Cheap to clone; get one with [`Store::blocks`].
#[derive(Debug, Clone)]
pub struct Blocklist {
    store: Store,
}

impl Blocklist {
    pub(crate) fn new(store: Store) -> Self {
        Blocklist { store }
    }

    /// Whether `peer` is blocked.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn contains(&self, peer: &PeerId) -> Result<bool> {
        Ok(self
            .store
            .tree(TreeName::Blocks)
            .contains_key(peer.to_bytes())?)
    }

    /// Every block entry, in key order. Values that do not decode are skipped and logged (the
    /// peer stays blocked: see [`contains`](Blocklist::contains)).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn list(&self) -> Result<Vec<BlockEntry>> {
        let mut entries = Vec::new();
        for entry in self.store.tree(TreeName::Blocks).iter() {
            let (key, value) = entry?;
            match serde_json::from_slice::<BlockEntry>(&value) {
                Ok(entry) => entries.push(entry),
                Err(error) => {
                    tracing::warn!(key = %display_peer_key(&key), %error, "skipping corrupt block entry");
                }
            }
        }
        Ok(entries)
    }

    /// Blocks `peer`. Blocking a peer that is already blocked keeps the original `since_ms`
    /// and replaces the reason if a new one is given.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn add(&self, peer: PeerId, reason: Option<String>, now_ms: u64) -> Result<()> {
        self.store
            .batch()
            .try_update(TreeName::Blocks, peer.to_bytes(), move |current| {
                let existing = current.and_then(|bytes| {
                    serde_json::from_slice::<BlockEntry>(bytes)
                        .inspect_err(|error| {
                            tracing::warn!(%peer, %error, "replacing corrupt block entry");
                        })
                        .ok()
                });
                let entry = match existing {
                    Some(entry) => BlockEntry {
                        reason: reason.or(entry.reason),
                        ..entry
                    },
                    None => BlockEntry {
                        peer_id: peer,
                        reason,
                        since_ms: now_ms,
                    },
                };
                Ok(Some(serde_json::to_vec(&entry)?))
            })
            .commit()
            .await
    }

    /// Unblocks `peer`; returns whether it was blocked.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn remove(&self, peer: PeerId) -> Result<bool> {
        let (was_present, seen) = std::sync::mpsc::sync_channel(1);
        self.store
            .batch()
            .update(TreeName::Blocks, peer.to_bytes(), move |current| {
                // Capacity 1 and a single send: this never blocks the writer.
                let _ = was_present.try_send(current.is_some());
                None
            })
            .commit()
            .await?;
        // The update ran exactly once before the commit was acknowledged.
        Ok(seen.try_recv().unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn add_contains_list_remove() {
        let store = Store::open_temporary().unwrap();
        let blocks = store.blocks();
        let (a, b) = (PeerId::random(), PeerId::random());
        assert!(!blocks.contains(&a).unwrap());
        assert!(blocks.list().unwrap().is_empty());

        blocks.add(a, Some("spam".to_owned()), 10).await.unwrap();
        blocks.add(b, None, 11).await.unwrap();
        assert!(blocks.contains(&a).unwrap());
        assert!(blocks.contains(&b).unwrap());
        let mut listed = blocks.list().unwrap();
        listed.sort_by_key(|entry| entry.since_ms);
        assert_eq!(
            listed,
            vec![
                BlockEntry {
                    peer_id: a,
                    reason: Some("spam".to_owned()),
                    since_ms: 10
                },
                BlockEntry {
                    peer_id: b,
                    reason: None,
                    since_ms: 11
                },
            ]
        );

        assert!(blocks.remove(a).await.unwrap());
        assert!(!blocks.remove(a).await.unwrap());
        assert!(!blocks.contains(&a).unwrap());
        assert_eq!(blocks.list().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn blocking_again_keeps_since_and_updates_reason() {
        let store = Store::open_temporary().unwrap();
        let blocks = store.blocks();
        let peer = PeerId::random();
        blocks.add(peer, Some("first".to_owned()), 1).await.unwrap();
        blocks.add(peer, None, 2).await.unwrap();
        assert_eq!(blocks.list().unwrap()[0].reason.as_deref(), Some("first"));
        blocks
            .add(peer, Some("second".to_owned()), 3)
            .await
            .unwrap();
        let entry = &blocks.list().unwrap()[0];
        assert_eq!(
            (entry.reason.as_deref(), entry.since_ms),
            (Some("second"), 1)
        );
    }

    #[tokio::test]
    async fn a_corrupt_entry_still_blocks() {
        let store = Store::open_temporary().unwrap();
        let blocks = store.blocks();
        let peer = PeerId::random();
        store
            .batch()
            .put(TreeName::Blocks, peer.to_bytes(), "garbage")
            .commit()
            .await
            .unwrap();
        assert!(blocks.contains(&peer).unwrap());
        assert!(blocks.list().unwrap().is_empty());
        // Blocking again repairs it.
        blocks.add(peer, None, 5).await.unwrap();
        assert_eq!(blocks.list().unwrap()[0].since_ms, 5);
        // And removal reports it was there.
        assert!(blocks.remove(peer).await.unwrap());
    }
}
