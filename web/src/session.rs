//! Browser sessions: one-time login codes, session cookies and their CSRF tokens.
//!
//! The owner's browser gets in one of two ways: a one-time login link (`/login?code=…`, printed
//! by `kith run` and `kith login`), or the password set with `kith passwd`. Either way the node
//! answers with a session cookie (`kith_session`, HttpOnly, SameSite=Strict), and the UI asks
//! `GET /api/v1/session` for the session's CSRF token, which it sends back in `X-CSRF-Token` on
//! every request that changes something.
//!
//! Codes and session tokens are 256-bit random values. Only their SHA-256 is kept, so a memory
//! dump or a log line holding a key of these maps gives nobody a way in. Both maps are bounded:
//! the oldest entry goes when a new one would exceed the limit. Sessions live in memory: a
//! restarted node asks the browser to log in again.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use kith_protocols::now_unix_ms;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "kith_session";
/// How long a login code stays valid.
pub const LOGIN_CODE_TTL: Duration = Duration::from_secs(60 * 60);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Most login codes outstanding at once.
const MAX_CODES: usize = 64;
/// Most sessions at once (browsers and devices of one owner).
const MAX_SESSIONS: usize = 256;

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token the UI must send in `X-CSRF-Token` on state-changing requests.
    pub csrf_token: String,
    /// When the session ends (unix ms).
    pub expires_at: u64,
}

impl Session {
    /// Whether `candidate` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, candidate: &str) -> bool {
        self.csrf_token
            .as_bytes()
            .ct_eq(candidate.as_bytes())
            .into()
    }
}

/// A session just opened: the value of its `kith_session` cookie (shown once; only its hash is
/// kept).
#[derive(Debug)]
pub struct Opened {
    /// The cookie's value.
    pub token: String,
}

/// The login codes and sessions of one node.
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Login code hash → expiry (unix ms), and when it was made.
    codes: HashMap<[u8; 32], (u64, u64)>,
    /// Session token hash → session, and when it was opened.
    sessions: HashMap<[u8; 32], (Session, u64)>,
    /// Counts every code and session made: the order in which to evict them.
    made: u64,
}

impl Sessions {
    /// A new one-time login code, valid for [`LOGIN_CODE_TTL`]; returns it with its expiry.
    pub fn new_login_code(&self) -> (String, u64) {
        let code = random_token();
        let expires_at = now_unix_ms() + ttl_ms(LOGIN_CODE_TTL);
        let mut inner = self.lock();
        let now = now_unix_ms();
        inner.codes.retain(|_, (expiry, _)| *expiry > now);
        evict_oldest(&mut inner.codes, MAX_CODES, |(_, made)| *made);
        inner.made += 1;
        let made = inner.made;
        inner.codes.insert(digest(&code), (expires_at, made));
        (code, expires_at)
    }

    /// Redeems a login code: if it is known and not expired, it is used up and a session opens.
    pub fn redeem(&self, code: &str) -> Option<Opened> {
        let (expiry, _) = self.lock().codes.remove(&digest(code))?;
        (expiry > now_unix_ms()).then(|| self.open())
    }

    /// Opens a session (after a login code or the password checked out).
    pub fn open(&self) -> Opened {
        let token = random_token();
        let session = Session {
            csrf_token: random_token(),
            expires_at: now_unix_ms() + ttl_ms(SESSION_TTL),
        };
        let mut inner = self.lock();
        let now = now_unix_ms();
        inner
            .sessions
            .retain(|_, (session, _)| session.expires_at > now);
        evict_oldest(&mut inner.sessions, MAX_SESSIONS, |(_, made)| *made);
        inner.made += 1;
        let made = inner.made;
        inner.sessions.insert(digest(&token), (session, made));
        Opened { token }
    }

    /// The live session whose cookie value is `token`.
    pub fn get(&self, token: &str) -> Option<Session> {
        let key = digest(token);
        let mut inner = self.lock();
        match inner.sessions.get(&key) {
            Some((session, _)) if session.expires_at > now_unix_ms() => Some(session.clone()),
            Some(_) => {
                inner.sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session whose cookie value is `token` (logout). Unknown tokens are ignored.
    pub fn close(&self, token: &str) {
        self.lock().sessions.remove(&digest(token));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `kith_session` value of a `Cookie` header, if any.
pub fn session_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE).then_some(value.trim_matches('"'))
    })
}

/// The `Set-Cookie` value that stores `token` in the browser.
pub fn set_cookie(token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

/// Removes the oldest entries (by when they were made) until `map` has room for one more
/// under `limit`.
fn evict_oldest<V>(map: &mut HashMap<[u8; 32], V>, limit: usize, made: impl Fn(&V) -> u64) {
    while map.len() >= limit {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, value)| made(value))
            .map(|(key, _)| *key)
        else {
            return;
        };
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_opens_one_session_once() {
        let sessions = Sessions::default();
        let (code, expires_at) = sessions.new_login_code();
        assert!(expires_at > now_unix_ms());
        let opened = sessions.redeem(&code).expect("a fresh code works");
        assert!(sessions.redeem(&code).is_none(), "a code works once");
        assert!(sessions.get(&opened.token).is_some());
        assert!(sessions.redeem("made-up").is_none());
    }

    #[test]
    fn sessions_are_distinct_and_close() {
        let sessions = Sessions::default();
        let a = sessions.open();
        let b = sessions.open();
        assert_ne!(a.token, b.token);
        assert_ne!(
            sessions.get(&a.token).unwrap().csrf_token,
            sessions.get(&b.token).unwrap().csrf_token
        );
        sessions.close(&a.token);
        assert!(sessions.get(&a.token).is_none());
        assert!(sessions.get(&b.token).is_some());
        assert!(sessions.get("").is_none());
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let sessions = Sessions::default();
        let session = sessions.get(&sessions.open().token).unwrap();
        let token = session.csrf_token.clone();
        assert!(session.csrf_matches(&token));
        assert!(!session.csrf_matches(&token[1..]));
        assert!(!session.csrf_matches(""));
    }

    #[test]
    fn maps_stay_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open();
        for _ in 0..MAX_SESSIONS {
            sessions.open();
        }
        assert!(sessions.lock().sessions.len() <= MAX_SESSIONS);
        assert!(sessions.get(&first.token).is_none(), "the oldest went");
        for _ in 0..MAX_CODES * 2 {
            sessions.new_login_code();
        }
        assert!(sessions.lock().codes.len() <= MAX_CODES);
    }

    #[test]
    fn cookie_header_parsing() {
        assert_eq!(session_cookie("kith_session=abc"), Some("abc"));
        assert_eq!(
            session_cookie("theme=dark; kith_session=abc; other=1"),
            Some("abc")
        );
        assert_eq!(session_cookie("kith_session_x=abc"), None);
        assert_eq!(session_cookie("x=kith_session=abc"), None);
        assert_eq!(session_cookie(""), None);
        assert!(set_cookie("t").contains("HttpOnly; SameSite=Strict"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
