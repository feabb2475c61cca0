//! The crate's single error type.
//!
//! Every fallible operation of the store returns [`Error`]. Variants keep their sources (sled and
//! serde_json errors) so that `{:#}`-style reporting shows the whole chain, and carry the context
//! a reader of a log line needs: which path could not be opened, which tree and key held a value
//! that would not decode.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database directory could not be opened (missing permissions, a corrupt database,
    /// an incompatible format, ...).
    #[error("opening the database at {}", path.display())]
    Open {
        /// The directory that was being opened.
        path: PathBuf,
        /// What sled reported.
        #[source]
        source: sled::Error,
    },
    /// The database directory is already open: by another process, or by another [`Store`] in
    /// this process (sled takes an exclusive lock on the directory, and a directory can be open
    /// once per process).
    ///
    /// [`Store`]: crate::Store
    #[error(
        "the database at {} is locked: another kith process (or another store in this process) \
         has it open",
        path.display()
    )]
    Locked {
        /// The directory that was being opened.
        path: PathBuf,
        /// What sled reported.
        #[source]
        source: sled::Error,
    },
    /// The writer thread could not be started.
    #[error("starting the store's writer thread")]
    SpawnWriter(#[source] std::io::Error),
    /// A read, write or flush failed inside sled.
    #[error("database operation failed")]
    Sled(#[from] sled::Error),
    /// A stored value could not be decoded. Listing operations skip such values (and log them);
    /// point reads report them with this error.
    #[error("corrupt value in tree {tree:?} at key {key}")]
    Corrupt {
        /// The sled tree holding the value.
        tree: &'static str,
        /// The key, in a readable form (a peer id, a meta key, ...).
        key: String,
    },
    /// A value could not be encoded as JSON.
    #[error("encoding a value as JSON")]
    Encode(#[from] serde_json::Error),
    /// The writer thread has stopped (the store was closed, or the thread died). Writes return
    /// this instead of panicking; reads keep working on the handles that are still alive.
    #[error("the store's writer has stopped (the store was closed)")]
    WriterGone,
    /// A batch was not applied, for the reason given (for example an update function panicked).
    #[error("transaction failed: {0}")]
    Transaction(String),
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies an error from opening a sled directory: a failed directory lock becomes
    /// [`Error::Locked`], anything else [`Error::Open`].
    pub(crate) fn from_open(path: PathBuf, source: sled::Error) -> Self {
        if is_lock_error(&source) {
            Error::Locked { path, source }
        } else {
            Error::Open { path, source }
        }
    }
}

/// sled 0.34.7 reports a failed `flock` on its `db` file as a plain `io::Error` of kind `Other`
/// whose message starts with "could not acquire lock" (`Config::try_lock` in sled's
/// `config.rs`). The message is the only thing that tells it apart; sled is pinned to `=0.34.7`,
/// and a test below checks the detection against the real thing.
fn is_lock_error(error: &sled::Error) -> bool {
    match error {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::Other
                && io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}
