//! The commands other than `run`: key and invite handling on the data dir (`join`,
//! `network new`), and the client commands that ask the running node over its HTTP API
//! (`status`, `peers`, `invite`, `connect`, `block`, `unblock`, `blocks`).
//!
//! Client commands find the node at the address in `<data-dir>/api.addr` (written by `kith run`)
//! or else the configured `api` address, and authenticate with `<data-dir>/api.token`. Output
//! goes to stdout; what scripts consume (`kith invite`, `kith network new`, `--json`) is printed
//! bare.

use std::io::Write;

use anyhow::{anyhow, bail};
use kith_client::{BlockView, Client, Multiaddr, PeerId, PeerView};
use kith_config::{
    Invite, NetworkKey, Settings, create_network_key, load_api_token, load_network_key,
    replace_network_key, set_bootstrap_in_config,
};

use crate::{api_addr, cli::GlobalArgs};

/// `kith network new`: a fresh key in swarm.key format, and nothing else, on stdout.
pub fn network_new(out: &mut impl Write) -> anyhow::Result<()> {
    let key = NetworkKey::generate();
    out.write_all(key.to_key_file().as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `kith join CODE [--replace]`: stores the invite's network key and bootstrap peers.
pub fn join(
    global: &GlobalArgs,
    code: &str,
    replace: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let invite = Invite::decode(code)?;
    let settings = Settings::resolve(global.raw_settings())?;
    settings.data_dir.ensure_exists()?;
    let path = settings.data_dir.swarm_key();
    let network = invite.network_key.fingerprint();
    match load_network_key(&path)? {
        Some(existing) if existing == invite.network_key => {
            writeln!(
                out,
                "This node already holds the key of network {network} ({}).",
                path.display()
            )?;
        }
        Some(existing) if replace => {
            let backup = replace_network_key(&path, &invite.network_key)?;
            writeln!(
                out,
                "Replaced the key of network {} with that of network {network} in {}.\n\
                 The old key is kept in {}.",
                existing.fingerprint(),
                path.display(),
                backup.display()
            )?;
        }
        Some(existing) => bail!(
            "{} holds the key of another network ({}; the invite is for {network}). To leave that \
             network for this one, run `kith join --replace CODE` (the old key is kept as a backup)",
            path.display(),
            existing.fingerprint()
        ),
        None => {
            create_network_key(&path, &invite.network_key)?;
            writeln!(
                out,
                "Stored the key of network {network} in {}.",
                path.display()
            )?;
        }
    }
    set_bootstrap_in_config(&settings.config_path, &invite.addrs)?;
    writeln!(
        out,
        "Added {} bootstrap peer{} to {}.",
        invite.addrs.len(),
        if invite.addrs.len() == 1 { "" } else { "s" },
        settings.config_path.display()
    )?;
    writeln!(
        out,
        "Now run `kith run` (restart the node if it is already running)."
    )?;
    Ok(())
}

/// The client of the node that `global` names.
pub fn client(global: &GlobalArgs) -> anyhow::Result<Client> {
    let settings = Settings::resolve(global.raw_settings())?;
    let api = api_addr::read(&settings.data_dir)?.unwrap_or(settings.api);
    let token_path = settings.data_dir.api_token();
    let token = load_api_token(&token_path)?.ok_or_else(|| {
        anyhow!(
            "no API token at {}: is this the data dir of a node? `kith run` creates it on its \
             first start",
            token_path.display()
        )
    })?;
    Ok(Client::new(
        &format!("http://{}", api_addr::connectable(api)),
        token.as_str(),
    )?)
}

/// `kith invite`: the code alone, so that `$(kith invite)` works.
pub async fn invite(client: &Client, out: &mut impl Write) -> anyhow::Result<()> {
    let invite = client.invite().await?;
    writeln!(out, "{}", invite.invite)?;
    Ok(())
}

/// `kith status`.
pub async fn status(client: &Client, out: &mut impl Write) -> anyhow::Result<()> {
    let info = client.node().await?;
    let peers = client.peers().await?;
    let connected = peers.iter().filter(|p| p.connected).count();
    writeln!(out, "peer id:   {}", info.peer_id)?;
    writeln!(out, "role:      {}", info.role)?;
    writeln!(out, "network:   {}", info.network)?;
    writeln!(
        out,
        "version:   {} (protocol {})",
        info.version, info.protocol_version
    )?;
    writeln!(out, "api:       {}", client.base_url())?;
    writeln!(
        out,
        "peers:     {connected} connected, {} known",
        peers.len()
    )?;
    let mut label = "listen:";
    for addr in &info.listen_addrs {
        writeln!(out, "{label:<11}{addr}")?;
        label = "";
    }
    if info.listen_addrs.is_empty() {
        writeln!(out, "listen:    (none)")?;
    }
    Ok(())
}

/// `kith peers [--json]`.
pub async fn peers(client: &Client, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let peers = client.peers().await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &peers), out);
    }
    if peers.is_empty() {
        writeln!(out, "No peers known yet.")?;
        return Ok(());
    }
    let rows = peers.iter().map(peer_row).collect();
    print_table(
        &["PEER ID", "CONNECTED", "SOURCE", "ROLE", "RTT", "ADDRS"],
        rows,
        out,
    )
}

fn peer_row(peer: &PeerView) -> Vec<String> {
    let connected = match (&peer.rejected, peer.connected) {
        (Some(_), _) => "rejected",
        (None, true) => "yes",
        (None, false) => "no",
    };
    vec![
        peer.peer_id.to_string(),
        connected.to_owned(),
        peer.source.to_string(),
        peer.role.map_or_else(|| "-".to_owned(), |r| r.to_string()),
        peer.rtt_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms")),
        if peer.addrs.is_empty() {
            "-".to_owned()
        } else {
            peer.addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        },
    ]
}

/// `kith connect ADDR`.
pub async fn connect(client: &Client, addr: Multiaddr, out: &mut impl Write) -> anyhow::Result<()> {
    let answer = client.add_peer(addr.clone()).await?;
    match answer.peer_id {
        Some(peer) => writeln!(
            out,
            "Connecting to {peer} at {addr}; `kith peers` shows when it is connected."
        )?,
        None => writeln!(
            out,
            "Dialing {addr}; `kith peers` shows when it is connected."
        )?,
    }
    Ok(())
}

/// `kith block PEER_ID [--reason ..]`.
pub async fn block(
    client: &Client,
    peer: PeerId,
    reason: Option<String>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    client.block(peer, reason).await?;
    writeln!(out, "Blocked {peer}.")?;
    Ok(())
}

/// `kith unblock PEER_ID`.
pub async fn unblock(client: &Client, peer: PeerId, out: &mut impl Write) -> anyhow::Result<()> {
    if client.unblock(peer).await? {
        writeln!(out, "Unblocked {peer}.")?;
    } else {
        writeln!(out, "{peer} was not blocked.")?;
    }
    Ok(())
}

/// `kith blocks [--json]`.
pub async fn blocks(client: &Client, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let blocks = client.blocks().await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &blocks), out);
    }
    if blocks.is_empty() {
        writeln!(out, "No peers are blocked.")?;
        return Ok(());
    }
    let rows = blocks.iter().map(block_row).collect();
    print_table(&["PEER ID", "SINCE (UTC)", "REASON"], rows, out)
}

fn block_row(block: &BlockView) -> Vec<String> {
    vec![
        block.peer_id.to_string(),
        format_utc(block.since_ms),
        block.reason.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

/// Pretty JSON in the API's own field order, and a newline.
fn print_json<W: Write>(
    write: impl FnOnce(&mut W) -> serde_json::Result<()>,
    out: &mut W,
) -> anyhow::Result<()> {
    // Back to the io::Error it wraps, so that a closed pipe is recognised as such.
    write(out).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Prints left-aligned columns separated by two spaces; the last column is not padded.
fn print_table(
    header: &[&str],
    rows: Vec<Vec<String>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        let last = row.len().saturating_sub(1);
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for a unix time in milliseconds.
fn format_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_709_210_096_789), "2024-02-29 12:34:56");
        assert_eq!(format_utc(4_102_444_799_000), "2099-12-31 23:59:59");
    }

    #[test]
    fn tables_align_columns() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["a".to_owned(), "longer".to_owned(), "x".to_owned()],
            vec!["bbbb".to_owned(), "c".to_owned(), "".to_owned()],
        ];
        print_table(&["H1", "H2", "H3"], rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "H1    H2      H3\na     longer  x\nbbbb  c\n");
    }

    #[test]
    fn network_new_prints_only_a_key_file() {
        let mut out = Vec::new();
        network_new(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(NetworkKey::parse_key_file(&text).is_ok(), "{text}");
        assert_eq!(text.lines().count(), 3);
    }

    fn global(dir: &std::path::Path) -> GlobalArgs {
        GlobalArgs {
            data_dir: Some(PathBuf::from(dir)),
            config: None,
        }
    }

    fn invite_code(key: &NetworkKey) -> String {
        let peer = PeerId::random();
        let addr: Multiaddr = format!("/ip4/10.0.0.1/tcp/4001/p2p/{peer}")
            .parse()
            .unwrap();
        Invite::new(key.clone(), vec![addr]).unwrap().encode()
    }

    #[test]
    fn join_stores_the_key_and_bootstrap_peers() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("node");
        let key = NetworkKey::generate();
        let code = invite_code(&key);
        let mut out = Vec::new();
        join(&global(&data_dir), &code, false, &mut out).unwrap();
        assert_eq!(
            load_network_key(&data_dir.join("swarm.key")).unwrap(),
            Some(key.clone())
        );
        let config = std::fs::read_to_string(data_dir.join("kith.toml")).unwrap();
        assert!(config.contains("/ip4/10.0.0.1/tcp/4001/p2p/"), "{config}");
        assert!(String::from_utf8(out).unwrap().contains("kith run"));

        // The same network again is fine.
        join(&global(&data_dir), &code, false, &mut Vec::new()).unwrap();

        // Another network needs --replace, and keeps the old key as a backup.
        let other = NetworkKey::generate();
        let other_code = invite_code(&other);
        let error = format!(
            "{:#}",
            join(&global(&data_dir), &other_code, false, &mut Vec::new()).unwrap_err()
        );
        assert!(error.contains("--replace"), "{error}");
        assert_eq!(
            load_network_key(&data_dir.join("swarm.key")).unwrap(),
            Some(key)
        );
        let mut out = Vec::new();
        join(&global(&data_dir), &other_code, true, &mut out).unwrap();
        assert_eq!(
            load_network_key(&data_dir.join("swarm.key")).unwrap(),
            Some(other)
        );
        assert!(String::from_utf8(out).unwrap().contains(".bak"));
    }

    #[test]
    fn a_bad_invite_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let error = format!(
            "{:#}",
            join(&global(dir.path()), "kith1garbage", false, &mut Vec::new()).unwrap_err()
        );
        assert!(error.contains("invite"), "{error}");
        assert!(!dir.path().join("swarm.key").exists());
    }

    #[test]
    fn client_commands_need_the_token_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = format!("{:#}", client(&global(dir.path())).unwrap_err());
        assert!(
            error.contains("api.token") && error.contains("kith run"),
            "{error}"
        );
    }
}
