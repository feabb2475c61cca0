//! The browser side of the API: the embedded UI, login links, the password, session cookies and
//! the CSRF rules, driven through the whole router.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use kith_protocols::{ErrorCode, LoginLink, PostView, SessionView};

use super::{Reply, TestApp, get};
use crate::router::{API_PREFIX, endpoints};

const HOST: &str = "127.0.0.1:8080";
const ORIGIN: &str = "http://127.0.0.1:8080";

/// A request as a browser on the node's own origin sends it, with `cookie`.
fn browser(method: Method, uri: &str, cookie: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST)
        .header(header::COOKIE, format!("theme=dark; kith_session={cookie}"))
}

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no Location; status {}", reply.status))
}

#[track_caller]
fn assert_redirect(reply: &Reply, to: &str) {
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(
        location(reply).starts_with(to),
        "redirected to {} rather than {to}",
        location(reply)
    );
}

/// The session cookie a login response sets.
fn session_cookie(reply: &Reply) -> String {
    let set = reply
        .headers
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .expect("a Set-Cookie header");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Path=/"), "{set}");
    let value = set
        .strip_prefix("kith_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the kith_session cookie");
    value.to_owned()
}

async fn mint_link(t: &TestApp) -> LoginLink {
    let request = Request::post("/api/v1/session/links")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {}", t.token))
        .body(Body::empty())
        .expect("request");
    let reply = t.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    reply.json()
}

/// Logs in with a fresh link; returns the cookie value.
async fn log_in(t: &TestApp) -> String {
    let link = mint_link(t).await;
    let path = link.url.strip_prefix(ORIGIN).expect("a link to the Host");
    let reply = t.send(get(path)).await;
    assert_redirect(&reply, "/");
    session_cookie(&reply)
}

async fn csrf_token(t: &TestApp, cookie: &str) -> String {
    let reply = t
        .send(
            browser(Method::GET, "/api/v1/session", cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let session: SessionView = reply.json();
    assert_eq!(session.via, "cookie");
    session
        .csrf_token
        .expect("a cookie session has a CSRF token")
}

fn post_request(cookie: &str, csrf: Option<&str>, origin: Option<&str>) -> Request<Body> {
    let mut request = browser(Method::POST, "/api/v1/posts", cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request
        .body(Body::from(r#"{"text":"from the browser"}"#))
        .unwrap()
}

#[tokio::test]
async fn pages_need_a_session_and_assets_do_not() {
    let t = TestApp::start().await;
    for page in [
        "/",
        "/network",
        "/settings",
        "/notifications",
        "/followers",
        "/following",
        "/posts/abc",
        "/users/someone",
        "/search",
    ] {
        let reply = t.send(get(page)).await;
        assert_redirect(&reply, "/login");
        let reply = t
            .send(
                browser(Method::GET, page, "not-a-session")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_redirect(&reply, "/login");
    }

    let reply = t.send(get("/assets/app.js")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.contains("javascript"), "{content_type}");
    let csp = reply.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    t.send(get("/assets/no-such-file.js"))
        .await
        .assert_error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

    let reply = t.send(get("/login")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(reply.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(String::from_utf8_lossy(&reply.body).contains("kith login"));
    t.stop().await;
}

#[tokio::test]
async fn a_login_link_works_once_and_opens_a_session() {
    let t = TestApp::start().await;
    let link = mint_link(&t).await;
    assert!(
        link.url.starts_with("http://127.0.0.1:8080/login?code="),
        "{}",
        link.url
    );
    let path = link.url.strip_prefix(ORIGIN).unwrap();

    let reply = t.send(get(path)).await;
    assert_redirect(&reply, "/");
    let cookie = session_cookie(&reply);

    // Used up.
    let again = t.send(get(path)).await;
    assert_redirect(&again, "/login?error=");
    assert!(!again.headers.contains_key(header::SET_COOKIE));
    assert_redirect(&t.send(get("/login?code=made-up")).await, "/login?error=");

    // The session opens the pages and the API.
    let reply = t
        .send(
            browser(Method::GET, "/", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&reply.body).contains("/assets/app.js"));
    let reply = t
        .send(
            browser(Method::GET, "/api/v1/timeline", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // A logged-in browser asking for the login page goes home.
    let reply = t
        .send(
            browser(Method::GET, "/login", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_redirect(&reply, "/");
    t.stop().await;
}

#[tokio::test]
async fn cookie_requests_that_change_things_need_the_csrf_token_and_our_origin() {
    let t = TestApp::start().await;
    let cookie = log_in(&t).await;
    let csrf = csrf_token(&t, &cookie).await;

    let message = t
        .send(post_request(&cookie, None, Some(ORIGIN)))
        .await
        .assert_error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    assert!(message.contains("X-CSRF-Token"), "{message}");
    t.send(post_request(&cookie, Some("wrong"), Some(ORIGIN)))
        .await
        .assert_error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    let message = t
        .send(post_request(
            &cookie,
            Some(&csrf),
            Some("http://evil.example"),
        ))
        .await
        .assert_error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    assert!(message.contains("cross-site"), "{message}");
    // Nothing was written by the refused requests.
    let reply = t.call(Method::GET, "/api/v1/timeline", None).await;
    assert!(String::from_utf8_lossy(&reply.body).contains(r#""posts":[]"#));

    let reply = t
        .send(post_request(&cookie, Some(&csrf), Some(ORIGIN)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let post: PostView = reply.json();
    assert_eq!(post.text, "from the browser");
    // Same-origin requests without an Origin header (older browsers on GET-like forms) rely on
    // the token alone.
    let reply = t.send(post_request(&cookie, Some(&csrf), None)).await;
    assert_eq!(reply.status, StatusCode::CREATED);

    // The bearer token needs no CSRF token.
    let reply = t
        .call(
            Method::POST,
            "/api/v1/posts",
            Some(serde_json::json!({"text": "from a script"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    t.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let t = TestApp::start().await;
    let cookie = log_in(&t).await;
    let csrf = csrf_token(&t, &cookie).await;
    let reply = t
        .send(
            browser(Method::DELETE, "/api/v1/session", &cookie)
                .header("X-CSRF-Token", &csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let cleared = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    t.send(
        browser(Method::GET, "/api/v1/session", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    assert_redirect(
        &t.send(
            browser(Method::GET, "/", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await,
        "/login",
    );
    t.stop().await;
}

#[tokio::test]
async fn every_api_endpoint_refuses_an_unknown_session() {
    let t = TestApp::start().await;
    let id = "ab".repeat(32);
    for endpoint in endpoints() {
        let Some(_) = endpoint.path.strip_prefix(API_PREFIX) else {
            continue;
        };
        let uri = endpoint
            .path
            .replace("{id}", &id)
            .replace("{peer_id}", &t.peer_id().to_string());
        let method = Method::from_bytes(endpoint.verb.as_str().as_bytes()).unwrap();
        t.send(
            browser(method, &uri, "forged-session")
                .header(header::ORIGIN, ORIGIN)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
    t.stop().await;
}

fn password_form(password: &str, origin: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/login")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("password", password)
        .finish();
    request.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn password_login() {
    let mut t = TestApp::start().await;
    // A state with no password file: no password login.
    assert_redirect(
        &t.send(password_form("anything at all", Some(ORIGIN))).await,
        "/login?error=",
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ui.password");
    t.state = t.state.clone().with_password_file(path.clone());
    t.app = crate::router(t.state.clone());
    // The file does not exist yet.
    let reply = t.send(password_form("anything at all", Some(ORIGIN))).await;
    assert_redirect(&reply, "/login?error=No+password");

    kith_config::set_password(&path, "correct horse battery").unwrap();
    let reply = t.send(password_form("wrong horse", Some(ORIGIN))).await;
    assert_redirect(&reply, "/login?error=Wrong");
    assert!(!reply.headers.contains_key(header::SET_COOKIE));

    // From another site: refused even with the right password (login CSRF).
    let reply = t
        .send(password_form(
            "correct horse battery",
            Some("http://evil.example"),
        ))
        .await;
    assert_redirect(&reply, "/login?error=");
    assert!(!reply.headers.contains_key(header::SET_COOKIE));

    // Garbage instead of a form: a redirect with a message, not a crash.
    let garbage = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(vec![0xff, 0x00, 0xfe]))
        .unwrap();
    assert_redirect(&t.send(garbage).await, "/login?error=");

    let reply = t
        .send(password_form("correct horse battery", Some(ORIGIN)))
        .await;
    assert_redirect(&reply, "/");
    let cookie = session_cookie(&reply);
    csrf_token(&t, &cookie).await;

    // Attempts are limited: a burst, then refusals (whatever the password).
    let mut limited = false;
    for _ in 0..10 {
        let reply = t.send(password_form("wrong again", Some(ORIGIN))).await;
        if location(&reply).contains("Too+many") {
            limited = true;
            break;
        }
    }
    assert!(
        limited,
        "ten wrong passwords in a row were never slowed down"
    );
    t.stop().await;
}
