//! Browser sessions: one-time login codes, session cookies and their CSRF tokens.
//!
//! The owner's browser gets in one of two ways: a one-time login link (`/login?code=…`, printed
//! by `kith run` and `kith login`), or the password set with `kith passwd`. Either way the node
//! answers with a session cookie (`kith_session`, HttpOnly, SameSite=Strict), and the UI asks
//! `GET /api/v1/session` for the session's CSRF token, which it sends back in `X-CSRF-Token` on
//! every request that changes something.
//!
//! Codes and session tokens are 256-bit random values. Only their SHA-256 is kept, so a memory
//! dump, a log line or the database holding a key of these maps gives nobody a way in. A
//! session's CSRF token is derived from its token (SHA-256 under its own label), so it needs no
//! storage and tells nothing about the cookie. Sessions are kept in the node's store as well as
//! in memory: opening and ending one is durable before the answer, and a restarted node knows
//! them. Login codes live in memory only (an hour at most; `kith run` prints a fresh one). Both
//! maps are bounded: the oldest entry goes when a new one would exceed the limit.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use kith_storage::{BrowserSessions, SessionHash, SessionRecord};
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
/// What a CSRF token is derived under, so that it is never the hash a session is stored under.
const CSRF_LABEL: &[u8] = b"kith csrf token\0";

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

/// The login codes and sessions of one node. [`Sessions::default`] keeps sessions in memory
/// only; [`Sessions::load`] keeps them in the store too.
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
    stored: Option<BrowserSessions>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Login code hash → expiry (unix ms), and when it was made.
    codes: HashMap<[u8; 32], (u64, u64)>,
    /// Session token hash → expiry (unix ms), and when it was opened.
    sessions: HashMap<SessionHash, (u64, u64)>,
    /// Counts every code and session made: the order in which to evict them.
    made: u64,
}

impl Sessions {
    /// The sessions kept in `stored`, which from now on records every session opened and
    /// ended. Expired ones are dropped (from the store too), and at most the newest
    /// [`MAX_SESSIONS`] are kept. A store that cannot be read costs the browsers their
    /// sessions (they log in again), not the node its start: that is logged.
    pub async fn load(stored: BrowserSessions) -> Sessions {
        let now = now_unix_ms();
        let mut records = stored.list().unwrap_or_else(|error| {
            tracing::error!(%error, "could not read the stored browser sessions; browsers must log in again");
            Vec::new()
        });
        records.sort_by_key(|(_, record)| std::cmp::Reverse(record.opened_ms));
        let (mut live, mut dropped) = (HashMap::new(), Vec::new());
        for (hash, record) in records {
            if record.expires_at > now && live.len() < MAX_SESSIONS {
                live.insert(hash, (record.expires_at, record.opened_ms));
            } else {
                dropped.push(hash);
            }
        }
        if let Err(error) = stored.change(None, &dropped).await {
            tracing::warn!(%error, "could not remove expired browser sessions from the store");
        }
        Sessions {
            inner: Mutex::new(Inner {
                codes: HashMap::new(),
                sessions: live,
                made: now,
            }),
            stored: Some(stored),
        }
    }

    /// A new one-time login code, valid for [`LOGIN_CODE_TTL`]; returns it with its expiry.
    pub fn new_login_code(&self) -> (String, u64) {
        let code = random_token();
        let expires_at = now_unix_ms() + ttl_ms(LOGIN_CODE_TTL);
        let mut inner = self.lock();
        let now = now_unix_ms();
        inner.codes.retain(|_, (expiry, _)| *expiry > now);
        evict_oldest(&mut inner.codes, MAX_CODES, |(_, made)| *made);
        let made = inner.next();
        inner.codes.insert(digest(&code), (expires_at, made));
        (code, expires_at)
    }

    /// Redeems a login code: if it is known and not expired, it is used up and a session opens.
    ///
    /// # Errors
    ///
    /// The store could not record the new session (the code is used up all the same).
    pub async fn redeem(&self, code: &str) -> Result<Option<Opened>, kith_storage::Error> {
        let Some((expiry, _)) = self.lock().codes.remove(&digest(code)) else {
            return Ok(None);
        };
        if expiry <= now_unix_ms() {
            return Ok(None);
        }
        self.open().await.map(Some)
    }

    /// Opens a session (after a login code or the password checked out); returns once it is
    /// durable.
    ///
    /// # Errors
    ///
    /// The store could not record it: there is no session.
    pub async fn open(&self) -> Result<Opened, kith_storage::Error> {
        let token = random_token();
        let hash = digest(&token);
        let now = now_unix_ms();
        let record = SessionRecord {
            opened_ms: now,
            expires_at: now + ttl_ms(SESSION_TTL),
        };
        let removed = {
            let mut inner = self.lock();
            let mut removed: Vec<SessionHash> = inner
                .sessions
                .iter()
                .filter(|(_, (expiry, _))| *expiry <= now)
                .map(|(hash, _)| *hash)
                .collect();
            for hash in &removed {
                inner.sessions.remove(hash);
            }
            removed.extend(evict_oldest(
                &mut inner.sessions,
                MAX_SESSIONS,
                |(_, made)| *made,
            ));
            let made = inner.next();
            inner.sessions.insert(hash, (record.expires_at, made));
            removed
        };
        if let Some(stored) = &self.stored
            && let Err(error) = stored.change(Some((hash, record)), &removed).await
        {
            self.lock().sessions.remove(&hash);
            return Err(error);
        }
        Ok(Opened { token })
    }

    /// The live session whose cookie value is `token`.
    pub fn get(&self, token: &str) -> Option<Session> {
        let key = digest(token);
        let mut inner = self.lock();
        match inner.sessions.get(&key) {
            Some((expires_at, _)) if *expires_at > now_unix_ms() => Some(Session {
                csrf_token: csrf_token(token),
                expires_at: *expires_at,
            }),
            Some(_) => {
                // The store forgets it at the next open or start.
                inner.sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session whose cookie value is `token` (logout); returns once that is durable.
    /// Unknown tokens are ignored.
    ///
    /// # Errors
    ///
    /// The store could not forget it: it is over for this run of the node, but would be back
    /// after a restart.
    pub async fn close(&self, token: &str) -> Result<(), kith_storage::Error> {
        let hash = digest(token);
        self.lock().sessions.remove(&hash);
        match &self.stored {
            Some(stored) => stored.change(None, &[hash]).await,
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// The next number in the order things were made.
    fn next(&mut self) -> u64 {
        self.made += 1;
        self.made
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

/// The CSRF token of the session whose cookie value is `token`.
fn csrf_token(token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(CSRF_LABEL);
    hasher.update(token.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

/// Removes the oldest entries (by when they were made) until `map` has room for one more
/// under `limit`; returns their keys.
fn evict_oldest<V>(
    map: &mut HashMap<[u8; 32], V>,
    limit: usize,
    made: impl Fn(&V) -> u64,
) -> Vec<[u8; 32]> {
    let mut evicted = Vec::new();
    while map.len() >= limit {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, value)| made(value))
            .map(|(key, _)| *key)
        else {
            break;
        };
        map.remove(&oldest);
        evicted.push(oldest);
    }
    evicted
}

#[cfg(test)]
mod tests {
    use kith_storage::Store;

    use super::*;

    #[tokio::test]
    async fn a_code_opens_one_session_once() {
        let sessions = Sessions::default();
        let (code, expires_at) = sessions.new_login_code();
        assert!(expires_at > now_unix_ms());
        let opened = sessions
            .redeem(&code)
            .await
            .unwrap()
            .expect("a fresh code works");
        assert!(
            sessions.redeem(&code).await.unwrap().is_none(),
            "a code works once"
        );
        assert!(sessions.get(&opened.token).is_some());
        assert!(sessions.redeem("made-up").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sessions_are_distinct_and_close() {
        let sessions = Sessions::default();
        let a = sessions.open().await.unwrap();
        let b = sessions.open().await.unwrap();
        assert_ne!(a.token, b.token);
        assert_ne!(
            sessions.get(&a.token).unwrap().csrf_token,
            sessions.get(&b.token).unwrap().csrf_token
        );
        sessions.close(&a.token).await.unwrap();
        assert!(sessions.get(&a.token).is_none());
        assert!(sessions.get(&b.token).is_some());
        assert!(sessions.get("").is_none());
    }

    #[tokio::test]
    async fn csrf_tokens_compare_exactly_and_reveal_nothing_stored() {
        let sessions = Sessions::default();
        let opened = sessions.open().await.unwrap();
        let session = sessions.get(&opened.token).unwrap();
        let token = session.csrf_token.clone();
        assert!(session.csrf_matches(&token));
        assert!(!session.csrf_matches(&token[1..]));
        assert!(!session.csrf_matches(""));
        assert_ne!(token, opened.token);
        assert_ne!(token, URL_SAFE_NO_PAD.encode(digest(&opened.token)));
    }

    #[tokio::test]
    async fn maps_stay_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open().await.unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.open().await.unwrap();
        }
        assert!(sessions.lock().sessions.len() <= MAX_SESSIONS);
        assert!(sessions.get(&first.token).is_none(), "the oldest went");
        for _ in 0..MAX_CODES * 2 {
            sessions.new_login_code();
        }
        assert!(sessions.lock().codes.len() <= MAX_CODES);
    }

    #[tokio::test]
    async fn stored_sessions_outlive_a_restart_and_logout_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let sessions = Sessions::load(store.browser_sessions()).await;
        let kept = sessions.open().await.unwrap();
        let ended = sessions.open().await.unwrap();
        let csrf = sessions.get(&kept.token).unwrap().csrf_token;
        sessions.close(&ended.token).await.unwrap();
        // An expired session left in the store: dropped at the next start.
        store
            .browser_sessions()
            .change(
                Some((
                    [7; 32],
                    SessionRecord {
                        opened_ms: 1,
                        expires_at: 2,
                    },
                )),
                &[],
            )
            .await
            .unwrap();
        drop(sessions);
        store.close().await.unwrap();

        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let sessions = Sessions::load(store.browser_sessions()).await;
        let session = sessions
            .get(&kept.token)
            .expect("the session outlived the restart");
        assert_eq!(session.csrf_token, csrf, "with the same CSRF token");
        assert!(
            sessions.get(&ended.token).is_none(),
            "logout outlived it too"
        );
        let stored: Vec<SessionHash> = store
            .browser_sessions()
            .list()
            .unwrap()
            .into_iter()
            .map(|(hash, _)| hash)
            .collect();
        assert_eq!(
            stored,
            vec![digest(&kept.token)],
            "only hashes, only live ones"
        );
        store.close().await.unwrap();
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
