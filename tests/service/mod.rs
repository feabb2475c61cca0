//! Running Kith on a home server as a service: the files in `contrib/` and the `Dockerfile` are
//! checked with the tools this machine has (each test says what it could not check and why), and
//! what a service's log keeps — the banner on a pipe, the logs — holds no secrets.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use tokio::{process::Command, time::timeout};

// `contrib/systemd/kith.service`: `systemd-analyze verify` and `security`.
mod systemd;
// The `Dockerfile`, `.dockerignore`, the compose example and the container's health check.
mod container;
// The banner on a pipe and on a terminal.
mod banner;

/// A file of the repository, by its path from the root.
fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The contents of a file of the repository.
fn read_repo_file(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// `program` as found on `PATH`, if it is there.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs `program args` to completion with nothing on stdin; fails after `limit`.
async fn run_tool(program: &Path, args: &[&str], limit: Duration) -> Output {
    let what = format!("{} {}", program.display(), args.join(" "));
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match timeout(limit, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("running `{what}`: {e}"),
        Err(_) => panic!("`{what}` did not finish within {limit:?}"),
    }
}

/// Standard output and standard error of `output`, for failure messages.
fn both_streams(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
