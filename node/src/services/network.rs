//! The network service: who this node is, which peers it knows, invites, and blocks.

use std::{collections::HashMap, sync::Arc};

use kith_config::{Invite, MAX_INVITE_ADDRS, NetworkKey, Role, peer_id_of};
use kith_protocols::{
    NodeInfo, PROTOCOL_VERSION, PeerEntry, PeerSource, PeerView, PeersResponse, Route,
};
use kith_storage::Store;
use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};

use crate::{Error, NodeHandle, PeerFound, discovery::PipelineNotice, state::now_ms};

/// How many peers the peer-exchange route hands out at most.
const MAX_EXCHANGED_PEERS: usize = 50;

/// Network-level operations shared by route handlers and the HTTP API. Cheap to clone (the
/// HTTP layer clones it for every request).
#[derive(Debug, Clone)]
pub struct NetworkService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node: NodeHandle,
    store: Store,
    network_key: NetworkKey,
    role: Role,
    routes: Vec<Route>,
}

impl NetworkService {
    pub(crate) fn new(
        node: NodeHandle,
        store: Store,
        network_key: NetworkKey,
        role: Role,
        routes: Vec<Route>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                node,
                store,
                network_key,
                role,
                routes,
            }),
        }
    }

    /// The handle of the node this service runs on.
    pub fn node(&self) -> &NodeHandle {
        &self.inner.node
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        self.inner.role
    }

    /// The node's self-description: what `/public/get/info/0.0.0` and `GET /api/v1/node` return.
    pub fn node_info(&self) -> NodeInfo {
        NodeInfo {
            peer_id: self.inner.node.local_peer_id(),
            role: self.inner.role,
            network: self.inner.node.network().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: PROTOCOL_VERSION,
            routes: self.inner.routes.clone(),
            listen_addrs: self.inner.node.listen_addrs(),
            profile: self
                .inner
                .store
                .social()
                .profile(&self.inner.node.local_peer_id())
                .ok()
                .flatten()
                .and_then(|object| super::profile_summary(&object)),
        }
    }

    /// Every peer in the peer book plus any connected peer not recorded yet, connected first.
    pub fn peers(&self) -> Result<Vec<PeerView>, Error> {
        let mut connections = self.inner.node.connections();
        let mut views = Vec::new();
        for record in self.inner.store.peers().list()? {
            let connection = connections.remove(&record.peer_id);
            let mut addrs = record.addrs;
            if let Some(c) = &connection
                && c.outbound
                && !addrs.contains(&c.remote_addr)
            {
                addrs.insert(0, c.remote_addr.clone());
            }
            views.push(PeerView {
                peer_id: record.peer_id,
                connected: connection.is_some(),
                addrs,
                source: record.source,
                role: record.role,
                rtt_ms: connection
                    .and_then(|c| c.rtt)
                    .map(|rtt| rtt.as_millis() as u32)
                    .or(record.rtt_ms),
                first_seen_ms: Some(record.first_seen_ms),
                last_seen_ms: Some(record.last_seen_ms),
                last_connected_ms: record.last_connected_ms,
                failures: record.failures,
                last_failure: record.last_failure,
                rejected: record.rejected,
                agent_version: record.agent_version,
            });
        }
        for (peer_id, c) in connections {
            views.push(PeerView {
                peer_id,
                connected: true,
                addrs: if c.outbound {
                    vec![c.remote_addr]
                } else {
                    Vec::new()
                },
                source: if c.outbound {
                    PeerSource::Dht
                } else {
                    PeerSource::Inbound
                },
                role: None,
                rtt_ms: c.rtt.map(|rtt| rtt.as_millis() as u32),
                first_seen_ms: None,
                last_seen_ms: None,
                last_connected_ms: None,
                failures: 0,
                last_failure: None,
                rejected: None,
                agent_version: None,
            });
        }
        views.sort_by(|a, b| {
            b.connected
                .cmp(&a.connected)
                .then_with(|| a.peer_id.cmp(&b.peer_id))
        });
        Ok(views)
    }

    /// Verified, connected peers for the peer-exchange route.
    pub fn exchange_peers(&self) -> Result<PeersResponse, Error> {
        let connections: HashMap<PeerId, _> = self.inner.node.connections();
        let peers = self
            .inner
            .store
            .peers()
            .list()?
            .into_iter()
            .filter(|r| {
                connections.contains_key(&r.peer_id) && r.rejected.is_none() && !r.addrs.is_empty()
            })
            .filter_map(|r| {
                Some(PeerEntry {
                    peer_id: r.peer_id,
                    addrs: r.addrs,
                    role: r.role?,
                })
            })
            .take(MAX_EXCHANGED_PEERS)
            .collect();
        Ok(PeersResponse { peers })
    }

    /// An invite to this node's network: the network key and the addresses others can dial.
    ///
    /// Loopback addresses are left out when the node has any other, since a friend on another
    /// machine cannot use them; a node that listens only on loopback (tests) keeps them.
    pub fn invite(&self) -> Result<Invite, Error> {
        let local = self.inner.node.local_peer_id();
        let all = self.inner.node.listen_addrs();
        let reachable: Vec<Multiaddr> = all.iter().filter(|a| !is_loopback(a)).cloned().collect();
        let chosen = if reachable.is_empty() { all } else { reachable };
        let addrs = chosen
            .into_iter()
            .take(MAX_INVITE_ADDRS)
            .map(|a| with_peer_id(a, local))
            .collect();
        Ok(Invite::new(self.inner.network_key.clone(), addrs)?)
    }

    /// Connects to a peer the owner names by address. With a `/p2p/` id the address goes through
    /// the pipeline like any discovery; without one it is dialed to learn who is there.
    pub async fn add_peer(&self, addr: Multiaddr) -> Result<Option<PeerId>, Error> {
        crate::transport::check_address(&addr)?;
        match peer_id_of(&addr) {
            Some(peer) => {
                self.inner
                    .node
                    .peer_found(PeerFound::new(peer, vec![addr], PeerSource::Manual));
                Ok(Some(peer))
            }
            None => Ok(Some(
                self.inner
                    .node
                    .dial_address(addr, PeerSource::Manual)
                    .await?,
            )),
        }
    }

    /// Blocks a peer: never dialed again, refused inbound, disconnected now.
    pub async fn block(&self, peer: PeerId, reason: Option<String>) -> Result<(), Error> {
        if peer == self.inner.node.local_peer_id() {
            return Err(Error::Refused("a node cannot block itself".into()));
        }
        self.inner
            .store
            .blocks()
            .add(peer, reason, now_ms())
            .await?;
        self.inner.node.block(peer).await?;
        self.inner.node.disconnect(peer).await;
        Ok(())
    }

    /// Lifts a block. Returns whether the peer was blocked.
    pub async fn unblock(&self, peer: PeerId) -> Result<bool, Error> {
        let was_blocked = self.inner.store.blocks().remove(peer).await?;
        self.inner.node.unblock(peer).await?;
        self.inner
            .node
            .notify_pipeline(PipelineNotice::Unblocked(peer));
        Ok(was_blocked)
    }

    /// The blocklist.
    pub fn blocks(&self) -> Result<Vec<kith_storage::BlockEntry>, Error> {
        Ok(self.inner.store.blocks().list()?)
    }
}

fn is_loopback(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

fn with_peer_id(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    if peer_id_of(&addr).is_some() {
        addr
    } else {
        addr.with(Protocol::P2p(peer))
    }
}
