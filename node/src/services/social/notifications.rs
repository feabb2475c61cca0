//! The owner's notifications: reading them, announcing new ones, keeping their number bounded.
//!
//! The store records a notification in the same batch as its cause (a reply to or a like of
//! one of the owner's posts, from `accept`; a new follower or follow request, from `follows`),
//! so this module never decides *whether* something is news: it shows what the store recorded
//! (`GET /api/v1/notifications`), announces each new one on the event stream (`notification`),
//! and trims the oldest ones so that the tree stays bounded: at start, and again after every
//! [`TRIM_EVERY`] new notifications, it keeps the newest [`KEEP_NOTIFICATIONS`]. So the tree
//! never holds much more than `KEEP_NOTIFICATIONS + TRIM_EVERY` entries.

use std::{collections::HashMap, sync::atomic::Ordering};

use kith_protocols::{EventView, NotificationPage};
use kith_storage::Notification;

use super::{SocialService, page_limit, parse_cursor};
use crate::Error;

/// How many notifications the node keeps: the newest.
pub(crate) const KEEP_NOTIFICATIONS: usize = 10_000;

/// How many new notifications start a trim.
pub(crate) const TRIM_EVERY: usize = 1_000;

impl SocialService {
    /// The owner's notifications, newest first, without those whose actor the owner muted (so
    /// a page may hold fewer than `limit`, as when a notified post was deleted).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for a limit out of range or a cursor this node did not hand out; store
    /// errors.
    pub fn notifications(
        &self,
        limit: usize,
        before: Option<&str>,
    ) -> Result<NotificationPage, Error> {
        let mut page = self
            .inner
            .social
            .notifications(page_limit(limit)?, parse_cursor(before)?)?;
        let muted = self.muted_peers()?;
        if !muted.is_empty() {
            page.items
                .retain(|notification| !muted.contains(&notification.actor));
        }
        self.notification_page_view(page)
    }

    /// Tells the owner's event stream about a notification the store just recorded, and trims
    /// the stored ones when enough new ones came in.
    pub(crate) fn announce_notification(&self, notification: &Notification) {
        match self.notification_view(notification, &mut HashMap::new()) {
            Ok(Some(view)) => self.emit(EventView::Notification { notification: view }),
            // Its post was deleted in the meantime: nothing to show.
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not show a new notification"),
        }
        let recorded = self
            .inner
            .notifications_since_trim
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if recorded >= TRIM_EVERY {
            self.inner
                .notifications_since_trim
                .store(0, Ordering::Relaxed);
            self.trim_notifications_in_background();
        }
    }

    /// Keeps the newest [`KEEP_NOTIFICATIONS`] notifications, in the background.
    pub(crate) fn trim_notifications_in_background(&self) {
        let social = self.inner.social.clone();
        self.spawn(async move {
            if let Err(error) = social.trim_notifications(KEEP_NOTIFICATIONS).await {
                tracing::warn!(%error, "could not trim the notifications; trying again later");
            }
        });
    }
}
