//! A network forms by itself: C is given only A's address and finds B through Kademlia.

use crate::util::{Options, TestNode, network_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_find_each_other_through_the_dht() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    // B must be in A's routing table before C asks A for its neighbourhood.
    b.wait_until("B has verified A", || b.is_verified(&a.peer_id()))
        .await;
    a.wait_until("A has verified B", || a.is_verified(&b.peer_id()))
        .await;

    let c = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    c.wait_until("C has verified A", || c.is_verified(&a.peer_id()))
        .await;
    c.wait_until("C has found and verified B", || c.is_verified(&b.peer_id()))
        .await;
    b.wait_until("B has verified C", || b.is_verified(&c.peer_id()))
        .await;
    a.wait_until("A has verified C", || a.is_verified(&c.peer_id()))
        .await;

    // Neither B nor C was told about the other: the DHT told one of them (whichever asked
    // first), and the other saw that peer come in.
    let b_on_c = c.peers_over_http().await[&b.peer_id().to_string()].clone();
    let c_on_b = b.peers_over_http().await[&c.peer_id().to_string()].clone();
    let sources = [
        b_on_c["source"].as_str().unwrap(),
        c_on_b["source"].as_str().unwrap(),
    ];
    assert!(
        sources.contains(&"dht") && sources.iter().all(|s| *s == "dht" || *s == "inbound"),
        "B and C must meet through the DHT; C says {b_on_c}, B says {c_on_b}"
    );

    for (node, others) in [(&a, [&b, &c]), (&b, [&a, &c]), (&c, [&a, &b])] {
        let peers = node.peers_over_http().await;
        for other in others {
            let entry = peers.get(&other.peer_id().to_string()).unwrap_or_else(|| {
                panic!(
                    "{} does not list {}: {peers:?}",
                    node.peer_id(),
                    other.peer_id()
                )
            });
            assert_eq!(entry["connected"], true, "{entry}");
            assert_eq!(entry["role"], "member", "{entry}");
            assert!(entry["rejected"].is_null(), "{entry}");
        }
    }

    // Every node answers the info route of every other, over the private network.
    let info = c.ask_info(b.peer_id()).await;
    assert_eq!(info.network, key.fingerprint());

    for node in [a, b, c] {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_describes_the_node() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let (status, body) = a.get("/api/v1/node").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["peer_id"], a.peer_id().to_string());
    assert_eq!(body["role"], "member");
    assert_eq!(body["network"], key.fingerprint());
    let routes: Vec<&str> = body["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(routes.contains(&"/public/get/info/0.0.0"), "{routes:?}");
    assert!(!body["listen_addrs"].as_array().unwrap().is_empty());

    let (status, body) = a.get("/api/v1/network/invite").await;
    assert_eq!(status, 200, "{body}");
    let invite =
        kith_config::Invite::decode(body["invite"].as_str().unwrap()).expect("a valid invite code");
    assert_eq!(invite.network_key, key);
    assert_eq!(kith_config::peer_id_of(&invite.addrs[0]), Some(a.peer_id()));

    let metrics = a.metrics().await;
    assert!(metrics.contains("kith_peer_found"), "{metrics}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_node_refuses_content_routes() {
    use kith_protocols::{ErrorCode, routes};

    let key = network_key();
    let entry = TestNode::spawn(Options::new(&key).role(kith_config::Role::Bootstrap)).await;
    let member = TestNode::spawn(Options::new(&key).bootstrap(entry.addr())).await;
    member
        .wait_until("the member has verified the bootstrap node", || {
            member.is_verified(&entry.peer_id())
        })
        .await;

    let peers = member.peers_over_http().await;
    assert_eq!(peers[&entry.peer_id().to_string()]["role"], "bootstrap");

    // Content: refused with a typed error, and not advertised in its info.
    let client = member.handle().client();
    let refused = client
        .call_value(entry.peer_id(), &routes::posts(), serde_json::json!({}))
        .await
        .expect_err("a bootstrap node serves no posts");
    assert_eq!(refused.code, ErrorCode::Forbidden, "{refused}");
    let info = member.ask_info(entry.peer_id()).await;
    assert_eq!(info.role, kith_config::Role::Bootstrap);
    assert!(
        info.routes.contains(&routes::info()) && info.routes.contains(&routes::peers()),
        "{:?}",
        info.routes
    );
    assert!(!info.routes.contains(&routes::posts()), "{:?}", info.routes);

    // Peer exchange: the bootstrap node hands out the peers it knows.
    entry
        .wait_until("the bootstrap node has verified the member", || {
            entry.is_verified(&member.peer_id())
        })
        .await;
    let exchanged: kith_protocols::PeersResponse = client
        .call(entry.peer_id(), &routes::peers(), &serde_json::json!({}))
        .await
        .expect("peers are served");
    assert!(
        exchanged
            .peers
            .iter()
            .any(|p| p.peer_id == member.peer_id()),
        "{exchanged:?}"
    );

    // A route nobody registered: the member's own node answers not-found, from negotiation.
    let unknown = client
        .call_value(
            entry.peer_id(),
            &"/public/get/nothing/0.0.0".parse().unwrap(),
            serde_json::json!({}),
        )
        .await
        .expect_err("nobody serves this route");
    assert_eq!(unknown.code, ErrorCode::NotFound, "{unknown}");
    entry.shutdown().await;
    member.shutdown().await;
}
