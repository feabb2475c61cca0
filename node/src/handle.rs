//! [`NodeHandle`]: the cheap-clone front of a running node.
//!
//! It sends [`Command`]s to the event loop over a bounded channel (capacity
//! [`COMMAND_CAPACITY`]; when full, callers wait — backpressure rather than unbounded memory)
//! and reads the state the loop publishes. When the loop has stopped, every method returns
//! [`Error::Stopped`] (wire code `unavailable`); none panics.

use std::{collections::HashSet, sync::Arc};

use kith_protocols::PeerSource;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{
    Error, NodeEvent, RouteClient,
    discovery::{PeerFound, PeerFoundSender, PipelineMetrics, PipelineNotice},
    dispatch::DispatchMetrics,
    event_loop::Command,
    state::NodeState,
};

/// Capacity of the command channel.
pub(crate) const COMMAND_CAPACITY: usize = 256;

/// A cheap-clone handle to a running node.
#[derive(Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    state: Arc<NodeState>,
    client: RouteClient,
    events: broadcast::Sender<NodeEvent>,
    found: PeerFoundSender,
    notices: mpsc::Sender<PipelineNotice>,
    pub(crate) pipeline_metrics: PipelineMetrics,
    pub(crate) dispatch_metrics: DispatchMetrics,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("peer_id", &self.state.peer_id)
            .finish_non_exhaustive()
    }
}

impl NodeHandle {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        state: Arc<NodeState>,
        client: RouteClient,
        events: broadcast::Sender<NodeEvent>,
        found: PeerFoundSender,
        notices: mpsc::Sender<PipelineNotice>,
        pipeline_metrics: PipelineMetrics,
        dispatch_metrics: DispatchMetrics,
    ) -> Self {
        Self {
            commands,
            state,
            client,
            events,
            found,
            notices,
            pipeline_metrics,
            dispatch_metrics,
        }
    }

    /// Whether the event loop is still running (the node has not shut down).
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.state.peer_id
    }

    /// The fingerprint of this node's network key.
    pub fn network(&self) -> &str {
        &self.state.network
    }

    /// The addresses the node listens on right now.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.state.listen_addrs()
    }

    /// Addresses others are confirmed to reach this node at (probes, the router, the owner's
    /// configuration, relay reservations), direct ones first.
    pub fn external_addrs(&self) -> Vec<Multiaddr> {
        self.state.reachability().external_addrs
    }

    /// How this node is reachable, as the event loop last worked it out.
    pub fn reachability(&self) -> kith_protocols::Reachability {
        self.state.reachability()
    }

    /// Peers with at least one open connection, and what we know of those connections.
    pub fn connections(&self) -> std::collections::HashMap<PeerId, crate::Connection> {
        self.state.connections()
    }

    /// Peers with at least one open connection.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.state.connected_peers()
    }

    /// Whether at least one connection to `peer` is open.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.state.is_connected(peer)
    }

    /// The client for calling routes on other nodes.
    pub fn client(&self) -> &RouteClient {
        &self.client
    }

    /// Subscribes to node events (connections, verified and rejected peers, dials).
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// Hands a discovery to the peer-found pipeline, as every discovery source does.
    pub fn peer_found(&self, found: PeerFound) {
        self.found.offer(found);
    }

    /// Dials `peer` and resolves once connected (or the dial failed).
    pub async fn dial(&self, peer: PeerId, addrs: Vec<Multiaddr>) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Dial { peer, addrs, reply }).await?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Dials an address of an unknown peer and resolves to the peer id found there. Once
    /// connected, the peer goes through the pipeline as found by `source`.
    pub async fn dial_address(&self, addr: Multiaddr, source: PeerSource) -> Result<PeerId, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::DialAddress {
            addr,
            source,
            reply,
        })
        .await?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Asks the DHT where `peer` can be reached (when not connected to it); the answer goes
    /// through the peer-found pipeline, which dials it.
    pub async fn find_peer(&self, peer: PeerId) {
        let _ = self.send(Command::FindPeer { peer }).await;
    }

    /// Closes every connection to `peer`.
    pub async fn disconnect(&self, peer: PeerId) {
        let _ = self.send(Command::Disconnect { peer }).await;
    }

    /// Runs a Kademlia bootstrap (asks the DHT for peers near us).
    pub async fn bootstrap_dht(&self) -> Result<(), Error> {
        self.send(Command::Bootstrap).await
    }

    /// Publishes this node's announcement on the network topic now.
    pub async fn announce(&self) -> Result<(), Error> {
        self.send(Command::Announce).await
    }

    /// Starts receiving `author`'s gossip (their signed objects), for the social service.
    pub(crate) async fn subscribe_user(&self, author: PeerId) -> Result<(), Error> {
        self.send(Command::SubscribeUser { author }).await
    }

    /// Stops receiving `author`'s gossip.
    pub(crate) async fn unsubscribe_user(&self, author: PeerId) -> Result<(), Error> {
        self.send(Command::UnsubscribeUser { author }).await
    }

    /// Publishes `data` on `topic` (nobody subscribed is not an error: pull sync covers it).
    pub(crate) async fn publish(&self, topic: String, data: Vec<u8>) -> Result<(), Error> {
        self.send(Command::Publish {
            topic,
            data,
            reply: None,
        })
        .await
    }

    /// Publishes like [`publish`](Self::publish) and waits for the peers gossipsub handed it
    /// to: those this node knows to be subscribed to `topic`.
    pub(crate) async fn publish_reaching(
        &self,
        topic: String,
        data: Vec<u8>,
    ) -> Result<HashSet<PeerId>, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Publish {
            topic,
            data,
            reply: Some(reply),
        })
        .await?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Reports the verdict on a gossip message handed to the social service.
    pub(crate) async fn report_validation(
        &self,
        message_id: libp2p::gossipsub::MessageId,
        source: PeerId,
        acceptance: libp2p::gossipsub::MessageAcceptance,
    ) {
        let _ = self
            .send(Command::ReportValidation {
                message_id,
                source,
                acceptance,
            })
            .await;
    }

    pub(crate) async fn add_dht_addresses(&self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let _ = self.send(Command::AddDhtAddresses { peer, addrs }).await;
    }

    pub(crate) async fn block(&self, peer: PeerId) -> Result<(), Error> {
        self.send(Command::Block { peer }).await
    }

    pub(crate) async fn unblock(&self, peer: PeerId) -> Result<(), Error> {
        self.send(Command::Unblock { peer }).await
    }

    pub(crate) fn notify_pipeline(&self, notice: PipelineNotice) {
        // Bounded and drained first by the pipeline; a full queue only delays forgetting.
        let _ = self.notices.try_send(notice);
    }

    pub(crate) fn state(&self) -> &NodeState {
        &self.state
    }

    pub(crate) fn emit(
        &self,
        event: NodeEvent,
    ) -> Result<usize, broadcast::error::SendError<NodeEvent>> {
        self.events.send(event)
    }

    /// Dials started by the peer-found pipeline since the node started.
    pub fn pipeline_dials(&self) -> u64 {
        self.pipeline_metrics.dials()
    }

    /// Inbound route requests answered since the node started.
    pub fn requests_served(&self) -> u64 {
        self.dispatch_metrics.total()
    }

    async fn send(&self, command: Command) -> Result<(), Error> {
        self.commands
            .send(command)
            .await
            .map_err(|_| Error::Stopped)
    }
}
