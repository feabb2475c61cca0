//! Typed keys of the social trees, and the opaque paging [`Cursor`].
//!
//! Every layout is built from three fixed-width-or-self-delimiting parts, concatenated (`|`):
//!
//! * **id**: an [`ObjectId`], its 32 raw digest bytes;
//! * **time**: a `created_at` in unix ms, as a `u64` in big-endian, so that byte order is
//!   numeric order;
//! * **peer**: one length byte, then [`PeerId::to_bytes`] (a multihash, at most 64 bytes of
//!   digest plus its header, so the length always fits a byte). The length byte keeps one
//!   author's prefix from being a prefix of another author's keys.
//!
//! | tree                | key                         | value                         |
//! |---------------------|-----------------------------|-------------------------------|
//! | `posts_by_author`   | peer \| time \| id          | empty                         |
//! | `deletes_by_author` | peer \| time \| id          | empty                         |
//! | `timeline`          | time \| peer \| id          | empty                         |
//! | `replies`           | parent id \| time \| id     | empty                         |
//! | `likes`             | post id \| liker peer       | like id                       |
//! | `profiles`          | peer                        | time \| profile id            |
//! | `sync_cursors`      | peer                        | time \| id                    |
//! | `notifications`     | time \| id                   | kind \| peer \| [id]           |
//!
//! Every index key ends with the id it indexes ([`trailing_id`]), so a range scan yields ids
//! without decoding anything else. Point-keyed trees (`objects`, `tombstones`, `like_counts`,
//! `reply_counts`) use the raw id; `following`/`followers` use the raw peer id bytes, like the peer book.

use std::fmt;
use std::ops::Bound;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kith_protocols::ObjectId;
use libp2p::PeerId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes of an id part.
pub(crate) const ID_LEN: usize = 32;
/// Bytes of a time part.
pub(crate) const TIME_LEN: usize = 8;

/// Longest cursor accepted, in key bytes. The longest key a cursor names is a timeline key,
/// `8 + 1 + 255 + 32` bytes at the very most.
pub const MAX_CURSOR_LEN: usize = 320;

/// Appends the peer part: length byte, then the peer id's bytes.
pub(crate) fn push_peer(key: &mut Vec<u8>, peer: &PeerId) {
    let bytes = peer.to_bytes();
    let len = u8::try_from(bytes.len())
        .expect("a peer id is a multihash of at most 64 digest bytes plus a short header");
    key.push(len);
    key.extend_from_slice(&bytes);
}

/// The peer part alone: the prefix of one author's keys in `posts_by_author` and
/// `deletes_by_author`, and the whole key in `profiles` and `sync_cursors`.
pub(crate) fn peer(peer: &PeerId) -> Vec<u8> {
    let mut key = Vec::with_capacity(40);
    push_peer(&mut key, peer);
    key
}

/// `peer | time`: where an author's objects created at `created_at` start.
pub(crate) fn peer_time(author: &PeerId, created_at: u64) -> Vec<u8> {
    let mut key = peer(author);
    key.extend_from_slice(&created_at.to_be_bytes());
    key
}

/// `peer | time | id`: a `posts_by_author` or `deletes_by_author` key.
pub(crate) fn peer_time_id(author: &PeerId, created_at: u64, id: &ObjectId) -> Vec<u8> {
    let mut key = peer_time(author, created_at);
    key.extend_from_slice(id.as_bytes());
    key
}

/// `time | peer | id`: a `timeline` key.
pub(crate) fn timeline(created_at: u64, author: &PeerId, id: &ObjectId) -> Vec<u8> {
    let mut key = Vec::with_capacity(TIME_LEN + 40 + ID_LEN);
    key.extend_from_slice(&created_at.to_be_bytes());
    push_peer(&mut key, author);
    key.extend_from_slice(id.as_bytes());
    key
}

/// `parent | time | id`: a `replies` key.
pub(crate) fn reply(parent: &ObjectId, created_at: u64, id: &ObjectId) -> Vec<u8> {
    let mut key = Vec::with_capacity(ID_LEN + TIME_LEN + ID_LEN);
    key.extend_from_slice(parent.as_bytes());
    key.extend_from_slice(&created_at.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// `post | liker`: a `likes` key.
pub(crate) fn like(post: &ObjectId, liker: &PeerId) -> Vec<u8> {
    let mut key = Vec::with_capacity(ID_LEN + 40);
    key.extend_from_slice(post.as_bytes());
    push_peer(&mut key, liker);
    key
}

/// `time | id`: the value of `profiles` and `sync_cursors`.
pub(crate) fn time_id(created_at: u64, id: &ObjectId) -> [u8; TIME_LEN + ID_LEN] {
    let mut value = [0; TIME_LEN + ID_LEN];
    value[..TIME_LEN].copy_from_slice(&created_at.to_be_bytes());
    value[TIME_LEN..].copy_from_slice(id.as_bytes());
    value
}

/// `time | id`: a `notifications` key (the time is when this node recorded it, the id that of
/// the object that caused it).
pub(crate) fn notification(at_ms: u64, id: &ObjectId) -> Vec<u8> {
    time_id(at_ms, id).to_vec()
}

/// Decodes a `time | id` value; `None` if it has the wrong length.
pub(crate) fn parse_time_id(value: &[u8]) -> Option<(u64, ObjectId)> {
    if value.len() != TIME_LEN + ID_LEN {
        return None;
    }
    let (time, id) = value.split_at(TIME_LEN);
    Some((u64::from_be_bytes(time.try_into().ok()?), parse_id(id)?))
}

/// An id from exactly 32 bytes.
pub(crate) fn parse_id(bytes: &[u8]) -> Option<ObjectId> {
    Some(ObjectId::from_bytes(bytes.try_into().ok()?))
}

/// The id every index key ends with; `None` for a key too short to hold one.
pub(crate) fn trailing_id(key: &[u8]) -> Option<ObjectId> {
    key.len()
        .checked_sub(ID_LEN)
        .and_then(|start| parse_id(&key[start..]))
}

/// The parts of a `peer | time | id` key: the peer part (length byte included, undecoded), the
/// time and the id. `None` if the key does not have that shape.
pub(crate) fn split_peer_time_id(key: &[u8]) -> Option<(&[u8], u64, ObjectId)> {
    let peer_len = 1 + usize::from(*key.first()?);
    if key.len() != peer_len + TIME_LEN + ID_LEN {
        return None;
    }
    let (peer, rest) = key.split_at(peer_len);
    let (time, id) = rest.split_at(TIME_LEN);
    Some((
        peer,
        u64::from_be_bytes(time.try_into().ok()?),
        parse_id(id)?,
    ))
}

/// The `timeline` key of the post behind a `posts_by_author` key (same parts, time first).
pub(crate) fn timeline_from_author_key(key: &[u8]) -> Option<Vec<u8>> {
    let (peer, created_at, id) = split_peer_time_id(key)?;
    let mut timeline = Vec::with_capacity(key.len());
    timeline.extend_from_slice(&created_at.to_be_bytes());
    timeline.extend_from_slice(peer);
    timeline.extend_from_slice(id.as_bytes());
    Some(timeline)
}

/// The smallest key greater than every key that starts with `prefix`, or `Unbounded` if there
/// is none (the prefix is empty or all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// A key range, `(start, end)`, as sled's `range` takes it.
pub(crate) type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The keys under `prefix`, narrowed to those strictly before `before` and strictly after
/// `after`. `None` if that leaves nothing (so callers never hand sled an inverted range).
pub(crate) fn range_within(
    prefix: &[u8],
    after: Option<&[u8]>,
    before: Option<&[u8]>,
) -> Option<KeyRange> {
    let start = match after {
        Some(after) if after >= prefix => Bound::Excluded(after.to_vec()),
        _ => Bound::Included(prefix.to_vec()),
    };
    let end = match (before, prefix_end(prefix)) {
        (Some(before), Bound::Excluded(end)) if before < end.as_slice() => {
            Bound::Excluded(before.to_vec())
        }
        (Some(before), Bound::Unbounded) => Bound::Excluded(before.to_vec()),
        (_, end) => end,
    };
    let empty = match (&start, &end) {
        (Bound::Included(start) | Bound::Excluded(start), Bound::Excluded(end)) => start >= end,
        _ => false,
    };
    (!empty).then_some((start, end))
}

/// A position in a listing (timeline, an author's posts, replies), handed out with a
/// [`Page`](crate::Page) and handed back to get the next page.
///
/// It is the storage key of the last item seen, and is opaque to everyone else: it displays
/// and parses (and serializes) as unpadded base64url, the form the API hands to clients. Any
/// byte string is a valid position, so a cursor from one listing used with another is not an
/// error, it just starts somewhere in that listing.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cursor(Vec<u8>);

impl Cursor {
    /// The cursor just at `key`.
    pub(crate) fn at(key: &[u8]) -> Self {
        Cursor(key.to_vec())
    }

    /// The key the cursor stands at.
    pub(crate) fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({self})")
    }
}

/// A string that is not a cursor this store handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: {reason}")]
pub struct InvalidCursor {
    reason: &'static str,
}

impl FromStr for Cursor {
    type Err = InvalidCursor;

    /// Parses unpadded base64url of at most [`MAX_CURSOR_LEN`] bytes.
    fn from_str(s: &str) -> Result<Self, InvalidCursor> {
        // 4 characters per 3 bytes: reject the too-long before decoding anything.
        if s.len() > MAX_CURSOR_LEN.div_ceil(3) * 4 {
            return Err(InvalidCursor { reason: "too long" });
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor {
            reason: "not unpadded base64url",
        })?;
        if bytes.is_empty() || bytes.len() > MAX_CURSOR_LEN {
            return Err(InvalidCursor {
                reason: "wrong length",
            });
        }
        Ok(Cursor(bytes))
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(byte: u8) -> ObjectId {
        ObjectId::from_bytes([byte; 32])
    }

    #[test]
    fn layouts_have_the_documented_shape() {
        let author = PeerId::random();
        let author_bytes = author.to_bytes();
        let key = peer_time_id(&author, 0x0102, &id(7));
        assert_eq!(usize::from(key[0]), author_bytes.len());
        assert_eq!(&key[1..1 + author_bytes.len()], author_bytes.as_slice());
        assert_eq!(
            &key[1 + author_bytes.len()..][..TIME_LEN],
            &0x0102u64.to_be_bytes()
        );
        assert_eq!(trailing_id(&key), Some(id(7)));
        assert_eq!(
            split_peer_time_id(&key),
            Some((&key[..1 + author_bytes.len()], 0x0102, id(7)))
        );

        let timeline_key = timeline(0x0102, &author, &id(7));
        assert_eq!(&timeline_key[..TIME_LEN], &0x0102u64.to_be_bytes());
        assert_eq!(timeline_from_author_key(&key), Some(timeline_key));

        let reply_key = reply(&id(1), 5, &id(2));
        assert_eq!(reply_key.len(), ID_LEN + TIME_LEN + ID_LEN);
        assert_eq!(trailing_id(&reply_key), Some(id(2)));

        assert_eq!(parse_time_id(&time_id(9, &id(3))), Some((9, id(3))));
        assert_eq!(parse_time_id(&[0; 39]), None);
        assert_eq!(split_peer_time_id(&[]), None);
        assert_eq!(split_peer_time_id(&[3, 1, 2]), None);
        assert_eq!(trailing_id(&[1; 31]), None);
    }

    #[test]
    fn one_authors_prefix_never_covers_another_authors_keys() {
        let a = PeerId::random();
        let b = PeerId::random();
        let key_b = peer_time_id(&b, 1, &id(1));
        assert!(!key_b.starts_with(&peer(&a)));
        assert!(key_b.starts_with(&peer(&b)));
    }

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(&[1, 2]), Bound::Excluded(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xff]), Bound::Excluded(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), Bound::Unbounded);
        assert_eq!(prefix_end(&[]), Bound::Unbounded);
    }

    #[test]
    fn ranges_clamp_cursors_to_the_prefix() {
        let prefix = [5u8, 5];
        // Before the prefix starts: nothing.
        assert_eq!(range_within(&prefix, None, Some(&[5, 4, 9])), None);
        assert_eq!(range_within(&prefix, None, Some(&[5, 5])), None);
        // Past the prefix: the whole prefix.
        assert_eq!(
            range_within(&prefix, None, Some(&[9])),
            Some((Bound::Included(vec![5, 5]), Bound::Excluded(vec![5, 6])))
        );
        assert_eq!(
            range_within(&prefix, Some(&[1]), None),
            Some((Bound::Included(vec![5, 5]), Bound::Excluded(vec![5, 6])))
        );
        // After the prefix ends: nothing.
        assert_eq!(range_within(&prefix, Some(&[5, 6]), None), None);
        // Inside: narrowed.
        assert_eq!(
            range_within(&prefix, Some(&[5, 5, 1]), Some(&[5, 5, 9])),
            Some((
                Bound::Excluded(vec![5, 5, 1]),
                Bound::Excluded(vec![5, 5, 9])
            ))
        );
        assert_eq!(
            range_within(&prefix, Some(&[5, 5, 9]), Some(&[5, 5, 1])),
            None
        );
        // The empty prefix is the whole tree.
        assert_eq!(
            range_within(&[], None, None),
            Some((Bound::Included(vec![]), Bound::Unbounded))
        );
    }

    #[test]
    fn cursor_rejects_what_it_never_hands_out() {
        for bad in ["", "a", "!!!!", "AAAA=", &"A".repeat(1000)] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad:?}");
        }
        let cursor: Cursor = serde_json::from_str("\"AQID\"").unwrap();
        assert_eq!(cursor.key(), &[1, 2, 3]);
        assert!(serde_json::from_str::<Cursor>("\"%%\"").is_err());
    }

    proptest! {
        #[test]
        fn cursors_round_trip(key in proptest::collection::vec(any::<u8>(), 1..=MAX_CURSOR_LEN)) {
            let cursor = Cursor::at(&key);
            let text = cursor.to_string();
            prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            prop_assert_eq!(text.parse::<Cursor>().unwrap(), cursor.clone());
            let json = serde_json::to_string(&cursor).unwrap();
            prop_assert_eq!(serde_json::from_str::<Cursor>(&json).unwrap(), cursor);
        }

        #[test]
        fn key_order_is_time_then_author_then_id(
            t1 in any::<u64>(), t2 in any::<u64>(), i1 in any::<[u8; 32]>(), i2 in any::<[u8; 32]>()
        ) {
            let author = PeerId::random();
            let (a, b) = (ObjectId::from_bytes(i1), ObjectId::from_bytes(i2));
            prop_assert_eq!(
                timeline(t1, &author, &a).cmp(&timeline(t2, &author, &b)),
                (t1, a).cmp(&(t2, b))
            );
            prop_assert_eq!(
                peer_time_id(&author, t1, &a).cmp(&peer_time_id(&author, t2, &b)),
                (t1, a).cmp(&(t2, b))
            );
            prop_assert_eq!(
                reply(&a, t1, &b).cmp(&reply(&a, t2, &a)),
                (t1, b).cmp(&(t2, a))
            );
            let key = peer_time_id(&author, t1, &a);
            prop_assert_eq!(split_peer_time_id(&key).map(|(_, t, i)| (t, i)), Some((t1, a)));
        }
    }
}
