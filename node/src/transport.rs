//! The only way this crate builds a libp2p transport: TCP (or, for tests, the in-memory
//! transport), or a circuit through a relay → private-network handshake with the network key →
//! Noise XX → yamux.
//!
//! There is deliberately no code path that builds a transport without the pre-shared key: a
//! caller must hand in a [`NetworkKey`]. QUIC is not offered at all, because QUIC encrypts with
//! TLS before any libp2p upgrade runs and so bypasses the private-network layer.
//!
//! Relayed connections take the same path. The carrier (TCP or a relay circuit) is chosen
//! first, and the PSK handshake, Noise and yamux then run on whichever raw stream it gave. So a
//! circuit is two layers deep: the connection to the relay is itself TCP → PSK → Noise → yamux,
//! and the circuit inside it runs PSK → Noise → yamux again, end to end between the two
//! members. A relay cannot splice in a stranger, and a node without the key can neither reserve
//! a slot (its connection to the relay fails) nor be reached through one.
//!
//! A wrong network key does not fail fast: both sides exchange nonces successfully and only the
//! Noise handshake then reads garbage, which sometimes stalls until a timeout. The whole upgrade
//! is therefore bounded by `connect_timeout` (about 5 s by default), and a failed negotiation is
//! what a foreign node looks like from here.

use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};
use kith_config::NetworkKey;
use libp2p::{
    Multiaddr, PeerId, Transport,
    core::{
        muxing::StreamMuxerBox,
        transport::{Boxed, MemoryTransport, OptionalTransport},
        upgrade::Version,
    },
    identity::Keypair,
    multiaddr::Protocol,
    noise,
    pnet::PnetConfig,
    relay, tcp, yamux,
};

use crate::Error;

/// Which carrier the transport runs on. Both go through exactly the same PSK/Noise/yamux stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportKind {
    /// TCP sockets (with DNS resolution of `/dns*` addresses): what a real node uses.
    #[default]
    Tcp,
    /// libp2p's in-process memory transport, for fast tests and benchmarks.
    Memory,
}

/// Builds the authenticated, multiplexed transport of a node. `relay` is the transport half of
/// the relay client behaviour (`libp2p::relay::client::new`), when the node dials and listens
/// through relays; its circuits go through the same PSK → Noise → yamux upgrade.
pub fn build_transport(
    keypair: &Keypair,
    network_key: &NetworkKey,
    kind: TransportKind,
    connect_timeout: Duration,
    relay: Option<relay::client::Transport>,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Error> {
    // The relay transport goes first: it refuses every address without `/p2p-circuit` as
    // unsupported, so the next one gets it. The DNS transport would claim a circuit address
    // and then fail it.
    let relay = match relay {
        Some(relay) => OptionalTransport::some(relay),
        None => OptionalTransport::none(),
    };
    match kind {
        TransportKind::Tcp => {
            let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
            match libp2p::dns::tokio::Transport::system(tcp) {
                Ok(dns) => upgrade(
                    relay.or_transport(dns),
                    keypair,
                    network_key,
                    connect_timeout,
                ),
                Err(error) => {
                    // A machine without a usable resolver configuration can still dial IP
                    // addresses; only `/dns*` bootstrap addresses stop working.
                    tracing::warn!(%error, "no system DNS configuration; /dns addresses will not resolve");
                    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
                    upgrade(
                        relay.or_transport(tcp),
                        keypair,
                        network_key,
                        connect_timeout,
                    )
                }
            }
        }
        TransportKind::Memory => upgrade(
            relay.or_transport(MemoryTransport::default()),
            keypair,
            network_key,
            connect_timeout,
        ),
    }
}

/// Runs the private-network handshake on the raw socket, then Noise and yamux, all inside one
/// timeout.
fn upgrade<T>(
    base: T,
    keypair: &Keypair,
    network_key: &NetworkKey,
    connect_timeout: Duration,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Error>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    let pnet = PnetConfig::new(network_key.psk());
    let noise = noise::Config::new(keypair).map_err(|e| Error::Transport(e.to_string()))?;
    Ok(base
        .and_then(move |socket, _| pnet.handshake(socket))
        .upgrade(Version::V1)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .timeout(connect_timeout)
        .boxed())
}

/// Checks that an address is one this transport can listen on or dial: TCP (optionally behind
/// DNS) or memory, optionally followed by a relay hop (`…/p2p/<relay>/p2p-circuit[/p2p/<peer>]`),
/// whose circuit then goes through the network key too. Anything else — QUIC, WebSocket,
/// WebRTC — would either bypass the network key or is simply not built in, and is refused with
/// an error that says so.
pub fn check_address(addr: &Multiaddr) -> Result<(), Error> {
    let mut carrier = None;
    for protocol in addr.iter() {
        match protocol {
            Protocol::Ip4(_)
            | Protocol::Ip6(_)
            | Protocol::Dns(_)
            | Protocol::Dns4(_)
            | Protocol::Dns6(_)
            | Protocol::P2p(_) => {}
            Protocol::P2pCircuit if carrier.is_some() => {}
            Protocol::Tcp(_) | Protocol::Memory(_) => carrier = Some(()),
            other => {
                return Err(Error::UnsupportedAddress {
                    addr: addr.clone(),
                    reason: format!(
                        "protocol {} is not supported: Kith only runs TCP through the private-network layer",
                        other.tag()
                    ),
                });
            }
        }
    }
    carrier.ok_or_else(|| Error::UnsupportedAddress {
        addr: addr.clone(),
        reason: "the address has no /tcp component".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tcp_and_memory_addresses() {
        for addr in [
            "/ip4/127.0.0.1/tcp/4001",
            "/dns4/example.org/tcp/4001",
            "/memory/7",
            "/ip6/::1/tcp/0/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
            "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit",
            "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        ] {
            check_address(&addr.parse().unwrap()).unwrap_or_else(|e| panic!("{addr}: {e}"));
        }
    }

    #[test]
    fn refuses_transports_that_bypass_the_network_key() {
        for addr in [
            "/ip4/127.0.0.1/udp/4001/quic-v1",
            "/ip4/127.0.0.1/tcp/4001/ws",
            "/ip4/127.0.0.1",
            "/p2p-circuit",
        ] {
            assert!(
                check_address(&addr.parse().unwrap()).is_err(),
                "{addr} must be refused"
            );
        }
    }
}

#[cfg(test)]
mod stack_tests {
    //! The memory transport goes through exactly the same PSK → Noise → yamux stack as TCP.

    use std::time::Duration;

    use futures::StreamExt;
    use libp2p::{Swarm, swarm::SwarmEvent};

    use super::*;

    fn swarm(key: &NetworkKey) -> Swarm<libp2p_stream::Behaviour> {
        let keypair = Keypair::generate_ed25519();
        let transport = build_transport(
            &keypair,
            key,
            TransportKind::Memory,
            Duration::from_secs(5),
            None,
        )
        .unwrap();
        Swarm::new(
            transport,
            libp2p_stream::Behaviour::new(),
            keypair.public().to_peer_id(),
            libp2p::swarm::Config::with_tokio_executor(),
        )
    }

    /// Dials `b` from `a` and drives both until the dial succeeds or fails.
    async fn connect(key_a: &NetworkKey, key_b: &NetworkKey) -> bool {
        let (mut a, mut b) = (swarm(key_a), swarm(key_b));
        b.listen_on("/memory/0".parse().unwrap()).unwrap();
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = b.select_next_some().await {
                break address;
            }
        };
        a.dial(addr).unwrap();
        let outcome = async {
            loop {
                tokio::select! {
                    event = a.select_next_some() => match event {
                        SwarmEvent::ConnectionEstablished { .. } => return true,
                        SwarmEvent::OutgoingConnectionError { .. } => return false,
                        _ => {}
                    },
                    _ = b.select_next_some() => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), outcome)
            .await
            .expect("the dial ends within the connect timeout")
    }

    #[tokio::test]
    async fn same_key_connects_over_memory() {
        let key = NetworkKey::generate();
        assert!(connect(&key, &key).await);
    }

    #[tokio::test]
    async fn different_keys_never_connect() {
        assert!(!connect(&NetworkKey::generate(), &NetworkKey::generate()).await);
    }
}
