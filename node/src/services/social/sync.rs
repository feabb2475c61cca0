//! Pull sync: how a follower gets what gossip did not bring, and how a node serves it.
//!
//! A sync with a followee runs in two steps, both over `/public/get/posts/0.0.0`:
//!
//! 1. **Incremental**: `since` the follower's cursor (the `(created_at, id)` of the newest post
//!    it has from that followee), page after page, oldest first. Each page also carries the
//!    followee's deletes made after the cursor's time. The cursor moves to the last post of
//!    each page, durably, so an interrupted sync resumes where it stopped. Gossip moves the
//!    cursor too, so an online follower's incremental step is one short round trip.
//! 2. **Reconciliation**: the posts up to the cursor may still have holes (a gossip message
//!    lost while a newer one arrived). Both sides digest the same time ranges (count and XOR
//!    of the post ids, computed from index keys alone); equal digests end the step. Ranges
//!    that differ are split sixteen ways and compared again, down to ranges of at most
//!    [`LEAF_POSTS`] posts, whose id lists are compared: ids the followee has and the follower
//!    lacks are fetched; ids the follower has and the followee lacks are asked for too, and the
//!    followee answers with their deletes. In sync, this costs one round trip; otherwise it
//!    grows with the number of differing ranges (log₁₆ of the history's span per hole), not
//!    with the history.
//!
//! Every object fetched is verified and must be authored by the followee; anything else is
//! refused and counted.

use std::collections::HashSet;

use kith_protocols::{
    Content, MAX_DIGEST_RANGES, MAX_SYNC_BYTES, MAX_SYNC_IDS, MAX_SYNC_PAGE, ObjectId, ObjectsPage,
    Position, PostsRequest, PostsResponse, ProfileResponse, RangeDigest, SignedObject, TimeRange,
    routes,
};
use kith_storage::FollowStatus;
use libp2p::PeerId;

use super::{SocialService, accept::Path};
use crate::Error;

/// Posts asked for per incremental page.
const SYNC_PAGE: u32 = MAX_SYNC_PAGE;
/// A differing range with at most this many posts (on either side) is settled by comparing ids.
pub const LEAF_POSTS: u64 = 256;
/// How many ways a differing range is split.
const FANOUT: u64 = 16;
/// How long one sync waits out `rate-limited` answers in all before giving up.
const MAX_RATE_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// The pause after a `rate-limited` answer that does not say how long to wait.
const RATE_LIMIT_PAUSE_MS: u64 = 100;
/// Digest rounds at most per reconciliation (16^12 ms is far more than any history).
const MAX_ROUNDS: usize = 12;

/// What one sync with a followee did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// New objects from the incremental step.
    pub fetched: u64,
    /// New objects found by reconciliation (holes repaired).
    pub repaired: u64,
    /// Requests made.
    pub round_trips: u32,
    /// Bytes of response bodies received (the objects' JSON and the framing of the lists).
    pub bytes: u64,
}

impl SocialService {
    /// Syncs with followee `peer` now: incremental pull from the cursor, then reconciliation.
    /// Concurrent syncs with the same peer run one after the other.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if the owner does not follow `peer` (actively);
    /// [`Error::Remote`] if the followee did not answer as it should; store errors.
    pub async fn sync_with(&self, peer: PeerId) -> Result<SyncReport, Error> {
        let lock = self
            .inner
            .sync_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(peer)
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        let active = self
            .inner
            .social
            .following_state(&peer)?
            .is_some_and(|state| state.status == FollowStatus::Active);
        if !active {
            return Err(Error::NotFound(format!("not following {peer}")));
        }
        let mut report = SyncReport::default();
        self.pull_since(peer, &mut report).await?;
        self.reconcile(peer, &mut report).await?;
        self.inner.metrics.synced();
        self.inner.metrics.repaired(report.repaired);
        tracing::debug!(%peer, ?report, "synced");
        Ok(report)
    }

    /// [`sync_with`](Self::sync_with) in the background, logging failures.
    pub(crate) fn sync_in_background(&self, peer: PeerId) {
        let service = self.clone();
        self.spawn(async move {
            if let Err(error) = service.sync_with(peer).await {
                tracing::debug!(%peer, %error, "sync failed; the next tick tries again");
            }
        });
    }

    /// Step 1: pages of posts (and deletes) after the cursor.
    async fn pull_since(&self, peer: PeerId, report: &mut SyncReport) -> Result<(), Error> {
        let social = &self.inner.social;
        let mut after = social
            .sync_cursor(&peer)?
            .map(|(created_at, id)| Position { created_at, id });
        loop {
            let page = self
                .ask_objects(
                    peer,
                    &PostsRequest::Since {
                        after,
                        limit: SYNC_PAGE,
                    },
                    report,
                )
                .await?;
            let objects = self.authored_by(peer, &page.objects);
            let newest = objects
                .iter()
                .filter(|object| matches!(object.content(), Content::Post(_)))
                .map(position)
                .max();
            report.fetched += self.accept_all(objects, Path::Sync).await?;
            let Some(newest) = newest else { break };
            social
                .set_sync_cursor(peer, (newest.created_at, newest.id))
                .await?;
            after = Some(newest);
            if !page.more {
                break;
            }
        }
        Ok(())
    }

    /// Step 2: find and fill the holes up to the cursor.
    async fn reconcile(&self, peer: PeerId, report: &mut SyncReport) -> Result<(), Error> {
        let social = &self.inner.social;
        let Some((upto, _)) = social.sync_cursor(&peer)? else {
            return Ok(());
        };
        let mut pending = vec![TimeRange {
            from_ms: 0,
            to_ms: upto.saturating_add(1),
        }];
        let mut wanted: Vec<ObjectId> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let mut next = Vec::new();
            for ranges in pending.chunks(MAX_DIGEST_RANGES) {
                let theirs = self.ask_digests(peer, ranges.to_vec(), report).await?;
                for (range, theirs) in ranges.iter().zip(theirs) {
                    let (count, xor) = social.range_digest(&peer, range.from_ms, range.to_ms)?;
                    if (RangeDigest { count, xor }) == theirs {
                        continue;
                    }
                    let narrowest = range.to_ms - range.from_ms <= 1;
                    if narrowest || count.max(theirs.count) <= LEAF_POSTS {
                        wanted.extend(self.compare_ids(peer, *range, report).await?);
                    } else {
                        next.extend(range.split(FANOUT));
                    }
                }
            }
            pending = next;
        }
        for ids in wanted.chunks(MAX_SYNC_IDS) {
            let page = self
                .ask_objects(peer, &PostsRequest::Objects { ids: ids.to_vec() }, report)
                .await?;
            let objects = self.authored_by(peer, &page.objects);
            report.repaired += self.accept_all(objects, Path::Sync).await?;
        }
        Ok(())
    }

    /// The ids that differ between the two sides in a small range.
    async fn compare_ids(
        &self,
        peer: PeerId,
        range: TimeRange,
        report: &mut SyncReport,
    ) -> Result<Vec<ObjectId>, Error> {
        let response = self.ask(peer, &PostsRequest::Ids { range }, report).await?;
        let PostsResponse::Ids { ids: theirs, .. } = response else {
            return Err(unexpected(peer, "ids"));
        };
        let (ours, _) =
            self.inner
                .social
                .post_ids_between(&peer, range.from_ms, range.to_ms, MAX_SYNC_IDS)?;
        let theirs: HashSet<ObjectId> = theirs.into_iter().collect();
        let ours: HashSet<ObjectId> = ours.into_iter().collect();
        Ok(theirs.symmetric_difference(&ours).copied().collect())
    }

    async fn ask_digests(
        &self,
        peer: PeerId,
        ranges: Vec<TimeRange>,
        report: &mut SyncReport,
    ) -> Result<Vec<RangeDigest>, Error> {
        let expected = ranges.len();
        match self
            .ask(peer, &PostsRequest::Digests { ranges }, report)
            .await?
        {
            PostsResponse::Digests { digests } if digests.len() == expected => Ok(digests),
            _ => Err(unexpected(peer, "digests")),
        }
    }

    async fn ask_objects(
        &self,
        peer: PeerId,
        request: &PostsRequest,
        report: &mut SyncReport,
    ) -> Result<ObjectsPage, Error> {
        match self.ask(peer, request, report).await? {
            PostsResponse::Objects(page) => Ok(page),
            _ => Err(unexpected(peer, "objects")),
        }
    }

    /// One request to the followee's posts route. A `rate-limited` answer is waited out (as
    /// long as the callee says, up to [`MAX_RATE_LIMIT_WAIT`]) and asked again: a long
    /// reconciliation makes many requests in a row, and must slow down rather than give up.
    async fn ask(
        &self,
        peer: PeerId,
        request: &PostsRequest,
        report: &mut SyncReport,
    ) -> Result<PostsResponse, Error> {
        let client = self.inner.node.client();
        let mut waited = std::time::Duration::ZERO;
        let value: serde_json::Value = loop {
            match client.call(peer, &routes::posts(), request).await {
                Ok(value) => break value,
                Err(error) if error.code == kith_protocols::ErrorCode::RateLimited => {
                    let pause = std::time::Duration::from_millis(
                        error.retry_after_ms.unwrap_or(RATE_LIMIT_PAUSE_MS).max(1),
                    );
                    waited += pause;
                    if waited > MAX_RATE_LIMIT_WAIT {
                        return Err(Error::Remote(error));
                    }
                    tokio::time::sleep(pause).await;
                }
                Err(error) => return Err(Error::Remote(error)),
            }
        };
        report.round_trips += 1;
        report.bytes += serde_json::to_vec(&value).map_or(0, |bytes| bytes.len() as u64);
        serde_json::from_value(value).map_err(|_| unexpected(peer, "a posts response"))
    }

    /// The objects of a page that verify and are authored by `peer`.
    fn authored_by(&self, peer: PeerId, values: &[serde_json::Value]) -> Vec<SignedObject> {
        values
            .iter()
            .filter_map(|value| self.verify_value(value, Path::Sync))
            .filter(|object| {
                let ours = object.author() == peer;
                if !ours {
                    self.reject_misattributed(object, &peer, Path::Sync);
                }
                ours
            })
            .collect()
    }

    /// Serves `/public/get/posts/0.0.0` to `caller`: the owner's own posts and deletes.
    pub(crate) fn serve_posts(
        &self,
        caller: PeerId,
        request: PostsRequest,
    ) -> Result<PostsResponse, Error> {
        self.check_reader(&caller)?;
        let social = &self.inner.social;
        let me = self.me();
        match request {
            PostsRequest::Since { after, limit } => {
                let limit = limit.clamp(1, MAX_SYNC_PAGE) as usize;
                let after = after.map(|p| (p.created_at, p.id));
                let posts = social.posts_since(&me, after, limit)?;
                let full = posts.len() == limit;
                // Deletes made after the cursor's time (a delete is never older than its post).
                // Everything from the cursor's millisecond on: the position just before it.
                let deletes_after = after.map(|(created_at, _)| {
                    (
                        created_at.saturating_sub(1),
                        ObjectId::from_bytes([0xff; 32]),
                    )
                });
                let deletes = social.deletes_since(&me, deletes_after, limit)?;
                let mut page = ObjectsPage::default();
                let mut budget = MAX_SYNC_BYTES;
                let cut = fill(&mut page, &mut budget, posts.iter());
                fill(&mut page, &mut budget, deletes.iter());
                page.more = full || cut;
                Ok(PostsResponse::Objects(page))
            }
            PostsRequest::Digests { ranges } => {
                if ranges.len() > MAX_DIGEST_RANGES {
                    return Err(Error::Refused(format!(
                        "at most {MAX_DIGEST_RANGES} ranges per request"
                    )));
                }
                let digests = ranges
                    .iter()
                    .map(|range| {
                        social
                            .range_digest(&me, range.from_ms, range.to_ms)
                            .map(|(count, xor)| RangeDigest { count, xor })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(PostsResponse::Digests { digests })
            }
            PostsRequest::Ids { range } => {
                let (ids, more) =
                    social.post_ids_between(&me, range.from_ms, range.to_ms, MAX_SYNC_IDS)?;
                Ok(PostsResponse::Ids { ids, more })
            }
            PostsRequest::Objects { ids } => {
                if ids.len() > MAX_SYNC_IDS {
                    return Err(Error::Refused(format!(
                        "at most {MAX_SYNC_IDS} ids per request"
                    )));
                }
                let mut objects = Vec::with_capacity(ids.len());
                for id in &ids {
                    if let Some(object) = self.own_post_or_its_delete(id)? {
                        objects.push(object);
                    }
                }
                let mut page = ObjectsPage::default();
                let mut budget = MAX_SYNC_BYTES;
                page.more = fill(&mut page, &mut budget, objects.iter());
                Ok(PostsResponse::Objects(page))
            }
        }
    }

    /// The owner's post `id`, or the owner's delete of it, if either is stored.
    fn own_post_or_its_delete(&self, id: &ObjectId) -> Result<Option<SignedObject>, Error> {
        let social = &self.inner.social;
        if let Some(object) = social.get(id)? {
            let own_post =
                object.author() == self.me() && matches!(object.content(), Content::Post(_));
            return Ok(own_post.then_some(object));
        }
        match social.tombstone(id)? {
            Some(tombstone) if tombstone.author == self.me() => Ok(social.get(&tombstone.delete)?),
            _ => Ok(None),
        }
    }

    /// Serves `/public/get/profile/0.0.0` to `caller`.
    pub(crate) fn serve_profile(&self, caller: PeerId) -> Result<ProfileResponse, Error> {
        self.check_reader(&caller)?;
        let object = self.inner.social.profile(&self.me())?;
        // The profile read may be newer than the check (the owner locked the account in
        // between): a locked profile goes to approved followers only, whatever the check saw.
        if object
            .as_ref()
            .is_some_and(|object| matches!(object.content(), Content::Profile(p) if p.locked))
            && !self.is_approved(&caller)?
        {
            return Err(locked_out());
        }
        Ok(ProfileResponse {
            object: object.map(|object| object.to_json()),
        })
    }

    /// Whether `caller` may read the owner's content: anyone, unless the account is locked;
    /// then approved followers only.
    pub(crate) fn check_reader(&self, caller: &PeerId) -> Result<(), Error> {
        if !self.is_locked()? || self.is_approved(caller)? {
            Ok(())
        } else {
            Err(locked_out())
        }
    }

    /// Whether `caller` is an active (approved) follower of the owner.
    fn is_approved(&self, caller: &PeerId) -> Result<bool, Error> {
        Ok(self
            .inner
            .social
            .follower_state(caller)?
            .is_some_and(|state| state.status == FollowStatus::Active))
    }

    /// Fetches `peer`'s profile and keeps it if it is newer than the stored one. A locked
    /// account that does not show it to the owner is asked for its public summary instead.
    pub(crate) async fn fetch_profile(&self, peer: PeerId) -> Result<(), Error> {
        let client = self.inner.node.client();
        let response: ProfileResponse = match client
            .call(peer, &routes::profile(), &serde_json::json!({}))
            .await
        {
            Ok(response) => response,
            Err(error) if error.code == kith_protocols::ErrorCode::Forbidden => {
                let info: kith_protocols::NodeInfo = client
                    .call(peer, &routes::info(), &serde_json::json!({}))
                    .await
                    .map_err(Error::Remote)?;
                if let Some(summary) = info.profile {
                    self.remember_summary(peer, summary);
                }
                return Ok(());
            }
            Err(error) => return Err(Error::Remote(error)),
        };
        let Some(value) = response.object else {
            return Ok(());
        };
        let Some(object) = self.verify_value(&value, Path::Profile) else {
            return Ok(());
        };
        if object.author() != peer || !matches!(object.content(), Content::Profile(_)) {
            self.reject_misattributed(&object, &peer, Path::Profile);
            return Ok(());
        }
        self.accept(&object, Path::Profile).await?;
        Ok(())
    }

    pub(crate) fn fetch_profile_in_background(&self, peer: PeerId) {
        let service = self.clone();
        self.spawn(async move {
            if let Err(error) = service.fetch_profile(peer).await {
                tracing::debug!(%peer, %error, "profile not fetched");
            }
        });
    }

    /// Syncs with every active followee that is connected (the periodic tick).
    pub(crate) async fn sync_connected_followees(&self) {
        for (peer, state) in self.follows_for_background_work() {
            if state.status == FollowStatus::Active
                && self.inner.node.is_connected(&peer)
                && let Err(error) = self.sync_with(peer).await
            {
                tracing::debug!(%peer, %error, "periodic sync failed");
            }
        }
    }
}

/// Where a post sits in its author's listing.
fn position(object: &SignedObject) -> Position {
    Position {
        created_at: object.created_at(),
        id: object.id(),
    }
}

/// Adds objects to `page` while they fit in what is left of `budget` bytes (the first object
/// of a page always goes in: one object is far below the frame limit); returns whether some
/// were left out.
fn fill<'a>(
    page: &mut ObjectsPage,
    budget: &mut usize,
    objects: impl Iterator<Item = &'a SignedObject>,
) -> bool {
    for object in objects {
        // The object and the comma after it.
        let size = object.as_bytes().len() + 1;
        if !page.objects.is_empty() && size > *budget {
            return true;
        }
        *budget = budget.saturating_sub(size);
        page.objects.push(object.to_json());
    }
    false
}

fn unexpected(peer: PeerId, what: &str) -> Error {
    Error::Remote(kith_protocols::WireError::new(
        kith_protocols::ErrorCode::Unavailable,
        format!("{peer} did not answer with {what}"),
    ))
}

/// The answer to someone who may not read a locked account.
fn locked_out() -> Error {
    Error::Forbidden(
        "this account is locked: only approved followers see its posts and profile".to_owned(),
    )
}
