//! A hostile web site cannot make the owner's logged-in browser write to their node: a
//! cross-site form post (the classic `text/plain` JSON trick) and a `no-cors` fetch with
//! credentials both end in an error, and the node stores nothing.
//!
//! The attacker's pages are served by a tiny HTTP server of the test on `localhost`, which is
//! another site than the node's `127.0.0.1` (cookies with `SameSite=Strict` stay home, and the
//! `Origin` header names the attacker).

use std::{net::SocketAddr, time::Instant};

use axum::{Router, response::Html, routing::get};
use serde_json::json;

use super::{Browser, origin, skip};
use crate::util::{Options, TestNode, WAIT, network_key};

/// The attacker's site: `/` posts a form to the node as soon as it loads, `/fetch` sends a
/// `no-cors` fetch with the browser's credentials and writes what became of it into `#out`.
async fn attacker_site(target: &str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    // The field name and value add up to a JSON body: {"text":"forged by a form","x":"="}.
    let form = format!(
        r#"<!doctype html><title>You won a prize</title>
<form id="f" method="post" action="{target}/api/v1/posts" enctype="text/plain">
<input type="hidden" name='{{"text":"forged by a form","x":"' value='"}}'>
</form>
<script>document.getElementById('f').submit();</script>"#
    );
    let fetch = format!(
        r#"<!doctype html><title>Loading</title><p id="out">waiting</p>
<script>
fetch('{target}/api/v1/posts', {{
  method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {{'Content-Type': 'text/plain'}},
  body: JSON.stringify({{text: 'forged by fetch'}}),
}}).then(
  (r) => {{ document.getElementById('out').textContent = 'answered:' + r.type; }},
  (e) => {{ document.getElementById('out').textContent = 'failed:' + e; }},
);
</script>"#
    );
    let router = Router::new()
        .route("/", get(move || std::future::ready(Html(form.clone()))))
        .route(
            "/fetch",
            get(move || std::future::ready(Html(fetch.clone()))),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the attacker's site");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the attacker's site serves");
    });
    (addr, task)
}

/// How many posts of its own `node` stores.
fn own_posts(node: &TestNode) -> usize {
    node.social()
        .user_posts(&node.peer_id(), 100, None)
        .expect("own posts")
        .posts
        .len()
}

#[tokio::test]
async fn a_cross_site_form_post_and_fetch_are_refused() {
    if skip() {
        return;
    }
    let node = TestNode::spawn(Options::new(&network_key())).await;
    let browser = Browser::logged_in(&node).await;
    let (site, site_task) = attacker_site(&origin(&node)).await;
    let attacker = format!("http://localhost:{}", site.port());
    assert_eq!(own_posts(&node), 0);

    // A fetch with the browser's credentials, not allowed to read the answer.
    browser.goto(&format!("{attacker}/fetch")).await;
    let outcome = browser
        .wait_js(
            "const t = document.getElementById('out').textContent; \
             return t === 'waiting' ? null : t",
            vec![],
            "the attacker's fetch to finish",
        )
        .await;
    eprintln!("the attacker's no-cors fetch: {outcome}");

    // An auto-submitting form: the browser follows it to the node and shows the answer.
    browser.goto(&format!("{attacker}/")).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let url = browser.url().await;
        if url.path() == "/api/v1/posts" {
            assert_eq!(
                url.origin().ascii_serialization(),
                origin(&node),
                "the form went to the node"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the attacker's form did not reach the node within {WAIT:?} (at {url})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let answer = browser
        .wait_js(
            "const n = performance.getEntriesByType('navigation')[0]; \
             return document.readyState === 'complete' && n \
               ? [n.responseStatus, document.body.innerText] : null",
            vec![],
            "the node's answer to the form",
        )
        .await;
    let status = answer[0].as_u64().expect("a status");
    eprintln!("the attacker's form got {status}");
    assert!(
        status == 401 || status == 403,
        "the cross-site form got {status} instead of 401 or 403: {answer}"
    );
    let body: serde_json::Value =
        serde_json::from_str(answer[1].as_str().unwrap_or_default().trim())
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer}"));
    assert!(
        matches!(
            body["error"]["code"].as_str(),
            Some("unauthorized" | "forbidden")
        ),
        "{body}"
    );

    // Nothing was written, although the browser still holds a valid session: the owner posts
    // from the UI right after.
    assert_eq!(own_posts(&node), 0, "the node stored a forged post");
    browser.open("/").await;
    browser
        .type_into("#compose-text", "written by the owner")
        .await;
    browser.click("#compose-submit:not([disabled])").await;
    node.wait_until("the owner's own post is stored", || own_posts(&node) == 1)
        .await;
    let (_, timeline) = node.get("/api/v1/timeline").await;
    let texts: Vec<&str> = timeline["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert_eq!(texts, ["written by the owner"], "{}", json!(timeline));

    browser.close().await;
    site_task.abort();
    node.shutdown().await;
}
