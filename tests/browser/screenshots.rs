//! Screenshots of the main pages, at desktop and phone width, of a node with some life in it
//! (posts, a follower, a reply, a like), saved under `target/screenshots/` for a person to look
//! at. The run also checks what a screenshot cannot show by itself: each page rendered its
//! data, and nothing is wider than a phone's screen.

use serde_json::json;

use super::{
    Browser, Viewport, follow, post, screenshot_dir, set_profile, skip, stores, two_nodes,
};

/// A page to capture: its screenshot name, its path, and an element that shows its data.
struct Page {
    name: &'static str,
    path: String,
    shows: String,
}

#[tokio::test]
async fn screenshots_of_the_main_pages() {
    if skip() {
        return;
    }
    let (a, b) = two_nodes().await;
    set_profile(
        &a,
        "Ada Lovelace",
        "Writes programs for engines that do not exist yet.",
    )
    .await;
    set_profile(&b, "Grace Hopper", "Finds bugs, sometimes literal ones.").await;
    follow(&b, &a).await;
    follow(&a, &b).await;
    let first = post(&a, json!({"text": "The Analytical Engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves."})).await;
    let first_id = first["id"].as_str().expect("id").to_owned();
    post(
        &a,
        json!({"text": "Tea, then notes on Bernoulli numbers.\nThen more tea."}),
    )
    .await;
    let theirs = post(
        &b,
        json!({"text": "It's easier to ask forgiveness than it is to get permission."}),
    )
    .await;
    let reply = post(
        &b,
        json!({"text": "Loops, too, I hope?", "reply_to": first_id}),
    )
    .await;
    let (status, body) = b
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/posts/{first_id}/like"),
            None,
        )
        .await;
    assert_eq!(status, 200, "like: {body}");
    let (theirs_id, reply_id) = (
        theirs["id"].as_str().expect("id").to_owned(),
        reply["id"].as_str().expect("id").to_owned(),
    );
    let first_oid = first_id.parse().expect("object id");
    a.wait_until("A has B's post, reply and like", || {
        stores(&a, &theirs_id)
            && stores(&a, &reply_id)
            && a.social().post(&first_oid).is_ok_and(|p| p.like_count == 1)
    })
    .await;

    let (me, them) = (a.peer_id().to_string(), b.peer_id().to_string());
    let pages = [
        Page {
            name: "home",
            path: "/".into(),
            shows: "#timeline article.post".into(),
        },
        Page {
            name: "post-thread",
            path: format!("/posts/{first_id}"),
            shows: "#replies article.post".into(),
        },
        Page {
            name: "profile-own",
            path: format!("/users/{me}"),
            shows: "#profile #profile-name".into(),
        },
        Page {
            name: "profile-other",
            path: format!("/users/{them}"),
            shows: "#profile #follow-button".into(),
        },
        Page {
            name: "network",
            path: "/network".into(),
            shows: format!("#peers li[data-peer-id=\"{them}\"]"),
        },
        Page {
            name: "settings",
            path: "/settings".into(),
            shows: "#settings-name".into(),
        },
        Page {
            name: "notifications",
            path: "/notifications".into(),
            shows: "#notifications, main [data-test=\"empty\"]".into(),
        },
    ];

    // One page load (the login link); from there on the pages are reached through the UI.
    let mut browser = Browser::logged_in(&a).await;
    let mut saved = Vec::new();
    for viewport in [Viewport::Desktop, Viewport::Phone] {
        browser.set_viewport(viewport).await;
        for page in &pages {
            browser.visit(&page.path).await;
            browser.wait_for(&page.shows).await;
            if viewport == Viewport::Phone {
                assert_fits(&browser, page.name).await;
            }
            let name = format!("{}-{}", page.name, viewport.name());
            saved.push(browser.screenshot(&name).await);
        }
    }
    // The network page says how the node is reached and how each peer is connected.
    browser.visit("/network").await;
    let shown = browser
        .wait_js(
            "const s = document.querySelector('#reach-status');
             const c = document.querySelector(`#peers li[data-peer-id=\"${arguments[0]}\"] [data-connection]`);
             return s && c && document.querySelector('#reach-help').textContent
                 ? [s.dataset.status, c.dataset.connection] : null;",
            vec![serde_json::json!(them)],
            "the reachability section and the peer's connection kind",
        )
        .await;
    assert_eq!(
        shown,
        serde_json::json!([a.handle().reachability().status.to_string(), "direct"]),
        "the network page shows the node's reachability and a direct connection to B"
    );
    // The dark theme follows the system's.
    browser.set_dark(true).await;
    for viewport in [Viewport::Desktop, Viewport::Phone] {
        browser.set_viewport(viewport).await;
        browser.visit("/settings").await;
        browser.visit("/").await;
        browser.wait_for("#timeline article.post").await;
        let dark = browser
            .js(
                "return matchMedia('(prefers-color-scheme: dark)').matches \
                   && getComputedStyle(document.body).backgroundColor",
                vec![],
            )
            .await;
        assert_ne!(dark, json!(false), "the dark scheme is emulated");
        saved.push(
            browser
                .screenshot(&format!("home-dark-{}", viewport.name()))
                .await,
        );
    }
    browser.close().await;

    // The login page, as someone without a session sees it.
    let mut visitor = Browser::start().await;
    visitor.use_node(&a);
    for viewport in [Viewport::Desktop, Viewport::Phone] {
        visitor.set_viewport(viewport).await;
        visitor.goto(&format!("{}/login", visitor.origin())).await;
        visitor.wait_for("#login-submit").await;
        if viewport == Viewport::Phone {
            assert_fits(&visitor, "login").await;
        }
        saved.push(
            visitor
                .screenshot(&format!("login-{}", viewport.name()))
                .await,
        );
    }
    visitor.close().await;

    for path in &saved {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(
            bytes.len() > 1000 && bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG of a page",
            path.display()
        );
    }
    eprintln!(
        "{} screenshots in {}",
        saved.len(),
        screenshot_dir().display()
    );
    b.shutdown().await;
    a.shutdown().await;
}

/// Fails if the page is wider than the viewport (a phone would scroll sideways).
async fn assert_fits(browser: &Browser, page: &str) {
    let widths = browser
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "{page} is wider than the phone's screen (scroll width, viewport): {widths}"
    );
}
