//! Linux network namespaces for tests that need real networks: a LAN for mDNS, NAT routers for
//! reachability. The root namespace is never touched: every interface is created inside the
//! namespaces, and a guard deletes them (and with them their interfaces) when the test ends,
//! panics included.
//!
//! Names carry the process id and a per-process counter, which keeps concurrent test runs apart
//! and stays within the 15 characters `ip` allows. The tests need root (CAP_SYS_ADMIN and
//! CAP_NET_ADMIN); without `ip`, or when creating a namespace is not permitted, [`Netns::create`]
//! prints why and returns `None`, and the test returns. Any other failure is a test failure.

use std::{
    path::Path,
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
};

static NEXT_SET: AtomicU32 = AtomicU32::new(0);

/// Runs `ip <args>`, returning its output; `Err` only if `ip` cannot be run at all.
fn ip(args: &[&str]) -> std::io::Result<Output> {
    Command::new("ip").args(args).output()
}

/// Runs `ip <args>` and fails the test unless it succeeds.
pub fn ip_ok(args: &[&str]) {
    let output = ip(args).unwrap_or_else(|e| panic!("running ip {}: {e}", args.join(" ")));
    assert!(
        output.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Runs `program args` inside namespace `ns` and fails the test unless it succeeds.
pub fn in_ns_ok(ns: &str, program: &str, args: &[&str]) {
    let output = Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program} in {ns}: {e}"));
    assert!(
        output.status.success(),
        "`{program} {}` in {ns} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// A set of namespaces owned by one test. Dropping it deletes them all.
pub struct Netns {
    /// The suffix shared by this set's namespace names.
    id: String,
    created: Vec<String>,
}

impl Netns {
    /// Starts a set, or `None` (after saying why, naming `test`) when this machine does not
    /// allow network namespaces. The first namespace, `<prefix><id>`, is created as the probe.
    pub fn create(test: &str, prefix: &str) -> Option<Netns> {
        let (pid, n) = (std::process::id(), NEXT_SET.fetch_add(1, Ordering::Relaxed));
        // pid ≤ 7 digits plus a short counter: prefixes of up to 4 characters fit.
        let mut set = Netns {
            id: format!("{pid}x{n}"),
            created: Vec::new(),
        };
        let first = set.name(prefix);
        // A namespace with this name can only be left over from a test process that had our
        // pid and was killed before its guard ran: nobody owns it any more.
        let _ = ip(&["netns", "del", &first]);
        match ip(&["netns", "add", &first]) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("skipping {test}: the `ip` command (iproute2) is not installed");
                None
            }
            Err(e) => panic!("running ip netns add: {e}"),
            Ok(output) if !output.status.success() => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                if stderr.contains("Operation not permitted")
                    || stderr.contains("Permission denied")
                {
                    println!(
                        "skipping {test}: creating a network namespace is not permitted ({})",
                        stderr.trim()
                    );
                    return None;
                }
                panic!("`ip netns add {first}` failed: {}", stderr.trim());
            }
            Ok(_) => {
                set.created.push(first);
                Some(set)
            }
        }
    }

    /// The full name of this set's namespace `prefix`.
    pub fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.id)
    }

    /// Adds namespace `<prefix><id>` with its loopback up, and returns its name.
    pub fn add(&mut self, prefix: &str) -> String {
        let name = self.name(prefix);
        let _ = ip(&["netns", "del", &name]);
        ip_ok(&["netns", "add", &name]);
        self.created.push(name.clone());
        ip_ok(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// Connects namespace `a` (interface `a_if`) and `b` (interface `b_if`) with a veth pair,
    /// both ends created directly in their namespaces and brought up.
    pub fn veth(&self, a: &str, a_if: &str, b: &str, b_if: &str) {
        ip_ok(&[
            "link", "add", "name", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns",
            b,
        ]);
        ip_ok(&["-n", a, "link", "set", a_if, "up"]);
        ip_ok(&["-n", b, "link", "set", b_if, "up"]);
    }

    /// Creates bridge `br0` in namespace `ns` (multicast snooping off, so mDNS floods).
    pub fn bridge(&self, ns: &str) {
        ip_ok(&[
            "-n",
            ns,
            "link",
            "add",
            "name",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip_ok(&["-n", ns, "link", "set", "br0", "up"]);
    }

    /// Connects host namespace `host` (as `eth0`, address `cidr`) to the bridge in `bridge_ns`.
    pub fn attach(&self, bridge_ns: &str, port: &str, host: &str, cidr: &str) {
        self.veth(host, "eth0", bridge_ns, port);
        ip_ok(&["-n", bridge_ns, "link", "set", port, "master", "br0"]);
        ip_ok(&["-n", host, "addr", "add", cidr, "dev", "eth0"]);
    }

    /// The command prefix that runs a program inside namespace `ns` (`ip netns exec` exec's the
    /// program, so the child's pid is the program's pid).
    pub fn exec(ns: &str) -> [&str; 4] {
        ["ip", "netns", "exec", ns]
    }
}

impl Drop for Netns {
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

/// How a router maps its LAN's connections to its outside address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Masquerade keeping source ports where it can (most home routers): hole punching works.
    PortPreserving,
    /// A new random source port per connection (`--random-fully`, a symmetric NAT): hole
    /// punching cannot work, everything must keep working over the relay.
    Symmetric,
}

/// Two homes behind NAT routers and a bootstrap node on a shared outside network:
///
/// ```text
///   kbs: bootstrap + relay 10.99.0.1 ──┐
///                                      ├── kin: bridge br0 (the "internet", 10.99.0.0/24)
///   kra: router 10.99.0.2 ─────────────┤
///     └─ lan0 192.168.1.1 ── kha: home A 192.168.1.10
///   krb: router 10.99.0.3 ─────────────┘
///     └─ lan0 192.168.2.1 ── khb: home B 192.168.2.10
/// ```
///
/// Each router masquerades its LAN behind its outside address and drops every unsolicited
/// packet from outside (forwarded or to itself), as a home router does. The "internet" uses a
/// private range, as carrier-grade NAT and many real networks do. Dropping it deletes
/// everything.
pub struct NatTopology {
    /// The bootstrap node's namespace.
    pub bootstrap: String,
    /// The two homes' namespaces.
    pub homes: [String; 2],
    /// The bridge namespace, and the next free host number on it (for `add_outside_host`).
    #[allow(dead_code)]
    internet: String,
    #[allow(dead_code)]
    next_host: u8,
    netns: Netns,
}

/// The bootstrap node's address on the outside network.
pub const BOOTSTRAP_IP: &str = "10.99.0.1";

impl NatTopology {
    /// Builds the topology, or `None` (after saying why, naming `test`) when this machine
    /// cannot: no namespaces, or no iptables.
    pub fn create(test: &str, nat: Nat) -> Option<NatTopology> {
        if which("iptables").is_none() {
            println!("skipping {test}: iptables is not installed");
            return None;
        }
        let mut netns = Netns::create(test, "kin")?;
        let internet = netns.name("kin");
        netns.bridge(&internet);
        let bootstrap = netns.add("kbs");
        netns.attach(&internet, "p0", &bootstrap, &format!("{BOOTSTRAP_IP}/24"));
        let mut homes = Vec::new();
        for (i, (router, home)) in [("kra", "kha"), ("krb", "khb")].into_iter().enumerate() {
            let router = netns.add(router);
            let home = netns.add(home);
            let outside = format!("10.99.0.{}", i + 2);
            let lan = format!("192.168.{}", i + 1);
            netns.attach(
                &internet,
                &format!("p{}", i + 1),
                &router,
                &format!("{outside}/24"),
            );
            netns.veth(&home, "eth0", &router, "lan0");
            ip_ok(&[
                "-n",
                &router,
                "addr",
                "add",
                &format!("{lan}.1/24"),
                "dev",
                "lan0",
            ]);
            ip_ok(&[
                "-n",
                &home,
                "addr",
                "add",
                &format!("{lan}.10/24"),
                "dev",
                "eth0",
            ]);
            ip_ok(&[
                "-n",
                &home,
                "route",
                "add",
                "default",
                "via",
                &format!("{lan}.1"),
            ]);
            in_ns_ok(&router, "sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]);
            let mut masquerade = vec![
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-o",
                "eth0",
                "-j",
                "MASQUERADE",
            ];
            if nat == Nat::Symmetric {
                masquerade.push("--random-fully");
            }
            in_ns_ok(&router, "iptables", &masquerade);
            let established = [
                "-m",
                "conntrack",
                "--ctstate",
                "ESTABLISHED,RELATED",
                "-j",
                "ACCEPT",
            ];
            for chain in [
                vec!["-A", "FORWARD", "-i", "eth0", "-o", "lan0"],
                vec!["-A", "INPUT", "-i", "eth0"],
            ] {
                let mut accept = chain.clone();
                accept.extend(established);
                in_ns_ok(&router, "iptables", &accept);
                let mut drop = chain;
                drop.extend(["-j", "DROP"]);
                in_ns_ok(&router, "iptables", &drop);
            }
            homes.push(home);
        }
        Some(NatTopology {
            bootstrap,
            homes: homes.try_into().expect("two homes"),
            internet,
            next_host: 10,
            netns,
        })
    }

    /// The arguments of a `kith run` in this topology: all interfaces, the usual port, the API
    /// on the namespace's loopback, no mDNS, logs as JSON (tests and benches read them), then
    /// `extra`.
    pub fn node_args(extra: &[&str]) -> Vec<String> {
        [
            "--listen",
            "/ip4/0.0.0.0/tcp/4001",
            "--api",
            "127.0.0.1:0",
            "--mdns",
            "false",
            "--log-format",
            "json",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    }

    /// Adds a host straight on the outside network (no NAT) and returns its namespace and IP.
    #[allow(dead_code)] // benches/reach.rs (its "lan" case) uses it
    pub fn add_outside_host(&mut self, prefix: &str) -> (String, String) {
        let ns = self.netns.add(prefix);
        let ip = format!("10.99.0.{}", self.next_host);
        let port = format!("p{}", self.next_host);
        self.next_host += 1;
        self.netns
            .attach(&self.internet, &port, &ns, &format!("{ip}/24"));
        (ns, ip)
    }
}

/// Where `program` is installed, looking in `PATH` and the sbin directories.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}
