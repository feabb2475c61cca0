//! `GET /api/v1/events`: the node's events as server-sent events, for the UI to update live.
//!
//! Each event's SSE `event:` field is its name ([`EventView::name`]: `post`, `delete`, `like`,
//! `notification`, `follow_request`, `follower`, `following`, `profile`, `peer_connected`,
//! `peer_disconnected`)
//! and its `data:` field is the [`EventView`] as JSON. Events the owner is not shown
//! ([`kith_node::NodeEvent::to_view`] gives `None`) are skipped.
//!
//! The stream reads a broadcast receiver subscribed when the request arrives. A client too slow
//! to keep up loses the oldest events; it is then sent one `lagged` event, data
//! `{"missed":n}`, so that it can reload what it shows, and the stream goes on. A comment line
//! is sent every 15 s while nothing happens, so that proxies and clients see the connection is
//! alive. The stream ends when the node shuts down or the server stops (an open stream would
//! otherwise hold up graceful shutdown).
//!
//! The request deadline bounds only the time to the response's head, which this handler returns
//! at once, so it never cuts the stream.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use kith_node::NodeEvent;
use kith_protocols::{ApiErrorBody, ErrorCode, EventView};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use utoipa::{OpenApi, ToSchema};

use crate::{
    AppState,
    error::ApiError,
    router::{Endpoint, Verb},
};

/// How often a keep-alive comment is sent while no event comes.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE event name sent when the client fell behind and events were dropped.
pub(crate) const LAGGED: &str = "lagged";

/// `/events`.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Verb::Get, "/api/v1/events", events)]
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(events), components(schemas(LaggedView)))]
pub(crate) struct Docs;

/// The data of a `lagged` event: `{"missed":n}`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(crate) struct LaggedView {
    /// How many events were dropped because the client did not keep up.
    missed: u64,
}

/// The node's events, as a stream of server-sent events.
///
/// `event:` is the event's `type` (`post`, `delete`, `like`, `notification`, `follow_request`,
/// `follower`, `following`, `profile`, `peer_connected`, `peer_disconnected`) and `data:` the event as JSON. A client that
/// fell behind gets an event `lagged` with data `{"missed":n}` (see `LaggedView`) and the stream
/// goes on. Keep-alive comments come every 15 s. The stream ends when the node stops.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses(
        (status = 200, description = "A stream of server-sent events whose data is an EventView",
            body = EventView, content_type = "text/event-stream"),
        (status = 503, description = "The node is shutting down", body = ApiErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let node = state.network.node();
    if !node.is_running() || state.streams_end.is_cancelled() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the node is shutting down",
        ));
    }
    // Subscribed now, before the response goes out: nothing that happens after the request
    // arrived is missed.
    let receiver = node.subscribe();
    tracing::debug!("event stream opened");
    Ok(Sse::new(event_stream(receiver, state.streams_end.clone()))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The SSE events for what `receiver` yields, until `end` is cancelled or the sender is gone.
fn event_stream(
    receiver: broadcast::Receiver<NodeEvent>,
    end: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold((receiver, end), |(mut receiver, end)| async move {
        loop {
            // `recv` is cancel-safe: a cancelled wait loses no event.
            let received = tokio::select! {
                biased;
                () = end.cancelled() => {
                    tracing::debug!("event stream closed: shutting down");
                    return None;
                }
                received = receiver.recv() => received,
            };
            let event = match received {
                Ok(event) => match event.to_view() {
                    Some(view) => sse_event(view.name(), &view),
                    None => continue,
                },
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event stream fell behind");
                    sse_event(LAGGED, &LaggedView { missed })
                }
                Err(RecvError::Closed) => return None,
            };
            if let Some(event) = event {
                return Some((Ok(event), (receiver, end)));
            }
        }
    })
}

/// An SSE event named `name` whose data is `data` as JSON; `None` (logged) if it cannot be
/// serialized, which the view types never fail to be.
fn sse_event(name: &'static str, data: &impl Serialize) -> Option<Event> {
    match Event::default().event(name).json_data(data) {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::error!(%error, event = name, "cannot serialize an event; skipped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use libp2p::PeerId;

    use super::*;

    /// The whole body of an SSE response whose stream has ended.
    async fn body_text(
        stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    ) -> String {
        let response = Sse::new(stream).into_response();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn a_lagging_client_is_told_and_the_stream_goes_on() {
        let (sender, receiver) = broadcast::channel(2);
        let peers: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
        for &peer in &peers {
            sender
                .send(NodeEvent::PeerConnected { peer })
                .expect("a receiver");
        }
        // Closing the channel ends the stream once the buffered events are out.
        drop(sender);
        let text = body_text(event_stream(receiver, CancellationToken::new())).await;
        let expected = format!(
            "event: lagged\ndata: {{\"missed\":3}}\n\n\
             event: peer_connected\ndata: {{\"type\":\"peer_connected\",\"peer_id\":\"{}\"}}\n\n\
             event: peer_connected\ndata: {{\"type\":\"peer_connected\",\"peer_id\":\"{}\"}}\n\n",
            peers[3], peers[4]
        );
        assert_eq!(text, expected);
    }

    #[tokio::test]
    async fn events_not_shown_to_the_owner_are_skipped() {
        let (sender, receiver) = broadcast::channel(8);
        let peer = PeerId::random();
        sender
            .send(NodeEvent::DialStarted { peer })
            .expect("a receiver");
        sender
            .send(NodeEvent::PeerDisconnected { peer })
            .expect("a receiver");
        drop(sender);
        let text = body_text(event_stream(receiver, CancellationToken::new())).await;
        assert_eq!(
            text,
            format!(
                "event: peer_disconnected\ndata: {{\"type\":\"peer_disconnected\",\"peer_id\":\"{peer}\"}}\n\n"
            )
        );
    }

    #[tokio::test]
    async fn the_stream_ends_when_cancelled_though_the_sender_lives() {
        let (sender, receiver) = broadcast::channel(8);
        let end = CancellationToken::new();
        end.cancel();
        let text = body_text(event_stream(receiver, end)).await;
        assert_eq!(text, "");
        drop(sender);
    }
}
