//! The kinds of signed object and their own fields: [`ObjectKind`], [`Content`], [`Profile`],
//! [`PostContent`].
//!
//! This module is the one place that knows each kind's members: [`Content::write_fields`] writes
//! them into the JSON map that gets signed, [`Content::read_fields`] reads them back out of a
//! verified map with an error naming the member, and [`Content::validate`] applies the length and
//! emptiness rules. The serde derives give the same JSON shape for convenience (API bodies,
//! tests); they check structure only, never the rules, and objects from peers must go through
//! [`SignedObject::verify`](crate::SignedObject::verify).

use std::fmt;
use std::str::FromStr;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::json::json_type;
use super::{ObjectError, ObjectId, VerifyRules};

/// Longest `display_name` of a profile, in Unicode scalar values.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Longest `bio` of a profile, in Unicode scalar values.
pub const MAX_BIO_CHARS: usize = 500;
/// Longest `avatar` reference of a profile, in Unicode scalar values.
pub const MAX_AVATAR_CHARS: usize = 256;

/// What a signed object is, as in its `kind` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// `profile`: the author's display name, bio, avatar and whether they approve followers.
    Profile,
    /// `post`: a text post, possibly a reply or a quote.
    Post,
    /// `follow`: the author follows a peer.
    Follow,
    /// `unfollow`: the author stops following a peer.
    Unfollow,
    /// `like`: the author likes a post.
    Like,
    /// `delete`: a tombstone for one of the author's own posts.
    Delete,
}

impl ObjectKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ObjectKind] = &[
        ObjectKind::Profile,
        ObjectKind::Post,
        ObjectKind::Follow,
        ObjectKind::Unfollow,
        ObjectKind::Like,
        ObjectKind::Delete,
    ];

    /// The wire string, e.g. `"post"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Profile => "profile",
            ObjectKind::Post => "post",
            ObjectKind::Follow => "follow",
            ObjectKind::Unfollow => "unfollow",
            ObjectKind::Like => "like",
            ObjectKind::Delete => "delete",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectKind {
    type Err = ObjectError;

    /// Parses the exact wire string (case-sensitive); anything else is
    /// [`ObjectError::UnknownKind`].
    fn from_str(s: &str) -> Result<Self, ObjectError> {
        ObjectKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| ObjectError::UnknownKind(s.to_owned()))
    }
}

/// The fields of a `profile` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The name shown for the author: at most [`MAX_DISPLAY_NAME_CHARS`]; may be empty (the UI
    /// then shows the peer id).
    pub display_name: String,
    /// Free text about the author: at most [`MAX_BIO_CHARS`]. Always written, `""` when empty;
    /// read as `""` when absent.
    #[serde(default)]
    pub bio: String,
    /// A reference to the author's picture (at most [`MAX_AVATAR_CHARS`]); omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Whether the author approves followers. Always written; read as `false` when absent.
    #[serde(default)]
    pub locked: bool,
}

/// The fields of a `post` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostContent {
    /// The text: non-empty after trimming white space, at most
    /// [`VerifyRules::max_post_chars`] Unicode scalar values.
    pub text: String,
    /// The post this one answers; omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ObjectId>,
    /// The post this one quotes; omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_of: Option<ObjectId>,
}

impl PostContent {
    /// A plain post: neither a reply nor a quote.
    pub fn new(text: impl Into<String>) -> Self {
        PostContent {
            text: text.into(),
            reply_to: None,
            quote_of: None,
        }
    }
}

/// The typed content of a signed object: its kind and that kind's own fields.
///
/// Serializes (serde) as the object's `kind` member plus those fields, e.g.
/// `{"kind":"follow","target":"12D3KooW..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Content {
    /// The author's profile; the newest one replaces older ones.
    Profile(Profile),
    /// A post.
    Post(PostContent),
    /// The author follows `target`.
    Follow {
        /// The peer followed.
        target: PeerId,
    },
    /// The author no longer follows `target`.
    Unfollow {
        /// The peer unfollowed.
        target: PeerId,
    },
    /// The author likes the post `target`.
    Like {
        /// The post liked.
        target: ObjectId,
    },
    /// A tombstone: the author withdraws their post `target`. That the target is a post by the
    /// same author can only be checked by whoever holds the target; verification cannot.
    Delete {
        /// The post deleted.
        target: ObjectId,
    },
}

impl Content {
    /// Which kind this is.
    pub fn kind(&self) -> ObjectKind {
        match self {
            Content::Profile(_) => ObjectKind::Profile,
            Content::Post(_) => ObjectKind::Post,
            Content::Follow { .. } => ObjectKind::Follow,
            Content::Unfollow { .. } => ObjectKind::Unfollow,
            Content::Like { .. } => ObjectKind::Like,
            Content::Delete { .. } => ObjectKind::Delete,
        }
    }

    /// Checks the field rules (lengths in Unicode scalar values, post text non-empty after
    /// trimming); the types themselves already guarantee well-formed ids and peer ids.
    ///
    /// # Errors
    ///
    /// [`ObjectError::Invalid`] naming the first field that breaks a rule.
    pub fn validate(&self, rules: &VerifyRules) -> Result<(), ObjectError> {
        match self {
            Content::Profile(profile) => {
                check_max_chars(
                    "display_name",
                    &profile.display_name,
                    MAX_DISPLAY_NAME_CHARS,
                )?;
                check_max_chars("bio", &profile.bio, MAX_BIO_CHARS)?;
                if let Some(avatar) = &profile.avatar {
                    check_max_chars("avatar", avatar, MAX_AVATAR_CHARS)?;
                }
                Ok(())
            }
            Content::Post(post) => {
                if post.text.trim().is_empty() {
                    return Err(ObjectError::invalid("text", "empty"));
                }
                check_max_chars("text", &post.text, rules.max_post_chars)
            }
            Content::Follow { .. }
            | Content::Unfollow { .. }
            | Content::Like { .. }
            | Content::Delete { .. } => Ok(()),
        }
    }

    /// Writes `kind` and this kind's fields into `map`: every non-`Option` field always (also
    /// when it has its default value, e.g. `"bio":""`, `"locked":false`), an `Option` field only
    /// when it is `Some`.
    pub(crate) fn write_fields(&self, map: &mut Map<String, Value>) {
        map.insert("kind".into(), self.kind().as_str().into());
        match self {
            Content::Profile(profile) => {
                map.insert("display_name".into(), profile.display_name.clone().into());
                map.insert("bio".into(), profile.bio.clone().into());
                if let Some(avatar) = &profile.avatar {
                    map.insert("avatar".into(), avatar.clone().into());
                }
                map.insert("locked".into(), profile.locked.into());
            }
            Content::Post(post) => {
                map.insert("text".into(), post.text.clone().into());
                if let Some(id) = post.reply_to {
                    map.insert("reply_to".into(), id.to_string().into());
                }
                if let Some(id) = post.quote_of {
                    map.insert("quote_of".into(), id.to_string().into());
                }
            }
            Content::Follow { target } | Content::Unfollow { target } => {
                map.insert("target".into(), target.to_base58().into());
            }
            Content::Like { target } | Content::Delete { target } => {
                map.insert("target".into(), target.to_string().into());
            }
        }
    }

    /// Reads the fields of a `kind` object from its (verified) map. Members other than the
    /// kind's own are ignored; `null` is never accepted for a known member (writers omit absent
    /// ones). Does not apply [`Content::validate`]'s rules.
    pub(crate) fn read_fields(
        kind: ObjectKind,
        map: &Map<String, Value>,
    ) -> Result<Content, ObjectError> {
        Ok(match kind {
            ObjectKind::Profile => Content::Profile(Profile {
                display_name: require(map, "display_name", read_str)?.to_owned(),
                bio: read_str(map, "bio")?.unwrap_or_default().to_owned(),
                avatar: read_str(map, "avatar")?.map(str::to_owned),
                locked: read_bool(map, "locked")?.unwrap_or(false),
            }),
            ObjectKind::Post => Content::Post(PostContent {
                text: require(map, "text", read_str)?.to_owned(),
                reply_to: read_object_id(map, "reply_to")?,
                quote_of: read_object_id(map, "quote_of")?,
            }),
            ObjectKind::Follow => Content::Follow {
                target: require(map, "target", read_peer_id)?,
            },
            ObjectKind::Unfollow => Content::Unfollow {
                target: require(map, "target", read_peer_id)?,
            },
            ObjectKind::Like => Content::Like {
                target: require(map, "target", read_object_id)?,
            },
            ObjectKind::Delete => Content::Delete {
                target: require(map, "target", read_object_id)?,
            },
        })
    }
}

/// Rejects `value` if it has more than `max` Unicode scalar values.
fn check_max_chars(field: &'static str, value: &str, max: usize) -> Result<(), ObjectError> {
    // Bytes bound chars from above: skip counting when the bytes already fit.
    if value.len() > max {
        let chars = value.chars().count();
        if chars > max {
            return Err(ObjectError::invalid(
                field,
                format!("{chars} characters, at most {max} allowed"),
            ));
        }
    }
    Ok(())
}

/// Turns an optional member into a required one.
fn require<'a, T>(
    map: &'a Map<String, Value>,
    field: &'static str,
    read: impl FnOnce(&'a Map<String, Value>, &'static str) -> Result<Option<T>, ObjectError>,
) -> Result<T, ObjectError> {
    read(map, field)?.ok_or_else(|| ObjectError::invalid(field, "missing"))
}

fn read_str<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, ObjectError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ObjectError::invalid(
            field,
            format!("expected a string, got {}", json_type(other)),
        )),
    }
}

fn read_bool(map: &Map<String, Value>, field: &'static str) -> Result<Option<bool>, ObjectError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ObjectError::invalid(
            field,
            format!("expected a boolean, got {}", json_type(other)),
        )),
    }
}

fn read_object_id(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<ObjectId>, ObjectError> {
    read_str(map, field)?
        .map(|s| ObjectId::parse_hex(s).map_err(|reason| ObjectError::invalid(field, reason)))
        .transpose()
}

fn read_peer_id(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<PeerId>, ObjectError> {
    let Some(s) = read_str(map, field)? else {
        return Ok(None);
    };
    let peer: PeerId = s
        .parse()
        .map_err(|e| ObjectError::invalid(field, format!("not a peer id: {e}")))?;
    // One peer, one spelling: ids are compared as strings by other implementations.
    if peer.to_base58() != s {
        return Err(ObjectError::invalid(
            field,
            "not the canonical base58 spelling of a peer id",
        ));
    }
    Ok(Some(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::{peer, samples};
    use serde_json::json;

    fn id(byte: u8) -> ObjectId {
        ObjectId([byte; 32])
    }

    #[test]
    fn kinds_have_exact_wire_strings() {
        let expected = ["profile", "post", "follow", "unfollow", "like", "delete"];
        assert_eq!(ObjectKind::ALL.len(), expected.len());
        for (kind, s) in ObjectKind::ALL.iter().zip(expected) {
            assert_eq!(kind.as_str(), s);
            assert_eq!(kind.to_string(), s);
            assert_eq!(s.parse::<ObjectKind>().unwrap(), *kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(s));
        }
        for s in ["", "Post", "POST", "repost", "post "] {
            assert_eq!(
                s.parse::<ObjectKind>(),
                Err(ObjectError::UnknownKind(s.into()))
            );
        }
    }

    #[test]
    fn write_then_read_round_trips_and_matches_serde() {
        for content in samples() {
            let mut map = Map::new();
            content.write_fields(&mut map);
            assert_eq!(map["kind"], json!(content.kind().as_str()));
            assert_eq!(Content::read_fields(content.kind(), &map).unwrap(), content);
            // The serde shape is the wire shape.
            assert_eq!(
                serde_json::to_value(&content).unwrap(),
                Value::Object(map.clone())
            );
            assert_eq!(
                serde_json::from_value::<Content>(Value::Object(map)).unwrap(),
                content
            );
        }
    }

    #[test]
    fn defaults_are_written_and_options_omitted() {
        let mut map = Map::new();
        Content::Profile(Profile::default()).write_fields(&mut map);
        assert_eq!(
            Value::Object(map),
            json!({"kind": "profile", "display_name": "", "bio": "", "locked": false})
        );
        let mut map = Map::new();
        Content::Post(PostContent::new("hi")).write_fields(&mut map);
        assert_eq!(Value::Object(map), json!({"kind": "post", "text": "hi"}));
    }

    #[test]
    fn absent_defaults_are_read_as_defaults() {
        let map = json!({"display_name": "Ada"});
        let content = Content::read_fields(ObjectKind::Profile, map.as_object().unwrap()).unwrap();
        assert_eq!(
            content,
            Content::Profile(Profile {
                display_name: "Ada".into(),
                ..Profile::default()
            })
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (ObjectKind::Profile, json!({}), "display_name"),
            (
                ObjectKind::Profile,
                json!({"display_name": 1}),
                "display_name",
            ),
            (
                ObjectKind::Profile,
                json!({"display_name": "a", "bio": null}),
                "bio",
            ),
            (
                ObjectKind::Profile,
                json!({"display_name": "a", "avatar": []}),
                "avatar",
            ),
            (
                ObjectKind::Profile,
                json!({"display_name": "a", "locked": "no"}),
                "locked",
            ),
            (ObjectKind::Post, json!({}), "text"),
            (ObjectKind::Post, json!({"text": null}), "text"),
            (
                ObjectKind::Post,
                json!({"text": "a", "reply_to": null}),
                "reply_to",
            ),
            (
                ObjectKind::Post,
                json!({"text": "a", "reply_to": "AB"}),
                "reply_to",
            ),
            (
                ObjectKind::Post,
                json!({"text": "a", "quote_of": "A".repeat(64)}),
                "quote_of",
            ),
            (ObjectKind::Follow, json!({}), "target"),
            (
                ObjectKind::Follow,
                json!({"target": "not a peer"}),
                "target",
            ),
            (
                ObjectKind::Unfollow,
                json!({"target": id(1).to_string()}),
                "target",
            ),
            (
                ObjectKind::Like,
                json!({"target": peer().to_base58()}),
                "target",
            ),
            (ObjectKind::Delete, json!({"target": 7}), "target"),
        ];
        for (kind, map, field) in cases {
            match Content::read_fields(kind, map.as_object().unwrap()) {
                Err(ObjectError::Invalid { field: f, .. }) => assert_eq!(f, field, "{map}"),
                other => panic!("{kind} {map}: {other:?}"),
            }
        }
    }

    #[test]
    fn rules_count_chars_not_bytes() {
        let rules = VerifyRules::default();
        let post = |text: String| Content::Post(PostContent::new(text)).validate(&rules);
        assert!(post("a".repeat(1000)).is_ok());
        assert!(post("é".repeat(1000)).is_ok());
        assert!(post("🦀".repeat(1000)).is_ok());
        for text in ["a".repeat(1001), "🦀".repeat(1001)] {
            assert!(matches!(
                post(text),
                Err(ObjectError::Invalid { field: "text", .. })
            ));
        }
        for text in ["", " ", "\n\t \u{3000}"] {
            assert_eq!(
                post(text.into()),
                Err(ObjectError::invalid("text", "empty"))
            );
        }
        let narrow = VerifyRules {
            max_post_chars: 3,
            ..VerifyRules::default()
        };
        assert!(
            Content::Post(PostContent::new("abc"))
                .validate(&narrow)
                .is_ok()
        );
        assert!(
            Content::Post(PostContent::new("abcd"))
                .validate(&narrow)
                .is_err()
        );

        let profile = |display_name: String, bio: String, avatar: Option<String>| {
            Content::Profile(Profile {
                display_name,
                bio,
                avatar,
                locked: false,
            })
            .validate(&rules)
        };
        assert!(profile("ü".repeat(64), "ü".repeat(500), Some("ü".repeat(256))).is_ok());
        let field_of = |r: Result<(), ObjectError>| match r {
            Err(ObjectError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field_of(profile("a".repeat(65), String::new(), None)),
            "display_name"
        );
        assert_eq!(
            field_of(profile(String::new(), "a".repeat(501), None)),
            "bio"
        );
        assert_eq!(
            field_of(profile(String::new(), String::new(), Some("a".repeat(257)))),
            "avatar"
        );
    }

    #[test]
    fn peer_ids_must_be_canonical() {
        let mut map = Map::new();
        map.insert("target".into(), json!(format!("{}", peer())));
        assert!(Content::read_fields(ObjectKind::Follow, &map).is_ok());
        // Base58 has no other spelling of the same bytes, but a leading '1' adds a zero byte,
        // which is no longer a valid multihash.
        map.insert("target".into(), json!(format!("1{}", peer())));
        assert!(Content::read_fields(ObjectKind::Follow, &map).is_err());
    }
}
