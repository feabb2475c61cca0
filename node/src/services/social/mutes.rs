//! Mutes: people the owner does not want to see, without unfollowing or blocking them (and
//! without telling them: nothing goes over the network).
//!
//! The list lives in the store's `mutes` tree ([`kith_storage::Mutes`]). A mute only filters
//! what the owner reads; nothing is deleted, following and sync go on, so unmuting brings
//! everything back. This module holds the whole rule, applied at each place the owner reads:
//!
//! - the home timeline skips muted authors (`SocialService::timeline`, through
//!   [`kith_storage::Social::timeline_without`], reading up to [`MUTED_SCAN_FACTOR`] × limit
//!   entries per page so that a page still fills);
//! - the event stream: `emit`, the one door of every social event, drops `post` events by muted
//!   authors and `notification` events whose actor is muted ([`SocialService::hidden_by_mute`]);
//! - the notification list skips notifications whose actor is muted (a page may then hold fewer
//!   than its limit, as it already does when a notified post was deleted);
//! - a user's own page (`user`, `user_posts`) still shows them, with `muted: true`: the owner
//!   asked for that person.

use std::collections::HashSet;

use kith_protocols::{EventView, MuteView};
use kith_storage::MuteEntry;
use libp2p::PeerId;

use super::SocialService;
use crate::{Error, state::now_ms};

/// How many home-timeline entries a page examines at most, per post it may hold, when someone
/// is muted: bounds the work of a page whose newest entries are all by muted authors.
pub(crate) const MUTED_SCAN_FACTOR: usize = 10;

impl SocialService {
    /// The people the owner muted.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn mutes(&self) -> Result<Vec<MuteView>, Error> {
        Ok(self
            .inner
            .store
            .mutes()
            .list()?
            .into_iter()
            .map(|entry| self.mute_view(entry))
            .collect())
    }

    /// Mutes `peer`: their posts leave the home timeline and the event stream, their
    /// notifications the owner's list. Muting someone already muted keeps the first time.
    /// Durable when it returns.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for the owner themself; store errors.
    pub async fn mute(&self, peer: PeerId) -> Result<MuteView, Error> {
        if peer == self.me() {
            return Err(Error::Refused("you cannot mute yourself".to_owned()));
        }
        let entry = self.inner.store.mutes().add(peer, now_ms()).await?;
        Ok(self.mute_view(entry))
    }

    /// Unmutes `peer`; returns whether they were muted. Durable when it returns.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn unmute(&self, peer: PeerId) -> Result<bool, Error> {
        Ok(self.inner.store.mutes().remove(peer).await?)
    }

    /// Whether the owner muted `peer`.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn is_muted(&self, peer: &PeerId) -> Result<bool, Error> {
        Ok(self.inner.store.mutes().contains(peer)?)
    }

    /// Every muted peer, for filtering a listing.
    pub(crate) fn muted_peers(&self) -> Result<HashSet<PeerId>, Error> {
        Ok(self.inner.store.mutes().peers()?)
    }

    /// Whether the owner's event stream must not show `view` because of a mute: a post by a
    /// muted author, or a notification whose actor is muted. If the mutes cannot be read, the
    /// event is shown (and the failure logged): a live update is not worth losing over it.
    pub(crate) fn hidden_by_mute(&self, view: &EventView) -> bool {
        let peer = match view {
            EventView::Post { post } => post.author,
            EventView::Notification { notification } => notification.actor,
            _ => return false,
        };
        // The owner cannot be muted: their own posts (every post they write) need no lookup.
        if peer == self.me() {
            return false;
        }
        self.is_muted(&peer).unwrap_or_else(|error| {
            tracing::warn!(%error, %peer, "could not read the mutes; showing the event");
            false
        })
    }

    fn mute_view(&self, entry: MuteEntry) -> MuteView {
        MuteView {
            name: self.display_name(&entry.peer_id),
            peer_id: entry.peer_id,
            since_ms: entry.since_ms,
        }
    }
}

#[cfg(test)]
mod tests;
