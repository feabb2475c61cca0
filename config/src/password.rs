//! The owner's UI password: set with `kith passwd`, checked when the browser logs in.
//!
//! Only an Argon2id hash is stored, as a PHC string (`$argon2id$v=19$m=...$salt$hash`), in
//! `<data-dir>/ui.password` with mode 0600. The running node reads the file at every login
//! attempt, so a password set or changed while the node runs takes effect at once. Without the
//! file there is no password login (the one-time login links still work), and the node refuses
//! to serve its API beyond the loopback interface.

use std::path::Path;

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::Error;
use crate::fsutil::{PRIVATE_MODE, read_private, rename_into_place, write_temp};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (Argon2 takes any length; this bounds the work per attempt).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Hashes `password` and writes it to `path` (0600), replacing any password set before. The new
/// file is fsynced and renamed into place: after a crash `path` holds the old or the new hash.
///
/// # Errors
///
/// [`Error::Password`] if the password is too short or too long; [`Error::Io`] if the file
/// could not be written.
pub fn set_password(path: &Path, password: &str) -> Result<(), Error> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::Password(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::Password(format!(
            "a password may have at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::Password(format!("encoding the salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Password(format!("hashing the password: {e}")))?
        .to_string();
    let contents = Zeroizing::new(format!("{hash}\n"));
    let tmp = write_temp(path, contents.as_bytes(), PRIVATE_MODE)?;
    rename_into_place(tmp, path)
}

/// Whether a password is set (the file exists).
///
/// # Errors
///
/// [`Error::Io`] if the file exists but cannot be read.
pub fn password_is_set(path: &Path) -> Result<bool, Error> {
    Ok(read_private(path)?.is_some())
}

/// Checks `candidate` against the stored hash: `Ok(None)` if no password is set,
/// `Ok(Some(matches))` otherwise. Takes tens of milliseconds (that is the point of Argon2):
/// call it off the async runtime's worker threads.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, [`Error::CorruptKey`] if it holds no valid hash.
pub fn verify_password(path: &Path, candidate: &str) -> Result<Option<bool>, Error> {
    let Some(contents) = read_private(path)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&contents)
        .map_err(|_| Error::corrupt(path, "the password file is not UTF-8"))?
        .trim();
    let hash = PasswordHash::new(text).map_err(|e| {
        Error::corrupt(
            path,
            format!("not a password hash ({e}); set a new password with `kith passwd`"),
        )
    })?;
    Ok(Some(
        Argon2::default()
            .verify_password(candidate.as_bytes(), &hash)
            .is_ok(),
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn set_then_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui.password");
        assert_eq!(verify_password(&path, "whatever1").unwrap(), None);
        assert!(!password_is_set(&path).unwrap());

        set_password(&path, "correct horse").unwrap();
        assert!(password_is_set(&path).unwrap());
        assert_eq!(verify_password(&path, "correct horse").unwrap(), Some(true));
        assert_eq!(verify_password(&path, "correct hors").unwrap(), Some(false));
        assert_eq!(verify_password(&path, "").unwrap(), Some(false));

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
    }

    #[test]
    fn a_new_password_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui.password");
        set_password(&path, "first password").unwrap();
        set_password(&path, "second password").unwrap();
        assert_eq!(
            verify_password(&path, "first password").unwrap(),
            Some(false)
        );
        assert_eq!(
            verify_password(&path, "second password").unwrap(),
            Some(true)
        );
    }

    #[test]
    fn too_short_and_too_long_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui.password");
        assert!(matches!(
            set_password(&path, "short"),
            Err(Error::Password(_))
        ));
        let long = "x".repeat(MAX_PASSWORD_CHARS + 1);
        assert!(matches!(
            set_password(&path, &long),
            Err(Error::Password(_))
        ));
        assert!(!password_is_set(&path).unwrap());
    }

    #[test]
    fn a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui.password");
        std::fs::write(&path, "not a hash").unwrap();
        let error = verify_password(&path, "anything").unwrap_err();
        assert!(error.to_string().contains("ui.password"), "{error}");
    }
}
