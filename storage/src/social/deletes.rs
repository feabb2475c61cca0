//! Deletes and tombstones: withdrawing a post, for good.
//!
//! A delete may arrive before, after or instead of the post it withdraws, and anyone can sign
//! a delete naming anyone's post; only the post itself says who its author is. So the
//! `tombstones` tree holds, per target post id, the deletes recorded for it:
//!
//! * **confirmed**: the target was stored when the delete arrived and is the delete author's
//!   post. It is then removed from every index, and this is the only entry left. A confirmed
//!   target is never stored again, nor likes of it.
//! * **unconfirmed**: the target was unknown. Up to [`MAX_PENDING_DELETES`] entries, from
//!   different authors, wait for it. When the post arrives, an entry by its author refuses it
//!   (and becomes confirmed); entries by anyone else are forgeries and are dropped as the post
//!   is stored.
//!
//! So while a post is stored, no tombstone for it exists, and a tombstone never hides a post
//! from the wrong author.
//!
//! Value layout: a sequence of entries, each `status` (1 byte: 0 unconfirmed, 1 confirmed) |
//! delete id (32 bytes) | author (length byte, peer id bytes).
//!
//! Every delete object stored is also indexed in `deletes_by_author` (author | created_at |
//! id), so that pull-sync can hand a follower the deletes it missed
//! ([`Social::deletes_since`]).

use kith_protocols::{Content, ObjectId, SignedObject};
use libp2p::PeerId;

use super::plan::{Expect, Then};
use super::{Decision, Inserted, Social, counter_step, keys};
use crate::batch::TreeName;
use crate::error::{Error, Result};

/// Most unconfirmed deletes kept for one unknown post (from distinct authors). More are
/// refused: only one of them can be the post author's, the rest are forgeries.
pub const MAX_PENDING_DELETES: usize = 8;

/// A confirmed tombstone: the post was withdrawn by its author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tombstone {
    /// The delete object.
    pub delete: ObjectId,
    /// The deleted post's author (and the delete's).
    pub author: PeerId,
}

/// One recorded delete of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) confirmed: bool,
    pub(crate) delete: ObjectId,
    pub(crate) author: PeerId,
}

/// Every delete recorded for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tombstones(pub(crate) Vec<Entry>);

impl Tombstones {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(self.0.len() * 72);
        for entry in &self.0 {
            value.push(u8::from(entry.confirmed));
            value.extend_from_slice(entry.delete.as_bytes());
            value.extend_from_slice(&keys::peer(&entry.author));
        }
        value
    }

    /// Decodes a `tombstones` value; `None` if it is malformed.
    pub(crate) fn decode(mut value: &[u8]) -> Option<Self> {
        let mut entries = Vec::new();
        while let Some((&status, rest)) = value.split_first() {
            let confirmed = match status {
                0 => false,
                1 => true,
                _ => return None,
            };
            let (delete, rest) = rest.split_at_checked(keys::ID_LEN)?;
            let (&peer_len, rest) = rest.split_first()?;
            let (author, rest) = rest.split_at_checked(usize::from(peer_len))?;
            entries.push(Entry {
                confirmed,
                delete: keys::parse_id(delete)?,
                author: PeerId::from_bytes(author).ok()?,
            });
            value = rest;
        }
        Some(Tombstones(entries))
    }

    /// The confirmed entry, if the target is known to be deleted.
    pub(crate) fn confirmed(&self) -> Option<&Entry> {
        self.0.iter().find(|entry| entry.confirmed)
    }

    /// The entry recorded for a delete by `author`.
    pub(crate) fn by(&self, author: &PeerId) -> Option<&Entry> {
        self.0.iter().find(|entry| entry.author == *author)
    }

    /// Only `entry`, confirmed.
    pub(crate) fn confirm(entry: &Entry) -> Self {
        Tombstones(vec![Entry {
            confirmed: true,
            ..*entry
        }])
    }
}

impl Social {
    /// The tombstones recorded for `target`, as stored (raw bytes, for guards) and decoded.
    pub(crate) fn tombstones_of(
        &self,
        target: &ObjectId,
    ) -> Result<(Option<sled::IVec>, Tombstones)> {
        let raw = self.tree(TreeName::Tombstones).get(target.as_bytes())?;
        let decoded = match &raw {
            None => Tombstones::default(),
            Some(bytes) => Tombstones::decode(bytes).ok_or_else(|| {
                tracing::warn!(%target, "corrupt tombstone value");
                Error::Corrupt {
                    tree: TreeName::Tombstones.as_str(),
                    key: target.to_string(),
                }
            })?,
        };
        Ok((raw, decoded))
    }

    /// The confirmed tombstone of `target`: `Some` once the post is known to be deleted by its
    /// author. (Deletes of posts this node has not seen are not reported here.)
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored value does not decode; [`Error::Sled`] if the read
    /// failed.
    pub fn tombstone(&self, target: &ObjectId) -> Result<Option<Tombstone>> {
        let (_, tombstones) = self.tombstones_of(target)?;
        Ok(tombstones.confirmed().map(|entry| Tombstone {
            delete: entry.delete,
            author: entry.author,
        }))
    }

    /// `author`'s stored delete objects created after `after` (a `(created_at, id)` position,
    /// excluded; `None` = from the start), oldest first, at most `limit`: what pull-sync hands
    /// a follower alongside [`posts_since`](Social::posts_since).
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if the read failed.
    pub fn deletes_since(
        &self,
        author: &PeerId,
        after: Option<(u64, ObjectId)>,
        limit: usize,
    ) -> Result<Vec<SignedObject>> {
        self.since(TreeName::DeletesByAuthor, author, after, limit)
    }

    /// Plans storing delete `object` of post `target`.
    pub(super) fn plan_delete(&self, object: &SignedObject, target: &ObjectId) -> Result<Decision> {
        let id = object.id();
        let author = object.author();
        if self.contains(&id)? {
            return Ok(Decision::Done(Inserted::Duplicate));
        }
        let (raw, tombstones) = self.tombstones_of(target)?;
        let entry = Entry {
            confirmed: true,
            delete: id,
            author,
        };
        let plan = self.plan_new_object(object).put(
            TreeName::DeletesByAuthor,
            keys::peer_time_id(&author, object.created_at(), &id),
            Vec::new(),
        );

        let Some(post) = self.get(target)? else {
            // The post is unknown: record the delete, unconfirmed, unless it adds nothing.
            if let Some(confirmed) = tombstones.confirmed() {
                return Ok(Decision::Done(if confirmed.author == author {
                    Inserted::Duplicate
                } else {
                    Inserted::Forbidden
                }));
            }
            if tombstones.by(&author).is_some() {
                return Ok(Decision::Done(Inserted::Duplicate));
            }
            if tombstones.0.len() >= MAX_PENDING_DELETES {
                return Ok(Decision::Done(Inserted::Forbidden));
            }
            let mut pending = tombstones;
            pending.0.push(Entry {
                confirmed: false,
                ..entry
            });
            let plan = plan
                .check(
                    TreeName::Objects,
                    target.as_bytes().to_vec(),
                    Expect::Absent,
                )
                .swap(
                    TreeName::Tombstones,
                    target.as_bytes().to_vec(),
                    Expect::seen(raw.as_deref()),
                    Then::Put(pending.encode()),
                );
            return Ok(Decision::Write(Inserted::Stored, plan));
        };

        let Content::Post(content) = post.content() else {
            return Ok(Decision::Done(Inserted::Forbidden));
        };
        if post.author() != author {
            return Ok(Decision::Done(Inserted::Forbidden));
        }
        let created_at = post.created_at();
        let mut plan = plan
            .swap(
                TreeName::Objects,
                target.as_bytes().to_vec(),
                Expect::Present,
                Then::Remove,
            )
            .swap(
                TreeName::Tombstones,
                target.as_bytes().to_vec(),
                Expect::seen(raw.as_deref()),
                Then::Put(Tombstones::confirm(&entry).encode()),
            )
            .remove(
                TreeName::PostsByAuthor,
                keys::peer_time_id(&author, created_at, target),
            )
            .remove(
                TreeName::Timeline,
                keys::timeline(created_at, &author, target),
            );
        if let Some(parent) = &content.reply_to {
            plan = plan
                .remove(TreeName::Replies, keys::reply(parent, created_at, target))
                .update(
                    TreeName::ReplyCounts,
                    parent.as_bytes().to_vec(),
                    counter_step(TreeName::ReplyCounts, *parent, false),
                );
        }
        let plan = self.purge_likes(plan, target)?;
        Ok(Decision::Write(Inserted::Stored, plan))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tombstones_round_trip_and_reject_garbage() {
        let entries = Tombstones(vec![
            Entry {
                confirmed: false,
                delete: ObjectId::from_bytes([1; 32]),
                author: PeerId::random(),
            },
            Entry {
                confirmed: true,
                delete: ObjectId::from_bytes([2; 32]),
                author: PeerId::random(),
            },
        ]);
        let encoded = entries.encode();
        assert_eq!(Tombstones::decode(&encoded), Some(entries.clone()));
        assert_eq!(Tombstones::decode(&[]), Some(Tombstones::default()));
        assert_eq!(Tombstones::decode(&encoded[..encoded.len() - 1]), None);
        let mut bad_status = encoded.clone();
        bad_status[0] = 2;
        assert_eq!(Tombstones::decode(&bad_status), None);
        assert_eq!(entries.confirmed(), Some(&entries.0[1]));
        assert_eq!(entries.by(&entries.0[0].author), Some(&entries.0[0]));
    }

    proptest! {
        #[test]
        fn tombstone_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(decoded) = Tombstones::decode(&bytes) {
                prop_assert_eq!(decoded.encode(), bytes);
            }
        }
    }
}
