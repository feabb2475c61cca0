//! Restarting a node keeps its peer id, its network and its known peers, and it reconnects to
//! them without being given a bootstrap address again.

use crate::util::{Options, TestNode, network_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_its_identity_and_reconnects_from_its_peer_book() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    b.wait_until("B has verified A", || b.is_verified(&a.peer_id()))
        .await;
    let b_id = b.peer_id();

    let dir = b.shutdown().await;
    a.wait_until("A sees B gone", || !a.handle().is_connected(&b_id))
        .await;

    // Same directory, no bootstrap address at all.
    let b = TestNode::spawn(Options::new(&key).dir(dir)).await;
    assert_eq!(b.peer_id(), b_id, "the identity survives a restart");
    b.wait_until("B reconnects to A from its peer book", || {
        b.is_verified(&a.peer_id())
    })
    .await;
    let peers = b.peers_over_http().await;
    assert_eq!(
        peers[&a.peer_id().to_string()]["source"],
        "bootstrap",
        "the first source is kept"
    );
    a.shutdown().await;
    b.shutdown().await;
}
