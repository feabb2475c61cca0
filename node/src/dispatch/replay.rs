//! Replay protection for inbound requests: a timestamp window, and a memory of recent request
//! ids so that the same request delivered twice is executed once.
//!
//! A request's `ts` must be within [`REQUEST_WINDOW`] of this node's clock, either way. Within
//! that window every `(peer, id)` is remembered (for twice the window, so an id cannot outlive
//! its memory while its timestamp is still acceptable). The first arrival runs; a repeat while it
//! runs waits for its response; a later repeat gets the stored response again. Either way the
//! handler ran once: the same id twice is answered once, idempotently.
//!
//! The memory is bounded ([`MAX_REMEMBERED`] entries, oldest forgotten first). Filling it takes
//! more requests than the per-route rate limit lets a few peers make within the window.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use kith_protocols::{ErrorCode, Request, Response, WireError};
use libp2p::PeerId;
use tokio::sync::watch;
use uuid::Uuid;

use crate::state::now_ms;

/// How far a request's timestamp may be from this node's clock.
pub(crate) const REQUEST_WINDOW: Duration = Duration::from_secs(5 * 60);
/// How many request ids are remembered at most.
pub(crate) const MAX_REMEMBERED: usize = 65_536;

type Key = (PeerId, Uuid);

/// The answer of a remembered request: `None` while it is still running.
type Slot = watch::Receiver<Option<Arc<Response>>>;

/// What to do with a request.
pub(crate) enum Admission {
    /// New: run it, then hand the response to [`Completion::finish`].
    Run(Completion),
    /// Seen before: this is its answer (waited for if it was still running).
    Answered(Response),
}

/// The obligation of the first arrival to publish its response. Dropped unfinished (the request
/// timed out or its task died), it forgets the id so repeats are not left waiting.
pub(crate) struct Completion {
    guard: Arc<ReplayGuard>,
    key: Key,
    sender: Option<watch::Sender<Option<Arc<Response>>>>,
}

impl Completion {
    pub fn finish(mut self, response: &Response) {
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Some(Arc::new(response.clone())));
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.sender.is_some() {
            self.guard.state().entries.remove(&self.key);
        }
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Slot>,
    /// Insertion order, for expiry and for the size bound.
    order: VecDeque<(Instant, Key)>,
}

/// The replay memory shared by every route of a node.
#[derive(Default)]
pub(crate) struct ReplayGuard {
    state: Mutex<State>,
}

impl ReplayGuard {
    /// Checks the timestamp and the id of `request` from `peer`.
    pub async fn admit(
        self: &Arc<Self>,
        peer: PeerId,
        request: &Request,
    ) -> Result<Admission, WireError> {
        let now = now_ms();
        let skew = now.abs_diff(request.ts);
        if skew > REQUEST_WINDOW.as_millis() as u64 {
            return Err(WireError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "request timestamp {} is {} s away from this node's clock (at most {} s allowed)",
                    request.ts,
                    skew / 1000,
                    REQUEST_WINDOW.as_secs()
                ),
            ));
        }
        let key = (peer, request.id);
        let mut slot = {
            let mut state = self.state();
            state.expire(Instant::now());
            match state.entries.get(&key) {
                Some(slot) => slot.clone(),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    state.entries.insert(key, receiver);
                    state.order.push_back((Instant::now(), key));
                    return Ok(Admission::Run(Completion {
                        guard: self.clone(),
                        key,
                        sender: Some(sender),
                    }));
                }
            }
        };
        // A repeat: wait for (or take) the first arrival's response. The caller's deadline
        // bounds the wait.
        match slot.wait_for(Option::is_some).await {
            Ok(response) => match response.as_ref() {
                Some(response) => Ok(Admission::Answered(Response::clone(response))),
                None => Err(original_failed()),
            },
            Err(_) => Err(original_failed()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.state().entries.len()
    }
}

impl State {
    fn expire(&mut self, now: Instant) {
        let keep_for = REQUEST_WINDOW * 2;
        while let Some(&(at, key)) = self.order.front() {
            if now.duration_since(at) < keep_for && self.order.len() <= MAX_REMEMBERED {
                break;
            }
            self.order.pop_front();
            self.entries.remove(&key);
        }
    }
}

fn original_failed() -> WireError {
    WireError::new(
        ErrorCode::Unavailable,
        "the first request with this id did not complete; retry with a new id",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ts: u64) -> Request {
        let mut request = Request::new(serde_json::json!({}));
        request.ts = ts;
        request
    }

    #[tokio::test]
    async fn the_same_id_is_answered_once_and_again_from_memory() {
        let guard = Arc::new(ReplayGuard::default());
        let peer = PeerId::random();
        let first = request(now_ms());
        let Ok(Admission::Run(completion)) = guard.admit(peer, &first).await else {
            panic!("first arrival runs")
        };

        // A repeat while the first still runs waits for its answer.
        let waiting = {
            let guard = guard.clone();
            let repeat = first.clone();
            tokio::spawn(async move { guard.admit(peer, &repeat).await })
        };
        let response = Response::ok(first.id, serde_json::json!({"answer": 42}));
        completion.finish(&response);
        let Ok(Ok(Admission::Answered(answer))) = waiting.await else {
            panic!("the repeat gets the answer")
        };
        assert_eq!(answer, response);
        let Ok(Admission::Answered(again)) = guard.admit(peer, &first).await else {
            panic!("answered from memory")
        };
        assert_eq!(again, response);

        // The same id from another peer is another request.
        assert!(matches!(
            guard.admit(PeerId::random(), &first).await,
            Ok(Admission::Run(_))
        ));
    }

    #[tokio::test]
    async fn an_unfinished_request_is_forgotten() {
        let guard = Arc::new(ReplayGuard::default());
        let peer = PeerId::random();
        let first = request(now_ms());
        let Ok(Admission::Run(completion)) = guard.admit(peer, &first).await else {
            panic!("runs")
        };
        drop(completion);
        assert_eq!(guard.remembered(), 0);
        assert!(matches!(
            guard.admit(peer, &first).await,
            Ok(Admission::Run(_))
        ));
    }

    #[tokio::test]
    async fn timestamps_outside_the_window_are_refused() {
        let guard = Arc::new(ReplayGuard::default());
        let window = REQUEST_WINDOW.as_millis() as u64;
        for ts in [now_ms() - window - 1000, now_ms() + window + 1000, 0] {
            let Err(error) = guard.admit(PeerId::random(), &request(ts)).await else {
                panic!("{ts} accepted")
            };
            assert_eq!(error.code, ErrorCode::InvalidRequest);
        }
        assert!(matches!(
            guard
                .admit(PeerId::random(), &request(now_ms() - window + 1000))
                .await,
            Ok(Admission::Run(_))
        ));
    }
}
