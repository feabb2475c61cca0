//! Posts: storing them, and the listings they are read through.
//!
//! A post is indexed three ways, each a key with an empty value ending in the post's id:
//!
//! * `posts_by_author` (author | created_at | id): an author's posts, newest first
//!   ([`Social::posts_by`]); oldest first after a position, for pull-sync
//!   ([`Social::posts_since`]); and digests of time ranges, for set reconciliation
//!   ([`Social::range_digest`]).
//! * `timeline` (created_at | author | id): the home timeline ([`Social::timeline`]), the posts
//!   inserted with `in_timeline` (the owner's and the followees'). Ordering by (created_at,
//!   author, id) rather than by arrival means every node holding the same posts lists them in
//!   the same order, and a late-synced old post lands where it belongs.
//! * `replies` (parent | created_at | id): a post's replies, oldest first
//!   ([`Social::replies`]) or newest first ([`Social::replies_newest_first`]). How many a
//!   post has is kept in `reply_counts` ([`Social::reply_count`]), changed in the batch that
//!   adds or removes a reply, so showing a page of posts with their counts costs a point read
//!   per post rather than a scan of each post's replies.
//!
//! Pages are handed out with a [`Cursor`]: the key of the last item seen. The next page is the
//! range scan strictly beyond it, so paging costs the same at any depth and items inserted
//! meanwhile neither repeat nor shift the pages.

use kith_protocols::{ObjectId, PostContent, SignedObject};
use libp2p::PeerId;

use super::deletes::Tombstones;
use super::plan::{Expect, Then};
use super::{
    Cursor, Decision, Inserted, Notify, Order, Page, Social, counter_step, decode_count, half_open,
    keys,
};
use crate::batch::TreeName;
use crate::error::Result;

impl Social {
    /// The home timeline, newest first: `limit` posts strictly older than `before` (from the
    /// newest if `None`).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn timeline(&self, limit: usize, before: Option<Cursor>) -> Result<Page> {
        let range = keys::range_within(&[], None, before.as_ref().map(Cursor::key));
        self.read_page(TreeName::Timeline, range, Order::NewestFirst, limit)
    }

    /// `author`'s posts, newest first: `limit` posts strictly older than `before`.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn posts_by(&self, author: &PeerId, limit: usize, before: Option<Cursor>) -> Result<Page> {
        let range = keys::range_within(&keys::peer(author), None, before.as_ref().map(Cursor::key));
        self.read_page(TreeName::PostsByAuthor, range, Order::NewestFirst, limit)
    }

    /// The replies to `parent`, oldest first (conversation order): `limit` replies strictly
    /// after `after`.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn replies(&self, parent: &ObjectId, limit: usize, after: Option<Cursor>) -> Result<Page> {
        let range = keys::range_within(parent.as_bytes(), after.as_ref().map(Cursor::key), None);
        self.read_page(TreeName::Replies, range, Order::OldestFirst, limit)
    }

    /// The replies to `parent`, newest first: `limit` replies strictly older than `before`
    /// (from the newest if `None`).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn replies_newest_first(
        &self,
        parent: &ObjectId,
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<Page> {
        let range = keys::range_within(parent.as_bytes(), None, before.as_ref().map(Cursor::key));
        self.read_page(TreeName::Replies, range, Order::NewestFirst, limit)
    }

    /// How many replies to `parent` are stored (whether or not `parent` itself is).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if the counter does not decode;
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn reply_count(&self, parent: &ObjectId) -> Result<u64> {
        let value = self.tree(TreeName::ReplyCounts).get(parent.as_bytes())?;
        decode_count(TreeName::ReplyCounts, parent, value.as_deref())
    }

    /// `author`'s posts created after `after` (a `(created_at, id)` position, excluded; `None`
    /// = from the first), oldest first, at most `limit`: what the pull-sync route serves. The
    /// last item's `(created_at, id)` is where the next call continues.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn posts_since(
        &self,
        author: &PeerId,
        after: Option<(u64, ObjectId)>,
        limit: usize,
    ) -> Result<Vec<SignedObject>> {
        self.since(TreeName::PostsByAuthor, author, after, limit)
    }

    /// A digest of `author`'s stored posts with `from_ms <= created_at < to_ms`: how many there
    /// are, and the XOR of their ids.
    ///
    /// Two nodes holding the same posts of an author in a range get the same digest, so set
    /// reconciliation can compare ranges and split only those that differ. XOR is
    /// order-independent (no sorting, no buffering: one pass over the keys, no object read)
    /// and ids are SHA-256 outputs, so distinct sets colliding needs a deliberately crafted
    /// set; the count catches the cheap accidents (a post present twice cancels out of the XOR
    /// but not out of the count). A SHA-256 over the sorted ids would resist crafting but
    /// costs the same scan plus hashing; neither is maintained incrementally, because ranges
    /// are arbitrary.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn range_digest(
        &self,
        author: &PeerId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<(u64, [u8; 32])> {
        let mut count = 0u64;
        let mut digest = [0u8; 32];
        for id in self.ids_between(author, from_ms, to_ms) {
            count += 1;
            for (out, byte) in digest.iter_mut().zip(id?.as_bytes()) {
                *out ^= byte;
            }
        }
        Ok((count, digest))
    }

    /// The ids of `author`'s stored posts with `from_ms <= created_at < to_ms`, oldest first, at
    /// most `limit`, and whether the range holds more: the leaf step of set reconciliation.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn post_ids_between(
        &self,
        author: &PeerId,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<(Vec<ObjectId>, bool)> {
        let mut ids = Vec::new();
        for id in self.ids_between(author, from_ms, to_ms) {
            let id = id?;
            if ids.len() == limit {
                return Ok((ids, true));
            }
            ids.push(id);
        }
        Ok((ids, false))
    }

    /// The ids in `author`'s slice of `posts_by_author` between two times, in key order, read
    /// from the keys alone (no object is fetched).
    fn ids_between(
        &self,
        author: &PeerId,
        from_ms: u64,
        to_ms: u64,
    ) -> impl Iterator<Item = Result<ObjectId>> + use<> {
        let range = half_open(
            keys::peer_time(author, from_ms),
            keys::peer_time(author, to_ms),
        );
        range
            .map(|range| {
                self.tree(TreeName::PostsByAuthor)
                    .range::<Vec<u8>, _>(range)
            })
            .into_iter()
            .flatten()
            .filter_map(|entry| match entry {
                Ok((key, _)) => keys::trailing_id(&key).map(Ok),
                Err(error) => Some(Err(error.into())),
            })
    }

    /// Puts every stored post of `author` on the home timeline (when the owner starts
    /// following them). Returns how many posts that covered.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn add_to_timeline(&self, author: PeerId) -> Result<usize> {
        self.retimeline(author, true).await
    }

    /// Takes every post of `author` off the home timeline (when the owner stops following
    /// them); the posts stay stored. Returns how many posts that covered.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn remove_from_timeline(&self, author: PeerId) -> Result<usize> {
        self.retimeline(author, false).await
    }

    async fn retimeline(&self, author: PeerId, add: bool) -> Result<usize> {
        for _ in 0..super::MAX_ATTEMPTS {
            let mut plan = self.plan();
            let mut count = 0;
            for entry in self
                .tree(TreeName::PostsByAuthor)
                .scan_prefix(keys::peer(&author))
            {
                let (key, _) = entry?;
                let Some(timeline_key) = keys::timeline_from_author_key(&key) else {
                    continue;
                };
                count += 1;
                plan = if add {
                    // Only while the post is still stored: a delete landing first fails this.
                    plan.check(TreeName::PostsByAuthor, key.to_vec(), Expect::Present)
                        .put(TreeName::Timeline, timeline_key, Vec::new())
                } else {
                    plan.remove(TreeName::Timeline, timeline_key)
                };
            }
            if plan.commit().await? {
                return Ok(count);
            }
        }
        Err(crate::Error::Transaction(format!(
            "updating the timeline for {author}: posts kept being deleted meanwhile"
        )))
    }

    /// Plans storing post `object` (and the owner's notification, with `notify`).
    pub(super) fn plan_post(
        &self,
        object: &SignedObject,
        post: &PostContent,
        in_timeline: bool,
        notify: Option<Notify>,
    ) -> Result<Decision> {
        let id = object.id();
        let author = object.author();
        if self.contains(&id)? {
            return Ok(Decision::Done(Inserted::Duplicate));
        }
        let (raw, tombstones) = self.tombstones_of(&id)?;
        if tombstones.confirmed().is_some() {
            return Ok(Decision::Done(Inserted::Deleted));
        }
        if let Some(entry) = tombstones.by(&author) {
            // Its author deleted it before it reached us: refuse it, confirm the tombstone
            // (dropping other authors' forged deletes) and drop likes that came early.
            let plan = self
                .plan()
                .check(TreeName::Objects, id.as_bytes().to_vec(), Expect::Absent)
                .swap(
                    TreeName::Tombstones,
                    id.as_bytes().to_vec(),
                    Expect::seen(raw.as_deref()),
                    Then::Put(Tombstones::confirm(entry).encode()),
                );
            let plan = self.purge_likes(plan, &id)?;
            return Ok(Decision::Write(Inserted::Deleted, plan));
        }

        let created_at = object.created_at();
        let mut plan = self
            .plan_new_object(object)
            // Deletes by others than the author are forgeries: gone with the post's arrival.
            // Usually there are none, and this only guards that none arrives meanwhile.
            .swap(
                TreeName::Tombstones,
                id.as_bytes().to_vec(),
                Expect::seen(raw.as_deref()),
                Then::Remove,
            )
            .put(
                TreeName::PostsByAuthor,
                keys::peer_time_id(&author, created_at, &id),
                Vec::new(),
            );
        if in_timeline {
            plan = plan.put(
                TreeName::Timeline,
                keys::timeline(created_at, &author, &id),
                Vec::new(),
            );
        }
        if let Some(parent) = &post.reply_to {
            plan = plan
                .put(
                    TreeName::Replies,
                    keys::reply(parent, created_at, &id),
                    Vec::new(),
                )
                // An increment, not a guard: replies to one post must not conflict.
                .update(
                    TreeName::ReplyCounts,
                    parent.as_bytes().to_vec(),
                    counter_step(TreeName::ReplyCounts, *parent, true),
                );
        }
        self.notify_reply(plan, object, post, notify)
    }
}
