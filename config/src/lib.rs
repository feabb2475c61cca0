//! kith-config: everything a Kith node knows before it starts networking.
//!
//! # Brief overview
//!
//! * [`RawSettings`] is the settings as given, every field optional. The same struct is the
//!   flags of `kith run` (each also read from a `KITH_*` environment variable by clap) and the
//!   shape of `kith.toml`. [`Settings::resolve`] lays the flags and environment over the config
//!   file over the defaults and validates the result into [`Settings`], whose [`Limits`] hold
//!   the resource limits ([`Limits::default`] is the single home of their defaults).
//! * [`DataDir`] is the layout of the data directory: `identity.key`, `swarm.key`, `api.token`,
//!   `kith.toml` and `db/`.
//! * The key files: [`load_identity`] / [`create_identity`] (the libp2p Ed25519 keypair),
//!   [`NetworkKey`] with [`load_network_key`] / [`create_network_key`] /
//!   [`replace_network_key`] (the private network's pre-shared key in the standard swarm.key
//!   format), and [`ApiToken`] with [`load_api_token`] / [`create_api_token`]. Loading returns
//!   `Ok(None)` for a missing file and an error naming the file for anything else; creating
//!   writes atomically with mode 0600 and never replaces an existing key.
//! * [`Invite`] encodes a network key and peer addresses as a `kith1…` code;
//!   [`set_bootstrap_in_config`] stores an invite's peers in `kith.toml`, keeping its comments.
//!
//! A typical start of a node:
//!
//! ```no_run
//! # fn main() -> Result<(), kith_config::Error> {
//! use kith_config::{RawSettings, Settings, load_network_key, load_or_create_identity};
//!
//! let settings = Settings::resolve(RawSettings::default())?;
//! settings.data_dir.ensure_exists()?;
//! let (identity, _created) = load_or_create_identity(&settings.data_dir.identity_key())?;
//! let network_key = load_network_key(&settings.data_dir.swarm_key())?;
//! # let _ = (identity, network_key);
//! # Ok(())
//! # }
//! ```
//!
//! This crate does no networking and runs no async code; it only reads and writes files in the
//! data directory.

#![deny(missing_docs)]

mod addr;
mod config_edit;
mod data_dir;
mod error;
mod fsutil;
mod invite;
mod join;
mod keys;
mod password;
mod settings;

pub use addr::peer_id_of;
pub use config_edit::set_bootstrap_in_config;
pub use data_dir::{
    API_ADDR_FILE, API_TOKEN_FILE, CONFIG_FILE, DB_DIR, DataDir, IDENTITY_KEY_FILE, SWARM_KEY_FILE,
    UI_PASSWORD_FILE, default_data_dir,
};
pub use error::Error;
pub use invite::{INVITE_PREFIX, Invite, MAX_INVITE_ADDRS};
pub use join::{JoinFiles, KeyChange, store_invite};
pub use keys::{
    ApiToken, ApiTokenError, KeyFileError, NETWORK_KEY_LEN, NetworkKey, create_api_token,
    create_identity, create_network_key, insecure_permissions, load_api_token, load_identity,
    load_network_key, load_or_create_api_token, load_or_create_identity, replace_network_key,
};
pub use libp2p::Multiaddr;
pub use password::{
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, password_is_set, set_password, verify_password,
};
pub use settings::{
    DEFAULT_API_ADDR, DEFAULT_LISTEN_PORT, Limits, LogFormat, ParseValueError, RawSettings,
    ReachSettings, RelayLimits, Role, Settings,
};
