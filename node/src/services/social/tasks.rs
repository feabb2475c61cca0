//! The social core's background work, for as long as the node runs:
//!
//! - gossip intake: messages on followed authors' topics, verified and stored (many at once,
//!   so the store commits them together), each answered with a verdict for gossipsub;
//! - peers coming online: a verified peer's profile summary is remembered; a followee's node
//!   gets the pending follow, a profile refresh and a sync;
//! - the periodic tick: pending follows sent again, connected followees synced (and, at
//!   start, the notifications trimmed to their cap).

use futures::StreamExt;
use kith_protocols::Content;
use kith_storage::FollowStatus;
use libp2p::gossipsub::MessageAcceptance;
use tokio::sync::{broadcast, mpsc};

use super::{SocialService, accept::Path, metrics::Verdict};
use crate::{NodeEvent, event_loop::GossipObject, state::now_ms};

/// Gossip messages checked and stored at once.
const GOSSIP_CONCURRENCY: usize = 64;

/// Starts the background tasks of `service`.
pub(crate) fn spawn_social_tasks(service: &SocialService, gossip: mpsc::Receiver<GossipObject>) {
    let intake = service.clone();
    service.spawn(async move {
        let mut gossip = gossip;
        futures::stream::poll_fn(move |cx| gossip.poll_recv(cx))
            .for_each_concurrent(GOSSIP_CONCURRENCY, |message| {
                let service = intake.clone();
                async move { service.on_gossip(message).await }
            })
            .await;
    });
    let watcher = service.clone();
    let events = service.inner.node.subscribe();
    service.spawn(async move { watcher.watch_peers(events).await });
    let ticker = service.clone();
    service.spawn(async move { ticker.tick().await });
}

impl SocialService {
    async fn on_gossip(&self, message: GossipObject) {
        let acceptance = self.gossip_verdict(&message).await;
        self.inner
            .node
            .report_validation(message.message_id, message.source, acceptance)
            .await;
    }

    async fn gossip_verdict(&self, message: &GossipObject) -> MessageAcceptance {
        let Some(object) = self.verify(&message.data, Path::Gossip) else {
            return MessageAcceptance::Reject;
        };
        if object.author() != message.author {
            self.reject_misattributed(&object, &message.author, Path::Gossip);
            return MessageAcceptance::Reject;
        }
        match self.accept(&object, Path::Gossip).await {
            Ok(Verdict::Stored | Verdict::Duplicate) => {
                if matches!(object.content(), Content::Post(_))
                    && let Err(error) = self
                        .inner
                        .social
                        .set_sync_cursor(object.author(), (object.created_at(), object.id()))
                        .await
                {
                    tracing::warn!(%error, "could not move the sync cursor");
                }
                MessageAcceptance::Accept
            }
            Ok(_) => MessageAcceptance::Ignore,
            Err(error) => {
                tracing::warn!(%error, "could not store a gossip object");
                MessageAcceptance::Ignore
            }
        }
    }

    async fn watch_peers(&self, mut events: broadcast::Receiver<NodeEvent>) {
        loop {
            match events.recv().await {
                Ok(NodeEvent::PeerVerified { peer, info }) => {
                    if let Some(summary) = info.profile.clone() {
                        self.remember_summary(peer, summary);
                    }
                    // Bootstrap nodes hold no people.
                    if info.role == kith_config::Role::Member {
                        self.on_peer_online(peer);
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        "social watcher fell behind; the periodic tick covers it"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }

    /// A peer's node came online and proved it belongs to the network.
    fn on_peer_online(&self, peer: libp2p::PeerId) {
        let state = match self.inner.social.following_state(&peer) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(%peer, %error, "could not read the follow state");
                return;
            }
        };
        match state {
            Some(state) if state.status == FollowStatus::Requested => {
                let service = self.clone();
                self.spawn(async move { service.send_follow(peer, state).await });
            }
            Some(_) => {
                self.fetch_profile_in_background(peer);
                self.sync_in_background(peer);
            }
            None => self.fetch_profile_in_background(peer),
        }
    }

    async fn tick(&self) {
        // Whatever the last run left beyond the cap.
        self.trim_notifications_in_background();
        // Subscriptions do not survive a restart: open them again for every follow.
        for (peer, _) in self.follows_for_background_work() {
            self.subscribe(peer).await;
        }
        let mut ticker = tokio::time::interval(self.inner.sync_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick fires at once; peers coming online start their own syncs.
        ticker.tick().await;
        loop {
            ticker.tick().await;
            tracing::trace!(now = now_ms(), "periodic social tick");
            self.resend_pending_follows().await;
            self.sync_connected_followees().await;
        }
    }
}
