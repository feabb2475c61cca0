//! Follows: whom the owner follows (`following`) and who follows the owner (`followers`).
//!
//! Both trees map a peer id's bytes ([`PeerId::to_bytes`], as in the peer book) to a JSON
//! [`FollowState`]: the follow object behind the relation, its [`FollowStatus`] and since when.
//! A follow of a locked account starts [`Requested`](FollowStatus::Requested) and becomes
//! [`Active`](FollowStatus::Active) when its owner approves it ([`Social::approve_follower`] on
//! their side, [`Social::activate_following`] on ours); a rejection or an unfollow removes the
//! entry. The node decides the transitions; this module stores them, each status change as a
//! read-modify-write on the writer so that concurrent changes do not overwrite each other. A
//! new follower is recorded with [`Social::add_follower`] (in the `notifications` module),
//! which also records the owner's notification in the same batch.
//!
//! Listing reads the whole tree: a node follows and is followed by people, not millions.

use kith_protocols::ObjectId;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::Social;
use crate::batch::TreeName;
use crate::error::{Error, Result};
use crate::peers::display_peer_key;

/// Where a follow relation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowStatus {
    /// In effect: the follower receives the followee's posts.
    Active,
    /// Asked of a locked account, waiting for its owner's approval.
    Requested,
}

/// One follow relation, as stored in `following` and `followers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FollowState {
    /// The follow object (signed by the follower) behind the relation.
    pub object: ObjectId,
    /// Where the relation stands.
    pub status: FollowStatus,
    /// Since when it stands there (unix ms).
    pub since_ms: u64,
}

impl Social {
    /// Records that the owner follows `peer` (or asked to), replacing what was recorded.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn set_following(&self, peer: PeerId, state: FollowState) -> Result<()> {
        self.set_follow(TreeName::Following, peer, state).await
    }

    /// Everyone the owner follows or asked to follow, in key order. Undecodable entries are
    /// skipped and logged.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if the read failed.
    pub fn following(&self) -> Result<Vec<(PeerId, FollowState)>> {
        self.list_follows(TreeName::Following)
    }

    /// What is recorded about the owner following `peer`.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored value does not decode; [`Error::Sled`] if the read
    /// failed.
    pub fn following_state(&self, peer: &PeerId) -> Result<Option<FollowState>> {
        self.follow_state(TreeName::Following, peer)
    }

    /// `peer` approved the owner's follow request: [`Requested`](FollowStatus::Requested)
    /// becomes [`Active`](FollowStatus::Active) since `now_ms`. Returns whether it did (no
    /// request pending: nothing changes).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn activate_following(&self, peer: PeerId, now_ms: u64) -> Result<bool> {
        self.activate(TreeName::Following, peer, now_ms).await
    }

    /// Forgets that the owner follows `peer`; returns what was recorded.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn remove_following(&self, peer: PeerId) -> Result<Option<FollowState>> {
        self.remove_follow(TreeName::Following, peer).await
    }

    /// Records that `peer` follows the owner (or asks to), replacing what was recorded.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn set_follower(&self, peer: PeerId, state: FollowState) -> Result<()> {
        self.set_follow(TreeName::Followers, peer, state).await
    }

    /// Everyone who follows the owner or asks to, in key order. Undecodable entries are
    /// skipped and logged.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if the read failed.
    pub fn followers(&self) -> Result<Vec<(PeerId, FollowState)>> {
        self.list_follows(TreeName::Followers)
    }

    /// What is recorded about `peer` following the owner.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored value does not decode; [`Error::Sled`] if the read
    /// failed.
    pub fn follower_state(&self, peer: &PeerId) -> Result<Option<FollowState>> {
        self.follow_state(TreeName::Followers, peer)
    }

    /// The owner approves `peer`'s follow request: [`Requested`](FollowStatus::Requested)
    /// becomes [`Active`](FollowStatus::Active) since `now_ms`. Returns whether it did (no
    /// request pending: nothing changes).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn approve_follower(&self, peer: PeerId, now_ms: u64) -> Result<bool> {
        self.activate(TreeName::Followers, peer, now_ms).await
    }

    /// Forgets that `peer` follows the owner (an unfollow, or a rejected request); returns what
    /// was recorded.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn remove_follower(&self, peer: PeerId) -> Result<Option<FollowState>> {
        self.remove_follow(TreeName::Followers, peer).await
    }

    async fn set_follow(&self, tree: TreeName, peer: PeerId, state: FollowState) -> Result<()> {
        self.store
            .batch()
            .put(tree, peer.to_bytes(), serde_json::to_vec(&state)?)
            .commit()
            .await
    }

    fn list_follows(&self, tree: TreeName) -> Result<Vec<(PeerId, FollowState)>> {
        let mut follows = Vec::new();
        for entry in self.tree(tree).iter() {
            let (key, value) = entry?;
            let peer = PeerId::from_bytes(&key);
            let state = serde_json::from_slice::<FollowState>(&value);
            match (peer, state) {
                (Ok(peer), Ok(state)) => follows.push((peer, state)),
                _ => {
                    tracing::warn!(%tree, key = %display_peer_key(&key), "skipping corrupt follow entry");
                }
            }
        }
        Ok(follows)
    }

    fn follow_state(&self, tree: TreeName, peer: &PeerId) -> Result<Option<FollowState>> {
        let Some(value) = self.tree(tree).get(peer.to_bytes())? else {
            return Ok(None);
        };
        serde_json::from_slice(&value).map(Some).map_err(|error| {
            tracing::warn!(%tree, %peer, %error, "corrupt follow entry");
            Error::Corrupt {
                tree: tree.as_str(),
                key: peer.to_base58(),
            }
        })
    }

    async fn activate(&self, tree: TreeName, peer: PeerId, now_ms: u64) -> Result<bool> {
        let (report, changed) = std::sync::mpsc::sync_channel(1);
        self.store
            .batch()
            .try_update(tree, peer.to_bytes(), move |current| {
                let Some(bytes) = current else {
                    return Ok(None);
                };
                let Ok(state) = serde_json::from_slice::<FollowState>(bytes) else {
                    tracing::warn!(%tree, %peer, "corrupt follow entry left as it is");
                    return Ok(Some(bytes.to_vec()));
                };
                if state.status != FollowStatus::Requested {
                    return Ok(Some(bytes.to_vec()));
                }
                let active = FollowState {
                    status: FollowStatus::Active,
                    since_ms: now_ms,
                    ..state
                };
                let value = serde_json::to_vec(&active)?;
                // Capacity 1 and a single send: this never blocks the writer.
                let _ = report.try_send(());
                Ok(Some(value))
            })
            .commit()
            .await?;
        // The update ran exactly once before the commit was acknowledged.
        Ok(changed.try_recv().is_ok())
    }

    async fn remove_follow(&self, tree: TreeName, peer: PeerId) -> Result<Option<FollowState>> {
        let (report, removed) = std::sync::mpsc::sync_channel(1);
        self.store
            .batch()
            .update(tree, peer.to_bytes(), move |current| {
                if let Some(bytes) = current {
                    // Capacity 1 and a single send: this never blocks the writer.
                    let _ = report.try_send(serde_json::from_slice::<FollowState>(bytes).ok());
                }
                None
            })
            .commit()
            .await?;
        Ok(removed.try_recv().ok().flatten())
    }
}
