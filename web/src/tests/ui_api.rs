//! Handler tests of what the browser UI needs beyond the core social endpoints: a post's
//! replies, `liked` and `reply_count` on posts, notifications (and their events), and joining
//! a network by invite code, against real nodes.

use kith_config::DataDir;
use kith_config::JoinFiles;
use kith_protocols::{
    EventView, FollowOutcome, FollowView, JoinView, NotificationKind, NotificationPage,
    NotificationView, PostPage, PostView,
};

use super::*;

impl TestApp {
    /// `POST /api/v1/network/join`.
    async fn join(&self, body: serde_json::Value) -> Reply {
        self.call(Method::POST, "/api/v1/network/join", Some(body))
            .await
    }
}

/// Waits for the first social event that `matches` (skipping the others).
async fn wait_view(
    events: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
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
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Waits for the `notification` event of `kind`, and returns the notification.
async fn wait_notification(
    events: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
    kind: NotificationKind,
) -> NotificationView {
    let view = wait_view(events, &format!("a {kind:?} notification"), |view| {
        matches!(view, EventView::Notification { notification } if notification.kind == kind)
    })
    .await;
    match view {
        EventView::Notification { notification } => notification,
        other => unreachable!("the predicate matched {other:?}"),
    }
}

#[tokio::test]
async fn replies_come_newest_first_and_posts_carry_liked_and_reply_count() {
    let t = TestApp::start().await;
    let parent = t.post_json(serde_json::json!({ "text": "thread" })).await;
    assert!(!parent.liked);
    assert_eq!(parent.reply_count, 0);
    let uri = format!("/api/v1/posts/{}/replies", parent.id);
    let empty: PostPage = t.read(&uri).await;
    assert!(empty.posts.is_empty() && empty.next.is_none());

    let mut replies = Vec::new();
    for i in 0..3 {
        replies.push(
            t.post_json(serde_json::json!({ "text": format!("reply {i}"), "reply_to": parent.id }))
                .await,
        );
    }
    // A post answering something else is not among them.
    t.post_json(serde_json::json!({ "text": "elsewhere", "reply_to": replies[0].id }))
        .await;

    let first: PostPage = t.read(&format!("{uri}?limit=2")).await;
    let second: PostPage = t
        .read(&format!(
            "{uri}?limit=2&before={}",
            first.next.as_deref().expect("a second page")
        ))
        .await;
    assert_eq!(second.next, None);
    let listed: Vec<_> = first
        .posts
        .iter()
        .chain(&second.posts)
        .map(|p| p.id)
        .collect();
    // Newest first by (created_at, id): replies written in the same millisecond order by id.
    let mut newest_first: Vec<_> = replies.iter().map(|p| (p.created_at, p.id)).collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let newest_first: Vec<_> = newest_first.into_iter().map(|(_, id)| id).collect();
    assert_eq!(listed, newest_first);
    let all: Vec<&PostView> = first.posts.iter().chain(&second.posts).collect();
    assert!(all.iter().all(|p| p.reply_to == Some(parent.id)));
    for post in all {
        let expected = u64::from(post.id == replies[0].id);
        assert_eq!(
            post.reply_count, expected,
            "only the first reply was answered"
        );
    }

    // The parent counts its replies; liking it shows on every read of it.
    let post_uri = format!("/api/v1/posts/{}", parent.id);
    let read: PostView = t.read(&post_uri).await;
    assert_eq!(
        (read.reply_count, read.liked, read.like_count),
        (3, false, 0)
    );
    let mut events = t.node.handle().subscribe();
    let liked: PostView = t
        .call(Method::POST, &format!("{post_uri}/like"), None)
        .await
        .json();
    assert_eq!((liked.liked, liked.like_count), (true, 1));
    let like = wait_view(&mut events, "the like event", |view| {
        matches!(view, EventView::Like { .. })
    })
    .await;
    assert_eq!(
        like,
        EventView::Like {
            post_id: parent.id,
            like_count: 1
        }
    );
    let timeline: PostPage = t.read("/api/v1/timeline").await;
    let shown = timeline
        .posts
        .iter()
        .find(|p| p.id == parent.id)
        .expect("on the timeline");
    assert_eq!((shown.liked, shown.reply_count), (true, 3));

    // Deleting a reply uncounts it.
    let deleted = format!("/api/v1/posts/{}", replies[1].id);
    assert_eq!(
        t.call(Method::DELETE, &deleted, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(t.read::<PostView>(&post_uri).await.reply_count, 2);
    let page: PostPage = t.read(&uri).await;
    assert_eq!(
        page.posts.iter().map(|p| p.id).collect::<Vec<_>>(),
        [replies[2].id, replies[0].id]
    );

    // Errors: an unknown post, a malformed id, a bad limit or cursor.
    let unknown = format!("/api/v1/posts/{}/replies", "ab".repeat(32));
    t.call(Method::GET, &unknown, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    t.call(Method::GET, "/api/v1/posts/nope/replies", None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    for query in ["limit=0", "limit=201", "limit=x", "before=!!!"] {
        t.call(Method::GET, &format!("{uri}?{query}"), None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    t.stop().await;
}

#[tokio::test]
async fn follows_replies_and_likes_become_notifications() {
    let key = NetworkKey::generate();
    let a = TestApp::start_in(key.clone()).await;
    let b = TestApp::start_in(key.clone()).await;
    let c = TestApp::start_in(key).await;
    // B's name reaches A with B's node info, when they connect.
    b.call(
        Method::PUT,
        "/api/v1/profile",
        Some(serde_json::json!({ "display_name": "Grace" })),
    )
    .await;
    connect(&b, &a).await;
    connect(&c, &a).await;
    let (a_id, b_id, c_id) = (a.peer_id(), b.peer_id(), c.peer_id());
    let mut a_events = a.node.handle().subscribe();

    // B follows A's open account: a `follow`.
    let follow: FollowView = b
        .call(Method::POST, &format!("/api/v1/follows/{a_id}"), None)
        .await
        .json();
    assert_eq!(follow.status, FollowOutcome::Active);
    let followed = wait_notification(&mut a_events, NotificationKind::Follow).await;
    assert_eq!((followed.actor, followed.post.as_ref()), (b_id, None));

    // A posts; B gets it, replies and likes: a `reply` and a `like`.
    let mut b_events = b.node.handle().subscribe();
    let post = a.post_json(serde_json::json!({ "text": "ask me" })).await;
    wait_view(
        &mut b_events,
        "a's post on b",
        |view| matches!(view, EventView::Post { post: p } if p.id == post.id),
    )
    .await;
    let answer = b
        .post_json(serde_json::json!({ "text": "why?", "reply_to": post.id }))
        .await;
    let replied = wait_notification(&mut a_events, NotificationKind::Reply).await;
    assert_eq!(replied.actor, b_id);
    assert_eq!(replied.id, answer.id.to_string());
    assert_eq!(replied.post.as_ref().map(|p| p.id), Some(answer.id));
    let liked_by_b: PostView = b
        .call(
            Method::POST,
            &format!("/api/v1/posts/{}/like", post.id),
            None,
        )
        .await
        .json();
    assert!(liked_by_b.liked);
    let liked = wait_notification(&mut a_events, NotificationKind::Like).await;
    assert_eq!(liked.post.as_ref().map(|p| p.id), Some(post.id));
    assert_eq!(liked.post.as_ref().map(|p| p.like_count), Some(1));
    assert!(
        !liked.post.as_ref().is_some_and(|p| p.liked),
        "`liked` is the owner's like, not anyone's"
    );

    // A locks the account; C asks to follow: a `follow_request`.
    a.call(
        Method::PUT,
        "/api/v1/profile",
        Some(serde_json::json!({ "locked": true })),
    )
    .await;
    let follow: FollowView = c
        .call(Method::POST, &format!("/api/v1/follows/{a_id}"), None)
        .await
        .json();
    assert_eq!(follow.status, FollowOutcome::Requested);
    let asked = wait_notification(&mut a_events, NotificationKind::FollowRequest).await;
    assert_eq!(asked.actor, c_id);

    // The list: newest first, names resolved, the post shown with its counts.
    let page: NotificationPage = a.read("/api/v1/notifications").await;
    assert_eq!(page.next, None);
    let kinds: Vec<_> = page
        .notifications
        .iter()
        .map(|n| (n.kind, n.actor))
        .collect();
    assert_eq!(
        kinds,
        [
            (NotificationKind::FollowRequest, c_id),
            (NotificationKind::Like, b_id),
            (NotificationKind::Reply, b_id),
            (NotificationKind::Follow, b_id),
        ]
    );
    assert!(page.notifications.windows(2).all(|w| w[0].at >= w[1].at));
    assert_eq!(page.notifications[1].actor_name.as_deref(), Some("Grace"));
    assert_eq!(page.notifications[2], replied);
    let own: PostView = a.read(&format!("/api/v1/posts/{}", post.id)).await;
    assert_eq!((own.reply_count, own.like_count), (1, 1));

    // Paging, one at a time, gives the same list.
    let mut cursor: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let uri = match &cursor {
            Some(next) => format!("/api/v1/notifications?limit=1&before={next}"),
            None => "/api/v1/notifications?limit=1".to_owned(),
        };
        let page: NotificationPage = a.read(&uri).await;
        paged.extend(page.notifications);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, page.notifications);
    for query in ["limit=0", "limit=500", "before=%%"] {
        a.call(Method::GET, &format!("/api/v1/notifications?{query}"), None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    // B's own list is empty: nothing happened to B.
    let page: NotificationPage = b.read("/api/v1/notifications").await;
    assert!(page.notifications.is_empty());
    for t in [a, b, c] {
        t.stop().await;
    }
}

#[tokio::test]
async fn joining_this_network_dials_and_another_needs_replace() {
    let key = NetworkKey::generate();
    let a = TestApp::start_in(key.clone()).await;
    let b = TestApp::start_in(key.clone()).await;

    // B's invite, on A: the same network, one peer dialed.
    let invite: InviteView = b.read("/api/v1/network/invite").await;
    let mut events = a.node.handle().subscribe();
    let reply = a.join(serde_json::json!({ "invite": invite.invite })).await;
    assert_eq!(reply.status, StatusCode::OK);
    let joined: JoinView = reply.json();
    assert_eq!(
        joined,
        JoinView {
            network: key.fingerprint(),
            same_network: true,
            dialed: 1,
            restart_required: false,
        }
    );
    wait_verified(&mut events, b.peer_id()).await;
    // A's own invite dials nobody.
    let own: InviteView = a.read("/api/v1/network/invite").await;
    let joined: JoinView = a
        .join(serde_json::json!({ "invite": own.invite }))
        .await
        .json();
    assert_eq!((joined.same_network, joined.dialed), (true, 0));

    // Another network's invite: 409 without `replace`, and nothing changes.
    let other = NetworkKey::generate();
    let foreign = Invite::new(other.clone(), vec![b.full_addr()])
        .expect("an invite")
        .encode();
    let message = a
        .join(serde_json::json!({ "invite": foreign }))
        .await
        .assert_error(StatusCode::CONFLICT, ErrorCode::InvalidRequest);
    assert!(
        message.contains("replace") && message.contains(&other.fingerprint()),
        "{message}"
    );
    // With `replace`, on a node that does not know its files: refused, nothing written.
    a.join(serde_json::json!({ "invite": foreign, "replace": true }))
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);

    // Told its files, the node stores the new key (keeping the old one) and the bootstrap
    // peers, as `kith join --replace` does, and asks for a restart.
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = DataDir::new(dir.path());
    kith_config::create_network_key(&data_dir.swarm_key(), &key).expect("the current key");
    let files = JoinFiles {
        data_dir: data_dir.clone(),
        config: data_dir.config(),
    };
    assert!(a.node.network().set_join_files(files));
    let reply = a
        .join(serde_json::json!({ "invite": foreign, "replace": true }))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json::<JoinView>(),
        JoinView {
            network: other.fingerprint(),
            same_network: false,
            dialed: 0,
            restart_required: true,
        }
    );
    let stored = kith_config::load_network_key(&data_dir.swarm_key()).expect("readable");
    assert_eq!(stored, Some(other));
    let backups = std::fs::read_dir(dir.path())
        .expect("the data dir")
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("swarm.key.")
        })
        .count();
    assert_eq!(backups, 1, "the old key is kept");
    let config = std::fs::read_to_string(data_dir.config()).expect("the config file");
    assert!(config.contains(&b.full_addr().to_string()), "{config}");
    // The running node is still on its network until it restarts.
    assert_eq!(a.node.handle().network(), key.fingerprint());

    // Not an invite; not a request body this endpoint knows.
    for body in [
        serde_json::json!({ "invite": "kith1nope" }),
        serde_json::json!({ "invite": "hello" }),
        serde_json::json!({ "invite": own.invite, "force": true }),
        serde_json::json!({}),
    ] {
        a.join(body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    for t in [a, b] {
        t.stop().await;
    }
}
