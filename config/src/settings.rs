//! Settings in two stages: [`RawSettings`] (every field optional, as parsed) and [`Settings`]
//! (every field resolved and validated).
//!
//! Precedence, lowest first: the defaults ([`Limits::default`] and the constants here), then
//! `kith.toml`, then `KITH_*` environment variables, then command-line flags. Clap already merges
//! flags over the environment into one [`RawSettings`]; [`Settings::resolve`] lays that over the
//! config file and the defaults. The data dir and config path come only from flags/env, since they
//! say where the config file is.
//!
//! Validation returns [`Error::InvalidSetting`] naming the key; nothing here asserts, and nothing
//! falls back silently: an unreadable or invalid config file is an error, not "use the defaults".

use std::{
    fmt, fs, io,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use clap::ArgAction;
use libp2p::{Multiaddr, multiaddr::Protocol};

use crate::{DataDir, Error, addr::peer_id_of, data_dir::default_data_dir};

/// Default TCP port of the libp2p listener.
pub const DEFAULT_LISTEN_PORT: u16 = 4001;
/// Default address of the local HTTP API.
pub const DEFAULT_API_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The part a node plays in its network.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A person's node: posts, follows, reads.
    #[default]
    Member,
    /// An always-on node that helps others find each other (DHT server, relay).
    Bootstrap,
}

impl Role {
    /// The name used in flags, `kith.toml`, JSON and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Bootstrap => "bootstrap",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Role::Member),
            "bootstrap" => Ok(Role::Bootstrap),
            _ => Err(ParseValueError {
                what: "role",
                expected: "`member` or `bootstrap`",
            }),
        }
    }
}

/// The format of the node's log output.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name used in flags and `kith.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(ParseValueError {
                what: "log format",
                expected: "`text` or `json`",
            }),
        }
    }
}

/// A string that names no variant of [`Role`] or [`LogFormat`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: expected {expected}")]
pub struct ParseValueError {
    what: &'static str,
    expected: &'static str,
}

/// Settings as given: every field optional.
///
/// The same struct is the flags of `kith run` (`#[command(flatten)]`, each flag also read from
/// `KITH_<NAME>`) and the shape of `kith.toml`, where an unknown key is an error naming it. List
/// values in the environment are comma-separated.
#[derive(clap::Args, serde::Deserialize, Default, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Directory for keys, database and kith.toml [default: $XDG_DATA_HOME/kith, else
    /// ~/.local/share/kith]
    #[arg(long, env = "KITH_DATA_DIR", value_name = "DIR")]
    #[serde(skip)]
    pub data_dir: Option<PathBuf>,

    /// Config file [default: DATA_DIR/kith.toml]
    #[arg(long, env = "KITH_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to listen on for peers (repeatable) [default: /ip4/0.0.0.0/tcp/4001]
    #[arg(
        long,
        env = "KITH_LISTEN",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    pub listen: Option<Vec<Multiaddr>>,

    /// Address of the local HTTP API and web UI [default: 127.0.0.1:8080]
    #[arg(long, env = "KITH_API", value_name = "IP:PORT")]
    pub api: Option<SocketAddr>,

    /// Peer to connect to at start: a TCP multiaddr, ideally ending in /p2p/PEER_ID (repeatable)
    #[arg(
        long,
        env = "KITH_BOOTSTRAP",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    pub bootstrap: Option<Vec<Multiaddr>>,

    /// The part this node plays [default: member]
    #[arg(long, env = "KITH_ROLE", value_name = "ROLE")]
    pub role: Option<Role>,

    /// Discover peers on the local network with mDNS [default: true]
    #[arg(long, env = "KITH_MDNS", value_name = "BOOL", action = ArgAction::Set)]
    pub mdns: Option<bool>,

    /// Log output format [default: text]
    #[arg(long, env = "KITH_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Maximum number of established peer connections [default: 256]
    #[arg(long, env = "KITH_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u32>,

    /// Maximum number of connections to one peer [default: 2]
    #[arg(long, env = "KITH_MAX_CONNECTIONS_PER_PEER", value_name = "N")]
    pub max_connections_per_peer: Option<u32>,

    /// Maximum number of connections being set up at once [default: 64]
    #[arg(long, env = "KITH_MAX_PENDING_CONNECTIONS", value_name = "N")]
    pub max_pending_connections: Option<u32>,

    /// Rate at which newly found peers are dialled, per second [default: 20]
    #[arg(long, env = "KITH_DIAL_RATE_PER_SEC", value_name = "N")]
    pub dial_rate_per_sec: Option<u32>,

    /// Number of newly found peers that may be dialled at once above the rate [default: 50]
    #[arg(long, env = "KITH_DIAL_BURST", value_name = "N")]
    pub dial_burst: Option<u32>,

    /// Requests per second one peer may make on one route [default: 20]
    #[arg(long, env = "KITH_ROUTE_RATE_PER_SEC", value_name = "N")]
    pub route_rate_per_sec: Option<u32>,

    /// Requests one peer may make on one route at once above the rate [default: 40]
    #[arg(long, env = "KITH_ROUTE_BURST", value_name = "N")]
    pub route_burst: Option<u32>,

    /// Time allowed to set up a connection, in milliseconds [default: 5000]
    #[arg(long, env = "KITH_CONNECT_TIMEOUT_MS", value_name = "MS")]
    pub connect_timeout_ms: Option<u64>,

    /// Longest post this node writes and accepts, in characters [default: 1000]
    #[arg(long, env = "KITH_MAX_POST_CHARS", value_name = "N")]
    pub max_post_chars: Option<u32>,

    /// Database cache size in MiB [default: 64]
    #[arg(long, env = "KITH_DB_CACHE_MB", value_name = "MIB")]
    pub db_cache_mb: Option<u64>,

    /// Offer circuit relay to members that cannot be reached directly [default: true for
    /// bootstrap nodes, false for members]
    #[arg(long, env = "KITH_RELAY", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    pub relay: Option<bool>,

    /// Ask the home router for a port mapping with UPnP [default: true for members, false for
    /// bootstrap nodes]
    #[arg(long, env = "KITH_UPNP", value_name = "BOOL", action = ArgAction::Set)]
    pub upnp: Option<bool>,

    /// An address at which others reach this node, e.g. a port forwarded by hand (repeatable)
    #[arg(
        long,
        env = "KITH_EXTERNAL_ADDRESS",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    pub external_address: Option<Vec<Multiaddr>>,

    /// Relay: most reservations held for other peers at once [default: 128]
    #[arg(long, env = "KITH_RELAY_MAX_RESERVATIONS", value_name = "N")]
    pub relay_max_reservations: Option<u32>,

    /// Relay: most relayed connections at once [default: 256]
    #[arg(long, env = "KITH_RELAY_MAX_CIRCUITS", value_name = "N")]
    pub relay_max_circuits: Option<u32>,

    /// Relay: most relayed connections one peer may open at once [default: 8]
    #[arg(long, env = "KITH_RELAY_MAX_CIRCUITS_PER_PEER", value_name = "N")]
    pub relay_max_circuits_per_peer: Option<u32>,

    /// Relay: longest life of one relayed connection, in seconds [default: 3600]
    #[arg(long, env = "KITH_RELAY_CIRCUIT_SECS", value_name = "SECS")]
    pub relay_circuit_secs: Option<u64>,

    /// Relay: most bytes one relayed connection may carry (both directions), in MiB
    /// [default: 64]
    #[arg(long, env = "KITH_RELAY_CIRCUIT_MB", value_name = "MIB")]
    pub relay_circuit_mb: Option<u64>,
}

impl RawSettings {
    /// Combines two layers: each field of `self` that is set wins over the one in `lower`.
    pub fn merge(self, lower: RawSettings) -> RawSettings {
        // Destructured, so that a new field cannot be forgotten here.
        let RawSettings {
            data_dir,
            config,
            listen,
            api,
            bootstrap,
            role,
            mdns,
            log_format,
            max_connections,
            max_connections_per_peer,
            max_pending_connections,
            dial_rate_per_sec,
            dial_burst,
            route_rate_per_sec,
            route_burst,
            connect_timeout_ms,
            max_post_chars,
            db_cache_mb,
            relay,
            upnp,
            external_address,
            relay_max_reservations,
            relay_max_circuits,
            relay_max_circuits_per_peer,
            relay_circuit_secs,
            relay_circuit_mb,
        } = self;
        RawSettings {
            data_dir: data_dir.or(lower.data_dir),
            config: config.or(lower.config),
            listen: listen.or(lower.listen),
            api: api.or(lower.api),
            bootstrap: bootstrap.or(lower.bootstrap),
            role: role.or(lower.role),
            mdns: mdns.or(lower.mdns),
            log_format: log_format.or(lower.log_format),
            max_connections: max_connections.or(lower.max_connections),
            max_connections_per_peer: max_connections_per_peer.or(lower.max_connections_per_peer),
            max_pending_connections: max_pending_connections.or(lower.max_pending_connections),
            dial_rate_per_sec: dial_rate_per_sec.or(lower.dial_rate_per_sec),
            dial_burst: dial_burst.or(lower.dial_burst),
            route_rate_per_sec: route_rate_per_sec.or(lower.route_rate_per_sec),
            route_burst: route_burst.or(lower.route_burst),
            connect_timeout_ms: connect_timeout_ms.or(lower.connect_timeout_ms),
            max_post_chars: max_post_chars.or(lower.max_post_chars),
            db_cache_mb: db_cache_mb.or(lower.db_cache_mb),
            relay: relay.or(lower.relay),
            upnp: upnp.or(lower.upnp),
            external_address: external_address.or(lower.external_address),
            relay_max_reservations: relay_max_reservations.or(lower.relay_max_reservations),
            relay_max_circuits: relay_max_circuits.or(lower.relay_max_circuits),
            relay_max_circuits_per_peer: relay_max_circuits_per_peer
                .or(lower.relay_max_circuits_per_peer),
            relay_circuit_secs: relay_circuit_secs.or(lower.relay_circuit_secs),
            relay_circuit_mb: relay_circuit_mb.or(lower.relay_circuit_mb),
        }
    }

    /// Parses `kith.toml` content. `path` is only used to name the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<RawSettings, Error> {
        toml::from_str(text).map_err(|source| Error::ConfigFile {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Resource limits of the node. [`Limits::default`] is the one place where their defaults live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of established peer connections.
    pub max_connections: u32,
    /// Maximum number of established connections to a single peer.
    pub max_connections_per_peer: u32,
    /// Maximum number of incoming plus outgoing connections being set up.
    pub max_pending_connections: u32,
    /// Admission rate of the peer-found pipeline: dials of newly found peers per second.
    pub dial_rate_per_sec: u32,
    /// Burst allowance of the peer-found pipeline above `dial_rate_per_sec`.
    pub dial_burst: u32,
    /// Requests per second one peer may make on one route; more are answered `rate-limited`.
    pub route_rate_per_sec: u32,
    /// Burst allowance per peer and route above `route_rate_per_sec`.
    pub route_burst: u32,
    /// Time allowed for a connection to be established and upgraded. A wrong network key shows
    /// up as a negotiation that hangs until this runs out.
    pub connect_timeout: Duration,
    /// Size of the database's page cache in bytes.
    pub db_cache_bytes: u64,
    /// Longest post text this node signs and accepts, in Unicode scalar values.
    pub max_post_chars: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_connections_per_peer: 2,
            max_pending_connections: 64,
            dial_rate_per_sec: 20,
            dial_burst: 50,
            route_rate_per_sec: 20,
            route_burst: 40,
            connect_timeout: Duration::from_secs(5),
            db_cache_bytes: 64 * MIB,
            max_post_chars: 1000,
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// What a relay grants others. The defaults let Kith's own traffic through a relay — a pull sync
/// of 10,000 posts is about 4 MiB, an image up to 8 MiB — while bounding what one peer can take.
/// libp2p's own defaults (128 KiB and 2 minutes per circuit) would cut a sync off half way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayLimits {
    /// Reservations held for other peers at once.
    pub max_reservations: u32,
    /// Relayed connections at once.
    pub max_circuits: u32,
    /// Relayed connections one peer may have open at once (as source).
    pub max_circuits_per_peer: u32,
    /// Longest life of one relayed connection.
    pub circuit_duration: Duration,
    /// Most bytes one relayed connection may carry, both directions together.
    pub circuit_bytes: u64,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            max_reservations: 128,
            max_circuits: 256,
            max_circuits_per_peer: 8,
            circuit_duration: Duration::from_secs(60 * 60),
            circuit_bytes: 64 * MIB,
        }
    }
}

/// How this node takes part in making the network reachable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReachSettings {
    /// Whether this node relays for others.
    pub relay: bool,
    /// What a relaying node grants.
    pub relay_limits: RelayLimits,
    /// Whether the node asks its router for a port mapping (UPnP IGD).
    pub upnp: bool,
    /// Addresses the owner says this node is reachable at (ports forwarded by hand).
    pub external_addresses: Vec<Multiaddr>,
}

impl ReachSettings {
    /// The defaults for a role: bootstrap nodes relay and map no ports; members map ports and
    /// relay only when asked.
    pub fn for_role(role: Role) -> Self {
        ReachSettings {
            relay: role == Role::Bootstrap,
            relay_limits: RelayLimits::default(),
            upnp: role == Role::Member,
            external_addresses: Vec::new(),
        }
    }
}

/// Fully resolved settings of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The data directory (absolute).
    pub data_dir: DataDir,
    /// The config file that was read, or would have been read had it existed (absolute).
    pub config_path: PathBuf,
    /// Addresses to listen on for peers.
    pub listen: Vec<Multiaddr>,
    /// Address of the local HTTP API and web UI.
    pub api: SocketAddr,
    /// Peers to connect to at start, with or without a final `/p2p/<peer-id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// The part this node plays.
    pub role: Role,
    /// Whether mDNS discovery is on.
    pub mdns: bool,
    /// Log output format.
    pub log_format: LogFormat,
    /// Resource limits.
    pub limits: Limits,
    /// Relaying, port mapping and external addresses.
    pub reach: ReachSettings,
}

impl Settings {
    /// Resolves settings from the flags and environment (`cli`, as clap parsed them) over the
    /// config file over the defaults.
    ///
    /// Reads the config file and, when no data dir is given, `XDG_DATA_HOME` / `HOME`; touches
    /// nothing else. A missing implicit `<data-dir>/kith.toml` is fine; a missing explicit
    /// `--config` is [`Error::ConfigNotFound`].
    pub fn resolve(cli: RawSettings) -> Result<Settings, Error> {
        resolve_with(cli, || {
            default_data_dir(
                std::env::var_os("XDG_DATA_HOME").as_deref(),
                std::env::var_os("HOME").as_deref(),
            )
        })
    }

    /// The settings of a node whose data dir is `path`: the defaults, overridden by
    /// `<path>/kith.toml` if that exists. Environment variables are not consulted.
    pub fn for_data_dir(path: impl Into<PathBuf>) -> Result<Settings, Error> {
        Settings::resolve(RawSettings {
            data_dir: Some(path.into()),
            ..RawSettings::default()
        })
    }

    /// The default settings for the data dir `path`, reading no file at all (the config path is
    /// `<path>/kith.toml`, unread). Meant for tests and tools that build settings in code.
    pub fn with_defaults(path: impl Into<PathBuf>) -> Settings {
        let data_dir = DataDir::new(path);
        Settings {
            config_path: data_dir.config(),
            data_dir,
            listen: vec![default_listen()],
            api: DEFAULT_API_ADDR,
            bootstrap: Vec::new(),
            role: Role::default(),
            mdns: true,
            log_format: LogFormat::default(),
            limits: Limits::default(),
            reach: ReachSettings::for_role(Role::default()),
        }
    }
}

/// `/ip4/0.0.0.0/tcp/4001`.
fn default_listen() -> Multiaddr {
    Multiaddr::empty()
        .with(Protocol::Ip4(Ipv4Addr::UNSPECIFIED))
        .with(Protocol::Tcp(DEFAULT_LISTEN_PORT))
}

/// [`Settings::resolve`] with the default data dir computed by `default_dir` (tests pass their
/// own instead of reading the process environment).
fn resolve_with(
    cli: RawSettings,
    default_dir: impl FnOnce() -> Result<PathBuf, Error>,
) -> Result<Settings, Error> {
    let data_dir = match &cli.data_dir {
        Some(dir) => absolute("data_dir", dir)?,
        None => absolute("data_dir", &default_dir()?)?,
    };
    let data_dir = DataDir::new(data_dir);
    let (config_path, explicit) = match &cli.config {
        Some(path) => (absolute("config", path)?, true),
        None => (data_dir.config(), false),
    };
    let file = read_config(&config_path, explicit)?.unwrap_or_default();
    let raw = cli.merge(file);
    build(raw, data_dir, config_path)
}

/// `path` made absolute against the current directory, without touching the filesystem.
fn absolute(key: &str, path: &Path) -> Result<PathBuf, Error> {
    if path.as_os_str().is_empty() {
        return Err(Error::setting(key, "the path is empty"));
    }
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

/// Reads and parses the config file; `Ok(None)` if an implicit one does not exist.
fn read_config(path: &Path, explicit: bool) -> Result<Option<RawSettings>, Error> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::ConfigNotFound {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    RawSettings::from_toml(&text, path).map(Some)
}

/// Fills the gaps of `raw` with the defaults and validates the result.
fn build(raw: RawSettings, data_dir: DataDir, config_path: PathBuf) -> Result<Settings, Error> {
    let defaults = Settings::with_defaults(data_dir.root());
    let d = defaults.limits;
    let limits = Limits {
        max_connections: positive("max_connections", raw.max_connections, d.max_connections)?,
        max_connections_per_peer: positive(
            "max_connections_per_peer",
            raw.max_connections_per_peer,
            d.max_connections_per_peer,
        )?,
        max_pending_connections: positive(
            "max_pending_connections",
            raw.max_pending_connections,
            d.max_pending_connections,
        )?,
        dial_rate_per_sec: positive(
            "dial_rate_per_sec",
            raw.dial_rate_per_sec,
            d.dial_rate_per_sec,
        )?,
        dial_burst: positive("dial_burst", raw.dial_burst, d.dial_burst)?,
        route_rate_per_sec: positive(
            "route_rate_per_sec",
            raw.route_rate_per_sec,
            d.route_rate_per_sec,
        )?,
        route_burst: positive("route_burst", raw.route_burst, d.route_burst)?,
        max_post_chars: positive("max_post_chars", raw.max_post_chars, d.max_post_chars)?,
        connect_timeout: match raw.connect_timeout_ms {
            None => d.connect_timeout,
            Some(0) => return Err(Error::setting("connect_timeout_ms", "must be at least 1")),
            Some(ms) => Duration::from_millis(ms),
        },
        db_cache_bytes: match raw.db_cache_mb {
            None => d.db_cache_bytes,
            Some(0) => return Err(Error::setting("db_cache_mb", "must be at least 1")),
            Some(mb) => mb
                .checked_mul(MIB)
                .ok_or_else(|| Error::setting("db_cache_mb", format!("{mb} MiB is too large")))?,
        },
    };
    if limits.max_connections_per_peer > limits.max_connections {
        return Err(Error::setting(
            "max_connections_per_peer",
            format!(
                "{} is more than max_connections ({})",
                limits.max_connections_per_peer, limits.max_connections
            ),
        ));
    }

    let role = raw.role.unwrap_or(defaults.role);
    let reach = reach_settings(&raw, role)?;
    let listen = raw.listen.unwrap_or(defaults.listen);
    for addr in &listen {
        check_listen_addr(addr)?;
    }
    let bootstrap = raw.bootstrap.unwrap_or(defaults.bootstrap);
    for addr in &bootstrap {
        check_bootstrap_addr(addr)?;
    }

    Ok(Settings {
        data_dir,
        config_path,
        listen,
        api: raw.api.unwrap_or(defaults.api),
        bootstrap,
        role,
        mdns: raw.mdns.unwrap_or(defaults.mdns),
        log_format: raw.log_format.unwrap_or(defaults.log_format),
        limits,
        reach,
    })
}

/// The relay, UPnP and external-address settings, over the defaults of `role`.
fn reach_settings(raw: &RawSettings, role: Role) -> Result<ReachSettings, Error> {
    let d = ReachSettings::for_role(role);
    let l = d.relay_limits;
    let external_addresses = raw.external_address.clone().unwrap_or_default();
    for addr in &external_addresses {
        check_external_addr(addr)?;
    }
    let circuit_duration = match raw.relay_circuit_secs {
        None => l.circuit_duration,
        Some(0) => return Err(Error::setting("relay_circuit_secs", "must be at least 1")),
        // libp2p's relay panics on durations past u32::MAX seconds.
        Some(secs) if secs > u64::from(u32::MAX) => {
            return Err(Error::setting(
                "relay_circuit_secs",
                format!("{secs} is more than {}", u32::MAX),
            ));
        }
        Some(secs) => Duration::from_secs(secs),
    };
    let circuit_bytes = match raw.relay_circuit_mb {
        None => l.circuit_bytes,
        Some(0) => return Err(Error::setting("relay_circuit_mb", "must be at least 1")),
        Some(mb) => mb
            .checked_mul(MIB)
            .ok_or_else(|| Error::setting("relay_circuit_mb", format!("{mb} MiB is too large")))?,
    };
    Ok(ReachSettings {
        relay: raw.relay.unwrap_or(d.relay),
        upnp: raw.upnp.unwrap_or(d.upnp),
        external_addresses,
        relay_limits: RelayLimits {
            max_reservations: positive(
                "relay_max_reservations",
                raw.relay_max_reservations,
                l.max_reservations,
            )?,
            max_circuits: positive("relay_max_circuits", raw.relay_max_circuits, l.max_circuits)?,
            max_circuits_per_peer: positive(
                "relay_max_circuits_per_peer",
                raw.relay_max_circuits_per_peer,
                l.max_circuits_per_peer,
            )?,
            circuit_duration,
            circuit_bytes,
        },
    })
}

/// An external address is one others dial: a TCP address with an IP or DNS name, without a
/// relay hop and without a peer id (the node adds its own).
fn check_external_addr(addr: &Multiaddr) -> Result<(), Error> {
    check_not_udp("external_address", addr)?;
    let ok = addr.iter().all(|p| {
        matches!(
            p,
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
                | Protocol::Tcp(_)
        )
    }) && addr.iter().any(|p| matches!(p, Protocol::Tcp(_)));
    if !ok {
        return Err(Error::setting(
            "external_address",
            format!("`{addr}`: expected an address like /ip4/203.0.113.7/tcp/4001"),
        ));
    }
    Ok(())
}

fn positive(key: &str, value: Option<u32>, default: u32) -> Result<u32, Error> {
    match value {
        None => Ok(default),
        Some(0) => Err(Error::setting(key, "must be at least 1")),
        Some(n) => Ok(n),
    }
}

/// The network runs over TCP only: UDP transports (QUIC, WebRTC, WebTransport) would bypass the
/// private-network key, and the node does not offer them.
fn check_not_udp(key: &str, addr: &Multiaddr) -> Result<(), Error> {
    if addr.iter().any(|p| matches!(p, Protocol::Udp(_))) {
        return Err(Error::setting(
            key,
            format!(
                "{addr}: kith connects over TCP only (UDP transports such as QUIC would bypass \
                 the network key)"
            ),
        ));
    }
    Ok(())
}

fn check_listen_addr(addr: &Multiaddr) -> Result<(), Error> {
    if addr.is_empty() {
        return Err(Error::setting("listen", "an address is empty"));
    }
    check_not_udp("listen", addr)
}

/// A bootstrap address may name its peer (`…/p2p/<id>`) or be a plain address, in which case
/// the node dials it to learn who is there. A `/p2p/` component anywhere but at the end (a relay
/// circuit) is refused: it names a relay, not the peer to dial.
fn check_bootstrap_addr(addr: &Multiaddr) -> Result<(), Error> {
    if addr.is_empty() {
        return Err(Error::setting("bootstrap", "an address is empty"));
    }
    let names_a_peer = addr.iter().any(|p| matches!(p, Protocol::P2p(_)));
    if names_a_peer && peer_id_of(addr).is_none() {
        return Err(Error::setting(
            "bootstrap",
            format!("`{addr}`: a /p2p/<peer-id> component must come last"),
        ));
    }
    check_not_udp("bootstrap", addr)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use libp2p::identity::Keypair;

    use super::*;

    /// A stand-in for the binary's `kith run` command.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        settings: RawSettings,
    }

    fn parse_flags(args: &[&str]) -> Result<RawSettings, clap::Error> {
        Cli::try_parse_from(std::iter::once("kith").chain(args.iter().copied()))
            .map(|cli| cli.settings)
    }

    fn peer_addr(seed: u8) -> Multiaddr {
        let peer = Keypair::ed25519_from_bytes([seed; 32])
            .expect("32 bytes are a valid Ed25519 secret")
            .public()
            .to_peer_id();
        format!("/ip4/10.0.0.{seed}/tcp/4001/p2p/{peer}")
            .parse()
            .unwrap()
    }

    fn no_default_dir() -> Result<PathBuf, Error> {
        panic!("the default data dir must not be consulted when --data-dir is given")
    }

    fn cli_in(dir: &Path) -> RawSettings {
        RawSettings {
            data_dir: Some(dir.to_path_buf()),
            ..RawSettings::default()
        }
    }

    #[test]
    fn defaults_apply_without_file_or_flags() {
        let dir = tempfile::tempdir().unwrap();
        let s = resolve_with(cli_in(dir.path()), no_default_dir).unwrap();
        assert_eq!(s.data_dir.root(), dir.path());
        assert_eq!(s.config_path, dir.path().join("kith.toml"));
        assert_eq!(s.listen, vec!["/ip4/0.0.0.0/tcp/4001".parse().unwrap()]);
        assert_eq!(s.api, "127.0.0.1:8080".parse().unwrap());
        assert!(s.bootstrap.is_empty());
        assert_eq!(s.role, Role::Member);
        assert!(s.mdns);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.limits, Limits::default());
        let limits = Limits::default();
        assert_eq!(
            (
                limits.max_connections,
                limits.max_connections_per_peer,
                limits.max_pending_connections,
                limits.dial_rate_per_sec,
                limits.dial_burst,
                limits.connect_timeout,
                limits.db_cache_bytes,
            ),
            (256, 2, 64, 20, 50, Duration::from_secs(5), 64 * 1024 * 1024)
        );
        // Resolving reads but never creates anything.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn default_data_dir_comes_from_the_given_function() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("xdg").join("kith");
        let s = resolve_with(RawSettings::default(), || Ok(root.clone())).unwrap();
        assert_eq!(s.data_dir.root(), root);
        assert_eq!(s.config_path, root.join("kith.toml"));
        assert!(matches!(
            resolve_with(RawSettings::default(), || Err(Error::NoDataDir)),
            Err(Error::NoDataDir)
        ));
    }

    #[test]
    fn relative_paths_become_absolute() {
        let cli = RawSettings {
            data_dir: Some(PathBuf::from("some/relative/dir")),
            ..RawSettings::default()
        };
        let s = resolve_with(cli, no_default_dir).unwrap();
        assert!(s.data_dir.root().is_absolute());
        assert!(s.data_dir.root().ends_with("some/relative/dir"));
        assert!(s.config_path.is_absolute());
    }

    #[test]
    fn empty_data_dir_is_rejected() {
        let cli = RawSettings {
            data_dir: Some(PathBuf::new()),
            ..RawSettings::default()
        };
        match resolve_with(cli, no_default_dir) {
            Err(Error::InvalidSetting { key, .. }) => assert_eq!(key, "data_dir"),
            other => panic!("expected InvalidSetting, got {other:?}"),
        }
    }

    #[test]
    fn precedence_is_defaults_then_file_then_cli() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("kith.toml"),
            r#"
            # a comment
            listen = ["/ip4/127.0.0.1/tcp/5001"]
            api = "127.0.0.1:9000"
            role = "bootstrap"
            mdns = false
            log_format = "json"
            max_connections = 100
            connect_timeout_ms = 2500
            db_cache_mb = 8
            "#,
        )
        .unwrap();
        let cli = RawSettings {
            api: Some("127.0.0.1:9100".parse().unwrap()),
            max_connections: Some(10),
            mdns: Some(true),
            ..cli_in(dir.path())
        };
        let s = resolve_with(cli, no_default_dir).unwrap();
        // From the command line, over the file:
        assert_eq!(s.api, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(s.limits.max_connections, 10);
        assert!(s.mdns);
        // From the file, over the defaults:
        assert_eq!(s.listen, vec!["/ip4/127.0.0.1/tcp/5001".parse().unwrap()]);
        assert_eq!(s.role, Role::Bootstrap);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.limits.connect_timeout, Duration::from_millis(2500));
        assert_eq!(s.limits.db_cache_bytes, 8 * 1024 * 1024);
        // Defaults where neither says anything:
        assert_eq!(s.limits.dial_burst, Limits::default().dial_burst);
        assert!(s.bootstrap.is_empty());
    }

    #[test]
    fn explicit_config_is_read_instead_of_the_data_dir_one() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kith.toml"), "role = \"bootstrap\"\n").unwrap();
        let other = dir.path().join("other.toml");
        fs::write(&other, "log_format = \"json\"\n").unwrap();
        let cli = RawSettings {
            config: Some(other.clone()),
            ..cli_in(dir.path())
        };
        let s = resolve_with(cli, no_default_dir).unwrap();
        assert_eq!(s.config_path, other);
        assert_eq!(s.role, Role::Member);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn missing_explicit_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let cli = RawSettings {
            config: Some(missing.clone()),
            ..cli_in(dir.path())
        };
        match resolve_with(cli, no_default_dir) {
            Err(e @ Error::ConfigNotFound { .. }) => {
                assert!(e.to_string().contains(&missing.display().to_string()));
            }
            other => panic!("expected ConfigNotFound, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_fails_naming_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kith.toml");
        fs::write(&path, "lisen = [\"/ip4/0.0.0.0/tcp/1\"]\n").unwrap();
        match resolve_with(cli_in(dir.path()), no_default_dir) {
            Err(e @ Error::ConfigFile { .. }) => {
                assert!(e.to_string().contains(&path.display().to_string()));
                let source = std::error::Error::source(&e).unwrap().to_string();
                assert!(source.contains("lisen"), "{source}");
            }
            other => panic!("expected ConfigFile, got {other:?}"),
        }
    }

    #[test]
    fn flag_only_keys_are_not_accepted_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kith.toml"), "data_dir = \"/elsewhere\"\n").unwrap();
        let err = resolve_with(cli_in(dir.path()), no_default_dir).unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("data_dir"), "{source}");
    }

    #[test]
    fn bad_values_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "role = \"leader\"",
            "listen = [\"not a multiaddr\"]",
            "api = \"localhost\"",
            "max_connections = -1",
            "mdns = \"yes\"",
            "listen = ",
        ] {
            fs::write(dir.path().join("kith.toml"), text).unwrap();
            assert!(
                matches!(
                    resolve_with(cli_in(dir.path()), no_default_dir),
                    Err(Error::ConfigFile { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn zero_limits_are_rejected_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, RawSettings)> = vec![
            (
                "max_connections",
                RawSettings {
                    max_connections: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "max_connections_per_peer",
                RawSettings {
                    max_connections_per_peer: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "max_pending_connections",
                RawSettings {
                    max_pending_connections: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "dial_rate_per_sec",
                RawSettings {
                    dial_rate_per_sec: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "dial_burst",
                RawSettings {
                    dial_burst: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "connect_timeout_ms",
                RawSettings {
                    connect_timeout_ms: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "db_cache_mb",
                RawSettings {
                    db_cache_mb: Some(0),
                    ..cli_in(dir.path())
                },
            ),
            (
                "db_cache_mb",
                RawSettings {
                    db_cache_mb: Some(u64::MAX),
                    ..cli_in(dir.path())
                },
            ),
            (
                "max_connections_per_peer",
                RawSettings {
                    max_connections: Some(4),
                    max_connections_per_peer: Some(5),
                    ..cli_in(dir.path())
                },
            ),
        ];
        for (expected, cli) in cases {
            match resolve_with(cli, no_default_dir) {
                Err(Error::InvalidSetting { key, .. }) => assert_eq!(key, expected),
                other => panic!("expected InvalidSetting for {expected}, got {other:?}"),
            }
        }
    }

    #[test]
    fn bootstrap_addresses_must_name_a_peer() {
        let dir = tempfile::tempdir().unwrap();
        let ok = RawSettings {
            bootstrap: Some(vec![peer_addr(1), peer_addr(2)]),
            ..cli_in(dir.path())
        };
        let s = resolve_with(ok, no_default_dir).unwrap();
        assert_eq!(s.bootstrap, vec![peer_addr(1), peer_addr(2)]);

        // A plain address is fine: the node dials it to learn the peer id.
        let bare = RawSettings {
            bootstrap: Some(vec!["/ip4/10.0.0.1/tcp/4001".parse().unwrap()]),
            ..cli_in(dir.path())
        };
        let s = resolve_with(bare, no_default_dir).unwrap();
        assert_eq!(
            s.bootstrap,
            vec!["/ip4/10.0.0.1/tcp/4001".parse::<Multiaddr>().unwrap()]
        );

        let circuit = RawSettings {
            bootstrap: Some(vec![
                format!("{}/p2p-circuit", peer_addr(1)).parse().unwrap(),
            ]),
            ..cli_in(dir.path())
        };
        match resolve_with(circuit, no_default_dir) {
            Err(e @ Error::InvalidSetting { .. }) => assert!(e.to_string().contains("/p2p/")),
            other => panic!("expected InvalidSetting, got {other:?}"),
        }
    }

    #[test]
    fn udp_and_empty_addresses_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for (key, cli) in [
            (
                "listen",
                RawSettings {
                    listen: Some(vec!["/ip4/0.0.0.0/udp/4001/quic-v1".parse().unwrap()]),
                    ..cli_in(dir.path())
                },
            ),
            (
                "listen",
                RawSettings {
                    listen: Some(vec![Multiaddr::empty()]),
                    ..cli_in(dir.path())
                },
            ),
            (
                "bootstrap",
                RawSettings {
                    bootstrap: Some(vec![
                        format!(
                            "/ip4/10.0.0.1/udp/4001/quic-v1/p2p/{}",
                            peer_id_of(&peer_addr(1)).unwrap()
                        )
                        .parse()
                        .unwrap(),
                    ]),
                    ..cli_in(dir.path())
                },
            ),
        ] {
            match resolve_with(cli, no_default_dir) {
                Err(Error::InvalidSetting { key: k, .. }) => assert_eq!(k, key),
                other => panic!("expected InvalidSetting for {key}, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_empty_listen_list_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kith.toml"), "listen = []\n").unwrap();
        let s = resolve_with(cli_in(dir.path()), no_default_dir).unwrap();
        assert!(s.listen.is_empty());
    }

    #[test]
    fn for_data_dir_reads_its_config() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kith.toml"), "role = \"bootstrap\"\n").unwrap();
        let s = Settings::for_data_dir(dir.path()).unwrap();
        assert_eq!(s.role, Role::Bootstrap);
        assert_eq!(s.data_dir.root(), dir.path());
    }

    #[test]
    fn merge_prefers_self_field_by_field() {
        let high = RawSettings {
            role: Some(Role::Bootstrap),
            listen: Some(vec![]),
            ..RawSettings::default()
        };
        let low = RawSettings {
            role: Some(Role::Member),
            mdns: Some(false),
            listen: Some(vec!["/ip4/1.2.3.4/tcp/1".parse().unwrap()]),
            dial_burst: Some(3),
            ..RawSettings::default()
        };
        let merged = high.merge(low);
        assert_eq!(merged.role, Some(Role::Bootstrap));
        assert_eq!(merged.listen, Some(vec![]));
        assert_eq!(merged.mdns, Some(false));
        assert_eq!(merged.dial_burst, Some(3));
        assert_eq!(merged.api, None);
    }

    #[test]
    fn flags_parse_into_raw_settings() {
        let raw = parse_flags(&[
            "--data-dir",
            "/tmp/x",
            "--listen",
            "/ip4/0.0.0.0/tcp/1",
            "--listen",
            "/ip4/0.0.0.0/tcp/2,/ip6/::/tcp/3",
            "--api",
            "127.0.0.1:9",
            "--role",
            "bootstrap",
            "--mdns",
            "false",
            "--log-format",
            "json",
            "--max-connections",
            "7",
            "--max-connections-per-peer",
            "1",
            "--max-pending-connections",
            "3",
            "--dial-rate-per-sec",
            "4",
            "--dial-burst",
            "5",
            "--connect-timeout-ms",
            "600",
            "--db-cache-mb",
            "2",
        ])
        .unwrap();
        assert_eq!(raw.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(
            raw.listen,
            Some(vec![
                "/ip4/0.0.0.0/tcp/1".parse().unwrap(),
                "/ip4/0.0.0.0/tcp/2".parse().unwrap(),
                "/ip6/::/tcp/3".parse().unwrap(),
            ])
        );
        assert_eq!(raw.api, Some("127.0.0.1:9".parse().unwrap()));
        assert_eq!(raw.role, Some(Role::Bootstrap));
        assert_eq!(raw.mdns, Some(false));
        assert_eq!(raw.log_format, Some(LogFormat::Json));
        assert_eq!(raw.max_connections, Some(7));
        assert_eq!(raw.max_connections_per_peer, Some(1));
        assert_eq!(raw.max_pending_connections, Some(3));
        assert_eq!(raw.dial_rate_per_sec, Some(4));
        assert_eq!(raw.dial_burst, Some(5));
        assert_eq!(raw.connect_timeout_ms, Some(600));
        assert_eq!(raw.db_cache_mb, Some(2));
    }

    #[test]
    fn bad_flags_are_rejected_by_clap() {
        for args in [
            &["--role", "leader"][..],
            &["--mdns", "maybe"],
            &["--listen", "not-an-addr"],
            &["--api", "localhost"],
            &["--max-connections", "-1"],
        ] {
            assert!(parse_flags(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn every_flag_has_its_env_variable() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" {
                continue;
            }
            let expected = format!("KITH_{}", id.to_uppercase());
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(expected.as_str()),
                "{id}"
            );
            assert_eq!(arg.get_long(), Some(id.replace('_', "-").as_str()));
        }
    }

    #[test]
    fn reach_defaults_follow_the_role_and_flags_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let member = resolve_with(cli_in(dir.path()), no_default_dir).unwrap();
        assert!(!member.reach.relay && member.reach.upnp);
        assert_eq!(member.reach.relay_limits, RelayLimits::default());
        let bootstrap = resolve_with(
            RawSettings {
                role: Some(Role::Bootstrap),
                ..cli_in(dir.path())
            },
            no_default_dir,
        )
        .unwrap();
        assert!(bootstrap.reach.relay && !bootstrap.reach.upnp);

        // A bare `--relay` means true; limits and external addresses come through.
        let mut flags = parse_flags(&[
            "--relay",
            "--upnp",
            "false",
            "--external-address",
            "/ip4/203.0.113.7/tcp/4001",
            "--relay-circuit-mb",
            "16",
            "--relay-circuit-secs",
            "600",
        ])
        .unwrap();
        flags.data_dir = Some(dir.path().to_path_buf());
        let s = resolve_with(flags, no_default_dir).unwrap();
        assert!(s.reach.relay && !s.reach.upnp);
        assert_eq!(
            s.reach.external_addresses,
            vec!["/ip4/203.0.113.7/tcp/4001".parse::<Multiaddr>().unwrap()]
        );
        assert_eq!(s.reach.relay_limits.circuit_bytes, 16 * MIB);
        assert_eq!(
            s.reach.relay_limits.circuit_duration,
            Duration::from_secs(600)
        );

        let toml = RawSettings::from_toml(
            "relay = true\nrelay_max_circuits = 9\nexternal_address = [\"/dns4/home.example.org/tcp/4001\"]",
            Path::new("kith.toml"),
        )
        .unwrap();
        assert_eq!(toml.relay, Some(true));
        assert_eq!(toml.relay_max_circuits, Some(9));
    }

    #[test]
    fn bad_reach_settings_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        for (raw, key) in [
            (
                RawSettings {
                    relay_circuit_secs: Some(0),
                    ..RawSettings::default()
                },
                "relay_circuit_secs",
            ),
            (
                RawSettings {
                    relay_circuit_secs: Some(u64::from(u32::MAX) + 1),
                    ..RawSettings::default()
                },
                "relay_circuit_secs",
            ),
            (
                RawSettings {
                    relay_max_circuits: Some(0),
                    ..RawSettings::default()
                },
                "relay_max_circuits",
            ),
            (
                RawSettings {
                    external_address: Some(vec![
                        "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit"
                            .parse()
                            .unwrap(),
                    ]),
                    ..RawSettings::default()
                },
                "external_address",
            ),
            (
                RawSettings {
                    external_address: Some(vec!["/ip4/1.2.3.4/udp/4001/quic-v1".parse().unwrap()]),
                    ..RawSettings::default()
                },
                "external_address",
            ),
        ] {
            let raw = RawSettings {
                data_dir: Some(dir.path().to_path_buf()),
                ..raw
            };
            match resolve_with(raw, no_default_dir) {
                Err(Error::InvalidSetting { key: got, .. }) => assert_eq!(got, key),
                other => panic!("expected an invalid {key}, got {other:?}"),
            }
        }
    }

    #[test]
    fn role_and_log_format_text_forms() {
        for role in [Role::Member, Role::Bootstrap] {
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
        }
        assert_eq!(Role::Bootstrap.to_string(), "bootstrap");
        assert!("Member".parse::<Role>().is_err());
        for format in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(format.to_string().parse::<LogFormat>().unwrap(), format);
        }
        assert!("xml".parse::<LogFormat>().is_err());
        assert_eq!(Role::default(), Role::Member);
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }
}
