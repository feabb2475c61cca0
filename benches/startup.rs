//! Start-up benchmark (issue 2): how fast a `kith run` process becomes ready, and how much memory
//! an idle member node holds.
//!
//! A plain bench binary (`harness = false`) that drives the release `kith` binary as a user
//! would and prints Markdown tables. The binary is `$KITH_BIN`, or `target/release/kith` under
//! the workspace root; build it first (`cargo build --release`).
//!
//! For each of [`RUNS`] fresh data directories (cold: the first run creates the identity key,
//! the network key, the API token and the sled database) and then again for the same directories
//! (warm: everything exists), it spawns
//! `kith run --data-dir DIR --listen /ip4/127.0.0.1/tcp/0 --api 127.0.0.1:0 --mdns false` and
//! measures the time from `spawn` to the banner line `  api:      http://…` on stdout and to the
//! first `200` answer of `GET /readyz` on that address. Polling `/readyz` in a tight loop is
//! deliberate here: it is the measuring instrument, not a synchronisation.
//!
//! Memory: by default the nodes of one phase are left running (idle: no peers, mDNS off) while
//! the next ones start, and once the last one has been idle for [`IDLE`], `VmRSS` and `VmHWM` of
//! every process are read from `/proc/<pid>/status`; then every node gets `SIGTERM` and the time
//! to a clean exit is measured. Idle nodes cost next to no CPU, so this keeps the run at about a
//! minute instead of [`RUNS`] × 2 × [`IDLE`]. `KITH_BENCH_SEQUENTIAL=1` runs strictly one node at
//! a time instead (start, idle, measure, stop), for comparison.
//!
//! To explain where the time goes, it also times, in this process, the pieces `kith run` does
//! before it is ready (identity generation, network key, sled open of an empty and an existing
//! directory, `Node::start` on loopback) and, as the floor of any process start, `kith --version`.
//!
//! The machine line, the binary, percentiles and the `/proc` readings come from
//! `benches/support`, like the other benches'.
//!
//! Run with `cargo build --release && cargo bench --bench startup`.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

mod support;

use kith_config::NetworkKey;
use kith_node::{Node, NodeConfig};
use kith_storage::Store;
use support::{Percentiles, kith_binary, mib, ms, verdict};
use tempfile::TempDir;

/// Runs per phase (cold, warm).
const RUNS: usize = 20;
/// How long a node idles before its memory is read.
const IDLE: Duration = Duration::from_secs(10);
/// Upper bound for a node to print its banner and become ready.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Upper bound for a node to exit after SIGTERM before it is killed.
const EXIT_DEADLINE: Duration = Duration::from_secs(15);
/// Targets of issue 2.
const READY_TARGET_MS: f64 = 300.0;
const RSS_TARGET_MIB: f64 = 30.0;

type Result<T, E = String> = std::result::Result<T, E>;

fn main() {
    if let Err(error) = run() {
        eprintln!("startup bench failed: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` (or `--all-targets`) runs bench
    // binaries without it, and a test run must neither take half a minute nor need a release
    // build, so it only says what it skipped.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!(
            "startup: not measuring outside `cargo bench` (run `cargo bench --bench startup`)"
        );
        return Ok(());
    }
    let bin = kith_binary()?;
    let sequential = std::env::var_os("KITH_BENCH_SEQUENTIAL").is_some_and(|v| v == "1");

    println!("# Kith start-up benchmark\n");
    print_machine(&bin);

    let version = time_version(&bin)?;

    let dirs: Vec<TempDir> = (0..RUNS)
        .map(|_| tempfile::tempdir().map_err(|e| format!("creating a data dir: {e}")))
        .collect::<Result<_>>()?;
    let cold = run_phase(&bin, &dirs, sequential)?;
    let warm = run_phase(&bin, &dirs, sequential)?;

    let mode = if sequential {
        "sequential (one node at a time)"
    } else {
        "overlapping (earlier nodes stay idle)"
    };
    println!("## `kith run` to ready ({RUNS} runs per phase, {mode})\n");
    println!(
        "Times from `spawn` in ms; `banner` = the `api:` line on stdout, `ready` = first 200 from `GET /readyz`.\n"
    );
    println!("| phase | metric | min | median | p90 | max |");
    println!("|---|---|---:|---:|---:|---:|");
    for (phase, runs) in [
        ("cold (new data dir)", &cold),
        ("warm (existing data dir)", &warm),
    ] {
        row(
            phase,
            "banner",
            &runs.iter().map(|r| ms(r.banner)).collect::<Vec<_>>(),
        );
        row(
            phase,
            "ready",
            &runs.iter().map(|r| ms(r.ready)).collect::<Vec<_>>(),
        );
        row(
            phase,
            "SIGTERM → exit",
            &runs.iter().map(|r| ms(r.exit)).collect::<Vec<_>>(),
        );
    }
    row(
        "baseline",
        "`kith --version` spawn → exit",
        &version.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
    );
    println!();

    println!(
        "## Memory of an idle member node (after {} s idle)\n",
        IDLE.as_secs()
    );
    println!("| phase | metric | min | median | p90 | max |");
    println!("|---|---|---:|---:|---:|---:|");
    for (phase, runs) in [("cold", &cold), ("warm", &warm)] {
        row(
            phase,
            "VmRSS (MiB)",
            &runs.iter().map(|r| mib(r.rss_kib)).collect::<Vec<_>>(),
        );
        row(
            phase,
            "VmHWM (MiB)",
            &runs.iter().map(|r| mib(r.hwm_kib)).collect::<Vec<_>>(),
        );
    }
    println!();

    let ready_median = median(
        &cold
            .iter()
            .chain(&warm)
            .map(|r| ms(r.ready))
            .collect::<Vec<_>>(),
    );
    let cold_ready = median(&cold.iter().map(|r| ms(r.ready)).collect::<Vec<_>>());
    let rss_median = median(
        &cold
            .iter()
            .chain(&warm)
            .map(|r| mib(r.rss_kib))
            .collect::<Vec<_>>(),
    );
    let rss_max = cold
        .iter()
        .chain(&warm)
        .map(|r| mib(r.rss_kib))
        .fold(0.0, f64::max);
    let version_median = median(&version.iter().map(|d| ms(*d)).collect::<Vec<_>>());
    println!(
        "Target ready ≤ {READY_TARGET_MS} ms: {} (cold median {cold_ready:.1} ms, all runs median {ready_median:.1} ms; \
         {:.1}× `kith --version`)",
        verdict(cold_ready <= READY_TARGET_MS),
        cold_ready / version_median
    );
    println!(
        "Target idle RSS ≤ {RSS_TARGET_MIB} MiB: {} (median {rss_median:.1} MiB, max {rss_max:.1} MiB)\n",
        verdict(rss_max <= RSS_TARGET_MIB)
    );

    components()?;
    Ok(())
}

/// What one `kith run` process did.
struct RunResult {
    banner: Duration,
    ready: Duration,
    exit: Duration,
    rss_kib: u64,
    hwm_kib: u64,
}

/// A started node process that has become ready.
struct Started {
    child: Child,
    banner: Duration,
    ready: Duration,
    ready_at: Instant,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Started {
    fn memory(&self) -> Result<support::Memory> {
        support::memory(self.child.id())
    }

    /// Sends SIGTERM and waits for a successful exit; returns how long that took.
    fn terminate(mut self) -> Result<Duration> {
        let pid = self.child.id().to_string();
        let start = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| format!("running kill -TERM {pid}: {e}"))?;
        if !status.success() {
            return Err(format!("kill -TERM {pid} failed: {status}"));
        }
        let status = wait_deadline(&mut self.child, EXIT_DEADLINE)?;
        let took = start.elapsed();
        match status {
            Some(status) if status.success() => Ok(took),
            Some(status) => Err(format!(
                "node {pid} exited with {status} after SIGTERM{}",
                self.tail()
            )),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(format!(
                    "node {pid} did not exit within {EXIT_DEADLINE:?} of SIGTERM{}",
                    self.tail()
                ))
            }
        }
    }

    fn tail(&self) -> String {
        tail_of(&self.stderr_tail)
    }
}

impl Drop for Started {
    /// A node must not outlive the bench, whatever went wrong (a failed phase, a panic).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
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

fn wait_deadline(child: &mut Child, deadline: Duration) -> Result<Option<ExitStatus>> {
    let start = Instant::now();
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("waiting for the node: {e}"))?
        {
            return Ok(Some(status));
        }
        if start.elapsed() > deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs one phase over `dirs`, one `kith run` per directory.
fn run_phase(bin: &Path, dirs: &[TempDir], sequential: bool) -> Result<Vec<RunResult>> {
    let mut results = Vec::with_capacity(dirs.len());
    if sequential {
        for dir in dirs {
            let started = start(bin, dir.path())?;
            thread::sleep(IDLE);
            let support::Memory { rss_kib, hwm_kib } = started.memory()?;
            let (banner, ready) = (started.banner, started.ready);
            let exit = started.terminate()?;
            results.push(RunResult {
                banner,
                ready,
                exit,
                rss_kib,
                hwm_kib,
            });
        }
        return Ok(results);
    }
    let mut running = Vec::with_capacity(dirs.len());
    for dir in dirs {
        match start(bin, dir.path()) {
            Ok(started) => running.push(started),
            Err(error) => {
                for started in running {
                    let _ = started.terminate();
                }
                return Err(error);
            }
        }
    }
    if let Some(last) = running.last() {
        thread::sleep(IDLE.saturating_sub(last.ready_at.elapsed()));
    }
    let memory: Vec<Result<support::Memory>> = running.iter().map(Started::memory).collect();
    for (started, memory) in running.into_iter().zip(memory) {
        let (banner, ready) = (started.banner, started.ready);
        let exit = started.terminate()?;
        let support::Memory { rss_kib, hwm_kib } = memory?;
        results.push(RunResult {
            banner,
            ready,
            exit,
            rss_kib,
            hwm_kib,
        });
    }
    Ok(results)
}

/// Spawns `kith run` on `data_dir` and returns once `/readyz` answered 200.
fn start(bin: &Path, data_dir: &Path) -> Result<Started> {
    let begin = Instant::now();
    let mut child = Command::new(bin)
        .arg("run")
        .arg("--data-dir")
        .arg(data_dir)
        .args(support::LOOPBACK_ARGS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", bin.display()))?;

    // Both pipes are drained for the whole life of the process, so it never blocks on a full
    // pipe; stderr's last lines are kept for error messages.
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let tail = stderr_tail.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr)
                .lines()
                .map_while(std::io::Result::ok)
            {
                let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }
    let (api_tx, api_rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::io::Result::ok)
            {
                if !sent && let Some(addr) = api_address(&line) {
                    let _ = api_tx.send((addr, Instant::now()));
                    sent = true;
                }
            }
        });
    }

    let fail = |child: &mut Child, message: String| {
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("{message}{}", tail_of(&stderr_tail)))
    };
    let (api, banner_at) = match api_rx.recv_timeout(READY_DEADLINE) {
        Ok(found) => found,
        Err(RecvTimeoutError::Timeout) => {
            return fail(
                &mut child,
                "no `api:` banner line within the deadline".into(),
            );
        }
        Err(RecvTimeoutError::Disconnected) => {
            return fail(
                &mut child,
                "the node closed stdout without printing an `api:` line".into(),
            );
        }
    };
    loop {
        if readyz(api) {
            break;
        }
        if begin.elapsed() > READY_DEADLINE {
            return fail(
                &mut child,
                format!("GET http://{api}/readyz did not answer 200 within {READY_DEADLINE:?}"),
            );
        }
        if let Ok(Some(status)) = child.try_wait() {
            return fail(
                &mut child,
                format!("the node exited with {status} before it was ready"),
            );
        }
    }
    let ready_at = Instant::now();
    Ok(Started {
        child,
        banner: banner_at - begin,
        ready: ready_at - begin,
        ready_at,
        stderr_tail,
    })
}

/// Extracts `host:port` from a banner line like `  api:      http://127.0.0.1:8080/`.
fn api_address(line: &str) -> Option<SocketAddr> {
    let rest = line.trim_start().strip_prefix("api:")?.trim();
    let rest = rest.strip_prefix("http://").unwrap_or(rest);
    rest.split('/').next()?.parse().ok()
}

/// One `GET /readyz` over a fresh connection; `true` on a 200 status line.
fn readyz(api: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&api, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => read += n,
        }
    }
    head.starts_with(b"HTTP/1.1 200")
}

/// Times `kith --version`: the process-start floor (exec, dynamic loading, clap).
fn time_version(bin: &Path) -> Result<Vec<Duration>> {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let output = Command::new(bin)
                .arg("--version")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map_err(|e| format!("running {} --version: {e}", bin.display()))?;
            let took = start.elapsed();
            if output.status.success() {
                Ok(took)
            } else {
                Err(format!("`kith --version` exited with {}", output.status))
            }
        })
        .collect()
}

/// In-process timings of the steps `kith run` takes before it is ready.
fn components() -> Result<()> {
    let rt =
        tokio::runtime::Runtime::new().map_err(|e| format!("building a tokio runtime: {e}"))?;
    let mut identity_new = Vec::new();
    let mut identity_load = Vec::new();
    let mut network_key = Vec::new();
    let mut store_empty = Vec::new();
    let mut store_existing = Vec::new();
    let mut node_start = Vec::new();
    let mut node_stop = Vec::new();
    for _ in 0..RUNS {
        let dir =
            tempfile::tempdir().map_err(|e| format!("creating a temporary directory: {e}"))?;
        let identity = dir.path().join("identity.key");
        let start = Instant::now();
        let (keypair, _) =
            kith_config::load_or_create_identity(&identity).map_err(|e| e.to_string())?;
        identity_new.push(start.elapsed());
        let start = Instant::now();
        kith_config::load_or_create_identity(&identity).map_err(|e| e.to_string())?;
        identity_load.push(start.elapsed());

        let start = Instant::now();
        let key = NetworkKey::generate();
        kith_config::create_network_key(&dir.path().join("swarm.key"), &key)
            .map_err(|e| e.to_string())?;
        network_key.push(start.elapsed());

        let db = dir.path().join("db");
        let start = Instant::now();
        let store =
            Store::open(&db, 8 << 20).map_err(|e| format!("opening {}: {e}", db.display()))?;
        store_empty.push(start.elapsed());
        rt.block_on(store.close())
            .map_err(|e| format!("closing {}: {e}", db.display()))?;
        let start = Instant::now();
        let store =
            Store::open(&db, 8 << 20).map_err(|e| format!("reopening {}: {e}", db.display()))?;
        store_existing.push(start.elapsed());

        let config = NodeConfig::loopback(keypair, key);
        let start = Instant::now();
        let node = rt
            .block_on(Node::start(config, store.clone()))
            .map_err(|e| format!("starting a node: {e}"))?;
        node_start.push(start.elapsed());
        let start = Instant::now();
        rt.block_on(node.shutdown());
        node_stop.push(start.elapsed());
        rt.block_on(store.close())
            .map_err(|e| format!("closing {}: {e}", db.display()))?;
    }
    println!("## Where the time goes (in-process, {RUNS} runs each, ms)\n");
    println!("| step | min | median | p90 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (step, times) in [
        ("identity key: generate + write (0600)", &identity_new),
        ("identity key: load existing", &identity_load),
        ("network key: generate + write (0600)", &network_key),
        ("`Store::open` (sled) of an empty dir", &store_empty),
        ("`Store::open` (sled) of an existing db", &store_existing),
        (
            "`Node::start` (swarm, listeners, tasks) on loopback",
            &node_start,
        ),
        ("`Node::shutdown`", &node_stop),
    ] {
        let s = Percentiles::of_durations(times).ok_or("no timings")?;
        println!(
            "| {step} | {:.2} | {:.2} | {:.2} | {:.2} |",
            s.min, s.p50, s.p90, s.max
        );
    }
    println!();
    Ok(())
}

/// The machine (shared with the other benches), the compiler and the binary under test.
fn print_machine(bin: &Path) {
    support::print_machine();
    let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".into(), |s| s.trim().to_owned());
    let size = std::fs::metadata(bin).map_or(0, |m| m.len());
    println!("Compiler: {rustc}");
    println!(
        "Binary: {} ({size} bytes, {:.1} MB, {:.1} MiB)\n",
        bin.display(),
        support::mb(size),
        size as f64 / (1024.0 * 1024.0)
    );
}

fn row(phase: &str, metric: &str, values: &[f64]) {
    match Percentiles::of(values) {
        Some(s) => println!(
            "| {phase} | {metric} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s.min, s.p50, s.p90, s.max
        ),
        None => println!("| {phase} | {metric} | – | – | – | – |"),
    }
}

fn median(values: &[f64]) -> f64 {
    Percentiles::of(values).map_or(f64::NAN, |s| s.p50)
}
