//! Without a session nothing of the owner's shows: every page of the UI sends the browser to
//! `/login`, and every API endpoint answers `401` to a browser's `fetch` and to a plain client.

use serde_json::{Value, json};

use super::{Browser, origin, skip};
use crate::util::{Options, TestNode, network_key};

/// The UI's page paths (with made-up ids where a page takes one).
fn page_paths(peer: &str) -> Vec<String> {
    let post = "0".repeat(64);
    vec![
        "/".into(),
        format!("/posts/{post}"),
        format!("/users/{peer}"),
        "/followers".into(),
        "/following".into(),
        "/notifications".into(),
        "/network".into(),
        "/settings".into(),
    ]
}

#[tokio::test]
async fn without_a_session_pages_go_to_login_and_the_api_answers_401() {
    if skip() {
        return;
    }
    let node = TestNode::spawn(Options::new(&network_key())).await;
    let peer = node.peer_id().to_string();
    let mut browser = Browser::start().await;
    browser.use_node(&node);

    for path in page_paths(&peer) {
        browser.goto(&format!("{}{path}", browser.origin())).await;
        let url = browser.url().await;
        assert_eq!(
            url.path(),
            "/login",
            "{path} without a session ended on {url}"
        );
        browser.wait_for("#login-submit").await;
    }

    // From the login page (same origin: the browser would send a cookie if it had one).
    let calls = [
        ("GET", "/api/v1/session".to_owned()),
        ("GET", "/api/v1/node".into()),
        ("GET", "/api/v1/timeline".into()),
        ("GET", "/api/v1/profile".into()),
        ("GET", format!("/api/v1/users/{peer}")),
        ("GET", "/api/v1/events".into()),
        ("POST", "/api/v1/posts".into()),
        ("POST", "/api/v1/session/links".into()),
        ("PUT", "/api/v1/profile".into()),
        ("DELETE", "/api/v1/session".into()),
    ];
    for (method, path) in &calls {
        let answer = browser
            .js_async(
                "const [method, path, done] = arguments; \
                 const init = {method, credentials: 'include', headers: {}}; \
                 if (method !== 'GET') { init.headers['Content-Type'] = 'application/json'; \
                   init.body = JSON.stringify({text: 'not logged in'}); } \
                 fetch(path, init).then(async (r) => done([r.status, await r.text()]), \
                   (e) => done(['failed', String(e)]));",
                vec![json!(method), json!(path)],
            )
            .await;
        assert_eq!(
            answer[0],
            json!(401),
            "fetch {method} {path} without a session: {answer}"
        );
        let body: Value = serde_json::from_str(answer[1].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{method} {path}: a body that is not JSON ({e}): {answer}"));
        assert_eq!(
            body["error"]["code"], "unauthorized",
            "{method} {path}: {body}"
        );
    }
    browser.close().await;

    // Every `/api/v1/` operation of the OpenAPI document, without any credentials.
    let http = reqwest::Client::new();
    let base = origin(&node);
    let document: Value = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .expect("GET /api/openapi.json")
        .error_for_status()
        .expect("the OpenAPI document is public")
        .json()
        .await
        .expect("the document is JSON");
    let paths = document["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (template, operations) in paths {
        if !template.starts_with("/api/v1/") {
            continue;
        }
        let path = fill_params(template, &peer);
        for method in operations.as_object().expect("operations").keys() {
            let Ok(method) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue; // "parameters", "summary" and the like
            };
            if !matches!(
                method,
                reqwest::Method::GET
                    | reqwest::Method::POST
                    | reqwest::Method::PUT
                    | reqwest::Method::DELETE
                    | reqwest::Method::PATCH
            ) {
                continue;
            }
            let mut request = http.request(method.clone(), format!("{base}{path}"));
            if method != reqwest::Method::GET {
                request = request.json(&json!({"text": "not logged in"}));
            }
            let response = request.send().await.expect("HTTP request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 401, "{method} {path} without credentials: {body}");
            assert_eq!(
                body["error"]["code"], "unauthorized",
                "{method} {path}: {body}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} operations under /api/v1/ in the document"
    );
    eprintln!("{checked} API operations answer 401 without credentials");

    // The node stored nothing on the way.
    let (status, timeline) = node.get("/api/v1/timeline").await;
    assert_eq!(status, 200);
    assert_eq!(timeline["posts"], json!([]), "no post was written");
    node.shutdown().await;
}

/// A path template with its `{name}` parameters filled with well-formed dummies.
fn fill_params(template: &str, peer: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            rest = &rest[start..];
            break;
        };
        let name = &rest[start + 1..start + end];
        out.push_str(if name.contains("peer") {
            peer
        } else {
            "0000000000000000000000000000000000000000000000000000000000000000"
        });
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}
