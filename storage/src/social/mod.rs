//! The social core's storage: signed objects and the indexes the product reads them through.
//!
//! [`Social`] (from [`Store::social`]) stores every [`SignedObject`] the node keeps (its own and
//! those it receives) and answers the reads the product makes: the home timeline, an author's
//! posts, a post's replies, profiles, follows, likes, and what pull-sync needs.
//!
//! # Trees
//!
//! | tree                | key                             | value                            |
//! |---------------------|---------------------------------|----------------------------------|
//! | `objects`           | id                              | the object's exact JSON bytes    |
//! | `posts_by_author`   | author \| created_at \| id      | empty                            |
//! | `timeline`          | created_at \| author \| id      | empty                            |
//! | `replies`           | parent id \| created_at \| id   | empty                            |
//! | `tombstones`        | deleted post id                 | the deletes recorded for it      |
//! | `deletes_by_author` | author \| created_at \| id      | empty                            |
//! | `likes`             | post id \| liker                | like id                          |
//! | `like_counts`       | post id                         | number of likes, u64 big-endian  |
//! | `following`         | peer id bytes                   | [`FollowState`] as JSON          |
//! | `followers`         | peer id bytes                   | [`FollowState`] as JSON          |
//! | `profiles`          | peer                            | created_at \| id of the newest   |
//! | `sync_cursors`      | peer                            | created_at \| id synced up to    |
//! | `reply_counts`      | parent post id                  | number of replies, u64 big-endian|
//! | `notifications`     | at_ms \| object id              | kind \| actor \| post id          |
//!
//! The byte layout of each part (big-endian times, length-prefixed peers, raw 32-byte ids) is
//! in the `keys` module; the tombstone value in `deletes`. Every read is a point lookup or a
//! range scan over one prefix, walked backwards for newest-first listings; a listing then
//! fetches each item's bytes from `objects`, and nothing else.
//!
//! # Writing
//!
//! [`Social::insert`] stores one object and every index entry it implies in **one batch**, so a
//! reader sees all of it or none of it, and the insert resolves only once it is flushed. What
//! the batch contains depends on what is already stored (is this a duplicate? was the post
//! deleted before it arrived? which likes go with a deleted post?), so inserting is: read,
//! decide, write, with the decision's premises guarded inside the batch's own transaction (see
//! the `plan` module); a concurrent write that invalidates them makes the insert decide again.
//! Storing an object that is already stored changes nothing and reports
//! [`Inserted::Duplicate`].
//!
//! Counters (`like_counts`, `reply_counts`) change in the batch that adds or removes what they
//! count, so reading one is a point lookup that always agrees with its listing. The owner's
//! notifications are recorded the same way, in the batch of the object (or follower) that
//! causes them (see the `notifications` module).
//!
//! # Reading objects back
//!
//! Objects are verified (signature, fields, clock) before they are inserted; what `objects`
//! holds is trusted. Reads turn the stored bytes back into a [`SignedObject`] in `decode`, the
//! one place that knows how.

mod cursors;
mod deletes;
mod filtered;
mod follows;
mod keys;
mod likes;
mod notifications;
mod plan;
mod posts;
mod profiles;
mod search;

use std::ops::Bound;

use kith_protocols::{Content, ObjectId, SignedObject};
use libp2p::PeerId;

use crate::batch::TreeName;
use crate::error::{Error, Result};
use crate::store::Store;

pub use deletes::{MAX_PENDING_DELETES, Tombstone};
pub use follows::{FollowState, FollowStatus};
pub use keys::{Cursor, InvalidCursor, MAX_CURSOR_LEN};
pub use notifications::{Notification, NotificationKind, NotificationPage, Received};
pub use search::TimelineScan;

use keys::KeyRange;
use notifications::Notify;
use plan::{Expect, Plan, Then};

/// How many times [`Social::insert`] decides again after a concurrent write invalidated its
/// decision. Each retry needs yet another write about the same object to land in between, so
/// running out means something is badly wrong.
const MAX_ATTEMPTS: usize = 16;

/// Items preallocated for a page, whatever limit the caller asked for.
const PAGE_PREALLOCATION: usize = 64;

/// What [`Social::insert`] did with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inserted {
    /// Stored, with every index entry it implies (and, for a delete, the post removed).
    Stored,
    /// Nothing changed: the object is already stored, or says nothing new (a second like of
    /// the same post by the same liker, a second delete of the same post by its author).
    Duplicate,
    /// Refused: a post, or a like of a post, whose post its author has deleted. A deleted post
    /// is never stored again, whenever it arrives.
    Deleted,
    /// Refused: a profile no newer than the author's stored one (newer `created_at` wins; on
    /// equal times the greater id).
    Superseded,
    /// Refused: a delete whose target is not a post of the delete's author (or a target with
    /// [`MAX_PENDING_DELETES`] unconfirmed deletes already).
    Forbidden,
}

impl Inserted {
    /// Whether the object was stored (as opposed to found there already or refused).
    pub fn is_stored(self) -> bool {
        self == Inserted::Stored
    }
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The objects, in the listing's order.
    pub items: Vec<SignedObject>,
    /// Pass this to get the next page; `None` when this page reached the end.
    pub next: Option<Cursor>,
}

/// Which way a listing walks its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    NewestFirst,
    OldestFirst,
}

/// What planning an insert came to: an answer without writing, or a write to commit.
enum Decision {
    Done(Inserted),
    Write(Inserted, Plan),
    /// Store the object ([`Inserted::Stored`]); the plan also records this notification.
    WriteNotifying(Plan, Notification),
}

/// Handle to the social trees. Cheap to clone; get one with [`Store::social`].
///
/// Reads run on the calling thread (point lookups and short range scans); writes go through the
/// store's writer and resolve once flushed.
#[derive(Debug, Clone)]
pub struct Social {
    store: Store,
}

impl Store {
    /// The social trees: signed objects, timeline, follows, profiles, likes, sync cursors.
    pub fn social(&self) -> Social {
        Social {
            store: self.clone(),
        }
    }
}

impl Social {
    /// Stores a verified object and updates every index it touches, in one atomic batch,
    /// acknowledged once flushed.
    ///
    /// What each kind does:
    ///
    /// * **post**: `objects`, `posts_by_author`, `replies` and the parent's reply counter (if
    ///   it is a reply) and, when `in_timeline`, `timeline`. Refused ([`Inserted::Deleted`]) if its author's delete of it
    ///   is known.
    /// * **delete**: if the target post is stored, it must be the delete author's post
    ///   ([`Inserted::Forbidden`] otherwise); the post leaves every index (`objects`,
    ///   `posts_by_author`, `timeline`, `replies` and its parent's reply counter, its likes and
    ///   their objects) and the
    ///   tombstone is recorded. If the target is not stored (yet), the tombstone is recorded as
    ///   unconfirmed: the post is refused later if its author turns out to be the delete's.
    ///   The delete object itself is stored and indexed in `deletes_by_author`, for sync.
    /// * **like**: `objects`, `likes` and the post's counter; one like per liker and post.
    ///   Refused ([`Inserted::Deleted`]) if the post is known to be deleted.
    /// * **profile**: replaces the author's stored profile if it is newer
    ///   ([`Inserted::Superseded`] otherwise); the older profile object is dropped.
    /// * **follow**, **unfollow**: `objects` only; follow state is kept with
    ///   [`set_following`](Social::set_following) / [`set_follower`](Social::set_follower),
    ///   which the node drives.
    ///
    /// `in_timeline` only matters for posts. A post stored without it can be added later with
    /// [`add_to_timeline`](Social::add_to_timeline).
    ///
    /// This records no notification; objects from other nodes go through
    /// [`insert_received`](Social::insert_received), which does.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a stored value the decision needs does not decode; anything
    /// [`Batch::commit`](crate::Batch::commit) returns; [`Error::Transaction`] if concurrent
    /// writes about the same object kept invalidating the decision (not expected in practice).
    pub async fn insert(&self, object: &SignedObject, in_timeline: bool) -> Result<Inserted> {
        Ok(self.insert_with(object, in_timeline, None).await?.inserted)
    }

    /// [`insert`](Social::insert), recording the owner's notification too when `notify` is set
    /// (see [`insert_received`](Social::insert_received)).
    async fn insert_with(
        &self,
        object: &SignedObject,
        in_timeline: bool,
        notify: Option<Notify>,
    ) -> Result<Received> {
        for _ in 0..MAX_ATTEMPTS {
            let decision = match object.content() {
                Content::Post(post) => self.plan_post(object, post, in_timeline, notify)?,
                Content::Delete { target } => self.plan_delete(object, target)?,
                Content::Like { target } => self.plan_like(object, target, notify)?,
                Content::Profile(_) => self.plan_profile(object)?,
                Content::Follow { .. } | Content::Unfollow { .. } => self.plan_object(object)?,
            };
            let (plan, received) = match decision {
                Decision::Done(inserted) => {
                    return Ok(Received {
                        inserted,
                        notification: None,
                    });
                }
                Decision::Write(inserted, plan) => (
                    plan,
                    Received {
                        inserted,
                        notification: None,
                    },
                ),
                Decision::WriteNotifying(plan, notification) => (
                    plan,
                    Received {
                        inserted: Inserted::Stored,
                        notification: Some(notification),
                    },
                ),
            };
            if plan.commit().await? {
                return Ok(received);
            }
            tracing::debug!(id = %object.id(), "a concurrent write changed what this insert rests on; deciding again");
        }
        Err(Error::Transaction(format!(
            "storing object {}: concurrent writes changed its indexes {MAX_ATTEMPTS} times in a row",
            object.id()
        )))
    }

    /// The stored object with this id.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored bytes do not decode; [`Error::Sled`] if the read failed.
    pub fn get(&self, id: &ObjectId) -> Result<Option<SignedObject>> {
        match self.tree(TreeName::Objects).get(id.as_bytes())? {
            Some(bytes) => decode(id, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Whether an object with this id is stored.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if the read failed.
    pub fn contains(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.tree(TreeName::Objects).contains_key(id.as_bytes())?)
    }

    /// Plans storing an object that touches no index (follow, unfollow).
    fn plan_object(&self, object: &SignedObject) -> Result<Decision> {
        if self.contains(&object.id())? {
            return Ok(Decision::Done(Inserted::Duplicate));
        }
        Ok(Decision::Write(
            Inserted::Stored,
            self.plan_new_object(object),
        ))
    }

    /// A plan that starts by storing `object` under its id, on condition that no object has
    /// that id yet: every kind's insert begins with it.
    fn plan_new_object(&self, object: &SignedObject) -> Plan {
        self.plan().swap(
            TreeName::Objects,
            object.id().as_bytes().to_vec(),
            Expect::Absent,
            Then::Put(object.as_bytes().to_vec()),
        )
    }

    /// `author`'s entries in the per-author index `tree` after `after`, oldest first, at most
    /// `limit`: the reads pull-sync serves.
    fn since(
        &self,
        tree: TreeName,
        author: &PeerId,
        after: Option<(u64, ObjectId)>,
        limit: usize,
    ) -> Result<Vec<SignedObject>> {
        let after = after.map(|(created_at, id)| keys::peer_time_id(author, created_at, &id));
        let range = keys::range_within(&keys::peer(author), after.as_deref(), None);
        Ok(self
            .read_page(tree, range, Order::OldestFirst, limit)?
            .items)
    }

    fn plan(&self) -> Plan {
        Plan::new(&self.store)
    }

    fn tree(&self, name: TreeName) -> &sled::Tree {
        self.store.tree(name)
    }

    /// A listing: walks `range` of index `tree` in `order`, fetching the object each key ends
    /// with, until `limit` objects are found. Index entries whose object is missing or does
    /// not decode (never written so by this module) are skipped and logged.
    fn read_page(
        &self,
        tree: TreeName,
        range: Option<KeyRange>,
        order: Order,
        limit: usize,
    ) -> Result<Page> {
        let mut page = Page {
            items: Vec::with_capacity(limit.min(PAGE_PREALLOCATION)),
            next: None,
        };
        let Some(range) = range else {
            return Ok(page);
        };
        if limit == 0 {
            return Ok(page);
        }
        let scan = self.tree(tree).range::<Vec<u8>, _>(range);
        let mut keys: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match order
        {
            Order::NewestFirst => Box::new(scan.rev()),
            Order::OldestFirst => Box::new(scan),
        };
        let mut last = None;
        while page.items.len() < limit {
            let Some(entry) = keys.next() else {
                return Ok(page);
            };
            let (key, _) = entry?;
            if let Some(object) = self.listed(tree, &key)? {
                page.items.push(object);
            }
            last = Some(key);
        }
        if keys.next().transpose()?.is_some() {
            page.next = last.map(|key| Cursor::at(&key));
        }
        Ok(page)
    }

    /// The object an index key of `tree` points at, or `None` (logged) if it is missing or
    /// does not decode.
    fn listed(&self, tree: TreeName, key: &[u8]) -> Result<Option<SignedObject>> {
        let Some(id) = keys::trailing_id(key) else {
            tracing::warn!(%tree, "skipping an index key too short to name an object");
            return Ok(None);
        };
        match self.get(&id) {
            Ok(Some(object)) => Ok(Some(object)),
            Ok(None) => {
                tracing::warn!(%tree, %id, "skipping an index entry whose object is missing");
                Ok(None)
            }
            Err(Error::Corrupt { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Turns the stored bytes of object `id` back into a [`SignedObject`].
///
/// Everything in `objects` was verified before it was stored, under its id, so a read only
/// parses ([`SignedObject::from_verified_store`]): re-checking the signature would cost about
/// 65 µs per object in a release build, 3.3 ms for a page of 50, against about 0.25 ms for the
/// scan and the byte fetches.
fn decode(id: &ObjectId, bytes: &[u8]) -> Result<SignedObject> {
    SignedObject::from_verified_store(*id, bytes).map_err(|error| {
        tracing::warn!(%id, %error, "stored object does not decode");
        corrupt_object(id)
    })
}

fn corrupt_object(id: &ObjectId) -> Error {
    Error::Corrupt {
        tree: TreeName::Objects.as_str(),
        key: id.to_string(),
    }
}

/// A `u64` counter value: 8 bytes big-endian.
fn decode_count(tree: TreeName, key: &ObjectId, value: Option<&[u8]>) -> Result<u64> {
    match value {
        None => Ok(0),
        Some(bytes) => bytes
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| Error::Corrupt {
                tree: tree.as_str(),
                key: key.to_string(),
            }),
    }
}

/// The update function of a counter (`like_counts`, `reply_counts`) at `key` of `tree`: one
/// more, or one fewer. A counter that reaches 0 is removed, so a tree holds no key for what has
/// nothing to count; one fewer than 0 stays 0.
fn counter_step(
    tree: TreeName,
    key: ObjectId,
    more: bool,
) -> impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>> + Send + 'static {
    move |current| {
        let count = decode_count(tree, &key, current)?;
        let count = if more {
            count.saturating_add(1)
        } else {
            count.saturating_sub(1)
        };
        Ok((count > 0).then(|| count.to_be_bytes().to_vec()))
    }
}

/// The range of keys from `start` (included) to `end` (excluded), or `None` if empty.
fn half_open(start: Vec<u8>, end: Vec<u8>) -> Option<KeyRange> {
    (start < end).then_some((Bound::Included(start), Bound::Excluded(end)))
}

#[cfg(test)]
mod tests;
