//! UI benchmark: how fast the browser UI shows the home timeline, how many bytes it downloads on
//! its first load, and whether it asks anything of any host but the node (it must work on a
//! network with no internet).
//!
//! The release binary (`$KITH_BIN`, default `target/release/kith`) runs as its own process on a
//! fresh data directory; [`POSTS`] posts are written over its API, and a login link is minted
//! (`POST /api/v1/session/links`). Debian's chromium, headless, through chromedriver (the same
//! driver as the browser tests, `tests/browser/driver.rs`), with a fresh profile and every host
//! name but 127.0.0.1 and localhost unresolvable:
//!
//! * **First load** — the login link, with an empty cache: `GET /login?code=…`, its redirect to
//!   `/`, the app and its data. Every request chromium made is read from its DevTools network
//!   log, and the bytes from the page's Resource Timing entries (`decodedBodySize`, the
//!   uncompressed body, and `transferSize`), listed by URL. The event stream is left out: it
//!   never ends, so it has no size.
//! * **Time to the rendered timeline** — [`LOADS`] loads of `/`, first with whatever the node's
//!   cache headers let the browser keep (warm), then with the cache disabled (DevTools
//!   `Network.setCacheDisabled`). The UI marks `kith:timeline-rendered` (`performance.mark`)
//!   when the home page has drawn the timeline and set `body[data-ready]`; the mark's
//!   `startTime` is milliseconds since the navigation started, measured by the browser itself.
//! * **Baseline** — the same browser (a second instance without a session: a logged-in browser
//!   is sent from `/login` to `/`) loading `/login` of the same server (static HTML, CSS and one
//!   tiny module script, no API calls), timed to its load event, warm and without cache: the
//!   floor of any page load from this server in this browser.
//!
//! Run with `cargo build --release && cargo bench --bench ui`. `KITH_BENCH_LOADS` changes the
//! number of loads per series.

mod support;

#[path = "../tests/browser/driver.rs"]
#[allow(dead_code)] // the tests use more of the driver than the bench
mod driver;

use std::{collections::BTreeMap, time::Duration};

use driver::Chromium;
use serde_json::{Value, json};
use support::{KithProcess, Percentiles, Result, post_text, verdict};

/// Posts on the node (the "timeline rendered with 50 posts").
const POSTS: u64 = 50;
/// Loads per measured series, unless `KITH_BENCH_LOADS` says otherwise.
const LOADS: u64 = 20;
/// The target for the first load: under 300 KB, uncompressed.
const TARGET_BYTES: u64 = 300_000;
/// Upper bound for one page load to reach its mark.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the page must make no new request before the first load counts as finished.
const QUIET: Duration = Duration::from_millis(500);
/// The mark the home page sets once the timeline is on screen.
const MARK: &str = "kith:timeline-rendered";

fn main() {
    support::run_main("ui", run);
}

async fn run() -> Result<()> {
    let bin = support::kith_binary()?;
    let loads = support::env_number("KITH_BENCH_LOADS", LOADS)?.max(1);
    if let Some(missing) = driver::missing() {
        return Err(missing);
    }
    println!("# Kith UI benchmark\n");
    support::print_machine();
    println!("Browser: {}", chromium_version());
    println!(
        "Command: `cargo build --release && cargo bench --bench ui` ({POSTS} posts, {loads} loads per series)\n"
    );

    let dir = tempfile::tempdir().map_err(|e| format!("creating a data directory: {e}"))?;
    let node = KithProcess::start(&bin, dir.path(), &[]).await?;
    let origin = format!("http://{}", node.api());
    let mut api = node.connect().await?;
    for n in 0..POSTS {
        let body = json!({ "text": post_text(n) }).to_string();
        api.post_json("/api/v1/posts", body.as_bytes())
            .await?
            .expect(201, "POST /api/v1/posts")?;
    }
    let link = api.post_json("/api/v1/session/links", b"{}").await?;
    link.expect(201, "POST /api/v1/session/links")?;
    let link = link.json()?["url"]
        .as_str()
        .ok_or("a login link without a url")?
        .to_owned();

    let chromium = Chromium::launch(true).await?;
    // The baseline runs in a browser of its own: a logged-in browser is sent from `/login`
    // to `/`.
    let visitor = Chromium::launch(false).await?;
    let outcome = measure(&chromium, &visitor, &origin, &link, loads).await;
    chromium.close().await;
    visitor.close().await;
    node.terminate().await?;
    outcome
}

async fn measure(
    chromium: &Chromium,
    visitor: &Chromium,
    origin: &str,
    link: &str,
    loads: u64,
) -> Result<()> {
    // ---- the first load: the login link, empty cache --------------------------------------
    // What the browser did on its own before (its start page) is not the UI's.
    chromium.network_log().await?;
    chromium
        .client
        .goto(link)
        .await
        .map_err(|e| format!("opening the login link: {e}"))?;
    let (first_ms, drawn) = rendered(chromium).await?;
    let entries = quiet_entries(chromium).await?;
    let requests = requested_urls(&chromium.network_log().await?);
    let url = chromium
        .client
        .current_url()
        .await
        .map_err(|e| format!("reading the URL: {e}"))?;
    if url.path() != "/" {
        return Err(format!("the login link led to {url}, not to /"));
    }

    // ---- time to the rendered timeline ----------------------------------------------------
    let home = format!("{origin}/");
    let login = format!("{origin}/login");
    let warm = series(chromium, &home, loads, Timing::Mark).await?;
    let login_warm = series(visitor, &login, loads, Timing::LoadEvent).await?;
    for browser in [chromium, visitor] {
        browser.cdp("Network.enable", json!({})).await?;
        browser
            .cdp("Network.setCacheDisabled", json!({"cacheDisabled": true}))
            .await?;
    }
    let cold = series(chromium, &home, loads, Timing::Mark).await?;
    let login_cold = series(visitor, &login, loads, Timing::LoadEvent).await?;

    println!("## Time to the rendered home timeline\n");
    let drawn_text = if drawn >= POSTS {
        format!("all {POSTS} posts")
    } else {
        format!("{drawn} of the {POSTS} posts, with \"Load more\" for the rest")
    };
    println!(
        "Milliseconds from navigation start (the browser's own clock) to the `{MARK}` mark \
         (home timeline drawn, page ready); the baseline is `/login`'s load event. The home \
         page draws its first page: {drawn_text}.\n"
    );
    println!("| load | runs | min | p50 | p90 | max | mean |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| first load via the login link (empty cache, includes the redirect) | 1 | {first_ms:.1} | {first_ms:.1} | {first_ms:.1} | {first_ms:.1} | {first_ms:.1} |"
    );
    row("home timeline, warm cache", &warm);
    row("home timeline, cache disabled", &cold);
    row("baseline: `/login` load event, warm cache", &login_warm);
    row("baseline: `/login` load event, cache disabled", &login_cold);
    let ratio = |a: &Percentiles, b: &Percentiles| a.p50 / b.p50.max(0.001);
    println!(
        "\nHome timeline vs. the static baseline (p50): {:.1}× warm, {:.1}× without cache.\n",
        ratio(&warm, &login_warm),
        ratio(&cold, &login_cold)
    );

    // ---- bytes of the first load -------------------------------------------------------------
    println!("## Bytes of the first load (fresh profile, empty cache)\n");
    println!(
        "Every Resource Timing entry of the page after the login link's redirect (the event \
         stream excluded: it never completes). `decoded` is the uncompressed body, `transfer` \
         what went over the wire including headers.\n"
    );
    println!("| URL | type | decoded bytes | transfer bytes |");
    println!("|---|---|---:|---:|");
    let (mut ui_bytes, mut api_bytes, mut transfer) = (0u64, 0u64, 0u64);
    let mut foreign_entries = 0;
    for entry in &entries {
        let name = entry["name"].as_str().unwrap_or("?");
        let decoded = entry["decoded"].as_u64().unwrap_or(0);
        let sent = entry["transfer"].as_u64().unwrap_or(0);
        let path = name.strip_prefix(origin).unwrap_or(name);
        if !name.starts_with(origin) {
            foreign_entries += 1;
        }
        if path.starts_with("/api/") {
            api_bytes += decoded;
        } else {
            ui_bytes += decoded;
        }
        transfer += sent;
        println!(
            "| `{path}` | {} | {decoded} | {sent} |",
            entry["type"].as_str().unwrap_or("?")
        );
    }
    let total = ui_bytes + api_bytes;
    println!("| **total** | | **{total}** | **{transfer}** |\n");
    println!(
        "UI files (page, scripts, styles, icon): {ui_bytes} bytes; API answers: {api_bytes} bytes."
    );
    println!(
        "Target < {} KB uncompressed on first load: {} ({:.1} KB everything, {:.1} KB of UI files).\n",
        TARGET_BYTES / 1000,
        verdict(total < TARGET_BYTES),
        total as f64 / 1000.0,
        ui_bytes as f64 / 1000.0
    );

    // ---- requests to anyone but the node -------------------------------------------------------
    let mut by_origin: BTreeMap<String, usize> = BTreeMap::new();
    for url in &requests {
        *by_origin.entry(origin_of(url)).or_default() += 1;
    }
    let external: usize = by_origin
        .iter()
        // `data:` and `blob:` URLs are no network requests.
        .filter(|(o, _)| o.starts_with("http") || o.starts_with("ws"))
        .filter(|(o, _)| o.as_str() != origin)
        .map(|(_, n)| n)
        .sum();
    println!("## External requests on first load\n");
    println!(
        "Every request chromium sent while loading (DevTools `Network.requestWillBeSent`), by \
         origin; the node is {origin}.\n"
    );
    println!("| origin | requests |");
    println!("|---|---:|");
    for (o, n) in &by_origin {
        println!("| {o} | {n} |");
    }
    println!(
        "\nTarget: 0 requests to other origins: {} ({external} in the network log, \
         {foreign_entries} in Resource Timing).\n",
        verdict(external == 0 && foreign_entries == 0)
    );
    println!("Load average at the end: {}", support::load_average());
    Ok(())
}

/// What a series times.
#[derive(Clone, Copy)]
enum Timing {
    /// Navigation start to the home page's [`MARK`].
    Mark,
    /// Navigation start to the load event.
    LoadEvent,
}

/// `loads` loads of `url`, each timed by the browser.
async fn series(chromium: &Chromium, url: &str, loads: u64, timing: Timing) -> Result<Percentiles> {
    let mut values = Vec::new();
    for _ in 0..loads {
        chromium
            .client
            .goto(url)
            .await
            .map_err(|e| format!("loading {url}: {e}"))?;
        let at = chromium
            .client
            .current_url()
            .await
            .map_err(|e| format!("reading the URL: {e}"))?;
        if Some(at.as_str()) != url::Url::parse(url).ok().as_ref().map(url::Url::as_str) {
            return Err(format!("loading {url} ended on {at}"));
        }
        let ms = match timing {
            Timing::Mark => rendered(chromium).await?.0,
            Timing::LoadEvent => {
                let value = poll(
                    chromium,
                    "const n = performance.getEntriesByType('navigation')[0]; \
                     return n && n.loadEventStart > 0 ? n.loadEventStart : null",
                )
                .await?;
                value.as_f64().ok_or("loadEventStart is not a number")?
            }
        };
        values.push(ms);
        // Keep chromedriver's network log from growing: only the first load reads it.
        if matches!(timing, Timing::Mark) {
            chromium.network_log().await?;
        }
    }
    Percentiles::of(&values).ok_or_else(|| "no loads".to_owned())
}

/// Waits for the home page's mark: its `startTime` (ms since navigation start) and how many
/// posts the timeline holds.
async fn rendered(chromium: &Chromium) -> Result<(f64, u64)> {
    let value = poll(
        chromium,
        "const m = performance.getEntriesByName('kith:timeline-rendered')[0]; \
         return m ? [m.startTime, document.querySelectorAll('#timeline article.post').length] : null",
    )
    .await?;
    let ms = value[0].as_f64().ok_or("the mark has no startTime")?;
    let drawn = value[1].as_u64().ok_or("no post count")?;
    if drawn == 0 {
        return Err("the timeline was marked rendered with no post on it".into());
    }
    Ok((ms, drawn))
}

/// Runs `script` until it returns something other than `null` (the measuring instrument: the
/// times come from the browser's clock, not from this loop).
async fn poll(chromium: &Chromium, script: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + LOAD_TIMEOUT;
    loop {
        let value = chromium
            .client
            .execute(script, vec![])
            .await
            .map_err(|e| format!("running `{script}`: {e}"))?;
        if !value.is_null() {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            let url = chromium.client.current_url().await.map(|u| u.to_string());
            return Err(format!(
                "`{script}` stayed null for {LOAD_TIMEOUT:?} (at {url:?}); is the \
                 `performance.mark('{MARK}')` line in client/ui/assets/app.js?"
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The page's navigation and resource entries once it has made no new request for [`QUIET`]
/// (the home page fetches the notification count after it rendered).
async fn quiet_entries(chromium: &Chromium) -> Result<Vec<Value>> {
    const ENTRIES: &str = "return performance.getEntriesByType('navigation')\
        .concat(performance.getEntriesByType('resource'))\
        .map((e) => ({name: e.name, type: e.initiatorType || e.entryType, \
                      decoded: e.decodedBodySize, transfer: e.transferSize}))";
    let deadline = tokio::time::Instant::now() + LOAD_TIMEOUT;
    let mut last: Option<Vec<Value>> = None;
    loop {
        let entries = match chromium.client.execute(ENTRIES, vec![]).await {
            Ok(Value::Array(entries)) => entries,
            Ok(other) => return Err(format!("the entries are not a list: {other}")),
            Err(e) => return Err(format!("reading the performance entries: {e}")),
        };
        if last.as_ref().is_some_and(|l| l.len() == entries.len()) {
            return Ok(entries);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the page kept loading for {LOAD_TIMEOUT:?}"));
        }
        last = Some(entries);
        tokio::time::sleep(QUIET).await;
    }
}

/// The URL of every request in a DevTools network log.
fn requested_urls(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter_map(|e| e["params"]["request"]["url"].as_str())
        .map(str::to_owned)
        .collect()
}

/// `scheme://host:port` of a URL; URLs without a network origin (`data:`, `chrome:`, …) stay as
/// their scheme.
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => match parsed.origin() {
            origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", parsed.scheme()),
        },
        Err(_) => url.to_owned(),
    }
}

fn row(what: &str, p: &Percentiles) {
    println!(
        "| {what} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        p.count, p.min, p.p50, p.p90, p.max, p.mean
    );
}

/// `chromium --version`, for the report.
fn chromium_version() -> String {
    std::process::Command::new(driver::CHROMIUM)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |v| v.trim().to_owned())
}
