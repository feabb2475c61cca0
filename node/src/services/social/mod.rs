//! The social service: posts, profiles, likes, follows and timelines, and how they travel
//! between nodes. The HTTP API (the owner) and the route handlers (other nodes) both call it,
//! so each rule lives here once.
//!
//! - This module: the owner's own actions (write a post, delete it, like, edit the profile)
//!   and the reads behind the API (timeline, a post's replies, a user, a user's posts).
//! - `accept`: the one gate for objects that come from other nodes, whatever the path
//!   (gossip, pull sync, direct push): verify, decide whether this node wants it, store, tell
//!   the owner.
//! - `delivery`: how the owner's new objects leave: published on the owner's topic, or handed
//!   directly to approved followers when the account is locked.
//! - `follows`: following and being followed, locked accounts and follow requests.
//! - `sync`: pull sync from a followee's node (incremental from a cursor, then range
//!   reconciliation) and the serving side of the same route.
//! - `devices`: the owner's paired devices, the only peers allowed on `private` routes.
//! - `notifications`: the owner's notifications (recorded by the store with their cause):
//!   listing, announcing, trimming.
//! - `routes`: the stream handlers, thin wrappers over the above.
//! - `tasks`: what runs in the background: gossip intake, reactions to peers coming online,
//!   the periodic sync.
//! - `views`: turning stored objects into the API's views.
//! - `search`: the people and posts that match a query (the matching rule, once).
//! - `mutes`: people the owner muted, and where their posts and notifications are hidden.

mod accept;
mod delivery;
mod devices;
mod follows;
mod metrics;
mod mutes;
mod notifications;
mod routes;
mod search;
mod sync;
mod tasks;
mod views;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock, atomic::AtomicUsize},
    time::Duration,
};

use kith_protocols::{
    Content, EventView, NewPost, ObjectId, PostContent, PostPage, PostView, Profile,
    ProfileSummary, ProfileUpdate, ProfileView, SignedObject, Signer, UserView, VerifyRules,
    user_topic,
};
use kith_storage::{Cursor, Inserted, Social, Store};
use libp2p::PeerId;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{Error, NodeEvent, NodeHandle, Policy, state::now_ms};

pub(crate) use metrics::SocialMetrics;
pub use search::{
    DEFAULT_SEARCH_LIMIT, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT, MIN_ID_FRAGMENT, SEARCH_SCAN_BUDGET,
};
pub use sync::SyncReport;
pub(crate) use tasks::spawn_social_tasks;
pub(crate) use views::profile_summary;

/// Most items one API page returns.
pub const MAX_PAGE: usize = 200;

/// What the social service needs besides the node and the store.
#[derive(Debug, Clone)]
pub(crate) struct SocialConfig {
    pub signer: Signer,
    pub rules: VerifyRules,
    pub policy: Policy,
    pub sync_interval: Duration,
}

/// The social core of a node. Cheap to clone.
#[derive(Clone)]
pub struct SocialService {
    inner: Arc<Inner>,
}

struct Inner {
    node: NodeHandle,
    store: Store,
    social: Social,
    signer: Signer,
    me: PeerId,
    /// `kith/v1/user/<me>`, where an open account publishes.
    own_topic: String,
    /// The owner's profile fields as last stored (`None` until first read): every post's
    /// delivery asks whether the account is locked, every view of an own post for the name.
    /// Only [`SocialService::update_profile`] changes the stored profile, and it refreshes this.
    own_profile: RwLock<Option<Profile>>,
    rules: VerifyRules,
    policy: Policy,
    sync_interval: Duration,
    /// Serializes the owner's read-modify-write changes (profile, device list).
    owner_lock: tokio::sync::Mutex<()>,
    /// One sync at a time per followee: a second caller waits for the first.
    sync_locks: Mutex<HashMap<PeerId, Arc<tokio::sync::Mutex<()>>>>,
    /// What peers said about themselves in their node info (locked accounts show no more).
    summaries: Mutex<HashMap<PeerId, ProfileSummary>>,
    metrics: SocialMetrics,
    /// Notifications recorded since the last trim (see the `notifications` module).
    notifications_since_trim: AtomicUsize,
    tasks: TaskTracker,
    token: CancellationToken,
}

impl std::fmt::Debug for SocialService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialService")
            .field("me", &self.inner.me)
            .finish_non_exhaustive()
    }
}

impl SocialService {
    pub(crate) fn new(
        node: NodeHandle,
        store: Store,
        config: SocialConfig,
        metrics: SocialMetrics,
        tasks: TaskTracker,
        token: CancellationToken,
    ) -> Self {
        let me = config.signer.author();
        SocialService {
            inner: Arc::new(Inner {
                node,
                social: store.social(),
                store,
                signer: config.signer,
                me,
                own_topic: user_topic(&me),
                own_profile: RwLock::new(None),
                rules: config.rules,
                policy: config.policy,
                sync_interval: config.sync_interval,
                owner_lock: tokio::sync::Mutex::new(()),
                sync_locks: Mutex::default(),
                summaries: Mutex::default(),
                metrics,
                notifications_since_trim: AtomicUsize::new(0),
                tasks,
                token,
            }),
        }
    }

    /// Signed objects from other nodes refused so far (bad signature, wrong author, malformed).
    pub fn objects_rejected(&self) -> u64 {
        self.inner.metrics.rejected_total()
    }

    /// Objects found missing by reconciliation and fetched so far.
    pub fn objects_repaired(&self) -> u64 {
        self.inner.metrics.repaired_total()
    }

    /// The owner's peer id (the author of everything this node signs).
    pub fn me(&self) -> PeerId {
        self.inner.me
    }

    /// Writes a post: signs it, stores it durably, then hands it to followers.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] if the text breaks a rule (empty, too long); store errors.
    pub async fn create_post(&self, new: NewPost) -> Result<PostView, Error> {
        let object = self.sign(Content::Post(PostContent {
            text: new.text,
            reply_to: new.reply_to,
            quote_of: new.quote_of,
        }))?;
        self.store_own(&object).await?;
        self.deliver(&object).await;
        let view = self.post_view(&object)?;
        self.emit(EventView::Post { post: view.clone() });
        Ok(view)
    }

    /// A stored post.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no post has this id here.
    pub fn post(&self, id: &ObjectId) -> Result<PostView, Error> {
        let object = self.stored_post(id)?;
        self.post_view(&object)
    }

    /// Deletes one of the owner's posts: a signed tombstone, stored and delivered like a post,
    /// removes it on every node that gets it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no post has this id here, [`Error::Forbidden`] if it is someone
    /// else's.
    pub async fn delete_post(&self, id: &ObjectId) -> Result<(), Error> {
        let post = self.stored_post(id)?;
        if post.author() != self.me() {
            return Err(Error::Forbidden(
                "only its author can delete a post".to_owned(),
            ));
        }
        let object = self.sign(Content::Delete { target: *id })?;
        self.store_own(&object).await?;
        self.deliver(&object).await;
        self.emit(EventView::Delete {
            id: *id,
            author: self.me(),
        });
        Ok(())
    }

    /// Likes a post (once: liking it again changes nothing). A new like also goes on the
    /// event stream as a `like` event with the new count.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no post has this id here.
    pub async fn like(&self, id: &ObjectId) -> Result<PostView, Error> {
        let post = self.stored_post(id)?;
        if self.inner.social.like_by(id, &self.me())?.is_none() {
            let object = self.sign(Content::Like { target: *id })?;
            if self.inner.social.insert(&object, false).await? == Inserted::Stored {
                self.deliver(&object).await;
                self.announce_like(id);
            }
        }
        self.post_view(&post)
    }

    /// The replies to a post stored here that this node holds, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no post has this id here; [`Error::Refused`] for a limit out of
    /// range or a cursor this node did not hand out.
    pub fn replies(
        &self,
        id: &ObjectId,
        limit: usize,
        before: Option<&str>,
    ) -> Result<PostPage, Error> {
        self.stored_post(id)?;
        let page = self.inner.social.replies_newest_first(
            id,
            page_limit(limit)?,
            parse_cursor(before)?,
        )?;
        self.page_view(page)
    }

    /// The home timeline (the owner's and followees' posts), newest first, without the posts
    /// of people the owner muted. A page examines at most `MUTED_SCAN_FACTOR` × `limit`
    /// entries, so when many are muted it may hold fewer posts (and still a `next` cursor).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for a cursor this node did not hand out.
    pub fn timeline(&self, limit: usize, before: Option<&str>) -> Result<PostPage, Error> {
        let limit = page_limit(limit)?;
        // Muted authors are skipped (see the `mutes` module); with none, this is the plain
        // timeline.
        let page = self.inner.social.timeline_without(
            limit,
            parse_cursor(before)?,
            &self.muted_peers()?,
            limit.saturating_mul(mutes::MUTED_SCAN_FACTOR),
        )?;
        self.page_view(page)
    }

    /// `peer`'s posts stored here, newest first. A locked account the owner does not follow
    /// shows nothing (this node never received them).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for a cursor this node did not hand out.
    pub fn user_posts(
        &self,
        peer: &PeerId,
        limit: usize,
        before: Option<&str>,
    ) -> Result<PostPage, Error> {
        let page = self
            .inner
            .social
            .posts_by(peer, page_limit(limit)?, parse_cursor(before)?)?;
        self.page_view(page)
    }

    /// A person and how they relate to the owner.
    ///
    /// # Errors
    ///
    /// Store errors only: an unknown peer is a user with no profile.
    pub fn user(&self, peer: &PeerId) -> Result<UserView, Error> {
        let social = &self.inner.social;
        let profile = match social.profile(peer)? {
            Some(object) => Some(views::profile_view(&object)),
            None => self
                .summary(peer)
                .map(|summary| views::summary_view(&summary)),
        };
        Ok(UserView {
            peer_id: *peer,
            is_self: *peer == self.me(),
            profile,
            following: social
                .following_state(peer)?
                .map(|state| views::outcome(state.status)),
            follower: social
                .follower_state(peer)?
                .map(|state| views::outcome(state.status)),
            connected: self.inner.node.is_connected(peer),
            muted: self.is_muted(peer)?,
        })
    }

    /// The owner's profile (empty until they set one).
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn profile(&self) -> Result<ProfileView, Error> {
        Ok(match self.inner.social.profile(&self.me())? {
            Some(object) => views::profile_view(&object),
            None => views::profile_view_of(&Profile::default(), None),
        })
    }

    /// Whether the owner's account is locked (approves followers).
    pub(crate) fn is_locked(&self) -> Result<bool, Error> {
        Ok(self.own_profile()?.locked)
    }

    /// The owner's profile fields (defaults until set).
    fn own_profile(&self) -> Result<Profile, Error> {
        let cached = self
            .inner
            .own_profile
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(profile) = cached {
            return Ok(profile);
        }
        let profile = match self.inner.social.profile(&self.me())? {
            Some(object) => match object.content() {
                Content::Profile(profile) => profile.clone(),
                _ => Profile::default(),
            },
            None => Profile::default(),
        };
        // An update_profile racing this read puts its own (newer) profile in the cache;
        // `get_or_insert_with` never replaces that with this possibly older read.
        self.inner
            .own_profile
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| profile.clone());
        Ok(profile)
    }

    /// Changes the owner's profile: the fields given replace the stored ones; a new signed
    /// profile replaces the old one everywhere it reaches.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] if a field breaks a rule (too long).
    pub async fn update_profile(&self, update: ProfileUpdate) -> Result<ProfileView, Error> {
        let _guard = self.inner.owner_lock.lock().await;
        let current = self.inner.social.profile(&self.me())?;
        let mut profile = self.own_profile()?;
        let was_locked = profile.locked;
        if let Some(name) = update.display_name {
            profile.display_name = name;
        }
        if let Some(bio) = update.bio {
            profile.bio = bio;
        }
        if let Some(avatar) = update.avatar {
            profile.avatar = (!avatar.is_empty()).then_some(avatar);
        }
        if let Some(locked) = update.locked {
            profile.locked = locked;
        }
        // Newest wins everywhere: never sign a profile older than the stored one.
        let created_at = current
            .as_ref()
            .map_or(0, |stored| stored.created_at() + 1)
            .max(now_ms());
        let object = self
            .inner
            .signer
            .sign(
                created_at,
                Content::Profile(profile.clone()),
                &self.inner.rules,
            )
            .map_err(|e| Error::Refused(e.to_string()))?;
        // Readers decide from the cache whether the account is locked (`check_reader`): a lock
        // takes effect before the locked profile is stored (never a moment in which the store
        // holds it but strangers are still let in); an unlock only once it is stored.
        if profile.locked {
            self.set_own_profile(Some(profile.clone()));
        }
        if let Err(error) = self.store_own(&object).await {
            // Not stored: read what is, next time.
            self.set_own_profile(None);
            return Err(error);
        }
        self.set_own_profile(Some(profile.clone()));
        if was_locked && !profile.locked {
            // Unlocking lets every pending request in.
            self.approve_all_requests().await?;
        }
        self.deliver(&object).await;
        self.emit(EventView::Profile { peer_id: self.me() });
        Ok(views::profile_view(&object))
    }

    /// Replaces the cached profile of the owner (`None`: read it from the store next time).
    fn set_own_profile(&self, profile: Option<Profile>) {
        *self
            .inner
            .own_profile
            .write()
            .unwrap_or_else(PoisonError::into_inner) = profile;
    }

    /// Signs `content` as the owner, now.
    fn sign(&self, content: Content) -> Result<SignedObject, Error> {
        self.inner
            .signer
            .sign(now_ms(), content, &self.inner.rules)
            .map_err(|e| Error::Refused(e.to_string()))
    }

    /// Stores one of the owner's new objects (posts on the home timeline), durably.
    async fn store_own(&self, object: &SignedObject) -> Result<(), Error> {
        match self.inner.social.insert(object, true).await? {
            Inserted::Stored | Inserted::Duplicate => Ok(()),
            refused => Err(Error::Refused(format!(
                "the store refused the object ({refused:?})"
            ))),
        }
    }

    /// A stored post, or [`Error::NotFound`].
    fn stored_post(&self, id: &ObjectId) -> Result<SignedObject, Error> {
        match self.inner.social.get(id)? {
            Some(object) if matches!(object.content(), Content::Post(_)) => Ok(object),
            _ => Err(Error::NotFound(format!("no post {id} here"))),
        }
    }

    fn summary(&self, peer: &PeerId) -> Option<ProfileSummary> {
        self.inner
            .summaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(peer)
            .cloned()
    }

    /// Keeps what `peer`'s node says about its owner (all a locked account shows strangers).
    fn remember_summary(&self, peer: PeerId, summary: ProfileSummary) {
        self.inner
            .summaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer, summary);
    }

    /// Tells the owner's event stream the new like count of `post`.
    fn announce_like(&self, post: &ObjectId) {
        match self.inner.social.like_count(post) {
            Ok(like_count) => self.emit(EventView::Like {
                post_id: *post,
                like_count,
            }),
            Err(error) => tracing::warn!(%error, %post, "could not read a like count"),
        }
    }

    /// Tells the owner's event stream (and tests) about something.
    fn emit(&self, view: EventView) {
        // The one door of every social event: a muted person's posts and notifications stop
        // here (see the `mutes` module).
        if self.hidden_by_mute(&view) {
            return;
        }
        // Nobody listening is fine.
        let _ = self.inner.node.emit(NodeEvent::Social(Box::new(view)));
    }

    /// Runs `future` in the background for as long as the node runs.
    fn spawn<F>(&self, future: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = self.inner.token.clone();
        self.inner.tasks.spawn(async move {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = future => {}
            }
        });
    }
}

/// A page size the API accepts: 1 to [`MAX_PAGE`].
fn page_limit(limit: usize) -> Result<usize, Error> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::Refused(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )))
    }
}

fn parse_cursor(before: Option<&str>) -> Result<Option<Cursor>, Error> {
    before
        .map(|s| {
            s.parse()
                .map_err(|e: kith_storage::InvalidCursor| Error::Refused(e.to_string()))
        })
        .transpose()
}
