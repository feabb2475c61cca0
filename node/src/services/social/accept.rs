//! The one gate for signed objects from other nodes: gossip, pull sync and direct pushes all
//! end here. Verify first (whoever relayed it), then decide whether this node wants it, then
//! store it and tell the owner.
//!
//! What this node keeps of others:
//! - everything of the authors the owner follows (the follow is active);
//! - profiles of anyone (fetched on purpose; the newest wins);
//! - a reply to, or a like of, one of the owner's posts, from anyone (the owner is notified:
//!   the store records the notification in the same batch as the object; a stranger's reply
//!   is kept for the thread, not put on the home timeline).
//!
//! Nobody else's objects about the owner are taken: this node is the source of the owner's own.

use kith_protocols::{Content, EventView, SignedObject};
use kith_storage::{FollowStatus, Inserted};
use libp2p::PeerId;

use super::{SocialService, metrics::Verdict};
use crate::{Error, state::now_ms};

/// Which way an object came in (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    Gossip,
    Sync,
    Push,
    Profile,
}

impl Path {
    fn as_str(self) -> &'static str {
        match self {
            Path::Gossip => "gossip",
            Path::Sync => "sync",
            Path::Push => "push",
            Path::Profile => "profile",
        }
    }
}

impl SocialService {
    /// Verifies bytes from another node as a signed object, counting a failure.
    pub(crate) fn verify(&self, bytes: &[u8], path: Path) -> Option<SignedObject> {
        match SignedObject::verify(bytes, &self.inner.rules, now_ms()) {
            Ok(object) => Some(object),
            Err(error) => {
                tracing::debug!(path = path.as_str(), %error, "refused a signed object");
                self.inner.metrics.record(path.as_str(), Verdict::Rejected);
                None
            }
        }
    }

    /// [`verify`](Self::verify) for an object carried as JSON inside a route body.
    pub(crate) fn verify_value(
        &self,
        value: &serde_json::Value,
        path: Path,
    ) -> Option<SignedObject> {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.verify(&bytes, path),
            Err(_) => {
                self.inner.metrics.record(path.as_str(), Verdict::Rejected);
                None
            }
        }
    }

    /// Counts an object that verified but came from the wrong peer for its path.
    pub(crate) fn reject_misattributed(&self, object: &SignedObject, from: &PeerId, path: Path) {
        tracing::debug!(id = %object.id(), author = %object.author(), %from, path = path.as_str(), "refused an object from the wrong source");
        self.inner.metrics.record(path.as_str(), Verdict::Rejected);
    }

    /// Stores a verified object from another node if this node wants it, and tells the owner.
    pub(crate) async fn accept(&self, object: &SignedObject, path: Path) -> Result<Verdict, Error> {
        let verdict = self.store_received(object).await?;
        self.inner.metrics.record(path.as_str(), verdict);
        Ok(verdict)
    }

    async fn store_received(&self, object: &SignedObject) -> Result<Verdict, Error> {
        let author = object.author();
        if author == self.me() {
            return Ok(Verdict::Ignored);
        }
        let social = &self.inner.social;
        let followed = social
            .following_state(&author)?
            .is_some_and(|state| state.status == FollowStatus::Active);
        let wanted = followed
            || match object.content() {
                Content::Profile(_) => true,
                Content::Post(post) => post
                    .reply_to
                    .is_some_and(|parent| self.is_own_post(&parent)),
                Content::Like { target } => self.is_own_post(target),
                _ => false,
            };
        if !wanted {
            return Ok(Verdict::Ignored);
        }
        let in_timeline = followed && matches!(object.content(), Content::Post(_));
        let received = social
            .insert_received(object, in_timeline, &self.me(), now_ms())
            .await?;
        match received.inserted {
            Inserted::Stored => {
                self.announce_received(object, in_timeline);
                if let Some(notification) = &received.notification {
                    self.announce_notification(notification);
                }
                Ok(Verdict::Stored)
            }
            Inserted::Duplicate | Inserted::Superseded => Ok(Verdict::Duplicate),
            Inserted::Deleted | Inserted::Forbidden => Ok(Verdict::Ignored),
        }
    }

    /// Whether `id` is one of the owner's stored posts.
    fn is_own_post(&self, id: &kith_protocols::ObjectId) -> bool {
        matches!(self.inner.social.get(id), Ok(Some(post)) if post.author() == self.me())
    }

    /// Tells the owner's event stream about a newly stored object.
    fn announce_received(&self, object: &SignedObject, in_timeline: bool) {
        match object.content() {
            Content::Post(_) if in_timeline => match self.post_view(object) {
                Ok(post) => self.emit(EventView::Post { post }),
                Err(error) => tracing::warn!(%error, "could not show a received post"),
            },
            Content::Delete { target } => self.emit(EventView::Delete {
                id: *target,
                author: object.author(),
            }),
            Content::Profile(_) => self.emit(EventView::Profile {
                peer_id: object.author(),
            }),
            Content::Like { target } if self.inner.social.contains(target).unwrap_or(false) => {
                self.announce_like(target);
            }
            _ => {}
        }
    }

    /// Stores a batch of verified objects concurrently, so that the store commits them
    /// together (one flush for many). Returns how many were new.
    pub(crate) async fn accept_all(
        &self,
        objects: Vec<SignedObject>,
        path: Path,
    ) -> Result<u64, Error> {
        use futures::{StreamExt, TryStreamExt};

        /// Inserts in flight at once: enough for the writer to batch a page's worth.
        const CONCURRENCY: usize = 128;
        let verdicts: Vec<Verdict> = futures::stream::iter(objects)
            .map(|object| async move { self.accept(&object, path).await })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(verdicts.iter().filter(|v| **v == Verdict::Stored).count() as u64)
    }
}
