//! Signed objects: profiles, posts, follows, likes and tombstones that any node can verify,
//! whoever relayed them.
//!
//! A signed object is a JSON object carrying its author's Ed25519 signature. Because the author's
//! public key is embedded in their peer id, the object is self-certifying: it can travel through
//! gossip, sync and storage, and every node checks it on its own with no key lookup.
//! [`SignedObject::create`] makes one, [`SignedObject::verify`] checks one; both give a
//! [`SignedObject`], the typed [`Content`] plus the exact bytes signed.
//!
//! # Format (version 1)
//!
//! Every object has these members:
//!
//! | member       | JSON type | meaning |
//! |--------------|-----------|---------|
//! | `v`          | integer   | format version, `1` ([`OBJECT_VERSION`]) |
//! | `kind`       | string    | `profile`, `post`, `follow`, `unfollow`, `like` or `delete` |
//! | `author`     | string    | base58 peer id of the author's Ed25519 identity key |
//! | `created_at` | integer   | milliseconds since the Unix epoch, at most 2^53 − 1 |
//! | `sig`        | string    | the signature (below) |
//!
//! plus the members of its kind. Lengths count Unicode scalar values (code points), not bytes
//! and not UTF-16 units. An optional member is either absent or of its type; `null` is never
//! accepted for a known member. Writers always write members that have a default (`bio`,
//! `locked`) and omit optional members that have no value.
//!
//! | kind        | members |
//! |-------------|---------|
//! | `profile`   | `display_name`: string, ≤ 64; `bio`: string, ≤ 500, default `""`; `avatar`: optional string, ≤ 256; `locked`: bool, default `false` |
//! | `post`      | `text`: string, non-empty after trimming white space, ≤ 1000 by default (each verifier may configure its limit); `reply_to`: optional object id; `quote_of`: optional object id |
//! | `follow`    | `target`: base58 peer id |
//! | `unfollow`  | `target`: base58 peer id |
//! | `like`      | `target`: object id of a post |
//! | `delete`    | `target`: object id of a post by the same author (a tombstone) |
//!
//! Object ids are written as exactly 64 lowercase hex digits, peer ids in their canonical base58
//! form. Members of other names are allowed, covered by the signature and kept: a later minor
//! addition to a kind does not break older verifiers.
//!
//! # Signing
//!
//! 1. Build the object without `sig`.
//! 2. Serialize it as RFC 8785 canonical JSON (JCS): members sorted by the UTF-16 code units of
//!    their names, no white space, the shortest string escapes, numbers as ECMAScript prints
//!    them. These are the *canonical bytes*.
//! 3. `sig` = the Ed25519 signature (RFC 8032) of the canonical bytes by the author's identity
//!    key, encoded as unpadded base64url (86 characters).
//! 4. The object's id ([`ObjectId`]) = lowercase hex SHA-256 of the canonical bytes. The id does
//!    not cover `sig`.
//!
//! What is sent is the object with `sig` added. This implementation sends the canonical JSON of
//! the whole object (`sig` sorted in among the other members), but a verifier must accept any
//! member order and white space: it re-canonicalizes.
//!
//! # Verification
//!
//! [`SignedObject::verify`] checks, in this order, and stops at the first failure:
//!
//! 1. size: at most [`MAX_OBJECT_LEN`] bytes, checked before parsing ([`ObjectError::TooLarge`]);
//! 2. the bytes are one UTF-8 JSON object with no member name repeated in any object
//!    ([`ObjectError::Malformed`]);
//! 3. `v` is the integer 1 ([`ObjectError::UnsupportedVersion`]);
//! 4. `sig` is a string of 64 bytes in unpadded base64url; it is removed from the object;
//! 5. `author` is the canonical base58 peer id of an Ed25519 key: an identity multihash (code
//!    `0x00`) whose digest is the protobuf-encoded public key, re-encoding to the same id, and not
//!    a small-order point ([`ObjectError::BadAuthor`]);
//! 6. the signature verifies (strictly: RFC 8032 with canonical `S` and `R`) over the canonical
//!    JSON of the object without `sig` ([`ObjectError::BadSignature`]);
//! 7. `kind` is known ([`ObjectError::UnknownKind`]), `created_at` is an integer ≤ 2^53 − 1, and
//!    the kind's members have their types and follow their rules ([`ObjectError::Invalid`]);
//! 8. `created_at` is at most the verifier's `max_clock_skew_ms` (default 5 minutes) ahead of its
//!    clock ([`ObjectError::FromTheFuture`]).
//!
//! Nothing but `v`, `sig` and `author` is interpreted before the signature has checked out.
//! That a `like` or `delete` target is a post, and a `delete` target the same author's, needs
//! the target itself, so it is checked by whoever stores it, not here.
//!
//! # Test vector
//!
//! Identity key: the Ed25519 secret key (seed) of the 32 bytes `00 01 02 … 1f`, whose public
//! key is `03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8`, and whose peer id
//! (identity multihash of the protobuf key `08 01 12 20 ‖ key`) is
//! `12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB`. A post with text `Hello, Kith!` at
//! `created_at` 1700000000000 has these canonical bytes (UTF-8, no trailing newline):
//!
//! ```text
//! {"author":"12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB","created_at":1700000000000,"kind":"post","text":"Hello, Kith!","v":1}
//! ```
//!
//! id `f60ca18fb0b7c4f0781783b1695ce091e4cbd83690abbb194751892cc2f8f404`, and (Ed25519 being
//! deterministic) `sig`
//! `iL7I3fwpdGdqONUaVIl4bh-ZVRwuvn6pP0Yd2jH66LyLs9Mxe8vBNj4NCI9-0nn_WlWy_qnkssk3rB3fn9ZbCA`. The
//! object as sent:
//!
//! ```text
//! {"author":"12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB","created_at":1700000000000,"kind":"post","sig":"iL7I3fwpdGdqONUaVIl4bh-ZVRwuvn6pP0Yd2jH66LyLs9Mxe8vBNj4NCI9-0nn_WlWy_qnkssk3rB3fn9ZbCA","text":"Hello, Kith!","v":1}
//! ```

mod content;
mod error;
mod id;
mod json;
mod signed;
#[cfg(test)]
mod tests;

pub use content::{
    Content, MAX_AVATAR_CHARS, MAX_BIO_CHARS, MAX_DISPLAY_NAME_CHARS, ObjectKind, PostContent,
    Profile,
};
pub use error::ObjectError;
pub use id::{OBJECT_ID_HEX_LEN, ObjectId};
pub use signed::{
    DEFAULT_MAX_POST_CHARS, MAX_CLOCK_SKEW_MS, MAX_CREATED_AT, MAX_OBJECT_LEN, OBJECT_VERSION,
    SignedObject, Signer, VerifyRules,
};
