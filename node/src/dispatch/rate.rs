//! Per-(peer, route) rate limiting of inbound requests (governor, keyed).
//!
//! Checked as soon as a stream for a route is accepted, before the request is even read, so a
//! flooding peer costs little: it gets `rate-limited` with `retry_after_ms` and its stream is
//! closed, while every other peer — and the same peer on other routes — is served as usual.
//! Keyed limiters keep a state per key forever unless told otherwise, so [`RouteRateLimiter::
//! forget_idle`] runs periodically (governor's `retain_recent`).

use std::{num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota,
    clock::{Clock, DefaultClock},
};
use kith_protocols::{ErrorCode, Route, WireError};
use libp2p::PeerId;

/// How often idle keys are dropped from the limiter's state.
pub(crate) const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// The limiter shared by every route of a node.
#[derive(Debug)]
pub(crate) struct RouteRateLimiter {
    limiter: DefaultKeyedRateLimiter<(PeerId, String)>,
    clock: DefaultClock,
}

impl RouteRateLimiter {
    /// At most `rate_per_sec` requests per second per (peer, route), with `burst` at once.
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        // Settings are validated to be positive; fall back to 1 rather than panic all the same.
        let rate = NonZeroU32::new(rate_per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one request of `peer` on `route`, or says when to come back.
    pub fn check(&self, peer: PeerId, route: &Route) -> Result<(), WireError> {
        self.limiter
            .check_key(&(peer, route.to_string()))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                WireError::new(
                    ErrorCode::RateLimited,
                    format!("too many requests on {route}; slow down"),
                )
                .with_retry_after(wait.max(Duration::from_millis(1)))
            })
    }

    /// Drops the state of keys that have been idle long enough to be back at full burst.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use kith_protocols::routes;

    use super::*;

    #[test]
    fn a_burst_is_admitted_then_the_peer_is_told_to_wait() {
        let limiter = RouteRateLimiter::new(1, 3);
        let (flooder, other) = (PeerId::random(), PeerId::random());
        for _ in 0..3 {
            limiter.check(flooder, &routes::info()).unwrap();
        }
        let refused = limiter.check(flooder, &routes::info()).unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        let wait = refused.retry_after_ms.expect("a retry hint");
        assert!((1..=1000).contains(&wait), "{wait} ms");
        // Other peers, and other routes of the same peer, are not affected.
        limiter.check(other, &routes::info()).unwrap();
        limiter.check(flooder, &routes::peers()).unwrap();
        limiter.forget_idle();
    }
}
