//! Timeline benchmark (issue 3): how fast a page of 50 posts comes out of a home timeline of
//! 1,000,000 posts, over HTTP, compared with the same page read straight from the store.
//!
//! **The store.** [`POSTS`] signed posts by [`AUTHORS`] authors, one second apart, all on the
//! home timeline, written in this process through the store's own path
//! (`Social::insert(&object, true)`, [`FILL_CONCURRENCY`] at a time, so that the store's writer
//! commits them in large groups). Filling takes minutes, so the directory is kept under
//! `target/bench-data/timeline-<posts>/` and reused by later runs (a `filled` marker is written
//! once the store is closed; a directory without it is filled again from scratch).
//!
//! **The pages.** The newest page (no cursor) and pages `before=` cursors at several depths of
//! the history, down to the last 50 posts. The cursors are found by walking the timeline once.
//!
//! * **Baseline: the store** — `store.social().timeline(50, cursor)` in this process, on the
//!   database opened with `kith run`'s default cache (64 MiB).
//! * **The social service** (for the breakdown, not a baseline) — `SocialService::timeline`
//!   on a node started in this process over the same store: the store's page plus the API's
//!   views (each post's author name and like count looked up), without HTTP.
//! * **Kith over HTTP** — the release binary (`$KITH_BIN`, default `target/release/kith`)
//!   started on the same data directory; one keep-alive connection sends
//!   `GET /api/v1/timeline?limit=50[&before=…]` one after the other, timed from the request's
//!   first byte written to the response's last byte read. Each page's posts must be the same
//!   as the store's, in the same order.
//!
//! A sled database can be open in one process at a time, so the store and the service run
//! first, then the database is closed and the `kith run` process started on it. Both run [`WARM_UP`] rounds before [`ROUNDS`]
//! measured rounds; each round reads every page once.
//!
//! Run with `cargo build --release && cargo bench --bench timeline`.
//! `KITH_BENCH_TIMELINE_POSTS` changes the size of the store (e.g. 10000 for a quick try).

mod support;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use kith_config::NetworkKey;
use kith_node::{Node, NodeConfig};
use kith_protocols::{Content, ObjectId, PostContent, SignedObject};
use kith_storage::{Cursor, Inserted, Social, Store};
use libp2p::identity::Keypair;
use support::{KithProcess, Percentiles, Result, post_text, verdict};

/// Posts in the store, unless `KITH_BENCH_TIMELINE_POSTS` says otherwise.
const POSTS: u64 = 1_000_000;
/// Distinct authors of those posts.
const AUTHORS: u64 = 16;
/// Inserts in flight while filling.
const FILL_CONCURRENCY: usize = 512;
/// Posts per page, as the issue asks.
const PAGE: usize = 50;
/// Unmeasured and measured rounds over all pages.
const WARM_UP: usize = 200;
const ROUNDS: usize = 2_000;
/// The database cache of `kith run` by default.
const CACHE_BYTES: u64 = 64 << 20;
/// The name of the marker file of a completely filled directory.
const MARKER: &str = "filled";
/// Target of issue 3.
const TARGET_P99_MS: f64 = 2.0;

fn main() {
    support::run_main("timeline", run);
}

async fn run() -> Result<()> {
    let bin = support::kith_binary()?;
    let posts = support::env_number("KITH_BENCH_TIMELINE_POSTS", POSTS)?;
    if posts < PAGE as u64 * 2 {
        return Err(format!(
            "a store of {posts} posts is too small for pages of {PAGE}"
        ));
    }

    println!("# Kith timeline benchmark\n");
    support::print_machine();

    let dir = support::target_dir()
        .join("bench-data")
        .join(format!("timeline-{posts}"));
    match ensure_filled(&dir, posts).await? {
        Some(took) => println!(
            "Filled {} with {posts} posts in {:.1} s ({:.0} posts/s).",
            dir.display(),
            took.as_secs_f64(),
            posts as f64 / took.as_secs_f64()
        ),
        None => println!("Reused the store in {} ({posts} posts).", dir.display()),
    }
    println!(
        "Database size on disk: {:.0} MiB.\n",
        directory_size(&dir.join("db"))? as f64 / (1024.0 * 1024.0)
    );

    // Baseline, in this process.
    let db = dir.join("db");
    let store =
        Store::open(&db, CACHE_BYTES).map_err(|e| format!("opening {}: {e}", db.display()))?;
    let (pages, from_store) = {
        // Every handle must be gone before `close`, or the directory stays locked.
        let social = store.social();
        let pages = find_pages(&social, posts)?;
        eprintln!("timeline: reading pages from the store…");
        let from_store = measure_store(&social, &pages)?;
        (pages, from_store)
    };
    eprintln!("timeline: reading pages through the social service…");
    let through_service = measure_service(&store, &pages).await?;
    store
        .close()
        .await
        .map_err(|e| format!("closing {}: {e}", db.display()))?;

    // The node, over HTTP.
    eprintln!("timeline: reading pages over HTTP…");
    let node = KithProcess::start(&bin, &dir, &[]).await?;
    let (over_http, page_bytes) = match measure_http(&node, &pages).await {
        Ok(measured) => measured,
        Err(error) => return Err(format!("{error}{}", node.tail())),
    };
    node.terminate().await?;

    println!(
        "## `GET /api/v1/timeline?limit={PAGE}` vs `Social::timeline({PAGE}, cursor)` ({ROUNDS} reads per page after {WARM_UP} unmeasured)\n"
    );
    println!("A page over HTTP is up to {page_bytes} bytes of JSON.\n");
    println!(
        "| page | store p50 | store p99 | service p50 | service p99 | HTTP p50 | HTTP p90 | HTTP p99 | HTTP max | HTTP / store (p50) | HTTP / store (p99) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut all = [Vec::new(), Vec::new(), Vec::new()];
    for (i, page) in pages.iter().enumerate() {
        let times = [&from_store[i], &through_service[i], &over_http[i]];
        row(&page.label(), times)?;
        for (all, times) in all.iter_mut().zip(times) {
            all.extend_from_slice(times);
        }
    }
    let [all_store, all_service, all_http] = &all;
    row("**all pages**", [all_store, all_service, all_http])?;
    println!();

    let http = Percentiles::of_durations(all_http).ok_or("no HTTP reads")?;
    let worst_p99 = over_http
        .iter()
        .filter_map(|times| Percentiles::of_durations(times))
        .map(|p| p.p99)
        .fold(0.0, f64::max);
    println!(
        "Target p99 < {TARGET_P99_MS} ms: {} (all pages p99 {:.3} ms, p50 {:.3} ms; worst single page p99 {:.3} ms)",
        verdict(http.p99 < TARGET_P99_MS && worst_p99 < TARGET_P99_MS),
        http.p99,
        http.p50,
        worst_p99
    );
    println!("Load average at the end: {}", support::load_average());
    Ok(())
}

/// One table row from the times of the store, the service and HTTP.
fn row(label: &str, [store, service, http]: [&Vec<Duration>; 3]) -> Result<()> {
    let s = Percentiles::of_durations(store).ok_or("no store reads")?;
    let v = Percentiles::of_durations(service).ok_or("no service reads")?;
    let h = Percentiles::of_durations(http).ok_or("no HTTP reads")?;
    println!(
        "| {label} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | **{:.3} ms** | {:.3} ms | {:.1}× | {:.1}× |",
        s.p50,
        s.p99,
        v.p50,
        v.p99,
        h.p50,
        h.p90,
        h.p99,
        h.max,
        h.p50 / s.p50,
        h.p99 / s.p99
    );
    Ok(())
}

/// Fills `dir/db` with `posts` posts unless a complete fill is there; returns how long filling
/// took, `None` when the directory was reused.
async fn ensure_filled(dir: &Path, posts: u64) -> Result<Option<Duration>> {
    let marker = dir.join(MARKER);
    if std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == posts.to_string()) {
        return Ok(None);
    }
    if dir.exists() {
        eprintln!(
            "timeline: {} is incomplete; filling it again",
            dir.display()
        );
        std::fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // A data directory holds keys: `kith run` warns unless only its owner can read it.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| format!("restricting {}: {e}", dir.display()))?;
    let db = dir.join("db");
    let store =
        Store::open(&db, CACHE_BYTES).map_err(|e| format!("opening {}: {e}", db.display()))?;
    let started = Instant::now();
    fill(&store.social(), posts).await?;
    store
        .close()
        .await
        .map_err(|e| format!("closing {}: {e}", db.display()))?;
    let took = started.elapsed();
    std::fs::write(&marker, format!("{posts}\n"))
        .map_err(|e| format!("writing {}: {e}", marker.display()))?;
    Ok(Some(took))
}

/// Signs and inserts `posts` posts, [`FILL_CONCURRENCY`] at a time across the runtime's
/// workers, reporting progress on stderr.
async fn fill(social: &Social, posts: u64) -> Result<()> {
    let authors: Arc<Vec<Keypair>> =
        Arc::new((0..AUTHORS).map(|_| Keypair::generate_ed25519()).collect());
    // One post per second of history, ending a day ago.
    let first_ms = kith_node::now_ms()
        .checked_sub(posts * 1000 + 86_400_000)
        .ok_or("the clock is before 1970 plus the history")?;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..FILL_CONCURRENCY {
        let (social, authors, next, done) = (
            social.clone(),
            Arc::clone(&authors),
            Arc::clone(&next),
            Arc::clone(&done),
        );
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= posts {
                    return Ok::<(), String>(());
                }
                let author = &authors[(n % AUTHORS) as usize];
                let object = SignedObject::create(
                    author,
                    first_ms + n * 1000,
                    Content::Post(PostContent::new(post_text(n))),
                )
                .map_err(|e| format!("signing post {n}: {e}"))?;
                match social.insert(&object, true).await {
                    Ok(Inserted::Stored) => {}
                    Ok(other) => return Err(format!("post {n} was not stored: {other:?}")),
                    Err(e) => return Err(format!("storing post {n}: {e}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let progress = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut ticker = tokio::time::interval(Duration::from_secs(10));
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let done = done.load(Ordering::Relaxed);
                eprintln!(
                    "timeline: filled {done} of {posts} ({:.0} posts/s)",
                    done as f64 / started.elapsed().as_secs_f64()
                );
            }
        })
    };
    let mut outcome = Ok(());
    while let Some(joined) = workers.join_next().await {
        let result = joined
            .map_err(|e| format!("a fill task failed: {e}"))
            .and_then(|r| r);
        if let Err(error) = result {
            // Stop the others; the first error is the one to report.
            workers.abort_all();
            outcome = outcome.and(Err(error));
        }
    }
    progress.abort();
    outcome
}

/// A page to read: the newest, or the one just older than the `depth`-th newest post.
struct PageSpec {
    depth: u64,
    cursor: Option<Cursor>,
    /// The post ids the store returns for it, newest first.
    ids: Vec<ObjectId>,
}

impl PageSpec {
    fn label(&self) -> String {
        match self.depth {
            0 => "newest (no cursor)".to_owned(),
            depth => format!("`before` = cursor after {} posts", group_digits(depth)),
        }
    }

    /// The HTTP request's path.
    fn path(&self) -> String {
        match &self.cursor {
            None => format!("/api/v1/timeline?limit={PAGE}"),
            // A cursor is unpadded base64url: nothing to escape in a query.
            Some(cursor) => format!("/api/v1/timeline?limit={PAGE}&before={cursor}"),
        }
    }
}

fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Walks the timeline once from the newest post and keeps the cursors at the depths measured.
fn find_pages(social: &Social, posts: u64) -> Result<Vec<PageSpec>> {
    let mut depths: Vec<u64> = [0, 1_000, 10_000, 100_000, 500_000, posts - PAGE as u64]
        .into_iter()
        .filter(|&d| d <= posts - PAGE as u64)
        .collect();
    depths.sort_unstable();
    depths.dedup();
    let mut pages = Vec::new();
    let mut position = 0u64;
    let mut cursor: Option<Cursor> = None;
    for depth in depths {
        while position < depth {
            let want = (depth - position).min(1000) as usize;
            let page = social
                .timeline(want, cursor.take())
                .map_err(|e| format!("walking the timeline: {e}"))?;
            position += page.items.len() as u64;
            cursor = page.next;
            if cursor.is_none() && position < depth {
                return Err(format!(
                    "the timeline ended after {position} posts; expected {posts}"
                ));
            }
        }
        let page = social
            .timeline(PAGE, cursor.clone())
            .map_err(|e| format!("reading the page at depth {depth}: {e}"))?;
        if page.items.len() != PAGE {
            return Err(format!(
                "the page at depth {depth} holds {} posts, not {PAGE}",
                page.items.len()
            ));
        }
        pages.push(PageSpec {
            depth,
            cursor: cursor.clone(),
            ids: page.items.iter().map(SignedObject::id).collect(),
        });
    }
    Ok(pages)
}

/// Times `Social::timeline` for every page, round after round.
fn measure_store(social: &Social, pages: &[PageSpec]) -> Result<Vec<Vec<Duration>>> {
    let mut times = vec![Vec::with_capacity(ROUNDS); pages.len()];
    for round in 0..WARM_UP + ROUNDS {
        for (page, times) in pages.iter().zip(&mut times) {
            let cursor = page.cursor.clone();
            let started = Instant::now();
            let read = social.timeline(PAGE, cursor);
            let took = started.elapsed();
            let read = read.map_err(|e| format!("reading a timeline page: {e}"))?;
            if read.items.len() != PAGE {
                return Err(format!("a page of {} posts, not {PAGE}", read.items.len()));
            }
            if round >= WARM_UP {
                times.push(took);
            }
        }
    }
    Ok(times)
}

/// Times `SocialService::timeline` (the store's page turned into the API's views: each post's
/// author name and like count looked up) for every page, round after round, on a node started
/// in this process over `store` (loopback, no peers).
async fn measure_service(store: &Store, pages: &[PageSpec]) -> Result<Vec<Vec<Duration>>> {
    let node = Node::start(
        NodeConfig::loopback(Keypair::generate_ed25519(), NetworkKey::generate()),
        store.clone(),
    )
    .await
    .map_err(|e| format!("starting a node on the store: {e}"))?;
    let cursors: Vec<Option<String>> = pages
        .iter()
        .map(|page| page.cursor.as_ref().map(ToString::to_string))
        .collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); pages.len()];
    let mut outcome = Ok(());
    'rounds: for round in 0..WARM_UP + ROUNDS {
        for ((page, cursor), times) in pages.iter().zip(&cursors).zip(&mut times) {
            let started = Instant::now();
            let read = node.social().timeline(PAGE, cursor.as_deref());
            let took = started.elapsed();
            match read {
                Ok(read) if read.posts.len() == PAGE && read.posts[0].id == page.ids[0] => {}
                Ok(read) => {
                    outcome = Err(format!(
                        "the service's page at depth {} is not the store's ({} posts)",
                        page.depth,
                        read.posts.len()
                    ));
                    break 'rounds;
                }
                Err(e) => {
                    outcome = Err(format!("reading a timeline page through the service: {e}"));
                    break 'rounds;
                }
            }
            if round >= WARM_UP {
                times.push(took);
            }
        }
    }
    node.shutdown().await;
    outcome.map(|()| times)
}

/// Checks that every page over HTTP holds the store's posts, then times them round after round.
/// Also returns the size of the largest page's body.
async fn measure_http(
    node: &KithProcess,
    pages: &[PageSpec],
) -> Result<(Vec<Vec<Duration>>, usize)> {
    let mut connection = node.connect().await?;
    let paths: Vec<String> = pages.iter().map(PageSpec::path).collect();
    let mut page_bytes = 0;
    for (page, path) in pages.iter().zip(&paths) {
        let answer = connection.get(path).await?;
        answer.expect(200, path)?;
        page_bytes = page_bytes.max(answer.body.len());
        let body = answer.json()?;
        let ids: Vec<&str> = body["posts"]
            .as_array()
            .ok_or_else(|| format!("GET {path}: no `posts` array: {body}"))?
            .iter()
            .map(|post| post["id"].as_str().unwrap_or_default())
            .collect();
        let expected: Vec<String> = page.ids.iter().map(ToString::to_string).collect();
        if ids != expected {
            return Err(format!(
                "GET {path} returned other posts than the store: {ids:?} instead of {expected:?}"
            ));
        }
    }
    let mut times = vec![Vec::with_capacity(ROUNDS); pages.len()];
    for round in 0..WARM_UP + ROUNDS {
        for (path, times) in paths.iter().zip(&mut times) {
            let started = Instant::now();
            let answer = connection.get(path).await?;
            let took = started.elapsed();
            answer.expect(200, path)?;
            if round >= WARM_UP {
                times.push(took);
            }
        }
    }
    Ok((times, page_bytes))
}

/// Total size of the files under `dir`.
fn directory_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
            let meta = entry
                .metadata()
                .map_err(|e| format!("reading {}: {e}", entry.path().display()))?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}
