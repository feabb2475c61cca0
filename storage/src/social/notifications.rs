//! Notifications: what happened to the owner, newest first.
//!
//! A notification is recorded **in the same batch** as what causes it, so it exists exactly
//! when its cause does, and once:
//!
//! * `reply`: a post by someone else whose `reply_to` is one of the owner's stored posts
//!   ([`Social::insert_received`]);
//! * `like`: a like by someone else of one of the owner's stored posts (the same);
//! * `follow` / `follow_request`: someone started following the owner, or asked to
//!   ([`Social::add_follower`]).
//!
//! Storing an object that is already stored writes nothing (its batch is guarded on the object
//! being absent), and a follower already recorded is not recorded again, so the same reply, like
//! or follow arriving twice makes one notification.
//!
//! The `notifications` tree maps `at_ms | object id` (big-endian time, so byte order is time
//! order; the id of the object that caused it makes the key unique) to a small binary record:
//! `kind` (1 byte) | actor (the peer part of the `keys` module) | the post's id (32 bytes, for
//! `reply` and `like` only). `at_ms` is this node's clock when it recorded the notification,
//! not the author's `created_at`: a reply that arrives a week late is news now.
//!
//! Listing ([`Social::notifications`]) walks the keys backwards and skips entries whose post is
//! no longer stored (the reply or the liked post was deleted): such an entry has nothing left
//! to show. The tree does not trim itself; [`Social::trim_notifications`] keeps the newest `n`,
//! and the node calls it often enough that the tree stays bounded.

use kith_protocols::{Content, ObjectId, PostContent, SignedObject};
use libp2p::PeerId;

use super::plan::{Expect, Plan, Then};
use super::{Cursor, Decision, FollowState, FollowStatus, Inserted, Social, keys};
use crate::batch::TreeName;
use crate::error::{Error, Result};

/// Keys removed per batch when trimming, so that one trim never builds a huge transaction.
const TRIM_BATCH: usize = 1024;

/// What a notification tells the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// Someone replied to one of the owner's posts.
    Reply,
    /// Someone liked one of the owner's posts.
    Like,
    /// Someone started following the owner (an open account).
    Follow,
    /// Someone asked to follow the owner (a locked account).
    FollowRequest,
}

impl NotificationKind {
    /// The record's first byte. Part of the on-disk format: never renumber.
    fn to_byte(self) -> u8 {
        match self {
            NotificationKind::Reply => 0,
            NotificationKind::Like => 1,
            NotificationKind::Follow => 2,
            NotificationKind::FollowRequest => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => NotificationKind::Reply,
            1 => NotificationKind::Like,
            2 => NotificationKind::Follow,
            3 => NotificationKind::FollowRequest,
            _ => return None,
        })
    }

    /// Whether a notification of this kind names a post.
    fn has_post(self) -> bool {
        matches!(self, NotificationKind::Reply | NotificationKind::Like)
    }
}

/// One notification, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// The object that caused it (the reply, the like, the follow). No object causes two
    /// notifications, so this also identifies the notification.
    pub object: ObjectId,
    /// What happened.
    pub kind: NotificationKind,
    /// When this node recorded it (unix ms, this node's clock).
    pub at_ms: u64,
    /// Who did it.
    pub actor: PeerId,
    /// The post to show with it: the reply itself (`Reply`), the owner's liked post (`Like`);
    /// `None` for follows.
    pub post: Option<ObjectId>,
}

impl Notification {
    /// Its key in `notifications`.
    fn key(&self) -> Vec<u8> {
        keys::notification(self.at_ms, &self.object)
    }

    /// Its value in `notifications`.
    fn encode(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(1 + 40 + keys::ID_LEN);
        value.push(self.kind.to_byte());
        keys::push_peer(&mut value, &self.actor);
        if let Some(post) = &self.post {
            value.extend_from_slice(post.as_bytes());
        }
        value
    }

    /// Decodes an entry of `notifications`; `None` if it is malformed.
    fn decode(key: &[u8], value: &[u8]) -> Option<Self> {
        let (at_ms, object) = keys::parse_time_id(key)?;
        let (&kind, rest) = value.split_first()?;
        let kind = NotificationKind::from_byte(kind)?;
        let (&peer_len, rest) = rest.split_first()?;
        let (actor, rest) = rest.split_at_checked(usize::from(peer_len))?;
        let actor = PeerId::from_bytes(actor).ok()?;
        let post = match (kind.has_post(), rest.len()) {
            (true, keys::ID_LEN) => Some(keys::parse_id(rest)?),
            (false, 0) => None,
            _ => return None,
        };
        Some(Notification {
            object,
            kind,
            at_ms,
            actor,
            post,
        })
    }
}

/// One page of notifications, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPage {
    /// The notifications, newest first.
    pub items: Vec<Notification>,
    /// Pass this to get the next page; `None` when this page reached the end.
    pub next: Option<Cursor>,
}

/// What [`Social::insert_received`] did with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// What storing the object came to (as [`Social::insert`] reports it).
    pub inserted: Inserted,
    /// The notification recorded with it, if it is news for the owner (only when `inserted`
    /// is [`Inserted::Stored`]).
    pub notification: Option<Notification>,
}

/// Whose notifications an insert records, and at what time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Notify {
    pub(super) owner: PeerId,
    pub(super) at_ms: u64,
}

impl Social {
    /// Stores an object received from another node, as [`insert`](Social::insert) does, and in
    /// the same batch records the notification it means for `owner`, at `now_ms` (this node's
    /// clock): a reply to one of `owner`'s stored posts, or a like of one, by anyone but
    /// `owner`. Nothing else makes a notification.
    ///
    /// # Errors
    ///
    /// As [`insert`](Social::insert).
    pub async fn insert_received(
        &self,
        object: &SignedObject,
        in_timeline: bool,
        owner: &PeerId,
        now_ms: u64,
    ) -> Result<Received> {
        let notify = Notify {
            owner: *owner,
            at_ms: now_ms,
        };
        self.insert_with(object, in_timeline, Some(notify)).await
    }

    /// Records that `peer` follows the owner (or asks to), **unless** a relation with `peer` is
    /// already recorded, together with the owner's notification in the same batch: `follow`
    /// for an [`Active`](FollowStatus::Active) relation, `follow_request` for a
    /// [`Requested`](FollowStatus::Requested) one, at `state.since_ms`.
    ///
    /// Returns the notification, or `None` if `peer` was already recorded (then nothing
    /// changed: two copies of one follow arriving together make one follower and one
    /// notification).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn add_follower(
        &self,
        peer: PeerId,
        state: FollowState,
    ) -> Result<Option<Notification>> {
        let notification = Notification {
            object: state.object,
            kind: match state.status {
                FollowStatus::Active => NotificationKind::Follow,
                FollowStatus::Requested => NotificationKind::FollowRequest,
            },
            at_ms: state.since_ms,
            actor: peer,
            post: None,
        };
        let added = self
            .plan()
            .swap(
                TreeName::Followers,
                peer.to_bytes(),
                Expect::Absent,
                Then::Put(serde_json::to_vec(&state)?),
            )
            .put(
                TreeName::Notifications,
                notification.key(),
                notification.encode(),
            )
            .commit()
            .await?;
        // The plan's one guard failed: a relation with `peer` is recorded already.
        Ok(added.then_some(notification))
    }

    /// The owner's notifications, newest first: `limit` of them strictly older than `before`
    /// (from the newest if `None`). Entries whose post is no longer stored (deleted) and
    /// entries that do not decode (logged) are skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if a read failed.
    pub fn notifications(&self, limit: usize, before: Option<Cursor>) -> Result<NotificationPage> {
        let mut page = NotificationPage {
            items: Vec::with_capacity(limit.min(super::PAGE_PREALLOCATION)),
            next: None,
        };
        let Some(range) = keys::range_within(&[], None, before.as_ref().map(Cursor::key)) else {
            return Ok(page);
        };
        if limit == 0 {
            return Ok(page);
        }
        let mut entries = self
            .tree(TreeName::Notifications)
            .range::<Vec<u8>, _>(range)
            .rev();
        let mut last = None;
        while page.items.len() < limit {
            let Some(entry) = entries.next() else {
                return Ok(page);
            };
            let (key, value) = entry?;
            match Notification::decode(&key, &value) {
                Some(notification) => {
                    let shown = match &notification.post {
                        Some(post) => self.contains(post)?,
                        None => true,
                    };
                    if shown {
                        page.items.push(notification);
                    }
                }
                None => tracing::warn!("skipping a notification entry that does not decode"),
            }
            last = Some(key);
        }
        if entries.next().transpose()?.is_some() {
            page.next = last.map(|key| Cursor::at(&key));
        }
        Ok(page)
    }

    /// Keeps the newest `keep` notifications and removes the older ones. Returns how many were
    /// removed. Notifications recorded meanwhile are newer than every one removed, so trimming
    /// never races an insert.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if a read failed; see [`Batch::commit`](crate::Batch::commit).
    pub async fn trim_notifications(&self, keep: usize) -> Result<usize> {
        let mut removed = 0;
        loop {
            // A chunk at a time, so that memory and transactions stay small however far over
            // the tree is; each round skips the `keep` newest again (a key scan, no decoding).
            let old: Vec<sled::IVec> = self
                .tree(TreeName::Notifications)
                .iter()
                .rev()
                .skip(keep)
                .take(TRIM_BATCH)
                .map(|entry| entry.map(|(key, _)| key))
                .collect::<std::result::Result<_, _>>()?;
            if old.is_empty() {
                break;
            }
            let mut batch = self.store.batch();
            for key in &old {
                batch = batch.remove(TreeName::Notifications, key.to_vec());
            }
            batch.commit().await?;
            removed += old.len();
        }
        if removed > 0 {
            tracing::debug!(removed, keep, "trimmed the notifications");
        }
        Ok(removed)
    }

    /// Adds to `plan` the notification that post `object` (a reply to `parent`) means for the
    /// owner, if it does.
    pub(super) fn notify_reply(
        &self,
        plan: Plan,
        object: &SignedObject,
        post: &PostContent,
        notify: Option<Notify>,
    ) -> Result<Decision> {
        let (Some(notify), Some(parent)) = (notify, &post.reply_to) else {
            return Ok(Decision::Write(Inserted::Stored, plan));
        };
        if object.author() == notify.owner || !self.is_post_of(parent, &notify.owner)? {
            return Ok(Decision::Write(Inserted::Stored, plan));
        }
        Ok(record(
            plan,
            Notification {
                object: object.id(),
                kind: NotificationKind::Reply,
                at_ms: notify.at_ms,
                actor: object.author(),
                post: Some(object.id()),
            },
        ))
    }

    /// Adds to `plan` the notification that like `object` of `target` means for the owner, if
    /// it does.
    pub(super) fn notify_like(
        &self,
        plan: Plan,
        object: &SignedObject,
        target: &ObjectId,
        notify: Option<Notify>,
    ) -> Result<Decision> {
        let Some(notify) = notify else {
            return Ok(Decision::Write(Inserted::Stored, plan));
        };
        if object.author() == notify.owner || !self.is_post_of(target, &notify.owner)? {
            return Ok(Decision::Write(Inserted::Stored, plan));
        }
        Ok(record(
            plan,
            Notification {
                object: object.id(),
                kind: NotificationKind::Like,
                at_ms: notify.at_ms,
                actor: object.author(),
                post: Some(*target),
            },
        ))
    }

    /// Whether `id` is a stored post by `author`.
    fn is_post_of(&self, id: &ObjectId, author: &PeerId) -> Result<bool> {
        match self.get(id) {
            Ok(Some(object)) => {
                Ok(object.author() == *author && matches!(object.content(), Content::Post(_)))
            }
            Ok(None) | Err(Error::Corrupt { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// `plan` plus the put of `notification`, as a decision to store.
fn record(plan: Plan, notification: Notification) -> Decision {
    let plan = plan.put(
        TreeName::Notifications,
        notification.key(),
        notification.encode(),
    );
    Decision::WriteNotifying(plan, notification)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn records_round_trip() {
        for (kind, post) in [
            (NotificationKind::Reply, Some(ObjectId::from_bytes([7; 32]))),
            (NotificationKind::Like, Some(ObjectId::from_bytes([8; 32]))),
            (NotificationKind::Follow, None),
            (NotificationKind::FollowRequest, None),
        ] {
            let notification = Notification {
                object: ObjectId::from_bytes([1; 32]),
                kind,
                at_ms: 1_700_000_000_123,
                actor: PeerId::random(),
                post,
            };
            let (key, value) = (notification.key(), notification.encode());
            assert_eq!(
                Notification::decode(&key, &value),
                Some(notification.clone())
            );
            // A record with the wrong tail for its kind is refused.
            let mut wrong = value.clone();
            if post.is_some() {
                wrong.truncate(wrong.len() - 1);
            } else {
                wrong.push(0);
            }
            assert_eq!(Notification::decode(&key, &wrong), None, "{kind:?}");
        }
        assert_eq!(Notification::decode(&[0; 40], &[9]), None);
        assert_eq!(Notification::decode(&[0; 39], &[2, 0]), None);
    }

    #[tokio::test]
    async fn trimming_a_long_way_over_goes_a_chunk_at_a_time() {
        let store = crate::Store::open_temporary().unwrap();
        let social = store.social();
        let total = 2 * TRIM_BATCH + 300;
        let mut batch = store.batch();
        for i in 0..total {
            let mut object = [0u8; 32];
            object[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let notification = Notification {
                object: ObjectId::from_bytes(object),
                kind: NotificationKind::Follow,
                at_ms: 1_000 + i as u64,
                actor: PeerId::random(),
                post: None,
            };
            batch = batch.put(
                TreeName::Notifications,
                notification.key(),
                notification.encode(),
            );
        }
        batch.commit().await.unwrap();

        assert_eq!(social.trim_notifications(100).await.unwrap(), total - 100);
        let kept = social.notifications(1000, None).unwrap();
        assert_eq!(kept.items.len(), 100);
        assert_eq!(kept.next, None);
        let times: Vec<u64> = kept.items.iter().map(|n| n.at_ms).collect();
        let newest: Vec<u64> = (total - 100..total)
            .rev()
            .map(|i| 1_000 + i as u64)
            .collect();
        assert_eq!(times, newest);
    }

    proptest! {
        #[test]
        fn decoding_never_panics(
            key in proptest::collection::vec(any::<u8>(), 0..50),
            value in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            if let Some(decoded) = Notification::decode(&key, &value) {
                prop_assert_eq!(decoded.key(), key);
                prop_assert_eq!(decoded.encode(), value);
            }
        }
    }
}
