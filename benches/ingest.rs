//! Ingest benchmark (issue 3): how many posts per second one node takes through its HTTP API,
//! and how long each one waits for its `201`, compared with raw sled doing the same durable
//! writes.
//!
//! * **Kith** — the release binary (`$KITH_BIN`, default `target/release/kith`) runs as its own
//!   process on a fresh data directory. [`CLIENTS`] concurrent clients, each on its own
//!   keep-alive connection, send `POST /api/v1/posts` `{"text": …}` back to back; every answer
//!   must be `201`. The node signs each post, stores it and flushes it before it answers (group
//!   commit: one flush for everything queued meanwhile), then publishes it and sends the stored
//!   post back.
//! * **Baseline: raw sled** — in this process, the same number of concurrent writers on a sled
//!   0.34.7 database configured like the node's (64 MiB cache, no background flush), each doing
//!   `insert` of the exact bytes of a signed post of the same text length under a 32-byte key,
//!   then a flush, awaited: the same flush-before-ack pattern, with whatever grouping of
//!   concurrent flushes sled itself does. No signing, no indexes, no HTTP.
//!
//!   The flush is `Db::flush` on tokio's blocking pool, not `Db::flush_async`: with 32 writers,
//!   `flush_async` deadlocks sled 0.34.7 within milliseconds. It runs each flush on sled's own
//!   I/O thread pool, and once every pool thread waits in a flush for a log buffer to become
//!   stable, the job that would write that buffer sits in the same pool's queue behind them
//!   (seen with gdb: all `sled-io-*` threads parked in `make_stable_inner`).
//! * **For comparison, not a baseline: a raw sled transaction** — the same writers, but each
//!   post is one sled transaction over three trees (the object plus two index keys), the shape
//!   of the node's own write. sled 0.34 rolls its log buffer before and after every
//!   transaction (`PageCache::pin_log`), so each transaction is written (and synced) as a log
//!   buffer of its own, whatever the flushes around it; this row shows what that costs without
//!   anything else of the node.
//!
//! Each run warms up for [`WARM_UP`], then measures for [`WINDOW`]: the rate counts requests
//! completed inside the window, the latencies are those of requests started inside it. The CPU
//! time of the node process and of this process (the load generator) over the window is read
//! from `/proc`, because on a 2-core machine both compete for the same cores.
//!
//! Afterwards the node is stopped (SIGTERM) and its database opened here: it must hold exactly
//! as many posts of the node's owner as the node answered `201` for.
//!
//! * **Footprint** (issue 9) — a fresh node again, the same clients, but a fixed amount:
//!   [`FOOTPRINT_POSTS`] posts of [`FOOTPRINT_TEXT_BYTES`] bytes of text, each acknowledged after
//!   its flush as above. Once the last `201` is in, the node's `VmRSS`/`VmHWM` are read, and again
//!   after [`FOOTPRINT_IDLE`] of idling; then the node is stopped and its data directory measured
//!   before anything opens it again: every file's length and the blocks it holds on disk, against
//!   the signed bytes of the posts stored (the sum of their objects' lengths). The database is
//!   then opened with plain sled to say what each tree holds (entries, key and value bytes), so
//!   that the difference between the live bytes and the file is sled's log overhead.
//!
//! Run with `cargo build --release && cargo bench --bench ingest`.
//! `KITH_BENCH_CLIENTS` and `KITH_BENCH_SECONDS` change the client count and the window;
//! `KITH_BENCH_FOOTPRINT_POSTS` the footprint run's post count; either set to 0 skips that part.
//! `KITH_BENCH_FOOTPRINT_ARGS` adds `kith run` arguments to the footprint run only (e.g.
//! `--db-cache-mb 16`).

mod support;

use std::{
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use kith_storage::Store;
use libp2p::PeerId;
use sled::{Transactional, transaction::ConflictableTransactionError};
use support::{KithProcess, Percentiles, Result, post_text, verdict};

/// Concurrent clients (and raw sled writers), unless `KITH_BENCH_CLIENTS` says otherwise.
const CLIENTS: u64 = 32;
/// Measured window in seconds, unless `KITH_BENCH_SECONDS` says otherwise.
const WINDOW: u64 = 10;
/// Load before the window opens, not measured.
const WARM_UP: Duration = Duration::from_secs(2);
/// The node's (and the baseline's) database cache: `kith run`'s default.
const CACHE_BYTES: u64 = 64 << 20;
/// Targets of issue 3.
const TARGET_RATE: f64 = 5_000.0;
const TARGET_P99_MS: f64 = 10.0;
/// Issue 9's footprint run: posts, their text length, and the idle time before the second
/// memory reading.
const FOOTPRINT_POSTS: u64 = 20_000;
const FOOTPRINT_TEXT_BYTES: usize = 280;
const FOOTPRINT_IDLE: Duration = Duration::from_secs(10);
/// Targets of issue 9 after that load: nostr-rs-relay's figures on the same load, as the
/// issue quotes them, and a data directory of at most twice the posts' signed bytes.
const TARGET_RSS_MIB: f64 = 53.0;
const TARGET_DIR_RATIO: f64 = 2.0;

fn main() {
    support::run_main("ingest", run);
}

async fn run() -> Result<()> {
    let bin = support::kith_binary()?;
    let clients = support::env_number("KITH_BENCH_CLIENTS", CLIENTS)?.max(1);
    let seconds = support::env_number("KITH_BENCH_SECONDS", WINDOW)?;
    let footprint_posts = support::env_number("KITH_BENCH_FOOTPRINT_POSTS", FOOTPRINT_POSTS)?;

    println!("# Kith ingest benchmark\n");
    support::print_machine();
    if seconds > 0 {
        timed(&bin, clients, Duration::from_secs(seconds)).await?;
    }
    if footprint_posts > 0 {
        // More `kith run` arguments for this run only, e.g. `--db-cache-mb 16`.
        let extra: Vec<String> = std::env::var("KITH_BENCH_FOOTPRINT_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        footprint(&bin, clients, footprint_posts, &extra)
            .await?
            .print(&extra)?;
    }
    println!("Load average at the end: {}", support::load_average());
    Ok(())
}

/// The timed runs: the raw sled baseline, the transaction comparison and the node, each for
/// `window` after the warm-up, and their table.
async fn timed(bin: &std::path::Path, clients: u64, window: Duration) -> Result<()> {
    // The bytes the baseline writes: a signed post of the same text length as the posts sent
    // to the node.
    let sample = support::sample_post()?;
    println!(
        "{clients} concurrent clients, {} s warm-up, {} s window; a post's text is {} characters, \
         its signed object {} bytes of JSON.\n",
        WARM_UP.as_secs(),
        window.as_secs(),
        post_text(0).len(),
        sample.as_bytes().len()
    );

    let baseline = sled_baseline(clients, sample.as_bytes(), window, SledWrite::Insert).await?;
    let transactions =
        sled_baseline(clients, sample.as_bytes(), window, SledWrite::Transaction).await?;
    let kith = http_ingest(bin, clients, window).await?;

    println!("## Results\n");
    println!(
        "| run | ops in window | ops/s | p50 | p90 | p99 | max | CPU: node / bench | ops/s vs baseline |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    baseline.row("raw sled: insert + flush (baseline)", baseline.rate())?;
    transactions.row(
        "raw sled: 3-tree transaction + flush (for comparison)",
        baseline.rate(),
    )?;
    kith.row("Kith: `POST /api/v1/posts` → 201", baseline.rate())?;
    println!();

    println!("The node's CPU over the window by thread (cores = CPU seconds per second):\n");
    println!("| threads | cores | CPU per post |");
    println!("|---|---:|---:|");
    for (threads, cpu) in &kith.node_threads {
        if cpu.is_zero() {
            continue;
        }
        println!(
            "| `{threads}` | {:.2} | {:.0} µs |",
            cpu.as_secs_f64() / window.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / kith.completed.max(1) as f64
        );
    }
    println!();

    let latency = kith.latencies()?;
    println!(
        "Target ≥ {TARGET_RATE} posts/s: {} ({:.0} posts/s, {:.2} of the raw sled baseline's {:.0}/s)",
        verdict(kith.rate() >= TARGET_RATE),
        kith.rate(),
        kith.rate() / baseline.rate(),
        baseline.rate()
    );
    println!(
        "Target p99 < {TARGET_P99_MS} ms: {} (p99 {:.2} ms, p50 {:.2} ms)",
        verdict(latency.p99 < TARGET_P99_MS),
        latency.p99,
        latency.p50
    );
    println!();
    Ok(())
}

/// When the measured window opens and closes.
#[derive(Debug, Clone, Copy)]
struct Window {
    open: Instant,
    close: Instant,
}

impl Window {
    fn after_warm_up(length: Duration) -> Window {
        let open = Instant::now() + WARM_UP;
        Window {
            open,
            close: open + length,
        }
    }

    fn is_over(&self) -> bool {
        Instant::now() >= self.close
    }
}

/// What one client or writer saw.
#[derive(Debug, Default)]
struct WorkerLog {
    /// Operations that completed inside the window.
    completed: u64,
    /// Latencies of operations started inside the window.
    latencies: Vec<Duration>,
    /// Every operation that succeeded, warm-up and stragglers included.
    succeeded: u64,
}

impl WorkerLog {
    fn record(&mut self, window: &Window, started: Instant, finished: Instant) {
        self.succeeded += 1;
        if finished >= window.open && finished <= window.close {
            self.completed += 1;
        }
        if started >= window.open && started < window.close {
            self.latencies.push(finished - started);
        }
    }
}

/// One run's outcome.
struct Load {
    window: Duration,
    completed: u64,
    latencies: Vec<Duration>,
    succeeded: u64,
    /// CPU time over the window, of the node process (if any) and of this process.
    node_cpu: Option<Duration>,
    bench_cpu: Duration,
    /// The node's CPU time over the window per group of threads, largest first.
    node_threads: Vec<(String, Duration)>,
}

impl Load {
    fn collect(window: Duration, logs: Vec<WorkerLog>, cpu: CpuUse) -> Load {
        let mut load = Load {
            window,
            completed: 0,
            latencies: Vec::new(),
            succeeded: 0,
            node_cpu: cpu.node,
            bench_cpu: cpu.bench,
            node_threads: cpu.node_threads,
        };
        for log in logs {
            load.completed += log.completed;
            load.succeeded += log.succeeded;
            load.latencies.extend(log.latencies);
        }
        load
    }

    fn rate(&self) -> f64 {
        self.completed as f64 / self.window.as_secs_f64()
    }

    fn latencies(&self) -> Result<Percentiles> {
        Percentiles::of_durations(&self.latencies)
            .ok_or_else(|| "no operation in the window".into())
    }

    fn row(&self, name: &str, baseline_rate: f64) -> Result<()> {
        let p = self.latencies()?;
        // CPU time per wall-clock second: 1.0 is one core busy.
        let cores = |cpu: Duration| cpu.as_secs_f64() / self.window.as_secs_f64();
        let node = self
            .node_cpu
            .map_or_else(|| "–".to_owned(), |cpu| format!("{:.2}", cores(cpu)));
        println!(
            "| {name} | {} | **{:.0}** | {:.2} ms | {:.2} ms | **{:.2} ms** | {:.2} ms | {node} / {:.2} cores | {:.2} |",
            self.completed,
            self.rate(),
            p.p50,
            p.p90,
            p.p99,
            p.max,
            cores(self.bench_cpu),
            self.rate() / baseline_rate
        );
        Ok(())
    }
}

/// CPU used over the window.
struct CpuUse {
    node: Option<Duration>,
    bench: Duration,
    node_threads: Vec<(String, Duration)>,
}

/// CPU time of the node process `pid` (per thread) and of this process between two points.
struct CpuMeter {
    pid: Option<u32>,
    node_start: Vec<(u32, String, Duration)>,
    bench_start: Duration,
}

impl CpuMeter {
    fn start(pid: Option<u32>) -> Result<CpuMeter> {
        Ok(CpuMeter {
            node_start: pid
                .map(support::thread_cpu_times)
                .transpose()?
                .unwrap_or_default(),
            bench_start: support::cpu_time("self")?,
            pid,
        })
    }

    fn stop(&self) -> Result<CpuUse> {
        let bench = support::cpu_time("self")?.saturating_sub(self.bench_start);
        let Some(pid) = self.pid else {
            return Ok(CpuUse {
                node: None,
                bench,
                node_threads: Vec::new(),
            });
        };
        let node_threads =
            support::thread_cpu_between(&self.node_start, &support::thread_cpu_times(pid)?);
        Ok(CpuUse {
            node: Some(node_threads.iter().map(|(_, cpu)| *cpu).sum()),
            bench,
            node_threads,
        })
    }
}

/// Sleeps until `at`, then reads the meter's start; returns it.
async fn meter_at(at: Instant, pid: Option<u32>) -> Result<CpuMeter> {
    tokio::time::sleep_until(at.into()).await;
    CpuMeter::start(pid)
}

/// How a raw sled writer stores one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SledWrite {
    /// `insert` of the object under its id: the baseline the issue names.
    Insert,
    /// One transaction over three trees: the object under its id plus two index keys (author |
    /// time | id and time | author | id, empty values), the shape of what the node's store
    /// writes for a post. Not a baseline for the ratio: it shows what sled's transaction path
    /// costs by itself.
    Transaction,
}

/// Raw sled: `clients` concurrent writers, each storing a post as `mode` says, then flushing
/// and waiting for the flush.
async fn sled_baseline(
    clients: u64,
    bytes: &[u8],
    length: Duration,
    mode: SledWrite,
) -> Result<Load> {
    eprintln!("ingest: raw sled ({mode:?}), {clients} writers…");
    let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary directory: {e}"))?;
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(CACHE_BYTES)
        .flush_every_ms(None)
        .open()
        .map_err(|e| format!("opening sled in {}: {e}", dir.path().display()))?;
    let open_tree = |name: &str| {
        db.open_tree(name)
            .map_err(|e| format!("opening tree {name}: {e}"))
    };
    let trees = (
        open_tree("objects")?,
        open_tree("posts_by_author")?,
        open_tree("timeline")?,
    );
    let bytes: Arc<[u8]> = bytes.into();
    let window = Window::after_warm_up(length);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..clients {
        let db = db.clone();
        let trees = trees.clone();
        let bytes = Arc::clone(&bytes);
        workers.spawn(async move {
            let mut log = WorkerLog::default();
            let mut n = 0u64;
            while !window.is_over() {
                let id = pseudo_random_key(worker, n);
                n += 1;
                let started = Instant::now();
                match mode {
                    SledWrite::Insert => {
                        db.insert(id, &*bytes)
                            .map_err(|e| format!("sled insert: {e}"))?;
                    }
                    SledWrite::Transaction => {
                        // A 39-byte author (a peer id's length) and a big-endian time.
                        let author = [worker as u8; 39];
                        let time = (worker << 32 | n).to_be_bytes();
                        let by_author = [&author[..], &time, &id].concat();
                        let timeline = [&time[..], &author, &id].concat();
                        let (objects, authors, times) = &trees;
                        (objects, authors, times)
                            .transaction(|(objects, authors, times)| {
                                objects.insert(&id[..], &*bytes)?;
                                authors.insert(&by_author[..], &[][..])?;
                                times.insert(&timeline[..], &[][..])?;
                                Ok::<(), ConflictableTransactionError<()>>(())
                            })
                            .map_err(|e| format!("sled transaction: {e:?}"))?;
                    }
                }
                let flushing = db.clone();
                tokio::task::spawn_blocking(move || flushing.flush())
                    .await
                    .map_err(|e| format!("a sled flush task failed: {e}"))?
                    .map_err(|e| format!("sled flush: {e}"))?;
                log.record(&window, started, Instant::now());
            }
            Ok::<_, String>(log)
        });
    }
    let meter = meter_at(window.open, None).await?;
    tokio::time::sleep_until(window.close.into()).await;
    let cpu = meter.stop()?;
    let logs = join_all(workers).await?;
    Ok(Load::collect(length, logs, cpu))
}

/// A 32-byte key that spreads like the SHA-256 ids the node uses (splitmix64 of the worker and
/// the sequence number), so that both runs insert at random places in the tree.
fn pseudo_random_key(worker: u64, n: u64) -> [u8; 32] {
    let mut state = worker.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n;
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    key
}

/// The measured run: `clients` keep-alive connections posting to a `kith run` process.
async fn http_ingest(bin: &std::path::Path, clients: u64, length: Duration) -> Result<Load> {
    eprintln!("ingest: Kith over HTTP, {clients} clients…");
    let dir = tempfile::tempdir().map_err(|e| format!("creating a data directory: {e}"))?;
    let node = KithProcess::start(bin, dir.path(), &[]).await?;
    let owner =
        PeerId::from_str(&node.banner.peer_id).map_err(|e| format!("the banner's peer id: {e}"))?;

    // One post first, to check what the node answers.
    let mut probe = node.connect().await?;
    let body = serde_json::json!({ "text": post_text(u64::MAX) }).to_string();
    let answer = probe.post_json("/api/v1/posts", body.as_bytes()).await?;
    answer.expect(201, "POST /api/v1/posts")?;
    let post = answer.json()?;
    if post["text"] != post_text(u64::MAX) || post["author"] != node.banner.peer_id.as_str() {
        return Err(format!(
            "the 201 does not hold the post just written: {post}"
        ));
    }
    drop(probe);

    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(node.connect().await?);
    }
    let window = Window::after_warm_up(length);
    let mut workers = tokio::task::JoinSet::new();
    for (worker, mut connection) in (0u64..).zip(connections) {
        workers.spawn(async move {
            let mut log = WorkerLog::default();
            let mut n = worker * 10_000_000;
            while !window.is_over() {
                let body = serde_json::json!({ "text": post_text(n) }).to_string();
                n += 1;
                let started = Instant::now();
                let answer = connection
                    .post_json("/api/v1/posts", body.as_bytes())
                    .await?;
                let finished = Instant::now();
                answer.expect(201, "POST /api/v1/posts")?;
                log.record(&window, started, finished);
            }
            Ok::<_, String>(log)
        });
    }
    let meter = meter_at(window.open, Some(node.pid())).await?;
    tokio::time::sleep_until(window.close.into()).await;
    let cpu = meter.stop()?;
    let logs = match join_all(workers).await {
        Ok(logs) => logs,
        Err(error) => return Err(format!("{error}{}", node.tail())),
    };
    let load = Load::collect(length, logs, cpu);
    node.terminate().await?;

    // Every 201 must be a stored post: the probe's, the warm-up's, the window's and the
    // stragglers'.
    let answered = load.succeeded + 1;
    let (stored, _) = count_posts(&dir.path().join("db"), &owner).await?;
    if stored != answered {
        return Err(format!(
            "the node answered 201 for {answered} posts but its database holds {stored}"
        ));
    }
    eprintln!("ingest: all {stored} posts answered with 201 are in the node's database");
    Ok(load)
}

/// Waits for every worker; the first error wins.
async fn join_all(mut workers: tokio::task::JoinSet<Result<WorkerLog>>) -> Result<Vec<WorkerLog>> {
    let mut logs = Vec::new();
    while let Some(joined) = workers.join_next().await {
        logs.push(joined.map_err(|e| format!("a worker task failed: {e}"))??);
    }
    Ok(logs)
}

/// How many posts by `author` the database in `db` holds, and the sum of their signed objects'
/// lengths.
async fn count_posts(db: &std::path::Path, author: &PeerId) -> Result<(u64, u64)> {
    let store =
        Store::open(db, CACHE_BYTES).map_err(|e| format!("opening {}: {e}", db.display()))?;
    let social = store.social();
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut cursor = None;
    loop {
        let page = social
            .posts_by(author, 1000, cursor)
            .map_err(|e| format!("listing posts in {}: {e}", db.display()))?;
        count += page.items.len() as u64;
        bytes += page
            .items
            .iter()
            .map(|post| post.as_bytes().len() as u64)
            .sum::<u64>();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    store
        .close()
        .await
        .map_err(|e| format!("closing {}: {e}", db.display()))?;
    Ok((count, bytes))
}

/// What the footprint run found.
struct Footprint {
    posts: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Right after the last `201`, and after [`FOOTPRINT_IDLE`] more.
    after: support::Memory,
    idle: support::Memory,
    /// The data directory's files once the node has stopped.
    files: Vec<support::FileSize>,
    /// The posts' signed objects, summed.
    signed_bytes: u64,
    /// Per sled tree: name, entries, key bytes, value bytes.
    trees: Vec<(String, u64, u64, u64)>,
}

impl Footprint {
    fn dir_bytes(&self) -> (u64, u64) {
        self.files.iter().fold((0, 0), |(len, allocated), file| {
            (len + file.len, allocated + file.allocated)
        })
    }

    fn print(&self, extra: &[String]) -> Result<()> {
        let p = Percentiles::of_durations(&self.latencies)
            .ok_or("the footprint run answered no post")?;
        let (len, allocated) = self.dir_bytes();
        let ratio = allocated.max(len) as f64 / self.signed_bytes.max(1) as f64;
        println!(
            "## Footprint after {} posts of {FOOTPRINT_TEXT_BYTES} bytes (issue 9)\n",
            self.posts
        );
        if !extra.is_empty() {
            println!("`kith run` with `{}`.\n", extra.join(" "));
        }
        println!(
            "| posts | s | posts/s | p50 | p99 | VmRSS after | VmHWM | VmRSS after {} s idle | data dir on disk | apparent | posts' signed bytes | dir / signed |",
            FOOTPRINT_IDLE.as_secs()
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {:.2} | {:.0} | {:.2} ms | {:.2} ms | **{:.1} MiB** | {:.1} MiB | {:.1} MiB | **{:.1} MB** | {:.1} MB | {:.1} MB | **{ratio:.2}×** |",
            self.posts,
            self.elapsed.as_secs_f64(),
            self.posts as f64 / self.elapsed.as_secs_f64(),
            p.p50,
            p.p99,
            support::mib(self.after.rss_kib),
            support::mib(self.after.hwm_kib),
            support::mib(self.idle.rss_kib),
            support::mb(allocated),
            support::mb(len),
            support::mb(self.signed_bytes),
        );
        println!();
        println!("The data directory's files (bytes):\n");
        println!("| file | length | on disk |");
        println!("|---|---:|---:|");
        for file in &self.files {
            println!(
                "| `{}` | {} | {} |",
                file.path.display(),
                file.len,
                file.allocated
            );
        }
        println!();
        println!("What sled's trees hold (live bytes, before sled's own framing):\n");
        println!("| tree | entries | key bytes | value bytes |");
        println!("|---|---:|---:|---:|");
        let (mut keys, mut values) = (0, 0);
        for (name, entries, key_bytes, value_bytes) in &self.trees {
            if *entries == 0 {
                continue;
            }
            keys += key_bytes;
            values += value_bytes;
            println!("| `{name}` | {entries} | {key_bytes} | {value_bytes} |");
        }
        println!("| all | | {keys} | {values} |");
        println!();
        let rss = support::mib(self.after.rss_kib.max(self.idle.rss_kib));
        println!(
            "Target RSS after the load ≤ {TARGET_RSS_MIB} MiB: {} ({rss:.1} MiB)",
            verdict(rss <= TARGET_RSS_MIB)
        );
        println!(
            "Target data dir ≤ {TARGET_DIR_RATIO}× the posts' signed bytes: {} ({ratio:.2}×)\n",
            verdict(ratio <= TARGET_DIR_RATIO)
        );
        Ok(())
    }
}

/// Issue 9's footprint run: `posts` posts of [`FOOTPRINT_TEXT_BYTES`] through `clients`
/// keep-alive connections to a fresh node, then its memory and its data directory.
async fn footprint(
    bin: &std::path::Path,
    clients: u64,
    posts: u64,
    extra: &[String],
) -> Result<Footprint> {
    eprintln!("ingest: footprint, {posts} posts by {clients} clients, `kith run` {extra:?}…");
    let dir = tempfile::tempdir().map_err(|e| format!("creating a data directory: {e}"))?;
    let node = KithProcess::start(bin, dir.path(), extra).await?;
    let owner =
        PeerId::from_str(&node.banner.peer_id).map_err(|e| format!("the banner's peer id: {e}"))?;
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(node.connect().await?);
    }
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for mut connection in connections {
        let next = Arc::clone(&next);
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= posts {
                    break;
                }
                let text = support::post_text_of_len(n, FOOTPRINT_TEXT_BYTES);
                let body = serde_json::json!({ "text": text }).to_string();
                let sent = Instant::now();
                let answer = connection
                    .post_json("/api/v1/posts", body.as_bytes())
                    .await?;
                latencies.push(sent.elapsed());
                answer.expect(201, "POST /api/v1/posts")?;
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = workers.join_next().await {
        match joined.map_err(|e| format!("a worker task failed: {e}"))? {
            Ok(mut more) => latencies.append(&mut more),
            Err(error) => return Err(format!("{error}{}", node.tail())),
        }
    }
    let elapsed = started.elapsed();
    let after = support::memory(node.pid())?;
    tokio::time::sleep(FOOTPRINT_IDLE).await;
    let idle = support::memory(node.pid())?;
    node.terminate().await?;

    // Measured before anything opens the database again (opening it writes).
    let files = support::dir_files(dir.path())?;
    let db = dir.path().join("db");
    let trees = tree_sizes(&db).await?;
    let (stored, signed_bytes) = count_posts(&db, &owner).await?;
    if stored != posts {
        return Err(format!(
            "the node answered 201 for {posts} posts but its database holds {stored}"
        ));
    }
    Ok(Footprint {
        posts,
        elapsed,
        latencies,
        after,
        idle,
        files,
        signed_bytes,
        trees,
    })
}

/// Entries, key bytes and value bytes of every tree of the sled database in `db`.
async fn tree_sizes(db: &std::path::Path) -> Result<Vec<(String, u64, u64, u64)>> {
    let path = db.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let db = sled::Config::new()
            .path(&path)
            .flush_every_ms(None)
            .open()
            .map_err(|e| format!("opening {} with sled: {e}", path.display()))?;
        let mut sizes = Vec::new();
        for name in db.tree_names() {
            let tree = db
                .open_tree(&name)
                .map_err(|e| format!("opening a tree: {e}"))?;
            let (mut entries, mut keys, mut values) = (0, 0, 0);
            for entry in tree.iter() {
                let (key, value) = entry.map_err(|e| format!("reading a tree: {e}"))?;
                entries += 1;
                keys += key.len() as u64;
                values += value.len() as u64;
            }
            sizes.push((
                String::from_utf8_lossy(&name).into_owned(),
                entries,
                keys,
                values,
            ));
        }
        Ok(sizes)
    })
    .await
    .map_err(|e| format!("the tree-size task failed: {e}"))?
}
