//! Profiles: each author's newest profile object.
//!
//! `profiles` maps an author (the length-prefixed peer part) to `created_at | id` of their
//! newest profile. Keeping the time next to the id lets an arriving profile be compared without
//! reading and parsing the stored one. Newer `created_at` wins; on equal times the greater id
//! wins, so every node settles on the same profile whatever order they arrive in. The
//! superseded profile object is dropped from `objects` in the same batch: nothing reads it
//! again, and an old profile arriving later is recognised as older from the index alone.

use kith_protocols::{ObjectId, SignedObject};
use libp2p::PeerId;

use super::plan::{Expect, Then};
use super::{Decision, Inserted, Social, keys};
use crate::batch::TreeName;
use crate::error::{Error, Result};

impl Social {
    /// `peer`'s newest stored profile.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored index value or object does not decode; [`Error::Sled`]
    /// if the read failed.
    pub fn profile(&self, peer: &PeerId) -> Result<Option<SignedObject>> {
        let Some((_, id)) = self.profile_position(peer)? else {
            return Ok(None);
        };
        self.get(&id)
    }

    /// `(created_at, id)` of `peer`'s stored profile.
    fn profile_position(&self, peer: &PeerId) -> Result<Option<(u64, ObjectId)>> {
        match self.tree(TreeName::Profiles).get(keys::peer(peer))? {
            Some(value) => parse_position(peer, &value).map(Some),
            None => Ok(None),
        }
    }

    /// Plans storing profile `object`.
    pub(super) fn plan_profile(&self, object: &SignedObject) -> Result<Decision> {
        let id = object.id();
        let author = object.author();
        if self.contains(&id)? {
            return Ok(Decision::Done(Inserted::Duplicate));
        }
        let key = keys::peer(&author);
        let raw = self.tree(TreeName::Profiles).get(&key)?;
        let current = match &raw {
            Some(value) => Some(parse_position(&author, value)?),
            None => None,
        };
        let position = (object.created_at(), id);
        if current.is_some_and(|current| position <= current) {
            return Ok(Decision::Done(Inserted::Superseded));
        }
        let mut plan = self.plan_new_object(object).swap(
            TreeName::Profiles,
            key,
            Expect::seen(raw.as_deref()),
            Then::Put(keys::time_id(position.0, &id).to_vec()),
        );
        if let Some((_, old)) = current {
            plan = plan.remove(TreeName::Objects, old.as_bytes().to_vec());
        }
        Ok(Decision::Write(Inserted::Stored, plan))
    }
}

/// Decodes a `profiles` value of `peer`.
fn parse_position(peer: &PeerId, value: &[u8]) -> Result<(u64, ObjectId)> {
    keys::parse_time_id(value).ok_or_else(|| {
        tracing::warn!(%peer, "corrupt profile index value");
        Error::Corrupt {
            tree: TreeName::Profiles.as_str(),
            key: peer.to_base58(),
        }
    })
}
