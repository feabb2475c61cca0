//! Stored objects as the API shows them: posts with their author's name, their like and reply
//! counts and whether the owner liked them; notifications; profiles; follow relations.

use std::collections::HashMap;

use kith_protocols::{
    Content, FollowOutcome, NotificationKind, NotificationPage, NotificationView, PostPage,
    PostView, Profile, ProfileSummary, ProfileView, SignedObject,
};
use kith_storage::{FollowStatus, Notification, Page};
use libp2p::PeerId;

use super::SocialService;
use crate::Error;

impl SocialService {
    /// The view of one stored post.
    pub(crate) fn post_view(&self, object: &SignedObject) -> Result<PostView, Error> {
        let name = self.display_name(&object.author());
        self.post_view_named(object, name)
    }

    fn post_view_named(
        &self,
        object: &SignedObject,
        author_name: Option<String>,
    ) -> Result<PostView, Error> {
        let Content::Post(post) = object.content() else {
            return Err(Error::NotFound(format!("{} is not a post", object.id())));
        };
        let social = &self.inner.social;
        let id = object.id();
        // Three point reads: two counters and the owner's entry in the post's likes.
        Ok(PostView {
            id,
            author: object.author(),
            author_name,
            created_at: object.created_at(),
            text: post.text.clone(),
            reply_to: post.reply_to,
            quote_of: post.quote_of,
            like_count: social.like_count(&id)?,
            liked: social.like_by(&id, &self.me())?.is_some(),
            reply_count: social.reply_count(&id)?,
        })
    }

    /// The view of a stored notification: `None` if its post is gone (deleted since it was
    /// listed).
    pub(crate) fn notification_view(
        &self,
        notification: &Notification,
        names: &mut HashMap<PeerId, Option<String>>,
    ) -> Result<Option<NotificationView>, Error> {
        let mut name_of = |peer: PeerId| {
            names
                .entry(peer)
                .or_insert_with(|| self.display_name(&peer))
                .clone()
        };
        let post = match &notification.post {
            Some(id) => match self.inner.social.get(id)? {
                Some(object) if matches!(object.content(), Content::Post(_)) => {
                    let name = name_of(object.author());
                    Some(self.post_view_named(&object, name)?)
                }
                _ => return Ok(None),
            },
            None => None,
        };
        Ok(Some(NotificationView {
            id: notification.object.to_string(),
            kind: match notification.kind {
                kith_storage::NotificationKind::Reply => NotificationKind::Reply,
                kith_storage::NotificationKind::Like => NotificationKind::Like,
                kith_storage::NotificationKind::Follow => NotificationKind::Follow,
                kith_storage::NotificationKind::FollowRequest => NotificationKind::FollowRequest,
            },
            at: notification.at_ms,
            actor: notification.actor,
            actor_name: name_of(notification.actor),
            post,
        }))
    }

    /// A page of notifications, each name looked up once.
    pub(crate) fn notification_page_view(
        &self,
        page: kith_storage::NotificationPage,
    ) -> Result<NotificationPage, Error> {
        let mut names = HashMap::new();
        let mut notifications = Vec::with_capacity(page.items.len());
        for notification in &page.items {
            if let Some(view) = self.notification_view(notification, &mut names)? {
                notifications.push(view);
            }
        }
        Ok(NotificationPage {
            notifications,
            next: page.next.map(|cursor| cursor.to_string()),
        })
    }

    /// A page of posts, each author's name looked up once.
    pub(crate) fn page_view(&self, page: Page) -> Result<PostPage, Error> {
        let mut names: HashMap<PeerId, Option<String>> = HashMap::new();
        let posts = page
            .items
            .iter()
            .map(|object| {
                let name = names
                    .entry(object.author())
                    .or_insert_with(|| self.display_name(&object.author()))
                    .clone();
                self.post_view_named(object, name)
            })
            .collect::<Result<_, _>>()?;
        Ok(PostPage {
            posts,
            next: page.next.map(|cursor| cursor.to_string()),
        })
    }

    /// `peer`'s display name, from their stored profile or their node's summary; `None` when
    /// unknown or empty.
    pub(crate) fn display_name(&self, peer: &PeerId) -> Option<String> {
        if *peer == self.me() {
            let name = self.own_profile().ok().map(|profile| profile.display_name);
            return name.filter(|name| !name.is_empty());
        }
        let name = match self.inner.social.profile(peer) {
            Ok(Some(object)) => match object.content() {
                Content::Profile(profile) => Some(profile.display_name.clone()),
                _ => None,
            },
            _ => self.summary(peer).map(|summary| summary.display_name),
        };
        name.filter(|name| !name.is_empty())
    }
}

/// The view of a stored profile object.
pub(crate) fn profile_view(object: &SignedObject) -> ProfileView {
    match object.content() {
        Content::Profile(profile) => profile_view_of(profile, Some(object.created_at())),
        _ => profile_view_of(&Profile::default(), None),
    }
}

pub(crate) fn profile_view_of(profile: &Profile, updated_at: Option<u64>) -> ProfileView {
    ProfileView {
        display_name: profile.display_name.clone(),
        bio: profile.bio.clone(),
        avatar: profile.avatar.clone(),
        locked: profile.locked,
        updated_at,
    }
}

/// The public summary of a stored profile object: what the node info document carries.
pub(crate) fn profile_summary(object: &SignedObject) -> Option<ProfileSummary> {
    match object.content() {
        Content::Profile(profile) => Some(ProfileSummary {
            display_name: profile.display_name.clone(),
            locked: profile.locked,
        }),
        _ => None,
    }
}

/// What a node's info says about its owner, as a (partial) profile.
pub(crate) fn summary_view(summary: &ProfileSummary) -> ProfileView {
    ProfileView {
        display_name: summary.display_name.clone(),
        bio: String::new(),
        avatar: None,
        locked: summary.locked,
        updated_at: None,
    }
}

pub(crate) fn outcome(status: FollowStatus) -> FollowOutcome {
    match status {
        FollowStatus::Active => FollowOutcome::Active,
        FollowStatus::Requested => FollowOutcome::Requested,
    }
}
