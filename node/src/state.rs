//! State the event loop publishes for everyone else to read: who we are, where we listen and who
//! is connected right now.
//!
//! Only the event loop writes here (it is the only owner of the swarm); services, route handlers
//! and the pipeline read. The locks are std `RwLock`s because nothing awaits while holding one and
//! every critical section is a few map operations.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use kith_config::Role;
use kith_protocols::{ConnectionKind, ReachStatus, Reachability};
use libp2p::{Multiaddr, PeerId};
use prometheus_client::{metrics::gauge::Gauge, registry::Registry};

/// One live connection set to a peer, as the event loop last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The remote address of the most recent direct connection, or of the most recent relayed
    /// one while there is no direct connection.
    pub remote_addr: Multiaddr,
    /// Whether we dialed (`true`) or they did.
    pub outbound: bool,
    /// How many connections are open to this peer.
    pub count: u32,
    /// How many of them go through a relay.
    pub relayed: u32,
    /// When the first of them was established (unix ms).
    pub since_ms: u64,
    /// The latest ping round-trip time, once one has been measured.
    pub rtt: Option<std::time::Duration>,
}

impl Connection {
    /// Direct if any connection goes straight to the peer, else relayed.
    pub fn kind(&self) -> ConnectionKind {
        if self.relayed < self.count {
            ConnectionKind::Direct
        } else {
            ConnectionKind::Relayed
        }
    }
}

/// What this node relays for others right now, exported on `/metrics`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RelayGauges {
    /// Reservations held for other peers.
    pub reservations: Gauge,
    /// Circuits open through this node.
    pub circuits: Gauge,
    /// Reservation and circuit requests refused (limits, rate limits, no reservation).
    pub denied: prometheus_client::metrics::counter::Counter,
}

impl RelayGauges {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kith_relay_reservations",
            "Relay reservations this node holds for other peers",
            self.reservations.clone(),
        );
        registry.register(
            "kith_relay_circuits",
            "Relayed connections open through this node",
            self.circuits.clone(),
        );
        registry.register(
            "kith_relay_denied",
            "Reservation and circuit requests this relay refused",
            self.denied.clone(),
        );
    }
}

/// Shared, read-mostly view of the node.
#[derive(Debug)]
pub(crate) struct NodeState {
    pub peer_id: PeerId,
    pub role: Role,
    pub network: String,
    listen_addrs: RwLock<Vec<Multiaddr>>,
    connections: RwLock<HashMap<PeerId, Connection>>,
    reachability: RwLock<Reachability>,
    relay: RelayGauges,
}

impl NodeState {
    pub fn new(peer_id: PeerId, role: Role, network: String) -> Self {
        Self {
            peer_id,
            role,
            network,
            listen_addrs: RwLock::default(),
            connections: RwLock::default(),
            reachability: RwLock::new(Reachability {
                status: ReachStatus::Unknown,
                reason: "starting".to_owned(),
                relays: Vec::new(),
                external_addrs: Vec::new(),
            }),
            relay: RelayGauges::default(),
        }
    }

    /// How the node is reachable, as the event loop last worked it out.
    pub fn reachability(&self) -> Reachability {
        self.reachability
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_reachability(&self, view: Reachability) {
        *self
            .reachability
            .write()
            .unwrap_or_else(PoisonError::into_inner) = view;
    }

    pub fn relay_gauges(&self) -> &RelayGauges {
        &self.relay
    }

    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.listen_addrs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn add_listen_addr(&self, addr: Multiaddr) {
        let mut addrs = self
            .listen_addrs
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }

    pub fn remove_listen_addr(&self, addr: &Multiaddr) {
        self.listen_addrs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|a| a != addr);
    }

    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(peer)
    }

    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.connections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    pub fn connections(&self) -> HashMap<PeerId, Connection> {
        self.connections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn connection_established(
        &self,
        peer: PeerId,
        remote_addr: Multiaddr,
        outbound: bool,
        relayed: bool,
        now_ms: u64,
    ) {
        let mut connections = self
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        connections
            .entry(peer)
            .and_modify(|c| {
                c.count += 1;
                c.relayed += u32::from(relayed);
                // A direct connection is the one to show; a relayed one only while there is
                // nothing better.
                if !relayed || c.kind() == ConnectionKind::Relayed {
                    c.remote_addr = remote_addr.clone();
                    c.outbound = outbound;
                }
            })
            .or_insert(Connection {
                remote_addr,
                outbound,
                count: 1,
                relayed: u32::from(relayed),
                since_ms: now_ms,
                rtt: None,
            });
    }

    pub fn record_rtt(&self, peer: &PeerId, rtt: std::time::Duration) {
        if let Some(c) = self
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(peer)
        {
            c.rtt = Some(rtt);
        }
    }

    /// Records that one connection closed; `remaining` is what the swarm reports is still open.
    pub fn connection_closed(&self, peer: &PeerId, remaining: u32, relayed: bool) {
        let mut connections = self
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if remaining == 0 {
            connections.remove(peer);
        } else if let Some(c) = connections.get_mut(peer) {
            c.count = remaining;
            if relayed {
                c.relayed = c.relayed.saturating_sub(1);
            }
            c.relayed = c.relayed.min(c.count);
        }
    }
}

/// Milliseconds since the Unix epoch, the time unit of the wire and the store.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
