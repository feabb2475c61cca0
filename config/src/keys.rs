//! The node's key files: identity key, private network key and API token.
//!
//! Loading distinguishes three outcomes: the file is missing (`Ok(None)`: the caller decides
//! whether to create it), the file is fine, or the file is unreadable or corrupt (an error naming
//! the file; a node must never start with a fresh key in place of one it could not read). Creating
//! never replaces an existing file (see `fsutil`). Secrets live in [`Zeroizing`] buffers and
//! `Debug` output shows at most a fingerprint.

use std::{
    fmt, fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    str::FromStr,
    time::{SystemTime, UNIX_EPOCH},
};

use libp2p::{
    identity::{KeyType, Keypair},
    pnet::PreSharedKey,
};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::{
    Error,
    fsutil::{
        PRIVATE_MODE, create_private_file, link_or_move_no_replace, parent_dir, read_private,
        rename_into_place, write_temp,
    },
};

/// Whether `path` (following symlinks) can be read or written by its group or by others.
///
/// Key files should be 0600; a wider mode is worth a warning but is not fatal, since the owner may
/// have chosen it.
pub fn insecure_permissions(path: &Path) -> Result<bool, Error> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(meta.permissions().mode() & 0o077 != 0)
}

// ---------------------------------------------------------------------------------------------
// Identity key
// ---------------------------------------------------------------------------------------------

/// Loads the node's identity keypair (libp2p protobuf encoding). `Ok(None)` if the file does not
/// exist; [`Error::CorruptKey`] if it is not an Ed25519 libp2p private key.
pub fn load_identity(path: &Path) -> Result<Option<Keypair>, Error> {
    let Some(bytes) = read_private(path)? else {
        return Ok(None);
    };
    if bytes.is_empty() {
        return Err(Error::corrupt(path, "the file is empty"));
    }
    let keypair = Keypair::from_protobuf_encoding(&bytes)
        .map_err(|e| Error::corrupt(path, format!("not a libp2p private key ({e})")))?;
    match keypair.key_type() {
        KeyType::Ed25519 => Ok(Some(keypair)),
        other => Err(Error::corrupt(
            path,
            format!("expected an Ed25519 key, found a {other} key"),
        )),
    }
}

/// Generates a new Ed25519 identity and writes it to `path` (mode 0600).
/// [`Error::KeyExists`] if the file exists.
pub fn create_identity(path: &Path) -> Result<Keypair, Error> {
    let keypair = Keypair::generate_ed25519();
    let encoded = Zeroizing::new(
        keypair
            .to_protobuf_encoding()
            .expect("encoding an Ed25519 keypair cannot fail: only RSA is unsupported"),
    );
    create_private_file(path, &encoded)?;
    Ok(keypair)
}

/// Loads the identity at `path`, creating it if the file does not exist. The flag says whether it
/// was created. A corrupt file is an error, never replaced.
pub fn load_or_create_identity(path: &Path) -> Result<(Keypair, bool), Error> {
    load_or_create(path, load_identity, create_identity)
}

/// The load-or-create pattern; when another process creates the file between our load and our
/// create, its file wins and is loaded.
fn load_or_create<T>(
    path: &Path,
    load: impl Fn(&Path) -> Result<Option<T>, Error>,
    create: impl FnOnce(&Path) -> Result<T, Error>,
) -> Result<(T, bool), Error> {
    if let Some(existing) = load(path)? {
        return Ok((existing, false));
    }
    match create(path) {
        Ok(created) => Ok((created, true)),
        Err(Error::KeyExists { .. }) => match load(path)? {
            Some(existing) => Ok((existing, false)),
            // Created and removed again in between: report the clash rather than loop.
            None => Err(Error::KeyExists {
                path: path.to_path_buf(),
            }),
        },
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Network key
// ---------------------------------------------------------------------------------------------

/// Length of a network key in bytes.
pub const NETWORK_KEY_LEN: usize = 32;

const KEY_FILE_HEADER: &str = "/key/swarm/psk/1.0.0/";
const KEY_FILE_ENCODING: &str = "/base16/";

/// Why a text is not a swarm.key file. The messages never echo the text: it may hold the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Fewer than three lines.
    #[error(
        "expected three lines: `/key/swarm/psk/1.0.0/`, `/base16/` and the key as 64 hex digits"
    )]
    Structure,
    /// The first line is not the PSK v1 header.
    #[error("the first line must be `/key/swarm/psk/1.0.0/`")]
    KeyType,
    /// The second line names an encoding other than base16.
    #[error("the second line must be `/base16/` (the only supported encoding)")]
    Encoding,
    /// The third line is not 64 hexadecimal digits.
    #[error("the third line must be the key as exactly 64 hexadecimal digits")]
    Key,
    /// Non-blank lines follow the key.
    #[error("unexpected content after the key")]
    TrailingContent,
}

/// The pre-shared key of a private libp2p network (PSK v1): only nodes holding the same key can
/// connect to each other.
///
/// The bytes are zeroized on drop; `Debug` shows only the fingerprint (the same one go-libp2p
/// prints), and equality is checked in constant time.
#[derive(Clone)]
pub struct NetworkKey(Zeroizing<[u8; NETWORK_KEY_LEN]>);

impl NetworkKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; NETWORK_KEY_LEN]);
        rand::rng().fill_bytes(key.as_mut());
        NetworkKey(key)
    }

    /// The key with the given bytes.
    pub fn from_bytes(bytes: [u8; NETWORK_KEY_LEN]) -> Self {
        NetworkKey(Zeroizing::new(bytes))
    }

    /// Parses the standard swarm.key v1 format, as written by go-libp2p, ipfs-swarm-key-gen and
    /// [`NetworkKey::to_key_file`]:
    ///
    /// ```text
    /// /key/swarm/psk/1.0.0/
    /// /base16/
    /// <64 hex digits>
    /// ```
    ///
    /// Line ends may be `\n` or `\r\n`, trailing whitespace on a line and trailing blank lines are
    /// accepted. Only the base16 encoding is supported (as in rust-libp2p).
    pub fn parse_key_file(text: &str) -> Result<NetworkKey, KeyFileError> {
        let mut lines = text.lines();
        let (Some(header), Some(encoding), Some(key)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(KeyFileError::Structure);
        };
        if header.trim_end() != KEY_FILE_HEADER {
            return Err(KeyFileError::KeyType);
        }
        if encoding.trim_end() != KEY_FILE_ENCODING {
            return Err(KeyFileError::Encoding);
        }
        if lines.any(|line| !line.trim().is_empty()) {
            return Err(KeyFileError::TrailingContent);
        }
        let key = key.trim_end();
        // Checked here, before `PreSharedKey::from_str`: that parser slices the line by byte
        // offsets and would panic on a multi-byte character.
        if key.len() != 2 * NETWORK_KEY_LEN || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyFileError::Key);
        }
        let mut bytes = Zeroizing::new([0u8; NETWORK_KEY_LEN]);
        hex::decode_to_slice(key, bytes.as_mut()).map_err(|_| KeyFileError::Key)?;
        // rust-libp2p's own parser must accept what we accept, or nodes would disagree.
        let canonical = format!("{KEY_FILE_HEADER}\n{KEY_FILE_ENCODING}\n{key}\n");
        let canonical = Zeroizing::new(canonical);
        PreSharedKey::from_str(&canonical).map_err(|_| KeyFileError::Key)?;
        Ok(NetworkKey(bytes))
    }

    /// The key in swarm.key v1 format with lowercase hex, byte-identical to go-libp2p's and
    /// rust-libp2p's `PreSharedKey::to_key_file`.
    pub fn to_key_file(&self) -> Zeroizing<String> {
        let mut hex_digits = Zeroizing::new([0u8; 2 * NETWORK_KEY_LEN]);
        hex::encode_to_slice(self.0.as_ref(), hex_digits.as_mut())
            .expect("the buffer is exactly twice the key length");
        let mut text = Zeroizing::new(String::with_capacity(
            KEY_FILE_HEADER.len() + KEY_FILE_ENCODING.len() + hex_digits.len() + 3,
        ));
        text.push_str(KEY_FILE_HEADER);
        text.push('\n');
        text.push_str(KEY_FILE_ENCODING);
        text.push('\n');
        for &digit in hex_digits.iter() {
            text.push(char::from(digit));
        }
        text.push('\n');
        text
    }

    /// The key as rust-libp2p's pnet type, for the transport.
    pub fn psk(&self) -> PreSharedKey {
        PreSharedKey::new(*self.0)
    }

    /// The key's fingerprint in hex, identical to go-libp2p's: safe to log and show, it identifies
    /// the network without revealing the key.
    pub fn fingerprint(&self) -> String {
        self.psk().fingerprint().to_string()
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; NETWORK_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for NetworkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl PartialEq for NetworkKey {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_ref(), other.0.as_ref())
    }
}

impl Eq for NetworkKey {}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Loads the network key (swarm.key v1 format). `Ok(None)` if the file does not exist;
/// [`Error::CorruptKey`] if it is not a valid key file.
pub fn load_network_key(path: &Path) -> Result<Option<NetworkKey>, Error> {
    let Some(bytes) = read_private(path)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::corrupt(path, "not a swarm.key file: the file is not text"))?;
    NetworkKey::parse_key_file(text)
        .map(Some)
        .map_err(|e| Error::corrupt(path, format!("not a swarm.key file: {e}")))
}

/// Writes `key` to a new file at `path` (mode 0600). [`Error::KeyExists`] if the file exists.
pub fn create_network_key(path: &Path, key: &NetworkKey) -> Result<(), Error> {
    create_private_file(path, key.to_key_file().as_bytes())
}

/// Replaces the network key at `path` with `key`, keeping the old file as
/// `<name>.<unix-secs>.bak` (or `<name>.<unix-secs>.<n>.bak` if that is taken) next to it, and
/// returns the backup's path. [`Error::KeyMissing`] if there is no key to replace.
///
/// The new key is written and fsynced before the old one is moved aside, and the swap is a single
/// rename: after a crash `path` holds either the old or the new key.
pub fn replace_network_key(path: &Path, key: &NetworkKey) -> Result<PathBuf, Error> {
    match fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::KeyMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(Error::io(path, e)),
    }
    let tmp = write_temp(path, key.to_key_file().as_bytes(), PRIVATE_MODE)?;
    let backup = back_up(path)?;
    rename_into_place(tmp, path)?;
    Ok(backup)
}

/// Gives the file at `path` a backup name (see [`replace_network_key`]) and returns it.
fn back_up(path: &Path) -> Result<PathBuf, Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "key".to_owned());
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    const MAX_ATTEMPTS: u32 = 1000;
    for n in 0..MAX_ATTEMPTS {
        let backup_name = if n == 0 {
            format!("{name}.{secs}.bak")
        } else {
            format!("{name}.{secs}.{n}.bak")
        };
        let backup = parent_dir(path).join(backup_name);
        if link_or_move_no_replace(path, &backup)? {
            return Ok(backup);
        }
    }
    Err(Error::io(
        path,
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{MAX_ATTEMPTS} backup names for this second are taken"),
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// API token
// ---------------------------------------------------------------------------------------------

/// Shortest token accepted from a file (a generated one has 64 characters).
const MIN_TOKEN_LEN: usize = 32;
/// Longest token accepted from a file.
const MAX_TOKEN_LEN: usize = 512;

/// Why a text is not an API token. The messages never echo the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiTokenError {
    /// Too short or too long.
    #[error("the token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters long")]
    Length,
    /// Contains whitespace, control or non-ASCII characters.
    #[error("the token must consist of visible ASCII characters")]
    Characters,
}

/// The bearer token of the local HTTP API: 32 random bytes, hex-encoded.
///
/// `Debug` is redacted; compare a presented token with [`ApiToken::verify`], which runs in
/// constant time.
#[derive(Clone)]
pub struct ApiToken(Zeroizing<String>);

impl ApiToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        ApiToken(Zeroizing::new(hex::encode(bytes.as_ref())))
    }

    /// Parses a token as stored in a file: surrounding whitespace is ignored; the token itself
    /// must be 32 to 512 visible ASCII characters (so that it fits an HTTP header unchanged).
    /// Operators may thus set a token of their own; a generated one is 64 hex digits.
    pub fn parse(text: &str) -> Result<ApiToken, ApiTokenError> {
        let token = text.trim();
        if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len()) {
            return Err(ApiTokenError::Length);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiTokenError::Characters);
        }
        Ok(ApiToken(Zeroizing::new(token.to_owned())))
    }

    /// The token, for an `Authorization: Bearer` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, compared in constant time.
    pub fn verify(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Loads the API token. `Ok(None)` if the file does not exist; [`Error::CorruptKey`] if its
/// content is not a token.
pub fn load_api_token(path: &Path) -> Result<Option<ApiToken>, Error> {
    let Some(bytes) = read_private(path)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::corrupt(path, "the API token file is not text"))?;
    ApiToken::parse(text)
        .map(Some)
        .map_err(|e| Error::corrupt(path, e.to_string()))
}

/// Generates a token and writes it to a new file at `path` (mode 0600, followed by a newline).
/// [`Error::KeyExists`] if the file exists.
pub fn create_api_token(path: &Path) -> Result<ApiToken, Error> {
    let token = ApiToken::generate();
    let mut line = Zeroizing::new(String::with_capacity(token.as_str().len() + 1));
    line.push_str(token.as_str());
    line.push('\n');
    create_private_file(path, line.as_bytes())?;
    Ok(token)
}

/// Loads the API token at `path`, creating it if the file does not exist. The flag says whether
/// it was created.
pub fn load_or_create_api_token(path: &Path) -> Result<(ApiToken, bool), Error> {
    load_or_create(path, load_api_token, create_api_token)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn assert_corrupt_naming(result: Result<impl fmt::Debug, Error>, expected: &Path) {
        match result {
            Err(e @ Error::CorruptKey { .. }) => {
                let Error::CorruptKey { path, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(path, expected);
                assert!(e.to_string().contains(&expected.display().to_string()));
            }
            other => panic!("expected CorruptKey, got {other:?}"),
        }
    }

    /// No temp files may be left behind next to the key.
    fn assert_only_files(dir: &Path, expected: &[&str]) {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn identity_round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        assert!(load_identity(&path).unwrap().is_none());

        let created = create_identity(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(!insecure_permissions(&path).unwrap());
        let loaded = load_identity(&path).unwrap().unwrap();
        assert_eq!(loaded.public(), created.public());
        assert_only_files(dir.path(), &["identity.key"]);
    }

    #[test]
    fn identity_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let first = create_identity(&path).unwrap();
        let before = fs::read(&path).unwrap();

        match create_identity(&path) {
            Err(Error::KeyExists { path: p }) => assert_eq!(p, path),
            other => panic!("expected KeyExists, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), before);
        let (again, created) = load_or_create_identity(&path).unwrap();
        assert!(!created);
        assert_eq!(again.public(), first.public());
        assert_only_files(dir.path(), &["identity.key"]);
    }

    #[test]
    fn load_or_create_identity_creates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let (first, created) = load_or_create_identity(&path).unwrap();
        assert!(created);
        let (second, created) = load_or_create_identity(&path).unwrap();
        assert!(!created);
        assert_eq!(first.public(), second.public());
    }

    #[test]
    fn corrupt_identity_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        for content in [&b""[..], b"garbage", &[0x08, 0x01, 0x12, 0x03, 1, 2, 3]] {
            fs::write(&path, content).unwrap();
            assert_corrupt_naming(load_identity(&path), &path);
            // A corrupt identity is an error, not a reason to make a new one.
            assert_corrupt_naming(load_or_create_identity(&path), &path);
            assert_eq!(fs::read(&path).unwrap(), content);
        }
    }

    #[test]
    fn unreadable_identity_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in place of the file: reading fails with EISDIR, independent of privileges.
        let path = dir.path().join("identity.key");
        fs::create_dir(&path).unwrap();
        match load_identity(&path) {
            Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn create_in_missing_directory_names_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("identity.key");
        match create_identity(&path) {
            Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn insecure_permissions_detects_group_and_other_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        create_api_token(&path).unwrap();
        assert!(!insecure_permissions(&path).unwrap());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(insecure_permissions(&path).unwrap());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).unwrap();
        assert!(insecure_permissions(&path).unwrap());
    }

    /// The key file produced by go-libp2p / ipfs-swarm-key-gen for these bytes.
    const GO_KEY_FILE: &str = "/key/swarm/psk/1.0.0/\n/base16/\n\
        000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

    fn sample_bytes() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn key_file_format_is_byte_exact() {
        let key = NetworkKey::from_bytes(sample_bytes());
        assert_eq!(key.to_key_file().as_str(), GO_KEY_FILE);
        // And identical to rust-libp2p's own serialisation.
        assert_eq!(
            key.to_key_file().as_str(),
            PreSharedKey::new(sample_bytes()).to_key_file()
        );
        assert_eq!(NetworkKey::parse_key_file(GO_KEY_FILE).unwrap(), key);
    }

    #[test]
    fn key_file_parsing_accepts_common_variants() {
        let expected = NetworkKey::from_bytes(sample_bytes());
        let crlf = GO_KEY_FILE.replace('\n', "\r\n");
        let upper = GO_KEY_FILE.replace("0a0b0c0d0e0f", "0A0B0C0D0E0F");
        let no_final_newline = GO_KEY_FILE.trim_end();
        let trailing_blank = format!("{GO_KEY_FILE}\n  \n");
        for text in [&crlf[..], &upper, no_final_newline, &trailing_blank] {
            assert_eq!(
                NetworkKey::parse_key_file(text).unwrap(),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn key_file_parsing_rejects_malformed_text() {
        let hex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        let cases: Vec<(String, KeyFileError)> = vec![
            (String::new(), KeyFileError::Structure),
            (hex64.to_owned(), KeyFileError::Structure),
            (
                format!("/key/swarm/psk/2.0.0/\n/base16/\n{hex64}\n"),
                KeyFileError::KeyType,
            ),
            (
                format!("/key/swarm/psk/1.0.0/\n/base64/\n{hex64}\n"),
                KeyFileError::Encoding,
            ),
            (
                format!("/key/swarm/psk/1.0.0/\n/base16/\n{}\n", &hex64[..62]),
                KeyFileError::Key,
            ),
            (
                format!("/key/swarm/psk/1.0.0/\n/base16/\n{hex64}00\n"),
                KeyFileError::Key,
            ),
            (
                format!("/key/swarm/psk/1.0.0/\n/base16/\n{}zz\n", &hex64[..62]),
                KeyFileError::Key,
            ),
            // 64 bytes containing a 3-byte character: rust-libp2p's parser would panic on it.
            (
                format!("/key/swarm/psk/1.0.0/\n/base16/\n€{}\n", &hex64[..61]),
                KeyFileError::Key,
            ),
            (
                format!("/key/swarm/psk/1.0.0/\n/base16/\n{hex64}\nmore\n"),
                KeyFileError::TrailingContent,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                NetworkKey::parse_key_file(&text).unwrap_err(),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn key_file_errors_never_echo_the_key() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let text = format!("{hex64}\n/base16/\n{hex64}\n");
        let err = NetworkKey::parse_key_file(&text).unwrap_err();
        assert!(!err.to_string().contains("00112233"));
    }

    #[test]
    fn fingerprint_matches_rust_libp2p_and_debug_hides_the_key() {
        let key = NetworkKey::from_bytes(sample_bytes());
        let fingerprint = PreSharedKey::new(sample_bytes()).fingerprint().to_string();
        assert_eq!(key.fingerprint(), fingerprint);
        assert_eq!(key.fingerprint().len(), 32);
        let debug = format!("{key:?}");
        assert!(debug.contains(&fingerprint));
        assert!(!debug.contains("0001020304"));
        assert_eq!(key.as_bytes(), &sample_bytes());
    }

    #[test]
    fn generated_keys_differ_and_compare_by_value() {
        let a = NetworkKey::generate();
        let b = NetworkKey::generate();
        assert_ne!(a, b);
        assert_eq!(a, NetworkKey::from_bytes(*a.as_bytes()));
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn network_key_round_trip_and_no_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swarm.key");
        assert!(load_network_key(&path).unwrap().is_none());

        let key = NetworkKey::generate();
        create_network_key(&path, &key).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(load_network_key(&path).unwrap().unwrap(), key);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            key.to_key_file().as_str()
        );

        let other = NetworkKey::generate();
        assert!(matches!(
            create_network_key(&path, &other),
            Err(Error::KeyExists { .. })
        ));
        assert_eq!(load_network_key(&path).unwrap().unwrap(), key);
        assert_only_files(dir.path(), &["swarm.key"]);
    }

    #[test]
    fn corrupt_network_key_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swarm.key");
        for content in [&b"not a key"[..], &[0xff, 0xfe, 0x00], &[b'a'; 20_000]] {
            fs::write(&path, content).unwrap();
            assert_corrupt_naming(load_network_key(&path), &path);
        }
    }

    #[test]
    fn replace_network_key_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swarm.key");
        let old = NetworkKey::generate();
        let new = NetworkKey::generate();
        assert!(matches!(
            replace_network_key(&path, &new),
            Err(Error::KeyMissing { .. })
        ));

        create_network_key(&path, &old).unwrap();
        let backup = replace_network_key(&path, &new).unwrap();
        assert_eq!(backup.parent(), Some(dir.path()));
        let backup_name = backup.file_name().unwrap().to_string_lossy().into_owned();
        assert!(backup_name.starts_with("swarm.key.") && backup_name.ends_with(".bak"));
        assert_eq!(load_network_key(&path).unwrap().unwrap(), new);
        assert_eq!(load_network_key(&backup).unwrap().unwrap(), old);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&backup), 0o600);

        // A second replacement within the same second must not overwrite the first backup.
        let newest = NetworkKey::generate();
        let second_backup = replace_network_key(&path, &newest).unwrap();
        assert_ne!(second_backup, backup);
        assert_eq!(load_network_key(&backup).unwrap().unwrap(), old);
        assert_eq!(load_network_key(&second_backup).unwrap().unwrap(), new);
        assert_eq!(load_network_key(&path).unwrap().unwrap(), newest);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn api_token_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        assert!(load_api_token(&path).unwrap().is_none());

        let (token, created) = load_or_create_api_token(&path).unwrap();
        assert!(created);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(token.as_str().len(), 64);
        assert!(token.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", token.as_str())
        );

        let (again, created) = load_or_create_api_token(&path).unwrap();
        assert!(!created);
        assert_eq!(again.as_str(), token.as_str());
        assert!(matches!(
            create_api_token(&path),
            Err(Error::KeyExists { .. })
        ));
    }

    #[test]
    fn api_token_verify_and_redaction() {
        let token = ApiToken::generate();
        assert!(token.verify(token.as_str()));
        assert!(!token.verify(""));
        assert!(!token.verify(&token.as_str()[1..]));
        let mut flipped = token.as_str().to_owned();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(63.., last);
        assert!(!token.verify(&flipped));
        assert_ne!(ApiToken::generate().as_str(), token.as_str());
        assert!(!format!("{token:?}").contains(token.as_str()));
    }

    #[test]
    fn corrupt_api_token_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        for content in ["", "short", &"x y".repeat(20)] {
            fs::write(&path, content).unwrap();
            assert_corrupt_naming(load_api_token(&path), &path);
        }
        // An operator's own token with surrounding whitespace is fine.
        let own = "my-own-token-that-is-long-enough-0123";
        fs::write(&path, format!("  {own}\n\n")).unwrap();
        assert_eq!(load_api_token(&path).unwrap().unwrap().as_str(), own);
    }
}
