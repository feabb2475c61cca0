//! Relays keep the network key on every path, and their limits hold.
//!
//! A relay and a member that reserved a slot on it run in this process on 127.0.0.1; the other
//! side is a bare libp2p swarm with the relay client, built with whatever transport the test
//! wants: Kith's own (the same key, or another one), or one that speaks the key to the relay but
//! not over the circuit, which is what a relay splicing in a stranger would look like. The
//! namespace tests (`nat`) show the same stack across real NAT routers.

use std::time::Duration;

use futures::StreamExt;
use kith_config::{NetworkKey, Role};
use kith_protocols::ReachStatus;
use libp2p::{
    Multiaddr, PeerId, Swarm, Transport,
    core::{muxing::StreamMuxerBox, transport::Boxed, upgrade::Version},
    identity::Keypair,
    multiaddr::Protocol,
    noise,
    pnet::PnetConfig,
    relay,
    swarm::{self, SwarmEvent, dial_opts::DialOpts, dial_opts::PeerCondition},
    tcp, yamux,
};

use crate::util::{Options, TestNode, network_key};

/// Upper bound for one dial or reservation attempt of the test client.
const ATTEMPT: Duration = Duration::from_secs(15);

/// The transport of the test client.
enum Stack {
    /// Kith's own transport with this key: TCP and circuits both through the PSK.
    Kith(NetworkKey),
    /// The key on the hop to the relay, but none on the circuit: a stranger spliced in.
    KeyOnHopOnly(NetworkKey),
    /// No private-network layer at all.
    NoKey,
}

/// A libp2p swarm with only the relay client.
struct Client {
    swarm: Swarm<relay::client::Behaviour>,
}

impl Client {
    fn new(stack: Stack) -> Client {
        let keypair = Keypair::generate_ed25519();
        let peer_id = keypair.public().to_peer_id();
        let (relay_transport, behaviour) = relay::client::new(peer_id);
        let noise = noise::Config::new(&keypair).expect("noise");
        let tcp = || tcp::tokio::Transport::new(tcp::Config::default());
        let transport: Boxed<(PeerId, StreamMuxerBox)> = match stack {
            Stack::Kith(key) => kith_node::build_transport(
                &keypair,
                &key,
                kith_node::TransportKind::Tcp,
                Duration::from_secs(5),
                Some(relay_transport),
            )
            .expect("transport"),
            Stack::KeyOnHopOnly(key) => {
                let pnet = PnetConfig::new(key.psk());
                let hop = tcp().and_then(move |socket, _| pnet.handshake(socket));
                relay_transport
                    .or_transport(hop)
                    .upgrade(Version::V1)
                    .authenticate(noise)
                    .multiplex(yamux::Config::default())
                    .timeout(Duration::from_secs(5))
                    .boxed()
            }
            Stack::NoKey => relay_transport
                .or_transport(tcp())
                .upgrade(Version::V1)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .timeout(Duration::from_secs(5))
                .boxed(),
        };
        Client {
            swarm: Swarm::new(
                transport,
                behaviour,
                peer_id,
                swarm::Config::with_tokio_executor()
                    .with_idle_connection_timeout(Duration::from_secs(30)),
            ),
        }
    }

    fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Dials `peer` at `addr` on a new connection; `Err` with the swarm's reason if it fails.
    async fn dial(&mut self, peer: PeerId, addr: Multiaddr) -> Result<(), String> {
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr])
            .condition(PeerCondition::Always)
            .build();
        let id = opts.connection_id();
        self.swarm.dial(opts).map_err(|e| e.to_string())?;
        let outcome = async {
            loop {
                match self.swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { connection_id, .. }
                        if connection_id == id =>
                    {
                        return Ok(());
                    }
                    SwarmEvent::OutgoingConnectionError {
                        connection_id,
                        error,
                        ..
                    } if connection_id == id => return Err(error.to_string()),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(ATTEMPT, outcome)
            .await
            .unwrap_or_else(|_| Err(format!("no outcome within {ATTEMPT:?}")))
    }

    /// Closes every connection to `peer` and waits until the last one is gone.
    async fn hang_up(&mut self, peer: PeerId) {
        if self.swarm.disconnect_peer_id(peer).is_err() {
            return;
        }
        let closed = async {
            loop {
                if let SwarmEvent::ConnectionClosed {
                    peer_id,
                    num_established: 0,
                    ..
                } = self.swarm.select_next_some().await
                    && peer_id == peer
                {
                    return;
                }
            }
        };
        tokio::time::timeout(ATTEMPT, closed)
            .await
            .expect("the connection closes");
    }

    /// Asks the relay at `relay_addr` for a reservation; whether it was granted.
    async fn reserve(&mut self, relay_addr: Multiaddr) -> bool {
        let Ok(listener) = self.swarm.listen_on(relay_addr.with(Protocol::P2pCircuit)) else {
            return false;
        };
        let outcome = async {
            loop {
                match self.swarm.select_next_some().await {
                    SwarmEvent::Behaviour(relay::client::Event::ReservationReqAccepted {
                        ..
                    }) => {
                        return true;
                    }
                    SwarmEvent::ListenerClosed { listener_id, .. }
                    | SwarmEvent::ListenerError { listener_id, .. }
                        if listener_id == listener =>
                    {
                        return false;
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(ATTEMPT, outcome)
            .await
            .unwrap_or(false)
    }
}

/// A relay and a member holding a reservation on it.
struct Relayed {
    relay: TestNode,
    member: TestNode,
}

impl Relayed {
    async fn start(key: &NetworkKey) -> Relayed {
        let relay = TestNode::spawn(Options::new(key).role(Role::Bootstrap).relay(true)).await;
        let member = TestNode::spawn(Options::new(key).bootstrap(relay.addr())).await;
        member
            .wait_until("the member holds a reservation on the relay", || {
                let reach = member.handle().reachability();
                reach.status == ReachStatus::Relayed && reach.relays == [relay.peer_id()]
            })
            .await;
        Relayed { relay, member }
    }

    /// The member's address through the relay.
    fn circuit(&self) -> Multiaddr {
        self.relay
            .addr()
            .with(Protocol::P2pCircuit)
            .with(Protocol::P2p(self.member.peer_id()))
    }
}

#[tokio::test]
async fn the_network_key_guards_every_relayed_path() {
    let key = network_key();
    let net = Relayed::start(&key).await;

    // The member tells the owner how it is reached, and the relay announces its circuit.
    let (status, node) = net.member.get("/api/v1/node").await;
    assert_eq!(status, 200);
    assert_eq!(node["reachability"]["status"], "relayed", "{node:#}");
    assert!(
        node["reachability"]["external_addrs"]
            .to_string()
            .contains("p2p-circuit"),
        "{node:#}"
    );

    // Control: a node with the key reserves and reaches the member through the relay.
    let mut friend = Client::new(Stack::Kith(key.clone()));
    assert!(
        friend.reserve(net.relay.addr()).await,
        "a member may reserve"
    );
    friend
        .dial(net.member.peer_id(), net.circuit())
        .await
        .expect("a member reaches another through the relay");
    net.member
        .wait_until("the member sees the relayed connection", || {
            net.member
                .handle()
                .connections()
                .get(&friend.peer_id())
                .is_some_and(|c| c.kind() == kith_protocols::ConnectionKind::Relayed)
        })
        .await;

    // Another network's key: no reservation, no circuit.
    let mut foreign = Client::new(Stack::Kith(NetworkKey::generate()));
    assert!(
        !foreign.reserve(net.relay.addr()).await,
        "another key cannot reserve"
    );
    let refused = foreign.dial(net.member.peer_id(), net.circuit()).await;
    assert!(
        refused.is_err(),
        "another key reached the member: {refused:?}"
    );

    // No key at all: the same.
    let mut keyless = Client::new(Stack::NoKey);
    assert!(
        !keyless.reserve(net.relay.addr()).await,
        "no key, no reservation"
    );
    assert!(
        keyless
            .dial(net.member.peer_id(), net.circuit())
            .await
            .is_err()
    );

    // The key towards the relay but not over the circuit: the relay forwards the circuit, and
    // the member refuses it, because the end-to-end upgrade starts with the PSK handshake.
    let mut spliced = Client::new(Stack::KeyOnHopOnly(key.clone()));
    let refused = spliced.dial(net.member.peer_id(), net.circuit()).await;
    assert!(
        refused.is_err(),
        "a circuit without the network key reached the member: {refused:?}"
    );
    for stranger in [foreign.peer_id(), keyless.peer_id(), spliced.peer_id()] {
        assert!(
            !net.member.handle().is_connected(&stranger),
            "the member is connected to a stranger"
        );
    }
}

#[tokio::test]
async fn a_peer_opening_circuits_in_a_loop_is_held_to_the_relays_limits() {
    let key = network_key();
    let net = Relayed::start(&key).await;
    let member = net.member.peer_id();

    let mut looper = Client::new(Stack::Kith(key.clone()));
    let (mut opened, mut denied) = (0, 0);
    for _ in 0..40 {
        match looper.dial(member, net.circuit()).await {
            Ok(()) => {
                opened += 1;
                looper.hang_up(member).await;
            }
            Err(_) => denied += 1,
        }
    }
    // libp2p's circuit limiter: 30 new circuits per source peer per 2 minutes.
    assert!(opened <= 30, "{opened} circuits opened in a loop");
    assert!(denied >= 10, "only {denied} of 40 circuits were refused");
    let metrics = net.relay.metrics().await;
    let refused = metrics
        .lines()
        .find(|l| l.starts_with("kith_relay_denied_total"))
        .and_then(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("kith_relay_denied in /metrics:\n{metrics}"));
    assert!(refused >= 10, "the relay counted {refused} refusals");

    // Everyone else is still served.
    let mut friend = Client::new(Stack::Kith(key));
    friend
        .dial(member, net.circuit())
        .await
        .expect("another peer still reaches the member through the relay");
}
