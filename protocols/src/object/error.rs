//! Why a signed object was refused, by us when creating it or by a verifier receiving it.
//!
//! Every variant is the sender's fault, so all of them map onto the wire code `invalid-request`;
//! the variants exist so that callers (and tests) can tell *which* rule failed, and so that a node
//! can, for example, keep an object of an [`UnknownKind`](ObjectError::UnknownKind) for a later
//! version while dropping a forgery.

use crate::ErrorCode;

/// A signed object that cannot be created or does not verify.
///
/// The variants are listed in the order [`SignedObject::verify`](crate::SignedObject::verify)
/// checks them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The JSON is longer than [`MAX_OBJECT_LEN`](crate::MAX_OBJECT_LEN) bytes; it was not parsed.
    #[error("signed object is larger than {} bytes", crate::MAX_OBJECT_LEN)]
    TooLarge,

    /// Not a signed object at all: not UTF-8 JSON, not a JSON object, a member name repeated, or
    /// an envelope member (`v`, `sig`, `author`, `kind`, `created_at`) missing or of the wrong
    /// JSON type.
    #[error("malformed signed object: {0}")]
    Malformed(String),

    /// `v` is an integer other than [`OBJECT_VERSION`](crate::OBJECT_VERSION).
    #[error("unsupported signed object version {0}")]
    UnsupportedVersion(u32),

    /// `kind` names no kind this version knows. The signature did verify, so the object is
    /// authentic; it is just not understood here.
    #[error("unknown signed object kind {0:?}")]
    UnknownKind(String),

    /// `author` is not the base58 peer id of an Ed25519 key (not a peer id, a hashed RSA or
    /// secp256k1 id, a non-canonical spelling or encoding, or a weak key), or the key creating an
    /// object is not Ed25519.
    #[error("bad author: {0}")]
    BadAuthor(String),

    /// The signature is not the author's over the object as received: the content was altered
    /// after signing, or someone else signed it.
    #[error("signature does not verify against the author's key")]
    BadSignature,

    /// `created_at` is further in the future than the verifier's clock skew allows.
    #[error("created_at {created_at} is too far ahead of the verifier's clock ({now})")]
    FromTheFuture {
        /// The object's `created_at`, in milliseconds since the Unix epoch.
        created_at: u64,
        /// The verifier's clock, in milliseconds since the Unix epoch.
        now: u64,
    },

    /// A field of the object breaks its kind's rules: missing, of the wrong JSON type, too long,
    /// empty, or not a well-formed id.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The member name, e.g. `"text"`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl ObjectError {
    /// The wire error code for this failure: always
    /// [`ErrorCode::InvalidRequest`], as every variant is the sender's fault.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }

    /// Shorthand for [`ObjectError::Invalid`].
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ObjectError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_invalid_request_and_says_what_failed() {
        let cases = [
            (ObjectError::TooLarge, "larger than 65536 bytes"),
            (
                ObjectError::Malformed("x".into()),
                "malformed signed object: x",
            ),
            (ObjectError::UnsupportedVersion(2), "version 2"),
            (ObjectError::UnknownKind("repost".into()), "\"repost\""),
            (ObjectError::BadAuthor("nope".into()), "bad author: nope"),
            (ObjectError::BadSignature, "signature does not verify"),
            (
                ObjectError::FromTheFuture {
                    created_at: 10,
                    now: 5,
                },
                "created_at 10",
            ),
            (ObjectError::invalid("text", "empty"), "invalid text: empty"),
        ];
        for (e, needle) in cases {
            assert_eq!(e.code(), ErrorCode::InvalidRequest);
            assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
        }
    }
}
