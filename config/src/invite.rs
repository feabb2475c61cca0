//! Invite codes: a network key plus the addresses of peers to dial, as one copy-pasteable string.
//!
//! Format: the text `kith1`, then URL-safe unpadded base64 of
//!
//! ```text
//! version (1 byte, = 1)
//! network key (32 bytes)
//! per address: unsigned LEB128 length, then the multiaddr's binary form
//! checksum (4 bytes): the first 4 bytes of SHA-256 over everything above
//! ```
//!
//! Every version keeps the checksum as the last 4 bytes, so it is checked first: a mistyped or
//! truncated code fails with "checksum mismatch" instead of an arbitrary parse error. Each
//! address must end with `/p2p/<peer-id>` (the invitee must know whom it dials), and a code holds
//! at most [`MAX_INVITE_ADDRS`] addresses. An invite contains the network key: it is a secret.

use std::str::FromStr;

use base64::{
    Engine,
    alphabet::URL_SAFE,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use libp2p::Multiaddr;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, NetworkKey, addr::peer_id_of, keys::NETWORK_KEY_LEN};

/// Text every invite code starts with.
pub const INVITE_PREFIX: &str = "kith1";
/// Most addresses an invite code may carry.
pub const MAX_INVITE_ADDRS: usize = 16;

const VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 4;
/// Longest code decoded: 16 generous addresses fit easily; anything longer is not an invite.
const MAX_CODE_LEN: usize = 16 * 1024;
/// Longest multiaddr accepted, in bytes (a DNS name of 253 bytes plus ports and a peer id fits).
const MAX_ADDR_LEN: u64 = 1024;

/// Unpadded URL-safe base64; padding is tolerated when decoding, in case a tool added it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An invitation into a private network: its key and where to find members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    /// The network's pre-shared key.
    pub network_key: NetworkKey,
    /// Addresses of peers to dial, each ending in `/p2p/<peer-id>`.
    pub addrs: Vec<Multiaddr>,
}

impl Invite {
    /// An invite, checked as [`Invite::decode`] would check it: at most [`MAX_INVITE_ADDRS`]
    /// addresses, each ending in `/p2p/<peer-id>`.
    pub fn new(network_key: NetworkKey, addrs: Vec<Multiaddr>) -> Result<Invite, Error> {
        if addrs.len() > MAX_INVITE_ADDRS {
            return Err(too_many_addrs());
        }
        for addr in &addrs {
            check_addr(addr)?;
        }
        Ok(Invite { network_key, addrs })
    }

    /// The invite code. Use [`Invite::new`] to build the invite, or the code may carry what
    /// [`Invite::decode`] rejects.
    pub fn encode(&self) -> String {
        let mut payload = Zeroizing::new(Vec::with_capacity(
            1 + NETWORK_KEY_LEN + self.addrs.iter().map(|a| a.len() + 2).sum::<usize>() + 4,
        ));
        payload.push(VERSION);
        payload.extend_from_slice(self.network_key.as_bytes());
        for addr in &self.addrs {
            let bytes = addr.to_vec();
            write_leb128(&mut payload, bytes.len() as u64);
            payload.extend_from_slice(&bytes);
        }
        let checksum = checksum(&payload);
        payload.extend_from_slice(&checksum);
        let mut code = String::with_capacity(INVITE_PREFIX.len() + payload.len() * 4 / 3 + 4);
        code.push_str(INVITE_PREFIX);
        BASE64.encode_string(&*payload, &mut code);
        code
    }

    /// Decodes an invite code. Whitespace anywhere in it is ignored, so a code that a mail
    /// client or terminal wrapped over several lines still decodes.
    pub fn decode(code: &str) -> Result<Invite, Error> {
        if code.len() > 2 * MAX_CODE_LEN {
            return Err(Error::invite(format!(
                "the code is longer than {MAX_CODE_LEN} characters"
            )));
        }
        let code: String = code.split_whitespace().collect();
        if code.len() > MAX_CODE_LEN {
            return Err(Error::invite(format!(
                "the code is longer than {MAX_CODE_LEN} characters"
            )));
        }
        let body = code
            .strip_prefix(INVITE_PREFIX)
            .ok_or_else(|| Error::invite(format!("the code must start with `{INVITE_PREFIX}`")))?;
        let bytes = Zeroizing::new(
            BASE64
                .decode(body)
                .map_err(|e| Error::invite(format!("the code is not valid base64 ({e})")))?,
        );
        decode_payload(&bytes)
    }
}

impl FromStr for Invite {
    type Err = Error;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Invite::decode(code)
    }
}

/// Decodes the binary payload (version, key, addresses, checksum).
fn decode_payload(bytes: &[u8]) -> Result<Invite, Error> {
    let Some(split) = bytes.len().checked_sub(CHECKSUM_LEN).filter(|&n| n > 0) else {
        return Err(Error::invite("the code is truncated"));
    };
    let (content, check) = bytes.split_at(split);
    if checksum(content) != check {
        return Err(Error::invite(
            "checksum mismatch: the code was mistyped or cut short",
        ));
    }
    let (&version, rest) = content
        .split_first()
        .ok_or_else(|| Error::invite("the code is truncated"))?;
    if version != VERSION {
        return Err(Error::invite(format!(
            "unsupported version {version} (this kith understands version {VERSION}); \
             upgrade kith"
        )));
    }
    if rest.len() < NETWORK_KEY_LEN {
        return Err(Error::invite("the code is truncated"));
    }
    let (key, mut rest) = rest.split_at(NETWORK_KEY_LEN);
    let mut key_bytes = Zeroizing::new([0u8; NETWORK_KEY_LEN]);
    key_bytes.copy_from_slice(key);
    let network_key = NetworkKey::from_bytes(*key_bytes);

    let mut addrs = Vec::new();
    while !rest.is_empty() {
        if addrs.len() == MAX_INVITE_ADDRS {
            return Err(too_many_addrs());
        }
        let n = addrs.len() + 1;
        let (len, after) = read_leb128(rest)
            .ok_or_else(|| Error::invite(format!("address {n} has a malformed length")))?;
        if len > MAX_ADDR_LEN {
            return Err(Error::invite(format!(
                "address {n} is longer than {MAX_ADDR_LEN} bytes"
            )));
        }
        // `len` <= MAX_ADDR_LEN, so it fits in usize.
        let len = len as usize;
        if after.len() < len {
            return Err(Error::invite("the code is truncated"));
        }
        let (addr, after) = after.split_at(len);
        let addr = Multiaddr::try_from(addr.to_vec())
            .map_err(|e| Error::invite(format!("address {n} is not a valid multiaddr ({e})")))?;
        check_addr(&addr)?;
        addrs.push(addr);
        rest = after;
    }
    Ok(Invite { network_key, addrs })
}

fn check_addr(addr: &Multiaddr) -> Result<(), Error> {
    if peer_id_of(addr).is_none() {
        return Err(Error::invite(format!(
            "address `{addr}` does not end with /p2p/<peer-id>, so it does not say which peer \
             to dial"
        )));
    }
    Ok(())
}

fn too_many_addrs() -> Error {
    Error::invite(format!("more than {MAX_INVITE_ADDRS} addresses"))
}

fn checksum(content: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(content);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

fn write_leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a minimally encoded unsigned LEB128 number of at most 9 bytes (63 bits; lengths here
/// are tiny). Returns the value and the remaining input.
fn read_leb128(input: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(9) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A zero final byte after others is a padded (non-minimal) encoding.
            if i > 0 && byte == 0 {
                return None;
            }
            return Some((value, &input[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use libp2p::{PeerId, identity::Keypair, multiaddr::Protocol};
    use proptest::prelude::*;

    use super::*;

    fn peer(seed: u8) -> PeerId {
        Keypair::ed25519_from_bytes([seed; 32])
            .expect("32 bytes are a valid Ed25519 secret")
            .public()
            .to_peer_id()
    }

    fn addr(text: &str, seed: u8) -> Multiaddr {
        text.parse::<Multiaddr>()
            .unwrap()
            .with(Protocol::P2p(peer(seed)))
    }

    fn sample() -> Invite {
        Invite::new(
            NetworkKey::from_bytes([7; 32]),
            vec![
                addr("/ip4/192.168.1.20/tcp/4001", 1),
                addr("/dns4/kith.example.org/tcp/4001", 2),
                addr("/ip6/::1/tcp/4001", 3),
            ],
        )
        .unwrap()
    }

    /// Builds a code from raw payload content, appending a correct checksum.
    fn code_from_content(content: &[u8]) -> String {
        let mut payload = content.to_vec();
        payload.extend_from_slice(&checksum(content));
        format!("{INVITE_PREFIX}{}", BASE64.encode(payload))
    }

    fn reason(result: Result<Invite, Error>) -> String {
        match result {
            Err(Error::InvalidInvite { reason }) => reason,
            other => panic!("expected InvalidInvite, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let invite = sample();
        let code = invite.encode();
        assert!(code.starts_with("kith1"));
        assert!(
            code[5..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Invite::decode(&code).unwrap(), invite);
        assert_eq!(code.parse::<Invite>().unwrap(), invite);
        assert_eq!(Invite::decode(&format!("  \n{code}\t\n")).unwrap(), invite);
        let wrapped = format!("{}\n{}\r\n  {}", &code[..30], &code[30..60], &code[60..]);
        assert_eq!(Invite::decode(&wrapped).unwrap(), invite);
    }

    #[test]
    fn round_trip_without_addresses() {
        let invite = Invite::new(NetworkKey::generate(), Vec::new()).unwrap();
        assert_eq!(Invite::decode(&invite.encode()).unwrap(), invite);
    }

    #[test]
    fn layout_is_as_documented() {
        let invite = sample();
        let bytes = BASE64.decode(&invite.encode()[5..]).unwrap();
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..33], &[7; 32]);
        let first = invite.addrs[0].to_vec();
        assert_eq!(bytes[33] as usize, first.len());
        assert_eq!(&bytes[34..34 + first.len()], &first[..]);
        let (content, check) = bytes.split_at(bytes.len() - 4);
        assert_eq!(&Sha256::digest(content)[..4], check);
    }

    #[test]
    fn rejects_wrong_prefix() {
        let code = sample().encode();
        assert!(reason(Invite::decode(&code.replacen("kith1", "kith2", 1))).contains("kith1"));
        assert!(reason(Invite::decode("")).contains("kith1"));
    }

    #[test]
    fn rejects_bad_base64() {
        assert!(reason(Invite::decode("kith1!!!!")).contains("base64"));
        assert!(reason(Invite::decode("kith1a")).contains("base64"));
    }

    #[test]
    fn rejects_a_mistyped_code_with_checksum_mismatch() {
        let code = sample().encode();
        let mut chars: Vec<char> = code.chars().collect();
        let i = 20;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert!(reason(Invite::decode(&typo)).contains("checksum mismatch"));
    }

    #[test]
    fn rejects_a_truncated_code() {
        let code = sample().encode();
        // Cut at a multiple of 4 characters so that the rest is still valid base64.
        let cut = &code[..5 + 40];
        assert!(reason(Invite::decode(cut)).contains("checksum mismatch"));
        assert!(reason(Invite::decode("kith1")).contains("truncated"));
        assert!(reason(Invite::decode(&code_from_content(&[1; 20]))).contains("truncated"));
    }

    #[test]
    fn rejects_an_unknown_version() {
        let mut content = vec![2];
        content.extend_from_slice(&[0; 32]);
        assert!(reason(Invite::decode(&code_from_content(&content))).contains("version 2"));
    }

    #[test]
    fn rejects_a_bad_multiaddr() {
        let mut content = vec![1];
        content.extend_from_slice(&[0; 32]);
        content.extend_from_slice(&[3, 0xff, 0xff, 0xff]);
        assert!(reason(Invite::decode(&code_from_content(&content))).contains("multiaddr"));
    }

    #[test]
    fn rejects_an_address_length_beyond_the_end() {
        let mut content = vec![1];
        content.extend_from_slice(&[0; 32]);
        content.extend_from_slice(&[50, 4, 1, 2]);
        assert!(reason(Invite::decode(&code_from_content(&content))).contains("truncated"));
    }

    #[test]
    fn rejects_an_address_without_peer_id() {
        let bare: Multiaddr = "/ip4/10.0.0.1/tcp/4001".parse().unwrap();
        let invite = Invite {
            network_key: NetworkKey::from_bytes([1; 32]),
            addrs: vec![bare.clone()],
        };
        assert!(reason(Invite::decode(&invite.encode())).contains("/p2p/"));
        assert!(matches!(
            Invite::new(NetworkKey::from_bytes([1; 32]), vec![bare]),
            Err(Error::InvalidInvite { .. })
        ));
    }

    #[test]
    fn rejects_more_than_16_addresses() {
        let addrs: Vec<Multiaddr> = (0..17)
            .map(|i| addr(&format!("/ip4/10.0.0.{i}/tcp/4001"), i))
            .collect();
        let invite = Invite {
            network_key: NetworkKey::from_bytes([1; 32]),
            addrs: addrs.clone(),
        };
        assert!(reason(Invite::decode(&invite.encode())).contains("more than 16"));
        assert!(Invite::new(NetworkKey::from_bytes([1; 32]), addrs.clone()).is_err());
        assert!(Invite::new(NetworkKey::from_bytes([1; 32]), addrs[..16].to_vec()).is_ok());
    }

    #[test]
    fn rejects_an_overlong_code() {
        let code = format!("kith1{}", "A".repeat(MAX_CODE_LEN));
        assert!(reason(Invite::decode(&code)).contains("longer"));
    }

    #[test]
    fn leb128_round_trip_and_minimality() {
        for value in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::from(u32::MAX)] {
            let mut buf = Vec::new();
            write_leb128(&mut buf, value);
            buf.push(0xaa);
            assert_eq!(read_leb128(&buf), Some((value, &[0xaa][..])), "{value}");
        }
        assert_eq!(read_leb128(&[0x80, 0x00]), None, "padded encoding");
        assert_eq!(read_leb128(&[0x80]), None, "unterminated");
        assert_eq!(read_leb128(&[]), None);
        assert_eq!(read_leb128(&[0xff; 12]), None, "too long");
    }

    fn arb_addr() -> impl Strategy<Value = Multiaddr> {
        let host = prop_oneof![
            any::<[u8; 4]>().prop_map(|ip| Protocol::Ip4(ip.into())),
            any::<[u8; 16]>().prop_map(|ip| Protocol::Ip6(ip.into())),
            "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,6})?".prop_map(|name| Protocol::Dns4(name.into())),
        ];
        (host, any::<u16>(), any::<u8>()).prop_map(|(host, port, seed)| {
            Multiaddr::empty()
                .with(host)
                .with(Protocol::Tcp(port))
                .with(Protocol::P2p(peer(seed)))
        })
    }

    proptest! {
        #[test]
        fn encode_decode_is_identity(
            key in any::<[u8; 32]>(),
            addrs in proptest::collection::vec(arb_addr(), 0..=MAX_INVITE_ADDRS),
        ) {
            let invite = Invite::new(NetworkKey::from_bytes(key), addrs).unwrap();
            prop_assert_eq!(Invite::decode(&invite.encode()).unwrap(), invite);
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = Invite::decode(&text);
            let _ = Invite::decode(&format!("kith1{text}"));
        }

        #[test]
        fn decoding_arbitrary_payloads_never_panics(
            content in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            // With a valid checksum the bytes reach the version, length and multiaddr parsers.
            let mut with_version = vec![VERSION];
            with_version.extend_from_slice(&content);
            let _ = Invite::decode(&code_from_content(&with_version));
            let _ = Invite::decode(&code_from_content(&content));
        }
    }
}
