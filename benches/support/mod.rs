//! What the social-core benchmarks (issue 3: `ingest`, `timeline`, `propagation`, `catchup`)
//! share: the machine line, percentiles, the text of a typical post, a `kith run` child process
//! with its parsed banner, a lean keep-alive HTTP/1.1 client for the measured request loops, and
//! a reader of the server-sent event stream.
//!
//! Why a hand-written HTTP client: the load generator runs on the same two cores as the node it
//! measures, so every microsecond it spends per request is taken from the node. This client
//! writes one request, reads the head and a `Content-Length` body from its own buffer, and never
//! hops between tasks (reqwest/hyper hand each request to a per-connection task). It speaks just
//! enough HTTP/1.1 for the JSON endpoints of the Kith API and refuses anything else (a chunked
//! body, a closed connection) with an error instead of guessing. The event stream, which is
//! chunked and long-lived, is read with reqwest.

#![allow(dead_code)] // each bench binary uses a different part of this module

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
    time::timeout,
};

/// The arguments of every benchmarked `kith run`: loopback only, ephemeral ports, no mDNS.
pub const LOOPBACK_ARGS: [&str; 6] = [
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
    "--api",
    "127.0.0.1:0",
    "--mdns",
    "false",
];

/// Errors of the benches are messages: a bench prints it and exits non-zero.
pub type Result<T, E = String> = std::result::Result<T, E>;

/// Upper bound for a `kith run` to print its banner.
pub const BANNER_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for a `kith run` to exit after SIGTERM.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// Upper bound of one HTTP exchange of the lean client.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response head the lean client accepts.
const MAX_HEAD: usize = 64 * 1024;

/// Whether this run should measure. `cargo bench` passes `--bench`; `cargo test --benches` (or
/// `--all-targets`) runs the bench binaries without it, and such a run must neither take minutes
/// nor need a release build, so the bench then only says what it skipped.
pub fn measuring(name: &str) -> bool {
    if std::env::args().any(|arg| arg == "--bench") {
        true
    } else {
        println!("{name}: not measuring outside `cargo bench` (run `cargo bench --bench {name}`)");
        false
    }
}

/// Runs a bench's `body` on a tokio runtime with the default worker count (one per core) and
/// exits non-zero with its error message if it fails.
pub fn run_main<F>(name: &str, body: impl FnOnce() -> F)
where
    F: Future<Output = Result<()>>,
{
    if !measuring(name) {
        return;
    }
    let outcome = tokio::runtime::Runtime::new()
        .map_err(|e| format!("building a tokio runtime: {e}"))
        .and_then(|runtime| runtime.block_on(body()));
    if let Err(error) = outcome {
        eprintln!("{name} bench failed: {error}");
        std::process::exit(1);
    }
}

/// The release binary under test: `$KITH_BIN`, or `target/release/kith` under the workspace.
pub fn kith_binary() -> Result<PathBuf> {
    let bin = std::env::var_os("KITH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release/kith"));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} does not exist: run `cargo build --release` first or set KITH_BIN",
            bin.display()
        ))
    }
}

/// Cargo's target directory (`$CARGO_TARGET_DIR`, or `target/` under the workspace root).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// A number from the environment, or `default` when it is unset.
///
/// # Errors
///
/// The variable is set but is not a number.
pub fn env_number(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("{name}={value:?} is not a whole number")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(error) => Err(format!("reading {name}: {error}")),
    }
}

/// Prints the machine the numbers come from, and the load right now.
pub fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned());
    println!("Machine: {cpu}, {cores} cores, {memory} RAM, Linux {kernel}");
    println!("Load average at start: {}\n", load_average());
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The text of post number `n`: about 140 characters, like a typical short post, and unique, so
/// that no two posts of a run are the same object.
pub fn post_text(n: u64) -> String {
    format!(
        "Post {n:>8}: the quick brown fox jumps over the lazy dog while the kettle boils; \
         a line of ordinary length for a benchmark of a social node."
    )
}

/// The text of post number `n` at exactly `bytes` bytes (ASCII): [`post_text`] cut or padded
/// with words, for runs that need a given post size (issue 9's footprint run: 280 bytes).
pub fn post_text_of_len(n: u64, bytes: usize) -> String {
    let mut text = post_text(n);
    while text.len() < bytes {
        text.push_str(" and so on");
    }
    text.truncate(bytes);
    if text.ends_with(' ') {
        text.pop();
        text.push('.');
    }
    text
}

/// A post signed by a fresh identity with the text of [`post_text`]: the size of the objects
/// the benches write.
pub fn sample_post() -> Result<kith_protocols::SignedObject> {
    kith_protocols::SignedObject::create(
        &libp2p::identity::Keypair::generate_ed25519(),
        kith_node::now_ms(),
        kith_protocols::Content::Post(kith_protocols::PostContent::new(post_text(0))),
    )
    .map_err(|e| format!("signing a sample post: {e}"))
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Order statistics of a set of values (milliseconds unless said otherwise), nearest rank.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    /// Statistics of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Some(Percentiles {
            count: sorted.len(),
            min: sorted[0],
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }

    /// Statistics of durations, in milliseconds.
    pub fn of_durations(values: &[Duration]) -> Option<Percentiles> {
        Percentiles::of(&values.iter().map(|d| ms(*d)).collect::<Vec<_>>())
    }
}

/// "met" or "MISSED".
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The lines of the `kith run` start-up banner the benches need.
#[derive(Debug, Clone)]
pub struct Banner {
    pub peer_id: String,
    pub api: SocketAddr,
    pub token_path: PathBuf,
    pub listen: Vec<String>,
}

impl Banner {
    /// The first listen address with `/p2p/<peer id>`: what `--bootstrap` takes.
    pub fn dial_addr(&self) -> String {
        let first = self.listen.first().map_or("", String::as_str);
        match first.split_once("/p2p/") {
            Some(_) => first.to_owned(),
            None => format!("{first}/p2p/{}", self.peer_id),
        }
    }
}

/// Banner fields seen so far; `Banner` once the last line (`listen:`) is there.
#[derive(Default)]
struct BannerLines {
    peer_id: Option<String>,
    api: Option<SocketAddr>,
    token_path: Option<PathBuf>,
}

impl BannerLines {
    /// Takes one stdout line; returns the banner when `line` completed it.
    fn take(&mut self, line: &str) -> Result<Option<Banner>> {
        let Some((key, value)) = line.trim().split_once(':') else {
            return Ok(None);
        };
        let value = value.trim();
        match key {
            "peer id" => self.peer_id = Some(value.to_owned()),
            "api" => {
                let addr = value.strip_prefix("http://").unwrap_or(value);
                let addr = addr.trim_end_matches('/');
                self.api = Some(
                    addr.parse()
                        .map_err(|e| format!("banner line {line:?}: not an address: {e}"))?,
                );
            }
            // "<path> (use it as a Bearer token)"
            "token" => {
                self.token_path = Some(PathBuf::from(value.split(" (").next().unwrap_or(value)));
            }
            "listen" => {
                let listen: Vec<String> = value.split_whitespace().map(String::from).collect();
                return match (self.peer_id.take(), self.api.take(), self.token_path.take()) {
                    (Some(peer_id), Some(api), Some(token_path)) if !listen.is_empty() => {
                        Ok(Some(Banner {
                            peer_id,
                            api,
                            token_path,
                            listen,
                        }))
                    }
                    _ => Err(format!(
                        "the banner ended (at {line:?}) without a peer id, api, token or listen address"
                    )),
                };
            }
            _ => {}
        }
        Ok(None)
    }
}

/// A running `kith run` child process; killed (SIGKILL) if dropped before
/// [`KithProcess::terminate`].
pub struct KithProcess {
    child: Child,
    pid: u32,
    pub banner: Banner,
    /// The API token (from the file the banner names).
    pub token: String,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Every stderr line, when asked for with [`KithProcess::start_in`]'s `keep_log`.
    log: Option<Arc<Mutex<Vec<String>>>>,
}

impl KithProcess {
    /// Spawns `kith run --data-dir <data_dir> --listen /ip4/127.0.0.1/tcp/0 --api 127.0.0.1:0
    /// --mdns false <extra>` and returns once its banner is out. `KITH_*` variables of the
    /// bench's environment are not passed on (they would configure the node under test);
    /// `RUST_LOG` is, so that a bench can be run with the nodes' logs.
    pub async fn start(bin: &Path, data_dir: &Path, extra: &[String]) -> Result<KithProcess> {
        let args: Vec<String> = LOOPBACK_ARGS
            .iter()
            .map(|a| a.to_string())
            .chain(extra.iter().cloned())
            .collect();
        KithProcess::start_in(&[], bin, data_dir, &args, &[], false).await
    }

    /// Like [`start`](Self::start), behind a `prefix` that ends by exec'ing the binary (`ip
    /// netns exec <ns>`), with exactly `args` after `run` and `envs` set; with `keep_log`, every
    /// stderr line is kept for [`log`](Self::log).
    pub async fn start_in(
        prefix: &[&str],
        bin: &Path,
        data_dir: &Path,
        args: &[String],
        envs: &[(&str, &str)],
        keep_log: bool,
    ) -> Result<KithProcess> {
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(bin);
                command
            }
            None => Command::new(bin),
        };
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("run")
            .args(args)
            .envs(envs.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KITH_") {
                command.env_remove(&key);
            }
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
        let pid = child
            .id()
            .ok_or("a child that was just spawned has no pid")?;

        // Both pipes are drained for the whole life of the process, so that it never blocks on
        // a full pipe; stderr's last lines are kept for error messages.
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let log = keep_log.then(|| Arc::new(Mutex::new(Vec::new())));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(log) = &log {
                        log.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(line.clone());
                    }
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == 30 {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let stdout = child.stdout.take().ok_or("stdout is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let read_banner = async {
            let mut fields = BannerLines::default();
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(banner) = fields.take(&line)? {
                            return Ok(banner);
                        }
                    }
                    Ok(None) => return Err("stdout closed before the banner was complete".into()),
                    Err(e) => return Err(format!("reading stdout: {e}")),
                }
            }
        };
        let banner: Result<Banner> = match timeout(BANNER_TIMEOUT, read_banner).await {
            Ok(banner) => banner,
            Err(_) => Err(format!("no complete banner within {BANNER_TIMEOUT:?}")),
        };
        let banner = match banner {
            Ok(banner) => banner,
            Err(error) => {
                let _ = child.start_kill();
                return Err(format!(
                    "kith run in {}: {error}{}",
                    data_dir.display(),
                    tail_of(&stderr_tail)
                ));
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let token = std::fs::read_to_string(&banner.token_path)
            .map_err(|e| format!("reading {}: {e}", banner.token_path.display()))?
            .trim()
            .to_owned();
        Ok(KithProcess {
            child,
            pid,
            banner,
            token,
            stderr_tail,
            log,
        })
    }

    /// Every stderr line so far (empty unless started with `keep_log`).
    pub fn log(&self) -> Vec<String> {
        self.log.as_ref().map_or_else(Vec::new, |log| {
            log.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The node's HTTP API address.
    pub fn api(&self) -> SocketAddr {
        self.banner.api
    }

    /// A new keep-alive connection to the node's API.
    pub async fn connect(&self) -> Result<ApiConnection> {
        ApiConnection::open(self.api(), &self.token).await
    }

    /// The last lines the node wrote to stderr, for error messages.
    pub fn tail(&self) -> String {
        tail_of(&self.stderr_tail)
    }

    /// Sends SIGTERM and waits for a clean exit (status 0).
    pub async fn terminate(mut self) -> Result<()> {
        let pid = self.pid.to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| format!("running kill -TERM {pid}: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {pid} failed: {sent}"));
        }
        match timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!(
                "node {pid} exited with {status} after SIGTERM{}",
                self.tail()
            )),
            Ok(Err(e)) => Err(format!("waiting for node {pid}: {e}")),
            Err(_) => Err(format!(
                "node {pid} did not exit within {EXIT_TIMEOUT:?} of SIGTERM{}",
                self.tail()
            )),
        }
    }
}

fn tail_of(lines: &Mutex<VecDeque<String>>) -> String {
    let lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
    if lines.is_empty() {
        String::new()
    } else {
        format!(
            "; its last log lines:\n{}",
            Vec::from(lines.clone()).join("\n")
        )
    }
}

/// One HTTP response of the lean client.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON, or an error that shows the status and the body.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "status {} with a body that is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `Ok` if the status is `expected`, else an error with the body.
    pub fn expect(&self, expected: u16, what: &str) -> Result<()> {
        if self.status == expected {
            Ok(())
        } else {
            Err(format!(
                "{what}: status {} instead of {expected}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ))
        }
    }
}

/// A keep-alive HTTP/1.1 connection to the Kith API, one request at a time (see the module
/// doc for why it is hand-written).
pub struct ApiConnection {
    stream: TcpStream,
    host: String,
    token: String,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    request: Vec<u8>,
}

impl ApiConnection {
    /// Connects to `api` with `TCP_NODELAY` (the server sets it too).
    pub async fn open(api: SocketAddr, token: &str) -> Result<ApiConnection> {
        let stream = TcpStream::connect(api)
            .await
            .map_err(|e| format!("connecting to {api}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
        Ok(ApiConnection {
            stream,
            host: api.to_string(),
            token: token.to_owned(),
            buf: Vec::with_capacity(64 * 1024),
            request: Vec::with_capacity(1024),
        })
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<HttpResponse> {
        self.exchange("GET", path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&mut self, path: &str, body: &[u8]) -> Result<HttpResponse> {
        self.exchange("POST", path, Some(body)).await
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<HttpResponse> {
        match timeout(REQUEST_TIMEOUT, self.exchange_inner(method, path, body)).await {
            Ok(result) => result.map_err(|e| format!("{method} {path}: {e}")),
            Err(_) => Err(format!(
                "{method} {path}: no complete response within {REQUEST_TIMEOUT:?}"
            )),
        }
    }

    async fn exchange_inner(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<HttpResponse> {
        use std::io::Write as _;
        self.request.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n",
            self.host, self.token
        );
        if let Some(body) = body {
            let _ = write!(
                self.request,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        self.request.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            self.request.extend_from_slice(body);
        }
        self.stream
            .write_all(&self.request)
            .await
            .map_err(|e| format!("writing the request: {e}"))?;

        let head_end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("a response head longer than {MAX_HEAD} bytes"));
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| "a response head that is not UTF-8".to_owned())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("a bad status line {status_line:?}"))?;
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("a bad Content-Length {value:?}"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!(
                    "Transfer-Encoding {value:?}: this client reads Content-Length bodies only"
                ));
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                return Err("the server closes the connection: no keep-alive".into());
            }
        }
        let length = length.ok_or("a response without Content-Length")?;
        let end = head_end + 4 + length;
        while self.buf.len() < end {
            self.fill().await?;
        }
        let body = self.buf[head_end + 4..end].to_vec();
        self.buf.drain(..end);
        Ok(HttpResponse { status, body })
    }

    /// Reads more bytes into the buffer; a closed connection is an error.
    async fn fill(&mut self) -> Result<()> {
        self.buf.reserve(16 * 1024);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("reading the response: {e}")),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `event:` field (`message` when absent, as the SSE spec says).
    pub name: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

/// A node's `GET /api/v1/events` stream.
pub struct EventStream {
    response: reqwest::Response,
    /// Bytes received and not yet parsed (a chunk may end in the middle of a character).
    pending: Vec<u8>,
}

impl EventStream {
    /// Opens the stream; the node subscribes before it answers, so every event after this
    /// returns is delivered.
    pub async fn open(client: &reqwest::Client, api: SocketAddr, token: &str) -> Result<Self> {
        let url = format!("http://{api}/api/v1/events");
        let response = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("GET {url}: status {}", response.status()));
        }
        Ok(EventStream {
            response,
            pending: Vec::new(),
        })
    }

    /// The next event; `None` when the stream ended. Keep-alive comments are skipped. Events
    /// are separated by a blank line (`\n\n`, which is what the node writes).
    pub async fn next(&mut self) -> Result<Option<SseEvent>> {
        loop {
            if let Some(at) = find(&self.pending, b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..at + 2).collect();
                let block = std::str::from_utf8(&block)
                    .map_err(|_| "an event that is not UTF-8".to_owned())?;
                let mut name = None;
                let mut data: Vec<&str> = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = Some(value.trim_start().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                return Ok(Some(SseEvent {
                    name: name.unwrap_or_else(|| "message".into()),
                    data: data.join("\n"),
                }));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.pending.extend_from_slice(&chunk),
                Ok(None) => return Ok(None),
                Err(e) => return Err(format!("reading the event stream: {e}")),
            }
        }
    }
}

/// CPU time (user + system) used so far, from `/proc/<pid>/stat`: `pid` is a process id (all
/// its threads), `"self"` for this process, or `"<pid>/task/<tid>"` for one thread.
pub fn cpu_time(pid: &str) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    // The command name (field 2) may hold spaces; the fields after it start after its `)`.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: no `)` after the command name"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{path}: no field {}", i + 3))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(
        total as f64 / clock_ticks_per_second()?,
    ))
}

/// CPU time per thread of process `pid` so far: `(thread id, thread name, CPU time)`, from
/// `/proc/<pid>/task/*/stat`. Threads that exit between the listing and the read are skipped.
pub fn thread_cpu_times(pid: u32) -> Result<Vec<(u32, String, Duration)>> {
    let dir = format!("/proc/{pid}/task");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {dir}: {e}"))?;
    let mut threads = Vec::new();
    for entry in entries.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let task = format!("{pid}/task/{tid}");
        let Ok(cpu) = cpu_time(&task) else { continue };
        let name = std::fs::read_to_string(format!("/proc/{task}/comm"))
            .map_or_else(|_| "?".to_owned(), |s| s.trim().to_owned());
        threads.push((tid, name, cpu));
    }
    Ok(threads)
}

/// The CPU time each group of threads used between two [`thread_cpu_times`] readings, largest
/// first. Threads are grouped by name with trailing digits dropped (`sled-io-3` → `sled-io-*`).
pub fn thread_cpu_between(
    before: &[(u32, String, Duration)],
    after: &[(u32, String, Duration)],
) -> Vec<(String, Duration)> {
    let mut groups: std::collections::BTreeMap<String, Duration> = Default::default();
    for (tid, name, cpu) in after {
        let earlier = before
            .iter()
            .find(|(t, _, _)| t == tid)
            .map_or(Duration::ZERO, |(_, _, c)| *c);
        let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let group = if trimmed.len() < name.len() {
            format!("{trimmed}*")
        } else {
            name.clone()
        };
        *groups.entry(group).or_default() += cpu.saturating_sub(earlier);
    }
    let mut groups: Vec<(String, Duration)> = groups.into_iter().collect();
    groups.sort_by_key(|group| std::cmp::Reverse(group.1));
    groups
}

/// `getconf CLK_TCK`: the unit of the CPU times in `/proc/<pid>/stat`.
fn clock_ticks_per_second() -> Result<f64> {
    static TICKS: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    TICKS
        .get_or_init(|| {
            std::process::Command::new("getconf")
                .arg("CLK_TCK")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.trim().parse().ok())
        })
        .ok_or_else(|| "`getconf CLK_TCK` gave no number".to_owned())
}

/// Resident memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most that was ever resident.
    pub hwm_kib: u64,
}

/// [`Memory`] of process `pid`.
pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| format!("{path} has no {name} line"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Bytes as MB (10^6, as `du --si` and the issues count data directories).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// One file of a directory tree, with its length and what it takes on disk.
#[derive(Debug, Clone)]
pub struct FileSize {
    /// The path below the measured directory.
    pub path: PathBuf,
    /// The file's length (`du --apparent-size`).
    pub len: u64,
    /// Blocks allocated to it (`du`; less than `len` for a sparse file).
    pub allocated: u64,
}

/// Every regular file below `dir`, largest on disk first.
pub fn dir_files(dir: &Path) -> Result<Vec<FileSize>> {
    use std::os::unix::fs::MetadataExt as _;
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|e| format!("reading {}: {e}", current.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading {}: {e}", current.display()))?;
            let meta = entry
                .metadata()
                .map_err(|e| format!("reading {}: {e}", entry.path().display()))?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                files.push(FileSize {
                    path: entry
                        .path()
                        .strip_prefix(dir)
                        .map_or_else(|_| entry.path(), Path::to_path_buf),
                    len: meta.len(),
                    allocated: meta.blocks() * 512,
                });
            }
        }
    }
    files.sort_by_key(|file| std::cmp::Reverse(file.allocated));
    Ok(files)
}
