//! Mutes in the UI: A follows B and sees B's posts at home; A mutes B from B's profile page,
//! and A's home timeline no longer shows B's posts (neither the stored ones nor one arriving
//! live), while B's page still does; Settings lists B under "Muted people", unmuting there
//! brings every post back.

use serde_json::json;

use super::{Browser, follow, post, set_profile, skip, stores, two_nodes};

/// True once `arguments[0]` (a list's CSS selector) holds a post whose text is `arguments[1]`.
const LIST_HAS_TEXT: &str = "return [...document.querySelectorAll(arguments[0] + ' article.post .post-text')]\
     .some((el) => el.textContent === arguments[1])";

#[tokio::test]
async fn muting_from_the_profile_hides_posts_at_home_until_unmuted() {
    if skip() {
        return;
    }
    let (a, b) = two_nodes().await;
    set_profile(&b, "Bram", "talks a lot").await;
    follow(&a, &b).await;
    let b_id = b.peer_id();
    let before = "Bram's first post";
    let id = post(&b, json!({"text": before})).await["id"]
        .as_str()
        .expect("post id")
        .to_owned();
    a.wait_until("A has B's post", || stores(&a, &id)).await;

    let browser = Browser::logged_in(&a).await;
    browser
        .wait_js(
            LIST_HAS_TEXT,
            vec![json!("#timeline"), json!(before)],
            "B's post on A's home timeline",
        )
        .await;

    // A mutes B from B's profile page.
    let profile = format!("/users/{b_id}");
    browser.visit(&profile).await;
    browser
        .wait_js(
            "const b = document.querySelector('#mute-button'); \
             return b && b.textContent === 'Mute' && b.getAttribute('aria-pressed') === 'false'",
            vec![],
            "a Mute button on B's profile",
        )
        .await;
    browser.click("#mute-button").await;
    browser
        .wait_js(
            "const b = document.querySelector('#mute-button'); \
             return b.textContent === 'Unmute' && b.getAttribute('aria-pressed') === 'true' \
               && !!document.querySelector('#profile [data-test=\"muted\"]')",
            vec![],
            "the button to say Unmute and the profile to say Muted",
        )
        .await;
    assert!(a.social().is_muted(&b_id).expect("mutes readable"));
    // Their own page still shows their posts, and they are still followed.
    browser
        .wait_js(
            LIST_HAS_TEXT,
            vec![json!("#user-posts"), json!(before)],
            "B's post on B's profile page",
        )
        .await;
    let follow_state = browser
        .js(
            "return document.querySelector('#follow-button').textContent",
            vec![],
        )
        .await;
    assert_eq!(follow_state, json!("Unfollow"));

    // Home: B's post is gone from the timeline.
    browser.visit("/").await;
    let shown = browser
        .js(LIST_HAS_TEXT, vec![json!("#timeline"), json!(before)])
        .await;
    assert_eq!(
        shown,
        json!(false),
        "a muted person's post on the home timeline"
    );

    // A post B writes while muted reaches A's node (following goes on) but not A's open
    // timeline. A's own post, stored after it, arrives live: once it shows, B's event would
    // have come first.
    let during = "Bram again, while muted";
    let id = post(&b, json!({"text": during})).await["id"]
        .as_str()
        .expect("post id")
        .to_owned();
    // Gossip may or may not carry it (B publishes only to subscriptions it already knows of);
    // the pull sync always does, as it would within a minute on its own.
    a.social().sync_with(b_id).await.expect("A syncs with B");
    assert!(stores(&a, &id), "A has B's post written while muted");
    let own = "A's own post after the mute";
    post(&a, json!({"text": own})).await;
    browser
        .wait_js(
            LIST_HAS_TEXT,
            vec![json!("#timeline"), json!(own)],
            "A's own post live on A's timeline",
        )
        .await;
    let leaked = browser
        .js(
            "return document.body.innerText.includes(arguments[0]) \
               || !document.querySelector('#new-posts').hidden",
            vec![json!(during)],
        )
        .await;
    assert_eq!(leaked, json!(false), "B's live post was shown or announced");

    // Settings lists B under Muted people; unmuting there brings everything back.
    browser.visit("/settings").await;
    let row = format!("#mutes li[data-peer-id=\"{b_id}\"]");
    browser.wait_for(&row).await;
    let name = browser
        .js(
            "return document.querySelector(arguments[0] + ' .person-name').textContent",
            vec![json!(row)],
        )
        .await;
    assert_eq!(name, json!("Bram"));
    browser
        .click(&format!("{row} button[data-action=\"unmute\"]"))
        .await;
    browser
        .wait_js(
            "const list = document.querySelector('#mutes'); \
             return list.children.length === 0 \
               && !!list.parentElement.querySelector('[data-test=\"empty\"]')",
            vec![],
            "the muted list to be empty",
        )
        .await;
    assert!(!a.social().is_muted(&b_id).expect("mutes readable"));
    browser.visit("/").await;
    for text in [before, during] {
        browser
            .wait_js(
                LIST_HAS_TEXT,
                vec![json!("#timeline"), json!(text)],
                &format!("{text:?} back on A's home timeline"),
            )
            .await;
    }

    browser.close().await;
    b.shutdown().await;
    a.shutdown().await;
}
