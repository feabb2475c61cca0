//! Tests of whole signed objects: create → verify round trips, every verification failure, the
//! pinned cross-implementation vector, and proptests over hostile input.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::multihash::Multihash;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::json::canonicalize;
use super::*;

/// The clock of the tests, and `created_at` of the objects they make.
const NOW: u64 = 1_700_000_000_000;

/// A fixed Ed25519 identity, one per `seed`.
pub(crate) fn keypair(seed: u8) -> Keypair {
    Keypair::ed25519_from_bytes([seed; 32]).expect("32 bytes is an Ed25519 secret key")
}

/// A fixed peer id that is not the author of the test objects.
pub(crate) fn peer() -> PeerId {
    keypair(200).public().to_peer_id()
}

/// One value of every kind, with every optional field both set and unset.
pub(crate) fn samples() -> Vec<Content> {
    vec![
        Content::Profile(Profile {
            display_name: "Ada".into(),
            bio: "Counts things.".into(),
            avatar: Some("blob:1234".into()),
            locked: true,
        }),
        Content::Profile(Profile::default()),
        Content::Post(PostContent::new("hello")),
        Content::Post(PostContent {
            text: "re".into(),
            reply_to: Some(ObjectId([1; 32])),
            quote_of: Some(ObjectId([2; 32])),
        }),
        Content::Follow { target: peer() },
        Content::Unfollow { target: peer() },
        Content::Like {
            target: ObjectId([3; 32]),
        },
        Content::Delete {
            target: ObjectId([4; 32]),
        },
    ]
}

fn verify(bytes: &[u8]) -> Result<SignedObject, ObjectError> {
    SignedObject::verify(bytes, &VerifyRules::default(), NOW)
}

fn post(text: &str) -> SignedObject {
    SignedObject::create(&keypair(1), NOW, Content::Post(PostContent::new(text))).unwrap()
}

fn to_map(bytes: &[u8]) -> Map<String, Value> {
    serde_json::from_slice(bytes).unwrap()
}

/// The envelope of an object by `keypair`, without `sig`.
fn envelope(keypair: &Keypair, kind: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("v".into(), json!(1));
    map.insert("kind".into(), json!(kind));
    map.insert(
        "author".into(),
        json!(keypair.public().to_peer_id().to_base58()),
    );
    map.insert("created_at".into(), json!(NOW));
    map
}

/// Signs whatever `map` holds (it must not hold `sig`) with `keypair`, the way a conforming
/// implementation would, and returns the object's JSON.
fn sign_map(keypair: &Keypair, mut map: Map<String, Value>) -> Vec<u8> {
    let sig = keypair.sign(&canonicalize(&map).unwrap()).unwrap();
    map.insert("sig".into(), json!(URL_SAFE_NO_PAD.encode(sig)));
    serde_json::to_vec(&map).unwrap()
}

/// Replaces member `name` of the JSON object `bytes` (or adds it), keeping everything else.
fn with_member(bytes: &[u8], name: &str, value: Value) -> Vec<u8> {
    let mut map = to_map(bytes);
    map.insert(name.into(), value);
    serde_json::to_vec(&map).unwrap()
}

/// A string literal with every character written as a `\u` escape of four hex digits.
fn escape_all(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04X}"));
    }
    out.push('"');
    out
}

/// The same object written differently: members in reverse order, white space everywhere,
/// every top-level string fully `\u`-escaped.
fn rewrite(bytes: &[u8]) -> Vec<u8> {
    let members: Vec<String> = to_map(bytes)
        .iter()
        .rev()
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => escape_all(s),
                other => serde_json::to_string_pretty(other).unwrap(),
            };
            format!("\n\t{} :  {value}", escape_all(name))
        })
        .collect();
    format!(" \r\n{{{} \n}}\n ", members.join(" ,")).into_bytes()
}

#[test]
fn stored_objects_read_back_without_reverifying() {
    let keypair = keypair(2);
    for content in samples() {
        let created = SignedObject::create(&keypair, NOW, content).unwrap();
        let stored = SignedObject::from_verified_store(created.id(), created.as_bytes()).unwrap();
        assert_eq!(stored, created);
    }
    // Garbage is still refused: the store reports it as corrupt rather than serving it.
    for garbage in [
        &b"not json"[..],
        b"{}",
        br#"{"v":1,"kind":"post","author":"x","created_at":1}"#,
    ] {
        assert!(SignedObject::from_verified_store(ObjectId::from_bytes([0; 32]), garbage).is_err());
    }
}

#[test]
fn every_kind_round_trips() {
    let keypair = keypair(1);
    let author = keypair.public().to_peer_id();
    for content in samples() {
        let created = SignedObject::create(&keypair, NOW, content.clone()).unwrap();
        assert_eq!(created.author(), author);
        assert_eq!(created.created_at(), NOW);
        assert_eq!(created.kind(), content.kind());
        assert_eq!(created.content(), &content);

        let verified = verify(created.as_bytes()).unwrap();
        assert_eq!(verified, created);
        assert_eq!(verified.id(), created.id());

        // What is sent is the canonical JSON of the whole object.
        let json = created.to_json();
        assert_eq!(
            created.as_bytes(),
            &canonicalize(json.as_object().unwrap()).unwrap()[..]
        );
        assert_eq!(json["v"], json!(1));
        assert_eq!(json["kind"], json!(content.kind().as_str()));
        assert_eq!(json["author"], json!(author.to_base58()));
        assert_eq!(json["created_at"], json!(NOW));
        assert_eq!(json["sig"].as_str().unwrap().len(), 86);

        // The id is over the canonical bytes without sig.
        let mut unsigned = json.as_object().unwrap().clone();
        unsigned.remove("sig");
        assert_eq!(
            created.id(),
            ObjectId::of_canonical(&canonicalize(&unsigned).unwrap())
        );
    }
}

#[test]
fn member_order_white_space_and_escapes_do_not_matter() {
    for content in samples() {
        let created = SignedObject::create(&keypair(2), NOW, content).unwrap();
        let rewritten = rewrite(created.as_bytes());
        assert_ne!(rewritten, created.as_bytes());
        let verified = verify(&rewritten).unwrap();
        assert_eq!(verified.id(), created.id());
        assert_eq!(verified.content(), created.content());
        // The bytes as received are what is kept.
        assert_eq!(verified.as_bytes(), &rewritten[..]);
        assert_eq!(verified.to_json(), created.to_json());
    }
}

#[test]
fn altered_content_is_a_bad_signature() {
    let original = post("I owe you 10 coins");
    let altered = with_member(original.as_bytes(), "text", json!("I owe you 1000 coins"));
    assert_eq!(verify(&altered), Err(ObjectError::BadSignature));
    for (member, value) in [
        ("created_at", json!(NOW - 1)),
        ("kind", json!("like")),
        ("reply_to", json!(ObjectId([9; 32]).to_string())),
    ] {
        let altered = with_member(original.as_bytes(), member, value);
        assert_eq!(verify(&altered), Err(ObjectError::BadSignature), "{member}");
    }
    // Another author's valid signature does not transfer either.
    let other = SignedObject::create(&keypair(7), NOW, Content::Post(PostContent::new("x")))
        .unwrap()
        .to_json();
    let swapped = with_member(original.as_bytes(), "sig", other["sig"].clone());
    assert_eq!(verify(&swapped), Err(ObjectError::BadSignature));
}

#[test]
fn signed_by_someone_else_than_the_author_is_a_bad_signature() {
    let (x, y) = (keypair(3), keypair(4));
    let mut map = envelope(&y, "post");
    map.insert("text".into(), json!("I am Y, trust me"));
    assert_eq!(
        verify(&sign_map(&x, map.clone())),
        Err(ObjectError::BadSignature)
    );
    assert!(verify(&sign_map(&y, map)).is_ok());
}

#[test]
fn unknown_members_are_signed_and_kept() {
    let keypair = keypair(5);
    let mut map = envelope(&keypair, "post");
    map.insert("text".into(), json!("from the future"));
    map.insert("lang".into(), json!("en"));
    map.insert("extra".into(), json!({"z": [1, 2.5, null, "x"], "a": true}));
    let bytes = sign_map(&keypair, map);
    let verified = verify(&bytes).unwrap();
    assert_eq!(
        verified.content(),
        &Content::Post(PostContent::new("from the future"))
    );
    assert_eq!(verified.as_bytes(), &bytes[..]);
    assert_eq!(verified.to_json()["lang"], json!("en"));
    assert_eq!(verified.to_json()["extra"]["z"][1], json!(2.5));
    // And still covered by the signature once known: changing one breaks it.
    let altered = with_member(&bytes, "lang", json!("fr"));
    assert_eq!(verify(&altered), Err(ObjectError::BadSignature));

    // A member added after signing breaks it too.
    let added = with_member(post("hi").as_bytes(), "lang", json!("en"));
    assert_eq!(verify(&added), Err(ObjectError::BadSignature));
    let added = with_member(post("hi").as_bytes(), "reply_to", json!(ObjectId([1; 32])));
    assert_eq!(verify(&added), Err(ObjectError::BadSignature));
}

#[test]
fn repeated_members_are_refused() {
    let original = post("hello");
    let text = String::from_utf8(original.as_bytes().to_vec()).unwrap();
    // The signed text first, a forged one second: parsers disagree on which wins.
    let doubled = text.replacen(r#""text":"hello""#, r#""text":"hello","text":"bye""#, 1);
    assert_ne!(doubled, text);
    assert!(matches!(
        verify(doubled.as_bytes()),
        Err(ObjectError::Malformed(m)) if m.contains("repeated")
    ));
}

/// A syntactically valid signature, for tests that fail before it is checked.
fn dummy_sig() -> Value {
    json!(URL_SAFE_NO_PAD.encode([7u8; 64]))
}

fn with_author(author: Value) -> Vec<u8> {
    let mut map = envelope(&keypair(1), "post");
    map.insert("text".into(), json!("hi"));
    map.insert("author".into(), author);
    map.insert("sig".into(), dummy_sig());
    serde_json::to_vec(&map).unwrap()
}

#[test]
fn authors_must_be_ed25519_peer_ids() {
    let real = keypair(1).public();
    let sha256_id = PeerId::from_multihash(Multihash::wrap(0x12, &[0xab; 32]).unwrap()).unwrap();
    // An identity multihash of a protobuf secp256k1 key (KeyType 2, 33 bytes).
    let mut secp = vec![0x08, 0x02, 0x12, 33, 0x02];
    secp.extend_from_slice(&[0x11; 32]);
    let secp_id = PeerId::from_multihash(Multihash::wrap(0x00, &secp).unwrap()).unwrap();
    // The identity point: a valid Ed25519 encoding, but of small order.
    let mut weak = vec![0x08, 0x01, 0x12, 32, 0x01];
    weak.extend_from_slice(&[0; 31]);
    let weak_id = PeerId::from_multihash(Multihash::wrap(0x00, &weak).unwrap()).unwrap();
    // The real key, with its protobuf fields in the other order: same key, different id.
    let mut reordered = vec![0x12, 32];
    reordered.extend_from_slice(&real.clone().try_into_ed25519().unwrap().to_bytes());
    reordered.extend_from_slice(&[0x08, 0x01]);
    let reordered_id = PeerId::from_multihash(Multihash::wrap(0x00, &reordered).unwrap()).unwrap();
    assert_ne!(reordered_id, real.to_peer_id());

    let bad = [
        json!(""),
        json!("garbage"),
        json!("12D3KooW"),
        json!(format!("{}x", real.to_peer_id())),
        json!(PeerId::random().to_base58()),
        json!(sha256_id.to_base58()),
        json!(secp_id.to_base58()),
        json!(weak_id.to_base58()),
        json!(reordered_id.to_base58()),
    ];
    for author in bad {
        assert!(
            matches!(
                verify(&with_author(author.clone())),
                Err(ObjectError::BadAuthor(_))
            ),
            "{author}: {:?}",
            verify(&with_author(author.clone()))
        );
    }
    for author in [json!(42), json!(null), json!(["x"])] {
        assert!(matches!(
            verify(&with_author(author)),
            Err(ObjectError::Malformed(_))
        ));
    }
    let mut map = to_map(&with_author(json!("x")));
    map.remove("author");
    assert!(matches!(
        verify(&serde_json::to_vec(&map).unwrap()),
        Err(ObjectError::Malformed(m)) if m.contains("author")
    ));

    // Signed by the real key but naming it by its non-canonical id: refused, not accepted as a
    // second identity of the same key.
    let keypair = keypair(1);
    let mut map = envelope(&keypair, "post");
    map.insert("text".into(), json!("hi"));
    map.insert("author".into(), json!(reordered_id.to_base58()));
    assert!(matches!(
        verify(&sign_map(&keypair, map)),
        Err(ObjectError::BadAuthor(_))
    ));
}

#[test]
fn signatures_must_be_64_bytes_of_unpadded_base64url() {
    let original = post("hi");
    let sig = URL_SAFE_NO_PAD
        .decode(original.to_json()["sig"].as_str().unwrap())
        .unwrap();
    let malformed = [
        json!(null),
        json!(1),
        json!(""),
        json!(URL_SAFE.encode(&sig)),
        json!(STANDARD.encode(&sig)),
        json!(URL_SAFE_NO_PAD.encode(&sig[..63])),
        json!(URL_SAFE_NO_PAD.encode([sig.clone(), vec![0]].concat())),
        json!(format!("{}!", &URL_SAFE_NO_PAD.encode(&sig)[..85])),
    ];
    for sig in malformed {
        assert!(
            matches!(
                verify(&with_member(original.as_bytes(), "sig", sig.clone())),
                Err(ObjectError::Malformed(_))
            ),
            "{sig}"
        );
    }
    let mut map = to_map(original.as_bytes());
    map.remove("sig");
    assert!(matches!(
        verify(&serde_json::to_vec(&map).unwrap()),
        Err(ObjectError::Malformed(m)) if m.contains("sig")
    ));
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    let flipped = with_member(
        original.as_bytes(),
        "sig",
        json!(URL_SAFE_NO_PAD.encode(&flipped)),
    );
    assert_eq!(verify(&flipped), Err(ObjectError::BadSignature));
}

#[test]
fn created_at_may_be_at_most_the_skew_ahead() {
    let at = |created_at: u64| {
        let content = Content::Post(PostContent::new("tick"));
        let object = SignedObject::create(&keypair(1), created_at, content).unwrap();
        verify(object.as_bytes())
    };
    let minute = 60 * 1000;
    assert!(at(NOW + 4 * minute).is_ok());
    assert!(at(NOW + 5 * minute).is_ok());
    assert!(at(0).is_ok());
    assert_eq!(
        at(NOW + 10 * minute),
        Err(ObjectError::FromTheFuture {
            created_at: NOW + 10 * minute,
            now: NOW
        })
    );
    assert!(matches!(
        at(NOW + 5 * minute + 1),
        Err(ObjectError::FromTheFuture { .. })
    ));
    // The verifier's skew is configurable, and a clock near the end of time does not overflow.
    let strict = VerifyRules {
        max_clock_skew_ms: 0,
        ..VerifyRules::default()
    };
    let object =
        SignedObject::create(&keypair(1), NOW + 1, Content::Post(PostContent::new("a"))).unwrap();
    assert!(SignedObject::verify(object.as_bytes(), &strict, NOW).is_err());
    assert!(SignedObject::verify(object.as_bytes(), &strict, NOW + 1).is_ok());
    assert!(SignedObject::verify(object.as_bytes(), &VerifyRules::default(), u64::MAX).is_ok());
}

#[test]
fn created_at_must_be_a_safe_integer() {
    let keypair = keypair(1);
    let content = Content::Post(PostContent::new("a"));
    assert!(SignedObject::create(&keypair, MAX_CREATED_AT, content.clone()).is_ok());
    assert!(matches!(
        SignedObject::create(&keypair, MAX_CREATED_AT + 1, content),
        Err(ObjectError::Invalid {
            field: "created_at",
            ..
        })
    ));
    for (created_at, is_malformed) in [
        (json!(MAX_CREATED_AT + 1), false),
        (json!(u64::MAX), false),
        (json!(-1), true),
        (json!(1.5), true),
        (json!(NOW as f64), true),
        (json!(NOW.to_string()), true),
        (json!(null), true),
    ] {
        let mut map = envelope(&keypair, "post");
        map.insert("text".into(), json!("a"));
        map.insert("created_at".into(), created_at.clone());
        let result =
            SignedObject::verify(&sign_map(&keypair, map), &VerifyRules::default(), u64::MAX);
        if is_malformed {
            assert!(
                matches!(result, Err(ObjectError::Malformed(_))),
                "{created_at}: {result:?}"
            );
        } else {
            assert!(
                matches!(
                    result,
                    Err(ObjectError::Invalid {
                        field: "created_at",
                        ..
                    })
                ),
                "{created_at}: {result:?}"
            );
        }
    }
}

#[test]
fn post_length_is_counted_in_chars() {
    let keypair = keypair(1);
    let long = "a".repeat(1001);
    // create refuses what default verifiers would refuse...
    assert!(matches!(
        SignedObject::create(&keypair, NOW, Content::Post(PostContent::new(long.clone()))),
        Err(ObjectError::Invalid { field: "text", .. })
    ));
    // ...unless told otherwise, and then default verifiers refuse it.
    let generous = VerifyRules {
        max_post_chars: 2000,
        ..VerifyRules::default()
    };
    let object = SignedObject::create_with_rules(
        &keypair,
        NOW,
        Content::Post(PostContent::new(long)),
        &generous,
    )
    .unwrap();
    assert!(matches!(
        verify(object.as_bytes()),
        Err(ObjectError::Invalid { field: "text", .. })
    ));
    assert!(SignedObject::verify(object.as_bytes(), &generous, NOW).is_ok());

    for text in ["é".repeat(1000), "🦀".repeat(1000), "a".repeat(1000)] {
        let object = post(&text);
        assert_eq!(verify(object.as_bytes()).unwrap(), object);
    }
    for text in ["", "  \n"] {
        assert_eq!(
            SignedObject::create(&keypair, NOW, Content::Post(PostContent::new(text))),
            Err(ObjectError::invalid("text", "empty"))
        );
        let mut map = envelope(&keypair, "post");
        map.insert("text".into(), json!(text));
        assert_eq!(
            verify(&sign_map(&keypair, map)),
            Err(ObjectError::invalid("text", "empty"))
        );
    }
}

#[test]
fn size_is_checked_before_parsing() {
    // Not JSON at all, but too long: the size is what is reported.
    assert_eq!(
        verify(&vec![b'x'; MAX_OBJECT_LEN + 1]),
        Err(ObjectError::TooLarge)
    );
    // A valid object padded to exactly the limit still verifies; one byte more does not.
    let mut padded = post("hi").as_bytes().to_vec();
    padded.resize(MAX_OBJECT_LEN, b' ');
    assert!(verify(&padded).is_ok());
    padded.push(b' ');
    assert_eq!(verify(&padded), Err(ObjectError::TooLarge));
    // create refuses to make what nobody would accept.
    let keypair = keypair(1);
    let huge = VerifyRules {
        max_post_chars: usize::MAX,
        ..VerifyRules::default()
    };
    let text = "\u{1}".repeat(MAX_OBJECT_LEN / 6 + 1);
    assert_eq!(
        SignedObject::create_with_rules(
            &keypair,
            NOW,
            Content::Post(PostContent::new(text)),
            &huge
        ),
        Err(ObjectError::TooLarge)
    );
}

#[test]
fn version_is_checked_first() {
    let original = post("hi");
    // Even with a broken signature, the version is what is reported.
    for v in [2u64, 0, u64::from(u32::MAX)] {
        let bytes = with_member(original.as_bytes(), "v", json!(v));
        assert_eq!(
            verify(&bytes),
            Err(ObjectError::UnsupportedVersion(u32::try_from(v).unwrap()))
        );
    }
    for v in [
        json!("1"),
        json!(1.0),
        json!(-1),
        json!(u64::from(u32::MAX) + 1),
        json!(null),
    ] {
        let bytes = with_member(original.as_bytes(), "v", v.clone());
        assert!(
            matches!(verify(&bytes), Err(ObjectError::Malformed(_))),
            "{v}"
        );
    }
    let mut map = to_map(original.as_bytes());
    map.remove("v");
    assert!(matches!(
        verify(&serde_json::to_vec(&map).unwrap()),
        Err(ObjectError::Malformed(m)) if m.contains('v')
    ));
    // A properly signed version 2 object is still refused.
    let keypair = keypair(1);
    let mut map = envelope(&keypair, "post");
    map.insert("v".into(), json!(2));
    map.insert("text".into(), json!("hi"));
    assert_eq!(
        verify(&sign_map(&keypair, map)),
        Err(ObjectError::UnsupportedVersion(2))
    );
}

#[test]
fn unknown_kinds_are_reported_after_the_signature() {
    let keypair = keypair(1);
    let mut map = envelope(&keypair, "repost");
    map.insert("target".into(), json!(ObjectId([1; 32])));
    let bytes = sign_map(&keypair, map.clone());
    assert_eq!(
        verify(&bytes),
        Err(ObjectError::UnknownKind("repost".into()))
    );
    // A forged one is a bad signature first.
    let mut forged = map;
    forged.insert("author".into(), json!(peer().to_base58()));
    assert_eq!(
        verify(&sign_map(&keypair, forged)),
        Err(ObjectError::BadSignature)
    );
    for kind in [json!(1), json!(null)] {
        let mut map = envelope(&keypair, "post");
        map.insert("text".into(), json!("a"));
        map.insert("kind".into(), kind);
        assert!(matches!(
            verify(&sign_map(&keypair, map)),
            Err(ObjectError::Malformed(m)) if m.contains("kind")
        ));
    }
}

#[test]
fn kind_fields_are_checked_after_the_signature() {
    let keypair = keypair(1);
    let mut map = envelope(&keypair, "like");
    map.insert("target".into(), json!("ABC"));
    assert!(matches!(
        verify(&sign_map(&keypair, map)),
        Err(ObjectError::Invalid {
            field: "target",
            ..
        })
    ));
    let mut map = envelope(&keypair, "profile");
    map.insert("display_name".into(), json!("x".repeat(65)));
    assert!(matches!(
        verify(&sign_map(&keypair, map)),
        Err(ObjectError::Invalid {
            field: "display_name",
            ..
        })
    ));
}

#[test]
fn non_objects_are_malformed() {
    for bytes in [
        &b""[..],
        b"[]",
        b"null",
        b"{",
        b"\xff\xfe",
        b"{\"v\":1}trailing",
    ] {
        assert!(
            matches!(verify(bytes), Err(ObjectError::Malformed(_))),
            "{bytes:?}"
        );
    }
}

#[test]
fn debug_shows_the_object_not_the_bytes() {
    let object = post("hi");
    let debug = format!("{object:?}");
    assert!(debug.contains(&object.id().to_string()), "{debug}");
    assert!(debug.contains("hi"), "{debug}");
    assert!(!debug.contains("sig"), "{debug}");
}

/// The cross-implementation vector quoted in the module docs (and docs/PROTOCOL.md).
#[test]
fn pinned_test_vector() {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let keypair = Keypair::ed25519_from_bytes(seed).unwrap();
    let object = SignedObject::create(
        &keypair,
        1_700_000_000_000,
        Content::Post(PostContent::new("Hello, Kith!")),
    )
    .unwrap();
    let mut unsigned = to_map(object.as_bytes());
    let sig = unsigned.remove("sig").unwrap();
    let canonical = String::from_utf8(canonicalize(&unsigned).unwrap()).unwrap();
    assert_eq!(object.author().to_base58(), VECTOR_AUTHOR);
    assert_eq!(canonical, VECTOR_CANONICAL);
    assert_eq!(object.id().to_string(), VECTOR_ID);
    assert_eq!(sig, json!(VECTOR_SIG));
    assert_eq!(object.as_bytes(), VECTOR_OBJECT.as_bytes());
    assert_eq!(verify(VECTOR_OBJECT.as_bytes()).unwrap(), object);
}

// Checked independently of this code: Python's `cryptography` Ed25519 and `hashlib` SHA-256
// give the same signature and id for the same seed and canonical bytes.
const VECTOR_AUTHOR: &str = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";
const VECTOR_CANONICAL: &str = r#"{"author":"12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB","created_at":1700000000000,"kind":"post","text":"Hello, Kith!","v":1}"#;
const VECTOR_ID: &str = "f60ca18fb0b7c4f0781783b1695ce091e4cbd83690abbb194751892cc2f8f404";
const VECTOR_SIG: &str =
    "iL7I3fwpdGdqONUaVIl4bh-ZVRwuvn6pP0Yd2jH66LyLs9Mxe8vBNj4NCI9-0nn_WlWy_qnkssk3rB3fn9ZbCA";
const VECTOR_OBJECT: &str = r#"{"author":"12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB","created_at":1700000000000,"kind":"post","sig":"iL7I3fwpdGdqONUaVIl4bh-ZVRwuvn6pP0Yd2jH66LyLs9Mxe8vBNj4NCI9-0nn_WlWy_qnkssk3rB3fn9ZbCA","text":"Hello, Kith!","v":1}"#;

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = verify(&bytes);
    }

    #[test]
    fn corrupted_objects_never_panic_or_verify_as_something_else(
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let object = post("corrupt me");
        let mut bytes = object.as_bytes().to_vec();
        let i = index.index(bytes.len());
        bytes[i] = byte;
        // Whatever happens, an accepted object is the original one.
        if let Ok(verified) = verify(&bytes) {
            prop_assert_eq!(verified.id(), object.id());
            prop_assert_eq!(verified.content(), object.content());
        }
    }

    #[test]
    fn valid_post_text_round_trips(text in "\\PC{1,200}", seed in any::<u8>()) {
        prop_assume!(!text.trim().is_empty());
        let object = SignedObject::create(&keypair(seed), NOW, Content::Post(PostContent::new(text.clone()))).unwrap();
        let verified = verify(object.as_bytes()).unwrap();
        prop_assert_eq!(&verified, &object);
        let rewritten = verify(&rewrite(object.as_bytes())).unwrap();
        prop_assert_eq!(rewritten.id(), object.id());
        prop_assert_eq!(rewritten.content(), &Content::Post(PostContent::new(text)));
    }

    #[test]
    fn unknown_members_of_any_shape_round_trip(
        extra in prop::collection::btree_map("x_[a-z]{1,5}", json_value(), 0..4),
    ) {
        let keypair = keypair(9);
        let mut map = envelope(&keypair, "post");
        map.insert("text".into(), json!("extra"));
        map.extend(extra);
        let bytes = sign_map(&keypair, map);
        let verified = verify(&bytes).unwrap();
        prop_assert_eq!(verified.as_bytes(), &bytes[..]);
        let again = verify(&rewrite(&bytes)).unwrap();
        prop_assert_eq!(again.id(), verified.id());
    }
}
