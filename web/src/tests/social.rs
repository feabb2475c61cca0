//! Handler tests of the social endpoints (posts, timeline, users, profile, follows, devices,
//! events) and of the OpenAPI document, against real nodes.

use axum::{middleware, routing};
use futures::StreamExt;
use kith_protocols::{
    DeviceView, EventView, FollowOutcome, FollowView, NewPost, PostPage, PostView, ProfileView,
    UserView,
};
use tokio::sync::broadcast;

use super::*;
use crate::{
    api::events::events,
    router::{API_PREFIX, endpoints, with_deadline},
};

fn post_body(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": text })
}

impl TestApp {
    /// `POST /api/v1/posts` with `text`, asserting the 201.
    async fn create_post(&self, text: &str) -> PostView {
        self.post_json(post_body(text)).await
    }
}

/// Waits for the first social event that `matches`.
async fn wait_social(
    events: &mut broadcast::Receiver<NodeEvent>,
    what: &str,
    matches: impl Fn(&EventView) -> bool,
) -> EventView {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(view) = event.to_view().filter(|view| matches(view)) {
                        return view;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn posts_round_trip() {
    let t = TestApp::start().await;
    let post = t.create_post("hello, world").await;
    assert_eq!(post.author, t.peer_id());
    assert_eq!(post.text, "hello, world");
    assert_eq!(post.like_count, 0);
    assert!(post.created_at > 0);

    let uri = format!("/api/v1/posts/{}", post.id);
    assert_eq!(t.read::<PostView>(&uri).await, post);

    let like = format!("{uri}/like");
    for _ in 0..2 {
        // Liking twice counts once.
        let reply = t.call(Method::POST, &like, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json::<PostView>().like_count, 1);
    }

    let reply = t
        .call(
            Method::POST,
            "/api/v1/posts",
            Some(serde_json::json!({ "text": "an answer", "reply_to": post.id, "quote_of": post.id })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let answer: PostView = reply.json();
    assert_eq!(answer.reply_to, Some(post.id));
    assert_eq!(answer.quote_of, Some(post.id));

    let page: PostPage = t.read("/api/v1/timeline").await;
    let ids: Vec<_> = page.posts.iter().map(|p| p.id).collect();
    assert_eq!(ids, [answer.id, post.id], "newest first");
    assert_eq!(page.next, None);

    assert_eq!(
        t.call(Method::DELETE, &uri, None).await.status,
        StatusCode::NO_CONTENT
    );
    t.call(Method::GET, &uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    t.call(Method::DELETE, &uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    t.call(Method::POST, &like, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let page: PostPage = t.read("/api/v1/timeline").await;
    assert_eq!(page.posts.len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn bad_post_requests_are_refused() {
    let t = TestApp::start().await;
    for bad in ["not-hex", "AB", &"AB".repeat(32), &"ab".repeat(33)] {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::DELETE, ""),
            (Method::POST, "/like"),
        ] {
            let message = t
                .call(
                    method.clone(),
                    &format!("/api/v1/posts/{bad}{suffix}"),
                    None,
                )
                .await
                .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
            assert!(message.contains("path"), "{method} {bad}: {message}");
        }
    }
    for body in [
        serde_json::json!({}),
        serde_json::json!({ "text": "" }),
        serde_json::json!({ "text": "x", "colour": "red" }),
        serde_json::json!({ "text": "x", "reply_to": "nope" }),
        serde_json::json!({ "text": "x".repeat(100_000) }),
    ] {
        let reply = t.call(Method::POST, "/api/v1/posts", Some(body)).await;
        assert!(
            reply.status == StatusCode::BAD_REQUEST
                || reply.status == StatusCode::PAYLOAD_TOO_LARGE,
            "{}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            reply.json::<ApiErrorBody>().error.code,
            ErrorCode::InvalidRequest
        );
    }
    let too_long = "x".repeat(kith_protocols::DEFAULT_MAX_POST_CHARS + 1);
    t.call(Method::POST, "/api/v1/posts", Some(post_body(&too_long)))
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(
        t.read::<PostPage>("/api/v1/timeline")
            .await
            .posts
            .is_empty()
    );
    t.stop().await;
}

#[tokio::test]
async fn timeline_pages_and_limits() {
    let t = TestApp::start().await;
    let mut written = Vec::new();
    for i in 0..5 {
        written.push(t.create_post(&format!("post {i}")).await.id);
    }
    // Newest first; posts of the same millisecond in id order, so take the node's order from one
    // page and check that it holds exactly the posts written.
    let all: PostPage = t.read("/api/v1/timeline?limit=200").await;
    let in_order: Vec<_> = all.posts.iter().map(|p| p.id).collect();
    let mut sorted = in_order.clone();
    sorted.sort();
    written.sort();
    assert_eq!(sorted, written);
    assert!(
        all.posts
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    let written = in_order;

    let mut seen = Vec::new();
    let mut uri = "/api/v1/timeline?limit=2".to_owned();
    loop {
        let page: PostPage = t.read(&uri).await;
        assert!(page.posts.len() <= 2);
        seen.extend(page.posts.iter().map(|p| p.id));
        match page.next {
            Some(next) => uri = format!("/api/v1/timeline?limit=2&before={next}"),
            None => break,
        }
        assert!(seen.len() <= written.len(), "the pages never end");
    }
    assert_eq!(seen, written);

    // The same pages for the owner's own posts under /users/.
    let page: PostPage = t
        .read(&format!("/api/v1/users/{}/posts?limit=3", t.peer_id()))
        .await;
    assert_eq!(
        page.posts.iter().map(|p| p.id).collect::<Vec<_>>(),
        written[..3]
    );
    assert!(page.next.is_some());

    for base in [
        "/api/v1/timeline".to_owned(),
        format!("/api/v1/users/{}/posts", t.peer_id()),
    ] {
        for query in [
            "limit=0",
            "limit=201",
            "limit=-1",
            "limit=many",
            "before=%21not%20base64%21",
        ] {
            let message = t
                .call(Method::GET, &format!("{base}?{query}"), None)
                .await
                .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
            assert!(!message.is_empty(), "{base}?{query}");
        }
        let page: PostPage = t.read(&format!("{base}?limit=200")).await;
        assert_eq!(page.posts.len(), 5);
        // The default page holds all five.
        let page: PostPage = t.read(&base).await;
        assert_eq!(page.posts.len(), 5);
        assert_eq!(page.next, None);
    }
    t.stop().await;
}

#[tokio::test]
async fn profile_round_trip_and_users() {
    let t = TestApp::start().await;
    let profile: ProfileView = t.read("/api/v1/profile").await;
    assert_eq!(profile.display_name, "");
    assert!(!profile.locked);

    let update = serde_json::json!({ "display_name": "Ada", "bio": "counts things" });
    let reply = t.call(Method::PUT, "/api/v1/profile", Some(update)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let updated: ProfileView = reply.json();
    assert_eq!(updated.display_name, "Ada");
    assert_eq!(updated.bio, "counts things");
    assert!(updated.updated_at.is_some());
    // Absent fields keep their value.
    let reply = t
        .call(
            Method::PUT,
            "/api/v1/profile",
            Some(serde_json::json!({ "locked": true })),
        )
        .await;
    let locked: ProfileView = reply.json();
    assert_eq!(locked.display_name, "Ada");
    assert!(locked.locked);
    assert_eq!(t.read::<ProfileView>("/api/v1/profile").await, locked);

    t.call(
        Method::PUT,
        "/api/v1/profile",
        Some(serde_json::json!({ "nickname": "x" })),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    t.call(
        Method::PUT,
        "/api/v1/profile",
        Some(serde_json::json!({ "display_name": "n".repeat(10_000) })),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);

    // The owner as a user; posts show the name.
    let me: UserView = t.read(&format!("/api/v1/users/{}", t.peer_id())).await;
    assert!(me.is_self);
    assert_eq!(me.profile.map(|p| p.display_name), Some("Ada".to_owned()));
    let post = t.create_post("named").await;
    assert_eq!(post.author_name.as_deref(), Some("Ada"));

    // A stranger: no profile, no relation, not connected.
    let stranger = PeerId::random();
    let user: UserView = t.read(&format!("/api/v1/users/{stranger}")).await;
    assert_eq!(user.peer_id, stranger);
    assert!(!user.is_self && !user.connected);
    assert_eq!(user.profile, None);
    assert_eq!((user.following, user.follower), (None, None));
    let page: PostPage = t.read(&format!("/api/v1/users/{stranger}/posts")).await;
    assert!(page.posts.is_empty());

    for uri in ["/api/v1/users/nope", "/api/v1/users/nope/posts"] {
        t.call(Method::GET, uri, None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    t.stop().await;
}

#[tokio::test]
async fn devices_round_trip() {
    let t = TestApp::start().await;
    assert!(
        t.read::<Vec<DeviceView>>("/api/v1/devices")
            .await
            .is_empty()
    );
    let device = PeerId::random();
    let uri = format!("/api/v1/devices/{device}");
    let reply = t.call(Method::PUT, &uri, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let paired: DeviceView = reply.json();
    assert_eq!(paired.peer_id, device);
    // Pairing again changes nothing.
    assert_eq!(
        t.call(Method::PUT, &uri, None).await.json::<DeviceView>(),
        paired
    );
    assert_eq!(t.read::<Vec<DeviceView>>("/api/v1/devices").await, [paired]);

    assert_eq!(
        t.call(Method::DELETE, &uri, None).await.status,
        StatusCode::NO_CONTENT
    );
    t.call(Method::DELETE, &uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(
        t.read::<Vec<DeviceView>>("/api/v1/devices")
            .await
            .is_empty()
    );

    t.call(
        Method::PUT,
        &format!("/api/v1/devices/{}", t.peer_id()),
        None,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    for method in [Method::PUT, Method::DELETE] {
        t.call(method, "/api/v1/devices/nope", None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    t.stop().await;
}

#[tokio::test]
async fn follows_between_nodes() {
    let key = NetworkKey::generate();
    let a = TestApp::start_in(key.clone()).await;
    let b = TestApp::start_in(key.clone()).await;
    let c = TestApp::start_in(key).await;
    connect(&a, &b).await;
    connect(&c, &b).await;
    let (a_id, b_id, c_id) = (a.peer_id(), b.peer_id(), c.peer_id());

    a.call(Method::POST, &format!("/api/v1/follows/{a_id}"), None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    a.call(Method::POST, "/api/v1/follows/nope", None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);

    // An open account: the follow is active at once.
    let reply = a
        .call(Method::POST, &format!("/api/v1/follows/{b_id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let follow: FollowView = reply.json();
    assert_eq!(
        (follow.peer_id, follow.status),
        (b_id, FollowOutcome::Active)
    );
    let following: Vec<FollowView> = a.read("/api/v1/following").await;
    assert_eq!(following, [follow]);
    let followers: Vec<FollowView> = b.read("/api/v1/followers").await;
    assert_eq!(
        followers
            .iter()
            .map(|f| (f.peer_id, f.status))
            .collect::<Vec<_>>(),
        [(a_id, FollowOutcome::Active)]
    );
    let a_seen_by_b: UserView = b.read(&format!("/api/v1/users/{a_id}")).await;
    assert_eq!(a_seen_by_b.follower, Some(FollowOutcome::Active));
    assert!(a_seen_by_b.connected);

    // B's post reaches A's timeline; A may not delete it.
    let mut a_events = a.node.handle().subscribe();
    let post = b.create_post("from b").await;
    wait_social(
        &mut a_events,
        "b's post on a",
        |view| matches!(view, EventView::Post { post: p } if p.id == post.id),
    )
    .await;
    let uri = format!("/api/v1/posts/{}", post.id);
    let seen: PostView = a.read(&uri).await;
    assert_eq!((seen.author, seen.text.as_str()), (b_id, "from b"));
    a.call(Method::DELETE, &uri, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    let timeline: PostPage = a.read("/api/v1/timeline").await;
    assert!(timeline.posts.iter().any(|p| p.id == post.id));
    let theirs: PostPage = a.read(&format!("/api/v1/users/{b_id}/posts")).await;
    assert_eq!(theirs.posts.len(), 1);
    let b_seen_by_a: UserView = a.read(&format!("/api/v1/users/{b_id}")).await;
    assert_eq!(b_seen_by_a.following, Some(FollowOutcome::Active));

    // A locked account: C's follow waits for B.
    b.call(
        Method::PUT,
        "/api/v1/profile",
        Some(serde_json::json!({ "locked": true })),
    )
    .await;
    let follow: FollowView = c
        .call(Method::POST, &format!("/api/v1/follows/{b_id}"), None)
        .await
        .json();
    assert_eq!(follow.status, FollowOutcome::Requested);
    let requests: Vec<FollowView> = b.read("/api/v1/follows/requests").await;
    assert_eq!(
        requests.iter().map(|f| f.peer_id).collect::<Vec<_>>(),
        [c_id]
    );
    let stranger = PeerId::random();
    for action in ["approve", "reject"] {
        b.call(
            Method::POST,
            &format!("/api/v1/follows/requests/{stranger}/{action}"),
            None,
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        b.call(
            Method::POST,
            &format!("/api/v1/follows/requests/nope/{action}"),
            None,
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    let mut c_events = c.node.handle().subscribe();
    let reply = b
        .call(
            Method::POST,
            &format!("/api/v1/follows/requests/{c_id}/approve"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json::<FollowView>().status, FollowOutcome::Active);
    assert!(
        b.read::<Vec<FollowView>>("/api/v1/follows/requests")
            .await
            .is_empty()
    );
    wait_social(&mut c_events, "b's approval on c", |view| {
        matches!(view, EventView::Following { peer_id, status: FollowOutcome::Active } if *peer_id == b_id)
    })
    .await;

    // B removes A; A unfollows B anyway.
    assert_eq!(
        b.call(
            Method::POST,
            &format!("/api/v1/follows/requests/{a_id}/reject"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let followers: Vec<FollowView> = b.read("/api/v1/followers").await;
    assert_eq!(
        followers.iter().map(|f| f.peer_id).collect::<Vec<_>>(),
        [c_id]
    );
    assert_eq!(
        a.call(Method::DELETE, &format!("/api/v1/follows/{b_id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        a.read::<Vec<FollowView>>("/api/v1/following")
            .await
            .is_empty()
    );
    for t in [a, b, c] {
        t.stop().await;
    }
}

#[tokio::test]
async fn every_api_endpoint_needs_the_token() {
    let t = TestApp::start().await;
    let id = "ab".repeat(32);
    let peer = PeerId::random().to_string();
    for endpoint in endpoints() {
        if !endpoint.path.starts_with(API_PREFIX) {
            continue;
        }
        let uri = endpoint
            .path
            .replace("{id}", &id)
            .replace("{peer_id}", &peer);
        let method = Method::from_bytes(endpoint.verb.as_str().as_bytes()).expect("a method");
        let request = Request::builder()
            .method(method)
            .uri(&uri)
            .body(Body::empty())
            .expect("request");
        t.send(request)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
    t.stop().await;
}

#[tokio::test]
async fn the_openapi_document_is_served_without_auth() {
    let t = TestApp::start().await;
    let reply = t.send(get("/api/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let doc: serde_json::Value = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/posts"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/events"]["get"].is_object());
    assert!(doc["components"]["schemas"]["PostView"].is_object());
    t.stop().await;
}

/// Reads server-sent events from `response` until one named `name`; returns its data.
async fn read_event(response: &mut reqwest::Response, buffer: &mut String, name: &str) -> String {
    let read = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event: ") {
                        event = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data = Some(value.to_owned());
                    }
                }
                if event.as_deref() == Some(name) {
                    return data.expect("an event with data");
                }
            }
            let chunk = response
                .chunk()
                .await
                .expect("reading the stream")
                .unwrap_or_else(|| panic!("the stream ended before a `{name}` event"));
            buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for a `{name}` event"))
}

#[tokio::test]
async fn events_stream_over_a_real_socket_and_end_with_the_server() {
    let t = TestApp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, t.state.clone(), shutdown.clone()));
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/events");

    let refused = client.get(&url).send().await.expect("events");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);

    let mut response = client
        .get(&url)
        .bearer_auth(&t.token)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "text/event-stream"
    );

    let post: PostView = client
        .post(format!("http://{addr}/api/v1/posts"))
        .bearer_auth(&t.token)
        .json(&post_body("live"))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let mut buffer = String::new();
    let data = read_event(&mut response, &mut buffer, "post").await;
    let event: EventView = serde_json::from_str(&data).expect("an EventView");
    assert_eq!(event, EventView::Post { post: post.clone() });

    let deleted = client
        .delete(format!("http://{addr}/api/v1/posts/{}", post.id))
        .bearer_auth(&t.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), reqwest::StatusCode::NO_CONTENT);
    let data = read_event(&mut response, &mut buffer, "delete").await;
    assert_eq!(
        serde_json::from_str::<EventView>(&data).expect("an EventView"),
        EventView::Delete {
            id: post.id,
            author: t.peer_id()
        }
    );

    // Stopping the server ends the open stream, so the graceful shutdown does not wait for it.
    shutdown.cancel();
    let end = async {
        while response
            .chunk()
            .await
            .expect("reading the stream")
            .is_some()
        {}
    };
    tokio::time::timeout(PATIENCE, end)
        .await
        .expect("the stream ends when the server stops");
    let result = tokio::time::timeout(PATIENCE, server)
        .await
        .expect("serve returns")
        .expect("serve task did not panic");
    assert!(result.is_ok(), "{result:?}");
    t.stop().await;
}

#[tokio::test]
async fn the_request_deadline_does_not_cut_the_event_stream() {
    let t = TestApp::start().await;
    let deadline = Duration::from_millis(50);
    let app: Router = Router::new()
        .route("/events", routing::get(events))
        .layer(middleware::from_fn(move |request, next| {
            with_deadline(deadline, request, next)
        }))
        .with_state(t.state.clone());
    let response = app.oneshot(get("/events")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    // Not synchronization: the point is to be well past the deadline before anything comes.
    tokio::time::sleep(deadline * 4).await;
    let post = t
        .node
        .social()
        .create_post(NewPost {
            text: "after the deadline".to_owned(),
            reply_to: None,
            quote_of: None,
        })
        .await
        .expect("post");
    let read = async {
        let mut text = String::new();
        while !text.contains("event: post\n") {
            let chunk = body
                .next()
                .await
                .expect("the stream is still open")
                .expect("a chunk");
            text.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
        text
    };
    let text = tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the post event arrives");
    assert!(text.contains(&post.id.to_string()), "{text}");
    t.stop().await;
}

#[tokio::test]
async fn the_event_stream_ends_when_the_node_stops() {
    let t = TestApp::start().await;
    let response = t
        .app
        .clone()
        .oneshot(
            Request::get("/api/v1/events")
                .header(header::AUTHORIZATION, format!("Bearer {}", t.token))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let TestApp {
        node,
        store,
        app,
        token,
        ..
    } = t;
    node.shutdown().await;
    let body = tokio::time::timeout(
        PATIENCE,
        axum::body::to_bytes(response.into_body(), 1 << 20),
    )
    .await
    .expect("the stream ends with the node")
    .expect("a body");
    // Nothing happened on this node but its own shutdown.
    assert!(!String::from_utf8_lossy(&body).contains("event: post"));

    // Once stopped, no new stream is opened.
    let response = app
        .oneshot(
            Request::get("/api/v1/events")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    store.close().await.expect("close store");
}
