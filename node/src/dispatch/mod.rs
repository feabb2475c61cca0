//! Routes to handlers: the registry of `/visibility/op/domain/version` routes a node serves, the
//! accept loops that turn inbound libp2p streams into handler calls, and the client that calls
//! other nodes' routes.
//!
//! Each route is its own libp2p protocol (libp2p-stream), so a peer asking for a route we do not
//! serve is refused by multistream-select before any of our code runs; the caller maps that to
//! `not-found`. Each inbound stream carries exactly one request and gets its own task, holding a
//! permit of a semaphore that bounds how many requests are in flight at once. Every request
//! passes the same middleware chain (see `server`: rate limit, size limit, timestamp window and
//! replay memory, access policy, deadline) before its handler runs.

mod client;
mod middleware;
mod rate;
mod replay;
mod server;

use std::{collections::BTreeMap, future::Future, sync::Arc};

use futures::future::BoxFuture;
use kith_protocols::{Route, WireError};
use libp2p::PeerId;
use uuid::Uuid;

pub use client::RouteClient;
pub use middleware::Policy;
pub(crate) use server::{DispatchMetrics, RequestLimits, spawn_dispatcher};

/// What a handler knows about the request it serves.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The authenticated remote peer (Noise proved it holds this identity).
    pub peer: PeerId,
    /// The route the request arrived on.
    pub route: Route,
    /// The request's id, echoed in the response.
    pub request_id: Uuid,
    /// The request's timestamp (unix ms), as the caller stated it.
    pub ts: u64,
}

/// A route handler: takes the request body, returns the response body or a wire error.
pub trait Handler: Send + Sync + 'static {
    /// Serves one request.
    fn call(
        &self,
        ctx: RequestContext,
        body: serde_json::Value,
    ) -> BoxFuture<'static, Result<serde_json::Value, WireError>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(RequestContext, serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, WireError>> + Send + 'static,
{
    fn call(
        &self,
        ctx: RequestContext,
        body: serde_json::Value,
    ) -> BoxFuture<'static, Result<serde_json::Value, WireError>> {
        Box::pin(self(ctx, body))
    }
}

/// The table of routes a node serves.
#[derive(Clone, Default)]
pub struct Router {
    routes: BTreeMap<String, (Route, Arc<dyn Handler>)>,
}

impl Router {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the handler of `route`.
    pub fn route(mut self, route: Route, handler: impl Handler) -> Self {
        self.routes
            .insert(route.to_string(), (route, Arc::new(handler)));
        self
    }

    /// The routes served, in a stable order.
    pub fn routes(&self) -> Vec<Route> {
        self.routes
            .values()
            .map(|(route, _)| route.clone())
            .collect()
    }

    pub(crate) fn into_entries(self) -> impl Iterator<Item = (Route, Arc<dyn Handler>)> {
        self.routes.into_values()
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.routes.keys()).finish()
    }
}
