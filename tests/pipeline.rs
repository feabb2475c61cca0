//! The peer-found pipeline: blocklist, admission rate, and peers that claim another network.

use std::time::{Duration, Instant};

use kith_config::{Limits, Role};
use kith_node::{NodeEvent, PeerFound};
use kith_protocols::{NodeInfo, PROTOCOL_VERSION, PeerSource};
use libp2p::PeerId;

use crate::util::{Options, RawEvent, RawPeer, RawStack, TestNode, network_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_peer_is_never_dialed_and_refused_inbound() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key)).await;

    let (status, body) = a
        .api(
            reqwest::Method::POST,
            "/api/v1/blocks",
            Some(serde_json::json!({"peer_id": b.peer_id().to_string(), "reason": "test"})),
        )
        .await;
    assert!(
        status == 204 || status == 200,
        "blocking over HTTP: {status} {body}"
    );
    let (_, blocks) = a.get("/api/v1/blocks").await;
    assert_eq!(blocks[0]["peer_id"], b.peer_id().to_string(), "{blocks}");

    // Outbound: A is told about B by every kind of source; it never dials.
    let dials_before = a.handle().pipeline_dials();
    let mut a_events = a.events();
    let mut marker_events = a.events();
    for source in [
        PeerSource::Mdns,
        PeerSource::Dht,
        PeerSource::Gossip,
        PeerSource::Manual,
    ] {
        a.handle()
            .peer_found(PeerFound::new(b.peer_id(), vec![b.addr()], source));
    }
    // A marker discovery after them: once it is dialed, the ones before it have been decided.
    let marker = RawPeer::spawn(RawStack::Psk(key.clone())).await;
    a.handle().peer_found(PeerFound::new(
        marker.peer_id,
        vec![marker.full_addr()],
        PeerSource::Manual,
    ));
    marker_events
        .wait_for(
            "the marker peer to be dialed",
            |e| matches!(e, NodeEvent::DialStarted { peer } if *peer == marker.peer_id),
        )
        .await;
    assert_eq!(
        a.handle().pipeline_dials(),
        dials_before + 1,
        "only the marker may have been dialed"
    );
    for event in a_events.drain() {
        if let NodeEvent::DialStarted { peer } | NodeEvent::PeerConnected { peer } = event {
            assert_ne!(peer, b.peer_id(), "A dialed or connected to a blocked peer");
        }
    }

    // Inbound: B dials A, A's swarm refuses the connection.
    let mut b_events = b.events();
    b.network()
        .add_peer(a.addr())
        .await
        .expect("address accepted");
    b_events
        .wait_for(
            "B's dial of A to fail",
            |e| matches!(e, NodeEvent::PeerFailed { peer, .. } if *peer == a.peer_id()),
        )
        .await;
    // A's swarm denies the connection right after the handshake: B may see it open for a
    // moment, A never counts it as established.
    b.wait_until("B's connection to A is gone", || {
        !b.handle().is_connected(&a.peer_id())
    })
    .await;
    assert!(!a.handle().is_connected(&b.peer_id()));
    for event in a_events.drain() {
        if let NodeEvent::PeerConnected { peer } = event {
            assert_ne!(
                peer,
                b.peer_id(),
                "A accepted a connection from a blocked peer"
            );
        }
    }

    // Unblocking lets them meet.
    let (status, _) = a
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/blocks/{}", b.peer_id()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    a.network()
        .add_peer(b.addr())
        .await
        .expect("address accepted");
    a.wait_until("A has verified B after the unblock", || {
        a.is_verified(&b.peer_id())
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_discoveries_is_dialed_no_faster_than_the_rate() {
    const RATE: u32 = 20;
    const BURST: u32 = 5;
    let key = network_key();
    let limits = Limits {
        dial_rate_per_sec: RATE,
        dial_burst: BURST,
        ..Limits::default()
    };
    let a = TestNode::spawn(Options::new(&key).limits(limits)).await;
    let mut events = a.handle().subscribe();

    // 1,000 peers that do not exist, at an address that refuses at once.
    let start = Instant::now();
    for _ in 0..1000 {
        let addr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        a.handle().peer_found(PeerFound::new(
            PeerId::random(),
            vec![addr],
            PeerSource::Gossip,
        ));
    }
    // Watch 40 dials go out; at every one, the count must be within the token bucket's bound.
    let mut dials = 0u64;
    while dials < 40 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("dials keep coming")
            .expect("event stream open");
        if let NodeEvent::DialStarted { .. } = event {
            dials += 1;
            let elapsed = start.elapsed().as_secs_f64();
            let allowed = f64::from(BURST) + f64::from(RATE) * elapsed + 1.0;
            assert!(
                dials as f64 <= allowed,
                "{dials} dials after {elapsed:.3} s exceeds rate {RATE}/s + burst {BURST}"
            );
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        elapsed >= (40.0 - f64::from(BURST) - 1.0) / f64::from(RATE),
        "40 dials took only {elapsed:.3} s at {RATE}/s"
    );
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_from_another_network_is_disconnected_and_remembered() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    // The liar holds our key (so the connection succeeds) but says it is on another network.
    let mut liar = RawPeer::spawn(RawStack::Psk(key.clone())).await;
    liar.serve_info(NodeInfo {
        peer_id: liar.peer_id,
        role: Role::Member,
        network: "00000000000000000000000000000000".into(),
        version: "0.1.0".into(),
        protocol_version: PROTOCOL_VERSION,
        routes: vec![kith_protocols::routes::info()],
        listen_addrs: vec![liar.addr.clone()],
        profile: None,
        reachability: None,
    });

    let mut a_events = a.events();
    a.network()
        .add_peer(liar.full_addr())
        .await
        .expect("address accepted");
    let event = a_events
        .wait_for(
            "the liar to be rejected",
            |e| matches!(e, NodeEvent::PeerRejected { peer, .. } if *peer == liar.peer_id),
        )
        .await;
    let NodeEvent::PeerRejected { reason, .. } = event else {
        unreachable!()
    };
    assert!(reason.contains("network"), "{reason}");
    liar.wait_for("A to hang up", |e| matches!(e, RawEvent::Closed(_)))
        .await;
    a.wait_until("A has no connection to the liar", || {
        !a.handle().is_connected(&liar.peer_id)
    })
    .await;

    // Remembered, with the reason, and shown to the owner.
    let record = a
        .store()
        .peers()
        .get(&liar.peer_id)
        .unwrap()
        .expect("recorded");
    assert!(
        record
            .rejected
            .as_deref()
            .is_some_and(|r| r.contains("network")),
        "{record:?}"
    );
    let peers = a.peers_over_http().await;
    let entry = &peers[&liar.peer_id.to_string()];
    assert_eq!(entry["connected"], false);
    assert!(
        entry["rejected"].as_str().unwrap().contains("network"),
        "{entry}"
    );

    // Found again by gossip: not dialed again.
    let dials = a.handle().pipeline_dials();
    let mut a_events = a.events();
    a.handle().peer_found(PeerFound::new(
        liar.peer_id,
        vec![liar.full_addr()],
        PeerSource::Gossip,
    ));
    let marker = RawPeer::spawn(RawStack::Psk(key.clone())).await;
    a.handle().peer_found(PeerFound::new(
        marker.peer_id,
        vec![marker.full_addr()],
        PeerSource::Gossip,
    ));
    a_events
        .wait_for(
            "the marker peer to be dialed",
            |e| matches!(e, NodeEvent::DialStarted { peer } if *peer == marker.peer_id),
        )
        .await;
    assert_eq!(
        a.handle().pipeline_dials(),
        dials + 1,
        "the rejected peer was dialed again"
    );
    a.shutdown().await;
}
