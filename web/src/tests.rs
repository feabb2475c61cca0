//! Handler tests against the state of a real, running node (TCP on loopback, its own temporary
//! database), driven through the whole router with `oneshot`, plus tests over a real socket.
//! The social endpoints are tested in `social`.

mod mutes;
mod search;
mod social;
mod ui;
mod ui_api;

use std::time::Duration;

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use kith_config::{ApiToken, Invite, NetworkKey, Role};
use kith_node::{Node, NodeConfig, NodeEvent};
use kith_protocols::{
    AddPeerResponse, ApiErrorBody, BlockView, ErrorCode, InviteView, NodeInfo, PeerView, StatusView,
};
use kith_storage::Store;
use libp2p::{Multiaddr, PeerId, identity::Keypair};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::{AppState, MAX_BODY_BYTES, router, serve};

/// How long a test waits for something that should happen in well under a second.
const PATIENCE: Duration = Duration::from_secs(15);

/// A running node with its API router.
struct TestApp {
    node: Node,
    store: Store,
    app: Router,
    state: AppState,
    token: String,
    _dir: tempfile::TempDir,
}

impl TestApp {
    async fn start() -> TestApp {
        Self::start_in(NetworkKey::generate()).await
    }

    async fn start_in(network_key: NetworkKey) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db"), 8 << 20).expect("open store");
        let config = NodeConfig::loopback(Keypair::generate_ed25519(), network_key);
        let node = Node::start(config, store.clone())
            .await
            .expect("start node");
        let api_token = ApiToken::generate();
        let token = api_token.as_str().to_owned();
        let state = AppState::new(&node, api_token).await;
        TestApp {
            app: router(state.clone()),
            node,
            store,
            state,
            token,
            _dir: dir,
        }
    }

    fn peer_id(&self) -> PeerId {
        self.node.handle().local_peer_id()
    }

    /// This node's dialable address, with its peer id.
    fn full_addr(&self) -> Multiaddr {
        self.node
            .handle()
            .listen_addrs()
            .into_iter()
            .next()
            .expect("the node listens")
            .with(libp2p::multiaddr::Protocol::P2p(self.peer_id()))
    }

    /// Sends a request with the right token.
    async fn call(&self, method: Method, uri: &str, body: Option<serde_json::Value>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    /// `POST /api/v1/posts` with `body`, asserting the 201.
    async fn post_json(&self, body: serde_json::Value) -> kith_protocols::PostView {
        let reply = self.call(Method::POST, "/api/v1/posts", Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// `GET uri` with the token, asserting the 200.
    async fn read<T: DeserializeOwned>(&self, uri: &str) -> T {
        let reply = self.call(Method::GET, uri, None).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "GET {uri}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn stop(self) {
        self.node.shutdown().await;
        self.store.close().await.expect("close store");
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {}, body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts that this is the API's JSON error with `status` and `code`; returns the message.
    #[track_caller]
    fn assert_error(&self, status: StatusCode, code: ErrorCode) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        let body: ApiErrorBody = self.json();
        assert_eq!(body.error.code, code, "{}", body.error.message);
        assert!(!body.error.message.is_empty());
        body.error.message
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

/// Connects `a` to `b` and waits until each has verified the other (and so holds the other's
/// profile summary).
async fn connect(a: &TestApp, b: &TestApp) {
    let mut a_events = a.node.handle().subscribe();
    let mut b_events = b.node.handle().subscribe();
    a.node
        .network()
        .add_peer(b.full_addr())
        .await
        .expect("dial");
    wait_verified(&mut a_events, b.peer_id()).await;
    wait_verified(&mut b_events, a.peer_id()).await;
}

/// Waits until `node` reports `peer` verified.
async fn wait_verified(events: &mut tokio::sync::broadcast::Receiver<NodeEvent>, peer: PeerId) {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(NodeEvent::PeerVerified { peer: p, .. }) if p == peer => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {peer} to be verified"));
}

#[tokio::test]
async fn probes_need_no_auth() {
    let t = TestApp::start().await;
    let reply = t.send(get("/healthz")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json::<StatusView>().status, "ok");
    let reply = t.send(get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json::<StatusView>().status, "ready");
    t.stop().await;
}

#[tokio::test]
async fn api_requires_the_bearer_token() {
    let t = TestApp::start().await;

    let reply = t.send(get("/api/v1/node")).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");

    let wrong = Request::get("/api/v1/node")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", ApiToken::generate().as_str()),
        )
        .body(Body::empty())
        .expect("request");
    let reply = t.send(wrong).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");

    let reply = t.call(Method::GET, "/api/v1/node", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let info: NodeInfo = reply.json();
    assert_eq!(info.peer_id, t.peer_id());
    assert_eq!(info.role, Role::Member);
    assert_eq!(info.network, t.node.handle().network());
    assert!(!info.listen_addrs.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let t = TestApp::start().await;
    t.send(get("/nope"))
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    // Under /api/v1/ the token is checked first: no hints about which endpoints exist.
    t.send(get("/api/v1/nope"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    t.call(Method::GET, "/api/v1/nope", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

    let reply = t.call(Method::DELETE, "/api/v1/node", None).await;
    reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::InvalidRequest);
    assert!(
        reply.headers[header::ALLOW]
            .to_str()
            .expect("ascii")
            .contains("GET")
    );
    let reply = t
        .send(
            Request::post("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::InvalidRequest);
    t.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_invalid_requests() {
    let t = TestApp::start().await;
    let post = |content_type: Option<&str>, body: Vec<u8>| {
        let mut request = Request::post("/api/v1/peers")
            .header(header::AUTHORIZATION, format!("Bearer {}", t.token));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(Body::from(body)).expect("request")
    };

    let message = t
        .send(post(Some("application/json"), b"this is not json".to_vec()))
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message.contains("not JSON"), "{message}");

    let message = t
        .send(post(None, br#"{"addr":"/ip4/127.0.0.1/tcp/1"}"#.to_vec()))
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message.contains("Content-Type"), "{message}");

    let message = t
        .send(post(
            Some("application/json"),
            br#"{"address":"/ip4/127.0.0.1/tcp/1"}"#.to_vec(),
        ))
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message.contains("address"), "{message}");

    t.send(post(
        Some("application/json"),
        br#"{"addr":"not a multiaddr"}"#.to_vec(),
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);

    // QUIC would bypass the network key: the node refuses it.
    let quic = serde_json::json!({ "addr": "/ip4/127.0.0.1/udp/4001/quic-v1" });
    t.call(Method::POST, "/api/v1/peers", Some(quic))
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);

    let huge = serde_json::json!({ "addr": "x".repeat(MAX_BODY_BYTES) });
    let message = t
        .call(Method::POST, "/api/v1/peers", Some(huge))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::InvalidRequest);
    assert!(message.contains("64 KiB"), "{message}");
    t.stop().await;
}

#[tokio::test]
async fn add_peer_connects_to_another_node() {
    let key = NetworkKey::generate();
    let a = TestApp::start_in(key.clone()).await;
    let b = TestApp::start_in(key).await;
    let addr = b
        .node
        .handle()
        .listen_addrs()
        .into_iter()
        .next()
        .expect("b listens");

    // Without /p2p/, the address is dialed to learn who is there.
    let mut events = a.node.handle().subscribe();
    let reply = a
        .call(
            Method::POST,
            "/api/v1/peers",
            Some(serde_json::json!({ "addr": addr })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json::<AddPeerResponse>().peer_id, Some(b.peer_id()));
    wait_verified(&mut events, b.peer_id()).await;

    let peers: Vec<PeerView> = a.call(Method::GET, "/api/v1/peers", None).await.json();
    let view = peers
        .iter()
        .find(|p| p.peer_id == b.peer_id())
        .expect("b is listed");
    assert!(view.connected);
    assert_eq!(view.role, Some(Role::Member));

    // With /p2p/, the peer id is known up front.
    let with_id = addr.with(libp2p::multiaddr::Protocol::P2p(b.peer_id()));
    let reply = a
        .call(
            Method::POST,
            "/api/v1/peers",
            Some(serde_json::json!({ "addr": with_id })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json::<AddPeerResponse>().peer_id, Some(b.peer_id()));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn blocks_round_trip() {
    let t = TestApp::start().await;
    let peer = PeerId::random();

    let reply = t.call(Method::GET, "/api/v1/blocks", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json::<Vec<BlockView>>().is_empty());

    let block = serde_json::json!({ "peer_id": peer, "reason": "spam" });
    let reply = t.call(Method::POST, "/api/v1/blocks", Some(block)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);

    let blocks: Vec<BlockView> = t.call(Method::GET, "/api/v1/blocks", None).await.json();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].peer_id, peer);
    assert_eq!(blocks[0].reason.as_deref(), Some("spam"));
    assert!(blocks[0].since_ms > 0);

    let uri = format!("/api/v1/blocks/{peer}");
    assert_eq!(
        t.call(Method::DELETE, &uri, None).await.status,
        StatusCode::NO_CONTENT
    );
    t.call(Method::DELETE, &uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(
        t.call(Method::GET, "/api/v1/blocks", None)
            .await
            .json::<Vec<BlockView>>()
            .is_empty()
    );

    let message = t
        .call(Method::DELETE, "/api/v1/blocks/not-a-peer-id", None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message.contains("path"), "{message}");
    t.call(
        Method::POST,
        "/api/v1/blocks",
        Some(serde_json::json!({ "peer_id": "nope" })),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    t.stop().await;
}

#[tokio::test]
async fn invite_carries_the_network_key_and_our_addresses() {
    let key = NetworkKey::generate();
    let t = TestApp::start_in(key.clone()).await;
    let view: InviteView = t
        .call(Method::GET, "/api/v1/network/invite", None)
        .await
        .json();
    assert_eq!(view.network, key.fingerprint());
    let invite = Invite::decode(&view.invite).expect("the code decodes");
    assert_eq!(invite.network_key, key);
    assert_eq!(invite.addrs, view.addrs);
    assert!(!invite.addrs.is_empty());
    let ours = format!("/p2p/{}", t.peer_id());
    assert!(
        invite
            .addrs
            .iter()
            .all(|a: &Multiaddr| a.to_string().ends_with(&ours))
    );
    t.stop().await;
}

#[tokio::test]
async fn metrics_are_openmetrics_text() {
    let t = TestApp::start().await;
    let reply = t.send(get("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(reply.body.to_vec()).expect("utf-8");
    // Kith's own metrics and libp2p's (a family with no samples yet is left out of the text).
    assert!(
        text.contains("# TYPE kith_pipeline_dials counter"),
        "{text}"
    );
    assert!(text.contains("libp2p_"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
    t.stop().await;
}

#[tokio::test]
async fn a_stopped_node_is_not_ready_and_unavailable() {
    let t = TestApp::start().await;
    let TestApp {
        node,
        store,
        app,
        token,
        _dir,
        ..
    } = t;
    node.shutdown().await;
    let send = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            Reply {
                status,
                headers,
                body,
            }
        }
    };

    let reply = send(get("/readyz")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json::<StatusView>().status, "starting");

    let block = Request::post("/api/v1/blocks")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({ "peer_id": PeerId::random() }).to_string(),
        ))
        .expect("request");
    send(block)
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable);
    store.close().await.expect("close store");
}

#[tokio::test]
async fn serves_over_a_real_socket_and_shuts_down_gracefully() {
    let t = TestApp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, t.state.clone(), shutdown.clone()));

    let client = reqwest::Client::new();
    let health: StatusView = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health.status, "ok");
    // Several requests on the kept-alive connection: each answered promptly with NODELAY on.
    for _ in 0..3 {
        let info: NodeInfo = client
            .get(format!("http://{addr}/api/v1/node"))
            .bearer_auth(&t.token)
            .send()
            .await
            .expect("node")
            .json()
            .await
            .expect("json");
        assert_eq!(info.peer_id, t.peer_id());
    }

    // The client still holds an idle keep-alive connection; shutdown must not wait for it.
    shutdown.cancel();
    let result = tokio::time::timeout(PATIENCE, server)
        .await
        .expect("serve returns after cancellation")
        .expect("serve task did not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err()
    );
    t.stop().await;
}
