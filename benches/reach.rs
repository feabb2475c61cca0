//! Reachability benchmark (issue 9): two home nodes behind NAT routers, in Linux network
//! namespaces (`tests/netns.rs`'s `NatTopology`: a bootstrap node that relays, and two homes
//! behind masquerading routers that drop unsolicited packets), against the same two nodes on
//! one shared network with no NAT.
//!
//! Three cases, one after the other, each on a fresh topology with fresh data directories:
//!
//! - **relayed**: both routers use a symmetric mapping (`--random-fully`): hole punching cannot
//!   work, everything goes through the relay;
//! - **direct**: port-preserving routers: the relayed connection is upgraded by hole punching;
//! - **lan**: A and B on the outside network itself, no router: the baseline.
//!
//! In each: A and B follow each other, then B is stopped and started again (its first start
//! only created its identity). Measured from that start, in B's own log: the first connection
//! to A (relayed or direct) and, in the direct case, the upgrade. Then A writes
//! [`PROPAGATION_POSTS`] posts one after the other with `kith post`, and B's event stream
//! (`kith events`) timestamps each arrival: propagation = arrival − the post's `created_at`
//! (both on this machine's clock). In the relayed case B is then stopped while A writes
//! [`CATCHUP_POSTS`] posts, and started again: the time until its sync logs have fetched them
//! all, the bytes the relay forwarded meanwhile (its outside interface's counters, in plus out,
//! halved) and the posts' bytes as B's sync received them.
//!
//! Run as root with a release build: `cargo build --release && cargo bench --bench reach`.
//! `KITH_BENCH_REACH_POSTS` and `KITH_BENCH_REACH_CATCHUP` change the two post counts.

mod support;

#[allow(dead_code)] // the tests use the rest of it
#[path = "../tests/netns.rs"]
mod netns;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use netns::{BOOTSTRAP_IP, Nat, NatTopology, Netns};
use support::{KithProcess, Percentiles, Result, env_number, kith_binary, ms, print_machine};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

/// Posts timed from A to B in each case.
const PROPAGATION_POSTS: u64 = 200;
/// Posts B catches up on through the relay.
const CATCHUP_POSTS: u64 = 10_000;
/// Upper bound of each wait.
const LIMIT: Duration = Duration::from_secs(180);
/// The log levels the measured events are logged at.
const RUST_LOG: &str = "info,kith_node::event_loop=debug,kith_node::services::social::sync=debug";

fn main() {
    support::run_main("reach", run);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Relayed,
    Direct,
    Lan,
}

async fn run() -> Result<()> {
    print_machine();
    let bin = kith_binary()?;
    let posts = env_number("KITH_BENCH_REACH_POSTS", PROPAGATION_POSTS)?;
    let catchup = env_number("KITH_BENCH_REACH_CATCHUP", CATCHUP_POSTS)?;
    println!();
    println!(
        "| case | B start → first connection to A | → direct (hole punch) | propagation p50 | p99 | max | posts |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut catchup_line = None;
    for case in [Case::Relayed, Case::Direct, Case::Lan] {
        let outcome = measure(
            &bin,
            case,
            posts,
            (case == Case::Relayed).then_some(catchup),
        )
        .await?;
        let Some(outcome) = outcome else {
            return Err("network namespaces or iptables are not available here".into());
        };
        let p = &outcome.propagation;
        println!(
            "| {case:?} | {:.0} ms ({}) | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
            ms(outcome.first_connection),
            if outcome.first_relayed {
                "relayed"
            } else {
                "direct"
            },
            outcome
                .upgrade
                .map_or_else(|| "—".to_owned(), |d| format!("{:.0} ms", ms(d))),
            p.p50,
            p.p99,
            p.max,
            outcome.delivered,
        );
        if let Some(c) = outcome.catchup {
            catchup_line = Some(c);
        }
    }
    if let Some(c) = catchup_line {
        println!();
        println!(
            "| catch-up through the relay | posts | time | posts/s | bytes through the relay | posts' bytes (B's sync) | ratio |"
        );
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| relayed | {} | {:.2} s | {:.0} | {} | {} | {:.2}× |",
            c.posts,
            c.time.as_secs_f64(),
            c.posts as f64 / c.time.as_secs_f64(),
            c.relay_bytes,
            c.sync_bytes,
            c.relay_bytes as f64 / c.sync_bytes.max(1) as f64
        );
    }
    Ok(())
}

struct Outcome {
    first_connection: Duration,
    first_relayed: bool,
    upgrade: Option<Duration>,
    propagation: Percentiles,
    delivered: usize,
    catchup: Option<Catchup>,
}

struct Catchup {
    posts: u64,
    time: Duration,
    relay_bytes: u64,
    sync_bytes: u64,
}

/// One node in a namespace.
struct Node {
    ns: String,
    bin: PathBuf,
    dir: tempfile::TempDir,
    args: Vec<String>,
    process: Option<KithProcess>,
}

impl Node {
    async fn start(bin: &Path, ns: &str, key: &str, args: Vec<String>) -> Result<Node> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let key_path = dir.path().join("swarm.key");
        std::fs::write(&key_path, key).map_err(|e| format!("writing swarm.key: {e}"))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("chmod swarm.key: {e}"))?;
        let mut node = Node {
            ns: ns.to_owned(),
            bin: bin.to_owned(),
            dir,
            args,
            process: None,
        };
        node.start_again().await?;
        Ok(node)
    }

    async fn start_again(&mut self) -> Result<()> {
        let process = KithProcess::start_in(
            &Netns::exec(&self.ns),
            &self.bin,
            self.dir.path(),
            &self.args,
            &[("RUST_LOG", RUST_LOG)],
            true,
        )
        .await?;
        self.process = Some(process);
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        match self.process.take() {
            Some(process) => process.terminate().await,
            None => Ok(()),
        }
    }

    fn process(&self) -> &KithProcess {
        self.process.as_ref().expect("the node runs")
    }

    fn peer_id(&self) -> String {
        self.process().banner.peer_id.clone()
    }

    /// Runs `kith <args>` against this node inside its namespace.
    async fn cli(&self, args: &[&str]) -> Result<String> {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(&self.bin)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .output()
            .await
            .map_err(|e| format!("running kith {}: {e}", args.join(" ")))?;
        if !output.status.success() {
            return Err(format!(
                "kith {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Waits for a log line with `message` whose fields include `fields`, and returns when it
    /// was written (its own timestamp).
    async fn wait_log(
        &self,
        message: &str,
        fields: &[(&str, &str)],
    ) -> Result<(SystemTime, serde_json::Value)> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            for line in self.process().log() {
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let f = &entry["fields"];
                if f["message"] == message && fields.iter().all(|(k, v)| f[*k] == *v) {
                    let at = entry["timestamp"]
                        .as_str()
                        .and_then(parse_rfc3339)
                        .ok_or_else(|| format!("a log line without a timestamp: {line}"))?;
                    return Ok((at, f.clone()));
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "{} never logged {message:?} {fields:?}{}",
                    self.ns,
                    self.process().tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `2026-12-07T23:20:03.332975Z` as a time.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<u64>().ok()?,
        t.next()?.parse::<u64>().ok()?,
    );
    let secs: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let whole = days * 86_400 + h * 3600 + min * 60;
    Some(UNIX_EPOCH + Duration::from_secs(whole) + Duration::from_secs_f64(secs))
}

fn since(start: SystemTime, at: SystemTime) -> Duration {
    at.duration_since(start).unwrap_or_default()
}

fn unix_ms(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

/// Bytes in plus out of `dev` in namespace `ns`.
fn interface_bytes(ns: &str, dev: &str) -> Result<u64> {
    let read = |what: &str| -> Result<u64> {
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "cat",
                &format!("/sys/class/net/{dev}/statistics/{what}"),
            ])
            .output()
            .map_err(|e| format!("reading {what}: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("{what} of {dev} in {ns}: {e}"))
    };
    Ok(read("rx_bytes")? + read("tx_bytes")?)
}

async fn measure(
    bin: &Path,
    case: Case,
    posts: u64,
    catchup: Option<u64>,
) -> Result<Option<Outcome>> {
    let nat = if case == Case::Relayed {
        Nat::Symmetric
    } else {
        Nat::PortPreserving
    };
    let Some(mut topology) = NatTopology::create("the reach bench", nat) else {
        return Ok(None);
    };
    let (a_ns, b_ns) = match case {
        Case::Lan => (
            topology.add_outside_host("kla").0,
            topology.add_outside_host("klb").0,
        ),
        _ => (topology.homes[0].clone(), topology.homes[1].clone()),
    };
    let key_dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let key = String::from_utf8_lossy(
        &std::process::Command::new(bin)
            .arg("--data-dir")
            .arg(key_dir.path())
            .args(["network", "new"])
            .output()
            .map_err(|e| format!("kith network new: {e}"))?
            .stdout,
    )
    .into_owned();

    let mut bootstrap = Node::start(
        bin,
        &topology.bootstrap,
        &key,
        NatTopology::node_args(&["--role", "bootstrap"]),
    )
    .await?;
    let entry = format!("/ip4/{BOOTSTRAP_IP}/tcp/4001/p2p/{}", bootstrap.peer_id());
    let member = NatTopology::node_args(&["--bootstrap", &entry]);
    let a = Node::start(bin, &a_ns, &key, member.clone()).await?;
    let mut b = Node::start(bin, &b_ns, &key, member).await?;
    let (a_id, b_id) = (a.peer_id(), b.peer_id());
    b.cli(&["follow", &a_id]).await?;
    b.stop().await?;
    a.cli(&["follow", &b_id]).await?;

    // B's start: the first connection with A, and the upgrade.
    let started = SystemTime::now();
    b.start_again().await?;
    let (at, fields) = b
        .wait_log("connection established", &[("peer", &a_id)])
        .await?;
    let first_connection = since(started, at);
    let first_relayed = fields["relayed"] == true;
    let upgrade = if case == Case::Direct {
        let (at, _) = b
            .wait_log(
                "relayed connection upgraded to a direct one",
                &[("peer", &a_id)],
            )
            .await?;
        Some(since(started, at))
    } else {
        None
    };

    // Propagation A → B.
    let mut events = Command::new("ip")
        .args(["netns", "exec", &b_ns])
        .arg(bin)
        .arg("--data-dir")
        .arg(b.dir.path())
        .arg("events")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("kith events: {e}"))?;
    let mut lines = BufReader::new(events.stdout.take().ok_or("stdout is piped")?).lines();
    // The stream is live once B's own marker post comes through it.
    let mut live = false;
    for attempt in 0..20 {
        let marker = format!("marker {attempt}");
        b.cli(&["post", &marker]).await?;
        let seen = tokio::time::timeout(Duration::from_millis(500), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(&marker) {
                    return true;
                }
            }
            false
        })
        .await;
        if seen == Ok(true) {
            live = true;
            break;
        }
    }
    if !live {
        return Err("B's event stream never came up".into());
    }
    let writer = {
        let a_cli = (a.ns.clone(), a.bin.clone(), a.dir.path().to_owned());
        tokio::spawn(async move {
            for i in 0..posts {
                let status = Command::new("ip")
                    .args(["netns", "exec", &a_cli.0])
                    .arg(&a_cli.1)
                    .arg("--data-dir")
                    .arg(&a_cli.2)
                    .args(["post", &format!("propagation {i}")])
                    .stdout(Stdio::null())
                    .status()
                    .await;
                if !status.is_ok_and(|s| s.success()) {
                    return Err(format!("post {i} failed"));
                }
            }
            Ok(())
        })
    };
    let mut latencies = Vec::new();
    let collect = async {
        while latencies.len() < posts as usize {
            let Ok(Some(line)) = lines.next_line().await else {
                break;
            };
            let arrived = unix_ms(SystemTime::now());
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let post = &event["post"];
            if event["type"] == "post"
                && post["author"] == a_id.as_str()
                && post["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("propagation "))
                && let Some(created) = post["created_at"].as_f64()
            {
                latencies.push(arrived - created);
            }
        }
    };
    let _ = tokio::time::timeout(LIMIT, collect).await;
    writer.await.map_err(|e| format!("writer: {e}"))??;
    drop(events);
    let delivered = latencies.len();
    let propagation = Percentiles::of(&latencies).ok_or("no post arrived")?;

    let catchup = match catchup {
        Some(n) => {
            b.stop().await?;
            let script = format!(
                "for i in $(seq {n}); do {} --data-dir {} post \"catch-up $i\" >/dev/null || exit 1; done",
                a.bin.display(),
                a.dir.path().display()
            );
            let wrote = Command::new("ip")
                .args(["netns", "exec", &a.ns, "sh", "-c", &script])
                .status()
                .await
                .map_err(|e| format!("posting loop: {e}"))?;
            if !wrote.success() {
                return Err("the posting loop failed".into());
            }
            let before = interface_bytes(&topology.bootstrap, "eth0")?;
            let started = SystemTime::now();
            b.start_again().await?;
            let deadline = tokio::time::Instant::now() + LIMIT;
            let (done_at, sync_bytes) = loop {
                let (mut fetched, mut sync_bytes, mut done) = (0u64, 0u64, None);
                for line in b.process().log() {
                    let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    let f = &entry["fields"];
                    if f["message"] != "synced" || f["peer"] != a_id.as_str() {
                        continue;
                    }
                    let report = f["report"].as_str().unwrap_or_default();
                    fetched += field_of(report, "fetched") + field_of(report, "repaired");
                    sync_bytes += field_of(report, "bytes");
                    if fetched >= n {
                        done = entry["timestamp"].as_str().and_then(parse_rfc3339);
                        break;
                    }
                }
                if let Some(at) = done {
                    break (at, sync_bytes);
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!("B fetched only {fetched} of {n} posts"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let after = interface_bytes(&topology.bootstrap, "eth0")?;
            Some(Catchup {
                posts: n,
                time: since(started, done_at),
                relay_bytes: (after - before) / 2,
                sync_bytes,
            })
        }
        None => None,
    };

    for mut node in [a, b] {
        node.stop().await?;
    }
    bootstrap.stop().await?;
    drop(topology);
    Ok(Some(Outcome {
        first_connection,
        first_relayed,
        upgrade,
        propagation,
        delivered,
        catchup,
    }))
}

/// `name: N` out of a `Debug` form like `SyncReport { fetched: 3, repaired: 0, … }`.
fn field_of(report: &str, name: &str) -> u64 {
    report
        .split_once(&format!("{name}: "))
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
