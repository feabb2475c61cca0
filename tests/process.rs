//! Harness for tests that run the `kith` binary as a child process, the way its owner does.
//!
//! [`KithProcess::start`] spawns `kith run`, reads stdout until the start-up banner is complete
//! and parses it, so a test gets the peer id, API URL and listen addresses the binary printed;
//! stdout is a pipe there, so the banner holds no login link and no invite, which
//! [`KithProcess::login_link`] and [`KithProcess::invite`] ask the running node for
//! ([`KithProcess::start_on_terminal`] gives the node a terminal, and the banner has both). Standard
//! error is drained line by line into a buffer behind a `watch` channel; [`KithProcess::wait_for_log`]
//! is woken per line, never polls. [`KithProcess::terminate`] sends SIGTERM and waits for the exit
//! status. [`run_cli`] runs one-shot commands (`status`, `invite`, `join`, ...).
//!
//! Every wait is bounded and fails with what the process wrote to stderr so far, because that is
//! what one needs to see when a test against a whole binary fails.

#![allow(dead_code)] // cli and mdns use different parts of the harness

use std::{
    collections::HashMap,
    ffi::OsString,
    path::{Path, PathBuf},
    process::{ExitStatus, Output, Stdio},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::watch,
    time::{Instant, timeout, timeout_at},
};

/// The binary under test, built by cargo for this test target.
pub const KITH: &str = env!("CARGO_BIN_EXE_kith");

/// Upper bound for the node to print its banner.
pub const BANNER_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for a one-shot command.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for a node to exit after SIGTERM.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The arguments every root-namespace node gets: loopback only, ephemeral ports, no multicast.
pub fn loopback_args() -> Vec<String> {
    [
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--api",
        "127.0.0.1:0",
        "--mdns",
        "false",
    ]
    .map(String::from)
    .to_vec()
}

/// What `kith run` prints on stdout once it is ready.
#[derive(Debug, Clone)]
pub struct Banner {
    pub peer_id: String,
    pub role: String,
    pub network: String,
    /// `http://127.0.0.1:<port>`.
    pub api: String,
    /// Path of the `api.token` file.
    pub token_path: PathBuf,
    /// The one-time login link to the web UI: only when stdout is a terminal.
    pub login: Option<String>,
    /// The invite code: only when stdout is a terminal.
    pub invite: Option<String>,
    pub listen: Vec<String>,
}

impl Banner {
    /// The banner's fields, parsed from `  key:  value` lines. `None` until every field is there.
    fn parse(fields: &HashMap<String, String>) -> Option<Banner> {
        let get = |key: &str| fields.get(key).cloned();
        let token = get("token")?;
        Some(Banner {
            peer_id: get("peer id")?,
            role: get("role")?,
            network: get("network")?,
            api: get("api")?,
            // "<path> (use it as a Bearer token)"
            token_path: PathBuf::from(token.split(" (").next().unwrap_or(&token)),
            // "<url> (opens the web UI; …)"
            login: get("login").and_then(|login| Some(login.split(" (").next()?.to_owned())),
            invite: get("invite"),
            listen: get("listen")?
                .split_whitespace()
                .map(String::from)
                .collect(),
        })
    }

    /// The first listen address with `/p2p/<peer id>` appended.
    pub fn dial_addr(&self) -> String {
        format!("{}/p2p/{}", self.plain_addr(), self.peer_id)
    }

    /// The first listen address, without a peer id.
    pub fn plain_addr(&self) -> String {
        let addr = self
            .listen
            .first()
            .expect("the banner parser requires a listen line");
        match addr.split_once("/p2p/") {
            Some((plain, _)) => plain.to_owned(),
            None => addr.clone(),
        }
    }
}

/// Lines read so far from one of the child's pipes, and whether the pipe is closed.
#[derive(Debug, Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// Reads `pipe` line by line into a watch channel until EOF; every line wakes the waiters.
fn drain(pipe: impl AsyncRead + Unpin + Send + 'static) -> watch::Receiver<Lines> {
    let (tx, rx) = watch::channel(Lines::default());
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_owned();
                    tx.send_modify(|state| state.lines.push(line));
                }
            }
        }
        tx.send_modify(|state| state.closed = true);
    });
    rx
}

/// A running `kith run`, killed (SIGKILL) if dropped before [`KithProcess::terminate`].
pub struct KithProcess {
    child: Child,
    pid: u32,
    pub banner: Banner,
    pub data_dir: PathBuf,
    stdout: watch::Receiver<Lines>,
    stderr: watch::Receiver<Lines>,
}

impl KithProcess {
    /// `kith --data-dir <data_dir> run <args>`, waiting for the banner.
    pub async fn start(args: &[String], data_dir: &Path) -> KithProcess {
        KithProcess::start_with(&[], args, data_dir).await
    }

    /// Like [`start`](Self::start), with stdout on a pseudo-terminal, as when its owner starts
    /// it by hand: util-linux `script` runs the node on one and copies what it prints to our
    /// pipe. The pid is `script`'s; SIGTERM to it reaches the node (`script` passes it on).
    pub async fn start_on_terminal(args: &[String], data_dir: &Path) -> KithProcess {
        let mut line = vec![KITH.to_owned(), "--data-dir".into()];
        line.push(
            data_dir
                .to_str()
                .expect("a UTF-8 temporary path")
                .to_owned(),
        );
        line.push("run".into());
        line.extend(args.iter().cloned());
        let line: Vec<String> = line.iter().map(|word| shell_quote(word)).collect();
        let command = format!("exec {}", line.join(" "));
        // -q: no "Script started" lines; -e: its exit status is the node's; -c: the command.
        let prefix = ["script", "-qec", command.as_str(), "/dev/null"];
        KithProcess::spawn(kith_command_line(&prefix, &[]), args, data_dir).await
    }

    /// Like [`start`](Self::start), behind a `prefix` command that ends by exec'ing the binary
    /// (e.g. `ip netns exec <ns>`), so the child's pid is the node's pid.
    pub async fn start_with(prefix: &[&str], args: &[String], data_dir: &Path) -> KithProcess {
        let mut command = kith_command(prefix, data_dir);
        command.arg("run").args(args);
        KithProcess::spawn(command, args, data_dir).await
    }

    /// Spawns `command` (a `kith run` with `args`) and waits for its banner.
    async fn spawn(mut command: Command, args: &[String], data_dir: &Path) -> KithProcess {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {KITH}: {e}"));
        let pid = child
            .id()
            .expect("a child that was just spawned has not been reaped");
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));
        let banner = read_banner(&mut child, stdout.clone(), &stderr, args).await;
        KithProcess {
            child,
            pid,
            banner,
            data_dir: data_dir.to_owned(),
            stdout,
            stderr,
        }
    }

    pub fn peer_id(&self) -> &str {
        &self.banner.peer_id
    }

    /// A new one-time login link, from `kith login` (the banner has none on a pipe).
    pub async fn login_link(&self) -> String {
        cli_ok(&self.data_dir, &["login"]).await.trim().to_owned()
    }

    /// This node's invite code, from `kith invite` (the banner has none on a pipe).
    pub async fn invite(&self) -> String {
        cli_ok(&self.data_dir, &["invite"]).await.trim().to_owned()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.borrow().lines.join("\n")
    }

    /// Everything written to stdout so far (the banner and anything after it).
    pub fn stdout(&self) -> String {
        self.stdout.borrow().lines.join("\n")
    }

    /// Waits until a stderr line (already written or still to come) satisfies `predicate` and
    /// returns it. Fails after `limit`, or at once if stderr closes, with `what` and the stderr.
    pub async fn wait_for_log(
        &self,
        what: &str,
        limit: Duration,
        mut predicate: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        let mut rx = self.stderr.clone();
        let mut next = 0;
        loop {
            {
                let state = rx.borrow_and_update();
                if let Some(line) = state.lines[next..].iter().find(|line| predicate(line)) {
                    return line.clone();
                }
                next = state.lines.len();
                if state.closed {
                    panic!(
                        "kith exited before logging {what}; stderr:\n{}",
                        state.lines.join("\n")
                    );
                }
            }
            match timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                // The sender is dropped only after the final `closed` update, seen above.
                Ok(Err(_)) => panic!(
                    "kith's stderr reader stopped before logging {what}:\n{}",
                    self.stderr()
                ),
                Err(_) => panic!(
                    "no log line saying {what} within {limit:?}; stderr:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for the log event `message` whose fields include every `(key, value)` of `fields`
    /// (the node must run with `--log-format json`) and returns its fields.
    pub async fn wait_for_event(
        &self,
        message: &str,
        fields: &[(&str, &str)],
        limit: Duration,
    ) -> HashMap<String, String> {
        self.wait_for_nth_event(message, fields, 1, limit).await
    }

    /// Like [`wait_for_event`](Self::wait_for_event), for the `n`-th such event since the
    /// process started (e.g. the second reservation, after a relay restarted).
    pub async fn wait_for_nth_event(
        &self,
        message: &str,
        fields: &[(&str, &str)],
        n: usize,
        limit: Duration,
    ) -> HashMap<String, String> {
        let what = format!("`{message}` with {fields:?} (occurrence {n})");
        let mut seen = 0;
        let matches = |line: &str| {
            let hit = LogEvent::parse(line).is_some_and(|event| {
                event.message == message
                    && fields
                        .iter()
                        .all(|(k, v)| event.fields.get(*k).is_some_and(|have| have == v))
            });
            seen += usize::from(hit);
            hit && seen == n
        };
        let line = self.wait_for_log(&what, limit, matches).await;
        LogEvent::parse(&line)
            .expect("the line matched, so it parses")
            .fields
    }

    /// Sends SIGTERM and waits for the process to exit. Kills it and fails if it takes longer than
    /// [`EXIT_TIMEOUT`].
    pub async fn terminate(self) -> ExitStatus {
        self.terminate_within(EXIT_TIMEOUT).await
    }

    /// Sends SIGTERM and waits for the process to exit. Kills it and fails if it takes longer than
    /// `limit`.
    pub async fn terminate_within(mut self, limit: Duration) -> ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running kill: {e}"));
        assert!(sent.success(), "kill -TERM {} failed: {sent}", self.pid);
        self.wait_exit(limit).await
    }

    /// Kills the process with SIGKILL (no chance to flush or clean up) and reaps it.
    pub async fn kill(mut self) {
        self.child
            .kill()
            .await
            .unwrap_or_else(|e| panic!("kill -9 {}: {e}", self.pid));
    }

    /// Waits for the process to exit on its own; kills it and fails after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        match timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for kith to exit: {e}"),
            Err(_) => {
                let _ = self.child.start_kill();
                panic!(
                    "kith did not exit within {limit:?}; stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }
}

/// `[prefix...] kith --data-dir <data_dir>`, with logs at the default level and no colours.
fn kith_command(prefix: &[&str], data_dir: &Path) -> Command {
    let kith: [OsString; 3] = [KITH.into(), "--data-dir".into(), data_dir.into()];
    kith_command_line(prefix, &kith)
}

/// `[prefix...] [kith...]` in an environment with no `KITH_*` settings, logs at the default
/// level and no colours.
fn kith_command_line(prefix: &[&str], kith: &[OsString]) -> Command {
    let mut argv: Vec<OsString> = prefix.iter().map(OsString::from).collect();
    argv.extend(kith.iter().cloned());
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    // The test environment must not leak settings into the node under test.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KITH_") {
            command.env_remove(&key);
        }
    }
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    command
}

/// `word` as one word for `sh`: single-quoted unless it is plainly safe.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@=".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Reads stdout until the banner is complete. Fails, with the stderr so far, if the process exits
/// first or the banner takes longer than [`BANNER_TIMEOUT`].
async fn read_banner(
    child: &mut Child,
    mut stdout: watch::Receiver<Lines>,
    stderr: &watch::Receiver<Lines>,
    args: &[String],
) -> Banner {
    let deadline = Instant::now() + BANNER_TIMEOUT;
    loop {
        let closed = {
            let state = stdout.borrow_and_update();
            let fields: HashMap<String, String> = state
                .lines
                .iter()
                .filter_map(|line| line.split_once(':'))
                .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
                .collect();
            if let Some(banner) = Banner::parse(&fields) {
                return banner;
            }
            state.closed
        };
        if closed {
            // Give the process a moment to exit so its status and last words can be reported.
            let status = timeout(EXIT_TIMEOUT, child.wait()).await;
            let mut stderr = stderr.clone();
            let _ = timeout(EXIT_TIMEOUT, stderr.wait_for(|s| s.closed)).await;
            panic!(
                "`kith run {}` closed stdout before printing its banner (exit: {status:?})\nstdout:\n{}\nstderr:\n{}",
                args.join(" "),
                stdout.borrow().lines.join("\n"),
                stderr.borrow().lines.join("\n"),
            );
        }
        if timeout_at(deadline, stdout.changed()).await.is_err() {
            let _ = child.start_kill();
            panic!(
                "`kith run {}` printed no complete banner within {BANNER_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                args.join(" "),
                stdout.borrow().lines.join("\n"),
                stderr.borrow().lines.join("\n"),
            );
        }
    }
}

/// `kith --data-dir <data_dir> <args>`, to completion (bounded by [`CLI_TIMEOUT`]).
pub async fn run_cli(data_dir: &Path, args: &[&str]) -> Output {
    run_cli_with(&[], data_dir, args, CLI_TIMEOUT).await
}

/// `[prefix...] kith --data-dir <data_dir> <args>`, to completion; fails after `limit`.
pub async fn run_cli_with(
    prefix: &[&str],
    data_dir: &Path,
    args: &[&str],
    limit: Duration,
) -> Output {
    let mut command = kith_command(prefix, data_dir);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    match timeout(limit, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("running kith {}: {e}", args.join(" ")),
        Err(_) => panic!("`kith {}` did not finish within {limit:?}", args.join(" ")),
    }
}

/// `kith --data-dir <data_dir> <args>` with `input` on its stdin, to completion.
pub async fn run_cli_input(data_dir: &Path, args: &[&str], input: &str) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut command = kith_command(&[], data_dir);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("running kith {}: {e}", args.join(" ")));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("writing stdin");
    drop(stdin);
    match timeout(CLI_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("running kith {}: {e}", args.join(" ")),
        Err(_) => panic!(
            "`kith {}` did not finish within {CLI_TIMEOUT:?}",
            args.join(" ")
        ),
    }
}

/// Runs `kith <args>` and returns its stdout, failing with its stderr unless it succeeds.
pub async fn cli_ok(data_dir: &Path, args: &[&str]) -> String {
    let output = run_cli(data_dir, args).await;
    assert_success(&output, &args.join(" "));
    String::from_utf8(output.stdout).expect("kith prints UTF-8")
}

/// Fails with the command's stdout and stderr unless it exited with 0.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "`kith {what}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// One structured log line: its message and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub message: String,
    pub fields: HashMap<String, String>,
}

impl LogEvent {
    /// Parses a `--log-format json` line: tracing-subscriber's JSON, with the message and the
    /// other fields under `fields` or flattened into the object. `None` for anything else.
    pub fn parse(line: &str) -> Option<LogEvent> {
        let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        let object = value.as_object()?;
        let fields = object
            .get("fields")
            .and_then(|f| f.as_object())
            .unwrap_or(object);
        let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        let message = fields.get("message").map(text)?;
        let fields = fields
            .iter()
            .filter(|(k, _)| *k != "message")
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        Some(LogEvent { message, fields })
    }
}

#[test]
fn json_log_lines_parse() {
    let json = r#"{"timestamp":"2025-01-01T00:00:00Z","level":"INFO","fields":{"message":"peer verified","peer":"12D3KooWA","source":"mdns","role":"member"},"target":"kith_node::discovery"}"#;
    let event = LogEvent::parse(json).expect("a JSON event");
    assert_eq!(event.message, "peer verified");
    assert_eq!(event.fields.get("source").map(String::as_str), Some("mdns"));

    let flat =
        r#"{"level":"INFO","message":"peer verified","peer":"12D3KooWA","source":"bootstrap"}"#;
    let event = LogEvent::parse(flat).expect("a flattened JSON event");
    assert_eq!(event.message, "peer verified");
    assert_eq!(
        event.fields.get("peer").map(String::as_str),
        Some("12D3KooWA")
    );

    assert_eq!(
        LogEvent::parse("2025-01-01T00:00:00Z  INFO kith: peer verified peer=x"),
        None
    );
}
