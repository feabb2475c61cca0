//! [`Store`]: the cheap-clone handle to the database.
//!
//! A `Store` owns (through an `Arc`) the sled database, one handle per tree, and the sending
//! side of the writer thread's queue. Reads go straight to the sled trees from the caller's
//! thread: sled reads are lock-free and fast. Writes are turned into requests for the writer
//! thread (see the `writer` module).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::batch::{Batch, TreeName};
use crate::blocks::Blocklist;
use crate::error::{Error, Result};
use crate::meta::Meta;
use crate::peers::PeerBook;
use crate::writer::{self, Stats, WriteRequest};

/// Handles to every tree of the store, indexed by [`TreeName::index`].
#[derive(Clone)]
pub(crate) struct Trees(Box<[sled::Tree]>);

impl Trees {
    fn open(db: &sled::Db) -> sled::Result<Self> {
        TreeName::ALL
            .iter()
            .map(|name| db.open_tree(name.as_str()))
            .collect::<sled::Result<_>>()
            .map(Trees)
    }

    pub(crate) fn get(&self, name: TreeName) -> &sled::Tree {
        &self.0[name.index()]
    }

    /// Every tree, indexed by [`TreeName::index`].
    pub(crate) fn all(&self) -> &[sled::Tree] {
        &self.0
    }
}

/// The database: a cheap-clone handle (clone it freely, every clone is the same store).
///
/// Reads ([`PeerBook::get`], [`Blocklist::contains`], [`Meta::get`], ...) run on the calling
/// thread and do not block for long. Writes ([`Batch::commit`] and the async methods built on
/// it) are applied by the store's single writer thread and resolve once they are on disk.
///
/// The writer stops when [`close`](Store::close) is called or when the last handle (including
/// the [`PeerBook`], [`Blocklist`] and [`Meta`] handles, which hold a `Store`) is dropped; in
/// both cases it first applies and flushes everything already queued. Dropping the last handle
/// waits for that (about one flush) and then closes the database, releasing its directory, so
/// the directory can be opened again right after; in async code prefer `close().await`, which
/// does the waiting on a blocking thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Shared state of all clones of a [`Store`].
///
/// Field order matters: fields drop in declaration order. Dropping `requests` (the only
/// sender of the queue) tells the writer to finish; `writer` then waits for it to exit; only
/// then are `db` and `trees` dropped, so that when the last handle is gone the database is
/// closed and its directory lock released.
struct Inner {
    /// Queue to the writer thread; capacity [`writer::QUEUE_CAPACITY`].
    requests: mpsc::Sender<WriteRequest>,
    writer: WriterThread,
    /// Kept for `size_on_disk`, and so that reads never depend on the writer being alive.
    db: sled::Db,
    trees: Trees,
    stats: Arc<Stats>,
}

/// The writer thread's handle. Taken by the first [`Store::close`]; otherwise joined on drop.
struct WriterThread(Mutex<Option<JoinHandle<()>>>);

impl WriterThread {
    fn take(&self) -> Option<JoinHandle<()>> {
        match self.0.lock() {
            Ok(mut guard) => guard.take(),
            // Poisoned only if a thread panicked while holding the lock, which `take` cannot
            // do; the handle inside is intact either way.
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

impl Drop for WriterThread {
    /// Waits for the writer to apply what is still queued (only requests whose callers stopped
    /// waiting can be left: a waiting caller holds a `Store`) and to flush. This blocks for
    /// about one flush; async code that wants to avoid even that calls [`Store::close`].
    fn drop(&mut self) {
        if let Some(thread) = self.take() {
            // An update function that captured the last `Store` would be dropped on the writer
            // thread itself; joining there would deadlock, and the thread is exiting anyway.
            if thread.thread().id() != std::thread::current().id() && thread.join().is_err() {
                tracing::error!("the store's writer thread panicked");
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("flushes", &self.flush_count())
            .field("writer_running", &!self.inner.requests.is_closed())
            .finish_non_exhaustive()
    }
}

/// How long [`Store::open`] waits for a directory lock that a just-closed store still holds.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);
/// How often it tries again meanwhile.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(5);

impl Store {
    /// Opens (or creates) the database in directory `path`, with a page cache of at most
    /// `cache_bytes`, and starts its writer thread.
    ///
    /// This blocks on disk I/O (sled recovers its log here); call it before starting the
    /// runtime's work or from `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if the directory is already open (by another process, or by another
    /// `Store` in this process), after waiting briefly for a store closing in this process;
    /// [`Error::Open`] for any other failure to open it.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store> {
        // No periodic background flush: the writer flushes every group before acknowledging
        // it, so sled's timer (every 500 ms by default) would only wake an idle node to fsync
        // nothing.
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None);
        Store::open_config(&config, path.to_path_buf())
    }

    /// Opens a throw-away database that lives in memory-backed temporary files and is deleted
    /// when the store is dropped. For tests.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] if sled could not create the temporary database.
    pub fn open_temporary() -> Result<Store> {
        let config = sled::Config::new().temporary(true);
        Store::open_config(&config, PathBuf::from("<temporary>"))
    }

    /// Opens the database described by `config`; `path` is only used in error messages.
    ///
    /// A database that this process has just closed can stay locked for a moment: sled's I/O
    /// threads finish their last writes after every handle is gone. A lock conflict is
    /// therefore tried again for up to [`LOCK_PATIENCE`] before it is reported; one held by a
    /// running store (here or in another process) outlasts that.
    pub(crate) fn open_config(config: &sled::Config, path: PathBuf) -> Result<Store> {
        let deadline = std::time::Instant::now() + LOCK_PATIENCE;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(source) => match Error::from_open(path.clone(), source) {
                    Error::Locked { .. } if std::time::Instant::now() < deadline => {
                        std::thread::sleep(LOCK_RETRY);
                    }
                    error => return Err(error),
                },
            }
        };
        let trees = Trees::open(&db).map_err(|source| Error::Open { path, source })?;
        let stats = Arc::new(Stats::default());
        let (requests, thread) = writer::spawn(db.clone(), trees.clone(), Arc::clone(&stats))?;
        Ok(Store {
            inner: Arc::new(Inner {
                requests,
                writer: WriterThread(Mutex::new(Some(thread))),
                db,
                trees,
                stats,
            }),
        })
    }

    /// Starts a new, empty [`Batch`] of writes.
    pub fn batch(&self) -> Batch {
        Batch::new(self.clone())
    }

    /// The peer book: what we know about every peer we have heard of.
    pub fn peers(&self) -> PeerBook {
        PeerBook::new(self.clone())
    }

    /// The blocklist: peers we refuse to talk to.
    pub fn blocks(&self) -> Blocklist {
        Blocklist::new(self.clone())
    }

    /// Small node-level key/value facts.
    pub fn meta(&self) -> Meta {
        Meta::new(self.clone())
    }

    /// Waits until everything written before this call is flushed to disk.
    ///
    /// Writes made with [`Batch::commit`] are already flushed when they resolve, so this is only
    /// needed as a barrier (for example at shutdown, before reporting "stopped").
    ///
    /// # Errors
    ///
    /// [`Error::WriterGone`] if the store was closed; [`Error::Sled`] if the flush failed.
    pub async fn flush(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(WriteRequest::Flush { reply }).await?;
        answer.await.map_err(|_| Error::WriterGone)?
    }

    /// Size of the database's files on disk, in bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if sled could not stat its files.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// Stops the writer: everything queued before this call is applied and flushed, then the
    /// thread exits and this resolves with the result of that last flush.
    ///
    /// Afterwards writes through any remaining clone of this store fail with
    /// [`Error::WriterGone`]; reads keep working until the last clone is dropped, which closes
    /// the database (and releases its directory lock). If another clone already closed the
    /// store, this returns `Ok(())` once the writer has stopped.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] if the final flush failed.
    pub async fn close(self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let result = match self.send(WriteRequest::Close { reply }).await {
            Ok(()) => answer.await.unwrap_or(Err(Error::WriterGone)),
            // Already closed by another handle (or the writer died): nothing left to flush here.
            Err(_) => Ok(()),
        };
        // The writer answers just before its thread returns, after dropping its database
        // handles; join it so that "close resolved" really means "the thread is gone". Joining
        // blocks, hence spawn_blocking; it only waits for the thread's last instructions.
        if let Some(thread) = self.inner.writer.take() {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the store's writer thread panicked");
                return Err(Error::WriterGone);
            }
        }
        result
    }

    /// Number of flushes the writer has performed since the store was opened. With group
    /// commit this grows far slower than the number of commits under concurrent load.
    #[doc(hidden)]
    pub fn flush_count(&self) -> u64 {
        self.inner.stats.flushes()
    }

    /// Handle to one tree, for reads.
    pub(crate) fn tree(&self, name: TreeName) -> &sled::Tree {
        self.inner.trees.get(name)
    }

    /// Queues a request for the writer, waiting for room if the queue is full.
    pub(crate) async fn send(&self, request: WriteRequest) -> Result<()> {
        self.inner
            .requests
            .send(request)
            .await
            .map_err(|_| Error::WriterGone)
    }

    /// The queue's sender, for tests that need to look at or hold the writer.
    #[cfg(test)]
    pub(crate) fn requests(&self) -> &mpsc::Sender<WriteRequest> {
        &self.inner.requests
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CACHE: u64 = 8 * 1024 * 1024;

    /// Copies a directory tree, as a crash would leave it: whatever is on disk right now.
    fn snapshot(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                snapshot(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    #[tokio::test]
    async fn committed_writes_survive_close_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path, CACHE).unwrap();
        store
            .batch()
            .put(TreeName::Meta, "a", "1")
            .put(TreeName::Peers, "b", "2")
            .commit()
            .await
            .unwrap();
        store.close().await.unwrap();

        let store = Store::open(&path, CACHE).unwrap();
        assert_eq!(store.meta().get("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            store.tree(TreeName::Peers).get("b").unwrap().as_deref(),
            Some(&b"2"[..])
        );
        store.meta().set("c", "3").await.unwrap();
        // Dropping every handle (without close) also finishes the writer and releases the
        // directory (once sled's I/O threads are done, which open waits for).
        drop(store);

        let store = Store::open(&path, CACHE).unwrap();
        assert_eq!(store.meta().get("c").unwrap(), Some(b"3".to_vec()));
        assert!(store.size_on_disk().unwrap() > 0);
    }

    #[tokio::test]
    async fn an_acknowledged_write_is_on_disk_before_any_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        // No background flusher: only the writer's flushes put data on disk.
        let config = sled::Config::new().path(&path).flush_every_ms(None);
        let store = Store::open_config(&config, path.clone()).unwrap();

        // Control: a write that bypasses the writer is not flushed, and a crash loses it.
        store.tree(TreeName::Meta).insert("unflushed", "x").unwrap();
        let crashed = dir.path().join("crash-1");
        snapshot(&path, &crashed);
        {
            let recovered = Store::open(&crashed, CACHE).unwrap();
            assert_eq!(recovered.meta().get("unflushed").unwrap(), None);
        }

        store.meta().set("acked", "yes").await.unwrap();
        let crashed = dir.path().join("crash-2");
        snapshot(&path, &crashed);
        let recovered = Store::open(&crashed, CACHE).unwrap();
        assert_eq!(
            recovered.meta().get("acked").unwrap(),
            Some(b"yes".to_vec())
        );
        drop(store);
    }

    #[tokio::test]
    async fn opening_an_open_directory_reports_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path, CACHE).unwrap();
        match Store::open(&path, CACHE) {
            Err(Error::Locked { path: locked, .. }) => assert_eq!(locked, path),
            other => panic!("expected Error::Locked, got {other:?}"),
        }
        drop(store);
        Store::open(&path, CACHE).unwrap();
    }

    #[tokio::test]
    async fn unopenable_path_is_an_open_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        match Store::open(&file, CACHE) {
            Err(error @ Error::Open { .. }) => {
                assert!(error.to_string().contains("not-a-dir"), "{error}");
            }
            other => panic!("expected Error::Open, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn writes_after_close_return_writer_gone() {
        let store = Store::open_temporary().unwrap();
        let other = store.clone();
        store.meta().set("k", "v").await.unwrap();
        store.close().await.unwrap();

        assert!(matches!(
            other.meta().set("k", "w").await,
            Err(Error::WriterGone)
        ));
        assert!(matches!(other.flush().await, Err(Error::WriterGone)));
        assert!(matches!(
            other.peers().forget(libp2p::PeerId::random()).await,
            Err(Error::WriterGone)
        ));
        // Reads still work on the surviving handle.
        assert_eq!(other.meta().get("k").unwrap(), Some(b"v".to_vec()));
        // Closing again is harmless.
        other.close().await.unwrap();
    }

    #[tokio::test]
    async fn flush_is_a_barrier_and_counts() {
        let store = Store::open_temporary().unwrap();
        let before = store.flush_count();
        store.flush().await.unwrap();
        assert_eq!(store.flush_count(), before + 1);
        // An empty batch does not reach the writer.
        store.batch().commit().await.unwrap();
        assert_eq!(store.flush_count(), before + 1);
    }
}
