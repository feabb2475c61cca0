//! The node's error type, and its one mapping onto the wire's error codes.

use kith_protocols::ErrorCode;
use libp2p::Multiaddr;

/// Everything that can go wrong inside a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport could not be built (for example, Noise key derivation failed).
    #[error("building the transport: {0}")]
    Transport(String),
    /// An address names a transport Kith does not run.
    #[error("address {addr} is not usable: {reason}")]
    UnsupportedAddress {
        /// The offending address.
        addr: Multiaddr,
        /// Why it was refused.
        reason: String,
    },
    /// Listening on an address failed.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address we tried to listen on.
        addr: Multiaddr,
        /// What the transport said.
        reason: String,
    },
    /// mDNS could not start (no usable interface or socket).
    #[error("starting mDNS: {0}")]
    Mdns(String),
    /// Gossipsub rejected its configuration.
    #[error("configuring gossipsub: {0}")]
    Gossip(String),
    /// Dialing a peer failed.
    #[error("dialing: {0}")]
    Dial(String),
    /// Publishing on a gossip topic failed.
    #[error("publishing: {0}")]
    Publish(String),
    /// Settings or key material were refused (for example, an invite that cannot be encoded).
    #[error(transparent)]
    Config(#[from] kith_config::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] kith_storage::Error),
    /// The owner asked for something that makes no sense (for example, to block themselves).
    #[error("{0}")]
    Refused(String),
    /// The thing asked for does not exist here.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (not the author, not an approved follower).
    #[error("{0}")]
    Forbidden(String),
    /// Another node answered a call with an error (or did not answer).
    #[error("{0}")]
    Remote(kith_protocols::WireError),
    /// The node's event loop has stopped (the node is shutting down).
    #[error("the node is shutting down")]
    Stopped,
}

impl From<Error> for kith_protocols::WireError {
    /// How a service error is answered on a route: its code and message (an internal error's
    /// detail is logged, not sent).
    fn from(error: Error) -> Self {
        match error.code() {
            ErrorCode::InternalError => {
                tracing::warn!(%error, "internal error while serving a route");
                kith_protocols::WireError::new(ErrorCode::InternalError, "internal error")
            }
            code => kith_protocols::WireError::new(code, error.to_string()),
        }
    }
}

impl Error {
    /// The wire error code for this error: the one place that decides it, so a stream reply and
    /// an HTTP reply for the same failure cannot disagree.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::UnsupportedAddress { .. } | Error::Refused(_) => ErrorCode::InvalidRequest,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::Remote(error) => error.code,
            Error::Dial(_) | Error::Stopped | Error::Publish(_) => ErrorCode::Unavailable,
            Error::Transport(_)
            | Error::Listen { .. }
            | Error::Mdns(_)
            | Error::Gossip(_)
            | Error::Config(_)
            | Error::Store(_) => ErrorCode::InternalError,
        }
    }
}
