//! The event loop: the only code that touches the swarm.
//!
//! It `select!`s (biased, in this order) over the shutdown token, commands from [`NodeHandle`]s
//! and swarm events. Commands that wait for the network (a dial) park their reply channel in a
//! map keyed by the libp2p id of the operation until the matching swarm event arrives. Every
//! discovery source is turned into a [`PeerFound`] here and handed to the pipeline
//! (`discovery`), which decides what to do with it; the loop itself never waits on the pipeline.
//!
//! [`NodeHandle`]: crate::NodeHandle

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use kith_protocols::{Announcement, MAX_ANNOUNCEMENT_ADDRS, NETWORK_TOPIC, PeerSource, user_topic};
use libp2p::{
    Multiaddr, PeerId, Swarm,
    core::{ConnectedPoint, transport::ListenerId},
    gossipsub::{self, IdentTopic, MessageAcceptance, TopicHash},
    identify, kad, mdns,
    metrics::{Metrics, Recorder},
    ping,
    swarm::{ConnectionId, SwarmEvent, dial_opts::DialOpts},
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, NodeEvent,
    behaviour::{Behaviour, BehaviourEvent, KAD_PROTOCOL},
    discovery::{PeerFound, PeerFoundSender, PipelineNotice},
    state::{NodeState, now_ms},
};

/// What a [`NodeHandle`](crate::NodeHandle) can ask of the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    /// Dial a known peer at these addresses.
    Dial {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// Dial an address whose peer id we do not know (a plain bootstrap multiaddr).
    DialAddress {
        addr: Multiaddr,
        source: PeerSource,
        reply: oneshot::Sender<Result<PeerId, Error>>,
    },
    /// Close every connection to a peer.
    Disconnect { peer: PeerId },
    /// Refuse all connections to and from a peer, closing the open ones.
    Block { peer: PeerId },
    /// Lift a block.
    Unblock { peer: PeerId },
    /// Tell the DHT where a peer can be reached.
    AddDhtAddresses { peer: PeerId, addrs: Vec<Multiaddr> },
    /// Ask the DHT for peers near us (a Kademlia bootstrap).
    Bootstrap,
    /// Publish our announcement on the network topic now.
    Announce,
    /// Subscribe to an author's topic: their gossip reaches the social service from now on.
    SubscribeUser { author: PeerId },
    /// Unsubscribe from an author's topic.
    UnsubscribeUser { author: PeerId },
    /// Publish data (a signed object) on a topic; the reply, if asked for, names the peers
    /// known to be subscribed to it, which gossipsub sends it to.
    Publish {
        topic: String,
        data: Vec<u8>,
        reply: Option<oneshot::Sender<HashSet<PeerId>>>,
    },
    /// Report the social service's verdict on a gossip message it was handed.
    ReportValidation {
        message_id: gossipsub::MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    },
}

/// A gossip message on a followed author's topic, handed to the social service, which must
/// answer with [`Command::ReportValidation`].
#[derive(Debug)]
pub(crate) struct GossipObject {
    /// The author whose topic it came on.
    pub author: PeerId,
    /// The message's data: a signed object's JSON, not checked yet.
    pub data: Vec<u8>,
    pub message_id: gossipsub::MessageId,
    /// The peer that forwarded it to us.
    pub source: PeerId,
}

/// Parked reply of a dial, resolved by the matching connection event.
enum PendingDial {
    Peer(oneshot::Sender<Result<(), Error>>),
    Address {
        source: PeerSource,
        reply: oneshot::Sender<Result<PeerId, Error>>,
    },
}

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    /// Bounded (see `NodeHandle`): when full, callers wait.
    commands: mpsc::Receiver<Command>,
    found: PeerFoundSender,
    /// Bounded; the pipeline reads it before anything else, so it never stays full for long.
    notices: mpsc::Sender<PipelineNotice>,
    events: broadcast::Sender<NodeEvent>,
    state: Arc<NodeState>,
    pending_dials: HashMap<ConnectionId, PendingDial>,
    /// Connections the pipeline or a caller asked for: their establishment is not a discovery.
    metrics: Metrics,
    network_topic: IdentTopic,
    /// Followed authors' topics we are subscribed to, by hash.
    user_topics: HashMap<TopicHash, PeerId>,
    /// Where messages on those topics go; bounded: when full, messages are ignored (the pull
    /// sync fetches what gossip failed to deliver).
    gossip_objects: mpsc::Sender<GossipObject>,
    announce_interval: Duration,
    token: CancellationToken,
}

impl EventLoop {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        found: PeerFoundSender,
        notices: mpsc::Sender<PipelineNotice>,
        events: broadcast::Sender<NodeEvent>,
        state: Arc<NodeState>,
        metrics: Metrics,
        gossip_objects: mpsc::Sender<GossipObject>,
        announce_interval: Duration,
        token: CancellationToken,
    ) -> Self {
        Self {
            swarm,
            commands,
            found,
            notices,
            events,
            state,
            pending_dials: HashMap::new(),
            metrics,
            network_topic: IdentTopic::new(NETWORK_TOPIC),
            user_topics: HashMap::new(),
            gossip_objects,
            announce_interval,
            token,
        }
    }

    /// Starts listening on every address and returns once each listener reports its first
    /// address, so the caller can print real, dialable addresses.
    pub async fn listen(&mut self, addrs: &[Multiaddr], deadline: Duration) -> Result<(), Error> {
        let mut pending: HashMap<ListenerId, Multiaddr> = HashMap::new();
        for addr in addrs {
            let id = self
                .swarm
                .listen_on(addr.clone())
                .map_err(|e| Error::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
            pending.insert(id, addr.clone());
        }
        let wait = async {
            while !pending.is_empty() {
                let event = self.swarm.select_next_some().await;
                match &event {
                    SwarmEvent::NewListenAddr { listener_id, .. } => {
                        pending.remove(listener_id);
                    }
                    SwarmEvent::ListenerError { listener_id, error } => {
                        if let Some(addr) = pending.remove(listener_id) {
                            return Err(Error::Listen {
                                addr,
                                reason: error.to_string(),
                            });
                        }
                    }
                    SwarmEvent::ListenerClosed {
                        listener_id,
                        reason,
                        ..
                    } => {
                        if let Some(addr) = pending.remove(listener_id) {
                            let reason = match reason {
                                Ok(()) => "closed".to_owned(),
                                Err(e) => e.to_string(),
                            };
                            return Err(Error::Listen { addr, reason });
                        }
                    }
                    _ => {}
                }
                self.on_swarm_event(event);
            }
            Ok(())
        };
        match tokio::time::timeout(deadline, wait).await {
            Ok(result) => result,
            Err(_) => Err(Error::Listen {
                addr: addrs.first().cloned().unwrap_or_else(Multiaddr::empty),
                reason: "no listen address reported in time".into(),
            }),
        }
    }

    /// Runs until the token is cancelled.
    pub async fn run(mut self) {
        if let Err(error) = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&self.network_topic)
        {
            tracing::warn!(%error, "could not subscribe to the network topic");
        }
        let mut announce = tokio::time::interval(self.announce_interval);
        announce.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = self.token.cancelled() => break,
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = announce.tick() => self.announce(),
            }
        }
        // Fail every parked dial instead of leaving callers to time out.
        for (_, pending) in self.pending_dials.drain() {
            match pending {
                PendingDial::Peer(reply) => {
                    let _ = reply.send(Err(Error::Stopped));
                }
                PendingDial::Address { reply, .. } => {
                    let _ = reply.send(Err(Error::Stopped));
                }
            }
        }
        tracing::debug!("event loop stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addrs, reply } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                let opts = DialOpts::peer_id(peer).addresses(addrs).build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.pending_dials.insert(id, PendingDial::Peer(reply));
                    }
                    Err(error) => {
                        let _ = reply.send(Err(Error::Dial(error.to_string())));
                    }
                }
            }
            Command::DialAddress {
                addr,
                source,
                reply,
            } => {
                let opts = DialOpts::unknown_peer_id().address(addr).build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.pending_dials
                            .insert(id, PendingDial::Address { source, reply });
                    }
                    Err(error) => {
                        let _ = reply.send(Err(Error::Dial(error.to_string())));
                    }
                }
            }
            Command::Disconnect { peer } => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Block { peer } => {
                self.swarm.behaviour_mut().blocks.block_peer(peer);
                self.swarm.behaviour_mut().kad.remove_peer(&peer);
            }
            Command::Unblock { peer } => {
                self.swarm.behaviour_mut().blocks.unblock_peer(peer);
            }
            Command::AddDhtAddresses { peer, addrs } => {
                for addr in addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer, addr);
                }
            }
            Command::Bootstrap => {
                if let Err(error) = self.swarm.behaviour_mut().kad.bootstrap() {
                    tracing::debug!(%error, "DHT bootstrap skipped");
                }
            }
            Command::Announce => self.announce(),
            Command::SubscribeUser { author } => {
                let topic = IdentTopic::new(user_topic(&author));
                match self.swarm.behaviour_mut().gossipsub.subscribe(&topic) {
                    Ok(_) => {
                        self.user_topics.insert(topic.hash(), author);
                    }
                    Err(error) => {
                        tracing::warn!(%author, %error, "could not subscribe to an author's topic")
                    }
                }
            }
            Command::UnsubscribeUser { author } => {
                let topic = IdentTopic::new(user_topic(&author));
                self.user_topics.remove(&topic.hash());
                self.swarm.behaviour_mut().gossipsub.unsubscribe(&topic);
            }
            Command::Publish { topic, data, reply } => {
                let reached = self.publish(topic, data);
                if let Some(reply) = reply {
                    let _ = reply.send(reached);
                }
            }
            Command::ReportValidation {
                message_id,
                source,
                acceptance,
            } => {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &source, acceptance);
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.state.add_listen_addr(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.state.remove_listen_addr(&address)
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let (remote_addr, outbound) = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => (address.clone(), true),
                    ConnectedPoint::Listener { send_back_addr, .. } => {
                        (send_back_addr.clone(), false)
                    }
                };
                tracing::debug!(peer = %peer_id, %remote_addr, outbound, "connection established");
                self.state
                    .connection_established(peer_id, remote_addr.clone(), outbound, now_ms());
                // Who asked for this connection decides how the peer counts as found: the
                // pipeline's own dials are already being checked; an address dial names its
                // source; anything else (the DHT dialing, an inbound peer) is a discovery too.
                let source = match self.pending_dials.remove(&connection_id) {
                    Some(PendingDial::Peer(reply)) => {
                        let _ = reply.send(Ok(()));
                        None
                    }
                    Some(PendingDial::Address { source, reply }) => {
                        let _ = reply.send(Ok(peer_id));
                        Some(source)
                    }
                    None if outbound => Some(PeerSource::Dht),
                    None => Some(PeerSource::Inbound),
                };
                if num_established.get() == 1 {
                    let _ = self.events.send(NodeEvent::PeerConnected { peer: peer_id });
                    // The peer still has to prove it belongs to our network before it is recorded.
                    // An inbound peer's remote address is an ephemeral port, not a dialable one.
                    if let Some(source) = source {
                        let addrs = if outbound {
                            vec![remote_addr]
                        } else {
                            Vec::new()
                        };
                        self.found.offer(PeerFound::new(peer_id, addrs, source));
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, cause = ?cause, "connection closed");
                self.state.connection_closed(&peer_id, num_established);
                if num_established == 0 {
                    let _ = self.notices.try_send(PipelineNotice::Disconnected(peer_id));
                    let _ = self
                        .events
                        .send(NodeEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                tracing::debug!(peer = ?peer_id, %error, "outgoing connection failed");
                match self.pending_dials.remove(&connection_id) {
                    Some(PendingDial::Peer(reply)) => {
                        let _ = reply.send(Err(Error::Dial(error.to_string())));
                    }
                    Some(PendingDial::Address { reply, .. }) => {
                        let _ = reply.send(Err(Error::Dial(error.to_string())));
                    }
                    None => {}
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                // This is what a node with another network key (or none) looks like.
                tracing::debug!(%send_back_addr, %error, "incoming connection failed");
            }
            SwarmEvent::ListenerError { error, .. } => tracing::warn!(%error, "listener error"),
            other => tracing::trace!(event = ?other, "swarm event"),
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(event) => {
                self.metrics.record(&event);
                if let identify::Event::Received { peer_id, info, .. } = event {
                    if info.protocols.contains(&KAD_PROTOCOL) {
                        for addr in &info.listen_addrs {
                            self.swarm
                                .behaviour_mut()
                                .kad
                                .add_address(&peer_id, addr.clone());
                        }
                    }
                    self.found.offer(PeerFound::new(
                        peer_id,
                        info.listen_addrs,
                        PeerSource::Identify,
                    ));
                }
            }
            BehaviourEvent::Ping(event) => {
                self.metrics.record(&event);
                let ping::Event { peer, result, .. } = event;
                match result {
                    Ok(rtt) => self.state.record_rtt(&peer, rtt),
                    // One failed ping is not a dead peer: rust-libp2p resets an older inbound ping
                    // stream when a peer pings twice at once.
                    Err(error) => tracing::trace!(%peer, %error, "ping failed"),
                }
            }
            BehaviourEvent::Kad(event) => {
                self.metrics.record(&event);
                self.on_kad_event(event);
            }
            BehaviourEvent::Mdns(event) => {
                if let mdns::Event::Discovered(list) = event {
                    let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                    for (peer, addr) in list {
                        by_peer.entry(peer).or_default().push(addr);
                    }
                    for (peer, addrs) in by_peer {
                        self.found
                            .offer(PeerFound::new(peer, addrs, PeerSource::Mdns));
                    }
                }
            }
            BehaviourEvent::Gossipsub(event) => {
                self.metrics.record(&event);
                if let gossipsub::Event::Message {
                    propagation_source,
                    message_id,
                    message,
                } = event
                {
                    if let Some(author) = self.user_topics.get(&message.topic).copied() {
                        // Checked and stored by the social service, which reports the verdict.
                        let object = GossipObject {
                            author,
                            data: message.data,
                            message_id: message_id.clone(),
                            source: propagation_source,
                        };
                        if self.gossip_objects.try_send(object).is_ok() {
                            return;
                        }
                        tracing::debug!(%author, "social service busy: gossip message ignored");
                        self.swarm
                            .behaviour_mut()
                            .gossipsub
                            .report_message_validation_result(
                                &message_id,
                                &propagation_source,
                                MessageAcceptance::Ignore,
                            );
                        return;
                    }
                    let acceptance = self.on_gossip_message(&message);
                    // With validation on, every message must get a verdict or it stalls.
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            acceptance,
                        );
                }
            }
            BehaviourEvent::Blocks(never) | BehaviourEvent::Limits(never) => match never {},
            BehaviourEvent::Streams(()) => {}
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::RoutingUpdated {
                peer, addresses, ..
            } => {
                self.found
                    .offer(PeerFound::new(peer, addresses.into_vec(), PeerSource::Dht));
            }
            kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(Ok(ok)),
                ..
            } => {
                for info in ok.peers {
                    if !info.addrs.is_empty() {
                        self.found
                            .offer(PeerFound::new(info.peer_id, info.addrs, PeerSource::Dht));
                    }
                }
            }
            kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::Bootstrap(result),
                ..
            } => {
                tracing::debug!(?result, "DHT bootstrap step");
            }
            other => tracing::trace!(event = ?other, "kademlia event"),
        }
    }

    /// Validates a gossip message. Network announcements must be published by the peer they
    /// announce; everything else on topics we do not handle yet is ignored (not penalised).
    fn on_gossip_message(&mut self, message: &gossipsub::Message) -> MessageAcceptance {
        if message.topic != self.network_topic.hash() {
            return MessageAcceptance::Ignore;
        }
        let Ok(announcement) = Announcement::decode(&message.data) else {
            return MessageAcceptance::Reject;
        };
        if message.source != Some(announcement.peer_id) {
            return MessageAcceptance::Reject;
        }
        if announcement.peer_id != *self.swarm.local_peer_id() {
            self.found.offer(PeerFound::new(
                announcement.peer_id,
                announcement.addrs,
                PeerSource::Gossip,
            ));
        }
        MessageAcceptance::Accept
    }

    /// Publishes on `topic`; returns the peers it went to (flood publishing sends an own
    /// message to every peer known to be subscribed), empty when it was not sent.
    fn publish(&mut self, topic: String, data: Vec<u8>) -> HashSet<PeerId> {
        let topic = IdentTopic::new(topic);
        let topic_hash = topic.hash();
        // gossipsub signs and encodes a message before it finds out that nobody is subscribed;
        // skip that work when no connected peer listens.
        let listeners: HashSet<PeerId> = self
            .swarm
            .behaviour()
            .gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&&topic_hash))
            .map(|(peer, _)| *peer)
            .collect();
        if listeners.is_empty() {
            tracing::trace!(%topic, "nobody subscribed: not published");
            return listeners;
        }
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), data)
        {
            Ok(_) => {
                tracing::trace!(%topic, peers = listeners.len(), "published");
                listeners
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                tracing::trace!(%topic, "published to nobody");
                HashSet::new()
            }
            Err(error) => {
                tracing::debug!(%topic, %error, "not published");
                HashSet::new()
            }
        }
    }

    fn announce(&mut self) {
        let mut addrs = self.state.listen_addrs();
        addrs.truncate(MAX_ANNOUNCEMENT_ADDRS);
        let announcement = Announcement {
            peer_id: *self.swarm.local_peer_id(),
            role: self.state.role,
            addrs,
            ts: now_ms(),
        };
        let data = match announcement.encode() {
            Ok(data) => data,
            Err(error) => {
                tracing::warn!(%error, "our own announcement does not fit the limits");
                return;
            }
        };
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(self.network_topic.clone(), data)
        {
            Ok(_) => tracing::debug!("announced ourselves on the network topic"),
            // No peers subscribed yet: nothing to do, the next tick tries again.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
            Err(error) => tracing::debug!(%error, "announcement not published"),
        }
    }
}
