//! The serving side of routes: one accept loop per route, one task per inbound stream.
//!
//! The middleware chain, the same for every route, in order: in-flight cap (when all permits
//! are taken the stream is answered `unavailable`), per-(peer, route) rate limit (`rate`, before
//! anything is read), the frame size limit (while reading, before allocating), the envelope, the
//! timestamp window and replay memory (`replay`), the access policy (`middleware`), and the
//! handler; one deadline covers everything from reading to the handler's answer.
//!
//! libp2p-stream drops inbound streams when the accept loop falls behind, so the loop never does
//! work itself: it takes a permit from a semaphore (bounding requests in flight; a stream that
//! finds no permit is answered `unavailable` and closed by a short-lived task) and spawns the
//! stream's task. The task reads one framed request (size-limited before allocation), runs the
//! middleware and the handler under the per-request deadline, and writes one framed response.

use std::{sync::Arc, time::Duration};

use futures::{AsyncWriteExt, StreamExt};
use kith_protocols::{
    ErrorCode, FrameError, MAX_FRAME_LEN, Request, Response, Route, WireError, read_frame,
    write_message,
};
use libp2p::{PeerId, Stream};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;
use uuid::Uuid;

use super::{
    Handler, Policy, RequestContext, Router,
    rate::{FORGET_IDLE_EVERY, RouteRateLimiter},
    replay::{Admission, ReplayGuard},
};

/// How many inbound requests may be in flight at once, across all routes and peers.
const MAX_INFLIGHT_REQUESTS: usize = 256;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    result: String,
}

/// Counters of what the dispatcher did, exported on `/metrics`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DispatchMetrics {
    requests: Family<RouteLabels, Counter>,
    total: Counter,
}

impl DispatchMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "kith_route_requests",
            "Inbound route requests by route and result (ok or the wire error code)",
            metrics.requests.clone(),
        );
        metrics
    }

    fn record(&self, route: &Route, result: &str) {
        self.requests
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                result: result.to_owned(),
            })
            .inc();
        self.total.inc();
    }

    /// All requests answered so far, whatever their route or result.
    pub fn total(&self) -> u64 {
        self.total.get()
    }
}

/// Starts one accept loop per route of `router`. The loops stop when `token` is cancelled.
pub(crate) fn spawn_dispatcher(
    router: Router,
    control: &mut libp2p_stream::Control,
    policy: Policy,
    limits: RequestLimits,
    metrics: DispatchMetrics,
    tasks: &TaskTracker,
    token: &CancellationToken,
) -> Result<(), libp2p_stream::AlreadyRegistered> {
    let permits = Arc::new(Semaphore::new(MAX_INFLIGHT_REQUESTS));
    let guards = Arc::new(Guards {
        rate: RouteRateLimiter::new(limits.rate_per_sec, limits.burst),
        replay: Arc::new(ReplayGuard::default()),
    });
    {
        let guards = guards.clone();
        let token = token.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(FORGET_IDLE_EVERY);
            loop {
                tokio::select! {
                    biased;
                    _ = token.cancelled() => break,
                    _ = tick.tick() => guards.rate.forget_idle(),
                }
            }
        });
    }
    for (route, handler) in router.into_entries() {
        let mut incoming = control.accept(route.protocol())?;
        let served = Served {
            route,
            handler,
            policy: policy.clone(),
            guards: guards.clone(),
            request_timeout: limits.timeout,
            metrics: metrics.clone(),
        };
        let served = Arc::new(served);
        let permits = permits.clone();
        let token = token.clone();
        let tracker = tasks.clone();
        tasks.spawn(async move {
            loop {
                let (peer, stream) = tokio::select! {
                    biased;
                    _ = token.cancelled() => break,
                    next = incoming.next() => match next {
                        Some(next) => next,
                        None => break,
                    },
                };
                let served = served.clone();
                let span = tracing::debug_span!("route", %peer, route = %served.route);
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tracker.spawn(
                            async move {
                                served.serve(peer, stream).await;
                                drop(permit);
                            }
                            .instrument(span),
                        );
                    }
                    Err(_) => {
                        tracker.spawn(
                            async move { served.refuse_busy(stream).await }.instrument(span),
                        );
                    }
                }
            }
        });
    }
    Ok(())
}

/// Reads one framed request envelope. `Ok(None)` means the caller went away before sending
/// anything; an `Err` is the typed error to answer with (the request id is unknown then).
async fn read_request(stream: &mut Stream) -> Result<Option<Request>, WireError> {
    let bytes = match read_frame(stream, MAX_FRAME_LEN).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(FrameError::Io(error)) => {
            tracing::debug!(%error, "stream failed while reading the request");
            return Ok(None);
        }
        Err(error) => return Err(WireError::new(error.code(), error.to_string())),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|error| {
        WireError::new(
            ErrorCode::InvalidRequest,
            format!("malformed request envelope: {error}"),
        )
    })
}

/// Limits of inbound requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLimits {
    /// Deadline of one request, from reading it to the handler's answer.
    pub timeout: Duration,
    /// Requests per second per (peer, route).
    pub rate_per_sec: u32,
    /// Burst per (peer, route) above the rate.
    pub burst: u32,
}

/// The stateful middleware shared by every route of a node.
struct Guards {
    rate: RouteRateLimiter,
    replay: Arc<ReplayGuard>,
}

/// One route's handler with everything its streams need.
struct Served {
    route: Route,
    handler: Arc<dyn Handler>,
    policy: Policy,
    guards: Arc<Guards>,
    request_timeout: Duration,
    metrics: DispatchMetrics,
}

impl Served {
    async fn serve(&self, peer: PeerId, mut stream: Stream) {
        let (response, result) = match self.guards.rate.check(peer, &self.route) {
            // Refused before reading anything: a flood costs us one small write per stream.
            Err(error) => (Response::err(Uuid::nil(), error), None),
            Ok(()) => match self.answer(peer, &mut stream).await {
                Some(answer) => answer,
                // The caller closed the stream without sending anything: nothing to answer.
                None => return,
            },
        };
        let result = result.unwrap_or_else(|| match &response.result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code.to_string(),
        });
        self.metrics.record(&self.route, &result);
        if let Err(error) = write_message(&mut stream, &response).await {
            tracing::debug!(%error, "could not write the response");
        }
        let _ = stream.close().await;
        tracing::debug!(%result, "served");
    }

    /// Reads the request and answers it, all within one deadline. Returns the response, and
    /// `Some("replayed")` as the metrics label when it was answered from the replay memory.
    async fn answer(
        &self,
        peer: PeerId,
        stream: &mut Stream,
    ) -> Option<(Response, Option<String>)> {
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let request = match tokio::time::timeout_at(deadline, read_request(stream)).await {
            Err(_) => {
                let error =
                    WireError::new(ErrorCode::Timeout, "no complete request arrived in time");
                return Some((Response::err(Uuid::nil(), error), None));
            }
            Ok(Ok(None)) => return None,
            Ok(Err(error)) => return Some((Response::err(Uuid::nil(), error), None)),
            Ok(Ok(Some(request))) => request,
        };
        let id = request.id;
        let answered = tokio::time::timeout_at(deadline, async {
            match self.guards.replay.admit(peer, &request).await {
                Err(error) => (Response::err(id, error), None),
                Ok(Admission::Answered(response)) => (response, Some("replayed".to_owned())),
                Ok(Admission::Run(completion)) => {
                    let response = match self.handle(peer, request).await {
                        Ok(body) => Response::ok(id, body),
                        Err(error) => Response::err(id, error),
                    };
                    completion.finish(&response);
                    (response, None)
                }
            }
        })
        .await;
        Some(answered.unwrap_or_else(|_| {
            let error = WireError::new(ErrorCode::Timeout, "the request took too long");
            (Response::err(id, error), None)
        }))
    }

    /// The access policy, then the handler.
    async fn handle(&self, peer: PeerId, request: Request) -> Result<serde_json::Value, WireError> {
        self.policy.check(&peer, &self.route)?;
        let ctx = RequestContext {
            peer,
            route: self.route.clone(),
            request_id: request.id,
            ts: request.ts,
        };
        self.handler.call(ctx, request.body).await
    }

    async fn refuse_busy(&self, mut stream: Stream) {
        self.metrics
            .record(&self.route, &ErrorCode::Unavailable.to_string());
        let error = WireError::new(
            ErrorCode::Unavailable,
            "too many requests in flight, try again shortly",
        )
        .with_retry_after(Duration::from_millis(200));
        let _ = write_message(
            &mut stream,
            &Response::<serde_json::Value>::err(Uuid::nil(), error),
        )
        .await;
        let _ = stream.close().await;
    }
}
