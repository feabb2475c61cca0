//! The calling side of routes: open a stream for the route, send one framed request, read one
//! framed response, all within a deadline.
//!
//! `open_stream` succeeding only means the remote agreed to the protocol, not that it handled
//! anything, so the call always waits for the response. Every failure comes back as a
//! [`WireError`] with one of the wire's codes, whether the remote sent it or it happened here.

use std::time::Duration;

use futures::AsyncWriteExt;
use kith_protocols::{
    ErrorCode, MAX_FRAME_LEN, Op, Request, Response, Route, WireError, read_message, write_message,
};
use libp2p::PeerId;
use serde::{Serialize, de::DeserializeOwned};

/// A cheap-clone handle for calling routes on other nodes.
#[derive(Clone)]
pub struct RouteClient {
    control: libp2p_stream::Control,
    timeout: Duration,
}

impl std::fmt::Debug for RouteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RouteClient {
    pub(crate) fn new(control: libp2p_stream::Control, timeout: Duration) -> Self {
        Self { control, timeout }
    }

    /// Calls `route` on `peer` with `body` and decodes the response body as `R`.
    pub async fn call<B, R>(&self, peer: PeerId, route: &Route, body: &B) -> Result<R, WireError>
    where
        B: Serialize,
        R: DeserializeOwned,
    {
        let value = self
            .call_value(peer, route, serde_json::to_value(body).map_err(internal)?)
            .await?;
        serde_json::from_value(value).map_err(|e| {
            WireError::new(
                ErrorCode::Unavailable,
                format!("peer sent a response body that does not fit {route}: {e}"),
            )
        })
    }

    /// Calls `route` on `peer` with a raw JSON body.
    pub async fn call_value(
        &self,
        peer: PeerId,
        route: &Route,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, WireError> {
        let attempts = async {
            match self.exchange(peer, route, body.clone()).await {
                // libp2p-stream hands inbound streams to the serving accept loop through a
                // channel without buffer: a stream that arrives while the loop is busy with
                // another one is dropped unanswered. A `get` has no side effects, so it is
                // safe to ask once more; anything else reports the failure.
                Err(Failure::Unanswered(error)) if route.op() == Op::Get => {
                    tracing::debug!(%peer, %route, %error, "no answer; asking once more");
                    self.exchange(peer, route, body)
                        .await
                        .map_err(Failure::into_wire)
                }
                result => result.map_err(Failure::into_wire),
            }
        };
        match tokio::time::timeout(self.timeout, attempts).await {
            Ok(result) => result,
            Err(_) => Err(WireError::new(
                ErrorCode::Timeout,
                format!(
                    "{peer} did not answer {route} within {} ms",
                    self.timeout.as_millis()
                ),
            )),
        }
    }

    async fn exchange(
        &self,
        peer: PeerId,
        route: &Route,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Failure> {
        let mut control = self.control.clone();
        let mut stream =
            control
                .open_stream(peer, route.protocol())
                .await
                .map_err(|e| match e {
                    libp2p_stream::OpenStreamError::UnsupportedProtocol(_) => {
                        Failure::Answered(WireError::new(
                            ErrorCode::NotFound,
                            format!("{peer} does not serve {route}"),
                        ))
                    }
                    other => Failure::Answered(WireError::new(
                        ErrorCode::Unavailable,
                        format!("opening {route} on {peer}: {other}"),
                    )),
                })?;
        let request = Request::new(body);
        write_message(&mut stream, &request)
            .await
            .map_err(unanswered)?;
        // Half-close: tells the server the request is complete.
        stream.close().await.map_err(|e| unanswered(e.into()))?;
        let response: Response = match read_message(&mut stream, MAX_FRAME_LEN).await {
            Ok(Some(response)) => response,
            Ok(None) => {
                return Err(Failure::Unanswered(WireError::new(
                    ErrorCode::Unavailable,
                    format!("{peer} closed {route} without answering"),
                )));
            }
            Err(error @ kith_protocols::FrameError::Io(_)) => return Err(unanswered(error)),
            Err(error) => return Err(Failure::Answered(unavailable(error))),
        };
        if response.id != request.id && !response.id.is_nil() {
            return Err(Failure::Answered(WireError::new(
                ErrorCode::Unavailable,
                "response id does not match the request",
            )));
        }
        response.result.map_err(Failure::Answered)
    }
}

/// Why one exchange failed: with an answer (or a definite refusal), or with none at all.
enum Failure {
    Answered(WireError),
    /// The stream broke or closed before any response arrived.
    Unanswered(WireError),
}

impl Failure {
    fn into_wire(self) -> WireError {
        match self {
            Failure::Answered(error) | Failure::Unanswered(error) => error,
        }
    }
}

fn unanswered(error: kith_protocols::FrameError) -> Failure {
    Failure::Unanswered(unavailable(error))
}

fn unavailable(error: kith_protocols::FrameError) -> WireError {
    WireError::new(ErrorCode::Unavailable, error.to_string())
}

fn internal(error: serde_json::Error) -> WireError {
    WireError::new(ErrorCode::InternalError, error.to_string())
}
