//! What search reads: a bounded scan of the home timeline, and every stored profile.
//!
//! There is no text index. A node holds the posts of the people its owner follows, so a scan
//! of the newest part of the timeline answers what people actually look for, at a cost that is
//! known in advance: [`Social::scan_timeline`] walks the `timeline` tree newest first and
//! examines at most `budget` entries (each a key plus one object read), then reports whether
//! older entries were left unexamined ([`TimelineScan::budget_exhausted`]), so the caller can
//! say that the answer may be incomplete. What "matches" means is the caller's rule (the
//! node's search service), handed in as a predicate: this module only walks.
//!
//! [`Social::profiles`] lists the newest stored profile of every author, for matching people by
//! name. Like the follow lists it reads the whole tree: a node knows the people of its
//! network, not millions.

use kith_protocols::SignedObject;
use libp2p::PeerId;

use super::{Social, keys};
use crate::batch::TreeName;
use crate::error::Result;

/// What [`Social::scan_timeline`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineScan {
    /// The matching posts, newest first, at most the scan's `limit`.
    pub items: Vec<SignedObject>,
    /// Whether the scan stopped because it had examined `budget` entries while older ones
    /// remained: older posts were not looked at. `false` when it reached the oldest entry or
    /// found `limit` matches first.
    pub budget_exhausted: bool,
}

impl Social {
    /// Walks the home timeline newest first and keeps the posts `matches` accepts, until it
    /// has `limit` of them, has examined `budget` timeline entries, or reaches the oldest.
    ///
    /// Every entry examined counts against the budget, matching or not (and also one whose
    /// object is missing, which is skipped and logged), so the cost is bounded by `budget`
    /// object reads whatever the predicate does.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if a read failed.
    pub fn scan_timeline<F>(
        &self,
        budget: usize,
        limit: usize,
        mut matches: F,
    ) -> Result<TimelineScan>
    where
        F: FnMut(&SignedObject) -> bool,
    {
        let mut scan = TimelineScan {
            items: Vec::new(),
            budget_exhausted: false,
        };
        if limit == 0 {
            return Ok(scan);
        }
        for (examined, entry) in self.tree(TreeName::Timeline).iter().rev().enumerate() {
            let (key, _) = entry?;
            if examined == budget {
                scan.budget_exhausted = true;
                break;
            }
            let Some(object) = self.listed(TreeName::Timeline, &key)? else {
                continue;
            };
            if matches(&object) {
                scan.items.push(object);
                if scan.items.len() == limit {
                    break;
                }
            }
        }
        Ok(scan)
    }

    /// The newest stored profile of every author, in key order. Entries that do not decode
    /// are skipped and logged.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if a read failed.
    pub fn profiles(&self) -> Result<Vec<(PeerId, SignedObject)>> {
        let mut profiles = Vec::new();
        for entry in self.tree(TreeName::Profiles).iter() {
            let (key, value) = entry?;
            let Some(peer) = peer_of_key(&key) else {
                tracing::warn!("skipping a profile entry whose key is not a peer");
                continue;
            };
            let Some((_, id)) = keys::parse_time_id(&value) else {
                tracing::warn!(%peer, "skipping a corrupt profile index value");
                continue;
            };
            match self.get(&id) {
                Ok(Some(object)) => profiles.push((peer, object)),
                Ok(None) => {
                    tracing::warn!(%peer, %id, "skipping a profile whose object is missing")
                }
                Err(crate::Error::Corrupt { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(profiles)
    }
}

/// The peer a `profiles` key names (its whole key is the peer part).
fn peer_of_key(key: &[u8]) -> Option<PeerId> {
    let (len, bytes) = key.split_first()?;
    if bytes.len() != usize::from(*len) {
        return None;
    }
    PeerId::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use kith_protocols::{Content, PostContent, Profile};
    use libp2p::identity::Keypair;

    use crate::Store;

    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 8 << 20).unwrap();
        (dir, store)
    }

    fn post(keypair: &Keypair, created_at: u64, text: &str) -> SignedObject {
        SignedObject::create(keypair, created_at, Content::Post(PostContent::new(text))).unwrap()
    }

    fn text(object: &SignedObject) -> &str {
        match object.content() {
            Content::Post(post) => &post.text,
            other => panic!("not a post: {other:?}"),
        }
    }

    /// `n` posts "post 0" .. "post n-1" by one author, one ms apart, all on the timeline.
    async fn timeline_of(social: &Social, n: u64) -> Keypair {
        let author = Keypair::generate_ed25519();
        for i in 0..n {
            let object = post(&author, T0 + i, &format!("post {i}"));
            assert!(social.insert(&object, true).await.unwrap().is_stored());
        }
        author
    }

    fn texts(scan: &TimelineScan) -> Vec<&str> {
        scan.items.iter().map(text).collect()
    }

    #[tokio::test]
    async fn scans_newest_first_and_keeps_what_the_predicate_accepts() {
        let (_dir, store) = open();
        let social = store.social();
        timeline_of(&social, 10).await;
        // A post stored off the timeline (a stranger's reply, say) is not scanned.
        let stranger = Keypair::generate_ed25519();
        social
            .insert(&post(&stranger, T0 + 100, "post 100"), false)
            .await
            .unwrap();

        let even = social
            .scan_timeline(100, 100, |object| {
                text(object)
                    .trim_start_matches("post ")
                    .parse::<u32>()
                    .is_ok_and(|n| n % 2 == 0)
            })
            .unwrap();
        assert_eq!(
            texts(&even),
            ["post 8", "post 6", "post 4", "post 2", "post 0"]
        );
        assert!(!even.budget_exhausted, "the whole timeline was examined");

        let none = social.scan_timeline(100, 100, |_| false).unwrap();
        assert!(none.items.is_empty());
        assert!(!none.budget_exhausted);
    }

    #[tokio::test]
    async fn stops_at_the_limit_without_calling_it_truncated() {
        let (_dir, store) = open();
        let social = store.social();
        timeline_of(&social, 10).await;
        let mut calls = 0;
        let scan = social
            .scan_timeline(100, 3, |_| {
                calls += 1;
                true
            })
            .unwrap();
        assert_eq!(texts(&scan), ["post 9", "post 8", "post 7"]);
        assert_eq!(calls, 3, "nothing is examined beyond the limit");
        assert!(!scan.budget_exhausted);
        assert!(
            social
                .scan_timeline(100, 0, |_| true)
                .unwrap()
                .items
                .is_empty()
        );
    }

    #[tokio::test]
    async fn the_budget_bounds_what_is_examined_and_says_so() {
        let (_dir, store) = open();
        let social = store.social();
        timeline_of(&social, 10).await;

        let mut calls = 0;
        let scan = social
            .scan_timeline(4, 100, |object| {
                calls += 1;
                text(object) == "post 0"
            })
            .unwrap();
        assert_eq!(calls, 4, "only the newest 4 entries are examined");
        assert!(scan.items.is_empty(), "the match lies beyond the budget");
        assert!(scan.budget_exhausted);

        // A budget that exactly covers the timeline examines everything and is not exhausted.
        let scan = social
            .scan_timeline(10, 100, |object| text(object) == "post 0")
            .unwrap();
        assert_eq!(texts(&scan), ["post 0"]);
        assert!(!scan.budget_exhausted);

        // A zero budget on a non-empty timeline examines nothing, and says so.
        let scan = social.scan_timeline(0, 100, |_| true).unwrap();
        assert!(scan.items.is_empty());
        assert!(scan.budget_exhausted);

        // On an empty timeline nothing is left over.
        let (_dir2, empty) = open();
        let scan = empty.social().scan_timeline(0, 100, |_| true).unwrap();
        assert!(!scan.budget_exhausted);
    }

    #[tokio::test]
    async fn deleted_posts_are_not_scanned() {
        let (_dir, store) = open();
        let social = store.social();
        let author = Keypair::generate_ed25519();
        let gone = post(&author, T0, "jacquard loom");
        social.insert(&gone, true).await.unwrap();
        let delete =
            SignedObject::create(&author, T0 + 1, Content::Delete { target: gone.id() }).unwrap();
        social.insert(&delete, true).await.unwrap();
        let scan = social.scan_timeline(100, 100, |_| true).unwrap();
        assert!(scan.items.is_empty(), "{:?}", texts(&scan));
    }

    #[tokio::test]
    async fn lists_the_newest_profile_of_every_author() {
        let (_dir, store) = open();
        let social = store.social();
        assert!(social.profiles().unwrap().is_empty());
        let (ada, grace) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let profile = |keypair: &Keypair, at: u64, name: &str| {
            let profile = Profile {
                display_name: name.to_owned(),
                ..Profile::default()
            };
            SignedObject::create(keypair, at, Content::Profile(profile)).unwrap()
        };
        for object in [
            profile(&ada, T0, "Ada"),
            profile(&ada, T0 + 1, "Ada Lovelace"),
            profile(&grace, T0, "Grace"),
        ] {
            social.insert(&object, false).await.unwrap();
        }
        let mut listed: Vec<(PeerId, String)> = social
            .profiles()
            .unwrap()
            .into_iter()
            .map(|(peer, object)| {
                assert_eq!(object.author(), peer);
                match object.content() {
                    Content::Profile(profile) => (peer, profile.display_name.clone()),
                    other => panic!("not a profile: {other:?}"),
                }
            })
            .collect();
        listed.sort();
        let mut expected = vec![
            (ada.public().to_peer_id(), "Ada Lovelace".to_owned()),
            (grace.public().to_peer_id(), "Grace".to_owned()),
        ];
        expected.sort();
        assert_eq!(listed, expected);
    }

    #[test]
    fn profile_keys_decode_to_their_peer() {
        let peer = PeerId::random();
        assert_eq!(peer_of_key(&keys::peer(&peer)), Some(peer));
        assert_eq!(peer_of_key(&[]), None);
        assert_eq!(peer_of_key(&[5, 1, 2]), None);
    }
}
