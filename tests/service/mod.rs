//! Running Kith on a home server as a service: what a service's log keeps — the banner on a
//! pipe, the logs — holds no secrets.

use std::path::PathBuf;

// The banner on a pipe and on a terminal.
mod banner;

/// `program` as found on `PATH`, if it is there.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
