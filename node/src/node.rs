//! Starting and stopping a node: builds the swarm, binds its listeners, spawns the event loop,
//! the dispatcher and the pipeline, and hands back a [`Node`] once everything is ready.

use std::{sync::Arc, time::Duration};

use kith_config::{Limits, NetworkKey, ReachSettings, Role, Settings};
use kith_protocols::{PeerSource, Signer, VerifyRules, routes};
use kith_storage::Store;
use libp2p::{Multiaddr, Swarm, identity::Keypair, metrics::Metrics, swarm};
use prometheus_client::registry::Registry;
use tokio::sync::{broadcast, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    Error, NodeEvent, NodeHandle, PeerFound, RouteClient,
    behaviour::Behaviour,
    discovery::{self, Pipeline, PipelineConfig, PipelineMetrics},
    dispatch::{DispatchMetrics, Policy, RequestLimits, Router, spawn_dispatcher},
    event_loop::EventLoop,
    handle::COMMAND_CAPACITY,
    services::{NetworkService, SocialConfig, SocialMetrics, SocialService, spawn_social_tasks},
    state::NodeState,
    transport::{TransportKind, build_transport, check_address},
};

/// Capacity of the node event broadcast; a subscriber that falls further behind than this
/// misses events (and is told so by `RecvError::Lagged`).
const EVENT_CAPACITY: usize = 1024;
/// Capacity of the pipeline's notice channel.
const NOTICE_CAPACITY: usize = 1024;
/// Capacity of the queue of gossip messages waiting for the social service; when full, more
/// are ignored (the pull sync fetches them).
const GOSSIP_CAPACITY: usize = 1024;
/// How long a listener may take to report its address at start-up.
const LISTEN_DEADLINE: Duration = Duration::from_secs(5);
/// How long shutdown waits for tasks to finish before giving up on them.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's identity.
    pub keypair: Keypair,
    /// The private network's key.
    pub network_key: NetworkKey,
    /// Member or bootstrap.
    pub role: Role,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Entry peers, with or without `/p2p/` ids.
    pub bootstrap: Vec<Multiaddr>,
    /// Whether LAN discovery runs.
    pub mdns: bool,
    /// Connection and pipeline limits.
    pub limits: Limits,
    /// Relaying for others, port mapping, external addresses.
    pub reach: ReachSettings,
    /// TCP for real nodes, memory for tests.
    pub transport: TransportKind,
    /// Deadline of one route request, both when serving and when calling.
    pub request_timeout: Duration,
    /// How often the node announces itself on the network topic.
    pub announce_interval: Duration,
    /// How often a node with no connections tries its known peers and bootstrap list again.
    pub reconnect_interval: Duration,
    /// How often followees are synced (pull) even when nothing else asks for it.
    pub sync_interval: Duration,
    /// Longest post text this node signs and accepts.
    pub max_post_chars: usize,
}

impl NodeConfig {
    /// The configuration for resolved settings and loaded keys.
    pub fn new(settings: &Settings, keypair: Keypair, network_key: NetworkKey) -> Self {
        Self {
            role: settings.role,
            listen: settings.listen.clone(),
            bootstrap: settings.bootstrap.clone(),
            mdns: settings.mdns,
            limits: settings.limits,
            reach: settings.reach.clone(),
            max_post_chars: settings.limits.max_post_chars as usize,
            ..Self::loopback(keypair, network_key)
        }
    }

    /// A member on `127.0.0.1`, an OS-chosen TCP port, no mDNS, no bootstrap peers and default
    /// limits: the starting point of tests, benchmarks and embedders.
    pub fn loopback(keypair: Keypair, network_key: NetworkKey) -> Self {
        Self {
            keypair,
            network_key,
            role: Role::Member,
            listen: vec![
                Multiaddr::from(std::net::Ipv4Addr::LOCALHOST)
                    .with(libp2p::multiaddr::Protocol::Tcp(0)),
            ],
            bootstrap: Vec::new(),
            mdns: false,
            limits: Limits::default(),
            // No router to ask on loopback; members relay only when asked.
            reach: ReachSettings {
                upnp: false,
                ..ReachSettings::for_role(Role::Member)
            },
            transport: TransportKind::Tcp,
            request_timeout: Duration::from_secs(5),
            announce_interval: Duration::from_secs(60),
            reconnect_interval: Duration::from_secs(30),
            sync_interval: Duration::from_secs(60),
            max_post_chars: kith_protocols::DEFAULT_MAX_POST_CHARS,
        }
    }
}

/// A running node. Dropping it does not stop it; call [`Node::shutdown`].
#[derive(Debug)]
pub struct Node {
    handle: NodeHandle,
    network: NetworkService,
    social: SocialService,
    store: Store,
    registry: Arc<Registry>,
    tasks: TaskTracker,
    token: CancellationToken,
}

impl Node {
    /// Starts a node and returns once its listeners are bound and it serves its routes.
    pub async fn start(config: NodeConfig, store: Store) -> Result<Node, Error> {
        for addr in config
            .listen
            .iter()
            .chain(&config.bootstrap)
            .chain(&config.reach.external_addresses)
        {
            check_address(addr)?;
        }
        let peer_id = config.keypair.public().to_peer_id();
        // The peers known before this start, read before any discovery can add to the book:
        // the first reconnect pass dials these, not what mDNS found a moment ago (that has its
        // own rules, such as who dials whom).
        let known_at_start = store.peers().list()?;
        let token = CancellationToken::new();
        let tasks = TaskTracker::new();

        let mut registry = Registry::default();
        let libp2p_metrics = Metrics::new(&mut registry);
        let pipeline_metrics = PipelineMetrics::register(&mut registry);
        let dispatch_metrics = DispatchMetrics::register(&mut registry);
        let social_metrics = SocialMetrics::register(&mut registry);

        let (relay_transport, relay_client) = libp2p::relay::client::new(peer_id);
        let transport = build_transport(
            &config.keypair,
            &config.network_key,
            config.transport,
            config.limits.connect_timeout,
            Some(relay_transport),
        )?;
        let mut behaviour = Behaviour::new(
            &config.keypair,
            config.role,
            &config.limits,
            config.mdns,
            &config.reach,
            relay_client,
        )?;
        for entry in store.blocks().list()? {
            behaviour.blocks.block_peer(entry.peer_id);
        }
        let mut control = behaviour.streams.new_control();
        let swarm = Swarm::new(
            transport,
            behaviour,
            peer_id,
            swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(Duration::from_secs(60)),
        );

        let state = Arc::new(NodeState::new(
            peer_id,
            config.role,
            config.network_key.fingerprint(),
        ));
        state.relay_gauges().register(&mut registry);
        let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (notice_tx, notice_rx) = mpsc::channel(NOTICE_CAPACITY);
        let (event_tx, _) = broadcast::channel::<NodeEvent>(EVENT_CAPACITY);
        let (found_tx, found_rx) = discovery::channel(pipeline_metrics.clone());
        let (gossip_tx, gossip_rx) = mpsc::channel(GOSSIP_CAPACITY);
        let reach = crate::reach::Reach::new(
            config.role == Role::Member,
            config.reach.upnp,
            &config.reach.external_addresses,
        );
        let handle = NodeHandle::new(
            command_tx,
            state.clone(),
            RouteClient::new(control.clone(), config.request_timeout),
            event_tx.clone(),
            found_tx.clone(),
            notice_tx.clone(),
            pipeline_metrics.clone(),
            dispatch_metrics.clone(),
        );

        let mut event_loop = EventLoop::new(
            swarm,
            command_rx,
            found_tx.clone(),
            notice_tx,
            event_tx,
            state,
            libp2p_metrics,
            gossip_tx,
            config.announce_interval,
            reach,
            token.child_token(),
        );
        event_loop.listen(&config.listen, LISTEN_DEADLINE).await?;

        let policy = Policy::new(config.role);
        let social = SocialService::new(
            handle.clone(),
            store.clone(),
            SocialConfig {
                signer: Signer::new(config.keypair.clone()).map_err(|e| {
                    Error::Refused(format!("the identity key cannot sign objects: {e}"))
                })?,
                rules: VerifyRules {
                    max_post_chars: config.max_post_chars,
                    ..VerifyRules::default()
                },
                policy: policy.clone(),
                sync_interval: config.sync_interval,
            },
            social_metrics,
            tasks.clone(),
            token.child_token(),
        );
        social.load_devices()?;
        let router = match config.role {
            Role::Member => social.serve(infrastructure_routes(config.role)),
            Role::Bootstrap => infrastructure_routes(config.role),
        };
        // The info document lists what a peer may actually call, not the routes a bootstrap
        // node registers only to refuse.
        let served = router
            .routes()
            .into_iter()
            .filter(|route| policy.admits_route(route))
            .collect();
        let network = NetworkService::new(
            handle.clone(),
            store.clone(),
            config.network_key.clone(),
            config.role,
            served,
        );
        let router = serve_infrastructure(router, &network);
        spawn_dispatcher(
            router,
            &mut control,
            policy,
            RequestLimits {
                timeout: config.request_timeout,
                rate_per_sec: config.limits.route_rate_per_sec,
                burst: config.limits.route_burst,
            },
            dispatch_metrics,
            &tasks,
            &token,
        )
        .map_err(|e| Error::Transport(format!("registering routes: {e}")))?;

        tasks.spawn(event_loop.run());
        if config.role == Role::Member {
            spawn_social_tasks(&social, gossip_rx);
        }
        let pipeline = Pipeline::new(
            PipelineConfig {
                rate_per_sec: config.limits.dial_rate_per_sec,
                burst: config.limits.dial_burst,
            },
            found_rx,
            found_tx,
            notice_rx,
            handle.clone(),
            store.clone(),
            pipeline_metrics,
            tasks.clone(),
            token.child_token(),
        );
        tasks.spawn(pipeline.run());
        let reconnect = Reconnect {
            node: handle.clone(),
            store: store.clone(),
            bootstrap: config.bootstrap.clone(),
            known_at_start,
        };
        tasks.spawn(reconnect.run(config.reconnect_interval, token.child_token()));

        tracing::info!(peer_id = %peer_id, role = %config.role, network = %handle.network(), "node started");
        Ok(Node {
            handle,
            network,
            social,
            store,
            registry: Arc::new(registry),
            tasks,
            token,
        })
    }

    /// The handle of this node.
    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }

    /// The network service of this node.
    pub fn network(&self) -> &NetworkService {
        &self.network
    }

    /// The social service of this node.
    pub fn social(&self) -> &SocialService {
        &self.social
    }

    /// The node's store, for state its API keeps beside the services' (browser sessions).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metrics registry (libp2p's metrics plus Kith's own), for `/metrics`.
    pub fn metrics(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// A token cancelled when the node shuts down, for tasks that live as long as the node.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Stops the node: cancels every task and waits for them (up to a deadline).
    pub async fn shutdown(self) {
        self.token.cancel();
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_DEADLINE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some node tasks did not stop in time");
        }
    }
}

/// The routes every node registers: info and peer exchange, plus, on bootstrap nodes, the
/// content routes, which the middleware then refuses with `forbidden`.
fn infrastructure_routes(role: Role) -> Router {
    let refuse = |_, _| async {
        // The policy answers before any handler runs; this body is never reached.
        Err(kith_protocols::WireError::new(
            kith_protocols::ErrorCode::Forbidden,
            "bootstrap nodes hold no user content",
        ))
    };
    let mut router = Router::new()
        .route(routes::info(), |_, _| async { Ok(serde_json::Value::Null) })
        .route(routes::peers(), |_, _| async {
            Ok(serde_json::Value::Null)
        });
    if role == Role::Bootstrap {
        for route in routes::content() {
            router = router.route(route, refuse);
        }
    }
    router
}

/// Attaches the real handlers of the infrastructure routes, now that the service exists.
fn serve_infrastructure(router: Router, network: &NetworkService) -> Router {
    let info = network.clone();
    let peers = network.clone();
    router
        .route(routes::info(), move |ctx: crate::RequestContext, _| {
            let info = info.node_info_for(&ctx.peer);
            async move { to_body(&info) }
        })
        .route(routes::peers(), move |ctx: crate::RequestContext, _| {
            let peers = peers.exchange_peers(&ctx.peer);
            async move {
                let peers =
                    peers.map_err(|e| kith_protocols::WireError::new(e.code(), e.to_string()))?;
                to_body(&peers)
            }
        })
}

fn to_body<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, kith_protocols::WireError> {
    serde_json::to_value(value).map_err(|e| {
        kith_protocols::WireError::new(kith_protocols::ErrorCode::InternalError, e.to_string())
    })
}

/// Brings a node back into its network: at start, and whenever it has no connection at all.
struct Reconnect {
    node: NodeHandle,
    store: Store,
    bootstrap: Vec<Multiaddr>,
    known_at_start: Vec<kith_storage::PeerRecord>,
}

impl Reconnect {
    async fn run(mut self, interval: Duration, token: CancellationToken) {
        let at_start = std::mem::take(&mut self.known_at_start);
        self.offer(at_start);
        self.dial_bootstrap();
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            tokio::select! {
                biased;
                _ = token.cancelled() => break,
                // Kademlia bootstraps by itself when its routing table gains a peer and every
                // five minutes; this loop brings back a node that has lost everyone, and the
                // bootstrap peers of one that lost only them (they are its relays: two homes
                // that hole-punched a direct connection still need the relay for everyone else).
                _ = ticker.tick() => {
                    if self.node.connections().is_empty() {
                        self.reconnect().await;
                    } else {
                        self.redial_lost_bootstrap_peers();
                    }
                }
            }
        }
    }

    /// Feeds the stored peer book and the bootstrap list into the pipeline. Bootstrap addresses
    /// without a peer id are dialed directly; the connection then enters the pipeline.
    async fn reconnect(&self) {
        match self.store.peers().list() {
            Ok(records) => self.offer(records),
            Err(error) => tracing::warn!(%error, "could not read the peer book"),
        }
        self.dial_bootstrap();
    }

    /// Hands the usable records of the peer book to the pipeline.
    fn offer(&self, records: Vec<kith_storage::PeerRecord>) {
        for record in records
            .into_iter()
            .filter(|r| r.rejected.is_none() && !r.addrs.is_empty())
        {
            self.node.peer_found(PeerFound::new(
                record.peer_id,
                record.addrs,
                PeerSource::PeerBook,
            ));
        }
    }

    /// Offers the bootstrap peers with a known id that are not connected to the pipeline.
    fn redial_lost_bootstrap_peers(&self) {
        for addr in &self.bootstrap {
            if let Some(peer) = kith_config::peer_id_of(addr)
                && !self.node.is_connected(&peer)
            {
                self.node.peer_found(PeerFound::new(
                    peer,
                    vec![addr.clone()],
                    PeerSource::Bootstrap,
                ));
            }
        }
    }

    fn dial_bootstrap(&self) {
        for addr in &self.bootstrap {
            match kith_config::peer_id_of(addr) {
                Some(peer) => self.node.peer_found(PeerFound::new(
                    peer,
                    vec![addr.clone()],
                    PeerSource::Bootstrap,
                )),
                None => {
                    let node = self.node.clone();
                    let addr = addr.clone();
                    tokio::spawn(async move {
                        if let Err(error) =
                            node.dial_address(addr.clone(), PeerSource::Bootstrap).await
                        {
                            tracing::debug!(%addr, %error, "bootstrap address did not answer");
                        }
                    });
                }
            }
        }
    }
}
