//! The event loop: the only code that touches the swarm.
//!
//! It `select!`s (biased, in this order) over the shutdown token, commands from [`NodeHandle`]s
//! and swarm events. Commands that wait for the network (a dial) park their reply channel in a
//! map keyed by the libp2p id of the operation until the matching swarm event arrives. Every
//! discovery source is turned into a [`PeerFound`] here and handed to the pipeline
//! (`discovery`), which decides what to do with it; the loop itself never waits on the pipeline.
//! It also feeds what AutoNAT, UPnP, identify and the relay client report into the node's
//! reachability (`reach`), makes and gives back relay reservations, and tells peers (identify
//! push, an announcement) when the addresses it can be reached at change.
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
    Multiaddr, PeerId, Swarm, autonat,
    core::{ConnectedPoint, transport::ListenerId},
    dcutr,
    gossipsub::{self, IdentTopic, MessageAcceptance, TopicHash},
    identify, kad, mdns,
    metrics::{Metrics, Recorder},
    ping, relay,
    swarm::{ConnectionId, SwarmEvent, dial_opts::DialOpts},
    upnp,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, NodeEvent,
    addresses::{self, is_relayed},
    behaviour::{Behaviour, BehaviourEvent, KAD_PROTOCOL},
    discovery::{PeerFound, PeerFoundSender, PipelineNotice},
    reach::{Confirmation, Reach},
    state::{NodeState, now_ms},
};

/// How often the loop looks at its relay reservations (to make missing ones, give back
/// unneeded ones) besides the events that change them.
const REACH_INTERVAL: Duration = Duration::from_secs(2);

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
    /// Ask the DHT where a peer we are not connected to can be reached; what it answers goes
    /// to the pipeline like every discovery.
    FindPeer { peer: PeerId },
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
    /// Reachability and relay reservations (see `reach`).
    reach: Reach,
    /// Whether this node relays for others: then a probe from its own subnet counts.
    relays_for_others: bool,
    /// Our local address of each open inbound direct connection: a peer that reached us there
    /// proves the address works (see `on_observed`).
    inbound: HashMap<ConnectionId, Multiaddr>,
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
        reach: Reach,
        token: CancellationToken,
    ) -> Self {
        let relays_for_others = swarm.behaviour().relay.is_enabled();
        let mut swarm = swarm;
        for addr in reach.external_addrs() {
            swarm.add_external_address(addr);
        }
        state.set_reachability(reach.view());
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
            reach,
            relays_for_others,
            inbound: HashMap::new(),
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
        let mut reach_tick = tokio::time::interval(REACH_INTERVAL);
        reach_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = reach_tick.tick() => self.update_reach(),
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
            Command::FindPeer { peer } => {
                if !self.swarm.is_connected(&peer) {
                    self.swarm.behaviour_mut().kad.get_closest_peers(peer);
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
                // A circuit address is not a listen address of ours in the usual sense: it is
                // reported (and announced) as the external address the reservation confirms.
                if is_relayed(&address) {
                    tracing::debug!(%address, "listening through a relay");
                } else {
                    tracing::info!(%address, "listening");
                    self.state.add_listen_addr(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.state.remove_listen_addr(&address)
            }
            SwarmEvent::ListenerClosed { listener_id, .. } => {
                self.on_listener_gone(listener_id);
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!(%address, "external address confirmed");
                // A loopback or private address confirmed by a probe may prove only that the
                // LAN reaches us; it is told to the network once `on_probe` (or `on_upnp`, which
                // libp2p calls right after) has said whose word it is, never before.
                let wait_for_reason = !self.relays_for_others
                    && matches!(
                        addresses::scope(&address),
                        addresses::Scope::Loopback | addresses::Scope::Private
                    );
                self.reach.confirmed(address, Confirmation::Other);
                if wait_for_reason {
                    self.publish_reach();
                } else {
                    self.on_external_addrs_changed();
                }
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                tracing::info!(%address, "external address expired");
                self.reach.expired(&address);
                self.on_external_addrs_changed();
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
                let relayed = endpoint.is_relayed();
                if let ConnectedPoint::Listener { local_addr, .. } = &endpoint
                    && !relayed
                {
                    self.inbound.insert(connection_id, local_addr.clone());
                }
                tracing::debug!(peer = %peer_id, %remote_addr, outbound, relayed, "connection established");
                self.state.connection_established(
                    peer_id,
                    remote_addr.clone(),
                    outbound,
                    relayed,
                    now_ms(),
                );
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
                connection_id,
                num_established,
                cause,
                endpoint,
                ..
            } => {
                self.inbound.remove(&connection_id);
                tracing::debug!(peer = %peer_id, cause = ?cause, "connection closed");
                self.state
                    .connection_closed(&peer_id, num_established, endpoint.is_relayed());
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
            SwarmEvent::ListenerError { listener_id, error } => {
                if self.reach.is_circuit_listener(listener_id) {
                    tracing::debug!(%error, "relay reservation failed");
                } else {
                    tracing::warn!(%error, "listener error");
                }
            }
            other => tracing::trace!(event = ?other, "swarm event"),
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(event) => {
                self.metrics.record(&event);
                if let identify::Event::Received {
                    peer_id,
                    info,
                    connection_id,
                } = event
                {
                    self.on_observed(peer_id, connection_id, &info.observed_addr);
                    if info.protocols.contains(&relay::HOP_PROTOCOL_NAME) {
                        self.on_relay_found(peer_id, &info.listen_addrs);
                    }
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
            BehaviourEvent::AutonatClient(event) => self.on_probe(event),
            BehaviourEvent::AutonatServer(event) => {
                tracing::debug!(client = %event.client, addr = %event.tested_addr, ok = event.result.is_ok(), "probed a peer's address");
            }
            BehaviourEvent::Upnp(event) => self.on_upnp(event),
            BehaviourEvent::Relay(event) => {
                self.metrics.record(&event);
                self.on_relay_server(event);
            }
            BehaviourEvent::RelayClient(event) => self.on_relay_client(event),
            BehaviourEvent::Dcutr(event) => {
                self.metrics.record(&event);
                let dcutr::Event {
                    remote_peer_id,
                    result,
                } = event;
                match result {
                    Ok(_) => {
                        tracing::info!(peer = %remote_peer_id, "relayed connection upgraded to a direct one")
                    }
                    Err(error) => {
                        tracing::info!(peer = %remote_peer_id, %error, "hole punching failed; staying on the relay")
                    }
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

    /// A peer offers relaying (its identify lists the hop protocol). The address to reserve
    /// through is the one we reach it at, if we dialed it, else the first direct one it lists.
    fn on_relay_found(&mut self, relay: PeerId, listed: &[Multiaddr]) {
        let dialed = self
            .state
            .connections()
            .get(&relay)
            .filter(|c| c.outbound && !is_relayed(&c.remote_addr))
            .map(|c| c.remote_addr.clone());
        let addr = dialed.or_else(|| listed.iter().find(|a| !is_relayed(a)).cloned());
        if let Some(addr) = addr {
            let addr = strip_peer_id(addr);
            self.reach
                .relay_found(relay, addr, tokio::time::Instant::now());
            self.update_reach();
        }
    }

    /// A peer told us (identify) at which address it sees us. If it reached us on an inbound
    /// connection at exactly our local address, that address demonstrably works from where
    /// the peer is: stronger evidence than an AutoNAT probe, and the only one a node that
    /// nobody dials back gets (AutoNAT v2 probes only through servers we dialed ourselves, and
    /// a bootstrap node dials no one). The same-subnet rule of [`Self::on_probe`] applies.
    fn on_observed(&mut self, peer: PeerId, connection: ConnectionId, observed: &Multiaddr) {
        let Some(local) = self.inbound.get(&connection) else {
            return;
        };
        let observed = strip_peer_id(observed.clone());
        if observed != *local || self.reach.external_addrs().contains(&observed) {
            return;
        }
        let remote = self
            .state
            .connections()
            .get(&peer)
            .map(|c| c.remote_addr.clone());
        if addresses::vouches_only_for_lan(&observed, remote.as_ref()) && !self.relays_for_others {
            return;
        }
        tracing::info!(addr = %observed, %peer, "a peer reached us directly at this address");
        // `add_external_address` tells the behaviours but emits no swarm event.
        self.swarm.add_external_address(observed.clone());
        self.reach
            .confirmed(observed, Confirmation::Inbound { peer });
        self.on_external_addrs_changed();
        self.update_reach();
    }

    /// Makes the reservations the node lacks and gives back those it no longer needs.
    fn update_reach(&mut self) {
        let now = tokio::time::Instant::now();
        for (relay, circuit) in self.reach.reservations_to_make(now) {
            match self.swarm.listen_on(circuit.clone()) {
                Ok(listener) => {
                    tracing::debug!(%relay, %circuit, "reserving a slot on a relay");
                    self.reach.reserving(relay, listener);
                }
                Err(error) => {
                    tracing::debug!(%relay, %error, "cannot listen through the relay");
                    self.reach.reservation_refused(relay, now);
                }
            }
        }
        for listener in self.reach.reservations_to_drop() {
            tracing::info!("directly reachable: giving a relay reservation back");
            self.swarm.remove_listener(listener);
        }
        self.publish_reach();
    }

    fn on_listener_gone(&mut self, listener: ListenerId) {
        if let Some(relay) = self
            .reach
            .listener_closed(listener, tokio::time::Instant::now())
        {
            tracing::info!(%relay, "relay reservation ended");
            self.publish_reach();
        }
    }

    /// Tells the network at once where we can be reached now: identify pushes to every
    /// connected peer (libp2p pushes only listen-address changes by itself, and otherwise
    /// re-identifies every 5 minutes) and an announcement on the network topic. A home node
    /// that just got a relay reservation is reachable only once others know the circuit.
    fn on_external_addrs_changed(&mut self) {
        self.publish_reach();
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        self.swarm.behaviour_mut().identify.push(peers);
        self.announce();
    }

    fn publish_reach(&self) {
        let view = self.reach.view();
        if self.state.reachability() != view {
            self.state.set_reachability(view.clone());
            let _ = self.events.send(NodeEvent::Reachability(Box::new(view)));
        }
    }

    /// The outcome of an AutoNAT probe of one of our addresses.
    ///
    /// A probe by a peer on our own host or subnet proves only that the LAN can reach us, not
    /// the rest of the network (a home node's friend on the same Wi-Fi). Such a confirmation is
    /// taken back, except on a node that relays for others, for which its subnet *is* the
    /// outside it serves (a bootstrap node on a provider's network, the namespaces of the
    /// tests). See `addresses` for why private ranges alone decide nothing.
    fn on_probe(&mut self, event: autonat::v2::client::Event) {
        let autonat::v2::client::Event {
            tested_addr,
            server,
            result,
            ..
        } = event;
        match result {
            Ok(()) => {
                let server_addr = self
                    .state
                    .connections()
                    .get(&server)
                    .map(|c| c.remote_addr.clone());
                if addresses::vouches_only_for_lan(&tested_addr, server_addr.as_ref())
                    && !self.relays_for_others
                {
                    tracing::debug!(addr = %tested_addr, %server, "reachable from the local network only");
                    self.swarm.remove_external_address(&tested_addr);
                    self.reach.expired(&tested_addr);
                    self.reach.probe_failed(
                        tested_addr,
                        format!("only {server}, on the same local network, could dial it"),
                    );
                } else {
                    tracing::info!(addr = %tested_addr, %server, "address confirmed by a probe");
                    self.reach
                        .confirmed(tested_addr, Confirmation::Probe { server });
                    self.on_external_addrs_changed();
                }
            }
            Err(error) => {
                tracing::debug!(addr = %tested_addr, %server, %error, "probe failed");
                self.reach.probe_failed(tested_addr, error.to_string());
            }
        }
        self.update_reach();
    }

    fn on_upnp(&mut self, event: upnp::Event) {
        match event {
            upnp::Event::NewExternalAddr { external_addr, .. } => {
                tracing::info!(addr = %external_addr, "the router maps a port to us (UPnP)");
                self.reach.upnp_mapped();
                self.reach.confirmed(external_addr, Confirmation::Upnp);
                self.on_external_addrs_changed();
            }
            upnp::Event::ExpiredExternalAddr { external_addr, .. } => {
                tracing::info!(addr = %external_addr, "the router's port mapping expired");
                self.reach.expired(&external_addr);
            }
            upnp::Event::GatewayNotFound => {
                tracing::debug!("no UPnP router found");
                self.reach.upnp_unavailable(false);
            }
            upnp::Event::NonRoutableGateway => {
                tracing::debug!("the UPnP router is not on the public network");
                self.reach.upnp_unavailable(true);
            }
        }
        self.update_reach();
    }

    fn on_relay_client(&mut self, event: relay::client::Event) {
        match event {
            relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            } => {
                if !renewal {
                    tracing::info!(relay = %relay_peer_id, "reserved a slot on a relay");
                }
                self.reach.reserved(relay_peer_id);
                self.publish_reach();
            }
            relay::client::Event::OutboundCircuitEstablished { relay_peer_id, .. } => {
                tracing::debug!(relay = %relay_peer_id, "dialed a peer through a relay");
            }
            relay::client::Event::InboundCircuitEstablished { src_peer_id, .. } => {
                tracing::debug!(peer = %src_peer_id, "a peer reached us through a relay");
            }
        }
    }

    /// Counts what this node relays for others, for `/metrics`.
    fn on_relay_server(&mut self, event: relay::Event) {
        let gauges = self.state.relay_gauges();
        match event {
            relay::Event::ReservationReqAccepted { renewed: false, .. } => {
                gauges.reservations.inc();
            }
            relay::Event::ReservationClosed { .. } | relay::Event::ReservationTimedOut { .. } => {
                gauges.reservations.dec();
            }
            relay::Event::CircuitReqAccepted { .. } => {
                gauges.circuits.inc();
            }
            relay::Event::CircuitClosed { .. } => {
                gauges.circuits.dec();
            }
            relay::Event::ReservationReqDenied { src_peer_id, .. }
            | relay::Event::CircuitReqDenied { src_peer_id, .. } => {
                gauges.denied.inc();
                tracing::debug!(peer = %src_peer_id, "relay request denied");
            }
            other => tracing::trace!(event = ?other, "relay event"),
        }
    }

    fn announce(&mut self) {
        // A broadcast reaches everyone: only addresses that mean something to anyone.
        let mut addrs = addresses::addresses_for(
            &self.reach.external_addrs(),
            &self.state.listen_addrs(),
            None,
        );
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

/// `addr` without a final `/p2p/<id>`.
fn strip_peer_id(mut addr: Multiaddr) -> Multiaddr {
    if matches!(
        addr.iter().last(),
        Some(libp2p::multiaddr::Protocol::P2p(_))
    ) {
        addr.pop();
    }
    addr
}
