//! The bodies of the social routes: pull sync and reconciliation (`/public/get/posts`), profiles,
//! follows and direct delivery.
//!
//! Signed objects travel inside these bodies as plain JSON objects (`serde_json::Value`), not as
//! strings: a receiver re-serializes each one and runs [`SignedObject::verify`] on it, which
//! checks the signature over the RFC 8785 canonical form, so the spelling a relay chose does not
//! matter. Nothing a peer sends is trusted before that check.
//!
//! [`SignedObject::verify`]: crate::SignedObject::verify

use serde::{Deserialize, Serialize};

use crate::ObjectId;

/// Most items one sync page asks for or returns.
pub const MAX_SYNC_PAGE: u32 = 1000;
/// Most ranges one digest request may name.
pub const MAX_DIGEST_RANGES: usize = 64;
/// Most ids one `ids` answer lists, and most ids one `objects` request may name.
pub const MAX_SYNC_IDS: usize = 1024;
/// Bytes of objects a server puts in one answer at most (then it says `more`), well below the
/// 1 MiB frame limit so that the envelope always fits.
pub const MAX_SYNC_BYTES: usize = 768 * 1024;

/// A position in an author's posts: `(created_at, id)`, excluded from what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    /// The post's `created_at` (unix ms).
    pub created_at: u64,
    /// The post's id.
    pub id: ObjectId,
}

/// A half-open range of `created_at` times, `from_ms <= created_at < to_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    /// First time included (unix ms).
    pub from_ms: u64,
    /// First time excluded (unix ms).
    pub to_ms: u64,
}

impl TimeRange {
    /// Whether the range holds no time at all.
    pub fn is_empty(&self) -> bool {
        self.from_ms >= self.to_ms
    }

    /// Splits the range into at most `parts` consecutive ranges of (nearly) equal width that
    /// cover it exactly; a range narrower than `parts` ms splits into 1 ms ranges.
    pub fn split(&self, parts: u64) -> Vec<TimeRange> {
        if self.is_empty() || parts == 0 {
            return Vec::new();
        }
        let width = (self.to_ms - self.from_ms).div_ceil(parts).max(1);
        let mut ranges = Vec::new();
        let mut from = self.from_ms;
        while from < self.to_ms {
            let to = from.saturating_add(width).min(self.to_ms);
            ranges.push(TimeRange {
                from_ms: from,
                to_ms: to,
            });
            from = to;
        }
        ranges
    }
}

/// The digest of an author's posts in a [`TimeRange`]: how many, and the XOR of their ids.
/// Two nodes holding the same posts in a range compute the same digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeDigest {
    /// How many posts.
    pub count: u64,
    /// XOR of their ids, as lowercase hex.
    #[serde(with = "hex_digest")]
    pub xor: [u8; 32],
}

/// The request body of `/public/get/posts/0.0.0`: one of four questions about the callee's own
/// posts, tagged by `"mode"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum PostsRequest {
    /// Incremental pull: posts after `after` (all when `None`), oldest first, plus the deletes
    /// made after `after`'s time. `{"mode":"since","after":{...}|null,"limit":500}`.
    Since {
        /// Where the caller's cursor stands.
        after: Option<Position>,
        /// Most posts wanted (at most [`MAX_SYNC_PAGE`]).
        limit: u32,
    },
    /// Reconciliation, step 1: the digest of each range. `{"mode":"digests","ranges":[...]}`.
    Digests {
        /// At most [`MAX_DIGEST_RANGES`] ranges.
        ranges: Vec<TimeRange>,
    },
    /// Reconciliation, step 2: the ids of the posts in one (small) range.
    /// `{"mode":"ids","range":{...}}`.
    Ids {
        /// The range.
        range: TimeRange,
    },
    /// Reconciliation, step 3: these objects by id. For an id the callee deleted, the answer
    /// holds its delete instead, so a follower that kept a deleted post learns why it differs.
    /// `{"mode":"objects","ids":[...]}`.
    Objects {
        /// At most [`MAX_SYNC_IDS`] ids.
        ids: Vec<ObjectId>,
    },
}

/// The response body of `/public/get/posts/0.0.0`, by request mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PostsResponse {
    /// For `since` and `objects`: signed objects, and whether more follow (`since` only).
    Objects(ObjectsPage),
    /// For `digests`: one digest per requested range, in order.
    Digests {
        /// The digests.
        digests: Vec<RangeDigest>,
    },
    /// For `ids`: the ids in the range, oldest first, and whether the range held more than
    /// [`MAX_SYNC_IDS`] (then the caller splits it).
    Ids {
        /// The ids.
        ids: Vec<ObjectId>,
        /// Whether the list was cut short.
        more: bool,
    },
}

/// A list of signed objects and whether there are more where they came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectsPage {
    /// Signed objects, each a JSON object to verify.
    pub objects: Vec<serde_json::Value>,
    /// Whether the listing goes on (ask again from the last item).
    #[serde(default)]
    pub more: bool,
    /// For paged listings ([`TimelineRequest`]): the cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The response body of `/public/get/profile/0.0.0`: `{"object": <signed profile> | null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResponse {
    /// The callee's newest signed profile, if it has one.
    pub object: Option<serde_json::Value>,
}

/// The request body of `/public/post/follow/0.0.0`: `{"object": <signed follow or unfollow>}`,
/// authored by the caller, targeting the callee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowBody {
    /// The signed follow or unfollow.
    pub object: serde_json::Value,
}

/// Where a follow stands, as the followee tells the follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FollowOutcome {
    /// The follow is in effect.
    Active,
    /// The account is locked: the request waits for its owner.
    Requested,
    /// The follow was rejected, or undone by an unfollow.
    Removed,
}

/// The response body of `/public/post/follow/0.0.0`: `{"status":"active"|"requested"|"removed"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowReply {
    /// Where the caller's follow of the callee stands now.
    pub status: FollowOutcome,
}

/// The request body of `/public/post/follow/decision/0.0.0`:
/// `{"status":"active"|"removed"}`. The caller is the followee; only a follower with a pending
/// request to it acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowDecision {
    /// `active` when approved, `removed` when rejected.
    pub status: FollowOutcome,
}

/// The request body of `/public/post/objects/0.0.0`: `{"objects":[...]}`, each authored by the
/// caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectsBody {
    /// Signed objects of the caller's own (at most [`MAX_SYNC_IDS`]).
    pub objects: Vec<serde_json::Value>,
}

/// The response body of `/public/post/objects/0.0.0`: how many objects were new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectsReply {
    /// Objects stored (not duplicates, not refused).
    pub stored: u32,
}

/// The request body of `/private/get/timeline/0.0.0`: `{"limit":50,"before":cursor|null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineRequest {
    /// Most posts wanted (the callee serves at most 200).
    pub limit: u32,
    /// The `next` of the previous page.
    #[serde(default)]
    pub before: Option<String>,
}

/// 32 digest bytes in the same 64-lowercase-hex form as an [`ObjectId`] (one hex codec for both).
mod hex_digest {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::ObjectId;

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        ObjectId::from_bytes(*bytes).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        Ok(*ObjectId::deserialize(deserializer)?.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_are_tagged_by_mode() {
        let request = PostsRequest::Since {
            after: None,
            limit: 10,
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"mode":"since","after":null,"limit":10}"#
        );
        let parsed: PostsRequest =
            serde_json::from_str(r#"{"mode":"ids","range":{"from_ms":1,"to_ms":5}}"#).unwrap();
        assert_eq!(
            parsed,
            PostsRequest::Ids {
                range: TimeRange {
                    from_ms: 1,
                    to_ms: 5
                }
            }
        );
        assert!(serde_json::from_str::<PostsRequest>(r#"{"mode":"everything"}"#).is_err());
    }

    #[test]
    fn responses_decode_by_shape() {
        let digests: PostsResponse = serde_json::from_value(serde_json::json!({
            "digests": [{"count": 2, "xor": "00".repeat(32)}]
        }))
        .unwrap();
        assert!(matches!(digests, PostsResponse::Digests { ref digests } if digests[0].count == 2));
        let ids: PostsResponse =
            serde_json::from_value(serde_json::json!({"ids": [], "more": false})).unwrap();
        assert!(matches!(ids, PostsResponse::Ids { .. }));
        let objects: PostsResponse =
            serde_json::from_value(serde_json::json!({"objects": [], "more": true})).unwrap();
        assert!(matches!(
            objects,
            PostsResponse::Objects(ObjectsPage { more: true, .. })
        ));
    }

    #[test]
    fn a_bad_digest_is_refused() {
        let bad = serde_json::json!({"count": 1, "xor": "zz"});
        assert!(serde_json::from_value::<RangeDigest>(bad).is_err());
    }

    proptest! {
        #[test]
        fn split_covers_the_range_exactly(from in 0u64..1 << 50, width in 0u64..1 << 40, parts in 1u64..64) {
            let range = TimeRange { from_ms: from, to_ms: from + width };
            let pieces = range.split(parts);
            prop_assert!(pieces.len() as u64 <= parts);
            if width == 0 {
                prop_assert!(pieces.is_empty());
            } else {
                prop_assert_eq!(pieces.first().unwrap().from_ms, range.from_ms);
                prop_assert_eq!(pieces.last().unwrap().to_ms, range.to_ms);
                for pair in pieces.windows(2) {
                    prop_assert_eq!(pair[0].to_ms, pair[1].from_ms);
                    prop_assert!(!pair[0].is_empty());
                }
            }
        }
    }
}
