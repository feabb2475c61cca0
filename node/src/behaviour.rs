//! The composed libp2p behaviour of a Kith node: one field per protocol.
//!
//! Field order is deliberate — the derive polls fields in declaration order, so the two gates
//! that can deny a connection (the blocklist, then the connection limits) come first, the
//! protocols that keep connections healthy and addressable (identify, ping) next, then the ones
//! that make the node reachable from behind a NAT (AutoNAT, UPnP, relay, hole punching), then
//! discovery (Kademlia, mDNS), then gossip, and last the per-route streams that carry
//! application requests.

use std::time::Duration;

use kith_config::{Limits, ReachSettings, RelayLimits, Role};
use libp2p::{
    StreamProtocol, allow_block_list, autonat, connection_limits, dcutr,
    gossipsub::{self, MessageAuthenticity, ValidationMode},
    identify,
    identity::Keypair,
    kad::{self, store::MemoryStore},
    mdns, ping, relay,
    swarm::{NetworkBehaviour, behaviour::toggle::Toggle},
    upnp,
};
use sha2::{Digest, Sha256};

use crate::Error;

/// The Kademlia protocol name: our own, so that Kith's DHT never merges with a public one.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/kith/kad/1.0.0");
/// The identify protocol version string.
pub const IDENTIFY_PROTOCOL: &str = "/ipfs/id/1.0.0";
/// How often an idle mDNS responder asks the LAN who is there. libp2p's default (5 min) is meant
/// for large networks; a handful of home machines can afford to ask every 30 s.
const MDNS_QUERY_INTERVAL: Duration = Duration::from_secs(30);

/// Everything the swarm runs, composed.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Refuses every connection, in and out, to a blocked peer.
    pub blocks: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Caps pending, total and per-peer connections.
    pub limits: connection_limits::Behaviour,
    /// Exchanges listen addresses, agent version and supported protocols.
    pub identify: identify::Behaviour,
    /// Keeps connections alive and measures round-trip times.
    pub ping: ping::Behaviour,
    /// Asks other members to dial our address candidates back (AutoNAT v2, client side).
    pub autonat_client: autonat::v2::client::Behaviour,
    /// Dials other members' candidates back when they ask (AutoNAT v2, server side).
    pub autonat_server: autonat::v2::server::Behaviour,
    /// Asks the home router for a port mapping; `None` when off (`--upnp false`, bootstrap).
    pub upnp: Toggle<upnp::tokio::Behaviour>,
    /// Relays circuits for others; `None` unless the node relays (`--relay`, bootstrap nodes).
    pub relay: Toggle<relay::Behaviour>,
    /// Reserves slots on relays and dials through them (circuit relay v2, client side).
    pub relay_client: relay::client::Behaviour,
    /// Upgrades relayed connections to direct ones by hole punching.
    pub dcutr: dcutr::Behaviour,
    /// The DHT: finds peers beyond the ones we know.
    pub kad: kad::Behaviour<MemoryStore>,
    /// LAN discovery; `None` when turned off with `--mdns false`.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Pub/sub for network announcements (and, later, authors' objects).
    pub gossipsub: gossipsub::Behaviour,
    /// One libp2p protocol per Kith route; see `dispatch`.
    pub streams: libp2p_stream::Behaviour,
}

impl Behaviour {
    /// Builds the behaviour for a node with the given identity, role and limits. `relay_client`
    /// is the behaviour half of `libp2p::relay::client::new`, whose transport half went into
    /// the node's transport.
    pub fn new(
        keypair: &Keypair,
        role: Role,
        limits: &Limits,
        mdns: bool,
        reach: &ReachSettings,
        relay_client: relay::client::Behaviour,
    ) -> Result<Self, Error> {
        let peer_id = keypair.public().to_peer_id();

        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(limits.max_connections))
            .with_max_established_per_peer(Some(limits.max_connections_per_peer))
            .with_max_pending_incoming(Some(limits.max_pending_connections))
            .with_max_pending_outgoing(Some(limits.max_pending_connections));

        // Identify tells peers our external addresses only (confirmed, configured, mapped or
        // relayed): listen addresses such as 127.0.0.1 or a home LAN address mean nothing to a
        // peer elsewhere. Peers that can use them learn them per recipient from the info route
        // (see `addresses`), and LAN peers from mDNS.
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), keypair.public())
                .with_agent_version(format!("kith/{}", env!("CARGO_PKG_VERSION")))
                .with_hide_listen_addrs(true),
        );

        let mut kad_config = kad::Config::new(KAD_PROTOCOL);
        kad_config.set_query_timeout(Duration::from_secs(30));
        let mut kad = kad::Behaviour::with_config(peer_id, MemoryStore::new(peer_id), kad_config);
        // Kademlia stays a client until it has a confirmed external address, which a node on a
        // home LAN may never get. Every Kith node answers DHT queries.
        kad.set_mode(Some(kad::Mode::Server));

        let mdns = if mdns {
            let config = mdns::Config {
                query_interval: MDNS_QUERY_INTERVAL,
                ..Default::default()
            };
            Some(
                mdns::tokio::Behaviour::new(config, peer_id)
                    .map_err(|e| Error::Mdns(e.to_string()))?,
            )
        } else {
            None
        };

        let mut gossip_config = gossipsub::ConfigBuilder::default();
        gossip_config
            .validation_mode(ValidationMode::Strict)
            .validate_messages()
            // A signed object at its size limit, plus the gossip envelope (topic, source,
            // sequence number, signature, key).
            .max_transmit_size(kith_protocols::MAX_OBJECT_LEN + GOSSIP_ENVELOPE_ALLOWANCE)
            .message_id_fn(content_message_id);
        if role == Role::Bootstrap {
            // Peer exchange on prune: an entry node hands out other peers when it sheds load.
            gossip_config.do_px().prune_peers(16);
        }
        let gossip_config = gossip_config
            .build()
            .map_err(|e| Error::Gossip(e.to_string()))?;
        let gossipsub =
            gossipsub::Behaviour::new(MessageAuthenticity::Signed(keypair.clone()), gossip_config)
                .map_err(|e| Error::Gossip(e.to_owned()))?;

        let relay = reach
            .relay
            .then(|| relay::Behaviour::new(peer_id, relay_config(&reach.relay_limits)));
        let upnp = reach.upnp.then(upnp::tokio::Behaviour::default);

        Ok(Self {
            blocks: allow_block_list::Behaviour::default(),
            limits: connection_limits::Behaviour::new(limits),
            identify,
            ping: ping::Behaviour::new(ping::Config::new()),
            // Probes an untested candidate every 5 s (libp2p's default).
            autonat_client: autonat::v2::client::Behaviour::default(),
            autonat_server: autonat::v2::server::Behaviour::default(),
            upnp: Toggle::from(upnp),
            relay: Toggle::from(relay),
            relay_client,
            dcutr: dcutr::Behaviour::new(peer_id),
            kad,
            mdns: Toggle::from(mdns),
            gossipsub,
            streams: libp2p_stream::Behaviour::new(),
        })
    }
}

/// The relay server's configuration from Kith's limits. Reservations and circuits are also
/// rate-limited per peer and per IP (libp2p's default limiters), so a peer that opens circuits
/// in a loop is refused long before it reaches the totals.
fn relay_config(limits: &RelayLimits) -> relay::Config {
    relay::Config {
        max_reservations: limits.max_reservations as usize,
        max_reservations_per_peer: 4,
        max_circuits: limits.max_circuits as usize,
        max_circuits_per_peer: limits.max_circuits_per_peer as usize,
        max_circuit_duration: limits.circuit_duration,
        max_circuit_bytes: limits.circuit_bytes,
        ..relay::Config::default()
    }
}

/// Bytes a gossip message may add around its data.
const GOSSIP_ENVELOPE_ALLOWANCE: usize = 4 * 1024;

/// Gossip message ids are the SHA-256 of the content, so the same object relayed by several
/// peers is recognised as one message.
fn content_message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::from(hex::encode(Sha256::digest(&message.data)))
}
