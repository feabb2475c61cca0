//! `kith run`: wires the crates into a running node and stops it cleanly.
//!
//! Start-up: settings → logging → data dir → keys (identity, network key, API token) → store →
//! node → HTTP listener → `api.addr` → banner on stdout → serve until SIGINT or SIGTERM.
//! Shutdown, in order: stop the web server (graceful, bounded), stop the node (its tasks, the
//! swarm), close the store (last flush), remove `api.addr`.
//!
//! Logs go to stderr; stdout carries only the banner, which scripts and tests parse. The banner
//! holds the login link and the invite code only when stdout is a terminal: a service's stdout
//! ends up in journald or `docker logs`, which keep it and which others may read.

use std::{
    io::{IsTerminal, Write},
    net::SocketAddr,
    path::Path,
    time::Duration,
};

use anyhow::{Context, anyhow, bail};
use kith_client::{Multiaddr, PeerId};
use kith_config::{
    LogFormat, NetworkKey, Role, Settings, create_network_key, insecure_permissions,
    load_network_key, load_or_create_api_token, load_or_create_identity, peer_id_of,
};
use kith_node::{Node, NodeConfig};
use kith_storage::Store;
use tokio::{
    net::TcpListener,
    signal::unix::{Signal, SignalKind, signal},
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::{
    api_addr::{self, ApiAddrFile},
    cli::{GlobalArgs, RunArgs},
};

/// Log filter when `RUST_LOG` is not set.
/// Kademlia warns "failed to trigger bootstrap: no known peers" on every periodic bootstrap of
/// a node that has not met anyone yet, which is normal for a first node.
const DEFAULT_LOG_FILTER: &str = "info,libp2p=warn,libp2p_kad=error";
/// How long the web server may take to finish the requests in flight at shutdown.
const WEB_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<()> {
    let mut raw = args.settings;
    raw.data_dir = raw.data_dir.or_else(|| global.data_dir.clone());
    raw.config = raw.config.or_else(|| global.config.clone());
    let settings = Settings::resolve(raw)?;
    init_tracing(settings.log_format)?;

    let data_dir = &settings.data_dir;
    data_dir.ensure_exists()?;
    warn_if_insecure(data_dir.root(), "data directory");
    // The network key is checked before anything is created, so a run that fails on a bad key
    // leaves the data directory as it found it.
    let fresh_node = !data_dir.identity_key().exists();
    let network_key = network_key(&data_dir.swarm_key(), fresh_node)?;
    let (keypair, identity_created) = load_or_create_identity(&data_dir.identity_key())?;
    if identity_created {
        tracing::info!(path = %data_dir.identity_key().display(), "created a new identity");
    }
    let (api_token, _) = load_or_create_api_token(&data_dir.api_token())?;
    for path in [
        data_dir.identity_key(),
        data_dir.swarm_key(),
        data_dir.api_token(),
    ] {
        warn_if_insecure(&path, "key file");
    }
    // Installed before the banner: a signal that arrives as soon as the banner is out must stop
    // the node cleanly, not kill it.
    let mut signals = Signals::new()?;

    let store = open_store(&settings).await?;
    let node = match Node::start(
        NodeConfig::new(&settings, keypair, network_key),
        store.clone(),
    )
    .await
    {
        Ok(node) => node,
        Err(error) => {
            close_store(store).await;
            return Err(error).context("starting the node");
        }
    };
    // `POST /api/v1/network/join` with `replace` writes the same files as `kith join`.
    node.network()
        .set_join_files(kith_config::JoinFiles::of(&settings));

    let served = serve(&settings, &node, api_token, &mut signals).await;
    node.shutdown().await;
    let closed = store.close().await.context("closing the database");
    // On an early return the file's guard removes it when dropped.
    let api_addr_file = served?;
    closed?;
    api_addr_file.remove()?;
    tracing::info!("stopped");
    Ok(())
}

/// Binds the API, announces it (api.addr, banner), and serves it until a signal. Returns the
/// api.addr file for the caller to remove after the node and the store have stopped.
async fn serve(
    settings: &Settings,
    node: &Node,
    api_token: kith_config::ApiToken,
    signals: &mut Signals,
) -> anyhow::Result<ApiAddrFile> {
    refuse_open_api_without_password(settings)?;
    let listener = TcpListener::bind(settings.api)
        .await
        .with_context(|| format!("binding the HTTP API to {}", settings.api))?;
    let bound = listener
        .local_addr()
        .context("reading the HTTP API's bound address")?;
    let state = kith_web::AppState::new(node, api_token)
        .await
        .with_password_file(settings.data_dir.ui_password());
    // The login link and the invite are secrets: printed only for an owner at a terminal, never
    // into journald, `docker logs` or a file (see [`Secrets`]).
    let secrets = if std::io::stdout().is_terminal() {
        let login = state.login_link(&format!("http://{}", api_addr::connectable(bound)));
        let invite = node.network().invite().context("making an invite code")?;
        Secrets::Shown {
            login_url: login.url,
            invite: invite.encode(),
        }
    } else {
        Secrets::Withheld
    };
    let banner = banner(settings, node, bound, &secrets);
    let api_addr_file = ApiAddrFile::write(&settings.data_dir, bound)?;

    let web_token = CancellationToken::new();
    let mut web = tokio::spawn(kith_web::serve(listener, state, web_token.clone()));

    print_banner(&banner);

    let outcome = tokio::select! {
        name = signals.recv() => {
            tracing::info!(signal = name, "shutting down");
            Ok(())
        }
        ended = &mut web => Err(match ended {
            Ok(Ok(())) => anyhow!("the HTTP API stopped unexpectedly"),
            Ok(Err(error)) => anyhow::Error::new(error).context("serving the HTTP API"),
            Err(error) => anyhow::Error::new(error).context("the HTTP API task failed"),
        }),
    };
    web_token.cancel();
    if !web.is_finished() {
        match tokio::time::timeout(WEB_SHUTDOWN_DEADLINE, &mut web).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "the HTTP API failed while stopping"),
            Ok(Err(error)) => tracing::warn!(%error, "the HTTP API task failed while stopping"),
            Err(_) => {
                tracing::warn!(
                    "requests still running after {WEB_SHUTDOWN_DEADLINE:?}; dropping them"
                );
                web.abort();
            }
        }
    }
    outcome.map(|()| api_addr_file)
}

/// Serving the API (and the UI) beyond this machine needs a password for the UI: otherwise
/// anyone who sees a login link go by, or guesses at the port, meets no second lock.
fn refuse_open_api_without_password(settings: &Settings) -> anyhow::Result<()> {
    if settings.api.ip().is_loopback() {
        return Ok(());
    }
    let path = settings.data_dir.ui_password();
    if kith_config::password_is_set(&path)? {
        return Ok(());
    }
    bail!(
        "the API address {} is reachable from other machines, and no web UI password is set: \
         set one with `kith passwd` first, or keep the API on 127.0.0.1",
        settings.api
    )
}

/// The network key: loaded; created for a brand-new node; otherwise an error saying what to do.
///
/// A node that already has an identity but no network key is not given a fresh network behind
/// its owner's back: it would silently split from the network it was in.
fn network_key(path: &Path, fresh_node: bool) -> anyhow::Result<NetworkKey> {
    if let Some(key) = load_network_key(path)? {
        return Ok(key);
    }
    if !fresh_node {
        let path = path.display();
        bail!(
            "no network key at {path}: create a new network with `kith network new > {path}` \
             (then chmod 600) or join one with `kith join CODE`"
        );
    }
    let key = NetworkKey::generate();
    create_network_key(path, &key)?;
    tracing::info!(network = %key.fingerprint(), path = %path.display(), "created a new private network");
    Ok(key)
}

/// Opens the database (sled recovers its log here, blocking: hence on a blocking thread).
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let path = settings.data_dir.db();
    let cache = settings.limits.db_cache_bytes;
    let opened = tokio::task::spawn_blocking(move || Store::open(&path, cache))
        .await
        .context("the database task failed")?;
    opened.with_context(|| {
        format!(
            "opening the database in {}",
            settings.data_dir.db().display()
        )
    })
}

async fn close_store(store: Store) {
    if let Err(error) = store.close().await {
        tracing::warn!(%error, "closing the database failed");
    }
}

/// What the banner says about the two secrets a new owner needs: the login link (a session to
/// the web UI) and the invite code (it carries the network key).
enum Secrets {
    /// stdout is a terminal: its owner reads them there, as on a first run by hand.
    Shown { login_url: String, invite: String },
    /// stdout is a pipe or a file (journald, `docker logs`, a script), which others may read and
    /// which keeps what it is given: the banner says how to get them instead.
    Withheld,
}

/// The start-up banner, parsed by tests and scripts: keep the `key: value` lines stable.
fn banner(settings: &Settings, node: &Node, api: SocketAddr, secrets: &Secrets) -> String {
    let network = node.network();
    let peer_id = node.handle().local_peer_id();
    let listen = node.handle().listen_addrs();
    let mut text = String::new();
    text.push_str("Kith node is running.\n");
    text.push_str(&format!("  peer id:  {peer_id}\n"));
    text.push_str(&format!("  role:     {}\n", network.role()));
    text.push_str(&format!("  network:  {}\n", node.handle().network()));
    text.push_str(&format!("  api:      http://{api}\n"));
    if let Secrets::Shown { login_url, .. } = secrets {
        text.push_str(&format!(
            "  login:    {login_url} (opens the web UI; works once, for an hour; `kith login` prints a new one)\n"
        ));
    }
    text.push_str(&format!(
        "  token:    {} (use it as a Bearer token)\n",
        settings.data_dir.api_token().display()
    ));
    match secrets {
        Secrets::Shown { invite, .. } => text.push_str(&format!("  invite:   {invite}\n")),
        Secrets::Withheld => text.push_str(&format!(
            "  secrets:  not printed (stdout is not a terminal): `{}` prints a login link, `{}` an invite code\n",
            data_dir_command(settings, "login"),
            data_dir_command(settings, "invite"),
        )),
    }
    if network.role() == Role::Bootstrap {
        let full: Vec<String> = listen
            .iter()
            .map(|a| with_peer_id(a.clone(), peer_id).to_string())
            .collect();
        text.push_str(&format!("  bootstrap: {}\n", full.join(" ")));
    }
    let listen: Vec<String> = listen.iter().map(ToString::to_string).collect();
    text.push_str(&format!("  listen:   {}\n", listen.join(" ")));
    text
}

/// `kith --data-dir <dir> <command>`: a command line that reaches this node whatever the
/// environment of whoever runs it (a service's data dir is rarely the caller's default).
fn data_dir_command(settings: &Settings, command: &str) -> String {
    let dir = settings.data_dir.root().display().to_string();
    let plain = dir
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b));
    let dir = if plain {
        dir
    } else {
        format!("'{}'", dir.replace('\'', r"'\''"))
    };
    format!("kith --data-dir {dir} {command}")
}

/// Prints the banner on stdout and flushes it, so that a reader sees it at once.
fn print_banner(banner: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // Nobody reads stdout (closed pipe): the node still runs; the logs say what it is.
        tracing::warn!(%error, "could not print the banner");
    }
}

/// SIGINT (ctrl-c) and SIGTERM, listened for from creation on.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    /// Waits for the next signal and names it.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// Logs to stderr, as text or JSON lines, filtered by `RUST_LOG` (default
/// [`DEFAULT_LOG_FILTER`]).
fn init_tracing(format: LogFormat) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .with_context(|| format!("invalid RUST_LOG `{directives}`"))?,
        _ => EnvFilter::new(DEFAULT_LOG_FILTER),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|error| anyhow!(error).context("setting up logging"))
}

fn warn_if_insecure(path: &Path, what: &str) {
    if let Ok(true) = insecure_permissions(path) {
        tracing::warn!(
            path = %path.display(),
            "the {what} is readable or writable by other users; `chmod go-rwx` it"
        );
    }
}

/// `addr` ending in `/p2p/<peer>`.
fn with_peer_id(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    if peer_id_of(&addr).is_some() {
        addr
    } else {
        addr.with_p2p(peer).unwrap_or_else(|addr| addr)
    }
}
