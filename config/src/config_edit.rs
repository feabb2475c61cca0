//! Programmatic edits of `kith.toml` that keep what the user wrote.
//!
//! `kith join` stores the invite's bootstrap peers in the config file. The user may have
//! commented or arranged that file by hand, so it is edited with `toml_edit`, which keeps
//! comments, order and formatting, and written back atomically (temporary file, fsync, rename)
//! with the file's previous permissions.

use std::{fs, io, path::Path};

use libp2p::Multiaddr;
use toml_edit::{Array, DocumentMut, Item, Value};

use crate::{
    Error,
    fsutil::{existing_permissions, rename_into_place, write_temp},
};

/// Mode of a newly created config file (not secret; the umask applies).
const CONFIG_MODE: u32 = 0o644;

/// Adds `addrs` to the `bootstrap` array of the config file at `config_path`, skipping addresses
/// already there, and creates the file if it does not exist. Other keys and comments are kept.
///
/// The file's directory must exist. If `config_path` is a symlink, its target is edited.
pub fn set_bootstrap_in_config(config_path: &Path, addrs: &[Multiaddr]) -> Result<(), Error> {
    let path = match fs::symlink_metadata(config_path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(config_path).map_err(|e| Error::io(config_path, e))?
        }
        _ => config_path.to_path_buf(),
    };
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut doc: DocumentMut = text.parse().map_err(|source| Error::ConfigEdit {
        path: path.clone(),
        source,
    })?;

    let item = doc
        .as_table_mut()
        .entry("bootstrap")
        .or_insert_with(|| Item::Value(Value::Array(Array::new())));
    let Some(array) = item.as_array_mut() else {
        return Err(Error::setting(
            "bootstrap",
            format!("in {} it is not an array of addresses", path.display()),
        ));
    };
    let added = add_addrs(array, addrs);
    if added == 0 && !text.is_empty() {
        return Ok(());
    }

    let permissions = existing_permissions(&path)?;
    let tmp = write_temp(&path, doc.to_string().as_bytes(), CONFIG_MODE)?;
    if let Some(permissions) = permissions {
        fs::set_permissions(tmp.path(), permissions).map_err(|e| Error::io(&path, e))?;
    }
    rename_into_place(tmp, &path)
}

/// Appends the addresses `array` lacks, one per line, and returns how many were added.
fn add_addrs(array: &mut Array, addrs: &[Multiaddr]) -> usize {
    let mut present: Vec<String> = array
        .iter()
        .filter_map(|value| value.as_str())
        .map(canonical)
        .collect();
    // A new or empty array is laid out one address per line; an existing one keeps its style.
    let multi_line = array.is_empty()
        || array.iter().any(|value| {
            value
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .is_some_and(|p| p.contains('\n'))
        });
    let mut added = 0;
    for addr in addrs {
        let text = addr.to_string();
        if present.contains(&text) {
            continue;
        }
        let mut value = Value::from(text.clone());
        let prefix = if multi_line {
            "\n    "
        } else if array.is_empty() {
            ""
        } else {
            " "
        };
        value.decor_mut().set_prefix(prefix);
        value.decor_mut().set_suffix("");
        array.push_formatted(value);
        present.push(text);
        added += 1;
    }
    if multi_line && added > 0 {
        array.set_trailing_comma(true);
        array.set_trailing("\n");
    }
    added
}

/// The form in which an address is compared: its canonical text if it parses, else as written.
fn canonical(text: &str) -> String {
    text.parse::<Multiaddr>()
        .map(|addr| addr.to_string())
        .unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::RawSettings;

    fn peer(seed: u8) -> libp2p::PeerId {
        libp2p::identity::Keypair::ed25519_from_bytes([seed; 32])
            .expect("32 bytes are a valid Ed25519 secret")
            .public()
            .to_peer_id()
    }

    fn a() -> Multiaddr {
        format!("/ip4/10.0.0.1/tcp/4001/p2p/{}", peer(1))
            .parse()
            .unwrap()
    }

    fn b() -> Multiaddr {
        format!("/dns4/b.example.org/tcp/4001/p2p/{}", peer(2))
            .parse()
            .unwrap()
    }

    fn bootstrap_of(path: &Path) -> Vec<Multiaddr> {
        let text = fs::read_to_string(path).unwrap();
        RawSettings::from_toml(&text, path)
            .unwrap()
            .bootstrap
            .unwrap_or_default()
    }

    #[test]
    fn creates_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kith.toml");
        set_bootstrap_in_config(&path, &[a(), b()]).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("bootstrap = [\n    \"{}\",\n    \"{}\",\n]\n", a(), b())
        );
        assert_eq!(bootstrap_of(&path), vec![a(), b()]);
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary file may be left behind");
    }

    #[test]
    fn keeps_comments_and_other_keys_and_dedups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kith.toml");
        let original = format!(
            "# my node\nrole = \"bootstrap\" # always on\n\nbootstrap = [\n    # the first peer\n    \"{}\",\n]\n\nmdns = false\n",
            a()
        );
        fs::write(&path, &original).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

        set_bootstrap_in_config(&path, &[a(), b(), b()]).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        for kept in [
            "# my node",
            "role = \"bootstrap\" # always on",
            "# the first peer",
            "mdns = false",
        ] {
            assert!(text.contains(kept), "lost {kept:?} in:\n{text}");
        }
        assert_eq!(bootstrap_of(&path), vec![a(), b()]);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // Adding the same addresses again changes nothing.
        set_bootstrap_in_config(&path, &[b(), a()]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn appends_to_a_single_line_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kith.toml");
        fs::write(&path, format!("bootstrap = [\"{}\"]\n", a())).unwrap();
        set_bootstrap_in_config(&path, &[b()]).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("bootstrap = [\"{}\", \"{}\"]\n", a(), b())
        );
    }

    #[test]
    fn rejects_invalid_toml_and_a_non_array_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kith.toml");
        fs::write(&path, "role = \n").unwrap();
        match set_bootstrap_in_config(&path, &[a()]) {
            Err(Error::ConfigEdit { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected ConfigEdit, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "role = \n");

        fs::write(&path, "bootstrap = \"x\"\n").unwrap();
        match set_bootstrap_in_config(&path, &[a()]) {
            Err(e @ Error::InvalidSetting { .. }) => {
                assert!(e.to_string().contains("bootstrap"));
                assert!(e.to_string().contains(&path.display().to_string()));
            }
            other => panic!("expected InvalidSetting, got {other:?}"),
        }
    }

    #[test]
    fn edits_the_target_of_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.toml");
        let link = dir.path().join("kith.toml");
        fs::write(&target, "mdns = true\n").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        set_bootstrap_in_config(&link, &[a()]).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(bootstrap_of(&target), vec![a()]);
    }
}
