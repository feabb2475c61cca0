//! The harness: in-process Kith nodes with real TCP listeners, real sled directories and a real
//! HTTP API on 127.0.0.1, plus "raw" libp2p peers that speak the wire protocol without being
//! Kith nodes (to lie about their network, or to skip the network key altogether).
//!
//! Waits are event-driven: [`TestNode::wait_until`] re-checks its condition whenever the node
//! emits an event and fails, saying what it waited for, after [`WAIT`].

#![allow(dead_code)] // each test module uses a different part of the harness

use std::{net::SocketAddr, time::Duration};

use futures::StreamExt;
use kith_config::{Limits, NetworkKey, Role};
use kith_node::{NetworkService, Node, NodeConfig, NodeEvent, NodeHandle, TransportKind};
use kith_protocols::{
    ErrorCode, MAX_FRAME_LEN, NodeInfo, Request, Response, Route, read_frame, read_message,
    write_message,
};
use kith_storage::Store;
use libp2p::{
    Multiaddr, PeerId, Swarm, Transport,
    core::{muxing::StreamMuxerBox, transport::Boxed, upgrade::Version},
    identity::Keypair,
    multiaddr::Protocol,
    noise,
    swarm::{self, SwarmEvent},
    tcp, yamux,
};
use tempfile::TempDir;
use tokio::{
    sync::{
        broadcast::{self, error::RecvError},
        mpsc,
    },
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// Upper bound of every wait in the integration tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// How to start a [`TestNode`].
pub struct Options {
    pub network_key: NetworkKey,
    pub role: Role,
    pub bootstrap: Vec<Multiaddr>,
    pub limits: Limits,
    /// Whether the node relays for others.
    pub relay: bool,
    /// Reuse this data directory (a restart); a fresh one otherwise.
    pub dir: Option<TempDir>,
}

impl Options {
    pub fn new(network_key: &NetworkKey) -> Self {
        Self {
            network_key: network_key.clone(),
            role: Role::Member,
            bootstrap: Vec::new(),
            limits: Limits::default(),
            relay: false,
            dir: None,
        }
    }

    pub fn relay(mut self, relay: bool) -> Self {
        self.relay = relay;
        self
    }

    pub fn bootstrap(mut self, addr: Multiaddr) -> Self {
        self.bootstrap.push(addr);
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(dir);
        self
    }
}

/// A whole node in this process: swarm, store, HTTP API.
pub struct TestNode {
    node: Node,
    store: Store,
    dir: TempDir,
    pub api: SocketAddr,
    pub token: String,
    web: CancellationToken,
    web_task: JoinHandle<()>,
    http: reqwest::Client,
}

impl TestNode {
    /// Starts a node the way `kith run` does: keys from (or created in) the data directory,
    /// the store in `db/`, TCP on 127.0.0.1, the API on 127.0.0.1. Returns once both listen.
    pub async fn spawn(options: Options) -> TestNode {
        let dir = match options.dir {
            Some(dir) => dir,
            None => tempfile::tempdir().expect("temporary directory"),
        };
        let layout = kith_config::DataDir::new(dir.path());
        let (keypair, _) =
            kith_config::load_or_create_identity(&layout.identity_key()).expect("identity key");
        match kith_config::load_network_key(&layout.swarm_key()).expect("network key") {
            Some(stored) => assert_eq!(
                stored, options.network_key,
                "restart with another network key"
            ),
            None => kith_config::create_network_key(&layout.swarm_key(), &options.network_key)
                .expect("write swarm.key"),
        }
        let (token, _) =
            kith_config::load_or_create_api_token(&layout.api_token()).expect("api token");
        let store = Store::open(&layout.db(), 8 << 20).expect("open store");
        let mut config = NodeConfig {
            role: options.role,
            bootstrap: options.bootstrap,
            limits: options.limits,
            ..NodeConfig::loopback(keypair, options.network_key)
        };
        config.reach.relay = options.relay;
        let node = Node::start(config, store.clone())
            .await
            .expect("node starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind API");
        let api = listener.local_addr().expect("API address");
        let state = kith_web::AppState::new(&node, token.clone()).await;
        let web = CancellationToken::new();
        let web_task = tokio::spawn({
            let web = web.clone();
            async move {
                kith_web::serve(listener, state, web)
                    .await
                    .expect("API serves");
            }
        });
        TestNode {
            node,
            store,
            dir,
            api,
            token: token.as_str().to_owned(),
            web,
            web_task,
            http: reqwest::Client::new(),
        }
    }

    pub fn peer_id(&self) -> PeerId {
        self.handle().local_peer_id()
    }

    pub fn handle(&self) -> &NodeHandle {
        self.node.handle()
    }

    pub fn social(&self) -> &kith_node::SocialService {
        self.node.social()
    }

    /// The node's identity keypair, read back from its data directory (to sign objects as
    /// this node's owner without going through the node).
    pub fn keypair(&self) -> libp2p::identity::Keypair {
        let layout = kith_config::DataDir::new(self.dir.path());
        kith_config::load_or_create_identity(&layout.identity_key())
            .expect("identity key")
            .0
    }

    pub fn network(&self) -> &NetworkService {
        self.node.network()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The node's TCP listen address with its `/p2p/` id: what a bootstrap entry looks like.
    pub fn addr(&self) -> Multiaddr {
        self.plain_addr().with(Protocol::P2p(self.peer_id()))
    }

    /// The listen address without the peer id.
    pub fn plain_addr(&self) -> Multiaddr {
        self.handle()
            .listen_addrs()
            .into_iter()
            .next()
            .expect("the node listens")
    }

    /// Whether `peer` is connected and passed the pipeline's checks.
    pub fn is_verified(&self, peer: &PeerId) -> bool {
        self.handle().is_connected(peer)
            && self
                .store
                .peers()
                .get(peer)
                .ok()
                .flatten()
                .is_some_and(|r| r.last_connected_ms.is_some() && r.rejected.is_none())
    }

    /// How many times in a row dialing or checking `peer` has failed, per the peer book.
    pub fn failures(&self, peer: &PeerId) -> u32 {
        self.store
            .peers()
            .get(peer)
            .ok()
            .flatten()
            .map_or(0, |r| r.failures)
    }

    /// Asks `peer` for its node info over the private network, as the pipeline does; fails the
    /// test if it does not answer or answers for another peer id.
    pub async fn ask_info(&self, peer: PeerId) -> NodeInfo {
        let info: NodeInfo = self
            .handle()
            .client()
            .call(
                peer,
                &kith_protocols::routes::info(),
                &serde_json::json!({}),
            )
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{peer} did not answer {}'s info request: {e}",
                    self.peer_id()
                )
            });
        assert_eq!(info.peer_id, peer, "the info names another peer");
        info
    }

    /// Waits until `condition` holds, re-checking after every node event.
    pub async fn wait_until(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let mut events = self.handle().subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if condition() {
                return;
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => panic!("timed out after {WAIT:?} waiting until {what}"),
                Ok(Err(RecvError::Closed)) => panic!("the node stopped while waiting until {what}"),
                Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
            }
        }
    }

    /// Subscribes to the node's events from now on. Subscribe *before* triggering what you wait
    /// for, so that the event cannot slip by.
    pub fn events(&self) -> Events {
        Events(self.handle().subscribe())
    }

    /// An authenticated HTTP request; returns the status and the JSON body (`Null` if empty).
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .request(method, format!("http://{}{path}", self.api))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("HTTP body");
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("the API answers JSON")
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.api(reqwest::Method::GET, path, None).await
    }

    /// `GET /metrics` (Prometheus text, no auth).
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("http://{}/metrics", self.api))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status().as_u16(), 200, "GET /metrics");
        response.text().await.expect("metrics text")
    }

    /// `GET /api/v1/peers`, as a map from peer id to its entry.
    pub async fn peers_over_http(&self) -> std::collections::HashMap<String, serde_json::Value> {
        let (status, body) = self.get("/api/v1/peers").await;
        assert_eq!(status, 200, "GET /api/v1/peers: {body}");
        body.as_array()
            .expect("a JSON array")
            .iter()
            .map(|p| {
                (
                    p["peer_id"].as_str().expect("peer_id").to_owned(),
                    p.clone(),
                )
            })
            .collect()
    }

    /// Stops the node and its API, closes the store, and hands back the data directory.
    pub async fn shutdown(self) -> TempDir {
        self.web.cancel();
        let _ = self.web_task.await;
        self.node.shutdown().await;
        self.store.close().await.expect("store closes cleanly");
        self.dir
    }
}

/// A node's event stream, subscribed at a known point.
pub struct Events(broadcast::Receiver<NodeEvent>);

impl Events {
    /// Waits for the next event matching `predicate`, failing after [`WAIT`].
    pub async fn wait_for(
        &mut self,
        what: &str,
        mut predicate: impl FnMut(&NodeEvent) -> bool,
    ) -> NodeEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.0.recv()).await {
                Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
                Ok(Err(RecvError::Closed)) => panic!("the node stopped while waiting for {what}"),
                Ok(Err(RecvError::Lagged(missed))) => {
                    panic!("missed {missed} events while waiting for {what}")
                }
                Ok(Ok(event)) if predicate(&event) => return event,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Every event received so far and not yet consumed.
    pub fn drain(&mut self) -> Vec<NodeEvent> {
        std::iter::from_fn(|| self.0.try_recv().ok()).collect()
    }
}

/// A fresh network key for one test.
pub fn network_key() -> NetworkKey {
    NetworkKey::generate()
}

/// Which stack a [`RawPeer`] runs.
pub enum RawStack {
    /// Kith's own transport (TCP → PSK → Noise → yamux) with this key.
    Psk(NetworkKey),
    /// TCP → Noise → yamux, no private-network layer at all.
    NoPsk,
}

/// What a raw peer's swarm reported, for assertions.
#[derive(Debug, Clone)]
pub enum RawEvent {
    Connected(PeerId),
    Closed(PeerId),
    DialFailed(String),
    IncomingFailed(String),
}

/// A bare libp2p swarm with only libp2p-stream: it can open any route on a Kith node and write
/// whatever bytes it likes, and can serve a fake info route.
pub struct RawPeer {
    pub peer_id: PeerId,
    /// Its identity key, to sign objects as this peer.
    pub keypair: Keypair,
    pub control: libp2p_stream::Control,
    pub addr: Multiaddr,
    dial: mpsc::UnboundedSender<Multiaddr>,
    pub events: mpsc::UnboundedReceiver<RawEvent>,
    task: JoinHandle<()>,
}

impl RawPeer {
    pub async fn spawn(stack: RawStack) -> RawPeer {
        let keypair = Keypair::generate_ed25519();
        let peer_id = keypair.public().to_peer_id();
        let transport: Boxed<(PeerId, StreamMuxerBox)> = match stack {
            RawStack::Psk(key) => kith_node::build_transport(
                &keypair,
                &key,
                TransportKind::Tcp,
                Duration::from_secs(5),
                None,
            )
            .expect("transport"),
            RawStack::NoPsk => tcp::tokio::Transport::new(tcp::Config::default())
                .upgrade(Version::V1)
                .authenticate(noise::Config::new(&keypair).expect("noise"))
                .multiplex(yamux::Config::default())
                .timeout(Duration::from_secs(5))
                .boxed(),
        };
        let behaviour = libp2p_stream::Behaviour::new();
        let control = behaviour.new_control();
        let mut swarm = Swarm::new(
            transport,
            behaviour,
            peer_id,
            swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(Duration::from_secs(60)),
        );
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
            .expect("listen");
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        let (dial_tx, mut dial_rx) = mpsc::unbounded_channel::<Multiaddr>();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(addr) = dial_rx.recv() => {
                        if let Err(error) = swarm.dial(addr) {
                            let _ = event_tx.send(RawEvent::DialFailed(error.to_string()));
                        }
                    }
                    event = swarm.select_next_some() => {
                        let event = match event {
                            SwarmEvent::ConnectionEstablished { peer_id, .. } => RawEvent::Connected(peer_id),
                            SwarmEvent::ConnectionClosed { peer_id, .. } => RawEvent::Closed(peer_id),
                            SwarmEvent::OutgoingConnectionError { error, .. } => RawEvent::DialFailed(error.to_string()),
                            SwarmEvent::IncomingConnectionError { error, .. } => RawEvent::IncomingFailed(error.to_string()),
                            _ => continue,
                        };
                        let _ = event_tx.send(event);
                    }
                }
            }
        });
        RawPeer {
            peer_id,
            keypair,
            control,
            addr,
            dial: dial_tx,
            events: event_rx,
            task,
        }
    }

    /// The raw peer's address with its `/p2p/` id.
    pub fn full_addr(&self) -> Multiaddr {
        self.addr.clone().with(Protocol::P2p(self.peer_id))
    }

    pub fn dial(&self, addr: Multiaddr) {
        self.dial.send(addr).expect("raw peer task runs");
    }

    /// Waits for the next swarm event matching `predicate`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        mut predicate: impl FnMut(&RawEvent) -> bool,
    ) -> RawEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => panic!("raw peer: timed out after {WAIT:?} waiting for {what}"),
                Ok(None) => panic!("raw peer stopped while waiting for {what}"),
                Ok(Some(event)) if predicate(&event) => return event,
                Ok(Some(_)) => {}
            }
        }
    }

    /// Sends `request` to `peer` on a fresh stream of `route` and returns the response.
    pub async fn request<B: serde::Serialize>(
        &self,
        peer: PeerId,
        route: &Route,
        request: &Request<B>,
    ) -> Response {
        let mut control = self.control.clone();
        let mut stream = control
            .open_stream(peer, route.protocol())
            .await
            .unwrap_or_else(|error| panic!("{route} does not open: {error}"));
        write_message(&mut stream, request)
            .await
            .expect("request written");
        futures::AsyncWriteExt::close(&mut stream)
            .await
            .expect("half-close");
        tokio::time::timeout(WAIT, read_message(&mut stream, MAX_FRAME_LEN))
            .await
            .unwrap_or_else(|_| panic!("no answer on {route} within {WAIT:?}"))
            .expect("a well-formed response")
            .expect("a response")
    }

    /// Serves `route`: answers every request with `reply`, and hands each caller and request
    /// body to the returned channel.
    pub fn serve(
        &mut self,
        route: &Route,
        reply: serde_json::Value,
    ) -> mpsc::UnboundedReceiver<(PeerId, serde_json::Value)> {
        let mut incoming = self
            .control
            .accept(route.protocol())
            .expect("route not yet served");
        let (requests, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some((caller, mut stream)) = incoming.next().await {
                let (reply, requests) = (reply.clone(), requests.clone());
                tokio::spawn(async move {
                    let Ok(Some(bytes)) = read_frame(&mut stream, MAX_FRAME_LEN).await else {
                        return;
                    };
                    let Ok(request) = serde_json::from_slice::<Request>(&bytes) else {
                        return;
                    };
                    let _ = write_message(&mut stream, &Response::ok(request.id, reply)).await;
                    let _ = futures::AsyncWriteExt::close(&mut stream).await;
                    let _ = requests.send((caller, request.body));
                });
            }
        });
        received
    }

    /// Serves `/public/get/info/0.0.0` with `info` (which may lie) for every request.
    pub fn serve_info(&mut self, info: NodeInfo) {
        let info = serde_json::to_value(&info).expect("info serializes");
        drop(self.serve(&kith_protocols::routes::info(), info));
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Asserts that a wire error has the expected code, printing the whole error otherwise.
pub fn assert_code(error: &kith_protocols::WireError, code: ErrorCode) {
    assert_eq!(error.code, code, "unexpected error: {error}");
}
