//! Which of our addresses mean something to whom, and in which order to try a peer's addresses.
//!
//! A home node listens on `0.0.0.0`, which expands to its loopback address, its LAN address and
//! maybe a container bridge. None of those is reachable from another home: handing them out as
//! if they were (the node used to gossip `127.0.0.1` to the whole network) only makes others
//! dial into the void. The rules here decide, for each address, who may be told of it:
//!
//! - **confirmed** addresses (AutoNAT probes by other members, a UPnP mapping, an address the
//!   owner configured, a relay reservation) are told to everyone;
//! - an address with a **global** IP, or a DNS name, is told to everyone: it is the best guess
//!   there is until a probe says otherwise;
//! - a **loopback** address only to a peer that itself reaches us over loopback (the same host);
//! - a **private** (RFC 1918, CGNAT, IPv6 ULA) address only to a peer on the same host or in the
//!   same subnet (/24 for IPv4, /64 for IPv6). Private ranges are *not* taken to mean
//!   "unreachable": carrier-grade NAT, company LANs and test namespaces use them for the outside
//!   too. That is why confirmation outranks the range;
//! - link-local addresses need an interface scope and are told to no one.
//!
//! Broadcasts (gossip announcements) have no single recipient, so they carry only what is told
//! to everyone. Addresses are ranked for dialing by how likely they are to work: direct before
//! relayed (a relayed connection costs the relay and is upgraded later anyway).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libp2p::{Multiaddr, multiaddr::Protocol};

/// How far an address carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// 127.0.0.0/8 or ::1: this host only.
    Loopback,
    /// 169.254.0.0/16 or fe80::/10: one link, and only with an interface scope.
    LinkLocal,
    /// RFC 1918, 100.64.0.0/10 (carrier-grade NAT), fc00::/7: one private network.
    Private,
    /// Any other IP, or a DNS name.
    Global,
    /// Through a relay (`/p2p-circuit`): reachable by anyone who reaches the relay.
    Relayed,
    /// The in-process memory transport of tests.
    Memory,
    /// Nothing to dial (no IP, DNS name or memory port).
    Unroutable,
}

/// The scope of an address.
pub(crate) fn scope(addr: &Multiaddr) -> Scope {
    if is_relayed(addr) {
        return Scope::Relayed;
    }
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip4_scope(ip),
        Some(Protocol::Ip6(ip)) => ip6_scope(ip),
        Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_)) => Scope::Global,
        Some(Protocol::Memory(_)) => Scope::Memory,
        _ => Scope::Unroutable,
    }
}

fn ip4_scope(ip: Ipv4Addr) -> Scope {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Scope::Loopback
    } else if ip.is_link_local() {
        Scope::LinkLocal
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Scope::Private
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        Scope::Unroutable
    } else {
        Scope::Global
    }
}

fn ip6_scope(ip: Ipv6Addr) -> Scope {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return ip4_scope(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Scope::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        Scope::LinkLocal
    } else if first & 0xfe00 == 0xfc00 {
        Scope::Private
    } else if ip.is_unspecified() || ip.is_multicast() {
        Scope::Unroutable
    } else {
        Scope::Global
    }
}

/// Whether the address goes through a relay.
pub(crate) fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// The IP an address starts with, if it does.
fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    match addr.iter().next()? {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

/// Whether two IPs are in the same /24 (IPv4) or /64 (IPv6): the LAN-sized guess used where the
/// real netmask is not known.
fn same_subnet(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}

/// Whether a peer that reaches us at `remote` (its address as our connection sees it) could
/// use our address `ours`. `None` for `remote` means "no one in particular" (a broadcast).
pub(crate) fn meaningful_to(ours: &Multiaddr, remote: Option<&Multiaddr>) -> bool {
    let remote_scope = remote.map(scope);
    match scope(ours) {
        Scope::Global | Scope::Relayed => true,
        Scope::Memory => remote_scope == Some(Scope::Memory),
        Scope::Loopback => remote_scope == Some(Scope::Loopback),
        Scope::Private => match remote_scope {
            Some(Scope::Loopback) => true,
            Some(Scope::Private | Scope::Global) => match (ip_of(ours), remote.and_then(ip_of)) {
                (Some(a), Some(b)) => same_subnet(a, b),
                _ => false,
            },
            _ => false,
        },
        Scope::LinkLocal | Scope::Unroutable => false,
    }
}

/// Whether a peer at `remote` that reached (or dialled back) our `addr` shows only that our
/// own host or LAN reaches it: a loopback or private address, reached from the same host or
/// subnet. A home node's friend on the same Wi-Fi proves nothing about the rest of the network.
pub(crate) fn vouches_only_for_lan(addr: &Multiaddr, remote: Option<&Multiaddr>) -> bool {
    matches!(scope(addr), Scope::Loopback | Scope::Private) && meaningful_to(addr, remote)
}

/// The addresses of ours to tell a peer that reaches us at `remote` (`None`: everyone):
/// confirmed ones first, then listen addresses that mean something to it, without duplicates.
pub(crate) fn addresses_for(
    confirmed: &[Multiaddr],
    listen: &[Multiaddr],
    remote: Option<&Multiaddr>,
) -> Vec<Multiaddr> {
    let mut out: Vec<Multiaddr> = Vec::new();
    for addr in confirmed
        .iter()
        .chain(listen.iter().filter(|a| meaningful_to(a, remote)))
    {
        if !out.contains(addr) {
            out.push(addr.clone());
        }
    }
    out
}

/// Orders a peer's addresses for dialing: direct ones (in their order) before relayed ones.
/// Stable, so the order the peer book keeps (newest first) holds within each group.
pub(crate) fn rank_for_dialing(addrs: &mut [Multiaddr]) {
    addrs.sort_by_key(is_relayed);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn a(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    const RELAYED: &str = "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit";

    #[test]
    fn scopes() {
        for (addr, want) in [
            ("/ip4/127.0.0.1/tcp/4001", Scope::Loopback),
            ("/ip6/::1/tcp/4001", Scope::Loopback),
            ("/ip4/192.168.2.10/tcp/4001", Scope::Private),
            ("/ip4/10.1.2.3/tcp/4001", Scope::Private),
            ("/ip4/172.16.0.1/tcp/4001", Scope::Private),
            ("/ip4/100.64.0.9/tcp/4001", Scope::Private),
            ("/ip6/fd00::1/tcp/4001", Scope::Private),
            ("/ip4/169.254.1.1/tcp/4001", Scope::LinkLocal),
            ("/ip6/fe80::1/tcp/4001", Scope::LinkLocal),
            ("/ip4/203.0.113.7/tcp/4001", Scope::Global),
            ("/ip4/100.128.0.1/tcp/4001", Scope::Global),
            ("/ip6/2001:db8::1/tcp/4001", Scope::Global),
            ("/dns4/home.example.org/tcp/4001", Scope::Global),
            ("/ip4/0.0.0.0/tcp/4001", Scope::Unroutable),
            ("/memory/5", Scope::Memory),
            (RELAYED, Scope::Relayed),
        ] {
            assert_eq!(scope(&a(addr)), want, "{addr}");
        }
    }

    #[test]
    fn loopback_is_told_only_to_the_same_host() {
        let lo = a("/ip4/127.0.0.1/tcp/4001");
        assert!(meaningful_to(&lo, Some(&a("/ip4/127.0.0.1/tcp/5555"))));
        assert!(!meaningful_to(&lo, Some(&a("/ip4/10.0.0.2/tcp/4001"))));
        assert!(!meaningful_to(&lo, Some(&a("/ip4/203.0.113.1/tcp/4001"))));
        assert!(!meaningful_to(&lo, None), "never broadcast");
    }

    /// The topology of the issue: home B (192.168.2.10) behind a router whose outside is
    /// 10.0.0.3; the bootstrap at 10.0.0.1 sees B's connection come from 10.0.0.3.
    #[test]
    fn a_private_lan_address_is_not_told_outside_that_lan() {
        let lan = a("/ip4/192.168.2.10/tcp/4001");
        assert!(!meaningful_to(&lan, Some(&a("/ip4/10.0.0.3/tcp/4001"))));
        assert!(!meaningful_to(&lan, Some(&a(RELAYED))));
        assert!(!meaningful_to(&lan, None));
        assert!(meaningful_to(&lan, Some(&a("/ip4/192.168.2.11/tcp/39000"))));
        assert!(meaningful_to(&lan, Some(&a("/ip4/127.0.0.1/tcp/39000"))));
    }

    #[test]
    fn private_ranges_still_work_as_the_outside_of_a_nat() {
        // The bootstrap's own 10.0.0.1 is what a router at 10.0.0.3 dials.
        let outside = a("/ip4/10.0.0.1/tcp/4001");
        assert!(meaningful_to(&outside, Some(&a("/ip4/10.0.0.3/tcp/4001"))));
    }

    #[test]
    fn global_and_relayed_addresses_are_told_to_everyone() {
        for ours in [
            "/ip4/203.0.113.7/tcp/4001",
            RELAYED,
            "/dns4/x.example/tcp/1",
        ] {
            assert!(meaningful_to(&a(ours), None), "{ours}");
            assert!(meaningful_to(&a(ours), Some(&a("/ip4/192.168.1.5/tcp/1"))));
        }
    }

    #[test]
    fn only_a_peer_from_outside_the_lan_vouches_for_reachability() {
        let lan = a("/ip4/192.168.1.10/tcp/4001");
        assert!(vouches_only_for_lan(
            &lan,
            Some(&a("/ip4/192.168.1.11/tcp/4001"))
        ));
        assert!(vouches_only_for_lan(
            &lan,
            Some(&a("/ip4/127.0.0.1/tcp/4001"))
        ));
        assert!(!vouches_only_for_lan(
            &lan,
            Some(&a("/ip4/10.99.0.3/tcp/4001"))
        ));
        let public = a("/ip4/203.0.113.7/tcp/4001");
        assert!(!vouches_only_for_lan(
            &public,
            Some(&a("/ip4/203.0.113.8/tcp/4001"))
        ));
    }

    #[test]
    fn confirmed_addresses_come_first_and_always() {
        let confirmed = vec![a("/ip4/10.0.0.3/tcp/4001")];
        let listen = vec![
            a("/ip4/127.0.0.1/tcp/4001"),
            a("/ip4/192.168.2.10/tcp/4001"),
            a("/ip4/10.0.0.3/tcp/4001"),
        ];
        assert_eq!(addresses_for(&confirmed, &listen, None), confirmed);
        assert_eq!(
            addresses_for(&confirmed, &listen, Some(&a("/ip4/127.0.0.1/tcp/9"))),
            vec![
                a("/ip4/10.0.0.3/tcp/4001"),
                a("/ip4/127.0.0.1/tcp/4001"),
                a("/ip4/192.168.2.10/tcp/4001"),
            ]
        );
    }

    #[test]
    fn relayed_addresses_are_dialed_last() {
        let mut addrs = vec![
            a(RELAYED),
            a("/ip4/10.0.0.3/tcp/4001"),
            a("/ip4/1.2.3.4/tcp/1"),
        ];
        rank_for_dialing(&mut addrs);
        assert_eq!(
            addrs,
            vec![
                a("/ip4/10.0.0.3/tcp/4001"),
                a("/ip4/1.2.3.4/tcp/1"),
                a(RELAYED)
            ]
        );
    }

    fn any_ip4_addr() -> impl Strategy<Value = Multiaddr> {
        (any::<[u8; 4]>(), any::<u16>(), any::<bool>()).prop_map(|(ip, port, relayed)| {
            let base = Multiaddr::empty()
                .with(Protocol::Ip4(Ipv4Addr::from(ip)))
                .with(Protocol::Tcp(port));
            if relayed {
                base.with(Protocol::P2p(libp2p::PeerId::random()))
                    .with(Protocol::P2pCircuit)
            } else {
                base
            }
        })
    }

    proptest! {
        /// What a broadcast carries is told to any single recipient too, and nothing loopback
        /// or private ever goes out in a broadcast unless it was confirmed.
        #[test]
        fn broadcast_is_the_common_part(
            listen in proptest::collection::vec(any_ip4_addr(), 0..8),
            confirmed in proptest::collection::vec(any_ip4_addr(), 0..3),
            remote in any_ip4_addr(),
        ) {
            let everyone = addresses_for(&confirmed, &listen, None);
            let to_one = addresses_for(&confirmed, &listen, Some(&remote));
            for addr in &everyone {
                prop_assert!(to_one.contains(addr));
                let s = scope(addr);
                prop_assert!(
                    confirmed.contains(addr) || matches!(s, Scope::Global | Scope::Relayed),
                    "{addr} broadcast with scope {s:?}"
                );
            }
        }

        /// Ranking keeps every address and puts no relayed one before a direct one.
        #[test]
        fn ranking_is_a_permutation_with_direct_first(
            mut addrs in proptest::collection::vec(any_ip4_addr(), 0..10),
        ) {
            let mut before = addrs.clone();
            rank_for_dialing(&mut addrs);
            let first_relayed = addrs.iter().position(is_relayed).unwrap_or(addrs.len());
            prop_assert!(addrs[first_relayed..].iter().all(is_relayed));
            before.sort_by_key(|a| a.to_string());
            let mut after = addrs.clone();
            after.sort_by_key(|a| a.to_string());
            prop_assert_eq!(before, after);
        }
    }
}
