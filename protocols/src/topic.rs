//! Gossipsub topic names and the network announcement.
//!
//! Two kinds of topic exist:
//! - [`NETWORK_TOPIC`] (`kith/v1/network`): every node subscribes and periodically publishes an
//!   [`Announcement`] so that others can find and dial it.
//! - [`user_topic`] (`kith/v1/user/<peer_id>`): carries one author's signed objects; their
//!   followers subscribe.
//!
//! Gossip data comes from any peer on the network, so [`Announcement::decode`] bounds the size and
//! the number of addresses before trusting anything in it.

use kith_config::Role;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::{Error, now_unix_ms};

/// The topic every node subscribes to for network-wide [`Announcement`]s.
pub const NETWORK_TOPIC: &str = "kith/v1/network";

/// The prefix of per-author topics; the author's base58 peer id follows.
const USER_TOPIC_PREFIX: &str = "kith/v1/user/";

/// Largest announcement accepted or produced, in bytes of JSON: 16 KiB.
pub const MAX_ANNOUNCEMENT_LEN: usize = 16 * 1024;

/// Most addresses an announcement may list.
pub const MAX_ANNOUNCEMENT_ADDRS: usize = 32;

/// The topic carrying `peer`'s signed objects: `kith/v1/user/<base58 peer id>`.
pub fn user_topic(peer: &PeerId) -> String {
    format!("{USER_TOPIC_PREFIX}{peer}")
}

/// The author of a per-author topic, or `None` if `topic` is not one (the inverse of
/// [`user_topic`]).
pub fn parse_user_topic(topic: &str) -> Option<PeerId> {
    let peer: PeerId = topic.strip_prefix(USER_TOPIC_PREFIX)?.parse().ok()?;
    // Only the canonical spelling names the topic: gossipsub compares topics as strings.
    (user_topic(&peer) == topic).then_some(peer)
}

/// What a node publishes on [`NETWORK_TOPIC`] so that others can find it:
/// `{"peer_id":"12D3KooW...","role":"member","addrs":["/ip4/..."],"ts":1700000000000}`.
///
/// Read it with [`Announcement::decode`], which enforces [`MAX_ANNOUNCEMENT_LEN`] and
/// [`MAX_ANNOUNCEMENT_ADDRS`]; deserializing through serde enforces the address limit too.
/// Addresses this version cannot parse are skipped; unknown fields are ignored.
///
/// The announcement is not signed by itself: gossipsub runs in signed mode, so the message's
/// `source` is authenticated, and the receiver must check that it equals `peer_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAnnouncement")]
pub struct Announcement {
    /// The announcing node.
    pub peer_id: PeerId,
    /// Its role.
    pub role: Role,
    /// Where it can be dialled.
    pub addrs: Vec<Multiaddr>,
    /// When it was published, in milliseconds since the Unix epoch.
    pub ts: u64,
}

/// The announcement as it arrives, before limits are checked and addresses parsed.
#[derive(Deserialize)]
struct RawAnnouncement {
    peer_id: PeerId,
    role: Role,
    #[serde(default)]
    addrs: Vec<String>,
    ts: u64,
}

impl TryFrom<RawAnnouncement> for Announcement {
    type Error = Error;

    fn try_from(raw: RawAnnouncement) -> Result<Self, Error> {
        if raw.addrs.len() > MAX_ANNOUNCEMENT_ADDRS {
            return Err(Error::TooManyAddrs {
                count: raw.addrs.len(),
                max: MAX_ANNOUNCEMENT_ADDRS,
            });
        }
        Ok(Announcement {
            peer_id: raw.peer_id,
            role: raw.role,
            addrs: raw.addrs.iter().filter_map(|a| a.parse().ok()).collect(),
            ts: raw.ts,
        })
    }
}

impl Announcement {
    /// An announcement stamped with the current time.
    pub fn new(peer_id: PeerId, role: Role, addrs: Vec<Multiaddr>) -> Self {
        Announcement {
            peer_id,
            role,
            addrs,
            ts: now_unix_ms(),
        }
    }

    /// Parses gossip message data.
    ///
    /// # Errors
    ///
    /// [`Error::AnnouncementTooLarge`] if `data` is longer than [`MAX_ANNOUNCEMENT_LEN`] (checked
    /// before parsing), [`Error::TooManyAddrs`] if it lists more than [`MAX_ANNOUNCEMENT_ADDRS`]
    /// addresses, [`Error::InvalidAnnouncement`] if it is not an announcement.
    pub fn decode(data: &[u8]) -> Result<Self, Error> {
        if data.len() > MAX_ANNOUNCEMENT_LEN {
            return Err(Error::AnnouncementTooLarge {
                len: data.len(),
                max: MAX_ANNOUNCEMENT_LEN,
            });
        }
        let raw: RawAnnouncement =
            serde_json::from_slice(data).map_err(Error::InvalidAnnouncement)?;
        Announcement::try_from(raw)
    }

    /// Serializes the announcement for publishing, checking the limits [`Announcement::decode`]
    /// enforces so that nothing is published that peers would reject.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyAddrs`] or [`Error::AnnouncementTooLarge`].
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.addrs.len() > MAX_ANNOUNCEMENT_ADDRS {
            return Err(Error::TooManyAddrs {
                count: self.addrs.len(),
                max: MAX_ANNOUNCEMENT_ADDRS,
            });
        }
        let data = serde_json::to_vec(self)
            .expect("an announcement holds only strings, a unit enum and a number");
        if data.len() > MAX_ANNOUNCEMENT_LEN {
            return Err(Error::AnnouncementTooLarge {
                len: data.len(),
                max: MAX_ANNOUNCEMENT_LEN,
            });
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    fn peer() -> PeerId {
        PEER.parse().unwrap()
    }

    #[test]
    fn topic_names() {
        assert_eq!(NETWORK_TOPIC, "kith/v1/network");
        assert_eq!(user_topic(&peer()), format!("kith/v1/user/{PEER}"));
        assert_eq!(parse_user_topic(&user_topic(&peer())), Some(peer()));
        assert_eq!(parse_user_topic(NETWORK_TOPIC), None);
        assert_eq!(parse_user_topic("kith/v1/user/"), None);
        assert_eq!(parse_user_topic("kith/v1/user/notapeer"), None);
        assert_eq!(parse_user_topic(&format!("kith/v2/user/{PEER}")), None);
        assert_eq!(parse_user_topic(&format!("kith/v1/user/{PEER}/x")), None);
    }

    #[test]
    fn announcement_json_shape_and_round_trip() {
        let a = Announcement {
            peer_id: peer(),
            role: Role::Member,
            addrs: vec![
                "/ip4/192.168.1.20/tcp/4001".parse().unwrap(),
                "/dns4/example.org/tcp/4001".parse().unwrap(),
            ],
            ts: 1_700_000_000_000,
        };
        let expected = format!(
            r#"{{"peer_id":"{PEER}","role":"member","addrs":["/ip4/192.168.1.20/tcp/4001","/dns4/example.org/tcp/4001"],"ts":1700000000000}}"#
        );
        let data = a.encode().unwrap();
        assert_eq!(std::str::from_utf8(&data).unwrap(), expected);
        assert_eq!(Announcement::decode(&data).unwrap(), a);
        assert_eq!(serde_json::from_str::<Announcement>(&expected).unwrap(), a);
    }

    #[test]
    fn announcement_new_stamps_time() {
        let before = now_unix_ms();
        let a = Announcement::new(peer(), Role::Bootstrap, Vec::new());
        assert!(a.ts >= before && a.ts <= now_unix_ms());
    }

    #[test]
    fn decode_is_lenient_about_unknown_things() {
        let json = format!(
            r#"{{"v":2,"peer_id":"{PEER}","role":"bootstrap","addrs":["/ip4/1.2.3.4/tcp/1","/future-proto/x"],"ts":1}}"#
        );
        let a = Announcement::decode(json.as_bytes()).unwrap();
        assert_eq!(a.role, Role::Bootstrap);
        assert_eq!(
            a.addrs,
            vec!["/ip4/1.2.3.4/tcp/1".parse::<Multiaddr>().unwrap()]
        );
    }

    #[test]
    fn decode_enforces_limits() {
        let addr = "\"/ip4/1.2.3.4/tcp/1\"";
        let with_addrs = |n: usize| {
            format!(
                r#"{{"peer_id":"{PEER}","role":"member","addrs":[{}],"ts":1}}"#,
                vec![addr; n].join(",")
            )
        };
        assert_eq!(
            Announcement::decode(with_addrs(32).as_bytes())
                .unwrap()
                .addrs
                .len(),
            32
        );
        assert!(matches!(
            Announcement::decode(with_addrs(33).as_bytes()),
            Err(Error::TooManyAddrs { count: 33, max: 32 })
        ));
        assert!(serde_json::from_str::<Announcement>(&with_addrs(33)).is_err());

        let mut big = with_addrs(1).into_bytes();
        big.truncate(big.len() - 1);
        big.extend_from_slice(br#","pad":""#);
        big.resize(MAX_ANNOUNCEMENT_LEN + 1 - 2, b'x');
        big.extend_from_slice(br#""}"#);
        assert_eq!(big.len(), MAX_ANNOUNCEMENT_LEN + 1);
        assert!(matches!(
            Announcement::decode(&big),
            Err(Error::AnnouncementTooLarge { len, max: MAX_ANNOUNCEMENT_LEN }) if len == MAX_ANNOUNCEMENT_LEN + 1
        ));
        // One byte less is accepted: the limit is inclusive.
        big.remove(big.len() - 3);
        assert!(Announcement::decode(&big).is_ok());
    }

    #[test]
    fn decode_rejects_garbage() {
        for bad in [
            &b""[..],
            b"null",
            b"\xff\xfe",
            br#"{"peer_id":"nope","role":"member","addrs":[],"ts":1}"#,
            br#"{"role":"member","addrs":[],"ts":1}"#,
            br#"{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","role":"relay","addrs":[],"ts":1}"#,
            br#"{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","role":"member","addrs":[],"ts":-1}"#,
            br#"{"peer_id":"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA","role":"member","addrs":[1],"ts":1}"#,
        ] {
            assert!(
                matches!(Announcement::decode(bad), Err(Error::InvalidAnnouncement(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn encode_enforces_limits() {
        let addr: Multiaddr = "/ip4/1.2.3.4/tcp/1".parse().unwrap();
        let a = Announcement {
            peer_id: peer(),
            role: Role::Member,
            addrs: vec![addr; 33],
            ts: 1,
        };
        assert!(matches!(
            a.encode(),
            Err(Error::TooManyAddrs { count: 33, max: 32 })
        ));
    }
}
