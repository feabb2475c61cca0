//! The network service: who this node is, which peers it knows, invites (handing them out and
//! joining with one), and blocks.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, OnceLock},
};

use kith_config::{Invite, MAX_INVITE_ADDRS, NetworkKey, Role, peer_id_of};
use kith_protocols::{
    ConnectionKind, JoinView, NodeInfo, PROTOCOL_VERSION, PeerEntry, PeerSource, PeerView,
    PeersResponse, Route,
};
use kith_storage::Store;
use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};

use crate::{
    Error, NodeHandle, PeerFound,
    addresses::{addresses_for, meaningful_to},
    discovery::PipelineNotice,
    state::now_ms,
};
use kith_config::{JoinFiles, KeyChange, store_invite};

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
    /// Where joining another network writes (see [`NetworkService::set_join_files`]); unset in
    /// nodes that run without a data dir (tests, embedders).
    join_files: OnceLock<JoinFiles>,
}

/// What [`NetworkService::join`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Done: what the owner is told.
    Joined(JoinView),
    /// The invite is for another network and replacing the node's network key was not asked
    /// for: nothing changed.
    OtherNetwork {
        /// The fingerprint of the network this node is on.
        current: String,
        /// The fingerprint of the invite's network.
        invited: String,
    },
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
                join_files: OnceLock::new(),
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

    /// The node's self-description for its owner (`GET /api/v1/node`): every listen address,
    /// the external ones, and how the node is reachable.
    pub fn node_info(&self) -> NodeInfo {
        let node = &self.inner.node;
        let mut info = self.describe(addresses_for(
            &node.external_addrs(),
            &node.listen_addrs(),
            None,
        ));
        for addr in node.listen_addrs() {
            if !info.listen_addrs.contains(&addr) {
                info.listen_addrs.push(addr);
            }
        }
        info.reachability = Some(node.reachability());
        info
    }

    /// The node's self-description for `peer` (`/public/get/info/0.0.0`): only the addresses
    /// that mean something to it, as it reaches us (see `addresses`).
    pub fn node_info_for(&self, peer: &PeerId) -> NodeInfo {
        let node = &self.inner.node;
        let remote = node.connections().get(peer).map(|c| c.remote_addr.clone());
        self.describe(addresses_for(
            &node.external_addrs(),
            &node.listen_addrs(),
            remote.as_ref(),
        ))
    }

    fn describe(&self, listen_addrs: Vec<Multiaddr>) -> NodeInfo {
        NodeInfo {
            peer_id: self.inner.node.local_peer_id(),
            role: self.inner.role,
            network: self.inner.node.network().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: PROTOCOL_VERSION,
            routes: self.inner.routes.clone(),
            listen_addrs,
            reachability: None,
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
            let kind = connection
                .as_ref()
                .map_or(ConnectionKind::None, crate::Connection::kind);
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
                connection: kind,
            });
        }
        for (peer_id, c) in connections {
            let kind = c.kind();
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
                connection: kind,
            });
        }
        views.sort_by(|a, b| {
            b.connected
                .cmp(&a.connected)
                .then_with(|| a.peer_id.cmp(&b.peer_id))
        });
        Ok(views)
    }

    /// Verified, connected peers for the peer-exchange route, asked by `caller`: each with the
    /// addresses that mean something to the caller (a peer's loopback or LAN address is no use
    /// to a caller elsewhere).
    pub fn exchange_peers(&self, caller: &PeerId) -> Result<PeersResponse, Error> {
        let connections: HashMap<PeerId, _> = self.inner.node.connections();
        let caller_addr = connections.get(caller).map(|c| c.remote_addr.clone());
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
                let addrs: Vec<Multiaddr> = r
                    .addrs
                    .into_iter()
                    .filter(|a| meaningful_to(a, caller_addr.as_ref()))
                    .collect();
                if addrs.is_empty() {
                    return None;
                }
                Some(PeerEntry {
                    peer_id: r.peer_id,
                    addrs,
                    role: r.role?,
                })
            })
            .take(MAX_EXCHANGED_PEERS)
            .collect();
        Ok(PeersResponse { peers })
    }

    /// An invite to this node's network: the network key and the addresses others can dial.
    ///
    /// Confirmed external addresses (a probe, the router, a relay reservation) come first, then
    /// the other listen addresses: a friend on the same LAN can use those. Loopback addresses
    /// are left out when the node has any other, since a friend on another machine cannot use
    /// them; a node that listens only on loopback (tests) keeps them.
    pub fn invite(&self) -> Result<Invite, Error> {
        let local = self.inner.node.local_peer_id();
        let all = self.inner.node.listen_addrs();
        let mut reachable = self.inner.node.external_addrs();
        for addr in all.iter().filter(|a| !is_loopback(a)) {
            if !reachable.contains(addr) {
                reachable.push(addr.clone());
            }
        }
        let chosen = if reachable.is_empty() { all } else { reachable };
        let addrs = chosen
            .into_iter()
            .take(MAX_INVITE_ADDRS)
            .map(|a| with_peer_id(a, local))
            .collect();
        Ok(Invite::new(self.inner.network_key.clone(), addrs)?)
    }

    /// Tells the service where the node's network key and config file are, so that
    /// [`join`](Self::join) can switch networks. The first call wins; returns whether this one
    /// did.
    pub fn set_join_files(&self, files: JoinFiles) -> bool {
        self.inner.join_files.set(files).is_ok()
    }

    /// Joins the network of an invite code.
    ///
    /// - The invite is for this node's network: the node connects to the invite's peers (as
    ///   [`add_peer`](Self::add_peer) does), in the background.
    /// - It is for another network and `replace` is false: nothing changes
    ///   ([`JoinOutcome::OtherNetwork`]).
    /// - It is for another network and `replace` is true: the invite's key and bootstrap peers
    ///   are stored as `kith join --replace` stores them ([`store_invite`]; the old key is kept
    ///   as a backup). The node keeps running on its current network until it is restarted.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for a code that is not an invite, or for a replacement on a node
    /// that was not told its files ([`set_join_files`](Self::set_join_files));
    /// [`Error::Config`] if the files could not be written.
    pub async fn join(&self, code: &str, replace: bool) -> Result<JoinOutcome, Error> {
        let invite = Invite::decode(code.trim())
            .map_err(|error| Error::Refused(format!("invalid invite: {error}")))?;
        let invited = invite.network_key.fingerprint();
        if invite.network_key == self.inner.network_key {
            let dialed = self.dial_invite(&invite);
            return Ok(JoinOutcome::Joined(JoinView {
                network: invited,
                same_network: true,
                dialed,
                restart_required: false,
            }));
        }
        let current = self.inner.node.network().to_owned();
        if !replace {
            return Ok(JoinOutcome::OtherNetwork { current, invited });
        }
        let files = self.inner.join_files.get().cloned().ok_or_else(|| {
            Error::Refused(
                "this node cannot change its network key over the API (it was started without                  its data directory): run `kith join --replace CODE` and restart it"
                    .to_owned(),
            )
        })?;
        let change = tokio::task::spawn_blocking(move || store_invite(&files, &invite, true))
            .await
            .map_err(|error| match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Blocking work is only cancelled while the runtime shuts down.
                Err(_) => Error::Stopped,
            })??;
        match change {
            KeyChange::OtherNetwork { stored } => Ok(JoinOutcome::OtherNetwork {
                current: stored,
                invited,
            }),
            change => {
                tracing::info!(
                    from = %current,
                    to = %invited,
                    ?change,
                    "stored another network's key; it takes effect at the next start"
                );
                Ok(JoinOutcome::Joined(JoinView {
                    network: invited,
                    same_network: false,
                    dialed: 0,
                    restart_required: true,
                }))
            }
        }
    }

    /// Hands the peers of an invite for this network to the peer-found pipeline; returns how
    /// many peers (this node's own addresses left out).
    fn dial_invite(&self, invite: &Invite) -> u64 {
        let me = self.inner.node.local_peer_id();
        let mut peers: BTreeMap<PeerId, Vec<Multiaddr>> = BTreeMap::new();
        for addr in &invite.addrs {
            let Some(peer) = peer_id_of(addr).filter(|peer| *peer != me) else {
                continue;
            };
            if let Err(error) = crate::transport::check_address(addr) {
                tracing::debug!(%addr, %error, "skipping an invite address");
                continue;
            }
            peers.entry(peer).or_default().push(addr.clone());
        }
        let dialed = peers.len() as u64;
        for (peer, addrs) in peers {
            self.inner
                .node
                .peer_found(PeerFound::new(peer, addrs, PeerSource::Manual));
        }
        dialed
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
