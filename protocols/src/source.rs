//! Where a node learned about a peer.
//!
//! Every discovery path (mDNS, the DHT, gossip announcements, inbound connections, identify, configured
//! bootstrap peers, the stored peer book, a manual dial) feeds the same peer-found pipeline, tagged
//! with a [`PeerSource`]. The tag is kept in the peer book and shown in the HTTP API and the UI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// How a peer was found. Serialized and displayed as a lowercase word (`mdns`, `peerbook`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerSource {
    /// LAN multicast discovery (`mdns`).
    Mdns,
    /// The Kademlia DHT (`dht`).
    Dht,
    /// An announcement on the network gossip topic (`gossip`).
    Gossip,
    /// The peer connected to us (`inbound`).
    Inbound,
    /// Addresses a connected peer reported about itself through identify (`identify`).
    Identify,
    /// A configured or invite-provided bootstrap peer (`bootstrap`).
    Bootstrap,
    /// Remembered from an earlier run (`peerbook`).
    PeerBook,
    /// Dialled on the owner's request (`manual`).
    Manual,
}

impl PeerSource {
    /// Every source, in declaration order.
    pub const ALL: &'static [PeerSource] = &[
        PeerSource::Mdns,
        PeerSource::Dht,
        PeerSource::Gossip,
        PeerSource::Inbound,
        PeerSource::Identify,
        PeerSource::Bootstrap,
        PeerSource::PeerBook,
        PeerSource::Manual,
    ];

    /// The wire name, e.g. `"peerbook"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PeerSource::Mdns => "mdns",
            PeerSource::Dht => "dht",
            PeerSource::Gossip => "gossip",
            PeerSource::Inbound => "inbound",
            PeerSource::Identify => "identify",
            PeerSource::Bootstrap => "bootstrap",
            PeerSource::PeerBook => "peerbook",
            PeerSource::Manual => "manual",
        }
    }
}

impl fmt::Display for PeerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeerSource {
    type Err = Error;

    /// Parses the exact lowercase wire name.
    fn from_str(s: &str) -> Result<Self, Error> {
        PeerSource::ALL
            .iter()
            .copied()
            .find(|source| source.as_str() == s)
            .ok_or_else(|| Error::UnknownName {
                kind: "peer source",
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact_and_consistent() {
        let expected = [
            (PeerSource::Mdns, "mdns"),
            (PeerSource::Dht, "dht"),
            (PeerSource::Gossip, "gossip"),
            (PeerSource::Inbound, "inbound"),
            (PeerSource::Identify, "identify"),
            (PeerSource::Bootstrap, "bootstrap"),
            (PeerSource::PeerBook, "peerbook"),
            (PeerSource::Manual, "manual"),
        ];
        assert_eq!(PeerSource::ALL.len(), expected.len());
        for (source, name) in expected {
            assert_eq!(source.to_string(), name);
            assert_eq!(name.parse::<PeerSource>().unwrap(), source);
            assert_eq!(
                serde_json::to_string(&source).unwrap(),
                format!("\"{name}\"")
            );
            assert_eq!(
                serde_json::from_str::<PeerSource>(&format!("\"{name}\"")).unwrap(),
                source
            );
        }
        for bad in ["", "peer-book", "PeerBook", "Mdns", "relay"] {
            assert!(bad.parse::<PeerSource>().is_err(), "{bad:?}");
            assert!(serde_json::from_str::<PeerSource>(&format!("\"{bad}\"")).is_err());
        }
    }
}
