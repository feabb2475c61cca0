//! The middleware in front of every route, seen from the wire: a replayed request is answered
//! once, a stale one is refused, and a flooding peer is slowed while others are served normally.

use std::time::Instant;

use kith_config::{Limits, NetworkKey};
use kith_protocols::{ErrorCode, NodeInfo, Request, Response, routes};

use crate::util::{Options, RawEvent, RawPeer, RawStack, TestNode, network_key};

/// Sends `request` on a fresh info stream and returns the node's response.
async fn send(raw: &RawPeer, node: &TestNode, request: &Request) -> Response {
    raw.request(node.peer_id(), &routes::info(), request).await
}

async fn connected_raw_peer(node: &TestNode, key: &NetworkKey) -> RawPeer {
    let mut raw = RawPeer::spawn(RawStack::Psk(key.clone())).await;
    raw.dial(node.addr());
    raw.wait_for("the raw peer to connect", |e| {
        matches!(e, RawEvent::Connected(_))
    })
    .await;
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_request_is_answered_once() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let raw = connected_raw_peer(&a, &key).await;

    let request = Request::new(serde_json::json!({}));
    let first = send(&raw, &a, &request).await;
    let second = send(&raw, &a, &request).await;
    assert_eq!(first.id, request.id);
    assert_eq!(first, second, "the repeat gets the first answer");
    let info: NodeInfo = serde_json::from_value(first.result.expect("ok")).unwrap();
    assert_eq!(info.peer_id, a.peer_id());

    let metrics = a.metrics().await;
    let replayed = metrics
        .lines()
        .find(|l| l.starts_with("kith_route_requests_total") && l.contains("result=\"replayed\""))
        .unwrap_or_else(|| panic!("no replayed request counted:\n{metrics}"));
    assert!(replayed.ends_with(" 1"), "{replayed}");

    // A stale timestamp is refused, whatever the id.
    let mut stale = Request::new(serde_json::json!({}));
    stale.ts -= 10 * 60 * 1000;
    let refused = send(&raw, &a, &stale).await;
    assert_eq!(refused.id, stale.id);
    let error = refused.result.expect_err("a stale request is refused");
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{error}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_slowed_and_others_are_served() {
    const RATE: u32 = 5;
    const BURST: u32 = 5;
    let key = network_key();
    let limits = Limits {
        route_rate_per_sec: RATE,
        route_burst: BURST,
        ..Limits::default()
    };
    let a = TestNode::spawn(Options::new(&key).limits(limits)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    b.wait_until("B has verified A", || b.is_verified(&a.peer_id()))
        .await;
    let flooder = connected_raw_peer(&a, &key).await;

    let start = Instant::now();
    let (mut served, mut limited) = (0u32, 0u32);
    for _ in 0..40 {
        match send(&flooder, &a, &Request::new(serde_json::json!({})))
            .await
            .result
        {
            Ok(_) => served += 1,
            Err(error) => {
                assert_eq!(error.code, ErrorCode::RateLimited, "{error}");
                let retry = error.retry_after_ms.expect("a retry hint");
                assert!(
                    retry > 0 && retry <= 1000 / u64::from(RATE),
                    "retry after {retry} ms"
                );
                limited += 1;
            }
        }
    }
    let allowed = f64::from(BURST) + f64::from(RATE) * start.elapsed().as_secs_f64() + 1.0;
    assert!(
        f64::from(served) <= allowed,
        "{served} served in {:?}, limit {allowed}",
        start.elapsed()
    );
    assert!(limited > 0, "the flood was never slowed");

    // Meanwhile, another peer is served as usual.
    for _ in 0..3 {
        b.ask_info(a.peer_id()).await;
    }
    a.shutdown().await;
    b.shutdown().await;
}
