//! Kith's integration tests: whole nodes, real swarms over real TCP on 127.0.0.1, real sled
//! directories, real HTTP, and — for LAN discovery — real network namespaces.
//!
//! One test binary on purpose: every extra binary re-links libp2p, which a 2-core CI feels.

// Shared harness: in-process test nodes, raw wire peers, event-driven waits.
mod util;
// Harness for tests that run the `kith` binary as a process.
mod process;
// Network namespaces for tests that need real networks (a LAN, NAT routers).
mod netns;

// Three nodes find each other through Kademlia; peers listed over HTTP.
mod network;
// Nodes with another network key, or none, never connect and do no harm.
mod isolation;
// The peer-found pipeline: blocklist, rate limit, peers from another network.
mod pipeline;
// Restarting keeps the identity and reconnects to known peers without bootstrap.
mod restart;
// Garbage on the TCP port, bad frames on routes, bad HTTP requests.
mod bad_input;
// The middleware in front of every route: replays, timestamps, rate limits.
mod middleware;
// The social core between nodes: follows, push and pull delivery, repair, deletes, forgeries,
// locked accounts, private routes.
mod social;
// Posts acknowledged with 201 survive kill -9 in a loop, and SIGTERM under load (a stop within 5 s).
mod crash;
// The command line: first run, invite/join, corrupt key files, restart of the binary.
mod cli;
// Running as a service: the systemd unit, the container files, a banner without secrets.
mod service;
// mDNS between two network namespaces on one bridge.
mod mdns;
// Two homes behind NAT routers reach each other through a relay, and by hole punching.
mod nat;
// The network key on every relayed path; a relay's limits against a peer looping circuits.
mod relay;
// The web UI in headless chromium: login, live posts, replies and likes, no session, CSRF.
mod browser;
