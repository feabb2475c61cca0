//! The layout of a node's data directory.
//!
//! All file names live here so that the binary, the node and the tests agree on them. The data
//! directory holds secrets (identity key, network key, API token), so it is created owner-only.

use std::{
    ffi::OsStr,
    fs::DirBuilder,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
};

use crate::Error;

/// File name of the node's libp2p identity key.
pub const IDENTITY_KEY_FILE: &str = "identity.key";
/// File name of the private network's pre-shared key.
pub const SWARM_KEY_FILE: &str = "swarm.key";
/// File name of the HTTP API bearer token.
pub const API_TOKEN_FILE: &str = "api.token";
/// The UI password hash, `ui.password` (only when the owner set one with `kith passwd`).
pub const UI_PASSWORD_FILE: &str = "ui.password";
/// File name of the config file.
pub const CONFIG_FILE: &str = "kith.toml";
/// Directory name of the database.
pub const DB_DIR: &str = "db";
/// File name where a running node writes its HTTP API's bound address.
pub const API_ADDR_FILE: &str = "api.addr";

/// A node's data directory and the paths of the files in it.
///
/// Constructing one touches nothing; [`DataDir::ensure_exists`] creates the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory rooted at `root` (used as given; [`crate::Settings::resolve`] makes it
    /// absolute).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/identity.key`: the libp2p identity keypair.
    pub fn identity_key(&self) -> PathBuf {
        self.root.join(IDENTITY_KEY_FILE)
    }

    /// `<root>/swarm.key`: the private network key.
    pub fn swarm_key(&self) -> PathBuf {
        self.root.join(SWARM_KEY_FILE)
    }

    /// `<root>/api.token`: the bearer token of the local HTTP API.
    pub fn api_token(&self) -> PathBuf {
        self.root.join(API_TOKEN_FILE)
    }

    /// `<root>/ui.password`: the Argon2id hash of the UI password, if one is set.
    pub fn ui_password(&self) -> PathBuf {
        self.root.join(UI_PASSWORD_FILE)
    }

    /// `<root>/kith.toml`: the default config file.
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// `<root>/db`: the database directory.
    pub fn db(&self) -> PathBuf {
        self.root.join(DB_DIR)
    }

    /// `<root>/api.addr`: the running node's actual API address (written at start, removed at
    /// a clean stop), so client commands find a node started with `--api 127.0.0.1:0`.
    pub fn api_addr(&self) -> PathBuf {
        self.root.join(API_ADDR_FILE)
    }

    /// Creates the directory (and missing parents) with mode 0700.
    ///
    /// An existing directory is left as it is, permissions included; use
    /// [`crate::insecure_permissions`] to warn about a group- or world-accessible one.
    pub fn ensure_exists(&self) -> Result<(), Error> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| Error::io(&self.root, e))
    }
}

/// The default data directory, `$XDG_DATA_HOME/kith`, else `$HOME/.local/share/kith`, computed
/// from the given variable values (pass `std::env::var_os(..)`; taking them as arguments keeps
/// this testable without touching the process environment).
///
/// Empty values count as unset. Following the XDG base directory specification, a relative
/// `XDG_DATA_HOME` is ignored; a relative `HOME` is ignored as well, since a data directory that
/// moves with the current directory would lose the node's keys.
pub fn default_data_dir(
    xdg_data_home: Option<&OsStr>,
    home: Option<&OsStr>,
) -> Result<PathBuf, Error> {
    let absolute = |value: Option<&OsStr>| {
        value
            .map(Path::new)
            .filter(|path| path.is_absolute())
            .map(Path::to_path_buf)
    };
    if let Some(xdg) = absolute(xdg_data_home) {
        return Ok(xdg.join("kith"));
    }
    if let Some(home) = absolute(home) {
        return Ok(home.join(".local").join("share").join("kith"));
    }
    Err(Error::NoDataDir)
}

#[cfg(test)]
mod tests {
    use std::{fs, os::unix::fs::PermissionsExt};

    use super::*;

    #[test]
    fn layout_names_the_documented_files() {
        let dir = DataDir::new("/srv/kith");
        assert_eq!(dir.root(), Path::new("/srv/kith"));
        assert_eq!(dir.identity_key(), Path::new("/srv/kith/identity.key"));
        assert_eq!(dir.swarm_key(), Path::new("/srv/kith/swarm.key"));
        assert_eq!(dir.api_token(), Path::new("/srv/kith/api.token"));
        assert_eq!(dir.config(), Path::new("/srv/kith/kith.toml"));
        assert_eq!(dir.db(), Path::new("/srv/kith/db"));
    }

    #[test]
    fn ensure_exists_creates_owner_only_dir_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("a").join("kith"));
        dir.ensure_exists().unwrap();
        let mode = fs::metadata(dir.root()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        dir.ensure_exists().unwrap();
    }

    #[test]
    fn ensure_exists_fails_on_a_file_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        match DataDir::new(&file).ensure_exists() {
            Err(Error::Io { path, .. }) => assert_eq!(path, file),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn default_prefers_xdg_then_home() {
        let xdg = OsStr::new("/x/data");
        let home = OsStr::new("/home/u");
        assert_eq!(
            default_data_dir(Some(xdg), Some(home)).unwrap(),
            Path::new("/x/data/kith")
        );
        assert_eq!(
            default_data_dir(None, Some(home)).unwrap(),
            Path::new("/home/u/.local/share/kith")
        );
        // Empty and relative XDG_DATA_HOME are ignored, as the XDG spec says.
        assert_eq!(
            default_data_dir(Some(OsStr::new("")), Some(home)).unwrap(),
            Path::new("/home/u/.local/share/kith")
        );
        assert_eq!(
            default_data_dir(Some(OsStr::new("rel/data")), Some(home)).unwrap(),
            Path::new("/home/u/.local/share/kith")
        );
    }

    #[test]
    fn default_without_any_variable_is_an_error() {
        assert!(matches!(
            default_data_dir(None, None),
            Err(Error::NoDataDir)
        ));
        assert!(matches!(
            default_data_dir(Some(OsStr::new("")), Some(OsStr::new(""))),
            Err(Error::NoDataDir)
        ));
    }
}
