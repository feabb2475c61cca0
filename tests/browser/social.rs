//! Two owners, two nodes, two browsers: following someone from the Network page, a post
//! reaching the follower's open timeline live, and a reply and a like going back.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Browser, follow, post, skip, stores, two_nodes, wait_follow_active};

/// The bound for a post to show up in a follower's open timeline.
const LIVE: Duration = Duration::from_secs(2);

/// True once `#timeline` holds a post whose text is `arguments[0]`.
const TIMELINE_HAS_TEXT: &str = "return [...document.querySelectorAll('#timeline article.post .post-text')]\
     .some((el) => el.textContent === arguments[0])";

#[tokio::test]
async fn two_nodes_follow_and_live_post() {
    if skip() {
        return;
    }
    let (a, b) = two_nodes().await;
    let (browser_a, browser_b) = tokio::join!(Browser::logged_in(&a), Browser::logged_in(&b));

    // B's owner follows A by peer id on the Network page.
    browser_b.open("/network").await;
    browser_b
        .type_into("#follow-peer-id", &a.peer_id().to_string())
        .await;
    browser_b.click("#follow-submit").await;
    wait_follow_active(&b, &a).await;
    browser_b
        .wait_js(
            "const r = document.querySelector('#follow-submit').form.querySelector('.form-result'); \
             return r.classList.contains('ok') && r.textContent.includes('You now follow')",
            vec![],
            "the follow form to report success",
        )
        .await;

    // B opens the home timeline and keeps it open; a marker on `window` survives only as
    // long as the page is not reloaded.
    browser_b.open("/").await;
    let loads = browser_b
        .js(
            "window.__kithNoReload = 'still here'; \
             return performance.getEntriesByType('navigation').length",
            vec![],
        )
        .await;

    // A writes a post in A's UI.
    let text = format!("Hello from A's browser, {}", uuid::Uuid::new_v4());
    browser_a.type_into("#compose-text", &text).await;
    browser_a.wait_for("#compose-submit:not([disabled])").await;
    browser_a.click("#compose-submit").await;
    let submitted = Instant::now();

    // It shows up in B's open timeline within the bound, without a reload.
    if let Err(e) = browser_b
        .poll_js(TIMELINE_HAS_TEXT, vec![json!(text)], LIVE)
        .await
    {
        let late = browser_b
            .poll_js(
                TIMELINE_HAS_TEXT,
                vec![json!(text)],
                Duration::from_secs(10),
            )
            .await
            .map_or("not even after 10 s more".to_owned(), |(_, t)| {
                format!("after {:?}", submitted.elapsed().max(t))
            });
        panic!(
            "{}",
            browser_b
                .failure(&format!(
                    "A's post was not in B's open timeline within {LIVE:?} ({e}); it came {late}"
                ))
                .await
        );
    }
    let took = submitted.elapsed();
    assert!(took <= LIVE, "the post took {took:?} to show on B");
    let after = browser_b
        .js(
            "return [window.__kithNoReload, performance.getEntriesByType('navigation').length]",
            vec![],
        )
        .await;
    assert_eq!(
        after,
        json!(["still here", loads]),
        "B's page was not reloaded"
    );
    eprintln!("A's post showed in B's open timeline {took:?} after A's submit");

    // A's own timeline shows it too, and both nodes agree on its author.
    browser_a
        .wait_js(
            TIMELINE_HAS_TEXT,
            vec![json!(text)],
            "the post on A's timeline",
        )
        .await;
    let author = browser_b
        .js(
            "const el = [...document.querySelectorAll('#timeline article.post')]\
               .find((a) => a.querySelector('.post-text').textContent === arguments[0]); \
             return el.dataset.author",
            vec![json!(text)],
        )
        .await;
    assert_eq!(author, json!(a.peer_id().to_string()));

    tokio::join!(browser_a.close(), browser_b.close());
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn reply_and_like_between_two_uis() {
    if skip() {
        return;
    }
    let (a, b) = two_nodes().await;
    follow(&b, &a).await;
    let original = post(&a, json!({"text": "What should I cook tonight?"})).await;
    let id = original["id"].as_str().expect("post id").to_owned();
    b.wait_until("B has A's post", || stores(&b, &id)).await;

    let (browser_a, browser_b) = tokio::join!(Browser::logged_in(&a), Browser::logged_in(&b));
    let article = format!("#timeline article.post[data-id=\"{id}\"]");

    // B replies inline under A's post, then likes it.
    browser_b
        .click(&format!("{article} button[data-action=\"reply\"]"))
        .await;
    let reply_text = "Pasta, always pasta.";
    browser_b
        .type_into(&format!("{article} textarea.reply-text"), reply_text)
        .await;
    browser_b
        .click(&format!("{article} button.reply-submit:not([disabled])"))
        .await;
    browser_b
        .wait_js(
            "return !document.querySelector(arguments[0])",
            vec![json!(format!("{article} textarea.reply-text"))],
            "the inline reply box to close after sending",
        )
        .await;
    browser_b
        .click(&format!("{article} button[data-action=\"like\"]"))
        .await;
    let like = format!("{article} button[data-action=\"like\"]");
    browser_b
        .wait_js(
            "const b = document.querySelector(arguments[0]); \
             return b.getAttribute('aria-pressed') === 'true' \
               && b.querySelector('.like-count').textContent.trim() === '1'",
            vec![json!(like)],
            "B's like button pressed with a count of 1",
        )
        .await;

    // The reply and the like reach A by direct push to the post's author.
    let replies = b
        .social()
        .user_posts(&b.peer_id(), 10, None)
        .expect("B's posts")
        .posts;
    let reply = replies
        .iter()
        .find(|p| p.text == reply_text)
        .unwrap_or_else(|| panic!("B stored no reply: {replies:?}"));
    assert_eq!(
        reply.reply_to.map(|r| r.to_string()).as_deref(),
        Some(id.as_str()),
        "the reply answers A's post"
    );
    let reply_id = reply.id.to_string();
    let post_id = id.parse().expect("an object id");
    a.wait_until("A has B's reply and like", || {
        stores(&a, &reply_id) && a.social().post(&post_id).is_ok_and(|p| p.like_count == 1)
    })
    .await;

    // A's UI: the thread page lists the reply and counts the like.
    browser_a.open(&format!("/posts/{id}")).await;
    browser_a
        .wait_js(
            "return [...document.querySelectorAll('#replies article.post')]\
               .some((el) => el.dataset.id === arguments[0] \
                 && el.querySelector('.post-text').textContent === arguments[1])",
            vec![json!(reply_id), json!(reply_text)],
            "B's reply under #replies on A's thread page",
        )
        .await;
    let count = browser_a
        .js(
            "const p = document.querySelector(`article.post[data-id=\"${arguments[0]}\"]:not(#replies *)`); \
             return p.querySelector('.post-actions .like-count').textContent.trim()",
            vec![json!(id)],
        )
        .await;
    assert_eq!(count, json!("1"), "A's UI counts B's like");
    // A's home timeline shows the count as well.
    browser_a.open("/").await;
    browser_a
        .wait_js(
            "const b = document.querySelector(arguments[0]); \
             return !!b && b.querySelector('.like-count').textContent.trim() === '1' \
               && b.getAttribute('aria-pressed') === 'false'",
            vec![json!(like)],
            "the like count on A's timeline (not pressed: A did not like it)",
        )
        .await;

    tokio::join!(browser_a.close(), browser_b.close());
    b.shutdown().await;
    a.shutdown().await;
}
