//! Tests of the web UI in a real headless browser (Debian's chromium through chromedriver),
//! against real in-process nodes: log in with a login link, click through the pages, watch
//! posts arrive live, and check what a browser without a session (or a hostile site) gets.
//!
//! The harness here wraps one [`driver::Chromium`] per [`Browser`]: each browser has its own
//! profile, so two browsers are two people (cookies are per host, not per port, so two nodes on
//! 127.0.0.1 cannot share one browser). Waits poll the page with a deadline and fail with what
//! they waited for, the page's address and the browser's console.
//!
//! Screenshots go to `target/screenshots/<name>.png` for a person to look at.
//!
//! Mind the page loads: chromium keeps a page that was left by a full load in its
//! back/forward cache together with its open event stream, and HTTP/1.1 allows six connections
//! per host, so the sixth full load of the UI in one browser stalls until an old stream is
//! dropped. Tests go from page to page the way a person does, through the UI's own links
//! ([`Browser::visit`]), and keep full loads ([`Browser::open`]) to a few per browser.
//!
//! The tests need `/usr/bin/chromium` and `/usr/bin/chromedriver` (`bash scripts/test.sh`
//! installs them); `KITH_SKIP_BROWSER_TESTS=1` skips them with a notice instead.

#![allow(dead_code)] // each test module uses a different part of the harness

// The browser and its driver (shared with benches/ui.rs).
pub mod driver;

// A fresh node: the login link leads to an empty timeline that says what to do.
mod first_run;
// Two nodes: follow in the UI, a post appears live; reply and like between the two UIs.
mod social;
// No session: every page goes to /login, every API call answers 401.
mod no_session;
// A hostile site's form post and fetch are refused.
mod cross_site;
// Screenshots of the main pages at desktop and phone width.
mod screenshots;
// Mutes: muting from a profile hides the person's posts at home; unmuting brings them back.
mod mutes;
// Search: a post by a word of it, a connected person by name, the query in the URL.
mod search;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use fantoccini::{Locator, elements::Element};
use kith_protocols::FollowOutcome;
use serde_json::{Value, json};

pub use driver::Viewport;
use driver::{Chromium, ConsoleEntry};

use crate::util::{Options, TestNode, WAIT, network_key};

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(20);

/// Whether to skip this browser test: `KITH_SKIP_BROWSER_TESTS=1` (with a notice). Without it,
/// a machine without chromium fails the test with a message saying how to install it.
pub fn skip() -> bool {
    if std::env::var("KITH_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("KITH_SKIP_BROWSER_TESTS=1: skipping this browser test");
        return true;
    }
    if let Some(missing) = driver::missing() {
        panic!("the browser tests need chromium: {missing} (or set KITH_SKIP_BROWSER_TESTS=1)");
    }
    false
}

/// Where screenshots go: `target/screenshots/` (`$CARGO_TARGET_DIR` if set).
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("screenshots")
}

/// One person's browser.
pub struct Browser {
    chromium: Chromium,
    /// `http://127.0.0.1:<port>` of the node this browser is logged in to (or last visited).
    origin: String,
}

impl Browser {
    /// A fresh browser: no cookies, no cache, a blank page.
    pub async fn start() -> Browser {
        let chromium = Chromium::launch(false)
            .await
            .unwrap_or_else(|e| panic!("starting chromium: {e}"));
        Browser {
            chromium,
            origin: String::new(),
        }
    }

    /// A fresh browser logged in to `node`'s UI, on its home page.
    pub async fn logged_in(node: &TestNode) -> Browser {
        let mut browser = Browser::start().await;
        browser.log_in(node).await;
        browser
    }

    /// Opens a new login link of `node` and waits for the home page it leads to.
    pub async fn log_in(&mut self, node: &TestNode) {
        self.origin = origin(node);
        let link = login_link(node).await;
        self.goto(&link).await;
        self.wait_ready("/").await;
    }

    /// The origin of the node this browser uses.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Points the browser at `node` without logging in.
    pub fn use_node(&mut self, node: &TestNode) {
        self.origin = origin(node);
    }

    /// Loads `url` (a full page load) and returns once the load event fired.
    pub async fn goto(&self, url: &str) {
        self.chromium
            .client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("loading {url}: {e}"));
    }

    /// Loads a page of the node's UI and waits until it has rendered its data.
    pub async fn open(&self, path: &str) {
        self.goto(&format!("{}{path}", self.origin)).await;
        self.wait_ready(path).await;
    }

    /// Goes to a page of the UI the way a person clicking a link in it does: the UI's router
    /// draws it without a page load (the browser must be on a page of the UI already).
    pub async fn visit(&self, path: &str) {
        self.js(
            "const a = document.createElement('a'); a.href = arguments[0]; a.hidden = true; \
             document.body.append(a); a.click(); a.remove();",
            vec![json!(path)],
        )
        .await;
        self.wait_ready(path).await;
    }

    /// Waits until the UI shows `path` and says it rendered it (`body[data-ready=true]`).
    pub async fn wait_ready(&self, path: &str) {
        self.wait_js(
            "return location.pathname === arguments[0] && !!document.body \
             && document.body.dataset.ready === 'true'",
            vec![json!(path)],
            &format!("the page {path} to render (body[data-ready=true])"),
        )
        .await;
    }

    /// The current URL.
    pub async fn url(&self) -> url::Url {
        self.chromium
            .client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("reading the current URL: {e}"))
    }

    /// Runs `script` (a function body: `return …`, arguments in `arguments[i]`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        match self.chromium.client.execute(script, args).await {
            Ok(value) => value,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("running `{script}`: {e}")).await
            ),
        }
    }

    /// Runs an asynchronous script: its last argument is the callback to call with the result.
    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        match self.chromium.client.execute_async(script, args).await {
            Ok(value) => value,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("running `{script}`: {e}")).await
            ),
        }
    }

    /// Polls `script` until it returns something truthy (within [`WAIT`]) and returns that.
    pub async fn wait_js(&self, script: &str, args: Vec<Value>, what: &str) -> Value {
        match self.poll_js(script, args, WAIT).await {
            Ok((value, _)) => value,
            Err(e) => panic!(
                "{}",
                self.failure(&format!("waiting for {what}: {e}")).await
            ),
        }
    }

    /// Polls `script` until it returns something truthy, for at most `limit`: the value and
    /// how long it took, or what went wrong. A script error is not retried.
    pub async fn poll_js(
        &self,
        script: &str,
        args: Vec<Value>,
        limit: Duration,
    ) -> Result<(Value, Duration), String> {
        let start = Instant::now();
        loop {
            let value = self
                .chromium
                .client
                .execute(script, args.clone())
                .await
                .map_err(|e| format!("running `{script}`: {e}"))?;
            if truthy(&value) {
                return Ok((value, start.elapsed()));
            }
            if start.elapsed() >= limit {
                return Err(format!("not true after {limit:?} (last value {value})"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matches `css` and returns it.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_js(
            "return document.querySelector(arguments[0]) !== null",
            vec![json!(css)],
            &format!("an element matching `{css}`"),
        )
        .await;
        self.find(css).await
    }

    /// The first element matching `css` (which must exist).
    pub async fn find(&self, css: &str) -> Element {
        match self.chromium.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("{}", self.failure(&format!("finding `{css}`: {e}")).await),
        }
    }

    /// Clicks the element matching `css` once it exists.
    pub async fn click(&self, css: &str) {
        let element = self.wait_for(css).await;
        if let Err(e) = element.click().await {
            panic!("{}", self.failure(&format!("clicking `{css}`: {e}")).await);
        }
    }

    /// Types `text` into the field matching `css` once it exists, as a person would (key by
    /// key, so the page sees its input events).
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        if let Err(e) = element.send_keys(text).await {
            panic!(
                "{}",
                self.failure(&format!("typing into `{css}`: {e}")).await
            );
        }
    }

    /// Saves a PNG of the viewport as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match self.chromium.client.screenshot().await {
            Ok(png) => png,
            Err(e) => panic!("{}", self.failure(&format!("screenshot {name}: {e}")).await),
        };
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Resizes the viewport.
    pub async fn set_viewport(&mut self, viewport: Viewport) {
        self.chromium
            .set_viewport(viewport)
            .await
            .unwrap_or_else(|e| panic!("viewport {viewport:?}: {e}"));
    }

    /// Emulates a dark (or light) system theme.
    pub async fn set_dark(&self, dark: bool) {
        self.chromium
            .set_dark(dark)
            .await
            .unwrap_or_else(|e| panic!("color scheme: {e}"));
    }

    /// The browser's log since the last call.
    pub async fn console(&self) -> Vec<ConsoleEntry> {
        match self.chromium.console().await {
            Ok(entries) => entries,
            Err(e) => panic!("reading the browser's log: {e}"),
        }
    }

    /// A failure message: `what`, then where the browser is, the start of the page's text and
    /// the console, so that a failed run says what the person would have seen.
    pub async fn failure(&self, what: &str) -> String {
        let url = match self.chromium.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(unknown: {e})"),
        };
        let text = self
            .chromium
            .client
            .execute(
                "return document.body ? document.body.innerText.slice(0, 1500) : ''",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let console = match self.chromium.console().await {
            Ok(entries) if entries.is_empty() => "(empty)".to_owned(),
            Ok(entries) => entries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n    "),
            Err(e) => e,
        };
        format!("{what}\n  at {url}\n  page text: {text:?}\n  console:\n    {console}")
    }

    /// Ends the session and stops the browser.
    pub async fn close(self) {
        self.chromium.close().await;
    }
}

/// JavaScript truthiness of a value returned by a script.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `http://127.0.0.1:<port>` of a node's HTTP server.
pub fn origin(node: &TestNode) -> String {
    format!("http://{}", node.api)
}

/// A new one-time login link of `node` (`POST /api/v1/session/links` with its token).
pub async fn login_link(node: &TestNode) -> String {
    let (status, body) = node
        .api(reqwest::Method::POST, "/api/v1/session/links", None)
        .await;
    assert_eq!(status, 201, "POST /api/v1/session/links: {body}");
    body["url"]
        .as_str()
        .unwrap_or_else(|| panic!("a login link without a url: {body}"))
        .to_owned()
}

/// Two nodes of one network, B bootstrapped from A and verified by it.
pub async fn two_nodes() -> (TestNode, TestNode) {
    let key = network_key();
    let a = TestNode::spawn(Options::new(&key)).await;
    let b = TestNode::spawn(Options::new(&key).bootstrap(a.addr())).await;
    let b_id = b.peer_id();
    a.wait_until("A verified B", || a.is_verified(&b_id)).await;
    (a, b)
}

/// Waits until `follower`'s follow of `followee` is active on both sides: the follower's
/// following list says so and the followee lists the follower (so its posts go to them).
pub async fn wait_follow_active(follower: &TestNode, followee: &TestNode) {
    let (er, ee) = (follower.peer_id(), followee.peer_id());
    follower
        .wait_until("the follow is active on the follower", || {
            follower.social().following().is_ok_and(|list| {
                list.iter()
                    .any(|f| f.peer_id == ee && f.status == FollowOutcome::Active)
            })
        })
        .await;
    followee
        .wait_until("the followee lists the follower", || {
            followee
                .social()
                .followers()
                .is_ok_and(|list| list.iter().any(|f| f.peer_id == er))
        })
        .await;
}

/// `follower` follows `followee` over its API and waits until it is active on both sides.
pub async fn follow(follower: &TestNode, followee: &TestNode) {
    let (status, body) = follower
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/follows/{}", followee.peer_id()),
            None,
        )
        .await;
    assert_eq!(status, 200, "POST /api/v1/follows: {body}");
    wait_follow_active(follower, followee).await;
}

/// Writes a post over `node`'s API and returns it.
pub async fn post(node: &TestNode, body: Value) -> Value {
    let (status, post) = node
        .api(reqwest::Method::POST, "/api/v1/posts", Some(body))
        .await;
    assert_eq!(status, 201, "POST /api/v1/posts: {post}");
    post
}

/// Sets `node`'s display name and bio over its API.
pub async fn set_profile(node: &TestNode, name: &str, bio: &str) {
    let (status, body) = node
        .api(
            reqwest::Method::PUT,
            "/api/v1/profile",
            Some(json!({"display_name": name, "bio": bio})),
        )
        .await;
    assert_eq!(status, 200, "PUT /api/v1/profile: {body}");
}

/// Whether `node` stores the object with this id (a post's `id` as the API shows it).
pub fn stores(node: &TestNode, id: &str) -> bool {
    id.parse()
        .ok()
        .is_some_and(|id| node.store().social().contains(&id).unwrap_or(false))
}
