//! The crate's error type for everything that parses a name or a document: routes, versions, the
//! short wire names (visibility, op, error code, peer source) and gossip announcements.
//!
//! Stream framing has its own [`FrameError`](crate::FrameError) because a framing failure carries
//! an I/O cause and maps onto a wire [`ErrorCode`](crate::ErrorCode) of its own.

/// A name or document received from a peer (or typed by a user) that does not follow the wire
/// contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A route string is not `/{visibility}/{op}/{domain}[/{sub}]/{major.minor.patch}`.
    #[error("invalid route {route:?}: {reason}")]
    InvalidRoute {
        /// The string as received.
        route: String,
        /// Which part is wrong and why.
        reason: String,
    },

    /// A version string is not a semver core `major.minor.patch` (decimal, no leading zeros, no
    /// pre-release or build suffix, each part fits a `u32`).
    #[error("invalid version {version:?}: {reason}")]
    InvalidVersion {
        /// The string as received.
        version: String,
        /// Which part is wrong and why.
        reason: &'static str,
    },

    /// A short wire name (visibility, op, error code, peer source) is not one of the known ones.
    #[error("unknown {kind} {value:?}")]
    UnknownName {
        /// What was being parsed, e.g. `"error code"`.
        kind: &'static str,
        /// The string as received.
        value: String,
    },

    /// A gossip announcement is larger than
    /// [`MAX_ANNOUNCEMENT_LEN`](crate::MAX_ANNOUNCEMENT_LEN); it was not parsed.
    #[error("announcement is {len} bytes, at most {max} allowed")]
    AnnouncementTooLarge {
        /// Size of the message data in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A gossip announcement lists more than
    /// [`MAX_ANNOUNCEMENT_ADDRS`](crate::MAX_ANNOUNCEMENT_ADDRS) addresses.
    #[error("announcement lists {count} addresses, at most {max} allowed")]
    TooManyAddrs {
        /// Number of addresses listed.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A gossip announcement is not the expected JSON document.
    #[error("decoding announcement")]
    InvalidAnnouncement(#[source] serde_json::Error),
}
