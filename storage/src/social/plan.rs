//! Plans: batches whose premises are re-checked inside their own transaction.
//!
//! Storing a signed object means deciding first (is it a duplicate? is its post tombstoned?
//! whose likes must go with it?) and then writing several trees. The decision needs reads
//! across trees, but a [`Batch`] update function only sees its own key, and sled deadlocks if
//! one reads a tree directly while its transaction is staged (the transaction holds sled's
//! global write lock, which the plain read path also takes).
//!
//! So a write is *optimistic*: the caller reads what it needs (a snapshot), decides, and builds
//! a [`Plan`]: the writes, plus a **guard** on every key whose value the decision rested on
//! ([`Plan::swap`], [`Plan::check`]). Guards run on the writer thread inside the batch's
//! transaction, in order with the writes. If every guard finds what the snapshot saw, the
//! decision still holds and the batch commits; if one does not, the batch is aborted (nothing
//! written), [`Plan::commit`] reports a conflict, and the caller reads and decides again. The
//! writer applies one batch at a time, so "the guarded keys are unchanged" means "nothing the
//! decision depends on changed": there is no window between check and write.
//!
//! Conflicts need two writes about the same object racing each other (a post and its delete
//! arriving together, two likes of one post), so they are rare and a retry settles them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::batch::{Batch, TreeName};
use crate::error::{Error, Result};
use crate::store::Store;

/// What a guard requires of its key's value when the batch applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// No value.
    Absent,
    /// Some value, whatever it is (for immutable values, such as content-addressed objects).
    Present,
    /// Exactly these bytes.
    Exactly(Vec<u8>),
}

impl Expect {
    /// What the snapshot saw: exactly `value`, or nothing.
    pub(crate) fn seen(value: Option<&[u8]>) -> Self {
        value.map_or(Expect::Absent, |value| Expect::Exactly(value.to_vec()))
    }

    fn holds(&self, current: Option<&[u8]>) -> bool {
        match (self, current) {
            (Expect::Absent, None) | (Expect::Present, Some(_)) => true,
            (Expect::Exactly(expected), Some(current)) => expected.as_slice() == current,
            _ => false,
        }
    }
}

/// What a guard writes to its key when it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Then {
    /// Leave the value as it is.
    Keep,
    /// Set this value.
    Put(Vec<u8>),
    /// Remove the key.
    Remove,
}

/// A batch plus its guards. Build with [`Plan::new`], commit with [`Plan::commit`].
#[must_use = "a plan does nothing until it is committed"]
pub(crate) struct Plan {
    batch: Batch,
    /// Set by the first guard that fails; tells a conflict from a real failure.
    conflict: Arc<AtomicBool>,
}

impl Plan {
    pub(crate) fn new(store: &Store) -> Self {
        Plan {
            batch: store.batch(),
            conflict: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sets `key` in `tree` unconditionally.
    pub(crate) fn put(self, tree: TreeName, key: Vec<u8>, value: Vec<u8>) -> Self {
        Plan {
            batch: self.batch.put(tree, key, value),
            ..self
        }
    }

    /// Removes `key` from `tree` unconditionally.
    pub(crate) fn remove(self, tree: TreeName, key: Vec<u8>) -> Self {
        Plan {
            batch: self.batch.remove(tree, key),
            ..self
        }
    }

    /// Read-modify-write of one key on the writer, without a guard (see
    /// [`Batch::try_update`]); an error aborts the batch as a failure, not a conflict.
    pub(crate) fn update(
        self,
        tree: TreeName,
        key: Vec<u8>,
        f: impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>> + Send + 'static,
    ) -> Self {
        Plan {
            batch: self.batch.try_update(tree, key, f),
            ..self
        }
    }

    /// Compare-and-set: if `key` in `tree` is as `expect`ed when the batch applies, do `then`;
    /// otherwise abort the whole batch as a conflict.
    pub(crate) fn swap(self, tree: TreeName, key: Vec<u8>, expect: Expect, then: Then) -> Self {
        let conflict = Arc::clone(&self.conflict);
        let batch = self.batch.try_update(tree, key, move |current| {
            if !expect.holds(current) {
                conflict.store(true, Ordering::Relaxed);
                return Err(Error::Transaction(format!(
                    "a key in tree {tree} changed between planning and applying the write"
                )));
            }
            Ok(match then {
                Then::Keep => current.map(<[u8]>::to_vec),
                Then::Put(value) => Some(value),
                Then::Remove => None,
            })
        });
        Plan { batch, ..self }
    }

    /// A guard that writes nothing: aborts the batch as a conflict unless `key` is as
    /// `expect`ed.
    pub(crate) fn check(self, tree: TreeName, key: Vec<u8>, expect: Expect) -> Self {
        self.swap(tree, key, expect, Then::Keep)
    }

    /// Commits the batch: `Ok(true)` once it is applied and flushed, `Ok(false)` if a guard
    /// failed (nothing was written; plan again).
    ///
    /// # Errors
    ///
    /// See [`Batch::commit`].
    pub(crate) async fn commit(self) -> Result<bool> {
        match self.batch.commit().await {
            Ok(()) => Ok(true),
            Err(_) if self.conflict.load(Ordering::Relaxed) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guards_commit_when_they_hold_and_abort_everything_when_not() {
        let store = Store::open_temporary().unwrap();
        store.meta().set("k", "v1").await.unwrap();

        let applied = Plan::new(&store)
            .put(TreeName::Meta, b"a".to_vec(), b"1".to_vec())
            .check(
                TreeName::Meta,
                b"k".to_vec(),
                Expect::Exactly(b"v1".to_vec()),
            )
            .check(TreeName::Meta, b"none".to_vec(), Expect::Absent)
            .swap(
                TreeName::Meta,
                b"k".to_vec(),
                Expect::Present,
                Then::Put(b"v2".to_vec()),
            )
            .commit()
            .await
            .unwrap();
        assert!(applied);
        assert_eq!(store.meta().get("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.meta().get("k").unwrap(), Some(b"v2".to_vec()));
        assert_eq!(store.meta().get("none").unwrap(), None);

        // The snapshot is stale: nothing of the plan is written, and it says "conflict".
        let applied = Plan::new(&store)
            .put(TreeName::Meta, b"b".to_vec(), b"1".to_vec())
            .swap(
                TreeName::Meta,
                b"k".to_vec(),
                Expect::seen(Some(b"v1")),
                Then::Remove,
            )
            .commit()
            .await
            .unwrap();
        assert!(!applied);
        assert_eq!(store.meta().get("b").unwrap(), None);
        assert_eq!(store.meta().get("k").unwrap(), Some(b"v2".to_vec()));
        assert!(
            !Plan::new(&store)
                .check(TreeName::Meta, b"k".to_vec(), Expect::Absent)
                .commit()
                .await
                .unwrap()
        );
        assert!(
            !Plan::new(&store)
                .check(TreeName::Meta, b"none".to_vec(), Expect::Present)
                .commit()
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_real_failure_is_an_error_not_a_conflict() {
        let store = Store::open_temporary().unwrap();
        let other = store.clone();
        store.close().await.unwrap();
        let result = Plan::new(&other)
            .check(TreeName::Meta, b"k".to_vec(), Expect::Absent)
            .commit()
            .await;
        assert!(matches!(result, Err(Error::WriterGone)), "{result:?}");
    }
}
