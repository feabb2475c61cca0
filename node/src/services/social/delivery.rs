//! How the owner's new objects leave the node.
//!
//! - An open account publishes every object on its topic `kith/v1/user/<peer_id>`; followers
//!   subscribe to it.
//! - A locked account publishes nothing on an open topic: it hands each object directly to
//!   its approved followers that are connected (`/public/post/objects/0.0.0`).
//! - An open account does the same for connected followers that gossip did not reach: those
//!   whose subscription to the topic this node has not heard of (yet).
//! - A reply or a like also goes directly to the author of the post it is about, so that they
//!   hear of it whether or not they follow the owner.
//!
//! The receiving side of the direct path is here too: objects handed over by their author.
//!
//! None of this is a delivery guarantee: followers that miss an object (offline, a lost gossip
//! message, a push that failed) fetch it with the pull sync.

use std::collections::HashSet;

use kith_protocols::{Content, MAX_SYNC_IDS, ObjectsBody, ObjectsReply, SignedObject, routes};
use kith_storage::FollowStatus;
use libp2p::PeerId;

use super::{SocialService, accept::Path};
use crate::Error;

impl SocialService {
    /// Sends one of the owner's new objects on its way. Never fails: what does not arrive now
    /// is fetched later by the followers' pull sync.
    pub(crate) async fn deliver(&self, object: &SignedObject) {
        let locked = match self.is_locked() {
            Ok(locked) => locked,
            Err(error) => {
                tracing::warn!(%error, "could not read the owner's profile; treating the account as locked");
                true
            }
        };
        // Connected followers get the object directly when gossip does not reach them: all of
        // them for a locked account, and for an open one those whose subscription to the topic
        // this node has not heard of yet (a follow that just happened races its subscription).
        let mut direct: HashSet<PeerId> = self
            .inner
            .node
            .connected_peers()
            .into_iter()
            .filter(|peer| self.is_active_follower(peer))
            .collect();
        if !locked {
            let topic = self.inner.own_topic.clone();
            let data = object.as_bytes().to_vec();
            let published = if direct.is_empty() {
                // Nobody to check: do not wait for the event loop's answer.
                self.inner.node.publish(topic, data).await
            } else {
                self.inner
                    .node
                    .publish_reaching(topic, data)
                    .await
                    .map(|gossiped| direct.retain(|peer| !gossiped.contains(peer)))
            };
            if let Err(error) = published {
                tracing::debug!(%error, "not published");
            }
        }
        if let Some(author) = self.interaction_target(object)
            && author != self.me()
        {
            direct.insert(author);
        }
        for peer in direct {
            self.push(peer, object.clone());
        }
    }

    fn is_active_follower(&self, peer: &PeerId) -> bool {
        match self.inner.social.follower_state(peer) {
            Ok(state) => state.is_some_and(|state| state.status == FollowStatus::Active),
            Err(error) => {
                tracing::warn!(%peer, %error, "could not read a follower to deliver to");
                false
            }
        }
    }

    /// The author of the post a reply or a like is about, when this node holds that post.
    fn interaction_target(&self, object: &SignedObject) -> Option<PeerId> {
        let target = match object.content() {
            Content::Post(post) => post.reply_to?,
            Content::Like { target } => *target,
            _ => return None,
        };
        self.inner
            .social
            .get(&target)
            .ok()
            .flatten()
            .map(|post| post.author())
    }

    /// Hands `object` to `peer` directly, in the background.
    fn push(&self, peer: PeerId, object: SignedObject) {
        let node = self.inner.node.clone();
        self.spawn(async move {
            let body = ObjectsBody {
                objects: vec![object.to_json()],
            };
            let result: Result<ObjectsReply, _> =
                node.client().call(peer, &routes::objects(), &body).await;
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "direct delivery failed; the pull sync will cover it");
            }
        });
    }

    /// Serves `/public/post/objects/0.0.0`: `caller` hands over its own objects.
    pub(crate) async fn serve_objects(
        &self,
        caller: PeerId,
        values: &[serde_json::Value],
    ) -> Result<u32, Error> {
        if values.len() > MAX_SYNC_IDS {
            return Err(Error::Refused(format!(
                "at most {MAX_SYNC_IDS} objects per request"
            )));
        }
        let objects = values
            .iter()
            .filter_map(|value| self.verify_value(value, Path::Push))
            .filter(|object| {
                let ours = object.author() == caller;
                if !ours {
                    self.reject_misattributed(object, &caller, Path::Push);
                }
                ours
            })
            .collect::<Vec<_>>();
        let newest_post = objects
            .iter()
            .filter(|object| matches!(object.content(), Content::Post(_)))
            .map(|object| (object.created_at(), object.id()))
            .max();
        let stored = self.accept_all(objects, Path::Push).await?;
        // Like gossip, a followee's pushed post moves the sync cursor (holes behind it are
        // what reconciliation is for).
        let followed = self
            .inner
            .social
            .following_state(&caller)?
            .is_some_and(|state| state.status == FollowStatus::Active);
        if followed && let Some(position) = newest_post {
            self.inner.social.set_sync_cursor(caller, position).await?;
        }
        Ok(stored as u32)
    }
}
