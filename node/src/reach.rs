//! Reachability: how others can reach this node, worked out from what AutoNAT probes, the
//! router (UPnP), the owner's configuration and relays report, and which relays to reserve on.
//!
//! rust-libp2p gives the pieces but no verdict: AutoNAT v2 reports confirmed addresses one by
//! one and never an overall status, and there is no auto-relay. [`Reach`] is that missing part.
//! It is plain state, fed by the event loop (which alone touches the swarm) and asked two
//! things: the [`Reachability`] the owner sees, and which relays to reserve a slot on now.
//!
//! The rule for relays: a member with no confirmed direct address keeps reservations on up to
//! [`WANTED_RELAYS`] relays, from the moment it knows one (waiting for a probe to fail first
//! would leave a home node unreachable for the length of a probe round). Once a direct address
//! is confirmed the reservations are given back. A reservation that fails or closes is retried
//! with the same exponential backoff as a dial.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use kith_protocols::{ReachStatus, Reachability};
use libp2p::{Multiaddr, PeerId, core::transport::ListenerId, multiaddr::Protocol};
use tokio::time::Instant;

use crate::addresses::is_relayed;

/// How many relays a node that cannot be reached directly keeps a reservation on.
pub(crate) const WANTED_RELAYS: usize = 2;
/// First wait before a failed reservation is tried again; doubles per failure.
const BASE_RETRY: Duration = Duration::from_secs(2);
/// Longest wait between reservation attempts on one relay.
const MAX_RETRY: Duration = Duration::from_secs(5 * 60);

/// Who vouches for an external address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// The owner configured it (`--external-address`).
    Configured,
    /// An AutoNAT server dialed it back.
    Probe { server: PeerId },
    /// A peer connected to it directly (an inbound connection, not through a relay).
    Inbound { peer: PeerId },
    /// The router maps it to one of our listen addresses.
    Upnp,
    /// A relay holds a reservation for us there.
    Relay { relay: PeerId },
    /// The swarm confirmed it for a reason of its own.
    Other,
}

/// What the router said about port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upnp {
    Off,
    Searching,
    NotFound,
    NonRoutable,
    Mapped,
}

/// A relay we could reserve on, and how that is going.
#[derive(Debug, Clone)]
struct Relay {
    /// A direct address of the relay, without `/p2p/`.
    addr: Multiaddr,
    state: RelayState,
    failures: u32,
    retry_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelayState {
    Idle,
    Pending(ListenerId),
    Reserved(ListenerId),
}

/// The reachability state of one node.
#[derive(Debug)]
pub(crate) struct Reach {
    /// Whether this node looks for relays at all (bootstrap nodes do not).
    relay_client: bool,
    external: Vec<(Multiaddr, Confirmation)>,
    /// The latest failed probe: which address, and why.
    last_failed_probe: Option<(Multiaddr, String)>,
    probes_failed: u32,
    upnp: Upnp,
    relays: BTreeMap<PeerId, Relay>,
    listeners: HashMap<ListenerId, PeerId>,
}

impl Reach {
    /// The state at start: nothing known yet but what the owner configured.
    pub fn new(relay_client: bool, upnp: bool, configured: &[Multiaddr]) -> Self {
        Self {
            relay_client,
            external: configured
                .iter()
                .map(|a| (a.clone(), Confirmation::Configured))
                .collect(),
            last_failed_probe: None,
            probes_failed: 0,
            upnp: if upnp { Upnp::Searching } else { Upnp::Off },
            relays: BTreeMap::new(),
            listeners: HashMap::new(),
        }
    }

    /// An external address was confirmed. `why` says by whom when the event loop knows it (a
    /// probe result or UPnP event comes just before the swarm's confirmation).
    pub fn confirmed(&mut self, addr: Multiaddr, why: Confirmation) {
        if let Some(entry) = self.external.iter_mut().find(|(a, _)| *a == addr) {
            // A more specific reason wins over "the swarm said so".
            if entry.1 == Confirmation::Other {
                entry.1 = why;
            }
            return;
        }
        let why = match why {
            Confirmation::Other if is_relayed(&addr) => relay_of(&addr)
                .map(|relay| Confirmation::Relay { relay })
                .unwrap_or(Confirmation::Other),
            other => other,
        };
        self.external.push((addr, why));
    }

    /// An external address is no longer valid (mapping expired, reservation gone).
    pub fn expired(&mut self, addr: &Multiaddr) {
        self.external.retain(|(a, _)| a != addr);
    }

    /// An AutoNAT probe of `addr` failed.
    pub fn probe_failed(&mut self, addr: Multiaddr, error: String) {
        self.probes_failed += 1;
        self.last_failed_probe = Some((addr, error));
    }

    /// The router found no gateway, or one that is not on the public network.
    pub fn upnp_unavailable(&mut self, non_routable: bool) {
        self.upnp = if non_routable {
            Upnp::NonRoutable
        } else {
            Upnp::NotFound
        };
    }

    /// The router mapped a port.
    pub fn upnp_mapped(&mut self) {
        self.upnp = Upnp::Mapped;
    }

    /// Whether a direct address (not through a relay) is confirmed.
    pub fn directly_reachable(&self) -> bool {
        self.external.iter().any(|(a, _)| !is_relayed(a))
    }

    /// The confirmed external addresses, direct ones first.
    pub fn external_addrs(&self) -> Vec<Multiaddr> {
        let mut addrs: Vec<Multiaddr> = self.external.iter().map(|(a, _)| a.clone()).collect();
        crate::addresses::rank_for_dialing(&mut addrs);
        addrs
    }

    /// A peer that offers relaying identified itself, reachable at `addr` (direct, without
    /// `/p2p/`). We are connected to it right now, so an idle relay is tried at once, whatever
    /// its backoff: the failures that built the backoff were most likely the relay being away.
    pub fn relay_found(&mut self, relay: PeerId, addr: Multiaddr, now: Instant) {
        if is_relayed(&addr) {
            return;
        }
        self.relays
            .entry(relay)
            .and_modify(|r| {
                if r.state == RelayState::Idle {
                    r.addr = addr.clone();
                    r.retry_at = now;
                }
            })
            .or_insert(Relay {
                addr,
                state: RelayState::Idle,
                failures: 0,
                retry_at: now,
            });
    }

    /// The relays to reserve on now, each with the circuit address to listen on. The caller
    /// listens and reports the listener with [`reserving`](Self::reserving).
    pub fn reservations_to_make(&self, now: Instant) -> Vec<(PeerId, Multiaddr)> {
        if !self.relay_client || self.directly_reachable() {
            return Vec::new();
        }
        let active = self
            .relays
            .values()
            .filter(|r| r.state != RelayState::Idle)
            .count();
        self.relays
            .iter()
            .filter(|(_, r)| r.state == RelayState::Idle && r.retry_at <= now)
            .take(WANTED_RELAYS.saturating_sub(active))
            .map(|(peer, r)| (*peer, circuit_addr(&r.addr, *peer)))
            .collect()
    }

    /// Reservations to give back because a direct address is confirmed.
    pub fn reservations_to_drop(&self) -> Vec<ListenerId> {
        if !self.directly_reachable() {
            return Vec::new();
        }
        self.listeners.keys().copied().collect()
    }

    /// The caller listens on `relay`'s circuit address with `listener`.
    pub fn reserving(&mut self, relay: PeerId, listener: ListenerId) {
        if let Some(r) = self.relays.get_mut(&relay) {
            r.state = RelayState::Pending(listener);
            self.listeners.insert(listener, relay);
        }
    }

    /// Listening on a circuit address could not even start.
    pub fn reservation_refused(&mut self, relay: PeerId, now: Instant) {
        if let Some(r) = self.relays.get_mut(&relay) {
            back_off(r, now);
        }
    }

    /// The relay accepted our reservation.
    pub fn reserved(&mut self, relay: PeerId) {
        if let Some(r) = self.relays.get_mut(&relay)
            && let RelayState::Pending(listener) | RelayState::Reserved(listener) = r.state
        {
            r.state = RelayState::Reserved(listener);
            r.failures = 0;
        }
    }

    /// A circuit listener closed (the reservation failed, expired or its connection closed).
    /// Returns the relay it was on.
    pub fn listener_closed(&mut self, listener: ListenerId, now: Instant) -> Option<PeerId> {
        let relay = self.listeners.remove(&listener)?;
        if let Some(r) = self.relays.get_mut(&relay) {
            let was_reserved = matches!(r.state, RelayState::Reserved(_));
            if was_reserved {
                // It worked before: try again soon, without counting a failure.
                r.state = RelayState::Idle;
                r.retry_at = now + BASE_RETRY;
            } else {
                back_off(r, now);
            }
        }
        self.external
            .retain(|(_, why)| *why != Confirmation::Relay { relay });
        Some(relay)
    }

    /// Whether `listener` is one of our circuit listeners.
    pub fn is_circuit_listener(&self, listener: ListenerId) -> bool {
        self.listeners.contains_key(&listener)
    }

    /// The relays that hold a reservation for us.
    pub fn reserved_relays(&self) -> Vec<PeerId> {
        self.relays
            .iter()
            .filter(|(_, r)| matches!(r.state, RelayState::Reserved(_)))
            .map(|(peer, _)| *peer)
            .collect()
    }

    /// What the owner sees.
    pub fn view(&self) -> Reachability {
        let relays = self.reserved_relays();
        let (status, reason) = self.verdict(&relays);
        Reachability {
            status,
            reason,
            relays,
            external_addrs: self.external_addrs(),
        }
    }

    fn verdict(&self, relays: &[PeerId]) -> (ReachStatus, String) {
        let direct = |pick: fn(&Confirmation) -> bool| {
            self.external
                .iter()
                .find(|(a, why)| !is_relayed(a) && pick(why))
        };
        if let Some((addr, why)) = direct(|w| !matches!(w, Confirmation::Upnp)) {
            let reason = match why {
                Confirmation::Configured => format!("{addr} is configured as external address"),
                Confirmation::Probe { server } => {
                    format!("{server} dialed {addr} back (AutoNAT)")
                }
                Confirmation::Inbound { peer } => {
                    format!("{peer} connected to {addr} directly")
                }
                _ => format!("{addr} is confirmed reachable"),
            };
            return (ReachStatus::Public, reason);
        }
        if let Some((addr, _)) = direct(|w| matches!(w, Confirmation::Upnp)) {
            return (
                ReachStatus::Mapped,
                format!("the router forwards {addr} to this node (UPnP)"),
            );
        }
        let why_not_direct = match &self.last_failed_probe {
            Some((addr, error)) => format!(
                "not reachable directly: {} probe(s) failed, the latest of {addr}: {error}",
                self.probes_failed
            ),
            None => "no probe of a direct address has succeeded yet".to_owned(),
        };
        let router = match self.upnp {
            Upnp::NotFound => "; no UPnP router found",
            Upnp::NonRoutable => "; the UPnP router is not on the public network",
            Upnp::Off | Upnp::Searching | Upnp::Mapped => "",
        };
        if !relays.is_empty() {
            let names: Vec<String> = relays.iter().map(ToString::to_string).collect();
            return (
                ReachStatus::Relayed,
                format!(
                    "{why_not_direct}{router}; reachable through relay {}",
                    names.join(", ")
                ),
            );
        }
        let relays_hint = if !self.relay_client {
            String::new()
        } else if self.relays.is_empty() {
            "; no relay known: ask a friend with a public address to run `kith run --relay`"
                .to_owned()
        } else {
            "; reserving a slot on a relay".to_owned()
        };
        (
            ReachStatus::Unknown,
            format!("{why_not_direct}{router}{relays_hint}"),
        )
    }
}

fn back_off(r: &mut Relay, now: Instant) {
    r.failures = r.failures.saturating_add(1);
    r.state = RelayState::Idle;
    let delay = BASE_RETRY
        .saturating_mul(1 << r.failures.min(16).saturating_sub(1))
        .min(MAX_RETRY);
    r.retry_at = now + delay;
}

/// `<relay addr>/p2p/<relay>/p2p-circuit`: the address to listen on for a reservation.
pub(crate) fn circuit_addr(relay_addr: &Multiaddr, relay: PeerId) -> Multiaddr {
    let mut addr = relay_addr.clone();
    if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr.push(Protocol::P2p(relay));
    }
    addr.with(Protocol::P2pCircuit)
}

/// The relay of a circuit address: the `/p2p/` just before `/p2p-circuit`.
pub(crate) fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut last_peer = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(peer) => last_peer = Some(peer),
            Protocol::P2pCircuit => return last_peer,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    fn listener() -> ListenerId {
        ListenerId::next()
    }

    /// A member holding a reservation on a new relay: the state, the relay and its listener.
    fn reserved_member(now: Instant) -> (Reach, PeerId, ListenerId) {
        let mut reach = Reach::new(true, false, &[]);
        let relay = PeerId::random();
        reach.relay_found(relay, a("/ip4/10.0.0.1/tcp/4001"), now);
        let l = listener();
        reach.reserving(relay, l);
        reach.reserved(relay);
        (reach, relay, l)
    }

    #[test]
    fn a_member_without_direct_address_reserves_on_two_relays() {
        let now = Instant::now();
        let mut reach = Reach::new(true, true, &[]);
        assert_eq!(reach.view().status, ReachStatus::Unknown);
        assert!(reach.view().reason.contains("kith run --relay"));
        let (r1, r2, r3) = (PeerId::random(), PeerId::random(), PeerId::random());
        for r in [r1, r2, r3] {
            reach.relay_found(r, a("/ip4/10.0.0.1/tcp/4001"), now);
        }
        let wanted = reach.reservations_to_make(now);
        assert_eq!(wanted.len(), WANTED_RELAYS);
        let (relay, circuit) = &wanted[0];
        assert_eq!(relay_of(circuit), Some(*relay));
        assert!(circuit.to_string().ends_with("/p2p-circuit"));

        let l = listener();
        reach.reserving(*relay, l);
        assert_eq!(reach.reservations_to_make(now).len(), 1, "one more wanted");
        reach.reserved(*relay);
        reach.confirmed(circuit.clone(), Confirmation::Other);
        let view = reach.view();
        assert_eq!(view.status, ReachStatus::Relayed);
        assert_eq!(view.relays, vec![*relay]);
        assert!(view.reason.contains(&relay.to_string()));
    }

    #[test]
    fn a_confirmed_direct_address_makes_it_public_and_gives_relays_back() {
        let now = Instant::now();
        let (mut reach, _, l) = reserved_member(now);
        let server = PeerId::random();
        reach.confirmed(a("/ip4/10.0.0.3/tcp/4001"), Confirmation::Probe { server });
        let view = reach.view();
        assert_eq!(view.status, ReachStatus::Public);
        assert!(view.reason.contains("AutoNAT"), "{}", view.reason);
        assert!(reach.reservations_to_make(now).is_empty());
        assert_eq!(reach.reservations_to_drop(), vec![l]);
    }

    #[test]
    fn upnp_means_mapped_and_configured_means_public() {
        let mut reach = Reach::new(true, true, &[]);
        reach.upnp_mapped();
        reach.confirmed(a("/ip4/203.0.113.9/tcp/4001"), Confirmation::Upnp);
        assert_eq!(reach.view().status, ReachStatus::Mapped);
        let configured = Reach::new(true, true, &[a("/ip4/203.0.113.7/tcp/4001")]);
        assert_eq!(configured.view().status, ReachStatus::Public);
    }

    #[test]
    fn failed_reservations_back_off_and_working_ones_come_back_soon() {
        let now = Instant::now();
        let mut reach = Reach::new(true, false, &[]);
        let relay = PeerId::random();
        reach.relay_found(relay, a("/ip4/10.0.0.1/tcp/4001"), now);
        let l = listener();
        reach.reserving(relay, l);
        assert_eq!(reach.listener_closed(l, now), Some(relay));
        assert!(reach.reservations_to_make(now).is_empty(), "backing off");
        assert_eq!(reach.reservations_to_make(now + BASE_RETRY).len(), 1);

        let l = listener();
        reach.reserving(relay, l);
        reach.listener_closed(l, now);
        assert!(reach.reservations_to_make(now + BASE_RETRY).is_empty());
        assert_eq!(reach.reservations_to_make(now + BASE_RETRY * 2).len(), 1);

        let l = listener();
        reach.reserving(relay, l);
        reach.reserved(relay);
        reach.listener_closed(l, now);
        assert_eq!(
            reach.reservations_to_make(now + BASE_RETRY).len(),
            1,
            "a relay that worked is retried after the base delay"
        );
    }

    #[test]
    fn a_relay_that_comes_back_is_tried_at_once() {
        let now = Instant::now();
        let mut reach = Reach::new(true, false, &[]);
        let relay = PeerId::random();
        let addr = a("/ip4/10.0.0.1/tcp/4001");
        reach.relay_found(relay, addr.clone(), now);
        for _ in 0..6 {
            let l = listener();
            reach.reserving(relay, l);
            reach.listener_closed(l, now);
        }
        assert!(
            reach
                .reservations_to_make(now + Duration::from_secs(30))
                .is_empty()
        );
        reach.relay_found(relay, addr, now);
        assert_eq!(reach.reservations_to_make(now).len(), 1);
    }

    #[test]
    fn bootstrap_nodes_never_reserve() {
        let now = Instant::now();
        let mut reach = Reach::new(false, false, &[]);
        reach.relay_found(PeerId::random(), a("/ip4/10.0.0.1/tcp/4001"), now);
        assert!(reach.reservations_to_make(now).is_empty());
        assert!(!reach.view().reason.contains("kith run --relay"));
    }

    #[test]
    fn a_failed_probe_is_explained() {
        let mut reach = Reach::new(true, true, &[]);
        reach.probe_failed(a("/ip4/10.0.0.3/tcp/4001"), "dial failed".into());
        reach.upnp_unavailable(false);
        let view = reach.view();
        assert_eq!(view.status, ReachStatus::Unknown);
        assert!(view.reason.contains("10.0.0.3"), "{}", view.reason);
        assert!(view.reason.contains("no UPnP router"), "{}", view.reason);
    }
}
