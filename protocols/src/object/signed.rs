//! [`SignedObject`]: creating and verifying a signed object, and the [`VerifyRules`] a verifier
//! applies.
//!
//! Verification works on the JSON map as received, never on a re-serialized typed struct, so
//! members this version does not know are covered by the signature and kept byte for byte in
//! [`SignedObject::as_bytes`]. The format, the steps and their order are described in the docs
//! of the parent module, `object`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use libp2p::PeerId;
use libp2p::identity::{KeyType, Keypair, PublicKey};
use serde_json::{Map, Value};

use super::json::{canonicalize, json_type, parse_object};
use super::{Content, ObjectError, ObjectId, ObjectKind};

/// The version of the signed-object format this code writes and accepts (the `v` member).
pub const OBJECT_VERSION: u32 = 1;

/// Largest signed object accepted or created, in bytes of JSON: 64 KiB, the default gossipsub
/// message limit. Longer input is rejected before it is parsed.
pub const MAX_OBJECT_LEN: usize = 64 * 1024;

/// Default longest post `text`, in Unicode scalar values.
pub const DEFAULT_MAX_POST_CHARS: usize = 1000;

/// Default for how far `created_at` may be ahead of the verifier's clock: 5 minutes.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// Largest `created_at` accepted or created: 2^53 − 1 ms (year 287396). Every JSON implementation
/// holds integers up to this exactly; above it, the canonical form (which prints numbers as IEEE
/// doubles) would no longer say what the author meant.
pub const MAX_CREATED_AT: u64 = (1 << 53) - 1;

/// Length of `sig` in characters: 64 bytes in unpadded base64url.
const SIG_B64_LEN: usize = 86;

/// Multihash code of the identity "hash": the digest is the data itself.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The verifier's own limits, which may differ between nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyRules {
    /// Longest post `text` accepted, in Unicode scalar values. Default
    /// [`DEFAULT_MAX_POST_CHARS`].
    pub max_post_chars: usize,
    /// How far `created_at` may be ahead of the verifier's clock, in milliseconds. Default
    /// [`MAX_CLOCK_SKEW_MS`].
    pub max_clock_skew_ms: u64,
}

impl Default for VerifyRules {
    fn default() -> Self {
        VerifyRules {
            max_post_chars: DEFAULT_MAX_POST_CHARS,
            max_clock_skew_ms: MAX_CLOCK_SKEW_MS,
        }
    }
}

/// An identity ready to sign objects: the keypair plus what every object it signs repeats (its
/// peer id and that id's text), worked out once rather than per object.
///
/// [`SignedObject::create`] builds one per call; a node that signs many objects keeps one.
#[derive(Clone)]
pub struct Signer {
    keypair: Keypair,
    author: PeerId,
    /// `author` in base58, as the `author` member spells it.
    author_text: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key itself.
        f.debug_struct("Signer")
            .field("author", &self.author)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `keypair`'s identity.
    ///
    /// # Errors
    ///
    /// [`ObjectError::BadAuthor`] if `keypair` is not Ed25519.
    pub fn new(keypair: Keypair) -> Result<Signer, ObjectError> {
        let public = keypair.public();
        if public.key_type() != KeyType::Ed25519 {
            return Err(ObjectError::BadAuthor(format!(
                "objects are signed with Ed25519 keys, not {}",
                public.key_type()
            )));
        }
        let author = public.to_peer_id();
        Ok(Signer {
            author_text: author.to_base58(),
            author,
            keypair,
        })
    }

    /// The identity this signer signs as.
    pub fn author(&self) -> PeerId {
        self.author
    }

    /// Signs `content` at `created_at` (unix milliseconds), checking the field rules with
    /// `rules`.
    ///
    /// # Errors
    ///
    /// As [`SignedObject::create`].
    pub fn sign(
        &self,
        created_at: u64,
        content: Content,
        rules: &VerifyRules,
    ) -> Result<SignedObject, ObjectError> {
        check_created_at(created_at)?;
        content.validate(rules)?;

        let mut map = Map::new();
        map.insert("v".into(), OBJECT_VERSION.into());
        map.insert("author".into(), self.author_text.clone().into());
        map.insert("created_at".into(), created_at.into());
        content.write_fields(&mut map);

        let canonical = canonicalize(&map)?;
        let sig = self
            .keypair
            .sign(&canonical)
            .map_err(|e| ObjectError::BadAuthor(format!("signing: {e}")))?;
        map.insert("sig".into(), URL_SAFE_NO_PAD.encode(sig).into());
        let raw = canonicalize(&map)?;
        if raw.len() > MAX_OBJECT_LEN {
            return Err(ObjectError::TooLarge);
        }
        Ok(SignedObject {
            id: ObjectId::of_canonical(&canonical),
            author: self.author,
            created_at,
            content,
            raw: raw.into(),
        })
    }
}

/// A verified signed object: the typed view plus the exact JSON that was signed.
///
/// Only [`SignedObject::create`] and [`SignedObject::verify`] make one, so holding a
/// `SignedObject` means its signature checked out and its fields follow the rules. Cloning is
/// cheap for the JSON (shared), not for the typed content.
///
/// ```
/// use kith_protocols::{Content, PostContent, SignedObject, VerifyRules};
/// use libp2p::identity::Keypair;
///
/// let keypair = Keypair::generate_ed25519();
/// let now = 1_700_000_000_000;
/// let post = SignedObject::create(&keypair, now, Content::Post(PostContent::new("hi")))?;
///
/// // Any node, handed these bytes by anyone:
/// let received = SignedObject::verify(post.as_bytes(), &VerifyRules::default(), now)?;
/// assert_eq!(received.id(), post.id());
/// assert_eq!(received.author(), keypair.public().to_peer_id());
/// # Ok::<(), kith_protocols::ObjectError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SignedObject {
    id: ObjectId,
    author: PeerId,
    created_at: u64,
    content: Content,
    /// The JSON with `sig`: as received by `verify`, canonical as produced by `create`.
    raw: Arc<[u8]>,
}

impl SignedObject {
    /// Signs `content` as `keypair`'s identity at `created_at` (unix milliseconds), checking the
    /// field rules with the default [`VerifyRules`] (the limits every node accepts).
    ///
    /// The result's [`as_bytes`](SignedObject::as_bytes) is the canonical JSON of the whole
    /// object, `sig` included: what to publish and store.
    ///
    /// # Errors
    ///
    /// [`ObjectError::BadAuthor`] if `keypair` is not Ed25519, [`ObjectError::Invalid`] if
    /// `content` breaks a field rule or `created_at` exceeds [`MAX_CREATED_AT`],
    /// [`ObjectError::TooLarge`] if the object would exceed [`MAX_OBJECT_LEN`].
    pub fn create(
        keypair: &Keypair,
        created_at: u64,
        content: Content,
    ) -> Result<SignedObject, ObjectError> {
        SignedObject::create_with_rules(keypair, created_at, content, &VerifyRules::default())
    }

    /// [`SignedObject::create`] checking the field rules with `rules` instead of the defaults
    /// (e.g. a node configured for longer posts; nodes with stricter limits will refuse them).
    ///
    /// # Errors
    ///
    /// As [`SignedObject::create`].
    pub fn create_with_rules(
        keypair: &Keypair,
        created_at: u64,
        content: Content,
        rules: &VerifyRules,
    ) -> Result<SignedObject, ObjectError> {
        Signer::new(keypair.clone())?.sign(created_at, content, rules)
    }

    /// Verifies a signed object received from anyone, with `now_ms` as the verifier's clock
    /// (unix milliseconds).
    ///
    /// Checks, in this order: size, JSON, `v`, `sig`, `author`, the signature over the canonical
    /// form, then `kind`, `created_at` and the kind's fields, then the clock. Never panics.
    ///
    /// # Errors
    ///
    /// The first check that fails, as the matching [`ObjectError`] variant.
    pub fn verify(
        bytes: &[u8],
        rules: &VerifyRules,
        now_ms: u64,
    ) -> Result<SignedObject, ObjectError> {
        if bytes.len() > MAX_OBJECT_LEN {
            return Err(ObjectError::TooLarge);
        }
        let mut map = parse_object(bytes)?;
        check_version(&map)?;
        let sig = take_signature(&mut map)?;
        let (author, key) = author_key(envelope_str(&map, "author")?)?;
        let canonical = canonicalize(&map)?;
        key.verify_strict(&canonical, &sig)
            .map_err(|_| ObjectError::BadSignature)?;

        let kind: ObjectKind = envelope_str(&map, "kind")?.parse()?;
        let created_at = match map.get("created_at") {
            Some(value) => value.as_u64().ok_or_else(|| {
                ObjectError::Malformed("created_at is not a non-negative integer".into())
            })?,
            None => return Err(ObjectError::Malformed("created_at is missing".into())),
        };
        check_created_at(created_at)?;
        let content = Content::read_fields(kind, &map)?;
        content.validate(rules)?;
        if created_at > now_ms.saturating_add(rules.max_clock_skew_ms) {
            return Err(ObjectError::FromTheFuture {
                created_at,
                now: now_ms,
            });
        }
        Ok(SignedObject {
            id: ObjectId::of_canonical(&canonical),
            author,
            created_at,
            content,
            raw: bytes.into(),
        })
    }

    /// Rebuilds an object that [`SignedObject::verify`] (or [`SignedObject::create`]) already
    /// accepted, from the bytes and id it was stored under — without checking the signature or
    /// canonicalizing again, which are most of the cost of reading an object back.
    ///
    /// Only for the node's own store, which holds nothing but verified objects keyed by their
    /// id: bytes from anywhere else must go through [`SignedObject::verify`]. The envelope and
    /// the kind's fields are still parsed (and must still be well-formed), but the field limits
    /// are not re-applied, so lowering a limit later does not make stored objects unreadable.
    pub fn from_verified_store(id: ObjectId, bytes: &[u8]) -> Result<SignedObject, ObjectError> {
        let map = parse_object(bytes)?;
        let author: PeerId = envelope_str(&map, "author")?
            .parse()
            .map_err(|e| ObjectError::BadAuthor(format!("{e}")))?;
        let kind: ObjectKind = envelope_str(&map, "kind")?.parse()?;
        let created_at = map
            .get("created_at")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                ObjectError::Malformed("created_at is missing or not an integer".into())
            })?;
        let content = Content::read_fields(kind, &map)?;
        Ok(SignedObject {
            id,
            author,
            created_at,
            content,
            raw: bytes.into(),
        })
    }

    /// The object's id: SHA-256 of its canonical JSON without `sig`.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Who signed it.
    pub fn author(&self) -> PeerId {
        self.author
    }

    /// When its author says it was made, in milliseconds since the Unix epoch.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Its kind.
    pub fn kind(&self) -> ObjectKind {
        self.content.kind()
    }

    /// Its typed content.
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The JSON exactly as signed and sent, `sig` and unknown members included: what to relay,
    /// publish and store. Verifying these bytes again gives the same object.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The whole object as a JSON value, unknown members included.
    pub fn to_json(&self) -> Value {
        serde_json::from_slice(&self.raw)
            .expect("raw is JSON: verify parsed it, or create wrote it with serde_jcs")
    }
}

impl fmt::Debug for SignedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedObject")
            .field("id", &self.id)
            .field("author", &self.author)
            .field("created_at", &self.created_at)
            .field("content", &self.content)
            .field("len", &self.raw.len())
            .finish()
    }
}

/// `v` must be the integer [`OBJECT_VERSION`]: a later version may sign differently, so nothing
/// else is looked at before it.
fn check_version(map: &Map<String, Value>) -> Result<(), ObjectError> {
    let v = map
        .get("v")
        .ok_or_else(|| ObjectError::Malformed("v is missing".into()))?;
    let v = v
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ObjectError::Malformed(format!("v is not a version number: {v}")))?;
    if v == OBJECT_VERSION {
        Ok(())
    } else {
        Err(ObjectError::UnsupportedVersion(v))
    }
}

/// Removes `sig` from the map and decodes it: exactly 64 bytes in unpadded base64url.
fn take_signature(map: &mut Map<String, Value>) -> Result<Signature, ObjectError> {
    let sig = match map.remove("sig") {
        Some(Value::String(sig)) => sig,
        Some(other) => {
            return Err(ObjectError::Malformed(format!(
                "sig is {}, not a string",
                json_type(&other)
            )));
        }
        None => return Err(ObjectError::Malformed("sig is missing".into())),
    };
    let bytes: [u8; 64] = (sig.len() == SIG_B64_LEN)
        .then(|| URL_SAFE_NO_PAD.decode(&sig).ok())
        .flatten()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ObjectError::Malformed("sig is not 64 bytes of unpadded base64url".into())
        })?;
    Ok(Signature::from_bytes(&bytes))
}

/// A string member of the envelope (`author`, `kind`).
fn envelope_str<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ObjectError> {
    match map.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ObjectError::Malformed(format!(
            "{field} is {}, not a string",
            json_type(other)
        ))),
        None => Err(ObjectError::Malformed(format!("{field} is missing"))),
    }
}

/// The author's peer id and Ed25519 key, recovered from the peer id itself: an Ed25519 peer id
/// is the identity multihash of the protobuf-encoded public key.
fn author_key(author: &str) -> Result<(PeerId, VerifyingKey), ObjectError> {
    let peer: PeerId = author
        .parse()
        .map_err(|e| ObjectError::BadAuthor(format!("not a peer id: {e}")))?;
    let multihash = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return Err(ObjectError::BadAuthor(
            "the peer id is a hash of its key, so not an Ed25519 id".into(),
        ));
    }
    let public = PublicKey::try_decode_protobuf(multihash.digest())
        .map_err(|e| ObjectError::BadAuthor(format!("no public key in the peer id: {e}")))?;
    let key_type = public.key_type();
    let ed25519 = public
        .clone()
        .try_into_ed25519()
        .map_err(|_| ObjectError::BadAuthor(format!("{key_type} key; only Ed25519 is accepted")))?;
    // A non-canonical protobuf encoding (or base58 spelling) would give one key several ids.
    if PeerId::from_public_key(&public) != peer || peer.to_base58() != author {
        return Err(ObjectError::BadAuthor(
            "not the canonical peer id of its key".into(),
        ));
    }
    let key = VerifyingKey::from_bytes(&ed25519.to_bytes())
        .map_err(|e| ObjectError::BadAuthor(format!("invalid Ed25519 key: {e}")))?;
    // Anyone can forge signatures that verify under a small-order key.
    if key.is_weak() {
        return Err(ObjectError::BadAuthor(
            "weak (small-order) Ed25519 key".into(),
        ));
    }
    Ok((peer, key))
}

fn check_created_at(created_at: u64) -> Result<(), ObjectError> {
    if created_at > MAX_CREATED_AT {
        return Err(ObjectError::invalid(
            "created_at",
            format!("{created_at} is above 2^53 - 1"),
        ));
    }
    Ok(())
}
