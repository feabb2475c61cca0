//! Propagation benchmark (issue 3): how long a new post takes to reach the followers' screens
//! in a network of ten nodes.
//!
//! Ten `kith run` processes of the release binary (`$KITH_BIN`, default `target/release/kith`)
//! on loopback, each with its own data directory: node 0 starts a new private network, nodes
//! 1–9 get its network key (written into their data directory, as `kith join` would) and
//! `--bootstrap` node 0's address. The bench opens every follower's event stream
//! (`GET /api/v1/events`), then has each follower follow node 0
//! (`POST /api/v1/follows/{peer_id}`).
//!
//! Warm-up: node 0 posts until one post has reached all nine followers, so that follows are
//! answered and subscriptions are known. Then node 0 posts [`POSTS`] times, one post every
//! [`SPACING`] (`POST /api/v1/posts` over a keep-alive connection). For every (post, follower)
//! pair the latency is the time from node 0's `201` to the `post` event carrying that post's
//! id on that follower's event stream, both read by this process. The path measured: node 0
//! signs, stores (flushed) and publishes on its gossip topic; the follower verifies the
//! object, stores it (flushed), and emits the event, which its HTTP server writes to the
//! stream. An event can arrive before this process has read the `201` (node 0 publishes
//! before it answers), so latencies from the `201` can be negative; they are also reported
//! from the moment the request was sent.
//!
//! Baseline: one plain TCP round trip on loopback (a tokio echo server in this process,
//! `TCP_NODELAY`, a message the size of a signed post), the floor of any delivery here.
//!
//! Run with `cargo build --release && cargo bench --bench propagation`.
//! `KITH_BENCH_POSTS` changes the number of posts.

mod support;

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    time::{Duration, Instant},
};

use kith_config::DataDir;
use support::{ApiConnection, EventStream, KithProcess, Percentiles, Result, post_text, verdict};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::{Instant as TokioInstant, timeout_at},
};

/// Nodes in the network: one author, the rest follow it.
const NODES: usize = 10;
/// Posts measured, unless `KITH_BENCH_POSTS` says otherwise.
const POSTS: u64 = 200;
/// Time between two posts.
const SPACING: Duration = Duration::from_millis(20);
/// How long warm-up may take before the bench gives up.
const WARM_UP_DEADLINE: Duration = Duration::from_secs(60);
/// How long a warm-up post is waited for before the next one is sent.
const WARM_UP_WAIT: Duration = Duration::from_secs(2);
/// How long after the last post missing deliveries are waited for; then they count as lost.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);
/// TCP round trips for the baseline, after as many unmeasured.
const ROUND_TRIPS: usize = 2_000;
/// Target of issue 3.
const TARGET_P99_MS: f64 = 200.0;

fn main() {
    support::run_main("propagation", run);
}

/// What a follower's stream reader reports.
enum Seen {
    /// A `post` event by node 0, read at `at`.
    Post {
        follower: usize,
        id: String,
        at: Instant,
    },
    /// The follower's stream fell behind and dropped events.
    Lagged { follower: usize, missed: u64 },
    /// The stream ended or failed.
    Ended { follower: usize, reason: String },
}

/// When a measured post was sent and answered.
struct Sent {
    sent: Instant,
    answered: Instant,
}

async fn run() -> Result<()> {
    let bin = support::kith_binary()?;
    let posts = support::env_number("KITH_BENCH_POSTS", POSTS)?.max(1);
    println!("# Kith propagation benchmark\n");
    support::print_machine();

    let dirs: Vec<tempfile::TempDir> = (0..NODES)
        .map(|_| tempfile::tempdir().map_err(|e| format!("creating a data directory: {e}")))
        .collect::<Result<_>>()?;
    eprintln!("propagation: starting {NODES} nodes…");
    let author = KithProcess::start(&bin, dirs[0].path(), &[]).await?;
    let network_key = kith_config::load_network_key(&DataDir::new(dirs[0].path()).swarm_key())
        .map_err(|e| format!("reading node 0's network key: {e}"))?
        .ok_or("node 0 did not write a network key")?;
    let bootstrap = vec!["--bootstrap".to_owned(), author.banner.dial_addr()];
    let mut followers = Vec::new();
    for dir in &dirs[1..] {
        kith_config::create_network_key(&DataDir::new(dir.path()).swarm_key(), &network_key)
            .map_err(|e| format!("writing a follower's network key: {e}"))?;
        followers.push(KithProcess::start(&bin, dir.path(), &bootstrap).await?);
    }

    let outcome = measure(&author, &followers, posts).await;
    let stopped = stop_all(author, followers).await;
    let report = outcome?;
    stopped?;

    let tcp = tcp_round_trips(report.object_len).await?;
    report.print(posts, &tcp)?;
    println!("Load average at the end: {}", support::load_average());
    Ok(())
}

/// Stops every node; the first failure is reported.
async fn stop_all(author: KithProcess, followers: Vec<KithProcess>) -> Result<()> {
    let mut stops = tokio::task::JoinSet::new();
    for node in std::iter::once(author).chain(followers) {
        stops.spawn(node.terminate());
    }
    let mut outcome = Ok(());
    while let Some(joined) = stops.join_next().await {
        let result = joined
            .map_err(|e| format!("a stop task failed: {e}"))
            .and_then(|r| r);
        outcome = outcome.and(result);
    }
    outcome
}

/// Everything measured, for the report.
struct Report {
    /// Signed latencies from the `201`, and latencies from the request's start, in ms.
    from_answer: Vec<f64>,
    from_send: Vec<f64>,
    /// Request to `201` at node 0, in ms.
    post_latency: Vec<f64>,
    /// (post, follower) pairs never delivered within the deadline, per follower.
    missing: Vec<u64>,
    lagged: u64,
    warm_up_posts: u64,
    warm_up: Duration,
    object_len: usize,
}

async fn measure(author: &KithProcess, followers: &[KithProcess], posts: u64) -> Result<Report> {
    let author_id = author.banner.peer_id.clone();
    let client = reqwest::Client::new();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    for (follower, node) in followers.iter().enumerate() {
        let mut stream = EventStream::open(&client, node.api(), &node.token).await?;
        let seen_tx = seen_tx.clone();
        let author_id = author_id.clone();
        tokio::spawn(async move {
            let reason = loop {
                match stream.next().await {
                    Ok(Some(event)) => match event.name.as_str() {
                        "post" => {
                            let at = Instant::now();
                            let data: serde_json::Value = match serde_json::from_str(&event.data) {
                                Ok(data) => data,
                                Err(e) => break format!("a post event that is not JSON: {e}"),
                            };
                            if data["post"]["author"] == author_id.as_str() {
                                let id = data["post"]["id"].as_str().unwrap_or_default().to_owned();
                                let _ = seen_tx.send(Seen::Post { follower, id, at });
                            }
                        }
                        "lagged" => {
                            let missed = serde_json::from_str::<serde_json::Value>(&event.data)
                                .ok()
                                .and_then(|d| d["missed"].as_u64())
                                .unwrap_or(0);
                            let _ = seen_tx.send(Seen::Lagged { follower, missed });
                        }
                        _ => {}
                    },
                    Ok(None) => break "the event stream ended".to_owned(),
                    Err(error) => break error,
                }
            };
            let _ = seen_tx.send(Seen::Ended { follower, reason });
        });
    }
    drop(seen_tx);

    for node in followers {
        let url = format!("http://{}/api/v1/follows/{author_id}", node.api());
        let answer = client
            .post(&url)
            .bearer_auth(&node.token)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        if !answer.status().is_success() {
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            return Err(format!(
                "POST {url}: status {status}: {body}{}",
                node.tail()
            ));
        }
    }

    let mut connection = author.connect().await?;
    let mut lagged = 0;
    let record = |event: Seen, lagged: &mut u64| -> Result<Option<(usize, String, Instant)>> {
        match event {
            Seen::Post { follower, id, at } => Ok(Some((follower, id, at))),
            Seen::Lagged { follower, missed } => {
                eprintln!(
                    "propagation: follower {} lagged by {missed} events",
                    follower + 1
                );
                *lagged += missed;
                Ok(None)
            }
            Seen::Ended { follower, reason } => Err(format!(
                "follower {}'s event stream stopped: {reason}{}",
                follower + 1,
                followers[follower].tail()
            )),
        }
    };

    // Warm-up: until one post reaches every follower.
    eprintln!("propagation: warming up…");
    let warm_up_started = Instant::now();
    let deadline = TokioInstant::now() + WARM_UP_DEADLINE;
    let mut warm_up_posts = 0u64;
    loop {
        if TokioInstant::now() >= deadline {
            return Err(format!(
                "no warm-up post reached all {} followers within {WARM_UP_DEADLINE:?}",
                followers.len()
            ));
        }
        let id = post(&mut connection, &format!("warm-up {warm_up_posts}")).await?;
        warm_up_posts += 1;
        let mut reached = HashSet::new();
        let wait_until = (TokioInstant::now() + WARM_UP_WAIT).min(deadline);
        while reached.len() < followers.len() {
            match timeout_at(wait_until, seen.recv()).await {
                Ok(Some(event)) => {
                    if let Some((follower, seen_id, _)) = record(event, &mut lagged)?
                        && seen_id == id
                    {
                        reached.insert(follower);
                    }
                }
                Ok(None) => return Err("every event stream stopped".into()),
                Err(_) => break,
            }
        }
        if reached.len() == followers.len() {
            break;
        }
    }
    let warm_up = warm_up_started.elapsed();
    // Late deliveries of earlier warm-up posts are of no interest.
    while let Ok(event) = seen.try_recv() {
        record(event, &mut lagged)?;
    }
    lagged = 0;

    eprintln!("propagation: {posts} posts, one every {SPACING:?}…");
    let mut sent: HashMap<String, Sent> = HashMap::new();
    let mut deliveries: Vec<(usize, String, Instant)> = Vec::new();
    let mut ticker = tokio::time::interval(SPACING);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0..posts {
        ticker.tick().await;
        let started = Instant::now();
        let id = post(&mut connection, &post_text(n)).await?;
        sent.insert(
            id,
            Sent {
                sent: started,
                answered: Instant::now(),
            },
        );
        while let Ok(event) = seen.try_recv() {
            deliveries.extend(record(event, &mut lagged)?);
        }
    }
    let expected = sent.len() * followers.len();
    let deadline = TokioInstant::now() + DELIVERY_DEADLINE;
    let mut delivered: HashSet<(usize, String)> = HashSet::new();
    let count_new = |deliveries: &[(usize, String, Instant)], delivered: &mut HashSet<_>| {
        for (follower, id, _) in deliveries {
            if sent.contains_key(id) {
                delivered.insert((*follower, id.clone()));
            }
        }
    };
    count_new(&deliveries, &mut delivered);
    while delivered.len() < expected {
        match timeout_at(deadline, seen.recv()).await {
            Ok(Some(event)) => {
                if let Some(delivery) = record(event, &mut lagged)? {
                    count_new(std::slice::from_ref(&delivery), &mut delivered);
                    deliveries.push(delivery);
                }
            }
            Ok(None) => return Err("every event stream stopped".into()),
            Err(_) => break,
        }
    }

    let mut from_answer = Vec::new();
    let mut from_send = Vec::new();
    let mut counted: HashSet<(usize, &str)> = HashSet::new();
    for (follower, id, at) in &deliveries {
        let Some(times) = sent.get(id) else { continue };
        // A post seen twice on one stream would be a bug elsewhere; count it once.
        if !counted.insert((*follower, id.as_str())) {
            continue;
        }
        from_answer.push(signed_ms(*at, times.answered));
        from_send.push(signed_ms(*at, times.sent));
    }
    let mut missing = vec![0u64; followers.len()];
    for id in sent.keys() {
        for (follower, missing) in missing.iter_mut().enumerate() {
            if !counted.contains(&(follower, id.as_str())) {
                *missing += 1;
            }
        }
    }
    Ok(Report {
        from_answer,
        from_send,
        post_latency: sent
            .values()
            .map(|t| signed_ms(t.answered, t.sent))
            .collect(),
        missing,
        lagged,
        warm_up_posts,
        warm_up,
        object_len: support::sample_post()?.as_bytes().len(),
    })
}

/// `later - earlier` in milliseconds, negative when `later` is in fact earlier.
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => support::ms(d),
        None => -support::ms(earlier - later),
    }
}

/// Posts `text` as node 0; returns the post's id.
async fn post(connection: &mut ApiConnection, text: &str) -> Result<String> {
    let body = serde_json::json!({ "text": text }).to_string();
    let answer = connection
        .post_json("/api/v1/posts", body.as_bytes())
        .await?;
    answer.expect(201, "POST /api/v1/posts")?;
    let post = answer.json()?;
    let id = post["id"]
        .as_str()
        .ok_or_else(|| format!("a 201 without an id: {post}"))?
        .to_owned();
    Ok(id)
}

impl Report {
    fn print(&self, posts: u64, tcp: &[Duration]) -> Result<()> {
        let answer = Percentiles::of(&self.from_answer).ok_or("no post was delivered")?;
        let send = Percentiles::of(&self.from_send).ok_or("no post was delivered")?;
        let post = Percentiles::of(&self.post_latency).ok_or("no post was sent")?;
        let tcp = Percentiles::of_durations(tcp).ok_or("no TCP round trip")?;
        let followers = self.missing.len();
        let expected = posts as usize * followers;
        let lost: u64 = self.missing.iter().sum();
        println!(
            "{NODES} nodes; warm-up: {} s, {} post(s); then {posts} posts one every {} ms, \
             {} of {expected} (post, follower) deliveries seen, {lost} missing after {} s; \
             {} events dropped by lagging streams.\n",
            (self.warm_up.as_secs_f64() * 100.0).round() / 100.0,
            self.warm_up_posts,
            SPACING.as_millis(),
            self.from_answer.len(),
            DELIVERY_DEADLINE.as_secs(),
            self.lagged
        );
        println!("| measurement | count | min | p50 | p90 | p99 | max | p50 / TCP | p99 / TCP |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let row = |name: &str, p: &Percentiles| {
            println!(
                "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.0}× | {:.0}× |",
                p.count,
                p.min,
                p.p50,
                p.p90,
                p.p99,
                p.max,
                p.p50 / tcp.p50,
                p.p99 / tcp.p99
            );
        };
        row(
            &format!(
                "baseline: TCP round trip, {} bytes, loopback",
                self.object_len
            ),
            &tcp,
        );
        row("node 0: request → `201`", &post);
        row("**`201` → follower's `post` event**", &answer);
        row("request → follower's `post` event", &send);
        println!();
        if lost > 0 {
            println!("Missing deliveries per follower: {:?}\n", self.missing);
        }
        let early = self.from_answer.iter().filter(|&&v| v < 0.0).count();
        println!(
            "{early} deliveries were seen before this process had read node 0's `201` (negative latency)."
        );
        println!(
            "Target p99 < {TARGET_P99_MS} ms from the `201`: {} (p99 {:.2} ms, p50 {:.2} ms{})",
            verdict(answer.p99 < TARGET_P99_MS && lost == 0),
            answer.p99,
            answer.p50,
            if lost > 0 {
                format!("; {lost} deliveries missing")
            } else {
                String::new()
            }
        );
        Ok(())
    }
}

/// The baseline: `ROUND_TRIPS` echoes of `len` bytes over one loopback TCP connection.
async fn tcp_round_trips(len: usize) -> Result<Vec<Duration>> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding an echo server: {e}"))?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| format!("reading the echo server's address: {e}"))?;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            stream.write_all(&buf[..n]).await?;
        }
    });
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to the echo server: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
    let message = vec![b'x'; len.max(1)];
    let mut echo = vec![0u8; message.len()];
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..2 * ROUND_TRIPS {
        let started = Instant::now();
        stream
            .write_all(&message)
            .await
            .map_err(|e| format!("writing to the echo server: {e}"))?;
        stream
            .read_exact(&mut echo)
            .await
            .map_err(|e| format!("reading the echo: {e}"))?;
        if i >= ROUND_TRIPS {
            times.push(started.elapsed());
        }
    }
    drop(stream);
    server
        .await
        .map_err(|e| format!("the echo server task failed: {e}"))?
        .map_err(|e| format!("the echo server failed: {e}"))?;
    Ok(times)
}
