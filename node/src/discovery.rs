//! The peer-found pipeline: the one place that decides what happens when a peer turns up.
//!
//! Every discovery source — mDNS, Kademlia, identify, gossip announcements, inbound and
//! unsolicited connections, the bootstrap list, the stored peer book, the owner — emits a
//! [`PeerFound`] into one bounded channel. The pipeline takes them one at a time, in order:
//!
//! 1. **rate limit** (governor, `dial_rate_per_sec` with `dial_burst`), applied to every
//!    discovery, including the ones later skipped: a flood of discoveries cannot make the node
//!    work faster than this;
//! 2. **skip** ourselves, peers already connected and verified, peers being handled right now,
//!    peers that failed recently (exponential backoff) or that we rejected;
//! 3. **blocklist**: a blocked peer is never dialed (the swarm also refuses it inbound);
//! 4. **dial** unless already connected; on mutual discovery (mDNS) only the peer with the
//!    smaller id dials at once, the other waits a moment, which avoids a TCP simultaneous open;
//! 5. **ask** `/public/get/info/0.0.0`;
//! 6. **check** the answer: same network fingerprint and a compatible protocol version, or the
//!    peer is disconnected and the reason remembered;
//! 7. **record** the peer in the peer book.
//!
//! Steps 4–7 run in a task per peer (bounded by a semaphore) so that one slow dial does not hold
//! up the others; the outcome comes back to the pipeline, which alone owns its bookkeeping.

use std::{
    collections::{HashMap, HashSet},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kith_protocols::{NodeInfo, PeerSource, routes};
use kith_storage::{ConnectedInfo, Store};
use libp2p::{Multiaddr, PeerId};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use tokio::{
    sync::{Semaphore, mpsc},
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{NodeEvent, NodeHandle, state::now_ms};

/// Capacity of the discovery channel. Discoveries repeat (mDNS asks every 30 s, the DHT keeps
/// refreshing), so when the channel is full a new one is dropped and counted, never awaited: the
/// event loop must not block on the pipeline.
const FOUND_CAPACITY: usize = 1024;
/// How many peers may be dialed and checked at the same time.
const MAX_CONCURRENT_CHECKS: usize = 32;
/// How long the peer with the larger id waits before dialing a peer both found over mDNS.
const MUTUAL_DISCOVERY_GRACE: Duration = Duration::from_secs(2);
/// First retry delay after a failure; doubles per consecutive failure up to `MAX_BACKOFF`.
const BASE_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);
/// A peer that proved to be on another network or incompatible is not retried for this long.
const REJECTION_BACKOFF: Duration = Duration::from_secs(60 * 60);

/// A peer turned up somewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerFound {
    /// Who.
    pub peer: PeerId,
    /// Where it may be reached (may be empty, e.g. for inbound connections).
    pub addrs: Vec<Multiaddr>,
    /// Which discovery mechanism reported it.
    pub source: PeerSource,
    /// Set when this is the delayed second look of a mutual discovery.
    deferred: bool,
}

impl PeerFound {
    /// A discovery of `peer` at `addrs` through `source`.
    pub fn new(peer: PeerId, addrs: Vec<Multiaddr>, source: PeerSource) -> Self {
        Self {
            peer,
            addrs,
            source,
            deferred: false,
        }
    }
}

/// The sending side of the discovery channel, held by every source.
#[derive(Debug, Clone)]
pub(crate) struct PeerFoundSender {
    tx: mpsc::Sender<PeerFound>,
    metrics: PipelineMetrics,
}

impl PeerFoundSender {
    /// Hands a discovery to the pipeline without ever waiting (see [`FOUND_CAPACITY`]).
    pub fn offer(&self, found: PeerFound) {
        self.metrics
            .found
            .get_or_create(&SourceLabel {
                source: found.source.to_string(),
            })
            .inc();
        if self.tx.try_send(found).is_err() {
            self.metrics.dropped.inc();
        }
    }
}

/// Things the event loop tells the pipeline outside the rate-limited discovery channel.
#[derive(Debug)]
pub(crate) enum PipelineNotice {
    /// The last connection to this peer closed.
    Disconnected(PeerId),
    /// The owner lifted a block: forget earlier failures so the peer can be found again.
    Unblocked(PeerId),
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// Counters of the pipeline, exported on `/metrics`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PipelineMetrics {
    found: Family<SourceLabel, Counter>,
    dropped: Counter,
    dials: Counter,
    outcomes: Family<OutcomeLabel, Counter>,
}

impl PipelineMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "kith_peer_found",
            "Peer discoveries by source",
            metrics.found.clone(),
        );
        registry.register(
            "kith_peer_found_dropped",
            "Discoveries dropped because the pipeline was full",
            metrics.dropped.clone(),
        );
        registry.register(
            "kith_pipeline_dials",
            "Dials started by the peer-found pipeline",
            metrics.dials.clone(),
        );
        registry.register(
            "kith_pipeline_outcomes",
            "Pipeline decisions: verified, rejected, failed, or why a discovery was skipped",
            metrics.outcomes.clone(),
        );
        metrics
    }

    fn outcome(&self, outcome: &str) {
        self.outcomes
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Dials the pipeline has started so far.
    pub fn dials(&self) -> u64 {
        self.dials.get()
    }
}

/// Creates the discovery channel.
pub(crate) fn channel(metrics: PipelineMetrics) -> (PeerFoundSender, mpsc::Receiver<PeerFound>) {
    let (tx, rx) = mpsc::channel(FOUND_CAPACITY);
    (PeerFoundSender { tx, metrics }, rx)
}

/// Pipeline settings.
#[derive(Debug, Clone)]
pub(crate) struct PipelineConfig {
    pub rate_per_sec: u32,
    pub burst: u32,
}

/// What became of one peer's dial-and-check task.
#[derive(Debug)]
enum Outcome {
    Verified,
    Failed(String),
    Rejected(String),
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    until: Instant,
    /// The peer proved to be on another network or incompatible (not merely unreachable).
    rejected: bool,
}

pub(crate) struct Pipeline {
    found_rx: mpsc::Receiver<PeerFound>,
    found_tx: PeerFoundSender,
    notices: mpsc::Receiver<PipelineNotice>,
    limiter: DefaultDirectRateLimiter,
    node: NodeHandle,
    store: Store,
    metrics: PipelineMetrics,
    checks: Arc<Semaphore>,
    in_flight: HashSet<PeerId>,
    verified: HashSet<PeerId>,
    backoff: HashMap<PeerId, Backoff>,
    tasks: TaskTracker,
    token: CancellationToken,
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: PipelineConfig,
        found_rx: mpsc::Receiver<PeerFound>,
        found_tx: PeerFoundSender,
        notices: mpsc::Receiver<PipelineNotice>,
        node: NodeHandle,
        store: Store,
        metrics: PipelineMetrics,
        tasks: TaskTracker,
        token: CancellationToken,
    ) -> Self {
        // Settings are validated to be positive; fall back to 1 rather than panic all the same.
        let rate = NonZeroU32::new(config.rate_per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN);
        Self {
            found_rx,
            found_tx,
            notices,
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            node,
            store,
            metrics,
            checks: Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS)),
            in_flight: HashSet::new(),
            verified: HashSet::new(),
            backoff: HashMap::new(),
            tasks,
            token,
        }
    }

    pub async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(PeerId, Outcome)>();
        loop {
            tokio::select! {
                biased;
                _ = self.token.cancelled() => break,
                Some(notice) = self.notices.recv() => self.on_notice(notice),
                Some((peer, outcome)) = done_rx.recv() => self.on_outcome(peer, outcome),
                found = self.found_rx.recv() => {
                    let Some(found) = found else { break };
                    // Cancel-safe: `until_ready` holds no state across polls that matters if the
                    // select drops it on shutdown.
                    tokio::select! {
                        biased;
                        _ = self.token.cancelled() => break,
                        _ = self.limiter.until_ready() => {}
                    }
                    self.admit(found, &done_tx).await;
                }
            }
        }
    }

    fn on_notice(&mut self, notice: PipelineNotice) {
        match notice {
            PipelineNotice::Disconnected(peer) => {
                self.verified.remove(&peer);
            }
            PipelineNotice::Unblocked(peer) => {
                self.backoff.remove(&peer);
            }
        }
    }

    fn on_outcome(&mut self, peer: PeerId, outcome: Outcome) {
        self.in_flight.remove(&peer);
        match outcome {
            Outcome::Verified => {
                self.metrics.outcome("verified");
                self.backoff.remove(&peer);
                // The connection may have closed between the check and now, and its
                // `Disconnected` notice may already have been handled: only a live peer counts
                // as verified, or its next connection would go unchecked.
                if self.node.state().is_connected(&peer) {
                    self.verified.insert(peer);
                }
            }
            Outcome::Failed(reason) => {
                self.metrics.outcome("failed");
                tracing::debug!(%peer, %reason, "peer check failed");
                let _ = self.node.emit(NodeEvent::PeerFailed { peer, reason });
                let failures = self
                    .backoff
                    .get(&peer)
                    .map_or(1, |b| b.failures.saturating_add(1));
                let delay = BASE_BACKOFF
                    .saturating_mul(1 << failures.min(16).saturating_sub(1))
                    .min(MAX_BACKOFF);
                self.backoff.insert(
                    peer,
                    Backoff {
                        failures,
                        until: Instant::now() + delay,
                        rejected: false,
                    },
                );
            }
            Outcome::Rejected(reason) => {
                self.metrics.outcome("rejected");
                tracing::info!(%peer, %reason, "peer rejected");
                self.backoff.insert(
                    peer,
                    Backoff {
                        failures: 0,
                        until: Instant::now() + REJECTION_BACKOFF,
                        rejected: true,
                    },
                );
            }
        }
    }

    /// Steps 2–4: decide, then hand the peer to its own task for dial, info, check and record.
    async fn admit(&mut self, found: PeerFound, done: &mpsc::UnboundedSender<(PeerId, Outcome)>) {
        let peer = found.peer;
        if peer == self.node.local_peer_id() {
            return self.metrics.outcome("skipped-self");
        }
        let connected = self.node.state().is_connected(&peer);
        if connected && self.verified.contains(&peer) {
            return self.metrics.outcome("skipped-known");
        }
        if self.in_flight.contains(&peer) {
            return self.metrics.outcome("skipped-in-flight");
        }
        if let Some(backoff) = self.backoff.get(&peer)
            && backoff.until > Instant::now()
            && found.source != PeerSource::Manual
        {
            if backoff.rejected && connected {
                // It came back (inbound) while we still know it does not belong.
                self.node.disconnect(peer).await;
                return self.metrics.outcome("disconnected-rejected");
            }
            return self.metrics.outcome("skipped-backoff");
        }
        match self.store.blocks().contains(&peer) {
            Ok(false) => {}
            Ok(true) => {
                if connected {
                    self.node.disconnect(peer).await;
                }
                return self.metrics.outcome("skipped-blocked");
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "could not read the blocklist; skipping the peer");
                return self.metrics.outcome("skipped-error");
            }
        }
        if !connected
            && found.source == PeerSource::Mdns
            && !found.deferred
            && self.node.local_peer_id() > peer
        {
            // Both sides see each other at the same moment; let the smaller id dial first and
            // take a second look later in case it did not. The discovery is remembered now, so
            // the peer book says how we found the peer even when the other side dials first.
            if let Err(error) = self
                .store
                .peers()
                .record_found(peer, &found.addrs, found.source, now_ms())
                .await
            {
                tracing::warn!(%peer, %error, "could not record a discovered peer");
            }
            let mut again = found;
            again.deferred = true;
            let sender = self.found_tx.clone();
            let token = self.token.clone();
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(MUTUAL_DISCOVERY_GRACE) => sender.offer(again),
                }
            });
            return self.metrics.outcome("deferred-mutual");
        }
        if !connected && found.addrs.is_empty() && found.source != PeerSource::PeerBook {
            // Nothing to dial and nothing connected: a rumour, not a peer. Remember it though.
            let _ = self
                .store
                .peers()
                .record_found(peer, &found.addrs, found.source, now_ms())
                .await;
            return self.metrics.outcome("skipped-no-address");
        }

        let Ok(permit) = self.checks.clone().acquire_owned().await else {
            return; // the semaphore is never closed
        };
        self.in_flight.insert(peer);
        if !connected {
            self.metrics.dials.inc();
        }
        let check = PeerCheck {
            node: self.node.clone(),
            store: self.store.clone(),
            found,
            connected,
        };
        let done = done.clone();
        let token = self.token.clone();
        self.tasks.spawn(async move {
            let outcome = tokio::select! {
                _ = token.cancelled() => Outcome::Failed("shutting down".into()),
                outcome = check.run() => outcome,
            };
            drop(permit);
            let _ = done.send((peer, outcome));
        });
    }
}

/// Steps 4–7 for one peer.
struct PeerCheck {
    node: NodeHandle,
    store: Store,
    found: PeerFound,
    connected: bool,
}

impl PeerCheck {
    async fn run(self) -> Outcome {
        let PeerFound {
            peer,
            addrs,
            source,
            ..
        } = &self.found;
        let (peer, source) = (*peer, *source);
        let peers = self.store.peers();
        if let Err(error) = peers.record_found(peer, addrs, source, now_ms()).await {
            tracing::warn!(%peer, %error, "could not record a discovered peer");
        }
        if !self.connected {
            let _ = self.node.emit(NodeEvent::DialStarted { peer });
            // Direct addresses first: a relayed connection costs the relay, and hole punching
            // upgrades it later anyway.
            let mut addrs = addrs.clone();
            crate::addresses::rank_for_dialing(&mut addrs);
            if let Err(error) = self.node.dial(peer, addrs).await {
                let reason = error.to_string();
                let _ = peers.record_failure(peer, &reason, now_ms()).await;
                return Outcome::Failed(reason);
            }
        }
        let info: NodeInfo = match self
            .node
            .client()
            .call(peer, &routes::info(), &serde_json::json!({}))
            .await
        {
            Ok(info) => info,
            Err(error) => {
                let reason = format!("asking for node info: {error}");
                let _ = peers.record_failure(peer, &reason, now_ms()).await;
                return Outcome::Failed(reason);
            }
        };
        if info.peer_id != peer {
            return self
                .reject(
                    peer,
                    format!("its info names another peer id ({})", info.peer_id),
                )
                .await;
        }
        if let Err(incompatibility) = info.check_compatible(self.node.network()) {
            return self.reject(peer, incompatibility.to_string()).await;
        }
        let rtt_ms = self
            .node
            .state()
            .connections()
            .get(&peer)
            .and_then(|c| c.rtt)
            .map(|rtt| rtt.as_millis() as u32);
        let connected = ConnectedInfo {
            role: Some(info.role),
            agent_version: Some(format!("kith/{}", info.version)),
            network: Some(info.network.clone()),
            addrs: info.listen_addrs.clone(),
            rtt_ms,
        };
        if let Err(error) = peers.record_connected(peer, connected, now_ms()).await {
            tracing::warn!(%peer, %error, "could not record a verified peer");
        }
        self.node
            .add_dht_addresses(peer, info.listen_addrs.clone())
            .await;
        tracing::info!(%peer, %source, role = %info.role, "peer verified");
        let _ = self.node.emit(NodeEvent::PeerVerified {
            peer,
            info: Box::new(info),
        });
        Outcome::Verified
    }

    async fn reject(&self, peer: PeerId, reason: String) -> Outcome {
        self.node.disconnect(peer).await;
        if let Err(error) = self
            .store
            .peers()
            .record_rejected(peer, &reason, now_ms())
            .await
        {
            tracing::warn!(%peer, %error, "could not record a rejected peer");
        }
        let _ = self.node.emit(NodeEvent::PeerRejected {
            peer,
            reason: reason.clone(),
        });
        Outcome::Rejected(reason)
    }
}
