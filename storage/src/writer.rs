//! The writer thread: the one place where the store writes, flushes and acknowledges.
//!
//! # Why one writer
//!
//! sled makes a write durable only when it is flushed, and a flush costs an `fsync`. Flushing
//! after every write would cap the store at a few hundred writes per second; not flushing would
//! acknowledge writes that a crash can still lose. The writer does both jobs right in one place:
//!
//! 1. Callers build a [`Batch`](crate::Batch) and send it as a [`WriteRequest`] over a bounded
//!    queue ([`QUEUE_CAPACITY`]), then wait on a oneshot reply. When the queue is full the
//!    caller's `send` waits for room: backpressure, never an error or an unbounded buffer.
//! 2. The writer blocks for one request, then takes whatever else is already queued (up to
//!    [`MAX_GROUP`]) without waiting: that is the *group*. When the group holds at least
//!    [`COMMIT_SIBLINGS`] but fewer than [`GROUP_TARGET`] requests (others are writing at the
//!    same time), it waits [`COMMIT_DELAY`] once and takes what arrived meanwhile: fewer, larger
//!    groups cost sled less than many small ones. A lone write is never delayed.
//! 3. It applies the requests of the group in as few sled transactions as it can: consecutive
//!    requests that touch disjoint keys go into one transaction (a *run*). sled writes every
//!    transaction as log buffers of its own, so this, not the flush, is what bounds the write
//!    rate. If a run's transaction fails (a batch's update refuses, or panics), each request
//!    of the run is applied again in a transaction of its own, so one failing request does not
//!    fail the others, while each batch stays all-or-nothing. Because the keys of a run are
//!    disjoint, every update function sees the same value in both attempts, and its
//!    [`Memo`] replays the answer of the first.
//! 4. It calls `Db::flush` once for the whole group (*group commit*).
//! 5. Only then does it answer every caller: `Ok` if that caller's transaction and the flush
//!    succeeded (*flush-before-ack*).
//!
//! Under load, groups grow by themselves: while one flush runs, new requests pile up and go
//! into the next group, so the number of flushes stays far below the number of writes.
//!
//! Because every write goes through this single thread, read-modify-write updates of the same
//! key are serialized and can never lose an update.
//!
//! # Why a thread and not a tokio task
//!
//! sled's calls block (transactions take locks, `flush` waits for `fsync`). Running them on a
//! tokio worker would stall every other task scheduled on that worker for the length of an
//! `fsync`. So the writer is a plain `std::thread` named `kith-store-writer`; it receives with
//! `blocking_recv`, and async callers simply await their oneshot.
//!
//! # Shutdown
//!
//! The thread stops when [`Store::close`](crate::Store::close) sends a `Close` request or when
//! every `Store` handle (and so every sender) is gone. Either way it first applies and flushes
//! every request already queued, then exits. Later writes get
//! [`Error::WriterGone`](crate::Error::WriterGone).

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use sled::IVec;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use tokio::sync::{mpsc, oneshot};

use crate::batch::{Action, Op, TreeName, UpdateFn};
use crate::error::{Error, Result};
use crate::store::Trees;

/// Capacity of the writer's queue. Enough to absorb bursts from every part of the node; when it
/// is full, callers wait in `send` until the writer catches up.
pub(crate) const QUEUE_CAPACITY: usize = 1024;

/// Most requests applied before one flush. Bounds how long the first caller of a group waits
/// for its answer behind the others.
pub(crate) const MAX_GROUP: usize = 512;

/// How long the writer waits for more requests before applying a group that is small although
/// other writers are active (see [`COMMIT_SIBLINGS`]): group-commit delay, as in PostgreSQL's
/// `commit_delay`. sled seals and writes a log buffer at every flush, so each flush costs CPU
/// on its I/O threads besides the wait for the disk; under concurrent load, fewer and larger
/// groups raise throughput and lower latency (measured in `benches/ingest.rs`: 7,400 → 9,000
/// posts/s, p99 11.4 → 9.1 ms at 32 clients).
pub(crate) const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_millis(1);

/// The delay applies only when at least this many requests are already queued together: a
/// lone write (one person posting) is applied and flushed at once.
pub(crate) const COMMIT_SIBLINGS: usize = 2;

/// A group this large is applied at once, without the delay.
pub(crate) const GROUP_TARGET: usize = 16;

/// Name of the writer thread (visible in `top -H`, debuggers and panic messages).
const THREAD_NAME: &str = "kith-store-writer";

/// A request to the writer thread.
pub(crate) enum WriteRequest {
    /// Apply `ops` atomically, flush, answer.
    Commit {
        ops: Vec<Op>,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Flush, answer.
    Flush { reply: oneshot::Sender<Result<()>> },
    /// Stop taking new requests, finish the queued ones, flush, answer, exit.
    Close { reply: oneshot::Sender<Result<()>> },
    /// Tests only: tell `holding`, then block the writer until `release` fires (or is
    /// dropped), so that tests can queue requests and observe how the writer groups them.
    #[cfg(test)]
    Hold {
        holding: oneshot::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
    },
}

/// Counters shared between the writer and the store handles.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    flushes: AtomicU64,
}

impl Stats {
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

/// Starts the writer thread over `db` and returns the sender of its queue.
pub(crate) fn spawn(
    db: sled::Db,
    trees: Trees,
    stats: Arc<Stats>,
) -> Result<(mpsc::Sender<WriteRequest>, JoinHandle<()>)> {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let writer = Writer { db, trees, stats };
    let thread = std::thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || writer.run(receiver))
        .map_err(Error::SpawnWriter)?;
    Ok((sender, thread))
}

/// State owned by the writer thread.
struct Writer {
    db: sled::Db,
    trees: Trees,
    stats: Arc<Stats>,
}

impl Writer {
    fn run(self, mut requests: mpsc::Receiver<WriteRequest>) {
        tracing::debug!("store writer started");
        let mut closers = Vec::new();
        let mut group = Vec::with_capacity(MAX_GROUP);
        // After `close()` the receiver still yields what was queued before, then `None`.
        while let Some(first) = requests.blocking_recv() {
            group.push(first);
            take_queued(&mut group, &mut requests);
            if (COMMIT_SIBLINGS..GROUP_TARGET).contains(&group.len()) {
                // Others are writing at the same time: give their next requests a moment to
                // join this group rather than start a group (and a flush) of their own.
                std::thread::sleep(COMMIT_DELAY);
                take_queued(&mut group, &mut requests);
            }
            self.apply_group(&mut group, &mut requests, &mut closers);
        }
        // Everything was flushed with its group, so this is normally a no-op; it covers a close
        // that arrived when nothing else was queued.
        let flushed = self.flush();
        // Release the database before answering, so that a closer that reopens the directory
        // right after `close()` resolves finds it unlocked (once its own handle is dropped).
        drop(self);
        for reply in closers {
            let _ = reply.send(flushed.clone().map_err(Error::Sled));
        }
        tracing::debug!("store writer stopped");
    }

    /// Applies a group of requests, flushes once, answers every request of the group.
    fn apply_group(
        &self,
        group: &mut Vec<WriteRequest>,
        requests: &mut mpsc::Receiver<WriteRequest>,
        closers: &mut Vec<oneshot::Sender<Result<()>>>,
    ) {
        let mut answers = Vec::with_capacity(group.len());
        let mut run = Run::default();
        for request in group.drain(..) {
            match request {
                WriteRequest::Commit { ops, reply } => {
                    if run.overlaps(&ops) {
                        self.apply_run(std::mem::take(&mut run), &mut answers);
                    }
                    run.push(reply, ops);
                }
                WriteRequest::Flush { reply } => answers.push((reply, Ok(()))),
                WriteRequest::Close { reply } => {
                    requests.close();
                    closers.push(reply);
                }
                #[cfg(test)]
                WriteRequest::Hold { holding, release } => {
                    self.apply_run(std::mem::take(&mut run), &mut answers);
                    let _ = holding.send(());
                    let _ = release.recv();
                }
            }
        }
        self.apply_run(run, &mut answers);
        let flushed = self.flush();
        for (reply, applied) in answers {
            let answer = applied.and_then(|()| flushed.clone().map_err(Error::Sled));
            // The caller may have stopped waiting (its future was dropped); the write stands.
            let _ = reply.send(answer);
        }
    }

    fn flush(&self) -> sled::Result<()> {
        let result = self.db.flush().map(drop);
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = &result {
            tracing::error!(%error, "flushing the store failed");
        }
        result
    }

    /// Applies a run of batches with disjoint keys: all in one transaction, or, if that fails,
    /// each in its own. Pushes one answer per batch.
    fn apply_run(&self, run: Run, answers: &mut Vec<(Reply, Result<()>)>) {
        let Run {
            mut replies,
            mut batches,
            ..
        } = run;
        if batches.len() <= 1 {
            if let (Some(reply), Some(ops)) = (replies.pop(), batches.pop()) {
                answers.push((reply, self.apply(ops)));
            }
            return;
        }
        let prepared: Vec<Vec<PreparedOp>> = batches
            .into_iter()
            .map(|ops| prepare(ops, |tree| tree.index()))
            .collect();
        let joint = guarded(|| self.transact(self.trees.all(), &prepared));
        if joint.is_ok() {
            answers.extend(replies.into_iter().map(|reply| (reply, Ok(()))));
            return;
        }
        for (reply, batch) in replies.into_iter().zip(prepared) {
            let result = guarded(|| self.transact(self.trees.all(), std::slice::from_ref(&batch)));
            answers.push((reply, result));
        }
    }

    /// Applies one batch in one transaction over the trees it touches.
    fn apply(&self, ops: Vec<Op>) -> Result<()> {
        guarded(|| self.apply_unguarded(ops))
    }

    fn apply_unguarded(&self, ops: Vec<Op>) -> Result<()> {
        // The trees this batch touches, each once; `slot[tree.index()]` is its position.
        let mut involved: Vec<sled::Tree> = Vec::new();
        let mut slot = [usize::MAX; TreeName::ALL.len()];
        let prepared = prepare(ops, |tree| {
            let index = tree.index();
            if slot[index] == usize::MAX {
                slot[index] = involved.len();
                involved.push(self.trees.get(tree).clone());
            }
            slot[index]
        });
        self.transact(&involved, std::slice::from_ref(&prepared))
    }

    /// Runs `batches` in one transaction over `trees` (each op's `slot` indexes `trees`).
    fn transact(&self, trees: &[sled::Tree], batches: &[Vec<PreparedOp>]) -> Result<()> {
        let outcome = trees.transaction(|views| {
            for op in batches.iter().flatten() {
                let view = &views[op.slot];
                match &op.action {
                    PreparedAction::Put(value) => {
                        view.insert(op.key.clone(), value.clone())?;
                    }
                    PreparedAction::Remove => {
                        view.remove(op.key.clone())?;
                    }
                    PreparedAction::Update(memo) => {
                        let current = view.get(&op.key)?;
                        let next = memo
                            .call(current.as_deref())
                            .map_err(ConflictableTransactionError::Abort)?;
                        match next {
                            Some(value) => view.insert(op.key.clone(), value)?,
                            None => view.remove(op.key.clone())?,
                        };
                    }
                }
            }
            Ok(())
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(Error::Sled(error)),
        }
    }
}

/// Runs `apply`, turning a panic of caller code (an update function) into a failed batch
/// rather than a dead writer (which would take every later write of the process down with
/// it). Nothing was written: the panic unwinds out of the transaction closure before sled
/// commits.
fn guarded(apply: impl FnOnce() -> Result<()>) -> Result<()> {
    match panic::catch_unwind(AssertUnwindSafe(apply)) {
        Ok(result) => result,
        Err(_) => {
            tracing::error!("an update function panicked; its batch was not applied");
            Err(Error::Transaction(
                "an update function panicked; the batch was not applied".to_owned(),
            ))
        }
    }
}

/// Moves the requests already queued into `group`, up to [`MAX_GROUP`], without waiting.
fn take_queued(group: &mut Vec<WriteRequest>, requests: &mut mpsc::Receiver<WriteRequest>) {
    while group.len() < MAX_GROUP {
        match requests.try_recv() {
            Ok(request) => group.push(request),
            Err(_) => break,
        }
    }
}

/// Turns a batch's operations into transaction steps; `slot_of` gives each tree's index in
/// the transaction's views.
fn prepare(ops: Vec<Op>, mut slot_of: impl FnMut(TreeName) -> usize) -> Vec<PreparedOp> {
    ops.into_iter()
        .map(|op| PreparedOp {
            slot: slot_of(op.tree),
            key: IVec::from(op.key),
            action: match op.action {
                Action::Put(value) => PreparedAction::Put(IVec::from(value)),
                Action::Remove => PreparedAction::Remove,
                Action::Update(f) => PreparedAction::Update(Memo::new(f)),
            },
        })
        .collect()
}

/// Who waits for a batch's answer.
type Reply = oneshot::Sender<Result<()>>;

/// Consecutive batches of a group whose keys do not overlap: they can share one transaction.
///
/// Keys are remembered by hash rather than by value, so building a run copies no key. Two
/// different keys with the same hash only end a run early (one more transaction), never join
/// batches that overlap.
#[derive(Default)]
struct Run {
    replies: Vec<Reply>,
    batches: Vec<Vec<Op>>,
    keys: HashSet<u64>,
    hasher: RandomState,
}

impl Run {
    /// Whether `ops` touch a key this run already touches.
    fn overlaps(&self, ops: &[Op]) -> bool {
        ops.iter().any(|op| self.keys.contains(&self.key_hash(op)))
    }

    fn push(&mut self, reply: Reply, ops: Vec<Op>) {
        for op in &ops {
            let hash = self.key_hash(op);
            self.keys.insert(hash);
        }
        self.replies.push(reply);
        self.batches.push(ops);
    }

    fn key_hash(&self, op: &Op) -> u64 {
        self.hasher.hash_one((op.tree, op.key.as_slice()))
    }
}

/// A batch operation ready to run inside a transaction.
struct PreparedOp {
    /// Index of the operation's tree in the transaction's views.
    slot: usize,
    key: IVec,
    action: PreparedAction,
}

enum PreparedAction {
    Put(IVec),
    Remove,
    Update(Memo),
}

/// Runs a `FnOnce` update inside a transaction closure that sled may call more than once.
///
/// sled retries a transaction's closure when it detects a conflict with a concurrent
/// transaction. The writer is the only thread that writes, so retries should not happen; but if
/// one does, the closure must not call the update function a second time. The memo keeps the
/// input and output of the first call: a retry that sees the same input reuses the output
/// (which is what a second call would compute); a retry that sees a different input aborts the
/// batch rather than guess.
struct Memo {
    f: RefCell<Option<UpdateFn>>,
    first_call: RefCell<Option<FirstCall>>,
}

/// What the update function was given and returned on its one call.
struct FirstCall {
    input: Option<IVec>,
    output: Option<Vec<u8>>,
}

impl Memo {
    fn new(f: UpdateFn) -> Self {
        Memo {
            f: RefCell::new(Some(f)),
            first_call: RefCell::new(None),
        }
    }

    fn call(&self, current: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        if let Some(first) = &*self.first_call.borrow() {
            return if first.input.as_deref() == current {
                Ok(first.output.clone())
            } else {
                Err(Error::Transaction(
                    "the value changed while the transaction was retried".to_owned(),
                ))
            };
        }
        let f = self.f.borrow_mut().take().ok_or_else(|| {
            Error::Transaction("an update function failed on an earlier attempt".to_owned())
        })?;
        let output = f(current)?;
        *self.first_call.borrow_mut() = Some(FirstCall {
            input: current.map(IVec::from),
            output: output.clone(),
        });
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use super::*;
    use crate::Store;

    /// Blocks the writer; returns once it is blocked (with an empty queue). Dropping or
    /// sending on the returned sender releases it.
    async fn hold(store: &Store) -> std_mpsc::SyncSender<()> {
        let (release, released) = std_mpsc::sync_channel(1);
        let (holding, held) = oneshot::channel();
        store
            .send(WriteRequest::Hold {
                holding,
                release: released,
            })
            .await
            .expect("writer is running");
        held.await.expect("writer reports that it holds");
        release
    }

    /// Waits (without sleeping) until `n` requests are queued behind a held writer.
    async fn until_queued(store: &Store, n: usize) {
        let requests = store.requests();
        while requests.max_capacity() - requests.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    fn counter(bytes: Option<&[u8]>) -> u64 {
        bytes.map_or(0, |b| {
            u64::from_le_bytes(b.try_into().expect("8-byte counter"))
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_flushes_and_all_land() {
        let store = Store::open_temporary().unwrap();
        let release = hold(&store).await;
        let before = store.flush_count();

        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .batch()
                        .put(TreeName::Meta, format!("key-{i:03}"), i.to_be_bytes())
                        .commit()
                        .await
                })
            })
            .collect();
        until_queued(&store, 200).await;
        release.send(()).unwrap();
        for task in tasks {
            task.await.unwrap().unwrap();
        }

        for i in 0..200u32 {
            let value = store.meta().get(&format!("key-{i:03}")).unwrap();
            assert_eq!(value, Some(i.to_be_bytes().to_vec()), "key-{i:03}");
        }
        // One flush for the group that held the writer, one for the 200 commits.
        let flushes = store.flush_count() - before;
        assert!(flushes <= 2, "200 commits took {flushes} flushes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_are_capped() {
        let store = Store::open_temporary().unwrap();
        let release = hold(&store).await;
        let before = store.flush_count();
        let n = MAX_GROUP * 2 - 24;
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let meta = store.meta();
                tokio::spawn(async move { meta.set(&format!("k{i}"), "v").await })
            })
            .collect();
        until_queued(&store, n).await;
        drop(release);
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // The holding group, then MAX_GROUP requests, then the rest.
        assert_eq!(store.flush_count() - before, 3);
        assert_eq!(store.tree(TreeName::Meta).len(), n);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uncoordinated_commits_all_succeed() {
        let store = Store::open_temporary().unwrap();
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .batch()
                        .put(TreeName::Meta, i.to_be_bytes(), "x")
                        .commit()
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(store.tree(TreeName::Meta).len(), 200);
        assert!(store.flush_count() <= 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_updates_of_one_key_lose_nothing() {
        let store = Store::open_temporary().unwrap();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .batch()
                        .update(TreeName::Meta, "counter", |current| {
                            Some((counter(current) + 1).to_le_bytes().to_vec())
                        })
                        .commit()
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(
            counter(store.meta().get("counter").unwrap().as_deref()),
            100
        );
    }

    #[tokio::test]
    async fn a_batch_is_all_or_nothing_across_trees() {
        let store = Store::open_temporary().unwrap();
        let failed = store
            .batch()
            .put(TreeName::Peers, "p", "1")
            .put(TreeName::Meta, "m", "1")
            .try_update(TreeName::Blocks, "b", |_| {
                Err(Error::Transaction("no".to_owned()))
            })
            .commit()
            .await;
        assert!(
            matches!(failed, Err(Error::Transaction(ref why)) if why == "no"),
            "{failed:?}"
        );
        assert_eq!(store.tree(TreeName::Peers).get("p").unwrap(), None);
        assert_eq!(store.tree(TreeName::Meta).get("m").unwrap(), None);

        store
            .batch()
            .put(TreeName::Peers, "p", "1")
            .put(TreeName::Meta, "m", "1")
            .put(TreeName::Blocks, "b", "1")
            .commit()
            .await
            .unwrap();
        for (tree, key) in [
            (TreeName::Peers, "p"),
            (TreeName::Blocks, "b"),
            (TreeName::Meta, "m"),
        ] {
            assert!(store.tree(tree).get(key).unwrap().is_some(), "{tree}");
        }
    }

    #[tokio::test]
    async fn operations_apply_in_order_within_a_batch() {
        let store = Store::open_temporary().unwrap();
        store
            .batch()
            .put(TreeName::Meta, "k", "a")
            .update(TreeName::Meta, "k", |current| {
                let mut value = current.unwrap_or_default().to_vec();
                value.push(b'b');
                Some(value)
            })
            .put(TreeName::Meta, "gone", "x")
            .remove(TreeName::Meta, "gone")
            .update(TreeName::Meta, "never", |_| None)
            .commit()
            .await
            .unwrap();
        assert_eq!(store.meta().get("k").unwrap(), Some(b"ab".to_vec()));
        assert_eq!(store.meta().get("gone").unwrap(), None);
        assert_eq!(store.meta().get("never").unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_does_not_fail_its_group() {
        let store = Store::open_temporary().unwrap();
        let release = hold(&store).await;
        let before = store.flush_count();

        let good = |key: &'static str| {
            let store = store.clone();
            tokio::spawn(async move { store.batch().put(TreeName::Meta, key, "ok").commit().await })
        };
        let first = good("first");
        until_queued(&store, 1).await;
        let panicking = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .batch()
                    .put(TreeName::Peers, "half", "written?")
                    .update(TreeName::Meta, "boom", |_| panic!("update function bug"))
                    .commit()
                    .await
            })
        };
        until_queued(&store, 2).await;
        let aborting = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .batch()
                    .try_update(TreeName::Meta, "abort", |_| {
                        Err(Error::Corrupt {
                            tree: "meta",
                            key: "abort".to_owned(),
                        })
                    })
                    .commit()
                    .await
            })
        };
        until_queued(&store, 3).await;
        let last = good("last");
        until_queued(&store, 4).await;
        release.send(()).unwrap();

        first.await.unwrap().unwrap();
        last.await.unwrap().unwrap();
        let panicked = panicking.await.unwrap();
        assert!(
            matches!(panicked, Err(Error::Transaction(_))),
            "{panicked:?}"
        );
        let aborted = aborting.await.unwrap();
        assert!(
            matches!(aborted, Err(Error::Corrupt { tree: "meta", .. })),
            "{aborted:?}"
        );
        assert_eq!(store.flush_count() - before, 2, "all four were one group");

        assert_eq!(store.meta().get("first").unwrap(), Some(b"ok".to_vec()));
        assert_eq!(store.meta().get("last").unwrap(), Some(b"ok".to_vec()));
        assert_eq!(store.tree(TreeName::Peers).get("half").unwrap(), None);
        // The writer survived the panic.
        store.meta().set("after", "ok").await.unwrap();
        assert_eq!(store.meta().get("after").unwrap(), Some(b"ok".to_vec()));
    }

    #[test]
    fn memo_runs_an_update_once_and_replays_it() {
        let calls = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&calls);
        let memo = Memo::new(Box::new(move |current: Option<&[u8]>| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(Some([current.unwrap_or_default(), b"+"].concat()))
        }));
        assert_eq!(memo.call(Some(b"a")).unwrap(), Some(b"a+".to_vec()));
        // A retry that sees the same value gets the same answer without a second call.
        assert_eq!(memo.call(Some(b"a")).unwrap(), Some(b"a+".to_vec()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A retry that sees another value aborts instead of guessing.
        assert!(matches!(memo.call(None), Err(Error::Transaction(_))));
    }
}
