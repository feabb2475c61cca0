//! [`serve`]: running the router on a socket until told to stop.

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{AppState, router};

/// Serves the API on `listener` until `shutdown` is cancelled, then stops accepting, lets the
/// requests in flight finish and closes idle connections (graceful shutdown) before returning.
///
/// `TCP_NODELAY` is set on every accepted connection: without it, a response written in several
/// small pieces waits for the client's delayed ACK (about 40 ms on loopback).
///
/// A long-lived response (a stream) keeps the shutdown waiting until it ends; callers that need a
/// bound put a deadline around this future.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on an API connection");
        }
    });
    tracing::info!(addr = %local, "HTTP API listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    tracing::info!(addr = %local, "HTTP API stopped");
    Ok(())
}
