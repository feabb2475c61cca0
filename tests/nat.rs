//! Two home servers behind two NAT routers exchange posts: through a relay, and directly once
//! hole punching has upgraded the connection.
//!
//! The topology is `netns::NatTopology`: a bootstrap node (and relay) on an outside network,
//! and two homes, each behind its own masquerading router that drops unsolicited packets. The
//! outside uses a private range, so nothing here may assume that RFC 1918 means unreachable.
//! The nodes are real `kith run` processes; the test talks to them with the `kith` CLI run
//! inside their namespaces and reads their event streams.

use std::{fs, os::unix::fs::PermissionsExt, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{
    netns::{BOOTSTRAP_IP, Nat, NatTopology as Topology, Netns},
    process::{CLI_TIMEOUT, KITH, KithProcess, assert_success, cli_ok, run_cli_with},
};

/// Upper bound for a home node to hold a relay reservation after it starts: the relay must
/// first learn its own address (an AutoNAT probe round of 5 s, dial-back included).
const RESERVATION: Duration = Duration::from_secs(45);
/// Upper bound for a post to reach a follower once both follow each other.
const DELIVERY: Duration = Duration::from_secs(30);
/// Upper bound for a relayed connection to be upgraded by hole punching.
const UPGRADE: Duration = Duration::from_secs(60);

/// One node of the topology and the namespace it runs in.
struct Host {
    ns: String,
    args: Vec<String>,
    /// `None` while stopped.
    running: Option<KithProcess>,
    dir: tempfile::TempDir,
}

impl Host {
    async fn start(ns: &str, key: &str, args: &[String]) -> Host {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("swarm.key");
        fs::write(&path, key).expect("writing swarm.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod swarm.key");
        let mut host = Host {
            ns: ns.to_owned(),
            args: args.to_vec(),
            running: None,
            dir,
        };
        host.start_again().await;
        host
    }

    /// Starts the node on its data directory (after [`stop`](Self::stop)).
    async fn start_again(&mut self) {
        assert!(self.running.is_none(), "{} is already running", self.ns);
        self.running = Some(
            KithProcess::start_with(&Netns::exec(&self.ns), &self.args, self.dir.path()).await,
        );
    }

    /// Stops the node with SIGTERM; it must exit cleanly.
    async fn stop(&mut self) {
        let process = self.running.take().expect("the node is running");
        assert!(
            process.terminate().await.success(),
            "{} stops cleanly",
            self.ns
        );
    }

    fn process(&self) -> &KithProcess {
        self.running.as_ref().expect("the node is running")
    }

    fn peer_id(&self) -> &str {
        self.process().peer_id()
    }

    /// Runs a client command against this node, inside its namespace; fails unless it works.
    async fn cli(&self, args: &[&str]) -> String {
        let output = run_cli_with(&Netns::exec(&self.ns), self.dir.path(), args, CLI_TIMEOUT).await;
        assert_success(&output, &args.join(" "));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    async fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args).await;
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("`kith {}`: {e}: {out}", args.join(" ")))
    }

    /// The node's event stream (`kith events`), read line by line, once it is live: the node
    /// has no "subscribed" event, so the owner posts a marker and waits for its own post to
    /// come through (an event before that could be missed).
    async fn events(&self) -> Events {
        let mut events = self.spawn_events();
        for attempt in 1..=20 {
            let marker = format!("event stream of {} is live ({attempt})", self.peer_id());
            self.cli(&["post", &marker]).await;
            let own_post =
                |e: &serde_json::Value| e["type"] == "post" && e["post"]["text"] == marker;
            if events
                .try_wait(Duration::from_millis(500), own_post)
                .await
                .is_some()
            {
                return events;
            }
        }
        panic!("the event stream of {} never came up", self.peer_id());
    }

    fn spawn_events(&self) -> Events {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns, KITH, "--data-dir"])
            .arg(self.dir.path())
            .arg("events")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning kith events");
        let lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        Events {
            _child: child,
            lines,
        }
    }

    /// This node's view of `peer` in `kith peers --json`.
    async fn peer_entry(&self, peer: &str) -> Option<serde_json::Value> {
        let peers = self.cli_json(&["peers", "--json"]).await;
        peers
            .as_array()?
            .iter()
            .find(|p| p["peer_id"] == peer)
            .cloned()
    }
}

/// Upper bound for B to catch up on A's posts after it comes back.
const CATCH_UP: Duration = Duration::from_secs(90);

impl Host {
    /// How many posts by `author` whose text starts with `prefix` the home timeline holds,
    /// paging through all of it.
    async fn count_posts_by(&self, author: &str, prefix: &str) -> usize {
        let mut count = 0;
        let mut before: Option<String> = None;
        loop {
            let mut args = vec!["timeline", "--json", "--limit", "200"];
            if let Some(cursor) = &before {
                args.extend(["--before", cursor]);
            }
            let page = self.cli_json(&args).await;
            count += page["posts"]
                .as_array()
                .expect("a page of posts")
                .iter()
                .filter(|p| {
                    p["author"] == author
                        && p["text"].as_str().is_some_and(|t| t.starts_with(prefix))
                })
                .count();
            match page["next"].as_str() {
                Some(next) => before = Some(next.to_owned()),
                None => return count,
            }
        }
    }

    /// Waits until the timeline holds `want` such posts. A sync has no event of its own that a
    /// freshly started node's stream is sure to catch, so this counts every 2 s, within `limit`.
    async fn wait_for_posts_by(
        &self,
        author: &str,
        prefix: &str,
        want: usize,
        limit: Duration,
    ) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let have = self.count_posts_by(author, prefix).await;
            if have >= want {
                return have;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} has {have} of {want} posts by {author} after {limit:?}",
                self.peer_id()
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// A node's event stream.
struct Events {
    _child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Events {
    /// The next event satisfying `predicate`, within `limit`; fails saying `what` otherwise.
    async fn wait(
        &mut self,
        what: &str,
        limit: Duration,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        match self.try_wait(limit, predicate).await {
            Some(Some(event)) => event,
            Some(None) => panic!("the event stream ended while waiting for {what}"),
            None => panic!("no {what} within {limit:?}"),
        }
    }

    /// The next event satisfying `predicate`: `None` if `limit` passed first, `Some(None)` if
    /// the stream ended.
    async fn try_wait(
        &mut self,
        limit: Duration,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<Option<serde_json::Value>> {
        tokio::time::timeout(limit, async {
            while let Ok(Some(line)) = self.lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && predicate(&event)
                {
                    return Some(event);
                }
            }
            None
        })
        .await
        .ok()
    }

    async fn post(&mut self, author: &str, text: &str, limit: Duration) -> serde_json::Value {
        self.wait(&format!("post {text:?} by {author}"), limit, |e| {
            e["type"] == "post" && e["post"]["author"] == author && e["post"]["text"] == text
        })
        .await
    }
}

/// The bootstrap/relay and the two homes, running, each home holding a relay reservation.
struct Running {
    bootstrap: Host,
    a: Host,
    b: Host,
    _topology: Topology,
}

async fn start(nat: Nat) -> Option<Running> {
    let topology = Topology::create("the NAT test", nat)?;
    let key_dir = tempfile::tempdir().expect("temp dir");
    let key = cli_ok(key_dir.path(), &["network", "new"]).await;
    let bootstrap = Host::start(
        &topology.bootstrap,
        &key,
        &Topology::node_args(&["--role", "bootstrap"]),
    )
    .await;
    let entry = format!("/ip4/{BOOTSTRAP_IP}/tcp/4001/p2p/{}", bootstrap.peer_id());
    let member = Topology::node_args(&["--bootstrap", &entry]);
    let a = Host::start(&topology.homes[0], &key, &member).await;
    let b = Host::start(&topology.homes[1], &key, &member).await;
    for home in [&a, &b] {
        home.process()
            .wait_for_event(
                "reserved a slot on a relay",
                &[("relay", bootstrap.peer_id())],
                RESERVATION,
            )
            .await;
    }
    Some(Running {
        bootstrap,
        a,
        b,
        _topology: topology,
    })
}

impl Running {
    /// A and B follow each other, exchange a post each, a reply and a like; both see all of it.
    async fn converse(&self) {
        let (a, b) = (&self.a, &self.b);
        let mut a_events = a.events().await;
        let mut b_events = b.events().await;
        a.cli(&["follow", b.peer_id()]).await;
        b.cli(&["follow", a.peer_id()]).await;

        b.cli(&["post", "hello from home B"]).await;
        let post = a_events
            .post(b.peer_id(), "hello from home B", DELIVERY)
            .await;
        let post_id = post["post"]["id"]
            .as_str()
            .expect("a post has an id")
            .to_owned();

        a.cli(&["post", "--reply-to", &post_id, "hello back from A"])
            .await;
        a.cli(&["like", &post_id]).await;
        b_events
            .post(a.peer_id(), "hello back from A", DELIVERY)
            .await;
        b_events
            .wait("the like of B's post", DELIVERY, |e| {
                e["type"] == "like" && e.to_string().contains(&post_id)
            })
            .await;
        a.cli(&["post", "a post of A"]).await;
        b_events.post(a.peer_id(), "a post of A", DELIVERY).await;

        // Both timelines hold the same three posts.
        for home in [a, b] {
            let timeline = home.cli_json(&["timeline", "--json"]).await;
            let texts: Vec<&str> = timeline["posts"]
                .as_array()
                .expect("a page of posts")
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect();
            for text in ["hello from home B", "hello back from A", "a post of A"] {
                assert!(
                    texts.contains(&text),
                    "{} lacks {text:?}: {texts:?}",
                    home.peer_id()
                );
            }
        }
        let liked = b.cli_json(&["show", &post_id, "--json"]).await;
        assert!(
            liked.to_string().contains("\"like_count\":1"),
            "B's post shows A's like: {liked:#}"
        );
    }
}

/// The owner sees that the node is reachable through the relay, and why.
async fn assert_relayed_status(home: &Host, relay: &str) {
    let status = home.cli(&["status"]).await;
    assert!(status.contains("reach:     relayed"), "{status}");
    assert!(
        status.contains(relay),
        "the status names the relay: {status}"
    );
}

#[tokio::test]
async fn homes_behind_nat_exchange_posts_and_upgrade_to_a_direct_connection() {
    let Some(net) = start(Nat::PortPreserving).await else {
        return;
    };
    assert_relayed_status(&net.a, net.bootstrap.peer_id()).await;
    net.converse().await;

    // Hole punching upgrades the relayed connection (whichever side reports it first); the
    // direct connection goes to B's router.
    let upgraded = "relayed connection upgraded to a direct one";
    let (a_peer, b_peer) = ([("peer", net.b.peer_id())], [("peer", net.a.peer_id())]);
    tokio::select! {
        _ = net.a.process().wait_for_event(upgraded, &a_peer, UPGRADE) => {}
        _ = net.b.process().wait_for_event(upgraded, &b_peer, UPGRADE) => {}
    }
    let a_sees = net.a.peer_entry(net.b.peer_id()).await.expect("A knows B");
    let b_sees = net.b.peer_entry(net.a.peer_id()).await.expect("B knows A");
    assert_eq!(a_sees["connection"], "direct", "{a_sees:#}");
    assert_eq!(b_sees["connection"], "direct", "{b_sees:#}");
    // Whichever side dialed lists the other's router as the live address.
    assert!(
        a_sees["addrs"].to_string().contains("/ip4/10.99.0.3/tcp/")
            || b_sees["addrs"].to_string().contains("/ip4/10.99.0.2/tcp/"),
        "the direct connection goes router to router: {a_sees:#} {b_sees:#}"
    );
    // Traffic between them goes on without the relay.
    let mut a_events = net.a.events().await;
    net.b.cli(&["post", "after the upgrade"]).await;
    a_events
        .post(net.b.peer_id(), "after the upgrade", DELIVERY)
        .await;
}

/// Upper bound for the homes to be back on a restarted relay: they notice the lost connection
/// at their next reconnect tick (30 s) and reserve again.
const RELAY_BACK: Duration = Duration::from_secs(60);
/// Posts A writes while B is offline.
const OFFLINE_POSTS: usize = 1000;

#[tokio::test]
async fn homes_behind_symmetric_nat_keep_working_through_the_relay() {
    let Some(mut net) = start(Nat::Symmetric).await else {
        return;
    };
    net.converse().await;
    let entry = net.a.peer_entry(net.b.peer_id()).await.expect("A knows B");
    assert_eq!(entry["connection"], "relayed", "{entry:#}");
    assert!(
        entry.to_string().contains("p2p-circuit"),
        "A reaches B through the relay: {entry:#}"
    );

    // The relay restarts: both homes reserve again by themselves and delivery resumes.
    let relay = net.bootstrap.peer_id().to_owned();
    net.bootstrap.stop().await;
    net.bootstrap.start_again().await;
    for home in [&net.a, &net.b] {
        home.process()
            .wait_for_nth_event(
                "reserved a slot on a relay",
                &[("relay", &relay)],
                2,
                RELAY_BACK,
            )
            .await;
    }
    let mut b_events = net.b.events().await;
    net.a.cli(&["post", "after the relay came back"]).await;
    b_events
        .post(net.a.peer_id(), "after the relay came back", RELAY_BACK)
        .await;
    drop(b_events);

    // B is offline while A writes; back behind its NAT, B catches up through the relay.
    net.b.stop().await;
    let script = format!(
        "for i in $(seq {OFFLINE_POSTS}); do {KITH} --data-dir {} post \"while B was away $i\" >/dev/null || exit 1; done",
        net.a.dir.path().display()
    );
    let wrote = Command::new("ip")
        .args(["netns", "exec", &net.a.ns, "sh", "-c", &script])
        .status()
        .await
        .expect("running the posting loop");
    assert!(wrote.success(), "A wrote {OFFLINE_POSTS} posts");
    net.b.start_again().await;
    let caught_up = net
        .b
        .wait_for_posts_by(
            net.a.peer_id(),
            "while B was away ",
            OFFLINE_POSTS,
            CATCH_UP,
        )
        .await;
    assert_eq!(caught_up, OFFLINE_POSTS);
}
