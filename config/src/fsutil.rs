//! Crash-safe file writes shared by the key files and the config editor.
//!
//! Every write goes to a temporary file in the destination's directory first (created with its
//! final mode, so a secret is never readable by others even for an instant), is fsynced, and only
//! then gets its final name. Key files take the final name with a hard link, which fails when the
//! name exists: an existing key can never be replaced by accident, even by two processes racing.

use std::{
    fs::{self, File, OpenOptions, Permissions},
    io::{self, Read, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use rand::RngCore;
use zeroize::Zeroizing;

use crate::Error;

/// Mode of every secret file.
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// A temporary file that is removed on drop unless [`TempFile::keep`] was called.
pub(crate) struct TempFile {
    path: PathBuf,
    remove_on_drop: bool,
}

impl TempFile {
    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Forgets the file: it has been renamed into place.
    pub(crate) fn keep(mut self) {
        self.remove_on_drop = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.remove_on_drop {
            // Best effort: a leftover temp file is harmless (hidden, unique, never read).
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The directory `path` lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `contents` to a new hidden temporary file next to `dest`, created with `mode`, and
/// fsyncs it. Errors name `dest`, the file the caller asked for.
pub(crate) fn write_temp(dest: &Path, contents: &[u8], mode: u32) -> Result<TempFile, Error> {
    let name = dest.file_name().ok_or_else(|| {
        Error::io(
            dest,
            io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
        )
    })?;
    let mut suffix = [0u8; 6];
    rand::rng().fill_bytes(&mut suffix);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex::encode(suffix)));
    let tmp_path = parent_dir(dest).join(tmp_name);

    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp_path)
        .map_err(|e| Error::io(dest, e))?;
    let tmp = TempFile {
        path: tmp_path,
        remove_on_drop: true,
    };
    file.write_all(contents).map_err(|e| Error::io(dest, e))?;
    file.sync_all().map_err(|e| Error::io(dest, e))?;
    Ok(tmp)
}

/// Fsyncs a directory so that a rename or link in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Creates `dest` with `contents` and mode 0600, atomically, failing with
/// [`Error::KeyExists`] when `dest` exists (whatever it is, a dangling symlink included).
pub(crate) fn create_private_file(dest: &Path, contents: &[u8]) -> Result<(), Error> {
    let tmp = write_temp(dest, contents, PRIVATE_MODE)?;
    match fs::hard_link(tmp.path(), dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::KeyExists {
                path: dest.to_path_buf(),
            });
        }
        // Some filesystems (FAT, some network mounts) have no hard links. Creating the final name
        // exclusively still never replaces a file; only crash atomicity is lost, and a torn key
        // file is reported as corrupt on the next load, not silently regenerated.
        Err(_) => write_exclusive(dest, contents)?,
    }
    drop(tmp);
    sync_dir(parent_dir(dest))
}

fn write_exclusive(dest: &Path, contents: &[u8]) -> Result<(), Error> {
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(dest)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::KeyExists {
                path: dest.to_path_buf(),
            });
        }
        Err(e) => return Err(Error::io(dest, e)),
    };
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(dest, e))
}

/// Makes `backup` a second name of `path`'s file without replacing anything at `backup`. Returns
/// `Ok(false)` when `backup` is taken. On filesystems without hard links the file is renamed
/// instead (after checking that `backup` is free), so `path` may be briefly absent.
pub(crate) fn link_or_move_no_replace(path: &Path, backup: &Path) -> Result<bool, Error> {
    match fs::hard_link(path, backup) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => match fs::symlink_metadata(backup) {
            Ok(_) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(path, backup).map_err(|e| Error::io(path, e))?;
                Ok(true)
            }
            Err(e) => Err(Error::io(backup, e)),
        },
    }
}

/// Replaces `dest` by a temporary file written with [`write_temp`], atomically.
pub(crate) fn rename_into_place(tmp: TempFile, dest: &Path) -> Result<(), Error> {
    fs::rename(tmp.path(), dest).map_err(|e| Error::io(dest, e))?;
    tmp.keep();
    sync_dir(parent_dir(dest))
}

/// Largest file [`read_private`] accepts; key files are well under 1 KiB.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// Reads a small secret file into zeroized memory. A missing file is `Ok(None)`; a file larger
/// than any key file is reported as corrupt rather than read.
pub(crate) fn read_private(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    // Reserve once so that no reallocation leaves copies of the secret in freed memory.
    let limit = MAX_KEY_FILE + 1;
    let mut buf = Zeroizing::new(Vec::with_capacity(limit as usize));
    file.take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(Error::corrupt(
            path,
            format!("the file is larger than {MAX_KEY_FILE} bytes, far too large for a key"),
        ));
    }
    Ok(Some(buf))
}

/// The permissions `path` has now, to carry them over to a rewritten file.
pub(crate) fn existing_permissions(path: &Path) -> Result<Option<Permissions>, Error> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(meta.permissions())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}
