//! Catch-up benchmark (issue 3): a follower that was offline while its followee wrote
//! [`POSTS`] posts comes back; how long until it has them all, and how many bytes cross the
//! wire for them compared with the size of the posts themselves.
//!
//! Two in-process nodes on loopback (the same [`kith_node::Node`] `kith run` runs, each with its
//! own sled directory and the default 64 MiB cache): the **followee** B and the **follower** A.
//! A has B's address as its bootstrap peer. The bytes on the wire are the kernel's own counters
//! of the TCP sockets between the two nodes (`ss -tin`, `bytes_received` of each end, before the
//! restart and when A is done): TCP payload, i.e. everything libp2p sends — the
//! private-network layer, Noise, yamux, every protocol's messages (identify, Kademlia,
//! gossipsub, ping, the routes) — but not the IP and TCP headers.
//!
//! A follows B (`SocialService::follow`) and is then stopped (`Node::shutdown`, `Store::close`).
//! B writes [`POSTS`] posts (`SocialService::create_post`, [`WRITE_CONCURRENCY`] at a time).
//! Then the clock starts and A restarts like `kith run` does: `Store::open` on its directory,
//! `Node::start` with the same identity. Nothing else is asked of it: it dials its bootstrap
//! peer, checks it, sees a followee come online and syncs by itself. The clock stops when all
//! [`POSTS`] posts are stored on A: each stored post emits a `post` event, which this process
//! counts by id; if the event receiver falls behind, the missing ids are looked up in A's store
//! instead. The socket counters are read right after that moment.
//!
//! This repeats for [`ROUNDS`] rounds on the same pair, so the history the follower reconciles
//! grows (10,000, 20,000, 30,000 posts). At the end, one more `sync_with` on an up-to-date
//! follower shows what a sync costs when there is nothing to fetch.
//!
//! Run with `cargo bench --bench catchup` (no release binary needed).
//! `KITH_BENCH_CATCHUP_POSTS` and `KITH_BENCH_ROUNDS` change the posts per round and the rounds.

mod support;

use std::{
    collections::HashSet,
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use kith_config::NetworkKey;
use kith_node::{Node, NodeConfig, NodeEvent};
use kith_protocols::{EventView, FollowOutcome, NewPost, ObjectId};
use kith_storage::{Social, Store};
use libp2p::{Multiaddr, PeerId, identity::Keypair, multiaddr::Protocol};
use support::{Result, post_text, verdict};
use tokio::{
    sync::broadcast::{self, error::RecvError},
    time::timeout,
};

/// Posts written per round while the follower is offline, unless `KITH_BENCH_CATCHUP_POSTS`
/// says otherwise.
const POSTS: u64 = 10_000;
/// Rounds, unless `KITH_BENCH_ROUNDS` says otherwise.
const ROUNDS: u64 = 3;
/// Posts the followee writes at once (its store commits them in groups).
const WRITE_CONCURRENCY: u64 = 64;
/// The database cache of `kith run` by default.
const CACHE_BYTES: u64 = 64 << 20;
/// Upper bound of every wait; hitting it means something is broken, not slow.
const WAIT: Duration = Duration::from_secs(120);
/// When no event comes for this long, the store is asked which posts are still missing.
const QUIET: Duration = Duration::from_millis(50);
/// Targets of issue 3.
const TARGET_SECONDS: f64 = 3.0;
const TARGET_RATIO: f64 = 1.5;

fn main() {
    support::run_main("catchup", run);
}

async fn run() -> Result<()> {
    let posts = support::env_number("KITH_BENCH_CATCHUP_POSTS", POSTS)?.max(1);
    let rounds = support::env_number("KITH_BENCH_ROUNDS", ROUNDS)?.max(1);
    println!("# Kith catch-up benchmark\n");
    support::print_machine();

    let network_key = NetworkKey::generate();
    let followee_dir = tempdir()?;
    let followee_store = open_store(&followee_dir.path().join("db"))?;
    let followee = Node::start(
        NodeConfig::loopback(Keypair::generate_ed25519(), network_key.clone()),
        followee_store.clone(),
    )
    .await
    .map_err(|e| format!("starting the followee: {e}"))?;
    let followee_id = followee.handle().local_peer_id();
    let followee_addr = followee
        .handle()
        .listen_addrs()
        .into_iter()
        .find_map(|addr| socket_addr(&addr))
        .ok_or("the followee has no TCP listen address")?;
    let follower_dir = tempdir()?;
    let follower_config = NodeConfig {
        bootstrap: vec![
            Multiaddr::from(Ipv4Addr::LOCALHOST)
                .with(Protocol::Tcp(followee_addr.port()))
                .with(Protocol::P2p(followee_id)),
        ],
        ..NodeConfig::loopback(Keypair::generate_ed25519(), network_key)
    };
    let follower_db = follower_dir.path().join("db");

    // Start the follower and follow.
    let (mut follower, mut follower_store) = {
        let store = open_store(&follower_db)?;
        let node = Node::start(follower_config.clone(), store.clone())
            .await
            .map_err(|e| format!("starting the follower: {e}"))?;
        (node, store)
    };
    follow(&follower, followee_id).await?;
    eprintln!("catchup: the follower follows the followee");

    let mut results = Vec::new();
    for round in 1..=rounds {
        let old_port = listen_port(&follower)?;
        follower.shutdown().await;
        follower_store
            .close()
            .await
            .map_err(|e| format!("closing the follower's store: {e}"))?;

        eprintln!("catchup: round {round}: the followee writes {posts} posts…");
        let written = write_posts(&followee, posts).await?;
        let payload = payload_bytes(&followee_store.social(), &written.ids)?;

        eprintln!("catchup: round {round}: restarting the follower…");
        let before = Wire::read(old_port, followee_addr.port())?;
        let restarted = Instant::now();
        follower_store = open_store(&follower_db)?;
        follower = Node::start(follower_config.clone(), follower_store.clone())
            .await
            .map_err(|e| format!("restarting the follower: {e}"))?;
        let started = restarted.elapsed();
        let events = follower.handle().subscribe();
        let caught_up =
            wait_for_all(events, &follower_store.social(), followee_id, &written.ids).await?;
        let after = Wire::read(listen_port(&follower)?, followee_addr.port())?;
        let (down, up, sockets) = after.since(&before);
        if down < payload {
            return Err(format!(
                "the sockets between the nodes carried {down} bytes for {payload} bytes of \
                 posts: some connection was missed (closed before it was read?)"
            ));
        }
        let connection = follower.handle().connections().get(&followee_id).cloned();
        results.push(Round {
            history: posts * round,
            written,
            payload,
            started,
            verified: caught_up.verified.map(|at| at - restarted),
            done: caught_up.done - restarted,
            up,
            down,
            connections: connection.map_or(0, |c| c.count),
            sockets,
        });
    }

    let in_sync = follower
        .social()
        .sync_with(followee_id)
        .await
        .map_err(|e| format!("syncing an up-to-date follower: {e}"))?;

    follower.shutdown().await;
    followee.shutdown().await;
    for store in [follower_store, followee_store] {
        store
            .close()
            .await
            .map_err(|e| format!("closing a store: {e}"))?;
    }

    print_results(posts, &results, &in_sync)?;
    println!("Load average at the end: {}", support::load_average());
    Ok(())
}

fn tempdir() -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| format!("creating a temporary directory: {e}"))
}

fn open_store(db: &Path) -> Result<Store> {
    Store::open(db, CACHE_BYTES).map_err(|e| format!("opening {}: {e}", db.display()))
}

/// The TCP port `node` listens on.
fn listen_port(node: &Node) -> Result<u16> {
    node.handle()
        .listen_addrs()
        .iter()
        .find_map(socket_addr)
        .map(|addr| addr.port())
        .ok_or_else(|| "a node without a TCP listen address".to_owned())
}

/// `/ip4/a.b.c.d/tcp/port` as a socket address.
fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for part in addr.iter() {
        match part {
            Protocol::Ip4(a) => ip = Some(a),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(SocketAddr::from((ip?, port?)))
}

/// Follows `followee` and waits until the follow is active.
async fn follow(follower: &Node, followee: PeerId) -> Result<()> {
    let mut events = follower.handle().subscribe();
    let view = follower
        .social()
        .follow(followee)
        .await
        .map_err(|e| format!("following: {e}"))?;
    if view.status == FollowOutcome::Active {
        return Ok(());
    }
    // Not reachable yet: the follow is sent again when the followee's node comes online.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return Err(format!("the follow was not answered within {WAIT:?}")),
            Ok(Err(RecvError::Closed)) => return Err("the follower stopped".into()),
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Ok(NodeEvent::Social(view))) => {
                if let EventView::Following { peer_id, status } = *view
                    && peer_id == followee
                    && status == FollowOutcome::Active
                {
                    return Ok(());
                }
            }
            Ok(Ok(_)) => {}
        }
    }
}

/// What the followee wrote in one round.
struct Written {
    ids: Vec<ObjectId>,
    took: Duration,
}

/// Has the followee write `posts` posts, [`WRITE_CONCURRENCY`] at a time.
async fn write_posts(followee: &Node, posts: u64) -> Result<Written> {
    // Unique texts across rounds: a nanosecond clock reading as the prefix of the numbers.
    let base = kith_node::now_ms() * 1_000_000;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITE_CONCURRENCY {
        let social = followee.social().clone();
        let next = Arc::clone(&next);
        writers.spawn(async move {
            let mut ids = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= posts {
                    return Ok::<_, String>(ids);
                }
                let post = social
                    .create_post(NewPost {
                        text: post_text(base + n),
                        reply_to: None,
                        quote_of: None,
                    })
                    .await
                    .map_err(|e| format!("writing post {n}: {e}"))?;
                ids.push(post.id);
            }
        });
    }
    let mut ids = Vec::new();
    while let Some(joined) = writers.join_next().await {
        ids.extend(joined.map_err(|e| format!("a writer task failed: {e}"))??);
    }
    Ok(Written {
        ids,
        took: started.elapsed(),
    })
}

/// The total size of the posts' signed objects (their JSON, as stored and sent).
fn payload_bytes(social: &Social, ids: &[ObjectId]) -> Result<u64> {
    let mut total = 0u64;
    for id in ids {
        let object = social
            .get(id)
            .map_err(|e| format!("reading post {id}: {e}"))?
            .ok_or_else(|| format!("post {id} is not in the followee's store"))?;
        total += object.as_bytes().len() as u64;
    }
    Ok(total)
}

/// When the follower had everything.
struct CaughtUp {
    /// When it had verified the followee's node (if the event was seen).
    verified: Option<Instant>,
    done: Instant,
}

/// Waits until every post in `ids` is stored on the follower.
async fn wait_for_all(
    mut events: broadcast::Receiver<NodeEvent>,
    social: &Social,
    followee: PeerId,
    ids: &[ObjectId],
) -> Result<CaughtUp> {
    let mut missing: HashSet<ObjectId> = ids.iter().copied().collect();
    let mut verified = None;
    let deadline = Instant::now() + WAIT;
    while !missing.is_empty() {
        if Instant::now() >= deadline {
            return Err(format!(
                "{} of {} posts still missing on the follower after {WAIT:?}",
                missing.len(),
                ids.len()
            ));
        }
        match timeout(QUIET, events.recv()).await {
            Ok(Ok(NodeEvent::Social(view))) => {
                if let EventView::Post { post } = *view {
                    missing.remove(&post.id);
                }
            }
            Ok(Ok(NodeEvent::PeerVerified { peer, .. })) if peer == followee => {
                verified.get_or_insert_with(Instant::now);
            }
            Ok(Ok(_)) => {}
            Ok(Err(RecvError::Closed)) => return Err("the follower stopped".into()),
            // Events were dropped, or none came for a while: ask the store.
            Ok(Err(RecvError::Lagged(_))) | Err(_) => {
                let mut failed = None;
                missing.retain(|id| match social.contains(id) {
                    Ok(stored) => !stored,
                    Err(e) => {
                        failed = Some(format!("reading the follower's store: {e}"));
                        true
                    }
                });
                if let Some(error) = failed {
                    return Err(error);
                }
            }
        }
    }
    Ok(CaughtUp {
        verified,
        done: Instant::now(),
    })
}

/// Bytes that crossed the TCP connections between two nodes of this process, read from the
/// kernel's per-socket counters (`ss -tin`: `bytes_received` of each end).
///
/// Every connection between the nodes has one end with a node's listen port: the dialer's end
/// has it as its peer port, the listener's end as its local port. Both ends are sockets of
/// this process, so each direction is the `bytes_received` of the end it arrives at.
#[derive(Debug, Clone, Default)]
struct Wire {
    /// `bytes_received` per socket, keyed by (local port, peer port), with the direction.
    sockets: std::collections::HashMap<(u16, u16), (Direction, u64)>,
}

/// Which way the bytes a socket received went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Followee → follower: received by the follower's end.
    Down,
    /// Follower → followee: received by the followee's end.
    Up,
}

impl Wire {
    /// The counters now, of every TCP socket between the follower (listening on
    /// `follower_port`) and the followee (`followee_port`).
    fn read(follower_port: u16, followee_port: u16) -> Result<Wire> {
        let filter = format!(
            "( sport = :{followee_port} or dport = :{followee_port} or sport = :{follower_port} or dport = :{follower_port} )"
        );
        let output = std::process::Command::new("ss")
            .args(["-tinH", &filter])
            .output()
            .map_err(|e| format!("running ss: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "ss -tinH {filter} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let mut wire = Wire::default();
        let mut current: Option<((u16, u16), Direction)> = None;
        for line in text.lines() {
            if !line.starts_with(char::is_whitespace) {
                // STATE RECV-Q SEND-Q LOCAL PEER
                let fields: Vec<&str> = line.split_whitespace().collect();
                let port = |i: usize| {
                    fields
                        .get(i)
                        .and_then(|a| a.rsplit_once(':'))
                        .and_then(|(_, p)| p.parse::<u16>().ok())
                };
                current = match (port(3), port(4)) {
                    (Some(local), Some(peer)) => {
                        // The follower's end of a connection it dialed has the followee's
                        // port as its peer; the followee's end of it, as its local port; and
                        // the other way round for a connection the followee dialed.
                        let direction = if peer == followee_port || local == follower_port {
                            Some(Direction::Down)
                        } else if local == followee_port || peer == follower_port {
                            Some(Direction::Up)
                        } else {
                            None
                        };
                        direction.map(|d| ((local, peer), d))
                    }
                    _ => None,
                };
            } else if let Some((key, direction)) = current.take()
                && let Some(received) = line
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix("bytes_received:"))
                    .and_then(|v| v.parse::<u64>().ok())
            {
                wire.sockets.insert(key, (direction, received));
            }
        }
        Ok(wire)
    }

    /// Bytes (down, up) received since `before`, and how many sockets carried any.
    fn since(&self, before: &Wire) -> (u64, u64, usize) {
        let (mut down, mut up, mut sockets) = (0, 0, 0);
        for (key, (direction, received)) in &self.sockets {
            let earlier = before.sockets.get(key).map_or(0, |(_, b)| *b);
            let delta = received.saturating_sub(earlier);
            if delta > 0 {
                sockets += 1;
            }
            match direction {
                Direction::Down => down += delta,
                Direction::Up => up += delta,
            }
        }
        (down, up, sockets)
    }
}

/// One round's measurements.
struct Round {
    /// Posts the followee holds after this round.
    history: u64,
    written: Written,
    /// Size of the round's posts' signed objects.
    payload: u64,
    /// `Store::open` + `Node::start`.
    started: Duration,
    /// Restart → the followee's node verified (if seen).
    verified: Option<Duration>,
    /// Restart → every post stored.
    done: Duration,
    up: u64,
    down: u64,
    /// Connections from the follower to the followee when it was done.
    connections: u32,
    /// Socket ends that received bytes during the catch-up.
    sockets: usize,
}

fn print_results(posts: u64, rounds: &[Round], in_sync: &kith_node::SyncReport) -> Result<()> {
    println!(
        "Each round: the follower is stopped, the followee writes {posts} posts, the follower \
         restarts and syncs by itself.\n"
    );
    println!(
        "| round | followee's history | followee wrote {posts} posts in | restart: open + start | → followee verified | **→ all {posts} stored** | posts' JSON | bytes followee → follower | bytes follower → followee | **wire / posts** |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for (i, round) in rounds.iter().enumerate() {
        let total = round.up + round.down;
        println!(
            "| {} | {} posts | {:.2} s ({:.0}/s) | {:.1} ms | {} | **{:.3} s** | {:.2} MiB | {:.2} MiB | {:.2} MiB | **{:.3}×** ({:.3}× one way) |",
            i + 1,
            round.history,
            round.written.took.as_secs_f64(),
            posts as f64 / round.written.took.as_secs_f64(),
            support::ms(round.started),
            round
                .verified
                .map_or_else(|| "–".to_owned(), |d| format!("{:.1} ms", support::ms(d))),
            round.done.as_secs_f64(),
            mib(round.payload),
            mib(round.down),
            mib(round.up),
            total as f64 / round.payload as f64,
            round.down as f64 / round.payload as f64,
        );
    }
    println!();
    println!(
        "Connections from the follower to the followee when done, per round: {:?}; socket ends \
         that received bytes during the catch-up: {:?} (two per connection).",
        rounds.iter().map(|r| r.connections).collect::<Vec<_>>(),
        rounds.iter().map(|r| r.sockets).collect::<Vec<_>>()
    );
    println!(
        "A sync of an up-to-date follower afterwards: {} round trips, {} bytes of response bodies, \
         {} fetched, {} repaired.\n",
        in_sync.round_trips, in_sync.bytes, in_sync.fetched, in_sync.repaired
    );
    let worst_time = rounds
        .iter()
        .map(|r| r.done.as_secs_f64())
        .fold(0.0, f64::max);
    let worst_ratio = rounds
        .iter()
        .map(|r| (r.up + r.down) as f64 / r.payload as f64)
        .fold(0.0, f64::max);
    println!(
        "Target < {TARGET_SECONDS} s: {} (slowest round {worst_time:.3} s)",
        verdict(worst_time < TARGET_SECONDS)
    );
    println!(
        "Target < {TARGET_RATIO}× the posts' size on the wire: {} (worst round {worst_ratio:.3}×, both directions)",
        verdict(worst_ratio < TARGET_RATIO)
    );
    Ok(())
}
