//! The checks every inbound request passes before its handler runs, in one place for every
//! route: who may call which route, given this node's role and the route's visibility.
//!
//! The frame size limit is enforced earlier, while reading (before allocating), and the time
//! limit wraps the handler in `server`; both are part of the same chain.

use std::{
    collections::HashSet,
    sync::{Arc, PoisonError, RwLock},
};

use kith_config::Role;
use kith_protocols::{ErrorCode, Route, RouteClass, Visibility, WireError, routes};
use libp2p::PeerId;

/// Access policy shared by every route.
#[derive(Debug, Clone)]
pub struct Policy {
    role: Role,
    /// The owner's paired devices: the only peers allowed on `private` routes. Empty by default.
    paired: Arc<RwLock<HashSet<PeerId>>>,
}

impl Policy {
    /// A policy for a node of this role with no paired devices.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            paired: Arc::default(),
        }
    }

    /// Allows `peer` on private routes.
    pub fn pair(&self, peer: PeerId) {
        self.paired
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer);
    }

    /// Withdraws `peer`'s access to private routes.
    pub fn unpair(&self, peer: &PeerId) {
        self.paired
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(peer);
    }

    /// Whether this node's role serves `route` at all, whoever asks.
    pub fn admits_route(&self, route: &Route) -> bool {
        !(self.role == Role::Bootstrap && routes::class_of(route) == RouteClass::Content)
    }

    /// Decides whether `peer` may call `route` at all.
    pub fn check(&self, peer: &PeerId, route: &Route) -> Result<(), WireError> {
        if !self.admits_route(route) {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                "this is a bootstrap node: it holds no user content",
            ));
        }
        if route.visibility() == Visibility::Private
            && !self
                .paired
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(peer)
        {
            return Err(WireError::new(
                ErrorCode::Forbidden,
                "private route: only the owner's paired devices may call it",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_nodes_refuse_content_but_serve_infrastructure() {
        let policy = Policy::new(Role::Bootstrap);
        let peer = PeerId::random();
        assert_eq!(
            policy.check(&peer, &routes::posts()).unwrap_err().code,
            ErrorCode::Forbidden
        );
        policy.check(&peer, &routes::info()).unwrap();
        policy.check(&peer, &routes::peers()).unwrap();
    }

    #[test]
    fn private_routes_need_a_paired_device() {
        let policy = Policy::new(Role::Member);
        let route: Route = "/private/get/settings/0.0.0".parse().unwrap();
        let stranger = PeerId::random();
        let device = PeerId::random();
        policy.pair(device);
        assert_eq!(
            policy.check(&stranger, &route).unwrap_err().code,
            ErrorCode::Forbidden
        );
        policy.check(&device, &route).unwrap();
        policy.check(&stranger, &routes::posts()).unwrap();
    }
}
