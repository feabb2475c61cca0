//! The peer book: everything we know about peers we have heard of.
//!
//! One record per peer in the `peers` tree, keyed by the peer id's bytes
//! ([`PeerId::to_bytes`]), valued as JSON. Discovery (mDNS, DHT, gossip, inbound connections,
//! bootstrap list) and the connection lifecycle feed it through the `record_*` methods. Each of
//! them is a read-modify-write run by the writer thread ([`Batch::update`](crate::Batch::update)),
//! so concurrent events about the same peer merge instead of overwriting each other. The merge
//! rules live here, in [`PeerRecord`]'s methods, and nowhere else.

use kith_config::Role;
use kith_protocols::PeerSource;
use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};
use serde::{Deserialize, Serialize};

use crate::batch::TreeName;
use crate::error::{Error, Result};
use crate::store::Store;

/// Most addresses kept per peer; the most recently reported ones win.
pub const MAX_PEER_ADDRS: usize = 16;

/// What we know about one peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The peer.
    pub peer_id: PeerId,
    /// Known addresses, most recently reported first, without duplicates, at most
    /// [`MAX_PEER_ADDRS`].
    pub addrs: Vec<Multiaddr>,
    /// How we first found the peer. Never changes once recorded.
    pub source: PeerSource,
    /// How we most recently heard of the peer.
    pub last_source: PeerSource,
    /// The role the peer announced, once we have connected to it.
    pub role: Option<Role>,
    /// When we first heard of the peer (unix ms).
    pub first_seen_ms: u64,
    /// When we last heard of the peer or connected to it (unix ms).
    pub last_seen_ms: u64,
    /// When we last had a connection established with the peer (unix ms).
    pub last_connected_ms: Option<u64>,
    /// Last measured round-trip time.
    pub rtt_ms: Option<u32>,
    /// Failed connection attempts since the last successful connection.
    pub failures: u32,
    /// Why the last connection attempt failed. Kept after a successful connection, as history.
    pub last_failure: Option<String>,
    /// When the last connection attempt failed (unix ms); with `failures`, what dial backoff
    /// needs.
    #[serde(default)]
    pub last_failure_ms: Option<u64>,
    /// Why we disconnected the peer on purpose (for example: it belongs to another network).
    /// Cleared when a connection to it is accepted again.
    pub rejected: Option<String>,
    /// The agent version the peer announced (identify).
    pub agent_version: Option<String>,
    /// The network the peer announced (its network key's fingerprint).
    pub network: Option<String>,
}

/// What we learn when a connection to a peer is established and identified.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectedInfo {
    /// The role the peer announced, if it did.
    pub role: Option<Role>,
    /// The agent version the peer announced, if it did.
    pub agent_version: Option<String>,
    /// The network the peer announced, if it did.
    pub network: Option<String>,
    /// Addresses the peer is reachable at (its listen addresses, the connection's address).
    pub addrs: Vec<Multiaddr>,
    /// A round-trip time measured on the connection, if there is one yet.
    pub rtt_ms: Option<u32>,
}

impl PeerRecord {
    /// A record for a peer heard of for the first time, at `now_ms`, through `source`.
    pub fn new(peer_id: PeerId, source: PeerSource, now_ms: u64) -> Self {
        PeerRecord {
            peer_id,
            addrs: Vec::new(),
            last_source: source,
            source,
            role: None,
            first_seen_ms: now_ms,
            last_seen_ms: now_ms,
            last_connected_ms: None,
            rtt_ms: None,
            failures: 0,
            last_failure: None,
            last_failure_ms: None,
            rejected: None,
            agent_version: None,
            network: None,
        }
    }

    /// Merges newly reported addresses: `addrs` go first (in their order, without duplicates),
    /// followed by the previously known addresses that were not reported again; the list is
    /// cut at [`MAX_PEER_ADDRS`], dropping the least recently reported.
    pub fn merge_addrs(&mut self, addrs: &[Multiaddr]) {
        let mut merged: Vec<Multiaddr> = Vec::with_capacity(MAX_PEER_ADDRS);
        for addr in addrs.iter().chain(self.addrs.iter()) {
            if merged.len() == MAX_PEER_ADDRS {
                break;
            }
            // Stored without the peer's own `/p2p/<id>` suffix, so the same address reported
            // with and without it is kept once.
            let mut addr = addr.clone();
            if addr.iter().last() == Some(Protocol::P2p(self.peer_id)) {
                addr.pop();
            }
            if !merged.contains(&addr) {
                merged.push(addr);
            }
        }
        self.addrs = merged;
    }

    /// Applies "heard of the peer through `source` at these addresses": the first source is
    /// kept, the last source and last-seen time are updated, addresses are merged.
    pub fn apply_found(&mut self, addrs: &[Multiaddr], source: PeerSource, now_ms: u64) {
        self.merge_addrs(addrs);
        self.last_source = source;
        self.last_seen_ms = now_ms;
    }

    /// Applies "a connection is established and identified": failures are reset, a previous
    /// rejection is cleared, announced facts replace the stored ones (facts the peer did not
    /// announce this time are kept).
    pub fn apply_connected(&mut self, info: ConnectedInfo, now_ms: u64) {
        self.merge_addrs(&info.addrs);
        self.last_seen_ms = now_ms;
        self.last_connected_ms = Some(now_ms);
        self.failures = 0;
        self.rejected = None;
        if info.role.is_some() {
            self.role = info.role;
        }
        if info.agent_version.is_some() {
            self.agent_version = info.agent_version;
        }
        if info.network.is_some() {
            self.network = info.network;
        }
        if info.rtt_ms.is_some() {
            self.rtt_ms = info.rtt_ms;
        }
    }

    /// Applies "a connection attempt failed at `now_ms` because of `reason`".
    pub fn apply_failure(&mut self, reason: &str, now_ms: u64) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(reason.to_owned());
        self.last_failure_ms = Some(now_ms);
    }

    /// Applies "we disconnected the peer on purpose because of `reason`".
    pub fn apply_rejected(&mut self, reason: &str, now_ms: u64) {
        self.rejected = Some(reason.to_owned());
        self.last_seen_ms = now_ms;
    }
}

/// Handle to the peer book. Cheap to clone; get one with [`Store::peers`].
#[derive(Debug, Clone)]
pub struct PeerBook {
    store: Store,
}

impl PeerBook {
    pub(crate) fn new(store: Store) -> Self {
        PeerBook { store }
    }

    /// The record of `peer`, if we know it.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the stored value does not decode; [`Error::Sled`] if the read
    /// failed.
    pub fn get(&self, peer: &PeerId) -> Result<Option<PeerRecord>> {
        let Some(bytes) = self.store.tree(TreeName::Peers).get(peer.to_bytes())? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|error| {
            tracing::warn!(%peer, %error, "corrupt peer record");
            Error::Corrupt {
                tree: TreeName::Peers.as_str(),
                key: peer.to_base58(),
            }
        })
    }

    /// Every peer record, in key order. Values that do not decode are skipped and logged.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if the read failed.
    pub fn list(&self) -> Result<Vec<PeerRecord>> {
        let mut records = Vec::new();
        for entry in self.store.tree(TreeName::Peers).iter() {
            let (key, value) = entry?;
            match serde_json::from_slice::<PeerRecord>(&value) {
                Ok(record) => records.push(record),
                Err(error) => {
                    tracing::warn!(key = %display_peer_key(&key), %error, "skipping corrupt peer record");
                }
            }
        }
        Ok(records)
    }

    /// Records that we heard of `peer` through `source`, reachable at `addrs`. Creates the
    /// record if needed; otherwise keeps the first source and merges the addresses.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn record_found(
        &self,
        peer: PeerId,
        addrs: &[Multiaddr],
        source: PeerSource,
        now_ms: u64,
    ) -> Result<()> {
        let addrs = addrs.to_vec();
        self.modify(peer, move |record| {
            let record = match record {
                Some(mut record) => {
                    record.apply_found(&addrs, source, now_ms);
                    record
                }
                None => {
                    let mut record = PeerRecord::new(peer, source, now_ms);
                    record.merge_addrs(&addrs);
                    record
                }
            };
            Some(record)
        })
        .await
    }

    /// Records that a connection to `peer` is established and identified: resets failures,
    /// clears a rejection, sets the last-connected time. A peer not yet in the book is added
    /// with source [`PeerSource::Inbound`]: peers we dial come from discovery, which records
    /// them first with [`record_found`](PeerBook::record_found), so a connected peer we never
    /// heard of is one that dialed us.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn record_connected(
        &self,
        peer: PeerId,
        info: ConnectedInfo,
        now_ms: u64,
    ) -> Result<()> {
        self.modify(peer, move |record| {
            let mut record =
                record.unwrap_or_else(|| PeerRecord::new(peer, PeerSource::Inbound, now_ms));
            record.apply_connected(info, now_ms);
            Some(record)
        })
        .await
    }

    /// Records a failed connection attempt to `peer` (failures += 1). Does nothing for a peer
    /// not in the book.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn record_failure(&self, peer: PeerId, reason: &str, now_ms: u64) -> Result<()> {
        let reason = reason.to_owned();
        self.modify(peer, move |record| {
            record.map(|mut record| {
                record.apply_failure(&reason, now_ms);
                record
            })
        })
        .await
    }

    /// Records that we disconnected `peer` on purpose, and why. Does nothing for a peer not in
    /// the book.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn record_rejected(&self, peer: PeerId, reason: &str, now_ms: u64) -> Result<()> {
        let reason = reason.to_owned();
        self.modify(peer, move |record| {
            record.map(|mut record| {
                record.apply_rejected(&reason, now_ms);
                record
            })
        })
        .await
    }

    /// Records a measured round-trip time. Does nothing for a peer not in the book.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn record_rtt(&self, peer: PeerId, rtt_ms: u32) -> Result<()> {
        self.modify(peer, move |record| {
            record.map(|mut record| {
                record.rtt_ms = Some(rtt_ms);
                record
            })
        })
        .await
    }

    /// Removes `peer` from the book (a missing peer is not an error).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn forget(&self, peer: PeerId) -> Result<()> {
        self.store
            .batch()
            .remove(TreeName::Peers, peer.to_bytes())
            .commit()
            .await
    }

    /// Atomic read-modify-write of one record on the writer thread. `f` gets the current record
    /// (`None` if absent or undecodable) and returns the new one (`None` leaves the stored value
    /// as it is).
    async fn modify(
        &self,
        peer: PeerId,
        f: impl FnOnce(Option<PeerRecord>) -> Option<PeerRecord> + Send + 'static,
    ) -> Result<()> {
        self.store
            .batch()
            .try_update(TreeName::Peers, peer.to_bytes(), move |current| {
                let decoded = match current.map(serde_json::from_slice::<PeerRecord>) {
                    None => None,
                    Some(Ok(record)) => Some(record),
                    Some(Err(error)) => {
                        tracing::warn!(%peer, %error, "corrupt peer record, treated as absent");
                        None
                    }
                };
                match f(decoded) {
                    Some(record) => Ok(Some(serde_json::to_vec(&record)?)),
                    None => Ok(current.map(<[u8]>::to_vec)),
                }
            })
            .commit()
            .await
    }
}

/// A peer book key for log lines: the peer id if the bytes are one, else hex.
pub(crate) fn display_peer_key(key: &[u8]) -> String {
    match PeerId::from_bytes(key) {
        Ok(peer) => peer.to_base58(),
        Err(_) => key.iter().map(|byte| format!("{byte:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/10.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn merge_addrs_puts_new_first_dedups_and_caps() {
        let mut record = PeerRecord::new(PeerId::random(), PeerSource::Mdns, 1);
        record.merge_addrs(&[addr(1), addr(2), addr(1)]);
        assert_eq!(record.addrs, vec![addr(1), addr(2)]);

        record.merge_addrs(&[addr(3), addr(2)]);
        assert_eq!(record.addrs, vec![addr(3), addr(2), addr(1)]);

        // The same address with the peer's own /p2p/ suffix is the same address.
        let with_id = addr(3).with(Protocol::P2p(record.peer_id));
        record.merge_addrs(std::slice::from_ref(&with_id));
        assert_eq!(record.addrs, vec![addr(3), addr(2), addr(1)]);

        let many: Vec<_> = (100..130)
            .collect::<Vec<u16>>()
            .into_iter()
            .map(addr)
            .collect();
        record.merge_addrs(&many);
        assert_eq!(record.addrs.len(), MAX_PEER_ADDRS);
        assert_eq!(record.addrs, many[..MAX_PEER_ADDRS].to_vec());

        // Re-reporting a known address moves it to the front and drops nothing ...
        record.merge_addrs(&[addr(110)]);
        assert_eq!(record.addrs[0], addr(110));
        assert_eq!(record.addrs.len(), MAX_PEER_ADDRS);
        assert_eq!(record.addrs.last(), Some(&addr(115)));
        // ... a new one pushes out the least recently reported.
        record.merge_addrs(&[addr(200)]);
        assert_eq!(record.addrs[..2], [addr(200), addr(110)]);
        assert_eq!(record.addrs.len(), MAX_PEER_ADDRS);
        assert!(!record.addrs.contains(&addr(115)));
    }

    #[tokio::test]
    async fn found_keeps_first_source_and_merges() {
        let store = Store::open_temporary().unwrap();
        let peers = store.peers();
        let peer = PeerId::random();
        assert_eq!(peers.get(&peer).unwrap(), None);

        peers
            .record_found(peer, &[addr(1)], PeerSource::Mdns, 10)
            .await
            .unwrap();
        peers
            .record_found(peer, &[addr(2), addr(1)], PeerSource::Dht, 20)
            .await
            .unwrap();

        let record = peers.get(&peer).unwrap().unwrap();
        assert_eq!(record.peer_id, peer);
        assert_eq!(record.source, PeerSource::Mdns);
        assert_eq!(record.last_source, PeerSource::Dht);
        assert_eq!(record.addrs, vec![addr(2), addr(1)]);
        assert_eq!((record.first_seen_ms, record.last_seen_ms), (10, 20));
        assert_eq!(record.last_connected_ms, None);
        assert_eq!(peers.list().unwrap(), vec![record]);
    }

    #[tokio::test]
    async fn connection_lifecycle() {
        let store = Store::open_temporary().unwrap();
        let peers = store.peers();
        let peer = PeerId::random();
        peers
            .record_found(peer, &[addr(1)], PeerSource::Bootstrap, 1)
            .await
            .unwrap();

        peers.record_failure(peer, "timeout", 2).await.unwrap();
        peers.record_failure(peer, "refused", 3).await.unwrap();
        let record = peers.get(&peer).unwrap().unwrap();
        assert_eq!(record.failures, 2);
        assert_eq!(record.last_failure.as_deref(), Some("refused"));
        assert_eq!(record.last_failure_ms, Some(3));
        assert_eq!(record.last_seen_ms, 1, "a failure is not a sighting");

        peers
            .record_rejected(peer, "other network", 4)
            .await
            .unwrap();
        assert_eq!(
            peers.get(&peer).unwrap().unwrap().rejected.as_deref(),
            Some("other network")
        );

        let info = ConnectedInfo {
            role: Some(Role::Bootstrap),
            agent_version: Some("kith/0.1.0".to_owned()),
            network: Some("abcd".to_owned()),
            addrs: vec![addr(9)],
            rtt_ms: Some(12),
        };
        peers.record_connected(peer, info, 5).await.unwrap();
        let record = peers.get(&peer).unwrap().unwrap();
        assert_eq!(record.failures, 0);
        assert_eq!(record.rejected, None);
        assert_eq!(record.last_connected_ms, Some(5));
        assert_eq!(record.last_seen_ms, 5);
        assert_eq!(record.role, Some(Role::Bootstrap));
        assert_eq!(record.agent_version.as_deref(), Some("kith/0.1.0"));
        assert_eq!(record.network.as_deref(), Some("abcd"));
        assert_eq!(record.rtt_ms, Some(12));
        assert_eq!(record.addrs, vec![addr(9), addr(1)]);
        assert_eq!(record.source, PeerSource::Bootstrap);

        // A later connection that announces less keeps what we learned before.
        peers
            .record_connected(peer, ConnectedInfo::default(), 6)
            .await
            .unwrap();
        peers.record_rtt(peer, 7).await.unwrap();
        let record = peers.get(&peer).unwrap().unwrap();
        assert_eq!(record.role, Some(Role::Bootstrap));
        assert_eq!(record.network.as_deref(), Some("abcd"));
        assert_eq!(record.rtt_ms, Some(7));
        assert_eq!(record.last_connected_ms, Some(6));

        peers.forget(peer).await.unwrap();
        assert_eq!(peers.get(&peer).unwrap(), None);
        peers.forget(peer).await.unwrap();
    }

    #[tokio::test]
    async fn unknown_peers_are_created_only_by_found_and_connected() {
        let store = Store::open_temporary().unwrap();
        let peers = store.peers();
        let ghost = PeerId::random();
        peers.record_failure(ghost, "x", 1).await.unwrap();
        peers.record_rejected(ghost, "x", 1).await.unwrap();
        peers.record_rtt(ghost, 1).await.unwrap();
        assert_eq!(peers.get(&ghost).unwrap(), None);

        let dialer = PeerId::random();
        peers
            .record_connected(dialer, ConnectedInfo::default(), 3)
            .await
            .unwrap();
        let record = peers.get(&dialer).unwrap().unwrap();
        assert_eq!(record.source, PeerSource::Inbound);
        assert_eq!(record.first_seen_ms, 3);
        assert_eq!(record.last_connected_ms, Some(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_events_for_one_peer_all_merge() {
        let store = Store::open_temporary().unwrap();
        let peers = store.peers();
        let peer = PeerId::random();
        peers
            .record_found(peer, &[], PeerSource::Manual, 0)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..50u16)
            .map(|i| {
                let peers = peers.clone();
                tokio::spawn(async move {
                    peers.record_failure(peer, "x", u64::from(i)).await.unwrap();
                    peers
                        .record_found(peer, &[addr(i)], PeerSource::Gossip, 1)
                        .await
                        .unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let record = peers.get(&peer).unwrap().unwrap();
        assert_eq!(record.failures, 50);
        assert_eq!(record.addrs.len(), MAX_PEER_ADDRS);
        assert_eq!(record.source, PeerSource::Manual);
    }

    #[tokio::test]
    async fn corrupt_records_are_skipped_by_list_and_reported_by_get() {
        let store = Store::open_temporary().unwrap();
        let peers = store.peers();
        let good = PeerId::random();
        let bad = PeerId::random();
        peers
            .record_found(good, &[addr(1)], PeerSource::Mdns, 1)
            .await
            .unwrap();
        store
            .batch()
            .put(TreeName::Peers, bad.to_bytes(), "{not json")
            .commit()
            .await
            .unwrap();
        store
            .batch()
            .put(TreeName::Peers, b"junk key".to_vec(), "[]")
            .commit()
            .await
            .unwrap();

        let listed = peers.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].peer_id, good);
        match peers.get(&bad) {
            Err(Error::Corrupt { tree: "peers", key }) => assert_eq!(key, bad.to_base58()),
            other => panic!("expected Error::Corrupt, got {other:?}"),
        }

        // Updates that need an existing record leave the corrupt value alone ...
        peers.record_failure(bad, "x", 2).await.unwrap();
        assert!(matches!(peers.get(&bad), Err(Error::Corrupt { .. })));
        // ... and a new sighting replaces it with a fresh record.
        peers
            .record_found(bad, &[addr(2)], PeerSource::Dht, 3)
            .await
            .unwrap();
        let record = peers.get(&bad).unwrap().unwrap();
        assert_eq!((record.source, record.first_seen_ms), (PeerSource::Dht, 3));
        assert_eq!(peers.list().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn stored_json_uses_readable_field_values() {
        let store = Store::open_temporary().unwrap();
        let peer = PeerId::random();
        store
            .peers()
            .record_found(peer, &[addr(4001)], PeerSource::Mdns, 1)
            .await
            .unwrap();
        let raw = store
            .tree(TreeName::Peers)
            .get(peer.to_bytes())
            .unwrap()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(json["peer_id"], peer.to_base58());
        assert_eq!(json["addrs"][0], "/ip4/10.0.0.1/tcp/4001");
        assert_eq!(json["source"], "mdns");
        assert_eq!(json["failures"], 0);
    }

    #[test]
    fn records_without_last_failure_ms_still_decode() {
        let mut json =
            serde_json::to_value(PeerRecord::new(PeerId::random(), PeerSource::Mdns, 1)).unwrap();
        json.as_object_mut().unwrap().remove("last_failure_ms");
        let record: PeerRecord = serde_json::from_value(json).unwrap();
        assert_eq!(record.last_failure_ms, None);
    }
}
