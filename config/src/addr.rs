//! Helpers for the multiaddrs that name a peer to dial (bootstrap and invite addresses).
//!
//! Such an address must end with `/p2p/<peer-id>`: the dialler needs to know whom it expects at
//! the other end (Noise checks it), and Kademlia needs the peer id to file the address under. An
//! address with `/p2p/` only in the middle (`.../p2p/<relay>/p2p-circuit`) names a relay, not the
//! peer, so it does not count.

use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};

/// The peer that `addr` dials: the id in its final `/p2p/` component, if it ends with one.
pub fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;

    use super::*;

    fn peer() -> PeerId {
        Keypair::ed25519_from_bytes([1; 32])
            .expect("32 bytes are a valid Ed25519 secret")
            .public()
            .to_peer_id()
    }

    #[test]
    fn final_p2p_component_names_the_peer() {
        let peer = peer();
        let addr: Multiaddr = format!("/ip4/10.0.0.1/tcp/4001/p2p/{peer}")
            .parse()
            .unwrap();
        assert_eq!(peer_id_of(&addr), Some(peer));
        let bare: Multiaddr = format!("/p2p/{peer}").parse().unwrap();
        assert_eq!(peer_id_of(&bare), Some(peer));
    }

    #[test]
    fn addresses_without_final_p2p_name_no_peer() {
        for text in [
            "/ip4/10.0.0.1/tcp/4001".to_owned(),
            format!("/ip4/10.0.0.1/tcp/4001/p2p/{}/p2p-circuit", peer()),
            String::new(),
        ] {
            let addr: Multiaddr = text.parse().unwrap();
            assert_eq!(peer_id_of(&addr), None, "{text}");
        }
    }
}
