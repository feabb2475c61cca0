//! Mutes: people the owner does not want to see, without unfollowing or blocking them.
//!
//! One entry per muted peer in the `mutes` tree, keyed by the peer id's bytes, valued as JSON
//! [`MuteEntry`]. A mute only filters what the owner reads (the node decides where: home
//! timeline, event stream, notifications); nothing about the peer is deleted and following goes
//! on, so removing the entry brings everything back. Presence of the key is what counts: an
//! entry whose value has become unreadable still mutes, like a corrupt block still blocks.
//!
//! The list is read on every home-timeline page and on every event the owner is shown, so it is
//! meant to stay small (people, not spam lists): [`Mutes::peers`] is one short scan.

use std::collections::HashSet;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use crate::batch::TreeName;
use crate::error::Result;
use crate::peers::display_peer_key;
use crate::store::Store;

/// One muted peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteEntry {
    /// The muted peer.
    pub peer_id: PeerId,
    /// When the owner muted them (unix ms).
    pub since_ms: u64,
}

/// Handle to the mutes. Cheap to clone; get one with [`Store::mutes`].
#[derive(Debug, Clone)]
pub struct Mutes {
    store: Store,
}

impl Store {
    /// The people the owner muted.
    pub fn mutes(&self) -> Mutes {
        Mutes {
            store: self.clone(),
        }
    }
}

impl Mutes {
    fn tree(&self) -> &sled::Tree {
        self.store.tree(TreeName::Mutes)
    }

    /// Whether `peer` is muted: one key lookup.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn contains(&self, peer: &PeerId) -> Result<bool> {
        Ok(self.tree().contains_key(peer.to_bytes())?)
    }

    /// Whether no one is muted (the common case, which lets readers skip filtering).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.tree().first()?.is_none())
    }

    /// The muted peers, keys only (a key that does not decode as a peer id cannot match any
    /// peer, and is skipped).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn peers(&self) -> Result<HashSet<PeerId>> {
        let mut peers = HashSet::new();
        for key in self.tree().iter().keys() {
            let key = key?;
            match PeerId::from_bytes(&key) {
                Ok(peer) => {
                    peers.insert(peer);
                }
                Err(_) => {
                    tracing::warn!(key = %display_peer_key(&key), "skipping a mute key that is not a peer id");
                }
            }
        }
        Ok(peers)
    }

    /// The mute of `peer`, if muted. A present entry whose value does not decode is reported
    /// with `since_ms` 0 (it still mutes).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn get(&self, peer: &PeerId) -> Result<Option<MuteEntry>> {
        Ok(self
            .tree()
            .get(peer.to_bytes())?
            .map(|value| decode(*peer, &value)))
    }

    /// Every mute, in key order. An entry whose value does not decode is listed with `since_ms`
    /// 0 (it still mutes, so the owner must be able to see and lift it).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn list(&self) -> Result<Vec<MuteEntry>> {
        let mut entries = Vec::new();
        for entry in self.tree().iter() {
            let (key, value) = entry?;
            match PeerId::from_bytes(&key) {
                Ok(peer) => entries.push(decode(peer, &value)),
                Err(_) => {
                    tracing::warn!(key = %display_peer_key(&key), "skipping a mute key that is not a peer id");
                }
            }
        }
        Ok(entries)
    }

    /// Mutes `peer`, durably (resolves once flushed), and returns the entry. Muting a peer that
    /// is already muted keeps the original `since_ms` (an unreadable entry is repaired).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn add(&self, peer: PeerId, now_ms: u64) -> Result<MuteEntry> {
        let (stored, seen) = std::sync::mpsc::sync_channel(1);
        self.store
            .batch()
            .try_update(TreeName::Mutes, peer.to_bytes(), move |current| {
                let existing = current.and_then(|bytes| {
                    serde_json::from_slice::<MuteEntry>(bytes)
                        .inspect_err(|error| {
                            tracing::warn!(%peer, %error, "replacing corrupt mute entry");
                        })
                        .ok()
                        .filter(|entry| entry.peer_id == peer)
                });
                let entry = existing.unwrap_or(MuteEntry {
                    peer_id: peer,
                    since_ms: now_ms,
                });
                let bytes = serde_json::to_vec(&entry)?;
                // Capacity 1 and a single send: this never blocks the writer.
                let _ = stored.try_send(entry);
                Ok(Some(bytes))
            })
            .commit()
            .await?;
        // The update ran exactly once before the commit was acknowledged; the fallback is what
        // it computes for a new mute.
        Ok(seen.try_recv().unwrap_or(MuteEntry {
            peer_id: peer,
            since_ms: now_ms,
        }))
    }

    /// Unmutes `peer`, durably; returns whether it was muted.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn remove(&self, peer: PeerId) -> Result<bool> {
        let (was_present, seen) = std::sync::mpsc::sync_channel(1);
        self.store
            .batch()
            .update(TreeName::Mutes, peer.to_bytes(), move |current| {
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

/// The entry stored for `peer`; an unreadable one as muted since 0 (logged).
fn decode(peer: PeerId, value: &[u8]) -> MuteEntry {
    match serde_json::from_slice::<MuteEntry>(value) {
        Ok(entry) if entry.peer_id == peer => entry,
        Ok(_) | Err(_) => {
            tracing::warn!(%peer, "mute entry does not decode; still muted");
            MuteEntry {
                peer_id: peer,
                since_ms: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn add_contains_list_remove() {
        let store = Store::open_temporary().unwrap();
        let mutes = store.mutes();
        let (a, b) = (PeerId::random(), PeerId::random());
        assert!(mutes.is_empty().unwrap());
        assert!(!mutes.contains(&a).unwrap());
        assert_eq!(mutes.get(&a).unwrap(), None);

        let entry = mutes.add(a, 10).await.unwrap();
        assert_eq!(
            entry,
            MuteEntry {
                peer_id: a,
                since_ms: 10
            }
        );
        mutes.add(b, 11).await.unwrap();
        assert!(!mutes.is_empty().unwrap());
        assert!(mutes.contains(&a).unwrap() && mutes.contains(&b).unwrap());
        assert_eq!(mutes.peers().unwrap(), HashSet::from([a, b]));
        let mut listed = mutes.list().unwrap();
        listed.sort_by_key(|entry| entry.since_ms);
        assert_eq!(
            listed,
            vec![
                MuteEntry {
                    peer_id: a,
                    since_ms: 10
                },
                MuteEntry {
                    peer_id: b,
                    since_ms: 11
                },
            ]
        );

        assert!(mutes.remove(a).await.unwrap());
        assert!(!mutes.remove(a).await.unwrap());
        assert!(!mutes.contains(&a).unwrap());
        assert_eq!(mutes.peers().unwrap(), HashSet::from([b]));
        assert!(mutes.remove(b).await.unwrap());
        assert!(mutes.is_empty().unwrap());
    }

    #[tokio::test]
    async fn muting_again_keeps_since() {
        let store = Store::open_temporary().unwrap();
        let mutes = store.mutes();
        let peer = PeerId::random();
        assert_eq!(mutes.add(peer, 1).await.unwrap().since_ms, 1);
        assert_eq!(mutes.add(peer, 2).await.unwrap().since_ms, 1);
        assert_eq!(mutes.list().unwrap().len(), 1);
        assert_eq!(mutes.get(&peer).unwrap().map(|e| e.since_ms), Some(1));
    }

    #[tokio::test]
    async fn a_mute_is_durable_once_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let peer = PeerId::random();
        {
            let store = Store::open(&path, 1024 * 1024).unwrap();
            store.mutes().add(peer, 7).await.unwrap();
            store.close().await.unwrap();
        }
        let store = Store::open(&path, 1024 * 1024).unwrap();
        assert_eq!(
            store.mutes().list().unwrap(),
            vec![MuteEntry {
                peer_id: peer,
                since_ms: 7
            }]
        );
    }

    #[tokio::test]
    async fn a_corrupt_entry_still_mutes_and_is_repaired() {
        let store = Store::open_temporary().unwrap();
        let mutes = store.mutes();
        let peer = PeerId::random();
        store
            .batch()
            .put(TreeName::Mutes, peer.to_bytes(), "garbage")
            .commit()
            .await
            .unwrap();
        assert!(mutes.contains(&peer).unwrap());
        assert_eq!(mutes.peers().unwrap(), HashSet::from([peer]));
        assert_eq!(
            mutes.list().unwrap(),
            vec![MuteEntry {
                peer_id: peer,
                since_ms: 0
            }]
        );
        // Muting again repairs it.
        assert_eq!(mutes.add(peer, 5).await.unwrap().since_ms, 5);
        assert_eq!(mutes.get(&peer).unwrap().map(|e| e.since_ms), Some(5));
        assert!(mutes.remove(peer).await.unwrap());
    }
}
