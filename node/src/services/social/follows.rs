//! Following and being followed.
//!
//! Following `peer`: the owner signs a follow, stores it with the relation `requested`, opens
//! the subscription to `peer`'s topic and tells `peer`'s node (`/public/post/follow/0.0.0`).
//! Its answer decides: `active` (an open account) puts `peer`'s posts on the home timeline and
//! fetches the back catalogue; `requested` (a locked account) waits for its owner, who answers
//! later on `/public/post/follow/decision/0.0.0`. A followee that cannot be reached keeps the
//! relation `requested`, and the follow is sent again whenever its node comes online and on
//! every periodic sync tick, until it is answered (the followee takes the same follow twice
//! without change). Unfollowing undoes all of it: relation, subscription, timeline entries,
//! sync cursor, and tells the followee.
//!
//! Being followed: a follow arrives signed by the caller and naming this node's owner. An open
//! account records the follower as active at once; a locked account records a request for the
//! owner to approve or reject.

use kith_protocols::{
    Content, EventView, FollowBody, FollowDecision, FollowOutcome, FollowReply, FollowView, routes,
};
use kith_storage::{FollowState, FollowStatus};
use libp2p::PeerId;

use super::{SocialService, accept::Path, views};
use crate::{Error, state::now_ms};

impl SocialService {
    /// Follows `peer` (asks to, if their account is locked).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when `peer` is the owner; store errors. An unreachable followee is
    /// not an error: the follow is delivered when their node comes online.
    pub async fn follow(&self, peer: PeerId) -> Result<FollowView, Error> {
        if peer == self.me() {
            return Err(Error::Refused("you cannot follow yourself".to_owned()));
        }
        let social = &self.inner.social;
        let state = match social.following_state(&peer)? {
            Some(state) => state,
            None => {
                let object = self.sign(Content::Follow { target: peer })?;
                social.insert(&object, false).await?;
                let state = FollowState {
                    object: object.id(),
                    status: FollowStatus::Requested,
                    since_ms: now_ms(),
                };
                social.set_following(peer, state).await?;
                state
            }
        };
        self.subscribe(peer).await;
        if !self.inner.node.is_connected(&peer) {
            // A followee we have no connection to (behind a NAT, found by nobody yet): ask the
            // DHT. When it answers, the peer is dialled and verified, and the pending follow is
            // sent then (see `tasks`).
            self.inner.node.find_peer(peer).await;
        }
        if state.status == FollowStatus::Requested {
            self.send_follow(peer, state).await;
        }
        self.following_view(peer)
    }

    /// Stops following `peer` (or withdraws the request). Following nobody is not an error.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn unfollow(&self, peer: PeerId) -> Result<(), Error> {
        let social = &self.inner.social;
        if social.following_state(&peer)?.is_none() {
            return Ok(());
        }
        let object = self.sign(Content::Unfollow { target: peer })?;
        social.insert(&object, false).await?;
        self.end_following(peer).await?;
        let node = self.inner.node.clone();
        self.spawn(async move {
            let body = FollowBody {
                object: object.to_json(),
            };
            let result: Result<FollowReply, _> =
                node.client().call(peer, &routes::follow(), &body).await;
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "could not tell the followee about the unfollow");
            }
        });
        Ok(())
    }

    /// Everyone the owner follows or asked to follow.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn following(&self) -> Result<Vec<FollowView>, Error> {
        self.follow_views(self.inner.social.following()?, |_| true)
    }

    /// The owner's active followers.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn followers(&self) -> Result<Vec<FollowView>, Error> {
        self.follow_views(self.inner.social.followers()?, |state| {
            state.status == FollowStatus::Active
        })
    }

    /// Follow requests waiting for the owner's decision.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn follow_requests(&self) -> Result<Vec<FollowView>, Error> {
        self.follow_views(self.inner.social.followers()?, |state| {
            state.status == FollowStatus::Requested
        })
    }

    /// Approves `peer`'s follow request and tells their node.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if `peer` has no request pending.
    pub async fn approve_follower(&self, peer: PeerId) -> Result<FollowView, Error> {
        let social = &self.inner.social;
        if !social.approve_follower(peer, now_ms()).await? {
            return Err(Error::NotFound(format!("no follow request from {peer}")));
        }
        self.emit(EventView::Follower {
            peer_id: peer,
            status: FollowOutcome::Active,
        });
        self.send_decision(peer, FollowOutcome::Active);
        let state = social
            .follower_state(&peer)?
            .ok_or_else(|| Error::NotFound(format!("no follow request from {peer}")))?;
        Ok(self.follow_view(peer, state))
    }

    /// Rejects `peer`'s follow request (or removes an active follower) and tells their node.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if `peer` neither follows nor asked to.
    pub async fn reject_follower(&self, peer: PeerId) -> Result<(), Error> {
        if self.inner.social.remove_follower(peer).await?.is_none() {
            return Err(Error::NotFound(format!("no follow request from {peer}")));
        }
        self.emit(EventView::Follower {
            peer_id: peer,
            status: FollowOutcome::Removed,
        });
        self.send_decision(peer, FollowOutcome::Removed);
        Ok(())
    }

    /// Approves every pending request (the owner unlocked the account).
    pub(crate) async fn approve_all_requests(&self) -> Result<(), Error> {
        for view in self.follow_requests()? {
            self.approve_follower(view.peer_id).await?;
        }
        Ok(())
    }

    /// Serves `/public/post/follow/0.0.0`: `caller` follows or unfollows the owner.
    pub(crate) async fn serve_follow(
        &self,
        caller: PeerId,
        body: FollowBody,
    ) -> Result<FollowReply, Error> {
        let object = self
            .verify_value(&body.object, Path::Push)
            .ok_or_else(|| Error::Refused("the follow does not verify".to_owned()))?;
        if object.author() != caller {
            self.reject_misattributed(&object, &caller, Path::Push);
            return Err(Error::Forbidden(
                "a follow must be signed by the peer that sends it".to_owned(),
            ));
        }
        let social = &self.inner.social;
        let status = match object.content() {
            Content::Follow { target } if *target == self.me() => {
                match social.follower_state(&caller)? {
                    Some(state) => views::outcome(state.status),
                    None => {
                        social.insert(&object, false).await?;
                        let status = if self.is_locked()? {
                            FollowStatus::Requested
                        } else {
                            FollowStatus::Active
                        };
                        let state = FollowState {
                            object: object.id(),
                            status,
                            since_ms: now_ms(),
                        };
                        match social.add_follower(caller, state).await? {
                            Some(notification) => {
                                let outcome = views::outcome(status);
                                self.emit(match status {
                                    FollowStatus::Requested => {
                                        EventView::FollowRequest { peer_id: caller }
                                    }
                                    FollowStatus::Active => EventView::Follower {
                                        peer_id: caller,
                                        status: outcome,
                                    },
                                });
                                self.announce_notification(&notification);
                                outcome
                            }
                            // The same follow arrived twice at once and the other copy was
                            // recorded first: answer what it recorded.
                            None => match social.follower_state(&caller)? {
                                Some(state) => views::outcome(state.status),
                                None => FollowOutcome::Removed,
                            },
                        }
                    }
                }
            }
            Content::Unfollow { target } if *target == self.me() => {
                social.insert(&object, false).await?;
                if social.remove_follower(caller).await?.is_some() {
                    self.emit(EventView::Follower {
                        peer_id: caller,
                        status: FollowOutcome::Removed,
                    });
                }
                FollowOutcome::Removed
            }
            _ => {
                return Err(Error::Refused(
                    "expected a follow or unfollow of this node's owner".to_owned(),
                ));
            }
        };
        Ok(FollowReply { status })
    }

    /// Serves `/public/post/follow/decision/0.0.0`: `caller`, whom the owner follows or asked
    /// to follow, approved the request, rejected it, or removed the owner as a follower.
    pub(crate) async fn serve_decision(
        &self,
        caller: PeerId,
        decision: FollowDecision,
    ) -> Result<(), Error> {
        let state = self.inner.social.following_state(&caller)?;
        let applies = match (state, decision.status) {
            (Some(state), FollowOutcome::Active) => state.status == FollowStatus::Requested,
            (Some(_), FollowOutcome::Removed) => true,
            _ => false,
        };
        if !applies {
            return Err(Error::NotFound(format!(
                "no follow of {caller} that this decision applies to"
            )));
        }
        self.apply_outcome(caller, decision.status).await
    }

    /// Sends the follow of `peer` (again) and applies the answer.
    pub(crate) async fn send_follow(&self, peer: PeerId, state: FollowState) {
        let object = match self.inner.social.get(&state.object) {
            Ok(Some(object)) => object,
            Ok(None) => {
                tracing::warn!(%peer, "the follow object of a pending follow is missing");
                return;
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "could not read a pending follow");
                return;
            }
        };
        let body = FollowBody {
            object: object.to_json(),
        };
        let reply: Result<FollowReply, _> = self
            .inner
            .node
            .client()
            .call(peer, &routes::follow(), &body)
            .await;
        match reply {
            Ok(reply) => {
                if let Err(error) = self.apply_outcome(peer, reply.status).await {
                    tracing::warn!(%peer, %error, "could not record the answer to a follow");
                }
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "follow not delivered yet; will try again")
            }
        }
    }

    /// Sends every pending follow whose followee is connected, and looks up every followee
    /// that is not (its address may have changed, or it may only be reachable through a relay
    /// now).
    pub(crate) async fn resend_pending_follows(&self) {
        for (peer, state) in self.follows_for_background_work() {
            if !self.inner.node.is_connected(&peer) {
                self.inner.node.find_peer(peer).await;
            } else if state.status == FollowStatus::Requested {
                self.send_follow(peer, state).await;
            }
        }
    }

    /// Applies where the followee says the owner's follow stands.
    async fn apply_outcome(&self, peer: PeerId, outcome: FollowOutcome) -> Result<(), Error> {
        match outcome {
            FollowOutcome::Active => {
                let social = &self.inner.social;
                if social.activate_following(peer, now_ms()).await? {
                    social.add_to_timeline(peer).await?;
                    self.emit(EventView::Following {
                        peer_id: peer,
                        status: FollowOutcome::Active,
                    });
                    self.fetch_profile_in_background(peer);
                    self.sync_in_background(peer);
                }
            }
            FollowOutcome::Requested => {}
            FollowOutcome::Removed => self.end_following(peer).await?,
        }
        Ok(())
    }

    /// Forgets the owner's follow of `peer`: relation, subscription, timeline entries, cursor.
    async fn end_following(&self, peer: PeerId) -> Result<(), Error> {
        let social = &self.inner.social;
        if social.remove_following(peer).await?.is_none() {
            return Ok(());
        }
        self.unsubscribe(peer).await;
        social.remove_from_timeline(peer).await?;
        social.reset_sync_cursor(peer).await?;
        self.emit(EventView::Following {
            peer_id: peer,
            status: FollowOutcome::Removed,
        });
        Ok(())
    }

    /// Tells `peer`'s node the owner's decision on its request, in the background.
    fn send_decision(&self, peer: PeerId, status: FollowOutcome) {
        let node = self.inner.node.clone();
        self.spawn(async move {
            let result: Result<serde_json::Value, _> = node
                .client()
                .call(peer, &routes::follow_decision(), &FollowDecision { status })
                .await;
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "could not tell a follower the decision; they learn it when they ask again");
            }
        });
    }

    /// Everyone the owner follows or asked to follow, for background work: a store error is
    /// logged and counts as nobody (the next tick tries again).
    pub(crate) fn follows_for_background_work(&self) -> Vec<(PeerId, FollowState)> {
        self.inner.social.following().unwrap_or_else(|error| {
            tracing::warn!(%error, "could not list follows");
            Vec::new()
        })
    }

    /// Receives `peer`'s gossip from now on.
    pub(crate) async fn subscribe(&self, peer: PeerId) {
        if let Err(error) = self.inner.node.subscribe_user(peer).await {
            tracing::debug!(%peer, %error, "could not subscribe");
        }
    }

    async fn unsubscribe(&self, peer: PeerId) {
        if let Err(error) = self.inner.node.unsubscribe_user(peer).await {
            tracing::debug!(%peer, %error, "could not unsubscribe");
        }
    }

    fn following_view(&self, peer: PeerId) -> Result<FollowView, Error> {
        let state = self
            .inner
            .social
            .following_state(&peer)?
            .ok_or_else(|| Error::NotFound(format!("not following {peer}")))?;
        Ok(self.follow_view(peer, state))
    }

    fn follow_views(
        &self,
        entries: Vec<(PeerId, FollowState)>,
        keep: impl Fn(&FollowState) -> bool,
    ) -> Result<Vec<FollowView>, Error> {
        Ok(entries
            .into_iter()
            .filter(|(_, state)| keep(state))
            .map(|(peer, state)| self.follow_view(peer, state))
            .collect())
    }

    fn follow_view(&self, peer: PeerId, state: FollowState) -> FollowView {
        FollowView {
            peer_id: peer,
            status: views::outcome(state.status),
            since_ms: state.since_ms,
            display_name: self.display_name(&peer),
        }
    }
}
