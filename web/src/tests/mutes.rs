//! Handler tests of the mutes endpoints (`/api/v1/mutes...`) and what a mute changes in the
//! other answers (the home timeline, a user's `muted`), against a real node. Another person's
//! posts are signed with a fresh key and stored directly, as if synced from their node.

use kith_protocols::{Content, MuteView, PostContent, PostPage, Profile, SignedObject, UserView};

use super::*;

/// Stores `content` signed by `keypair` as if received from its author (posts go on the home
/// timeline).
async fn receive(t: &TestApp, keypair: &Keypair, created_at: u64, content: Content) {
    let object = SignedObject::create(keypair, created_at, content).expect("sign");
    let received = t
        .store
        .social()
        .insert_received(&object, true, &t.peer_id(), kith_node::now_ms())
        .await
        .expect("insert");
    assert!(received.inserted.is_stored());
}

fn timeline_authors(page: &PostPage) -> Vec<PeerId> {
    page.posts.iter().map(|post| post.author).collect()
}

#[tokio::test]
async fn mute_list_and_unmute_with_their_codes_and_shapes() {
    let t = TestApp::start().await;
    let bob = Keypair::generate_ed25519();
    let bob_id = bob.public().to_peer_id();
    let profile = Profile {
        display_name: "Bob".to_owned(),
        ..Profile::default()
    };
    receive(&t, &bob, 1_000, Content::Profile(profile)).await;

    assert!(t.read::<Vec<MuteView>>("/api/v1/mutes").await.is_empty());

    // Mute: 200 with the entry, idempotent.
    let uri = format!("/api/v1/mutes/{bob_id}");
    let reply = t.call(Method::PUT, &uri, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let raw: serde_json::Value = reply.json();
    let object = raw.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["name", "peer_id", "since_ms"]);
    assert_eq!(raw["peer_id"], bob_id.to_string());
    assert_eq!(raw["name"], "Bob");
    let first: MuteView = reply.json();
    assert!(first.since_ms > 0);
    let again = t.call(Method::PUT, &uri, None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json::<MuteView>(), first);
    assert_eq!(t.read::<Vec<MuteView>>("/api/v1/mutes").await, vec![first]);

    // Someone without a known name: no `name` field.
    let stranger = PeerId::random();
    let reply = t
        .call(Method::PUT, &format!("/api/v1/mutes/{stranger}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json::<serde_json::Value>().get("name").is_none());
    assert_eq!(t.read::<Vec<MuteView>>("/api/v1/mutes").await.len(), 2);

    // Unmute: 204, then 404 once it is gone.
    let reply = t.call(Method::DELETE, &uri, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    t.call(Method::DELETE, &uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let left = t.read::<Vec<MuteView>>("/api/v1/mutes").await;
    assert_eq!(
        left.iter().map(|m| m.peer_id).collect::<Vec<_>>(),
        [stranger]
    );
    t.stop().await;
}

#[tokio::test]
async fn bad_mutes_are_refused() {
    let t = TestApp::start().await;
    let own = format!("/api/v1/mutes/{}", t.peer_id());
    let message = t
        .call(Method::PUT, &own, None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    assert!(message.contains("yourself"), "{message}");
    for method in [Method::PUT, Method::DELETE] {
        t.call(method, "/api/v1/mutes/not-a-peer-id", None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    assert!(t.read::<Vec<MuteView>>("/api/v1/mutes").await.is_empty());
    // Without credentials, nothing.
    let reply = t.send(get("/api/v1/mutes")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    t.stop().await;
}

#[tokio::test]
async fn a_mute_hides_the_timeline_posts_but_not_the_user_page() {
    let t = TestApp::start().await;
    let bob = Keypair::generate_ed25519();
    let bob_id = bob.public().to_peer_id();
    for at in 1..=3 {
        let text = format!("bob {at}");
        receive(&t, &bob, at, Content::Post(PostContent::new(text))).await;
    }
    let own = t.post_json(serde_json::json!({"text": "mine"})).await;
    let user_uri = format!("/api/v1/users/{bob_id}");
    let before: UserView = t.read(&user_uri).await;
    assert!(!before.muted);
    let raw: serde_json::Value = t.read(&user_uri).await;
    assert_eq!(raw["muted"], false);
    assert_eq!(
        timeline_authors(&t.read("/api/v1/timeline").await),
        [t.peer_id(), bob_id, bob_id, bob_id]
    );

    let reply = t
        .call(Method::PUT, &format!("/api/v1/mutes/{bob_id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let page: PostPage = t.read("/api/v1/timeline").await;
    assert_eq!(timeline_authors(&page), [t.peer_id()]);
    assert_eq!(page.posts[0].id, own.id);
    assert_eq!(page.next, None);
    let user: UserView = t.read(&user_uri).await;
    assert!(user.muted);
    let theirs: PostPage = t.read(&format!("{user_uri}/posts")).await;
    assert_eq!(theirs.posts.len(), 3, "their page still shows their posts");

    let reply = t
        .call(Method::DELETE, &format!("/api/v1/mutes/{bob_id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        timeline_authors(&t.read("/api/v1/timeline").await).len(),
        4,
        "unmuting brings their posts back"
    );
    assert!(!t.read::<UserView>(&user_uri).await.muted);
    t.stop().await;
}
