//! The owner's browser sessions, kept so that a restarted node does not log every browser out.
//!
//! One entry per session in the `browser_sessions` tree: the SHA-256 of the session token (the
//! cookie's value) → [`SessionRecord`] as JSON. The token itself is never stored, so reading the
//! database gives nobody a way in. The web layer keeps the live set in memory and writes every
//! change through this handle, durably, before it answers.

use serde::{Deserialize, Serialize};

use crate::batch::TreeName;
use crate::error::Result;
use crate::store::Store;

/// The SHA-256 of a session token: the key a session is stored under.
pub type SessionHash = [u8; 32];

/// What is kept of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// When the session was opened (unix ms).
    pub opened_ms: u64,
    /// When it ends (unix ms).
    pub expires_at: u64,
}

/// Handle to the stored browser sessions. Cheap to clone; get one with
/// [`Store::browser_sessions`].
#[derive(Debug, Clone)]
pub struct BrowserSessions {
    store: Store,
}

impl Store {
    /// The owner's browser sessions.
    pub fn browser_sessions(&self) -> BrowserSessions {
        BrowserSessions {
            store: self.clone(),
        }
    }
}

impl BrowserSessions {
    /// Every stored session. An entry whose key is not a hash or whose value does not decode is
    /// skipped (logged): it can never match a token, and the next [`change`](Self::change)
    /// that names it removes it.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`](crate::Error::Sled) if the read failed.
    pub fn list(&self) -> Result<Vec<(SessionHash, SessionRecord)>> {
        let mut sessions = Vec::new();
        for entry in self.store.tree(TreeName::BrowserSessions).iter() {
            let (key, value) = entry?;
            let Ok(hash) = SessionHash::try_from(key.as_ref()) else {
                tracing::warn!(
                    len = key.len(),
                    "skipping a browser session key that is not a hash"
                );
                continue;
            };
            match serde_json::from_slice::<SessionRecord>(&value) {
                Ok(record) => sessions.push((hash, record)),
                Err(error) => {
                    tracing::warn!(%error, "skipping a browser session that does not decode")
                }
            }
        }
        Ok(sessions)
    }

    /// Stores `added` (if any) and removes `removed`, in one durable batch (resolves once
    /// flushed). Removing an entry that is not there is not an error.
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`](crate::Batch::commit).
    pub async fn change(
        &self,
        added: Option<(SessionHash, SessionRecord)>,
        removed: &[SessionHash],
    ) -> Result<()> {
        let mut batch = self.store.batch();
        for hash in removed {
            batch = batch.remove(TreeName::BrowserSessions, hash.to_vec());
        }
        if let Some((hash, record)) = added {
            batch = batch.put(
                TreeName::BrowserSessions,
                hash.to_vec(),
                serde_json::to_vec(&record)?,
            );
        }
        batch.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_survive_reopening_and_go_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let record = SessionRecord {
            opened_ms: 1,
            expires_at: 2,
        };
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let sessions = store.browser_sessions();
        sessions.change(Some(([1; 32], record)), &[]).await.unwrap();
        sessions.change(Some(([2; 32], record)), &[]).await.unwrap();
        drop(sessions);
        store.close().await.unwrap();

        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let sessions = store.browser_sessions();
        assert_eq!(
            sessions.list().unwrap(),
            vec![([1; 32], record), ([2; 32], record)]
        );
        sessions
            .change(Some(([3; 32], record)), &[[1; 32], [9; 32]])
            .await
            .unwrap();
        assert_eq!(
            sessions.list().unwrap(),
            vec![([2; 32], record), ([3; 32], record)]
        );
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn unreadable_entries_are_skipped() {
        let store = Store::open_temporary().unwrap();
        store
            .batch()
            .put(TreeName::BrowserSessions, vec![1; 5], b"{}".to_vec())
            .put(TreeName::BrowserSessions, vec![2; 32], b"not json".to_vec())
            .commit()
            .await
            .unwrap();
        assert!(store.browser_sessions().list().unwrap().is_empty());
    }
}
