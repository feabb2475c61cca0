//! Likes: who liked which post, and how many did.
//!
//! `likes` holds one key per liker and post, `post id | liker -> like id`, so "has X liked
//! this?" is a point lookup and a post's likers are one prefix scan. `like_counts` holds
//! `post id -> count` (u64 big-endian), maintained in the same batch as `likes`: showing a page
//! of 50 posts with their counts is then 50 point reads instead of 50 prefix scans whose cost
//! grows with popularity. The counter costs one more key written per like (an increment on the
//! writer, so likes by different likers never conflict), and doubles as the guard that keeps a
//! post's likes and its deletion from racing (see [`purge_likes`](Social::purge_likes)).
//!
//! Likes may arrive before the post they like (gossip gives no order); they are kept, and go
//! with the post if it turns out to be deleted. A like of a post known to be deleted is
//! refused.

use kith_protocols::{ObjectId, SignedObject};
use libp2p::PeerId;

use super::plan::{Expect, Plan, Then};
use super::{Decision, Inserted, Notify, Social, counter_step, decode_count, keys};
use crate::batch::TreeName;
use crate::error::Result;

impl Social {
    /// How many likes of `post` are stored.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if the counter does not decode;
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn like_count(&self, post: &ObjectId) -> Result<u64> {
        let value = self.tree(TreeName::LikeCounts).get(post.as_bytes())?;
        decode_count(TreeName::LikeCounts, post, value.as_deref())
    }

    /// The id of `liker`'s like of `post`, if they liked it.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn like_by(&self, post: &ObjectId, liker: &PeerId) -> Result<Option<ObjectId>> {
        let value = self.tree(TreeName::Likes).get(keys::like(post, liker))?;
        Ok(value.and_then(|value| keys::parse_id(&value)))
    }

    /// Plans storing like `object` of post `target` (and the owner's notification, with
    /// `notify`).
    pub(super) fn plan_like(
        &self,
        object: &SignedObject,
        target: &ObjectId,
        notify: Option<Notify>,
    ) -> Result<Decision> {
        let id = object.id();
        if self.contains(&id)? {
            return Ok(Decision::Done(Inserted::Duplicate));
        }
        let (tombstones_raw, tombstones) = self.tombstones_of(target)?;
        if tombstones.confirmed().is_some() {
            return Ok(Decision::Done(Inserted::Deleted));
        }
        let like_key = keys::like(target, &object.author());
        if self.tree(TreeName::Likes).contains_key(&like_key)? {
            return Ok(Decision::Done(Inserted::Duplicate));
        }
        let plan = self
            .plan_new_object(object)
            .swap(
                TreeName::Likes,
                like_key,
                Expect::Absent,
                Then::Put(id.as_bytes().to_vec()),
            )
            .check(
                TreeName::Tombstones,
                target.as_bytes().to_vec(),
                Expect::seen(tombstones_raw.as_deref()),
            )
            // An increment, not a guard: likes of one post by different likers must not
            // conflict with each other (a burst of them would retry in rounds).
            .update(
                TreeName::LikeCounts,
                target.as_bytes().to_vec(),
                counter_step(TreeName::LikeCounts, *target, true),
            );
        self.notify_like(plan, object, target, notify)
    }

    /// Adds to `plan` the removal of every like of `post` (index entries, like objects and the
    /// counter).
    ///
    /// The counter is read *before* the likes are listed and guarded at its value: every like
    /// raises it in the batch that stores the like, so a like that lands after this listing
    /// changes the counter and fails the plan, instead of being left behind.
    pub(super) fn purge_likes(&self, mut plan: Plan, post: &ObjectId) -> Result<Plan> {
        let count_raw = self.tree(TreeName::LikeCounts).get(post.as_bytes())?;
        for entry in self.tree(TreeName::Likes).scan_prefix(post.as_bytes()) {
            let (key, like) = entry?;
            if like.len() == keys::ID_LEN {
                plan = plan.remove(TreeName::Objects, like.to_vec());
            }
            plan = plan.remove(TreeName::Likes, key.to_vec());
        }
        Ok(plan.swap(
            TreeName::LikeCounts,
            post.as_bytes().to_vec(),
            Expect::seen(count_raw.as_deref()),
            Then::Remove,
        ))
    }
}
