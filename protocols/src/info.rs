//! The node info document and the peer exchange document.
//!
//! [`NodeInfo`] is what a node answers on [`routes::info`](crate::routes::info): who it is, which
//! network and protocol version it speaks, which routes it serves and where it listens. A node
//! asks every new peer for it and keeps the peer only if [`NodeInfo::check_compatible`] passes.
//! [`PeersResponse`] is the answer of [`routes::peers`](crate::routes::peers).
//!
//! Both documents are read leniently so that nodes of different versions interoperate: unknown
//! fields are ignored, optional parts default when absent, and entries in the `routes` and
//! address lists that this version cannot parse (a route form or a multiaddr protocol from a later
//! version) are skipped instead of failing the whole document.

use std::{fmt, str::FromStr};

use kith_config::Role;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Route, Version};

/// The version of the wire contract this build speaks (routes, envelopes, framing, documents).
/// Peers must be [`protocol_compatible`] with it.
pub const PROTOCOL_VERSION: Version = Version::new(0, 1, 0);

/// Whether two protocol versions can talk to each other: the same major version, and while the
/// major version is 0, the same minor version (the rule of [`Version::is_compatible_with`], also
/// used for routes).
pub fn protocol_compatible(a: &Version, b: &Version) -> bool {
    a.is_compatible_with(b)
}

/// Longest string from a peer that is copied into an [`Incompatibility`]; a network fingerprint
/// (hex SHA-256) is 64 characters.
const MAX_REPORTED_LEN: usize = 64;

/// A node's self-description, the body of the `/public/get/info/0.0.0` response.
///
/// ```json
/// {"peer_id":"12D3KooW...","role":"member","network":"3f2a...","version":"0.1.0",
///  "protocol_version":"0.1.0","routes":["/public/get/info/0.0.0","/public/get/peers/0.0.0"],
///  "listen_addrs":["/ip4/192.168.1.20/tcp/4001"],"profile":{"display_name":"Ada"}}
/// ```
///
/// `profile` is omitted when the node has none (and read as `None` when absent); `routes` and
/// `listen_addrs` are read as empty when absent, and entries this version cannot parse are
/// skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeInfo {
    /// The node's libp2p peer id (base58 string on the wire).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub peer_id: PeerId,
    /// Whether the node is a member (a person's node) or a bootstrap node.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub role: Role,
    /// The fingerprint of the node's network key (PSK), lowercase hex. Two nodes on the same
    /// network have the same fingerprint; the key itself never leaves the node.
    pub network: String,
    /// The Kith software version, e.g. `0.1.0`.
    pub version: String,
    /// The wire contract version the node speaks (see [`PROTOCOL_VERSION`]).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub protocol_version: Version,
    /// The routes the node serves.
    #[serde(default, deserialize_with = "skip_unparseable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub routes: Vec<Route>,
    /// Addresses the node listens on or is reachable at.
    #[serde(default, deserialize_with = "skip_unparseable")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub listen_addrs: Vec<Multiaddr>,
    /// The person behind the node, if they have set a profile (member nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileSummary>,
    /// How the node can be reached. Filled in for the owner (`GET /api/v1/node`); left out of
    /// the wire answer, where `listen_addrs` already says what the caller can dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<Reachability>,
}

/// How a node can be reached from the rest of the network, and why it thinks so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reachability {
    /// The verdict.
    pub status: ReachStatus,
    /// Why, in words for the owner (which probe, which mapping, which relay).
    pub reason: String,
    /// Relays that hold a reservation for this node (it is dialled through them).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub relays: Vec<PeerId>,
    /// Addresses confirmed to reach this node: by other members' probes, the router's port
    /// mapping, the owner's configuration, or a relay reservation.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub external_addrs: Vec<Multiaddr>,
}

/// The verdict of [`Reachability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReachStatus {
    /// Others can dial one of its direct addresses: confirmed by probes or configured.
    Public,
    /// The home router forwards a port to it (UPnP).
    Mapped,
    /// Not reachable directly; others reach it through a relay.
    Relayed,
    /// Not known yet, or not reachable at all.
    Unknown,
}

impl fmt::Display for ReachStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReachStatus::Public => "public",
            ReachStatus::Mapped => "mapped",
            ReachStatus::Relayed => "relayed",
            ReachStatus::Unknown => "unknown",
        })
    }
}

impl NodeInfo {
    /// Checks that a peer with this info can join our conversation: it is on the network whose
    /// fingerprint is `expected_network` (compared ignoring ASCII case) and speaks a protocol
    /// version compatible with [`PROTOCOL_VERSION`].
    ///
    /// # Errors
    ///
    /// The first [`Incompatibility`] found, network first. A fingerprint copied into the error is
    /// cut to 64 characters, since it comes from the peer.
    pub fn check_compatible(&self, expected_network: &str) -> Result<(), Incompatibility> {
        if !self.network.eq_ignore_ascii_case(expected_network) {
            return Err(Incompatibility::OtherNetwork {
                theirs: self.network.chars().take(MAX_REPORTED_LEN).collect(),
            });
        }
        if !protocol_compatible(&self.protocol_version, &PROTOCOL_VERSION) {
            return Err(Incompatibility::ProtocolVersion {
                theirs: self.protocol_version,
            });
        }
        Ok(())
    }

    /// Whether the node says it serves a route compatible with `route` (see
    /// [`Route::compatible_with`]).
    pub fn serves(&self, route: &Route) -> bool {
        self.routes.iter().any(|r| route.compatible_with(r))
    }
}

/// Why a peer cannot be used; its `Display` form is the human-readable reason kept in the peer
/// book.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incompatibility {
    /// The peer holds a different network key. (With the private-network layer this should not
    /// get past the handshake; seeing it means a misconfigured or lying peer.)
    #[error("peer is on another network (fingerprint {theirs})")]
    OtherNetwork {
        /// The peer's network fingerprint, at most 64 characters of it.
        theirs: String,
    },
    /// The peer speaks an incompatible protocol version.
    #[error("peer speaks protocol version {theirs}, incompatible with ours ({PROTOCOL_VERSION})")]
    ProtocolVersion {
        /// The peer's protocol version.
        theirs: Version,
    },
}

/// The public summary of the person behind a node, as shown before fetching their full profile.
///
/// Every field defaults when absent and unknown fields are ignored, so fields can be added in
/// later versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ProfileSummary {
    /// The name the person chose to be shown as.
    pub display_name: String,
    /// Whether the account is locked: its posts and full profile go to approved followers only.
    /// Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

/// One peer in a [`PeersResponse`]: `{"peer_id":"12D3KooW...","addrs":["/ip4/..."],"role":"member"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerEntry {
    /// The peer's id.
    pub peer_id: PeerId,
    /// Addresses at which the answering node reached the peer (unparseable ones are skipped when
    /// reading).
    #[serde(default, deserialize_with = "skip_unparseable")]
    pub addrs: Vec<Multiaddr>,
    /// The peer's role, as last seen in its node info.
    pub role: Role,
}

/// The body of the `/public/get/peers/0.0.0` response: the callee's known good peers (peers it
/// has checked with [`NodeInfo::check_compatible`] and reached recently).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeersResponse {
    /// The peers, in no particular order.
    #[serde(default)]
    pub peers: Vec<PeerEntry>,
}

/// Deserializes a list of strings, keeping the ones that parse as `T` and skipping the others.
///
/// Used for lists whose entries may come from a later version (routes, multiaddrs with new
/// protocols): an entry we cannot name is one we cannot use, but it must not make the rest of
/// the document unreadable. Non-string entries are still an error.
pub(crate) fn skip_unparseable<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    let raw = Vec::<String>::deserialize(deserializer)?;
    Ok(raw.iter().filter_map(|s| s.parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes;

    fn peer() -> PeerId {
        // A fixed, valid Ed25519 peer id, so the JSON below is byte-exact.
        "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
            .parse()
            .unwrap()
    }

    fn info() -> NodeInfo {
        NodeInfo {
            peer_id: peer(),
            role: Role::Member,
            network: "ab12".to_owned(),
            version: "0.1.0".to_owned(),
            protocol_version: PROTOCOL_VERSION,
            routes: vec![routes::info(), routes::peers()],
            listen_addrs: vec!["/ip4/10.0.0.2/tcp/4001".parse().unwrap()],
            profile: Some(ProfileSummary {
                display_name: "Ada".to_owned(),
                locked: false,
            }),
            reachability: None,
        }
    }

    #[test]
    fn node_info_json_shape() {
        let expected = concat!(
            r#"{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","role":"member","#,
            r#""network":"ab12","version":"0.1.0","protocol_version":"0.1.0","#,
            r#""routes":["/public/get/info/0.0.0","/public/get/peers/0.0.0"],"#,
            r#""listen_addrs":["/ip4/10.0.0.2/tcp/4001"],"profile":{"display_name":"Ada"}}"#
        );
        assert_eq!(serde_json::to_string(&info()).unwrap(), expected);
        assert_eq!(serde_json::from_str::<NodeInfo>(expected).unwrap(), info());
    }

    #[test]
    fn node_info_is_read_leniently() {
        let json = concat!(
            r#"{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","role":"bootstrap","#,
            r#""network":"ab12","version":"9.9.9","protocol_version":"0.1.3","#,
            r#""routes":["/public/get/info/0.0.0","/public/get/info/v2","/public/get/peers/0.0.0"],"#,
            r#""listen_addrs":["/ip4/10.0.0.2/tcp/4001","/unknown-proto/1"],"#,
            r#""new_field":{"x":1}}"#
        );
        let parsed: NodeInfo = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.role, Role::Bootstrap);
        assert_eq!(parsed.routes, vec![routes::info(), routes::peers()]);
        assert_eq!(parsed.listen_addrs.len(), 1);
        assert_eq!(parsed.profile, None);
        assert!(parsed.serves(&routes::peers()));
        assert!(!parsed.serves(&routes::posts()));

        // Without a profile, the field is left out.
        assert!(!serde_json::to_string(&parsed).unwrap().contains("profile"));

        let minimal = concat!(
            r#"{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","role":"member","#,
            r#""network":"ab12","version":"0.1.0","protocol_version":"0.1.0","profile":{}}"#
        );
        let parsed: NodeInfo = serde_json::from_str(minimal).unwrap();
        assert!(parsed.routes.is_empty() && parsed.listen_addrs.is_empty());
        assert_eq!(parsed.profile, Some(ProfileSummary::default()));

        // Required fields stay required; bad ids and versions are errors.
        assert!(serde_json::from_str::<NodeInfo>(r#"{"role":"member"}"#).is_err());
        let bad_peer = minimal.replace("12D3KooW", "xx");
        assert!(serde_json::from_str::<NodeInfo>(&bad_peer).is_err());
        let bad_version =
            minimal.replace(r#""protocol_version":"0.1.0""#, r#""protocol_version":"1""#);
        assert!(serde_json::from_str::<NodeInfo>(&bad_version).is_err());
    }

    #[test]
    fn compatibility_checks() {
        let mut i = info();
        assert_eq!(i.check_compatible("ab12"), Ok(()));
        assert_eq!(i.check_compatible("AB12"), Ok(()));

        let err = i.check_compatible("cd34").unwrap_err();
        assert_eq!(
            err,
            Incompatibility::OtherNetwork {
                theirs: "ab12".to_owned()
            }
        );
        assert_eq!(
            err.to_string(),
            "peer is on another network (fingerprint ab12)"
        );

        i.protocol_version = Version::new(0, 1, 99);
        assert_eq!(i.check_compatible("ab12"), Ok(()));
        i.protocol_version = Version::new(0, 2, 0);
        let err = i.check_compatible("ab12").unwrap_err();
        assert_eq!(
            err.to_string(),
            "peer speaks protocol version 0.2.0, incompatible with ours (0.1.0)"
        );
        // The network is checked first.
        assert!(matches!(
            i.check_compatible("other"),
            Err(Incompatibility::OtherNetwork { .. })
        ));

        i.network = "f".repeat(10_000);
        match i.check_compatible("ab12") {
            Err(Incompatibility::OtherNetwork { theirs }) => assert_eq!(theirs.len(), 64),
            other => panic!("expected OtherNetwork, got {other:?}"),
        }
    }

    #[test]
    fn protocol_compatibility_rule() {
        assert!(protocol_compatible(
            &Version::new(0, 1, 0),
            &Version::new(0, 1, 5)
        ));
        assert!(!protocol_compatible(
            &Version::new(0, 1, 0),
            &Version::new(0, 2, 0)
        ));
        assert!(!protocol_compatible(
            &Version::new(0, 1, 0),
            &Version::new(1, 1, 0)
        ));
        assert!(protocol_compatible(
            &Version::new(2, 0, 0),
            &Version::new(2, 7, 1)
        ));
    }

    #[test]
    fn peers_response_json_shape() {
        let resp = PeersResponse {
            peers: vec![PeerEntry {
                peer_id: peer(),
                addrs: vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()],
                role: Role::Bootstrap,
            }],
        };
        let expected = concat!(
            r#"{"peers":[{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","#,
            r#""addrs":["/ip4/127.0.0.1/tcp/4001"],"role":"bootstrap"}]}"#
        );
        assert_eq!(serde_json::to_string(&resp).unwrap(), expected);
        assert_eq!(
            serde_json::from_str::<PeersResponse>(expected).unwrap(),
            resp
        );
        assert_eq!(
            serde_json::from_str::<PeersResponse>("{}").unwrap(),
            PeersResponse::default()
        );
        assert!(serde_json::from_str::<PeersResponse>(r#"{"peers":[{"role":"member"}]}"#).is_err());
    }
}
