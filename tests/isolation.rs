//! Nodes with another network key, or with no private-network layer at all, never connect to
//! ours, no route handler runs for them on either side, and everyone keeps serving their peers.

use kith_node::NodeEvent;

use crate::util::{Options, RawEvent, RawPeer, RawStack, TestNode, network_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_key_never_connects() {
    let ours = network_key();
    let theirs = network_key();
    let a = TestNode::spawn(Options::new(&ours)).await;
    let b = TestNode::spawn(Options::new(&ours).bootstrap(a.addr())).await;
    b.wait_until("B has verified A", || b.is_verified(&a.peer_id()))
        .await;

    let mut a_events = a.handle().subscribe();
    let x = TestNode::spawn(Options::new(&theirs)).await;
    let y = TestNode::spawn(Options::new(&theirs).bootstrap(x.addr())).await;
    y.wait_until("Y has verified X in its own network", || {
        y.is_verified(&x.peer_id())
    })
    .await;

    // X tries A (as a bootstrap entry would), A tries X: both attempts fail in negotiation.
    let failed = a
        .network()
        .add_peer(x.addr())
        .await
        .expect("address accepted");
    assert_eq!(failed, Some(x.peer_id()));
    a.wait_until("A's dial of X failed", || a.failures(&x.peer_id()) > 0)
        .await;
    x.network()
        .add_peer(a.addr())
        .await
        .expect("address accepted");
    x.wait_until("X's dial of A failed", || x.failures(&a.peer_id()) > 0)
        .await;

    // Never a connection either way, so never a request for a route.
    while let Ok(event) = a_events.try_recv() {
        if let NodeEvent::PeerConnected { peer } = event {
            assert_ne!(
                peer,
                x.peer_id(),
                "A connected to a node of another network"
            );
        }
    }
    assert!(!a.handle().is_connected(&x.peer_id()));
    assert!(!x.handle().is_connected(&a.peer_id()));
    let a_record = a.store().peers().get(&x.peer_id()).unwrap().unwrap();
    assert!(
        a_record.last_connected_ms.is_none() && a_record.role.is_none(),
        "{a_record:?}"
    );
    assert!(x.handle().connections().keys().all(|p| *p == y.peer_id()));

    // Both networks go on serving their own peers.
    b.ask_info(a.peer_id()).await;
    let info = y.ask_info(x.peer_id()).await;
    assert_eq!(info.network, theirs.fingerprint());

    for node in [a, b, x, y] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_the_private_network_layer_never_connects() {
    let key = network_key();
    // A alone: no member peer calls its routes while the plain peer tries its luck.
    let a = TestNode::spawn(Options::new(&key)).await;
    let served_before = a.handle().requests_served();

    let mut raw = RawPeer::spawn(RawStack::NoPsk).await;
    // The plain peer dials A: the private-network handshake turns its Noise into noise.
    raw.dial(a.plain_addr());
    let event = raw
        .wait_for("the plain dial to fail", |e| {
            !matches!(e, RawEvent::IncomingFailed(_))
        })
        .await;
    assert!(
        matches!(event, RawEvent::DialFailed(_)),
        "expected a failed dial, got {event:?}"
    );

    // A dials the plain peer: fails the same way, and the pipeline records it.
    a.network()
        .add_peer(raw.full_addr())
        .await
        .expect("address accepted");
    a.wait_until("A's dial of the plain peer failed", || {
        a.failures(&raw.peer_id) > 0
    })
    .await;
    let event = raw
        .wait_for("A's dial to reach the plain peer", |_| true)
        .await;
    assert!(
        matches!(event, RawEvent::IncomingFailed(_)),
        "expected a refused inbound, got {event:?}"
    );

    assert!(!a.handle().is_connected(&raw.peer_id));
    assert_eq!(
        a.handle().requests_served(),
        served_before,
        "a route handler ran for the plain peer"
    );
    // A member of the network still gets in and is served.
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    b.wait_until("B has verified A", || b.is_verified(&a.peer_id()))
        .await;
    b.ask_info(a.peer_id()).await;
    a.shutdown().await;
    b.shutdown().await;
}
