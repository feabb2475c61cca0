//! Handler tests of `GET /api/v1/search`: its answer's shape, the post matching and order, its
//! 400s, and finding people (connected nodes by name, by peer id, followees first) against
//! real nodes.

use std::time::Instant;

use kith_protocols::{SearchResults, UserView};

use super::*;

/// `GET /api/v1/search` with a raw query string, asserting the 200.
async fn search(t: &TestApp, query: &str) -> SearchResults {
    t.read(&format!("/api/v1/search?{query}")).await
}

fn texts(results: &SearchResults) -> Vec<&str> {
    results
        .posts
        .iter()
        .map(|post| post.text.as_str())
        .collect()
}

fn people(results: &SearchResults) -> Vec<PeerId> {
    results.people.iter().map(|user| user.peer_id).collect()
}

/// Sets a node's display name.
async fn name(t: &TestApp, display_name: &str) {
    let reply = t
        .call(
            Method::PUT,
            "/api/v1/profile",
            Some(serde_json::json!({ "display_name": display_name })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

/// Polls `query` on `t` until `done` holds for the answer (the name of a peer that just
/// connected reaches the node in the background), failing after [`PATIENCE`].
async fn search_until(
    t: &TestApp,
    query: &str,
    what: &str,
    done: impl Fn(&SearchResults) -> bool,
) -> SearchResults {
    let start = Instant::now();
    loop {
        let results = search(t, query).await;
        if done(&results) {
            return results;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "timed out waiting for {what}: last answer {results:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn search_matches_posts_and_checks_its_query() {
    let t = TestApp::start().await;
    name(&t, "Ada Lovelace").await;
    for text in [
        "The Jacquard loom reads punched cards",
        "nothing to see",
        "JACQUARD cards, again",
        "a loom without a name",
    ] {
        t.post_json(serde_json::json!({ "text": text })).await;
    }

    // The documented shape, every field present.
    let raw: serde_json::Value = t.read("/api/v1/search?q=jacquard").await;
    let object = raw.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["people", "posts", "posts_truncated"]);
    assert_eq!(raw["posts_truncated"], false);

    // Every word, any case, newest first.
    let results = search(&t, "q=jacquard").await;
    assert_eq!(
        texts(&results),
        [
            "JACQUARD cards, again",
            "The Jacquard loom reads punched cards"
        ]
    );
    assert!(results.people.is_empty(), "{:?}", results.people);
    assert_eq!(
        texts(&search(&t, "q=%20Loom%20JACQUARD%20").await),
        ["The Jacquard loom reads punched cards"]
    );
    assert_eq!(
        texts(&search(&t, "q=loom").await),
        [
            "a loom without a name",
            "The Jacquard loom reads punched cards"
        ]
    );
    assert!(search(&t, "q=weaving").await.posts.is_empty());
    assert_eq!(search(&t, "q=cards&limit=1").await.posts.len(), 1);

    // The owner is one of the people this node knows.
    let results = search(&t, "q=lovelace").await;
    assert_eq!(people(&results), [t.peer_id()]);
    assert!(results.people[0].is_self);
    assert!(results.posts.is_empty());

    // A whole peer id finds that person, known or not.
    let stranger = PeerId::random();
    let results = search(&t, &format!("q={stranger}")).await;
    assert_eq!(people(&results), [stranger]);
    assert_eq!(results.people[0].profile, None);

    // A query of exactly 100 characters is fine (é is one character, two bytes).
    let longest = "%C3%A9".repeat(100);
    assert!(search(&t, &format!("q={longest}")).await.posts.is_empty());

    for bad in [
        String::new(),
        "q=".to_owned(),
        "q=%20%20%09".to_owned(),
        format!("q={longest}x"),
        "q=a&limit=0".to_owned(),
        "q=a&limit=51".to_owned(),
        "q=a&limit=-1".to_owned(),
        "q=a&limit=many".to_owned(),
        "q=a&limit=99999999999999999999999".to_owned(),
    ] {
        let uri = format!("/api/v1/search?{bad}");
        let reply = t.call(Method::GET, &uri, None).await;
        reply.assert_error(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest);
    }
    assert_eq!(
        t.call(Method::POST, "/api/v1/search?q=a", None)
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    t.stop().await;
}

#[tokio::test]
async fn search_finds_people_by_name_and_id_followees_first() {
    let key = NetworkKey::generate();
    let a = TestApp::start_in(key.clone()).await;
    let b = TestApp::start_in(key.clone()).await;
    let c = TestApp::start_in(key).await;
    // Their names reach A with their node info and profiles, once connected.
    name(&b, "Grace Brewster").await;
    name(&c, "Grace Hopper").await;
    connect(&a, &b).await;
    connect(&a, &c).await;

    let both = |results: &SearchResults| results.people.len() == 2;
    let results = search_until(&a, "q=GRACE", "both Graces on A", both).await;
    assert_eq!(people(&results), [b.peer_id(), c.peer_id()], "by name");
    let user: &UserView = &results.people[0];
    assert!(user.connected && !user.is_self);
    assert_eq!(
        user.profile.as_ref().map(|p| p.display_name.as_str()),
        Some("Grace Brewster")
    );

    // Several words: all of them must be in the name.
    assert_eq!(people(&search(&a, "q=hopper%20grace").await), [c.peer_id()]);
    assert!(search(&a, "q=grace%20lovelace").await.people.is_empty());

    // A followee comes before the others.
    let reply = a
        .call(
            Method::POST,
            &format!("/api/v1/follows/{}", c.peer_id()),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let results = search(&a, "q=grace").await;
    assert_eq!(people(&results), [c.peer_id(), b.peer_id()]);
    assert!(results.people[0].following.is_some());

    // By a fragment of the peer id, and by the whole id, which comes first.
    let b_id = b.peer_id().to_base58();
    let fragment = &b_id[b_id.len() - 10..];
    assert_eq!(
        people(&search(&a, &format!("q={fragment}")).await),
        [b.peer_id()]
    );
    let results = search(&a, &format!("q={b_id}")).await;
    assert_eq!(results.people.first().map(|u| u.peer_id), Some(b.peer_id()));

    // At most `limit` people.
    assert_eq!(search(&a, "q=grace&limit=1").await.people.len(), 1);

    a.stop().await;
    b.stop().await;
    c.stop().await;
}
