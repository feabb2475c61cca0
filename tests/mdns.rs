//! LAN discovery: two `kith` processes in separate Linux network namespaces, joined by veth pairs
//! to a bridge, find each other by mDNS alone, with no bootstrap address.
//!
//! mDNS skips loopback interfaces, so it cannot be tested on 127.0.0.1, and it must never run in
//! the root namespace (it would announce test nodes to the host's real LAN). The test builds its
//! own little LAN: namespaces `kna<id>` and `knb<id>` for the nodes and `kbr<id>` holding the
//! bridge, so the root namespace is untouched. `<id>` is the process id and a per-test counter,
//! which keeps concurrent test runs apart; a guard deletes the namespaces (and with them the
//! interfaces) when the test ends, panics included.
//!
//! The test needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN). Without `ip`, or when creating a
//! namespace is not permitted, it prints why and returns; any other failure is a test failure.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use crate::process::{CLI_TIMEOUT, KithProcess, assert_success, cli_ok, run_cli_with};

/// Upper bound for both nodes to discover and verify each other.
const DISCOVERY: Duration = Duration::from_secs(30);

static NEXT_LAN: AtomicU32 = AtomicU32::new(0);

/// Runs `ip <args>`, returning its output; `Err` only if `ip` cannot be run at all.
fn ip(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("ip").args(args).output()
}

/// Runs `ip <args>` and fails the test unless it succeeds.
fn ip_ok(args: &[&str]) {
    let output = ip(args).unwrap_or_else(|e| panic!("running ip {}: {e}", args.join(" ")));
    assert!(
        output.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Two hosts on one bridge, each in its own network namespace. Dropping it deletes everything.
struct Lan {
    /// Namespaces of the two hosts.
    hosts: [String; 2],
    /// IPv4 address of each host.
    addrs: [String; 2],
    /// Every namespace created so far, deleted on drop.
    created: Vec<String>,
}

impl Lan {
    /// Builds the LAN, or `None` (after saying why) when this machine does not allow it.
    fn create() -> Option<Lan> {
        let (pid, n) = (std::process::id(), NEXT_LAN.fetch_add(1, Ordering::Relaxed));
        // pid ≤ 7 digits, so the names stay within the 15 characters `ip` allows.
        let id = format!("{pid}x{n}");
        // A /24 per LAN. The namespaces are isolated from each other anyway; distinct subnets
        // only keep the logs of concurrent runs apart.
        let subnet = format!("10.77.{}", (pid as usize * 7 + n as usize) % 250 + 1);
        let mut lan = Lan {
            hosts: [format!("kna{id}"), format!("knb{id}")],
            addrs: [format!("{subnet}.1"), format!("{subnet}.2")],
            created: Vec::new(),
        };
        let bridge_ns = format!("kbr{id}");
        // Namespaces with these names can only be left over from a test process that had our
        // pid and was killed before its guard ran: nobody owns them any more.
        for ns in [&bridge_ns, &lan.hosts[0], &lan.hosts[1]] {
            let _ = ip(&["netns", "del", ns]);
        }

        // The probe: the first namespace tells whether this machine lets us do this at all.
        match ip(&["netns", "add", &bridge_ns]) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("skipping the mDNS test: the `ip` command (iproute2) is not installed");
                return None;
            }
            Err(e) => panic!("running ip netns add: {e}"),
            Ok(output) if !output.status.success() => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                if stderr.contains("Operation not permitted")
                    || stderr.contains("Permission denied")
                {
                    println!(
                        "skipping the mDNS test: creating a network namespace is not permitted ({})",
                        stderr.trim()
                    );
                    return None;
                }
                panic!("`ip netns add {bridge_ns}` failed: {}", stderr.trim());
            }
            Ok(_) => lan.created.push(bridge_ns.clone()),
        }

        ip_ok(&[
            "-n",
            &bridge_ns,
            "link",
            "add",
            "name",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip_ok(&["-n", &bridge_ns, "link", "set", "br0", "up"]);
        for (i, host) in lan.hosts.clone().iter().enumerate() {
            ip_ok(&["netns", "add", host]);
            lan.created.push(host.clone());
            // Both ends are created directly in their namespaces: nothing appears in the root one.
            let port = format!("port{i}");
            ip_ok(&[
                "link", "add", "name", "eth0", "netns", host, "type", "veth", "peer", "name",
                &port, "netns", &bridge_ns,
            ]);
            ip_ok(&["-n", &bridge_ns, "link", "set", &port, "master", "br0"]);
            ip_ok(&["-n", &bridge_ns, "link", "set", &port, "up"]);
            ip_ok(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("{}/24", lan.addrs[i]),
                "dev",
                "eth0",
            ]);
            ip_ok(&["-n", host, "link", "set", "eth0", "up"]);
            // The API listens on 127.0.0.1 inside the namespace.
            ip_ok(&["-n", host, "link", "set", "lo", "up"]);
        }
        Some(lan)
    }

    /// The command prefix that runs a program inside host `i`'s namespace (`ip netns exec`
    /// exec's the program, so the child's pid is the program's pid).
    fn exec(&self, i: usize) -> [&str; 4] {
        ["ip", "netns", "exec", &self.hosts[i]]
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes its interfaces, and a veth pair goes with either end.
        for ns in self.created.iter().rev() {
            match ip(&["netns", "del", ns]) {
                Ok(output) if output.status.success() => {}
                Ok(output) => eprintln!(
                    "cleanup: `ip netns del {ns}` failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                Err(e) => eprintln!("cleanup: running ip netns del {ns}: {e}"),
            }
        }
    }
}

/// The default listen address (all interfaces, the well-known port), as on a real LAN.
fn node_args() -> Vec<String> {
    [
        "--listen",
        "/ip4/0.0.0.0/tcp/4001",
        "--api",
        "127.0.0.1:0",
        "--mdns",
        "true",
        "--log-format",
        "json",
    ]
    .map(String::from)
    .to_vec()
}

#[tokio::test]
async fn nodes_on_one_lan_find_each_other_by_mdns() {
    let Some(lan) = Lan::create() else { return };

    let dirs = [
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    ];
    let key = cli_ok(dirs[0].path(), &["network", "new"]).await;
    for dir in &dirs {
        let path = dir.path().join("swarm.key");
        fs::write(&path, &key).expect("writing swarm.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod swarm.key");
    }

    let a = KithProcess::start_with(&lan.exec(0), &node_args(), dirs[0].path()).await;
    let b = KithProcess::start_with(&lan.exec(1), &node_args(), dirs[1].path()).await;
    assert_eq!(a.banner.network, b.banner.network);

    // Both discover each other by mDNS, but only one dials: the node breaks the tie of a mutual
    // discovery (to avoid a TCP simultaneous open), so the other sees the connection come in and
    // verifies its peer as `inbound` (or, if the first did not dial in time, dials itself).
    let a_wants = [("peer", b.peer_id())];
    let b_wants = [("peer", a.peer_id())];
    let (a_found_b, b_found_a) = tokio::join!(
        a.wait_for_event("peer verified", &a_wants, DISCOVERY),
        b.wait_for_event("peer verified", &b_wants, DISCOVERY),
    );
    let sources =
        [&a_found_b, &b_found_a].map(|fields| fields.get("source").cloned().unwrap_or_default());
    assert!(
        sources.iter().all(|s| s == "mdns" || s == "inbound")
            && sources.contains(&"mdns".to_owned()),
        "the nodes can only have found each other by mDNS (logged sources: {sources:?})"
    );
    for fields in [&a_found_b, &b_found_a] {
        assert_eq!(
            fields.get("role").map(String::as_str),
            Some("member"),
            "{fields:?}"
        );
    }

    for (i, (me, other)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let output = run_cli_with(
            &lan.exec(i),
            &me.data_dir,
            &["peers", "--json"],
            CLI_TIMEOUT,
        )
        .await;
        assert_success(&output, "peers --json");
        let peers: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("`kith peers --json` prints JSON");
        let entry = peers
            .as_array()
            .and_then(|list| list.iter().find(|p| p["peer_id"] == other.peer_id()))
            .unwrap_or_else(|| {
                panic!(
                    "{} does not list {}: {peers:#}",
                    me.peer_id(),
                    other.peer_id()
                )
            });
        assert_eq!(entry["connected"], true, "{entry:#}");
        // The peer book keeps how the peer was *first* found: the node that deferred its dial
        // records the mDNS discovery even though it verified the peer on an inbound connection.
        assert!(
            entry["source"] == "mdns" || entry["source"] == sources[i].as_str(),
            "the peer list and the log disagree on the source: {entry:#}"
        );
        let addrs = entry["addrs"].to_string();
        assert!(
            addrs.contains(&lan.addrs[1 - i]),
            "the peer's LAN address should be known: {entry:#}"
        );
    }

    assert!(a.terminate().await.success());
    assert!(b.terminate().await.success());
}
