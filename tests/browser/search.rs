//! The search page: A's owner finds their own post by a word of it (any case), likes it from
//! the results, finds B by display name once B's node is connected and known, and the query in
//! the URL survives a reload and the back button.

use fantoccini::key::Key;
use serde_json::json;

use super::{Browser, Viewport, set_profile, skip};
use crate::util::{Options, TestNode, network_key};

/// True once `#search-posts` shows a post whose text is `arguments[0]`.
const POSTS_HAVE_TEXT: &str = "return [...document.querySelectorAll('#search-posts article.post .post-text')]\
     .some((el) => el.textContent === arguments[0])";

/// True once the search page for `?q=arguments[0]` has rendered.
const SEARCHED: &str = "return location.pathname === '/search' \
     && new URLSearchParams(location.search).get('q') === arguments[0] \
     && document.body.dataset.ready === 'true'";

#[tokio::test]
async fn search_finds_own_posts_and_known_people() {
    if skip() {
        return;
    }
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key)).await;
    // B has a name before A meets B, so A learns it from B's node info and profile.
    set_profile(&b, "Brigid Weaver", "makes cloth").await;
    let b_id = b.peer_id();
    a.network().add_peer(b.addr()).await.expect("A dials B");
    a.wait_until("A knows B by name", || {
        a.social()
            .search("brigid", 5)
            .is_ok_and(|found| found.people.iter().any(|user| user.peer_id == b_id))
    })
    .await;

    let mut browser = Browser::logged_in(&a).await;
    let text = "Jacquard loom";
    browser.type_into("#compose-text", text).await;
    browser.wait_for("#compose-submit:not([disabled])").await;
    browser.click("#compose-submit").await;
    browser
        .wait_js(
            "return [...document.querySelectorAll('#timeline article.post .post-text')]\
               .some((el) => el.textContent === arguments[0])",
            vec![json!(text)],
            "the post on A's timeline",
        )
        .await;

    // The nav leads to the search page: an empty state and a focused input.
    browser.click("a[data-nav=\"search\"]").await;
    browser.wait_ready("/search").await;
    browser.wait_for("main [data-test=\"empty\"]").await;
    let focused = browser
        .js(
            "return document.activeElement && document.activeElement.id",
            vec![],
        )
        .await;
    assert_eq!(
        focused,
        json!("search-input"),
        "the search input has the focus"
    );
    assert_eq!(
        browser
            .js("return document.querySelector('a[data-nav=\"search\"]').getAttribute('aria-current')", vec![])
            .await,
        json!("page")
    );

    // Enter searches; the query goes into the URL; the post shows, whatever the case.
    let enter = char::from(Key::Enter);
    browser
        .type_into("#search-input", &format!("jacquard{enter}"))
        .await;
    browser
        .wait_js(SEARCHED, vec![json!("jacquard")], "the search for jacquard")
        .await;
    browser
        .wait_js(
            POSTS_HAVE_TEXT,
            vec![json!(text)],
            "the post in #search-posts",
        )
        .await;

    // The results are real posts: liking one works from here.
    browser
        .click("#search-posts article.post button[data-action=\"like\"]")
        .await;
    browser
        .wait_js(
            "const b = document.querySelector('#search-posts article.post button[data-action=\"like\"]'); \
             return b.getAttribute('aria-pressed') === 'true' \
               && b.querySelector('.like-count').textContent === '1'",
            vec![],
            "the like to show in the search results",
        )
        .await;

    // B's display name finds B, linked to B's page.
    browser
        .js(
            "const i = document.querySelector('#search-input'); i.value = ''; i.focus(); return true",
            vec![],
        )
        .await;
    browser
        .type_into("#search-input", &format!("Brigid{enter}"))
        .await;
    browser
        .wait_js(SEARCHED, vec![json!("Brigid")], "the search for Brigid")
        .await;
    let person = browser
        .wait_js(
            "const li = document.querySelector(`#search-people li[data-peer-id=\"${arguments[0]}\"]`); \
             return li && [li.querySelector('.person-name').textContent, \
                           li.querySelector('a.person-name').getAttribute('href')]",
            vec![json!(b_id.to_string())],
            "B in #search-people",
        )
        .await;
    assert_eq!(person, json!(["Brigid Weaver", format!("/users/{b_id}")]));
    browser
        .wait_for("#search-posts [data-test=\"empty\"]")
        .await;
    // For a person to look at (target/screenshots/), at both widths.
    browser.screenshot("search-desktop").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.screenshot("search-phone").await;
    browser.set_viewport(Viewport::Desktop).await;

    // Back shows the previous search again; a reload keeps the current one.
    browser.js("history.back(); return true", vec![]).await;
    browser
        .wait_js(
            SEARCHED,
            vec![json!("jacquard")],
            "back to the search for jacquard",
        )
        .await;
    browser
        .wait_js(
            POSTS_HAVE_TEXT,
            vec![json!(text)],
            "the post after going back",
        )
        .await;
    browser
        .goto(&format!("{}/search?q=Brigid", browser.origin()))
        .await;
    browser
        .wait_js(
            "const input = document.querySelector('#search-input'); \
             return document.body.dataset.ready === 'true' && input && input.value === 'Brigid' \
               && document.querySelector('#search-people li[data-peer-id]') !== null",
            vec![],
            "the search for Brigid after a reload",
        )
        .await;

    browser.close().await;
    b.shutdown().await;
    a.shutdown().await;
}
