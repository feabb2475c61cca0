//! [`Client`]: one typed method per endpoint of the node's HTTP API.

use std::{sync::Arc, time::Duration};

use kith_protocols::{
    AddPeerRequest, AddPeerResponse, BlockRequest, BlockView, DeviceView, ErrorCode, FollowView,
    InviteView, JoinRequest, JoinView, LoginLink, NewPost, NodeInfo, NotificationPage, ObjectId,
    PeerView, PostPage, PostView, ProfileUpdate, ProfileView, StatusView, UserView,
};
use libp2p::{Multiaddr, PeerId};
use reqwest::{
    Method,
    header::{ACCEPT, AUTHORIZATION, HeaderValue},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, EventStream, error::error_from};

/// How long a connection to the node may take to open. The node is on this machine: anything
/// slower means it is not answering.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take; the node answers within its own 10 s deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the event stream may stay silent: the node sends a keep-alive every 15 s, so three
/// missed ones mean the connection is dead.
const EVENT_READ_TIMEOUT: Duration = Duration::from_secs(45);

/// A client of one node's HTTP API. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For the event stream: no deadline on the whole request (the stream is endless), a
    /// deadline on each read instead.
    stream_http: reqwest::Client,
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080`.
    base: Arc<str>,
    /// `Bearer <token>`, marked sensitive so that it never shows in debug output.
    auth: HeaderValue,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the node whose API is at `base_url` (e.g. `http://127.0.0.1:8080`),
    /// authenticating with `token` (the content of the data dir's `api.token`).
    pub fn new(base_url: &str, token: &str) -> Result<Client, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(invalid(
                "only http:// is supported (the API listens on localhost)",
            ));
        }
        if url.host_str().is_none() {
            return Err(invalid("it names no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not have a query or fragment"));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| Error::InvalidToken)?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            // The node is local; a proxy from the environment would only get in the way.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let stream_http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(EVENT_READ_TIMEOUT)
            .build()?;
        let base = url.as_str().trim_end_matches('/').into();
        Ok(Client {
            http,
            stream_http,
            base,
            auth,
        })
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /healthz` (no authentication): whether the node's HTTP server answers.
    pub async fn health(&self) -> Result<StatusView, Error> {
        self.json(Method::GET, "/healthz", None::<&()>, false).await
    }

    /// `GET /api/v1/node`: who the node is.
    pub async fn node(&self) -> Result<NodeInfo, Error> {
        self.get("/api/v1/node").await
    }

    /// `GET /api/v1/peers`: the peers the node knows, connected ones first.
    pub async fn peers(&self) -> Result<Vec<PeerView>, Error> {
        self.get("/api/v1/peers").await
    }

    /// `POST /api/v1/peers`: asks the node to connect to `addr` (with or without `/p2p/`).
    pub async fn add_peer(&self, addr: Multiaddr) -> Result<AddPeerResponse, Error> {
        let request = AddPeerRequest { addr };
        self.json(Method::POST, "/api/v1/peers", Some(&request), true)
            .await
    }

    /// `GET /api/v1/network/invite`: an invite code to the node's network.
    pub async fn invite(&self) -> Result<InviteView, Error> {
        self.get("/api/v1/network/invite").await
    }

    /// `POST /api/v1/network/join`: joins the network of an invite code. For this node's own
    /// network the node connects to the invite's peers; for another network the node answers
    /// [`Error::Api`] with status 409 unless `replace` is set, and with it stores the new
    /// network key (keeping the old one) and asks for a restart (`restart_required`).
    pub async fn join(&self, invite: &str, replace: bool) -> Result<JoinView, Error> {
        let request = JoinRequest {
            invite: invite.to_owned(),
            replace,
        };
        self.json(Method::POST, "/api/v1/network/join", Some(&request), true)
            .await
    }

    /// `GET /api/v1/blocks`: the blocklist.
    pub async fn blocks(&self) -> Result<Vec<BlockView>, Error> {
        self.get("/api/v1/blocks").await
    }

    /// `POST /api/v1/blocks`: blocks `peer_id`, with an optional note.
    pub async fn block(&self, peer_id: PeerId, reason: Option<String>) -> Result<(), Error> {
        let request = BlockRequest { peer_id, reason };
        self.send(Method::POST, "/api/v1/blocks", Some(&request), true)
            .await?;
        Ok(())
    }

    /// `DELETE /api/v1/blocks/{peer_id}`: lifts a block. `false` if the peer was not blocked.
    pub async fn unblock(&self, peer_id: PeerId) -> Result<bool, Error> {
        let path = format!("/api/v1/blocks/{peer_id}");
        found(self.send(Method::DELETE, &path, None::<&()>, true).await)
    }

    /// `POST /api/v1/posts`: writes a post as the node's owner; returns the stored post.
    pub async fn create_post(&self, new: &NewPost) -> Result<PostView, Error> {
        self.json(Method::POST, "/api/v1/posts", Some(new), true)
            .await
    }

    /// `GET /api/v1/posts/{id}`: one post.
    pub async fn post(&self, id: &ObjectId) -> Result<PostView, Error> {
        self.get(&format!("/api/v1/posts/{id}")).await
    }

    /// `DELETE /api/v1/posts/{id}`: deletes one of the owner's posts.
    pub async fn delete_post(&self, id: &ObjectId) -> Result<(), Error> {
        let path = format!("/api/v1/posts/{id}");
        self.send(Method::DELETE, &path, None::<&()>, true).await?;
        Ok(())
    }

    /// `POST /api/v1/posts/{id}/like`: likes a post; returns it with its new like count.
    pub async fn like(&self, id: &ObjectId) -> Result<PostView, Error> {
        let path = format!("/api/v1/posts/{id}/like");
        self.json(Method::POST, &path, None::<&()>, true).await
    }

    /// `GET /api/v1/posts/{id}/replies`: a page of the replies to a post that the node holds,
    /// newest first (paged like [`timeline`](Client::timeline)).
    pub async fn replies(
        &self,
        id: &ObjectId,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> Result<PostPage, Error> {
        let path = format!("/api/v1/posts/{id}/replies");
        self.get(&paged(&path, limit, before)).await
    }

    /// `GET /api/v1/notifications`: a page of the owner's notifications, newest first (paged
    /// like [`timeline`](Client::timeline)).
    pub async fn notifications(
        &self,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> Result<NotificationPage, Error> {
        self.get(&paged("/api/v1/notifications", limit, before))
            .await
    }

    /// `GET /api/v1/search`: the people and posts the node knows that match `q` (1 to 100
    /// characters once trimmed); at most `limit` of each (1 to 50; 20 on the node when `None`).
    /// Posts come from the newest 20,000 of the home timeline (`posts_truncated` says the
    /// search stopped there).
    pub async fn search(
        &self,
        q: &str,
        limit: Option<usize>,
    ) -> Result<kith_protocols::SearchResults, Error> {
        self.get(&search_path(q, limit)).await
    }

    /// `GET /api/v1/timeline`: a page of the home timeline, newest first. `limit` defaults to
    /// 50 on the node (at most 200); `before` is the `next` cursor of the previous page.
    pub async fn timeline(
        &self,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> Result<PostPage, Error> {
        self.get(&paged("/api/v1/timeline", limit, before)).await
    }

    /// `GET /api/v1/users/{peer_id}`: a person and how they relate to the owner.
    pub async fn user(&self, peer_id: PeerId) -> Result<UserView, Error> {
        self.get(&format!("/api/v1/users/{peer_id}")).await
    }

    /// `GET /api/v1/users/{peer_id}/posts`: a page of a person's posts, newest first.
    pub async fn user_posts(
        &self,
        peer_id: PeerId,
        limit: Option<usize>,
        before: Option<&str>,
    ) -> Result<PostPage, Error> {
        let path = format!("/api/v1/users/{peer_id}/posts");
        self.get(&paged(&path, limit, before)).await
    }

    /// `GET /api/v1/profile`: the owner's profile.
    pub async fn profile(&self) -> Result<ProfileView, Error> {
        self.get("/api/v1/profile").await
    }

    /// `PUT /api/v1/profile`: changes the fields set in `update`; returns the new profile.
    pub async fn update_profile(&self, update: &ProfileUpdate) -> Result<ProfileView, Error> {
        self.json(Method::PUT, "/api/v1/profile", Some(update), true)
            .await
    }

    /// `POST /api/v1/follows/{peer_id}`: follows a person (`requested` if they approve
    /// followers).
    pub async fn follow(&self, peer_id: PeerId) -> Result<FollowView, Error> {
        let path = format!("/api/v1/follows/{peer_id}");
        self.json(Method::POST, &path, None::<&()>, true).await
    }

    /// `DELETE /api/v1/follows/{peer_id}`: stops following a person.
    pub async fn unfollow(&self, peer_id: PeerId) -> Result<(), Error> {
        let path = format!("/api/v1/follows/{peer_id}");
        self.send(Method::DELETE, &path, None::<&()>, true).await?;
        Ok(())
    }

    /// `GET /api/v1/following`: whom the owner follows (or asked to).
    pub async fn following(&self) -> Result<Vec<FollowView>, Error> {
        self.get("/api/v1/following").await
    }

    /// `GET /api/v1/followers`: who follows the owner.
    pub async fn followers(&self) -> Result<Vec<FollowView>, Error> {
        self.get("/api/v1/followers").await
    }

    /// `GET /api/v1/follows/requests`: follow requests waiting for the owner.
    pub async fn follow_requests(&self) -> Result<Vec<FollowView>, Error> {
        self.get("/api/v1/follows/requests").await
    }

    /// `POST /api/v1/follows/requests/{peer_id}/approve`: approves a follow request.
    pub async fn approve(&self, peer_id: PeerId) -> Result<FollowView, Error> {
        let path = format!("/api/v1/follows/requests/{peer_id}/approve");
        self.json(Method::POST, &path, None::<&()>, true).await
    }

    /// `POST /api/v1/follows/requests/{peer_id}/reject`: rejects a follow request.
    pub async fn reject(&self, peer_id: PeerId) -> Result<(), Error> {
        let path = format!("/api/v1/follows/requests/{peer_id}/reject");
        self.send(Method::POST, &path, None::<&()>, true).await?;
        Ok(())
    }

    /// `GET /api/v1/devices`: the paired devices.
    pub async fn devices(&self) -> Result<Vec<DeviceView>, Error> {
        self.get("/api/v1/devices").await
    }

    /// `PUT /api/v1/devices/{peer_id}`: pairs a device.
    pub async fn pair_device(&self, peer_id: PeerId) -> Result<DeviceView, Error> {
        let path = format!("/api/v1/devices/{peer_id}");
        self.json(Method::PUT, &path, None::<&()>, true).await
    }

    /// `DELETE /api/v1/devices/{peer_id}`: unpairs a device. `false` if it was not paired.
    pub async fn unpair_device(&self, peer_id: PeerId) -> Result<bool, Error> {
        let path = format!("/api/v1/devices/{peer_id}");
        found(self.send(Method::DELETE, &path, None::<&()>, true).await)
    }

    /// `GET /api/v1/mutes`: the people the owner muted.
    pub async fn mutes(&self) -> Result<Vec<kith_protocols::MuteView>, Error> {
        self.get("/api/v1/mutes").await
    }

    /// `PUT /api/v1/mutes/{peer_id}`: mutes a person (hidden from the home timeline, events
    /// and notifications; still followed). Muting twice keeps the first time.
    pub async fn mute(&self, peer_id: PeerId) -> Result<kith_protocols::MuteView, Error> {
        let path = format!("/api/v1/mutes/{peer_id}");
        self.json(Method::PUT, &path, None::<&()>, true).await
    }

    /// `DELETE /api/v1/mutes/{peer_id}`: unmutes a person. `false` if they were not muted.
    pub async fn unmute(&self, peer_id: PeerId) -> Result<bool, Error> {
        let path = format!("/api/v1/mutes/{peer_id}");
        found(self.send(Method::DELETE, &path, None::<&()>, true).await)
    }

    /// `POST /api/v1/session/links`: a one-time login link for a browser.
    pub async fn login_link(&self) -> Result<LoginLink, Error> {
        self.json(Method::POST, "/api/v1/session/links", None::<&()>, true)
            .await
    }

    /// `GET /api/v1/events`: the node's live events, from now on, as a stream (see
    /// [`EventStream`] for its errors and end).
    pub async fn events(&self) -> Result<EventStream, Error> {
        let url = format!("{}/api/v1/events", self.base);
        let request = self
            .stream_http
            .get(&url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let response = request.send().await.map_err(|e| self.request_error(e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await?;
            return Err(error_from(url, status, &bytes));
        }
        Ok(EventStream::new(response, url))
    }

    /// `GET path` with authentication, decoding the JSON answer.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.json(Method::GET, path, None::<&()>, true).await
    }

    /// Sends a request and decodes a successful answer's JSON body.
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        auth: bool,
    ) -> Result<T, Error> {
        let (url, bytes) = self.send(method, path, body, auth).await?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode { url, source })
    }

    /// Sends a request; returns the URL and the body of a successful answer, or the error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        auth: bool,
    ) -> Result<(String, Vec<u8>), Error> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if auth {
            request = request.header(AUTHORIZATION, self.auth.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.request_error(e))?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if status.is_success() {
            Ok((url, bytes))
        } else {
            Err(error_from(url, status, &bytes))
        }
    }

    /// A failed `send`: "is the node running?" when nothing answered.
    fn request_error(&self, source: reqwest::Error) -> Error {
        if source.is_connect() {
            Error::Connect {
                url: self.base.to_string(),
                source,
            }
        } else {
            Error::Http(source)
        }
    }
}

/// The answer of a delete that may find nothing: `Ok(false)` for a 404.
fn found(result: Result<(String, Vec<u8>), Error>) -> Result<bool, Error> {
    match result {
        Ok(_) => Ok(true),
        Err(Error::Api {
            code: ErrorCode::NotFound,
            ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `path` with the `limit` and `before` query parameters that are set.
fn paged(path: &str, limit: Option<usize>, before: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(limit) = limit {
        query.push(format!("limit={limit}"));
    }
    if let Some(before) = before {
        query.push(format!("before={}", percent_encode(before)));
    }
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// The path of a search for `q`, with `limit` when set.
fn search_path(q: &str, limit: Option<usize>) -> String {
    match limit {
        Some(limit) => format!("/api/v1/search?q={}&limit={limit}", percent_encode(q)),
        None => format!("/api/v1/search?q={}", percent_encode(q)),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so that an opaque cursor
/// travels intact in a query string.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use kith_protocols::EventView;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            Client::new("http://127.0.0.1:8080/", TOKEN)
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            Client::new("http://127.0.0.1:8080", TOKEN)
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "127.0.0.1:8080",
            "https://127.0.0.1:8080",
            "http://",
            "http://h:1/?q=1",
            "ftp://h",
        ] {
            assert!(
                matches!(Client::new(bad, TOKEN), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            Client::new("http://127.0.0.1:8080", "bad\ntoken"),
            Err(Error::InvalidToken)
        ));
        let debug = format!("{:?}", Client::new("http://127.0.0.1:1", TOKEN).unwrap());
        assert!(!debug.contains(TOKEN), "{debug}");
    }

    #[test]
    fn paged_paths_encode_the_cursor() {
        assert_eq!(paged("/t", None, None), "/t");
        assert_eq!(paged("/t", Some(20), None), "/t?limit=20");
        assert_eq!(
            paged("/t", Some(5), Some("a b&c=d/é~")),
            "/t?limit=5&before=a%20b%26c%3Dd%2F%C3%A9~"
        );
        assert_eq!(paged("/t", None, Some("x")), "/t?before=x");
    }

    #[test]
    fn search_paths_encode_the_query() {
        assert_eq!(search_path("loom", None), "/api/v1/search?q=loom");
        assert_eq!(
            search_path("Jacquard loom & cards?", Some(5)),
            "/api/v1/search?q=Jacquard%20loom%20%26%20cards%3F&limit=5"
        );
        assert_eq!(search_path("é", None), "/api/v1/search?q=%C3%A9");
    }

    fn json_response(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// Answers one HTTP request with `response` and returns the request's head.
    async fn answer_once(response: String) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed before sending a whole request");
                head.extend_from_slice(&buf[..n]);
            }
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (base, server)
    }

    #[tokio::test]
    async fn api_requests_carry_the_bearer_token() {
        let body = r#"[]"#;
        let (base, server) = answer_once(json_response("200 OK", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        assert!(client.blocks().await.unwrap().is_empty());
        let head = server.await.unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("get /api/v1/blocks http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("authorization: bearer {TOKEN}\r\n")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn unblocking_a_peer_that_is_not_blocked_is_false() {
        let body = r#"{"error":{"code":"not-found","message":"peer is not blocked"}}"#;
        let (base, server) = answer_once(json_response("404 Not Found", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let peer = PeerId::random();
        assert!(!client.unblock(peer).await.unwrap());
        let head = server.await.unwrap();
        assert!(
            head.starts_with(&format!("DELETE /api/v1/blocks/{peer} ")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn unpairing_a_device_that_is_not_paired_is_false() {
        let body = r#"{"error":{"code":"not-found","message":"not paired"}}"#;
        let (base, server) = answer_once(json_response("404 Not Found", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let peer = PeerId::random();
        assert!(!client.unpair_device(peer).await.unwrap());
        let head = server.await.unwrap();
        assert!(
            head.starts_with(&format!("DELETE /api/v1/devices/{peer} ")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn muting_puts_and_reads_the_entry() {
        let peer = PeerId::random();
        let body = format!(r#"{{"peer_id":"{peer}","since_ms":7,"name":"Bob"}}"#);
        let (base, server) = answer_once(json_response("200 OK", &body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let mute = client.mute(peer).await.unwrap();
        assert_eq!(
            (mute.peer_id, mute.since_ms, mute.name.as_deref()),
            (peer, 7, Some("Bob"))
        );
        let head = server.await.unwrap();
        assert!(
            head.starts_with(&format!("PUT /api/v1/mutes/{peer} ")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn unmuting_someone_not_muted_is_false() {
        let body = r#"{"error":{"code":"not-found","message":"not muted"}}"#;
        let (base, server) = answer_once(json_response("404 Not Found", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let peer = PeerId::random();
        assert!(!client.unmute(peer).await.unwrap());
        let head = server.await.unwrap();
        assert!(
            head.starts_with(&format!("DELETE /api/v1/mutes/{peer} ")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn timeline_sends_the_page_query() {
        let body = r#"{"posts":[],"next":null}"#;
        let (base, server) = answer_once(json_response("200 OK", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let page = client.timeline(Some(20), Some("c/1")).await.unwrap();
        assert!(page.posts.is_empty() && page.next.is_none());
        let head = server.await.unwrap();
        assert!(
            head.starts_with("GET /api/v1/timeline?limit=20&before=c%2F1 "),
            "{head}"
        );
    }

    #[tokio::test]
    async fn replies_and_notifications_send_the_page_query() {
        let id = ObjectId::from_bytes([0xcd; 32]);
        let body = r#"{"posts":[],"next":null}"#;
        let (base, server) = answer_once(json_response("200 OK", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let page = client.replies(&id, Some(3), Some("AAA")).await.unwrap();
        assert!(page.posts.is_empty());
        let head = server.await.unwrap();
        assert!(
            head.starts_with(&format!(
                "GET /api/v1/posts/{id}/replies?limit=3&before=AAA "
            )),
            "{head}"
        );

        let actor = PeerId::random();
        let body = format!(
            r#"{{"notifications":[{{"id":"{}","kind":"follow_request","at":7,"actor":"{actor}"}}],"next":"Bw"}}"#,
            "ab".repeat(32)
        );
        let (base, server) = answer_once(json_response("200 OK", &body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let page = client.notifications(None, None).await.unwrap();
        assert_eq!(page.next.as_deref(), Some("Bw"));
        let [notification] = page.notifications.as_slice() else {
            panic!("one notification: {page:?}");
        };
        assert_eq!(
            (notification.kind, notification.actor, notification.at),
            (kith_protocols::NotificationKind::FollowRequest, actor, 7)
        );
        assert!(notification.post.is_none() && notification.actor_name.is_none());
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /api/v1/notifications "), "{head}");
    }

    /// Answers one request whose body is a small JSON object with `response`; returns the
    /// whole request, head and body.
    async fn answer_json_request(response: String) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            // Head and the body: read until the JSON object closes.
            while !request.ends_with(b"}") {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0);
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            String::from_utf8(request).unwrap()
        });
        (base, server)
    }

    #[tokio::test]
    async fn joining_sends_the_invite_and_another_network_is_a_conflict() {
        let body = r#"{"network":"b7a2","same_network":true,"dialed":1,"restart_required":false}"#;
        let (base, server) = answer_json_request(json_response("200 OK", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let joined = client.join("kith1abc", false).await.unwrap();
        assert_eq!(
            joined,
            JoinView {
                network: "b7a2".to_owned(),
                same_network: true,
                dialed: 1,
                restart_required: false,
            }
        );
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /api/v1/network/join "),
            "{request}"
        );
        assert!(
            request.ends_with("\r\n\r\n{\"invite\":\"kith1abc\",\"replace\":false}"),
            "{request}"
        );

        let body = r#"{"error":{"code":"invalid-request","message":"another network: send \"replace\": true"}}"#;
        let (base, server) = answer_json_request(json_response("409 Conflict", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let error = client.join("kith1abc", true).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Api { status: 409, code: ErrorCode::InvalidRequest, message }
                    if message.contains("replace")
            ),
            "{error:?}"
        );
        let request = server.await.unwrap();
        assert!(request.ends_with("\"replace\":true}"), "{request}");
    }

    #[tokio::test]
    async fn profile_updates_send_only_the_fields_set() {
        let body = r#"{"display_name":"Ada","bio":"","locked":false}"#;
        let (base, server) = answer_json_request(json_response("200 OK", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let update = ProfileUpdate {
            display_name: Some("Ada".to_owned()),
            ..ProfileUpdate::default()
        };
        let profile = client.update_profile(&update).await.unwrap();
        assert_eq!(profile.display_name, "Ada");
        let request = server.await.unwrap();
        assert!(request.starts_with("PUT /api/v1/profile "), "{request}");
        assert!(
            request.ends_with("\r\n\r\n{\"display_name\":\"Ada\"}"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn events_are_parsed_from_the_stream_and_lagging_is_not_fatal() {
        let peer = PeerId::random();
        let body = format!(
            ": hello\n\nevent: peer_connected\ndata: {{\"type\":\"peer_connected\",\"peer_id\":\"{peer}\"}}\n\n\
             event: lagged\ndata: {{\"missed\":4}}\n\n\
             event: peer_disconnected\ndata: {{\"type\":\"peer_disconnected\",\"peer_id\":\"{peer}\"}}\n\n"
        );
        // No content-length: the body runs until the connection closes, like a stream.
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}"
        );
        let (base, server) = answer_once(response).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let events: Vec<Result<EventView, Error>> = client.events().await.unwrap().collect().await;
        let head = server.await.unwrap().to_ascii_lowercase();
        assert!(head.starts_with("get /api/v1/events "), "{head}");
        assert!(head.contains("accept: text/event-stream\r\n"), "{head}");
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(matches!(&events[0], Ok(EventView::PeerConnected { peer_id }) if *peer_id == peer));
        assert!(matches!(&events[1], Err(Error::Lagged { missed: 4 })));
        assert!(
            matches!(&events[2], Ok(EventView::PeerDisconnected { peer_id }) if *peer_id == peer)
        );
    }

    #[tokio::test]
    async fn an_events_request_refused_is_an_api_error() {
        let body = r#"{"error":{"code":"unauthorized","message":"bad token"}}"#;
        let (base, server) = answer_once(json_response("401 Unauthorized", body)).await;
        let client = Client::new(&base, TOKEN).unwrap();
        let error = client.events().await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Api {
                    status: 401,
                    code: ErrorCode::Unauthorized,
                    ..
                }
            ),
            "{error:?}"
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_node_that_is_not_running_is_a_connect_error() {
        // A port that was just free: nothing listens on it any more.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = Client::new(&format!("http://{addr}"), TOKEN).unwrap();
        let error = client.node().await.unwrap_err();
        assert!(matches!(error, Error::Connect { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("kith run") && message.contains(&addr.to_string()),
            "{message}"
        );
        let error = client.events().await.unwrap_err();
        assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    }
}
