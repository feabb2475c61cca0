//! The calling side of routes: open a stream for the route, send one framed request, read one
//! framed response, all within a deadline.
//!
//! `open_stream` succeeding only means the remote agreed to the protocol, not that it handled
//! anything, so the call always waits for the response. Every failure comes back as a
//! [`WireError`] with one of the wire's codes, whether the remote sent it or it happened here.

use std::time::Duration;

use futures::AsyncWriteExt;
use kith_protocols::{
    ErrorCode, MAX_FRAME_LEN, Request, Response, Route, WireError, read_message, write_message,
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
        match tokio::time::timeout(self.timeout, self.exchange(peer, route, body)).await {
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
    ) -> Result<serde_json::Value, WireError> {
        let mut control = self.control.clone();
        let mut stream =
            control
                .open_stream(peer, route.protocol())
                .await
                .map_err(|e| match e {
                    libp2p_stream::OpenStreamError::UnsupportedProtocol(_) => WireError::new(
                        ErrorCode::NotFound,
                        format!("{peer} does not serve {route}"),
                    ),
                    other => WireError::new(
                        ErrorCode::Unavailable,
                        format!("opening {route} on {peer}: {other}"),
                    ),
                })?;
        let request = Request::new(body);
        write_message(&mut stream, &request)
            .await
            .map_err(unavailable)?;
        // Half-close: tells the server the request is complete.
        stream.close().await.map_err(|e| unavailable(e.into()))?;
        let response: Response = read_message(&mut stream, MAX_FRAME_LEN)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                WireError::new(
                    ErrorCode::Unavailable,
                    format!("{peer} closed {route} without answering"),
                )
            })?;
        if response.id != request.id && !response.id.is_nil() {
            return Err(WireError::new(
                ErrorCode::Unavailable,
                "response id does not match the request",
            ));
        }
        response.result
    }
}

fn unavailable(error: kith_protocols::FrameError) -> WireError {
    WireError::new(ErrorCode::Unavailable, error.to_string())
}

fn internal(error: serde_json::Error) -> WireError {
    WireError::new(ErrorCode::InternalError, error.to_string())
}
