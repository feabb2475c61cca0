//! The social core between whole nodes: follows, posts reaching followers (push and pull),
//! catch-up after a restart, repair of a lost gossip message, deletes, forgeries, locked
//! accounts, private routes, and the notifications a reply and a like make.

use std::time::Duration;

use kith_config::Role;
use kith_node::NodeEvent;
use kith_protocols::{
    Content, ErrorCode, EventView, FollowBody, FollowOutcome, FollowReply, NewPost, NodeInfo,
    ObjectId, ObjectsBody, ObjectsReply, PROTOCOL_VERSION, PostContent, PostsRequest,
    PostsResponse, ProfileUpdate, Request, SignedObject, TimelineRequest, VerifyRules, routes,
};
use libp2p::PeerId;

use crate::util::{
    Events, Options, RawEvent, RawPeer, RawStack, TestNode, assert_code, network_key,
};

/// The bound for a post to reach every online follower.
const DELIVERY: Duration = Duration::from_secs(2);
/// The bound for a restarted follower to have 1,000 missed posts.
const CATCH_UP: Duration = Duration::from_secs(10);

/// Starts `n` nodes of one network; every node after the first bootstraps from the first and
/// is verified by it before this returns.
async fn network(n: usize) -> Vec<TestNode> {
    let key = network_key();
    let first = TestNode::spawn(Options::new(&key)).await;
    let mut nodes = vec![first];
    for _ in 1..n {
        let node = TestNode::spawn(Options::new(&key).bootstrap(nodes[0].addr())).await;
        let peer = node.peer_id();
        nodes[0]
            .wait_until("the first node verified a newcomer", || {
                nodes[0].is_verified(&peer)
            })
            .await;
        nodes.push(node);
    }
    nodes
}

/// `follower` follows `followee` and waits until the follow is active.
async fn follow(follower: &TestNode, followee: &TestNode) {
    let mut events = follower.events();
    let view = follower
        .social()
        .follow(followee.peer_id())
        .await
        .expect("follow");
    if view.status != FollowOutcome::Active {
        let peer = followee.peer_id();
        events
            .wait_for("the follow to become active", |event| {
                matches!(social(event), Some(EventView::Following { peer_id, status: FollowOutcome::Active }) if *peer_id == peer)
            })
            .await;
    }
}

/// The social event inside a node event, if it is one.
fn social(event: &NodeEvent) -> Option<&EventView> {
    match event {
        NodeEvent::Social(view) => Some(view),
        _ => None,
    }
}

/// Waits up to `limit` for the timeline event of post `id`.
async fn post_arrives(events: &mut Events, id: ObjectId, limit: Duration) {
    tokio::time::timeout(
        limit,
        events.wait_for(
            "the post on the timeline",
            |event| matches!(social(event), Some(EventView::Post { post }) if post.id == id),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("post {id} did not arrive within {limit:?}"));
}

/// `from` hands `objects` to `to` over the direct-delivery route.
async fn hand_over(
    from: &TestNode,
    to: &TestNode,
    objects: Vec<serde_json::Value>,
) -> ObjectsReply {
    from.handle()
        .client()
        .call(to.peer_id(), &routes::objects(), &ObjectsBody { objects })
        .await
        .expect("the route answers")
}

fn new_post(text: &str) -> NewPost {
    NewPost {
        text: text.to_owned(),
        reply_to: None,
        quote_of: None,
    }
}

/// The ids on a node's home timeline, newest first, read over HTTP.
async fn timeline_ids(node: &TestNode) -> Vec<String> {
    let (status, body) = node.get("/api/v1/timeline?limit=200").await;
    assert_eq!(status, 200, "GET /api/v1/timeline: {body}");
    body["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|post| post["id"].as_str().expect("id").to_owned())
        .collect()
}

/// How many of `author`'s posts `node` stores.
fn posts_of(node: &TestNode, author: &PeerId) -> usize {
    node.store()
        .social()
        .posts_by(author, 100_000, None)
        .expect("posts_by")
        .items
        .len()
}

#[tokio::test]
async fn a_post_reaches_every_follower_and_no_one_else() {
    let nodes = network(5).await;
    let (a, followers, e) = (&nodes[0], &nodes[1..4], &nodes[4]);
    for follower in followers {
        let (status, body) = follower
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/follows/{}", a.peer_id()),
                None,
            )
            .await;
        assert_eq!(status, 200, "follow over HTTP: {body}");
        assert_eq!(body["status"], "active", "{body}");
    }

    let mut watchers: Vec<Events> = followers.iter().map(TestNode::events).collect();
    let (status, body) = a
        .api(
            reqwest::Method::POST,
            "/api/v1/posts",
            Some(serde_json::json!({"text": "hello, friends"})),
        )
        .await;
    assert_eq!(status, 201, "POST /api/v1/posts: {body}");
    let id: ObjectId = serde_json::from_value(body["id"].clone()).expect("post id");
    for events in &mut watchers {
        post_arrives(events, id, DELIVERY).await;
    }

    // More posts, then every follower lists the same posts in the same order.
    let mut last = id;
    for n in 0..5 {
        last = a
            .social()
            .create_post(new_post(&format!("post {n}")))
            .await
            .expect("post")
            .id;
    }
    for events in &mut watchers {
        post_arrives(events, last, DELIVERY).await;
    }
    let reference = timeline_ids(&followers[0]).await;
    assert_eq!(reference.len(), 6, "six posts of A: {reference:?}");
    for follower in &followers[1..] {
        assert_eq!(timeline_ids(follower).await, reference);
    }

    // E follows nobody: nothing of A on its timeline nor in its store.
    assert!(timeline_ids(e).await.is_empty());
    assert_eq!(posts_of(e, &a.peer_id()), 0);
    let (status, body) = e.get(&format!("/api/v1/posts/{id}")).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_restarted_follower_catches_up_on_a_thousand_posts() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    follow(&b, &a).await;
    let a_id = a.peer_id();
    let dir = b.shutdown().await;

    let writes = (0..1000).map(|n| {
        let social = a.social().clone();
        async move {
            social
                .create_post(new_post(&format!("while you were away {n}")))
                .await
        }
    });
    for result in futures::future::join_all(writes).await {
        result.expect("post");
    }

    let restarted = tokio::time::Instant::now();
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr()).dir(dir)).await;
    tokio::time::timeout(
        CATCH_UP,
        b.wait_until("B has all 1,000 posts", || posts_of(&b, &a_id) == 1000),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "B had {} of 1,000 posts {CATCH_UP:?} after its restart",
            posts_of(&b, &a_id)
        )
    });
    let page = b.social().timeline(50, None).expect("timeline");
    assert_eq!(page.posts.len(), 50);
    assert!(page.posts.iter().all(|post| post.author == a_id));
    eprintln!("caught up in {:?}", restarted.elapsed());
}

#[tokio::test]
async fn reconciliation_finds_a_post_whose_gossip_was_lost() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    let first = a
        .social()
        .create_post(new_post("before you came"))
        .await
        .expect("post");
    follow(&b, &a).await;
    b.social().sync_with(a.peer_id()).await.expect("first sync");
    assert!(b.store().social().contains(&first.id).expect("read"));

    // A post B never got although its cursor is past it: a gossip message lost on the way
    // while a later one arrived. (Stored on A only, dated just before B's cursor, so no
    // incremental step can ever return it.)
    let lost = SignedObject::create(
        &a.keypair(),
        first.created_at - 1,
        Content::Post(PostContent::new("lost in the mail")),
    )
    .expect("sign");
    a.store()
        .social()
        .insert(&lost, true)
        .await
        .expect("store on A");
    let mut events = b.events();
    let newer = a
        .social()
        .create_post(new_post("this one arrives"))
        .await
        .expect("post");
    post_arrives(&mut events, newer.id, DELIVERY).await;

    // Whichever sync runs (this one, or one the node started itself), only reconciliation can
    // find the lost post.
    b.social().sync_with(a.peer_id()).await.expect("sync");
    assert!(b.store().social().contains(&lost.id()).expect("read"));
    assert_eq!(b.social().objects_repaired(), 1);
    let timeline: Vec<ObjectId> = b
        .social()
        .timeline(50, None)
        .expect("timeline")
        .posts
        .iter()
        .map(|post| post.id)
        .collect();
    assert_eq!(timeline, vec![newer.id, first.id, lost.id()]);

    // In sync: one round trip for the incremental step, one for the digest of everything.
    let report = b.social().sync_with(a.peer_id()).await.expect("sync again");
    assert_eq!(
        (report.fetched, report.repaired, report.round_trips),
        (0, 0, 2)
    );
}

#[tokio::test]
async fn a_delete_reaches_online_and_offline_followers() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    let c = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    follow(&b, &a).await;
    follow(&c, &a).await;
    let (mut on_b, mut on_c) = (b.events(), c.events());
    let post = a
        .social()
        .create_post(new_post("I will regret this"))
        .await
        .expect("post");
    post_arrives(&mut on_b, post.id, DELIVERY).await;
    post_arrives(&mut on_c, post.id, DELIVERY).await;

    let c_dir = c.shutdown().await;
    let mut on_b = b.events();
    a.social().delete_post(&post.id).await.expect("delete");
    on_b.wait_for(
        "the delete on B",
        |event| matches!(social(event), Some(EventView::Delete { id, .. }) if *id == post.id),
    )
    .await;
    assert!(!b.store().social().contains(&post.id).expect("read"));
    assert!(!timeline_ids(&b).await.contains(&post.id.to_string()));

    let c = TestNode::spawn(Options::new(&key).bootstrap(a.addr()).dir(c_dir)).await;
    c.wait_until("the post is gone on C", || {
        !c.store().social().contains(&post.id).expect("read")
    })
    .await;
    assert!(
        c.store()
            .social()
            .tombstone(&post.id)
            .expect("read")
            .is_some()
    );
    let (status, _) = c.get(&format!("/api/v1/posts/{}", post.id)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn forged_objects_are_refused_and_never_shown() {
    let nodes = network(3).await;
    let (a, b, mallory) = (&nodes[0], &nodes[1], &nodes[2]);
    follow(b, a).await;
    mallory
        .handle()
        .dial(b.peer_id(), vec![b.plain_addr()])
        .await
        .expect("Mallory reaches B");
    let now = kith_node::now_ms();
    let genuine = SignedObject::create(
        &a.keypair(),
        now,
        Content::Post(PostContent::new("the real text")),
    )
    .expect("sign");

    // Altered text: the signature no longer matches.
    let mut altered = genuine.to_json();
    altered["text"] = "the forged text".into();
    // Signed by Mallory, claiming to be A.
    let mut wrong_author = SignedObject::create(
        &mallory.keypair(),
        now,
        Content::Post(PostContent::new("I am A, trust me")),
    )
    .expect("sign")
    .to_json();
    wrong_author["author"] = a.peer_id().to_base58().into();
    // A genuine object of A's, relayed by Mallory on A's behalf.
    let relayed = genuine.to_json();
    // Not even JSON of an object.
    let garbage = serde_json::json!({"kind": "post", "text": 42});

    let rejected_before = b.social().objects_rejected();
    let reply = hand_over(mallory, b, vec![altered, wrong_author, relayed, garbage]).await;
    assert_eq!(reply.stored, 0);
    assert_eq!(b.social().objects_rejected() - rejected_before, 4);
    assert!(!b.store().social().contains(&genuine.id()).expect("read"));
    assert!(timeline_ids(b).await.is_empty());

    // From A itself, but dated an hour ahead: refused as from the future.
    let future = SignedObject::create(
        &a.keypair(),
        now + 3_600_000,
        Content::Post(PostContent::new("from tomorrow")),
    )
    .expect("sign");
    let reply = hand_over(a, b, vec![future.to_json()]).await;
    assert_eq!(reply.stored, 0);
    assert_eq!(b.social().objects_rejected() - rejected_before, 5);

    // The genuine object straight from its author is taken.
    let reply = hand_over(a, b, vec![genuine.to_json()]).await;
    assert_eq!(reply.stored, 1);
    assert_eq!(timeline_ids(b).await, vec![genuine.id().to_string()]);
}

#[tokio::test]
async fn a_locked_account_serves_only_approved_followers() {
    let nodes = network(3).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    a.social()
        .update_profile(ProfileUpdate {
            display_name: Some("Ada".into()),
            bio: Some("only for friends".into()),
            locked: Some(true),
            ..ProfileUpdate::default()
        })
        .await
        .expect("profile");

    let mut on_a = a.events();
    let view = b.social().follow(a.peer_id()).await.expect("follow");
    assert_eq!(view.status, FollowOutcome::Requested);
    on_a.wait_for("the follow request", |event| {
        matches!(social(event), Some(EventView::FollowRequest { peer_id }) if *peer_id == b.peer_id())
    })
    .await;
    let requests = a.social().follow_requests().expect("requests");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].peer_id, b.peer_id());

    // Not approved yet: no posts, no profile, only the summary of the node info.
    let secret = a
        .social()
        .create_post(new_post("for approved eyes"))
        .await
        .expect("post");
    for stranger in [b, c] {
        let posts: Result<PostsResponse, _> = stranger
            .handle()
            .client()
            .call(
                a.peer_id(),
                &routes::posts(),
                &PostsRequest::Since {
                    after: None,
                    limit: 10,
                },
            )
            .await;
        assert_code(
            &posts.expect_err("posts are followers-only"),
            ErrorCode::Forbidden,
        );
        let profile: Result<serde_json::Value, _> = stranger
            .handle()
            .client()
            .call(a.peer_id(), &routes::profile(), &serde_json::json!({}))
            .await;
        assert_code(
            &profile.expect_err("the profile is followers-only"),
            ErrorCode::Forbidden,
        );
        let info = stranger.ask_info(a.peer_id()).await;
        let summary = info.profile.expect("a summary");
        assert_eq!(
            (summary.display_name.as_str(), summary.locked),
            ("Ada", true)
        );
        let user = stranger.social().user(&a.peer_id()).expect("user");
        assert!(
            user.profile.is_none_or(|profile| profile.bio.is_empty()),
            "no details beyond the summary"
        );
        assert!(
            !stranger
                .store()
                .social()
                .contains(&secret.id)
                .expect("read")
        );
    }

    // Approved: B gets the back catalogue and new posts; C still gets nothing.
    let mut on_b = b.events();
    a.social()
        .approve_follower(b.peer_id())
        .await
        .expect("approve");
    on_b.wait_for("the approval", |event| {
        matches!(social(event), Some(EventView::Following { peer_id, status: FollowOutcome::Active }) if *peer_id == a.peer_id())
    })
    .await;
    b.wait_until("B has the older post", || {
        b.store().social().contains(&secret.id).expect("read")
    })
    .await;
    let fresh = a
        .social()
        .create_post(new_post("welcome in"))
        .await
        .expect("post");
    post_arrives(&mut on_b, fresh.id, DELIVERY).await;
    assert!(!c.store().social().contains(&fresh.id).expect("read"));
    b.wait_until("B has A's full profile", || {
        b.social()
            .user(&a.peer_id())
            .ok()
            .and_then(|user| user.profile)
            .is_some_and(|profile| profile.bio == "only for friends")
    })
    .await;
}

#[tokio::test]
async fn private_routes_answer_paired_devices_only() {
    let nodes = network(2).await;
    let (owner, device) = (&nodes[0], &nodes[1]);
    owner
        .social()
        .create_post(new_post("mine"))
        .await
        .expect("post");
    let ask = || async {
        device
            .handle()
            .client()
            .call::<_, kith_protocols::ObjectsPage>(
                owner.peer_id(),
                &routes::timeline(),
                &TimelineRequest {
                    limit: 10,
                    before: None,
                },
            )
            .await
    };
    assert_code(&ask().await.expect_err("not paired"), ErrorCode::Forbidden);

    let (status, body) = owner
        .api(
            reqwest::Method::PUT,
            &format!("/api/v1/devices/{}", device.peer_id()),
            None,
        )
        .await;
    assert_eq!(status, 200, "pair over HTTP: {body}");
    let page = ask().await.expect("paired");
    assert_eq!(page.objects.len(), 1);

    owner
        .social()
        .unpair_device(device.peer_id())
        .await
        .expect("unpair");
    assert_code(&ask().await.expect_err("unpaired"), ErrorCode::Forbidden);
}

#[tokio::test]
async fn unfollowing_takes_the_posts_off_the_timeline() {
    let nodes = network(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    follow(b, a).await;
    let mut on_b = b.events();
    let post = a.social().create_post(new_post("hi")).await.expect("post");
    post_arrives(&mut on_b, post.id, DELIVERY).await;
    let mut on_a = a.events();
    b.social().unfollow(a.peer_id()).await.expect("unfollow");
    assert!(
        b.social()
            .timeline(50, None)
            .expect("timeline")
            .posts
            .is_empty()
    );
    assert!(b.social().following().expect("following").is_empty());
    on_a.wait_for("the unfollow on A", |event| {
        matches!(social(event), Some(EventView::Follower { peer_id, status: FollowOutcome::Removed }) if *peer_id == b.peer_id())
    })
    .await;
    assert!(a.social().followers().expect("followers").is_empty());
}

/// The typed HTTP client of a node's API.
fn client_of(node: &TestNode) -> kith_client::Client {
    kith_client::Client::new(&format!("http://{}", node.api), &node.token).expect("a client")
}

/// B replies to and likes A's post: A hears of both on its event stream (read over HTTP with
/// the typed client, opened before B acts), lists them as notifications, and the post counts
/// them.
#[tokio::test]
async fn a_reply_and_a_like_notify_the_author() {
    use futures::StreamExt;
    use kith_protocols::NotificationKind;

    let nodes = network(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (a_api, b_api) = (client_of(a), client_of(b));
    // B follows A, so that B holds A's posts (a reply goes to the author of a post it holds).
    follow(b, a).await;
    let mut on_b = b.events();
    let post = a_api
        .create_post(&new_post("what do you think?"))
        .await
        .expect("post");
    post_arrives(&mut on_b, post.id, DELIVERY).await;

    let mut stream = a_api.events().await.expect("A's event stream");
    let answer = b_api
        .create_post(&NewPost {
            text: "I agree".to_owned(),
            reply_to: Some(post.id),
            quote_of: None,
        })
        .await
        .expect("reply");
    let liked = b_api.like(&post.id).await.expect("like");
    assert!(liked.liked, "B's view of the post says B liked it");

    // Both notifications and the like count, in whatever order the pushes land.
    let (mut reply_seen, mut like_seen, mut count_seen) = (None, None, None);
    let seen_all = tokio::time::timeout(crate::util::WAIT, async {
        while let Some(event) = stream.next().await {
            match event {
                Ok(EventView::Notification { notification }) => match notification.kind {
                    NotificationKind::Reply => reply_seen = Some(notification),
                    NotificationKind::Like => like_seen = Some(notification),
                    _ => {}
                },
                Ok(EventView::Like {
                    post_id,
                    like_count,
                }) if post_id == post.id => count_seen = Some(like_count),
                Ok(_) | Err(kith_client::Error::Lagged { .. }) => {}
                Err(error) => panic!("A's event stream failed: {error}"),
            }
            if reply_seen.is_some() && like_seen.is_some() && count_seen.is_some() {
                return;
            }
        }
        panic!("A's event stream ended");
    })
    .await;
    assert!(
        seen_all.is_ok(),
        "within {:?}: reply {reply_seen:?}, like {like_seen:?}, like count {count_seen:?}",
        crate::util::WAIT
    );
    let reply_seen = reply_seen.expect("seen");
    let like_seen = like_seen.expect("seen");
    assert_eq!(count_seen, Some(1));
    assert_eq!(reply_seen.actor, b.peer_id());
    assert_eq!(reply_seen.post.as_ref().map(|p| p.id), Some(answer.id));
    assert_eq!(like_seen.actor, b.peer_id());
    assert_eq!(like_seen.post.as_ref().map(|p| p.id), Some(post.id));

    // The list: the like and the reply (pushed independently, so in either order), then B's
    // follow.
    let page = a_api
        .notifications(None, None)
        .await
        .expect("notifications");
    assert_eq!(page.next, None);
    let kinds: Vec<_> = page.notifications.iter().map(|n| n.kind).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(kinds[..2].contains(&NotificationKind::Reply), "{kinds:?}");
    assert!(kinds[..2].contains(&NotificationKind::Like), "{kinds:?}");
    assert_eq!(kinds[2], NotificationKind::Follow);
    assert!(page.notifications.iter().all(|n| n.actor == b.peer_id()));

    let counted = a_api.post(&post.id).await.expect("the post");
    assert_eq!((counted.reply_count, counted.like_count), (1, 1));
    assert!(!counted.liked, "A did not like it");
    let replies = a_api
        .replies(&post.id, None, None)
        .await
        .expect("the replies");
    assert_eq!(
        replies.posts.iter().map(|p| p.id).collect::<Vec<_>>(),
        [answer.id]
    );
    // B holds nothing that is news for B.
    let nothing = b_api
        .notifications(None, None)
        .await
        .expect("notifications");
    assert!(nothing.notifications.is_empty());
}

/// A follower whose gossip subscription the author has not heard of (a follow that just happened
/// races its subscription; here a peer with no gossipsub at all, so the race is always lost)
/// gets each new post handed over directly while it is connected, not at the next periodic sync.
#[tokio::test]
async fn a_follower_gossip_does_not_reach_gets_new_posts_directly() {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let mut raw = RawPeer::spawn(RawStack::Psk(key.clone())).await;
    // It tells the truth about itself, so A verifies it and keeps the connection.
    raw.serve_info(NodeInfo {
        peer_id: raw.peer_id,
        role: Role::Member,
        network: a.handle().network().to_owned(),
        version: "0.1.0".into(),
        protocol_version: PROTOCOL_VERSION,
        routes: vec![routes::info(), routes::objects()],
        listen_addrs: vec![raw.addr.clone()],
        profile: None,
        reachability: None,
    });
    let mut handed_over = raw.serve(
        &routes::objects(),
        serde_json::to_value(ObjectsReply { stored: 1 }).expect("reply serializes"),
    );
    raw.dial(a.addr());
    raw.wait_for(
        "the raw follower to connect",
        |event| matches!(event, RawEvent::Connected(peer) if *peer == a.peer_id()),
    )
    .await;

    let follow = SignedObject::create(
        &raw.keypair,
        kith_node::now_ms(),
        Content::Follow {
            target: a.peer_id(),
        },
    )
    .expect("sign");
    let answer = raw
        .request(
            a.peer_id(),
            &routes::follow(),
            &Request::new(FollowBody {
                object: follow.to_json(),
            }),
        )
        .await;
    let reply: FollowReply =
        serde_json::from_value(answer.result.expect("the follow is taken")).expect("reply");
    assert_eq!(reply.status, FollowOutcome::Active);

    let post = a
        .social()
        .create_post(new_post("straight to you"))
        .await
        .expect("post");
    let (caller, body) = tokio::time::timeout(DELIVERY, handed_over.recv())
        .await
        .unwrap_or_else(|_| panic!("the post was not handed over within {DELIVERY:?}"))
        .expect("the raw peer serves");
    assert_eq!(caller, a.peer_id());
    let body: ObjectsBody = serde_json::from_value(body).expect("an objects body");
    let ids: Vec<ObjectId> = body
        .objects
        .iter()
        .map(|object| {
            let bytes = serde_json::to_vec(object).expect("serializes");
            SignedObject::verify(&bytes, &VerifyRules::default(), kith_node::now_ms())
                .expect("a genuine object")
                .id()
        })
        .collect();
    assert_eq!(ids, vec![post.id], "exactly the new post");
}
