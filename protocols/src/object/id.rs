//! [`ObjectId`]: the content address of a signed object.
//!
//! An id is the SHA-256 of the object's canonical JSON without `sig`, written as 64 lowercase hex
//! digits. Only that one spelling parses, so ids can be compared as strings anywhere (in URLs, in
//! other objects' `reply_to`/`target`, in storage keys) without normalising first.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::ObjectError;

/// Length of an id's text form: 64 lowercase hex digits.
pub const OBJECT_ID_HEX_LEN: usize = 64;

/// The id of a signed object: SHA-256 of its canonical bytes without `sig`.
///
/// Displays, parses and serializes as 64 lowercase hex digits; orders like its bytes (which is
/// also the order of the hex strings).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    /// The id of an object whose canonical JSON without `sig` is `canonical`.
    pub fn of_canonical(canonical: &[u8]) -> Self {
        ObjectId(Sha256::digest(canonical).into())
    }

    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }

    /// The raw digest bytes (e.g. for a storage key).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the hex form, saying what is wrong in a form fit for
    /// [`ObjectError::Invalid`]'s `reason`.
    pub(crate) fn parse_hex(s: &str) -> Result<Self, &'static str> {
        let hex = s.as_bytes();
        if hex.len() != OBJECT_ID_HEX_LEN {
            return Err("expected 64 lowercase hex digits");
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err("expected 64 lowercase hex digits");
            };
            *byte = (hi << 4) | lo;
        }
        Ok(ObjectId(out))
    }
}

/// The value of one lowercase hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl From<[u8; 32]> for ObjectId {
    fn from(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }
}

impl AsRef<[u8]> for ObjectId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; OBJECT_ID_HEX_LEN];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        // Every byte written is an ASCII hex digit.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = ObjectError;

    /// Parses exactly 64 lowercase hex digits; anything else is [`ObjectError::Invalid`] with
    /// field `"id"`.
    fn from_str(s: &str) -> Result<Self, ObjectError> {
        ObjectId::parse_hex(s).map_err(|reason| ObjectError::invalid("id", reason))
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = ObjectId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object id (64 lowercase hex digits)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ObjectId, E> {
                ObjectId::parse_hex(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn of_canonical_is_sha256() {
        let id = ObjectId::of_canonical(b"");
        assert_eq!(id.to_string(), EMPTY_SHA256);
        assert_eq!(format!("{id:?}"), format!("ObjectId({EMPTY_SHA256})"));
        assert_eq!(id.as_bytes()[0], 0xe3);
        assert_eq!(ObjectId::from_bytes(*id.as_bytes()), id);
    }

    #[test]
    fn display_and_from_str_round_trip() {
        let id: ObjectId = EMPTY_SHA256.parse().unwrap();
        assert_eq!(id.to_string(), EMPTY_SHA256);
        let all: ObjectId = ObjectId([0xff; 32]);
        assert_eq!(all.to_string(), "f".repeat(64));
        assert_eq!("f".repeat(64).parse::<ObjectId>().unwrap(), all);
        assert_eq!(
            "0".repeat(64).parse::<ObjectId>().unwrap(),
            ObjectId([0; 32])
        );
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        let upper = EMPTY_SHA256.to_uppercase();
        let mixed = format!("E{}", &EMPTY_SHA256[1..]);
        let rejected = [
            "",
            &EMPTY_SHA256[..63],
            &EMPTY_SHA256[..62],
            &format!("{EMPTY_SHA256}0"),
            &upper,
            &mixed,
            &format!("0x{}", &EMPTY_SHA256[2..]),
            &format!(" {}", &EMPTY_SHA256[1..]),
            &format!("{}g", &EMPTY_SHA256[..63]),
            // 32 two-byte chars: 64 bytes, but not hex.
            &"é".repeat(32),
        ];
        for s in rejected {
            assert!(
                matches!(
                    s.parse::<ObjectId>(),
                    Err(ObjectError::Invalid { field: "id", .. })
                ),
                "{s:?}"
            );
            assert!(serde_json::from_value::<ObjectId>(serde_json::json!(s)).is_err());
        }
    }

    #[test]
    fn serde_is_the_hex_string() {
        let id: ObjectId = EMPTY_SHA256.parse().unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{EMPTY_SHA256}\"")
        );
        assert_eq!(
            serde_json::from_str::<ObjectId>(&format!("\"{EMPTY_SHA256}\"")).unwrap(),
            id
        );
        assert!(serde_json::from_str::<ObjectId>("42").is_err());
    }

    proptest! {
        #[test]
        fn hex_round_trips_and_orders_like_bytes(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            let (a, b) = (ObjectId(a), ObjectId(b));
            let (ha, hb) = (a.to_string(), b.to_string());
            prop_assert_eq!(ha.len(), OBJECT_ID_HEX_LEN);
            prop_assert_eq!(ha.parse::<ObjectId>().unwrap(), a);
            prop_assert_eq!(a.cmp(&b), ha.cmp(&hb));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,70}") {
            if let Ok(id) = s.parse::<ObjectId>() {
                prop_assert_eq!(id.to_string(), s);
            }
        }
    }
}
