//! The crate's single error type.
//!
//! Every variant carries what a user needs to act on it: the file or setting involved and, where
//! there is one, the underlying cause as [`std::error::Error::source`]. Messages do not repeat the
//! source, so printing the whole chain (`{:#}` with anyhow) reads as one sentence without
//! duplication. Key material never appears in a message.

use std::{io, path::PathBuf};

/// Everything that can go wrong while resolving settings, handling key files, editing `kith.toml`
/// or decoding invite codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, writing or inspecting a file or directory failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A key file exists but its content is not a valid key of the expected kind.
    #[error("key file {path} is corrupt: {reason}")]
    CorruptKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with its content (never the content itself).
        reason: String,
    },

    /// Creating a key file was refused because the file already exists: a key is never silently
    /// replaced.
    #[error("key file {path} already exists; refusing to replace it")]
    KeyExists {
        /// The existing key file.
        path: PathBuf,
    },

    /// A UI password was refused (too short, too long) or could not be hashed.
    #[error("{0}")]
    Password(String),

    /// A key file that should be replaced does not exist.
    #[error("key file {path} does not exist, so there is nothing to replace")]
    KeyMissing {
        /// The missing key file.
        path: PathBuf,
    },

    /// A config file named explicitly (`--config` / `KITH_CONFIG`) does not exist.
    #[error("config file {path} does not exist")]
    ConfigNotFound {
        /// The missing config file.
        path: PathBuf,
    },

    /// The config file is not valid TOML or contains an unknown key or a value of the wrong type.
    #[error("invalid config file {path}")]
    ConfigFile {
        /// The config file.
        path: PathBuf,
        /// The parser's error, naming the line and key.
        #[source]
        source: toml::de::Error,
    },

    /// The config file could not be parsed for editing.
    #[error("cannot edit config file {path}: it is not valid TOML")]
    ConfigEdit {
        /// The config file.
        path: PathBuf,
        /// The parser's error, naming the line.
        #[source]
        source: toml_edit::TomlError,
    },

    /// A setting has a value that parses but cannot be used.
    #[error("invalid setting `{key}`: {reason}")]
    InvalidSetting {
        /// The setting's name as written in `kith.toml` (the flag is the same in kebab-case).
        key: String,
        /// Why the value is unusable.
        reason: String,
    },

    /// An invite code could not be decoded.
    #[error("invalid invite code: {reason}")]
    InvalidInvite {
        /// What is wrong with the code.
        reason: String,
    },

    /// No data directory was given and neither `XDG_DATA_HOME` nor `HOME` names one.
    #[error(
        "cannot choose a data directory: neither XDG_DATA_HOME nor HOME is set to an absolute \
         path; pass --data-dir or set KITH_DATA_DIR"
    )]
    NoDataDir,
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`Error::CorruptKey`] for `path`.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::CorruptKey {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidSetting`] for `key`.
    pub(crate) fn setting(key: &str, reason: impl Into<String>) -> Self {
        Error::InvalidSetting {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidInvite`].
    pub(crate) fn invite(reason: impl Into<String>) -> Self {
        Error::InvalidInvite {
            reason: reason.into(),
        }
    }
}
