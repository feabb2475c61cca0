//! The first minute of a new owner: a fresh node, its login link, and a home page that says what
//! to do next instead of showing nothing.

use serde_json::json;

use super::{Browser, Viewport, skip};
use crate::util::{Options, TestNode, network_key};

#[tokio::test]
async fn first_run_lands_on_an_empty_timeline_that_says_what_to_do() {
    if skip() {
        return;
    }
    let node = TestNode::spawn(Options::new(&network_key())).await;
    let mut browser = Browser::logged_in(&node).await;
    let url = browser.url().await;
    assert_eq!(url.path(), "/", "the login link leads home, not to {url}");
    assert!(
        url.query().is_none(),
        "the one-time code is gone from {url}"
    );

    // The timeline is there and empty, and the empty state is visible and helpful.
    let posts = browser
        .js(
            "const t = document.querySelector('#timeline'); \
             return t ? t.querySelectorAll('article.post').length : -1",
            vec![],
        )
        .await;
    assert_eq!(posts, json!(0), "#timeline exists and holds no post");
    let empty = browser.wait_for("main [data-test=\"empty\"]").await;
    assert!(
        empty.is_displayed().await.expect("visibility"),
        "the empty state is visible"
    );
    let text = empty.text().await.expect("text");
    assert!(
        text.contains("Your timeline is empty") && text.contains("Network page"),
        "the empty state says what to do: {text:?}"
    );
    let network_link = browser
        .js(
            "return !!document.querySelector('main [data-test=\"empty\"] a[href=\"/network\"]')",
            vec![],
        )
        .await;
    assert_eq!(
        network_link,
        json!(true),
        "the empty state links to /network"
    );
    // The compose box is there to write the first post.
    browser.wait_for("#compose-text").await;
    browser.wait_for("#compose-submit[disabled]").await;

    browser.screenshot("home-empty-desktop").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.open("/").await;
    browser.wait_for("main [data-test=\"empty\"]").await;
    browser.screenshot("home-empty-phone").await;

    // Nothing went wrong on the way: no script error, no CSP violation, and every page and
    // UI file loaded. (API answers are the UI's business: it copes with an error answer.)
    let api = format!("{}/api/", browser.origin());
    let errors: Vec<String> = browser
        .console()
        .await
        .into_iter()
        .filter(|entry| entry.level == "SEVERE" || entry.source == "security")
        .filter(|entry| !(entry.source == "network" && entry.message.starts_with(&api)))
        .map(|entry| entry.to_string())
        .collect();
    assert!(errors.is_empty(), "errors in the browser: {errors:#?}");

    browser.close().await;
    node.shutdown().await;
}
