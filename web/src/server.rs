//! [`serve`]: running the router on a socket until told to stop.

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{AppState, router};

/// Serves the API on `listener` until `shutdown` is cancelled, then stops accepting, ends the
/// open event streams, lets the requests in flight finish and closes idle connections (graceful
/// shutdown) before returning.
///
/// `TCP_NODELAY` is set on every accepted connection: without it, a response written in several
/// small pieces waits for the client's delayed ACK (about 40 ms on loopback).
///
/// A long-lived response other than the event stream would keep the shutdown waiting until it
/// ends; callers that need a bound put a deadline around this future.
pub async fn serve(
    listener: TcpListener,
    mut state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on an API connection");
        }
    });
    // This server's own token for its streams, so that stopping it ends only its streams, not
    // those of other servers built from clones of the same state.
    state.streams_end = state.streams_end.child_token();
    let streams_end = state.streams_end.clone();
    tracing::info!(addr = %local, "HTTP API listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            streams_end.cancel();
        })
        .await?;
    tracing::info!(addr = %local, "HTTP API stopped");
    Ok(())
}
