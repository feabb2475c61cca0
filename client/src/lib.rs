//! kith-client: a typed client of a Kith node's local HTTP API.
//!
//! # Brief overview
//!
//! - [`Client`] talks to one node (`http://127.0.0.1:8080` by default) with its API token. It is a
//!   cheap clone; each method is one HTTP request and returns the body type that the node's web
//!   crate serializes, shared through [`kith_protocols`] (re-exported here: [`NodeInfo`],
//!   [`PeerView`], [`InviteView`], ...).
//! - [`Error`] says what went wrong in terms a user can act on: the node is not running
//!   ([`Error::Connect`]), the node refused the request ([`Error::Api`], with the wire
//!   [`ErrorCode`] and the node's message), or the answer was not what the API promises.
//!
//! The CLI's client commands (`kith status`, `kith peers`, ...) are built on this crate, and so
//! are the integration tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kith_client::Error> {
//! let client = kith_client::Client::new("http://127.0.0.1:8080", "the token from api.token")?;
//! let info = client.node().await?;
//! println!("{} on network {}", info.peer_id, info.network);
//! # Ok(())
//! # }
//! ```
//!
//! Plain HTTP only: the API listens on localhost, and no TLS stack is compiled in.

#![deny(missing_docs)]

use std::{sync::Arc, time::Duration};

pub use kith_protocols::{
    AddPeerRequest, AddPeerResponse, ApiErrorBody, BlockRequest, BlockView, ErrorCode, InviteView,
    NodeInfo, PeerView, StatusView,
};
pub use libp2p::{Multiaddr, PeerId};
use reqwest::{
    Method, StatusCode,
    header::{AUTHORIZATION, HeaderValue},
};
use serde::{Serialize, de::DeserializeOwned};

/// How long a connection to the node may take to open. The node is on this machine: anything
/// slower means it is not answering.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take; the node answers within its own 10 s deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an unexpected (non-API) response body is kept for the error message.
const MAX_QUOTED_BODY: usize = 200;

/// Everything that can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL cannot be used.
    #[error("invalid node API address `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token cannot be sent in an HTTP header (it contains control characters).
    #[error("the API token contains characters that cannot be sent in an HTTP header")]
    InvalidToken,
    /// Nothing answers at the node's address.
    #[error("cannot connect to the node at {url}: is the node running? start it with `kith run`")]
    Connect {
        /// The URL that was tried.
        url: String,
        /// The connection error.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with an API error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The wire error code.
        code: ErrorCode,
        /// The node's message.
        message: String,
    },
    /// The node answered with an error status but without the API's error body (something else
    /// listens there, or a proxy answered).
    #[error("unexpected answer from {url}: HTTP {status}: {body}")]
    UnexpectedResponse {
        /// The URL of the request.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A successful answer's body does not have the expected shape.
    #[error("cannot decode the answer from {url}")]
    Decode {
        /// The URL of the request.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The request failed after connecting (timeout, connection reset, ...).
    #[error("the request to the node failed")]
    Http(#[from] reqwest::Error),
}

/// A client of one node's HTTP API. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
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
        let base = url.as_str().trim_end_matches('/').into();
        Ok(Client { http, base, auth })
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
        self.json(Method::GET, "/api/v1/node", None::<&()>, true)
            .await
    }

    /// `GET /api/v1/peers`: the peers the node knows, connected ones first.
    pub async fn peers(&self) -> Result<Vec<PeerView>, Error> {
        self.json(Method::GET, "/api/v1/peers", None::<&()>, true)
            .await
    }

    /// `POST /api/v1/peers`: asks the node to connect to `addr` (with or without `/p2p/`).
    pub async fn add_peer(&self, addr: Multiaddr) -> Result<AddPeerResponse, Error> {
        let request = AddPeerRequest { addr };
        self.json(Method::POST, "/api/v1/peers", Some(&request), true)
            .await
    }

    /// `GET /api/v1/network/invite`: an invite code to the node's network.
    pub async fn invite(&self) -> Result<InviteView, Error> {
        self.json(Method::GET, "/api/v1/network/invite", None::<&()>, true)
            .await
    }

    /// `GET /api/v1/blocks`: the blocklist.
    pub async fn blocks(&self) -> Result<Vec<BlockView>, Error> {
        self.json(Method::GET, "/api/v1/blocks", None::<&()>, true)
            .await
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
        match self.send(Method::DELETE, &path, None::<&()>, true).await {
            Ok(_) => Ok(true),
            Err(Error::Api {
                code: ErrorCode::NotFound,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
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
        let response = request.send().await.map_err(|source| {
            if source.is_connect() {
                Error::Connect {
                    url: self.base.to_string(),
                    source,
                }
            } else {
                Error::Http(source)
            }
        })?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if status.is_success() {
            Ok((url, bytes))
        } else {
            Err(error_from(url, status, &bytes))
        }
    }
}

/// The error for a non-success answer: the API's error body when there is one.
fn error_from(url: String, status: StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(body) => Error::Api {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let mut quoted: String = text.chars().take(MAX_QUOTED_BODY).collect();
            if text.chars().count() > MAX_QUOTED_BODY {
                quoted.push('…');
            }
            Error::UnexpectedResponse {
                url,
                status: status.as_u16(),
                body: quoted,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn api_error_bodies_are_decoded() {
        let body = br#"{"error":{"code":"rate-limited","message":"slow down"}}"#;
        match error_from(
            "http://x/api/v1/peers".into(),
            StatusCode::TOO_MANY_REQUESTS,
            body,
        ) {
            Error::Api {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 429);
                assert_eq!(code, ErrorCode::RateLimited);
                assert_eq!(message, "slow down");
            }
            other => panic!("expected Api, got {other:?}"),
        }
    }

    #[test]
    fn other_error_bodies_are_quoted_briefly() {
        let body = "<html>".repeat(100);
        let error = error_from(
            "http://x/healthz".into(),
            StatusCode::BAD_GATEWAY,
            body.as_bytes(),
        );
        match &error {
            Error::UnexpectedResponse { status, body, url } => {
                assert_eq!(*status, 502);
                assert_eq!(url, "http://x/healthz");
                assert_eq!(body.chars().count(), MAX_QUOTED_BODY + 1);
                assert!(body.ends_with('…'));
            }
            other => panic!("expected UnexpectedResponse, got {other:?}"),
        }
        // An unknown error code is not an API error body either.
        let body = br#"{"error":{"code":"teapot","message":"short and stout"}}"#;
        assert!(matches!(
            error_from("http://x".into(), StatusCode::IM_A_TEAPOT, body),
            Error::UnexpectedResponse { status: 418, .. }
        ));
    }

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
    }
}
