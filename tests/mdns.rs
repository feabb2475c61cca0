//! LAN discovery: two `kith` processes in separate Linux network namespaces, joined by veth pairs
//! to a bridge, find each other by mDNS alone, with no bootstrap address.
//!
//! mDNS skips loopback interfaces, so it cannot be tested on 127.0.0.1, and it must never run in
//! the root namespace (it would announce test nodes to the host's real LAN). The test builds its
//! own little LAN (see `netns`): namespaces `kna<id>` and `knb<id>` for the nodes and `kbr<id>`
//! holding the bridge.

use std::{fs, os::unix::fs::PermissionsExt, time::Duration};

use crate::{
    netns::Netns,
    process::{CLI_TIMEOUT, KithProcess, assert_success, cli_ok, run_cli_with},
};

/// Upper bound for both nodes to discover and verify each other.
const DISCOVERY: Duration = Duration::from_secs(30);

/// Two hosts on one bridge, each in its own network namespace. Dropping it deletes everything.
struct Lan {
    /// Namespaces of the two hosts.
    hosts: [String; 2],
    /// IPv4 address of each host.
    addrs: [String; 2],
    /// Owns the namespaces.
    _netns: Netns,
}

impl Lan {
    /// Builds the LAN, or `None` (after saying why) when this machine does not allow it.
    fn create() -> Option<Lan> {
        let mut netns = Netns::create("the mDNS test", "kbr")?;
        let bridge_ns = netns.name("kbr");
        netns.bridge(&bridge_ns);
        let hosts = [netns.add("kna"), netns.add("knb")];
        // The namespaces are isolated from each other anyway; a subnet per process only keeps
        // the logs of concurrent runs apart.
        let subnet = format!("10.77.{}", std::process::id() as usize % 250 + 1);
        let addrs = [format!("{subnet}.1"), format!("{subnet}.2")];
        for (i, host) in hosts.iter().enumerate() {
            netns.attach(
                &bridge_ns,
                &format!("port{i}"),
                host,
                &format!("{}/24", addrs[i]),
            );
        }
        Some(Lan {
            hosts,
            addrs,
            _netns: netns,
        })
    }

    /// The command prefix that runs a program inside host `i`'s namespace.
    fn exec(&self, i: usize) -> [&str; 4] {
        Netns::exec(&self.hosts[i])
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
