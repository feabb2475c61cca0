//! Bad input never crashes a node: garbage on its TCP port, broken frames on a route, bad HTTP
//! requests. Each gets a clear error (or a closed socket), and the node keeps serving.

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use kith_protocols::{ErrorCode, MAX_FRAME_LEN, Request, Response, read_message, routes};
use rand::RngCore;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::util::{Options, RawEvent, RawPeer, RawStack, TestNode, network_key};

/// Reads until the node closes the socket; fails if it is still open after `limit`.
async fn assert_closed_within(mut socket: TcpStream, limit: Duration, what: &str) {
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the node kept the socket open after {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_stalled_handshakes_on_the_tcp_port() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    b.wait_until("B has verified A", || b.is_verified(&a.peer_id()))
        .await;
    let port = a.plain_addr().iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
        _ => None,
    });
    let target = format!("127.0.0.1:{}", port.expect("a TCP port"));

    // Random bytes: the private-network handshake takes the first 24 as a nonce, then Noise
    // fails on the rest.
    let mut garbage = vec![0u8; 64 * 1024];
    rand::rng().fill_bytes(&mut garbage);
    let mut socket = TcpStream::connect(&target).await.unwrap();
    let _ = socket.write_all(&garbage).await;
    assert_closed_within(socket, Duration::from_secs(10), "64 KiB of random bytes").await;

    // A handshake that stops halfway (a partial nonce) is dropped at the connect timeout.
    let mut socket = TcpStream::connect(&target).await.unwrap();
    socket.write_all(&garbage[..10]).await.unwrap();
    // Meanwhile the node serves its real peer.
    b.ask_info(a.peer_id()).await;
    assert_closed_within(socket, Duration::from_secs(10), "a half-finished handshake").await;

    b.ask_info(a.peer_id()).await;
    assert!(b.handle().is_connected(&a.peer_id()));
    a.shutdown().await;
    b.shutdown().await;
}

/// Opens the info route on `node` from a raw peer holding the network key.
async fn open_info(raw: &RawPeer, node: &TestNode) -> libp2p::Stream {
    let mut control = raw.control.clone();
    control
        .open_stream(node.peer_id(), routes::info().protocol())
        .await
        .expect("the info route opens")
}

async fn read_error(stream: &mut libp2p::Stream) -> kith_protocols::WireError {
    let response: Response =
        tokio::time::timeout(Duration::from_secs(10), read_message(stream, MAX_FRAME_LEN))
            .await
            .expect("the node answers in time")
            .expect("a well-formed response")
            .expect("a response, not a closed stream");
    assert!(
        response.id.is_nil(),
        "an unparsed request is answered with the nil id"
    );
    response.result.expect_err("an error response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_frames_on_a_route_get_typed_errors() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let mut raw = RawPeer::spawn(RawStack::Psk(key.clone())).await;
    raw.dial(a.addr());
    raw.wait_for("the raw peer to connect", |e| {
        matches!(e, RawEvent::Connected(_))
    })
    .await;

    // Oversized: a header announcing 2 MiB is refused from the header alone.
    let mut stream = open_info(&raw, &a).await;
    let mut header = Vec::new();
    let mut len = 2u64 * 1024 * 1024;
    while len >= 0x80 {
        header.push((len as u8) | 0x80);
        len >>= 7;
    }
    header.push(len as u8);
    stream.write_all(&header).await.unwrap();
    stream.flush().await.unwrap();
    let error = read_error(&mut stream).await;
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{error}");
    assert!(
        error.message.contains("1048576") || error.message.to_lowercase().contains("large"),
        "{error}"
    );

    // Truncated: 100 bytes announced, 10 sent, then the write side closes.
    let mut stream = open_info(&raw, &a).await;
    stream.write_all(&[100]).await.unwrap();
    stream.write_all(&[b'{'; 10]).await.unwrap();
    stream.close().await.unwrap();
    let error = read_error(&mut stream).await;
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{error}");

    // A complete frame that is not a request envelope.
    let mut stream = open_info(&raw, &a).await;
    stream.write_all(&[5]).await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    stream.close().await.unwrap();
    let error = read_error(&mut stream).await;
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{error}");

    // Invalid UTF-8 inside the frame.
    let mut stream = open_info(&raw, &a).await;
    stream.write_all(&[3, 0xff, 0xfe, 0xfd]).await.unwrap();
    stream.close().await.unwrap();
    assert_eq!(
        read_error(&mut stream).await.code,
        ErrorCode::InvalidRequest
    );

    // And the same peer's well-formed request is served normally afterwards.
    let mut stream = open_info(&raw, &a).await;
    let request = Request::new(serde_json::json!({}));
    kith_protocols::write_message(&mut stream, &request)
        .await
        .unwrap();
    stream.close().await.unwrap();
    let response: Response = read_message(&mut stream, MAX_FRAME_LEN)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.id, request.id);
    let info: kith_protocols::NodeInfo =
        serde_json::from_value(response.result.expect("ok")).unwrap();
    assert_eq!(info.peer_id, a.peer_id());
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "one response per stream");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http_requests_get_json_errors() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", a.api);

    // No token, and a wrong one.
    for auth in [None, Some("Bearer not-the-token")] {
        let mut request = http.get(format!("{base}/api/v1/peers"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.expect("a JSON error body");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }

    // A body that is not JSON.
    let response = http
        .post(format!("{base}/api/v1/peers"))
        .bearer_auth(&a.token)
        .header("Content-Type", "application/json")
        .body("this is { not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], "invalid-request", "{body}");

    // JSON of the wrong shape, and an address that would bypass the network key.
    for bad in [
        serde_json::json!({"address": 1}),
        serde_json::json!({"addr": "/ip4/127.0.0.1/udp/1/quic-v1"}),
    ] {
        let (status, body) = a
            .api(reqwest::Method::POST, "/api/v1/peers", Some(bad))
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid-request", "{body}");
    }

    // Unknown paths are JSON too, and the node is still healthy.
    let (status, body) = a.get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not-found", "{body}");
    let health: serde_json::Value = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    a.shutdown().await;
}
