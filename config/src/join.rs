//! Joining a network from an invite code, on disk: the network key and the bootstrap list.
//!
//! An invite (`kith1…`, see [`Invite`]) carries a network key and the addresses of a node on
//! that network. Joining stores the key as the data dir's `swarm.key` and adds the addresses to
//! the config file's `bootstrap` list, so that the next start of the node is on that network and
//! dials those peers. A running node keeps the key it started with: a new key takes effect at
//! the next start.
//!
//! [`store_invite`] is that step, shared by `kith join CODE [--replace]` (before a start) and
//! `POST /api/v1/network/join` (while the node runs, through kith-node's
//! `NetworkService::join`). The rules are the same on both paths:
//!
//! - no key yet: the invite's is stored;
//! - the same key: nothing to store;
//! - another network's key: refused ([`KeyChange::OtherNetwork`], nothing written) unless
//!   `replace` is set; then the old key is kept as a backup next to it (see
//!   [`replace_network_key`]) and the invite's takes its place. An existing key is never lost.
//!
//! In every case but the refusal, the invite's addresses join the `bootstrap` list (addresses
//! already listed are not added twice).

use std::path::PathBuf;

use crate::{
    DataDir, Error, Invite, Settings, create_network_key, load_network_key, replace_network_key,
    set_bootstrap_in_config,
};

/// Where a node's network key and bootstrap list live: what joining writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinFiles {
    /// The data directory; its `swarm.key` is the network key.
    pub data_dir: DataDir,
    /// The configuration file whose `bootstrap` list gets the invite's addresses.
    pub config: PathBuf,
}

impl JoinFiles {
    /// The files of the node that `settings` describe.
    pub fn of(settings: &Settings) -> JoinFiles {
        JoinFiles {
            data_dir: settings.data_dir.clone(),
            config: settings.config_path.clone(),
        }
    }
}

/// What [`store_invite`] did with the network key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// The data dir already held the invite's key.
    Unchanged,
    /// There was no key: the invite's was stored.
    Created,
    /// Another network's key was replaced by the invite's.
    Replaced {
        /// The fingerprint of the network left.
        previous: String,
        /// Where the old key is kept.
        backup: PathBuf,
    },
    /// The data dir holds another network's key and `replace` was not set: nothing was
    /// written.
    OtherNetwork {
        /// The fingerprint of the network of the stored key.
        stored: String,
    },
}

/// Stores `invite`'s network key and bootstrap peers in `files` (see the module docs for the
/// rules). Blocking file I/O: from async code, call it on a blocking thread.
///
/// # Errors
///
/// [`Error::Io`] or another file error if the data dir cannot be created, a key file cannot be read or written,
/// or the config file cannot be read, parsed or written. Nothing is half-written: each file is
/// replaced whole (the key first, then the config).
pub fn store_invite(files: &JoinFiles, invite: &Invite, replace: bool) -> Result<KeyChange, Error> {
    files.data_dir.ensure_exists()?;
    let path = files.data_dir.swarm_key();
    let change = match load_network_key(&path)? {
        Some(existing) if existing == invite.network_key => KeyChange::Unchanged,
        Some(existing) if replace => KeyChange::Replaced {
            backup: replace_network_key(&path, &invite.network_key)?,
            previous: existing.fingerprint(),
        },
        Some(existing) => {
            return Ok(KeyChange::OtherNetwork {
                stored: existing.fingerprint(),
            });
        }
        None => {
            create_network_key(&path, &invite.network_key)?;
            KeyChange::Created
        }
    };
    set_bootstrap_in_config(&files.config, &invite.addrs)?;
    Ok(change)
}

#[cfg(test)]
mod tests {
    use crate::NetworkKey;
    use libp2p::{Multiaddr, PeerId};

    use super::*;

    fn invite(key: &NetworkKey) -> Invite {
        let addr: Multiaddr = format!("/ip4/192.0.2.7/tcp/4001/p2p/{}", PeerId::random())
            .parse()
            .expect("a valid address");
        Invite::new(key.clone(), vec![addr]).expect("a valid invite")
    }

    fn files(dir: &tempfile::TempDir) -> JoinFiles {
        JoinFiles {
            data_dir: DataDir::new(dir.path().join("data")),
            config: dir.path().join("data").join("kith.toml"),
        }
    }

    fn bootstrap(files: &JoinFiles) -> String {
        std::fs::read_to_string(&files.config).unwrap_or_default()
    }

    #[test]
    fn a_first_invite_creates_the_key_and_the_bootstrap_list() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = files(&dir);
        let key = NetworkKey::generate();
        let code = invite(&key);
        assert_eq!(
            store_invite(&files, &code, false).expect("stored"),
            KeyChange::Created
        );
        let stored = load_network_key(&files.data_dir.swarm_key()).expect("readable");
        assert_eq!(stored, Some(key.clone()));
        let config = bootstrap(&files);
        assert!(config.contains(&code.addrs[0].to_string()), "{config}");

        // The same invite again: the key stays, the address is not listed twice.
        assert_eq!(
            store_invite(&files, &code, false).expect("stored"),
            KeyChange::Unchanged
        );
        assert_eq!(
            bootstrap(&files)
                .matches(&code.addrs[0].to_string())
                .count(),
            1
        );
    }

    #[test]
    fn another_networks_key_is_replaced_only_when_asked_and_kept_as_a_backup() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = files(&dir);
        let ours = NetworkKey::generate();
        store_invite(&files, &invite(&ours), false).expect("stored");
        let config_before = bootstrap(&files);

        let theirs = NetworkKey::generate();
        let code = invite(&theirs);
        assert_eq!(
            store_invite(&files, &code, false).expect("refused, not failed"),
            KeyChange::OtherNetwork {
                stored: ours.fingerprint()
            }
        );
        let path = files.data_dir.swarm_key();
        assert_eq!(
            load_network_key(&path).expect("readable"),
            Some(ours.clone())
        );
        assert_eq!(bootstrap(&files), config_before, "nothing written");

        let change = store_invite(&files, &code, true).expect("replaced");
        let KeyChange::Replaced { previous, backup } = change else {
            panic!("expected a replacement, got {change:?}");
        };
        assert_eq!(previous, ours.fingerprint());
        assert_eq!(load_network_key(&path).expect("readable"), Some(theirs));
        assert_eq!(load_network_key(&backup).expect("readable"), Some(ours));
        assert!(bootstrap(&files).contains(&code.addrs[0].to_string()));
    }
}
