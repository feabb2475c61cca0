//! The commands other than `run`: key, password and invite handling on the data dir (`join`,
//! `network new`, `passwd`), and the client commands that ask the running node over its HTTP
//! API ([`run_client`]: `status`, `peers`, `invite`, `login`, `connect`, `block`, `unblock`,
//! `blocks`, `mute`, `unmute`, `mutes`, and the
//! social ones: `post`, `timeline`, `show`, `replies`, `notifications`, `search`, `delete`, `like`,
//! `user`, `profile`, `follow`, `unfollow`, `following`, `followers`, `requests`, `approve`,
//! `reject`, `devices`, `pair`, `unpair`, `events`).
//!
//! Client commands find the node at the address in `<data-dir>/api.addr` (written by `kith run`)
//! or else the configured `api` address, and authenticate with `<data-dir>/api.token`. Output
//! goes to stdout; what scripts consume (`kith invite`, `kith network new`, `--json`, `kith
//! events`) is printed bare. Text written by other people (posts, names, bios) has its control
//! characters replaced before it reaches the terminal, so that nobody can send escape sequences
//! to it.

use std::{
    io::{IsTerminal, Write},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{anyhow, bail};
use kith_client::{
    BlockView, Client, ConnectionKind, DeviceView, Error as ClientError, EventView, FollowOutcome,
    FollowView, Multiaddr, NewPost, NotificationKind, ObjectId, PeerId, PeerView, PostPage,
    PostView, ProfileUpdate, ProfileView, UserView,
};
use kith_config::{
    Invite, JoinFiles, KeyChange, NetworkKey, Settings, load_api_token, store_invite,
};
use zeroize::Zeroizing;

use crate::{
    api_addr,
    cli::{ClientCommand, GlobalArgs},
};

/// How many of a person's posts `kith user` shows.
const USER_POSTS: usize = 10;

/// `kith network new`: a fresh key in swarm.key format, and nothing else, on stdout.
pub fn network_new(out: &mut impl Write) -> anyhow::Result<()> {
    let key = NetworkKey::generate();
    out.write_all(key.to_key_file().as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `kith passwd`: sets the web UI password (asked twice on a terminal; one line of stdin
/// otherwise, for scripts). A running node uses it from its next login on.
pub fn passwd(global: &GlobalArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let settings = Settings::resolve(global.raw_settings())?;
    settings.data_dir.ensure_exists()?;
    let password = if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password("New web UI password: ")?);
        let again = Zeroizing::new(rpassword::prompt_password("Again: ")?);
        if *first != *again {
            bail!("the two passwords differ; nothing was changed");
        }
        first
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().read_line(&mut line)?;
        Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let path = settings.data_dir.ui_password();
    kith_config::set_password(&path, &password)?;
    writeln!(
        out,
        "Password set ({}). Log in at the UI's /login page.",
        path.display()
    )?;
    Ok(())
}

/// `kith join CODE [--replace]`: stores the invite's network key and bootstrap peers (the same
/// step as `POST /api/v1/network/join`: [`store_invite`]).
pub fn join(
    global: &GlobalArgs,
    code: &str,
    replace: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let invite = Invite::decode(code)?;
    let settings = Settings::resolve(global.raw_settings())?;
    let files = JoinFiles::of(&settings);
    let path = settings.data_dir.swarm_key();
    let network = invite.network_key.fingerprint();
    match store_invite(&files, &invite, replace)? {
        KeyChange::Unchanged => writeln!(
            out,
            "This node already holds the key of network {network} ({}).",
            path.display()
        )?,
        KeyChange::Replaced { previous, backup } => writeln!(
            out,
            "Replaced the key of network {previous} with that of network {network} in {}.\n\
             The old key is kept in {}.",
            path.display(),
            backup.display()
        )?,
        KeyChange::OtherNetwork { stored } => bail!(
            "{} holds the key of another network ({stored}; the invite is for {network}). To \
             leave that network for this one, run `kith join --replace CODE` (the old key is \
             kept as a backup)",
            path.display(),
        ),
        KeyChange::Created => writeln!(
            out,
            "Stored the key of network {network} in {}.",
            path.display()
        )?,
    }
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

/// Runs one client command against the node.
pub async fn run_client(
    client: &Client,
    command: ClientCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        ClientCommand::Invite => invite(client, out).await,
        ClientCommand::Login => {
            let link = client.login_link().await?;
            writeln!(out, "{}", link.url)?;
            Ok(())
        }
        ClientCommand::Status => status(client, out).await,
        ClientCommand::Peers { json } => peers(client, json, out).await,
        ClientCommand::Connect { addr } => connect(client, addr, out).await,
        ClientCommand::Block { peer_id, reason } => block(client, peer_id, reason, out).await,
        ClientCommand::Unblock { peer_id } => unblock(client, peer_id, out).await,
        ClientCommand::Blocks { json } => blocks(client, json, out).await,
        ClientCommand::Mute { peer_id } => {
            let mute = client.mute(peer_id).await?;
            let who = mute.name.as_deref().map_or_else(
                || peer_id.to_string(),
                |name| format!("{} ({peer_id})", printable(name)),
            );
            writeln!(out, "Muted {who}.")?;
            Ok(())
        }
        ClientCommand::Unmute { peer_id } => {
            if client.unmute(peer_id).await? {
                writeln!(out, "Unmuted {peer_id}.")?;
                Ok(())
            } else {
                bail!("{peer_id} is not muted")
            }
        }
        ClientCommand::Mutes { json } => mutes(client, json, out).await,
        ClientCommand::Post {
            text,
            reply_to,
            quote,
        } => post(client, text.join(" "), reply_to, quote, out).await,
        ClientCommand::Timeline {
            limit,
            before,
            json,
        } => timeline(client, limit, before, json, out).await,
        ClientCommand::Show { id, json } => show(client, id, json, out).await,
        ClientCommand::Replies { id, json } => replies(client, id, json, out).await,
        ClientCommand::Search { query, limit, json } => {
            search(client, &query.join(" "), limit, json, out).await
        }
        ClientCommand::Notifications { limit, json } => {
            notifications(client, limit, json, out).await
        }
        ClientCommand::Delete { id } => delete(client, id, out).await,
        ClientCommand::Like { id } => like(client, id, out).await,
        ClientCommand::User { peer_id, json } => user(client, peer_id, json, out).await,
        ClientCommand::Profile {
            name,
            bio,
            avatar,
            locked,
            json,
        } => {
            let update = ProfileUpdate {
                display_name: name,
                bio,
                avatar,
                locked,
            };
            profile(client, update, json, out).await
        }
        ClientCommand::Follow { peer_id } => follow(client, peer_id, out).await,
        ClientCommand::Unfollow { peer_id } => unfollow(client, peer_id, out).await,
        ClientCommand::Following { json } => {
            let list = client.following().await?;
            follows(&list, json, "You follow nobody yet.", out)
        }
        ClientCommand::Followers { json } => {
            let list = client.followers().await?;
            follows(&list, json, "Nobody follows you yet.", out)
        }
        ClientCommand::Requests { json } => {
            let list = client.follow_requests().await?;
            follows(&list, json, "No follow requests are waiting.", out)
        }
        ClientCommand::Approve { peer_id } => approve(client, peer_id, out).await,
        ClientCommand::Reject { peer_id } => {
            client.reject(peer_id).await?;
            writeln!(out, "Rejected {peer_id}.")?;
            Ok(())
        }
        ClientCommand::Devices { json } => devices(client, json, out).await,
        ClientCommand::Pair { peer_id } => {
            client.pair_device(peer_id).await?;
            writeln!(
                out,
                "Paired {peer_id}: it may now use this node's private routes."
            )?;
            Ok(())
        }
        ClientCommand::Unpair { peer_id } => {
            if client.unpair_device(peer_id).await? {
                writeln!(out, "Unpaired {peer_id}.")?;
            } else {
                writeln!(out, "{peer_id} was not paired.")?;
            }
            Ok(())
        }
        ClientCommand::Events => events(client, out).await,
    }
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
    if let Some(reach) = &info.reachability {
        writeln!(out, "reach:     {} ({})", reach.status, reach.reason)?;
        let relays: Vec<String> = reach.relays.iter().map(ToString::to_string).collect();
        if !relays.is_empty() {
            writeln!(out, "relays:    {}", relays.join(" "))?;
        }
        let external: Vec<String> = reach
            .external_addrs
            .iter()
            .map(ToString::to_string)
            .collect();
        if !external.is_empty() {
            writeln!(out, "external:  {}", external.join(" "))?;
        }
    }
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
    let connected = match (&peer.rejected, peer.connection) {
        (Some(_), _) => "rejected",
        (None, ConnectionKind::Direct) => "direct",
        (None, ConnectionKind::Relayed) => "relayed",
        (None, ConnectionKind::None) => "no",
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

/// `kith mutes [--json]`.
async fn mutes(client: &Client, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let mutes = client.mutes().await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &mutes), out);
    }
    if mutes.is_empty() {
        writeln!(out, "Nobody is muted.")?;
        return Ok(());
    }
    let rows = mutes
        .iter()
        .map(|mute| {
            vec![
                mute.peer_id.to_string(),
                mute.name
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), printable),
                format_utc(mute.since_ms),
            ]
        })
        .collect();
    print_table(&["PEER ID", "NAME", "SINCE (UTC)"], rows, out)
}

fn block_row(block: &BlockView) -> Vec<String> {
    vec![
        block.peer_id.to_string(),
        format_utc(block.since_ms),
        block.reason.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

/// `kith post TEXT [--reply-to ID] [--quote ID]`: prints the new post's id.
async fn post(
    client: &Client,
    text: String,
    reply_to: Option<ObjectId>,
    quote_of: Option<ObjectId>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let new = NewPost {
        text,
        reply_to,
        quote_of,
    };
    let post = client.create_post(&new).await?;
    writeln!(out, "Posted {}.", post.id)?;
    Ok(())
}

/// `kith timeline [--limit N] [--before CURSOR] [--json]`.
async fn timeline(
    client: &Client,
    limit: Option<u64>,
    before: Option<String>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    // At most 200 (clap checks the range): fits any usize.
    let limit = limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let page = client.timeline(limit, before.as_deref()).await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &page), out);
    }
    if page.posts.is_empty() && before.is_none() {
        writeln!(
            out,
            "No posts yet. Write one with `kith post TEXT`, or follow someone with \
             `kith follow PEER_ID`."
        )?;
        return Ok(());
    }
    print_page(&page, now_ms(), out)?;
    if let Some(next) = &page.next {
        let limit = limit.map(|n| format!(" --limit {n}")).unwrap_or_default();
        writeln!(out, "More: kith timeline{limit} --before {next}")?;
    }
    Ok(())
}

/// `kith show ID [--json]`.
async fn show(
    client: &Client,
    id: ObjectId,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let post = client.post(&id).await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &post), out);
    }
    print_post(&post, now_ms(), out)
}

/// `kith delete ID`.
async fn delete(client: &Client, id: ObjectId, out: &mut impl Write) -> anyhow::Result<()> {
    client.delete_post(&id).await?;
    writeln!(out, "Deleted post {id}.")?;
    Ok(())
}

/// `kith like ID`.
async fn like(client: &Client, id: ObjectId, out: &mut impl Write) -> anyhow::Result<()> {
    let post = client.like(&id).await?;
    writeln!(out, "Liked {id} ({}).", plural(post.like_count, "like"))?;
    Ok(())
}

/// `kith user PEER_ID [--json]`.
async fn user(
    client: &Client,
    peer: PeerId,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let user = client.user(peer).await?;
    let posts = client.user_posts(peer, Some(USER_POSTS), None).await?;
    if json {
        let both = serde_json::json!({ "user": user, "posts": posts });
        return print_json(|out| serde_json::to_writer_pretty(out, &both), out);
    }
    let now = now_ms();
    print_user(&user, now, out)?;
    writeln!(out)?;
    if posts.posts.is_empty() {
        writeln!(out, "No posts of theirs on this node.")?;
    } else {
        print_page(&posts, now, out)?;
    }
    Ok(())
}

fn print_user(user: &UserView, now: u64, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "peer id:      {}", user.peer_id)?;
    match &user.profile {
        Some(profile) => print_profile_fields(profile, now, out)?,
        None => writeln!(out, "profile:      (not known yet)")?,
    }
    if user.is_self {
        writeln!(out, "this is you")?;
    } else {
        writeln!(out, "you follow:   {}", relation(user.following))?;
        writeln!(out, "follows you:  {}", relation(user.follower))?;
        writeln!(out, "connected:    {}", yes_no(user.connected))?;
    }
    Ok(())
}

fn relation(status: Option<FollowOutcome>) -> &'static str {
    match status {
        Some(FollowOutcome::Active) => "yes",
        Some(FollowOutcome::Requested) => "requested",
        Some(FollowOutcome::Removed) | None => "no",
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// `kith profile [--name N] [--bio B] [--avatar A] [--locked true|false] [--json]`: prints the
/// profile, after changing it if any field is given.
async fn profile(
    client: &Client,
    update: ProfileUpdate,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let changes = update != ProfileUpdate::default();
    let profile = if changes {
        client.update_profile(&update).await?
    } else {
        client.profile().await?
    };
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &profile), out);
    }
    if changes {
        writeln!(out, "Profile updated.")?;
    }
    print_profile_fields(&profile, now_ms(), out)
}

fn print_profile_fields(
    profile: &ProfileView,
    now: u64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let or_dash = |text: &str| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            printable(text)
        }
    };
    writeln!(out, "name:         {}", or_dash(&profile.display_name))?;
    writeln!(out, "bio:          {}", or_dash(&profile.bio))?;
    writeln!(
        out,
        "avatar:       {}",
        or_dash(profile.avatar.as_deref().unwrap_or_default())
    )?;
    writeln!(
        out,
        "locked:       {}",
        if profile.locked {
            "yes (you approve followers)"
        } else {
            "no"
        }
    )?;
    if let Some(updated) = profile.updated_at {
        writeln!(out, "updated:      {}", ago(now, updated))?;
    }
    Ok(())
}

/// `kith follow PEER_ID`.
async fn follow(client: &Client, peer: PeerId, out: &mut impl Write) -> anyhow::Result<()> {
    let follow = client.follow(peer).await?;
    let who = follow_name(&follow);
    match follow.status {
        FollowOutcome::Active => writeln!(out, "Following {who}.")?,
        FollowOutcome::Requested => writeln!(
            out,
            "Asked to follow {who}: waiting for their node to accept (a locked account approves followers itself; a node that cannot be reached now gets the follow when it is back)."
        )?,
        FollowOutcome::Removed => writeln!(out, "{who} did not accept the follow.")?,
    }
    Ok(())
}

/// `kith unfollow PEER_ID`.
async fn unfollow(client: &Client, peer: PeerId, out: &mut impl Write) -> anyhow::Result<()> {
    client.unfollow(peer).await?;
    writeln!(out, "No longer following {peer}.")?;
    Ok(())
}

/// `kith approve PEER_ID`.
async fn approve(client: &Client, peer: PeerId, out: &mut impl Write) -> anyhow::Result<()> {
    let follow = client.approve(peer).await?;
    writeln!(out, "Approved: {} now follows you.", follow_name(&follow))?;
    Ok(())
}

/// The name (and peer id) of the other side of a follow.
fn follow_name(follow: &FollowView) -> String {
    match follow.display_name.as_deref() {
        Some(name) if !name.is_empty() => format!("{} ({})", printable(name), follow.peer_id),
        _ => follow.peer_id.to_string(),
    }
}

/// `kith following`, `kith followers`, `kith requests`.
fn follows(
    list: &[FollowView],
    json: bool,
    empty: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, list), out);
    }
    if list.is_empty() {
        writeln!(out, "{empty}")?;
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|follow| {
            vec![
                follow.peer_id.to_string(),
                follow
                    .display_name
                    .as_deref()
                    .filter(|name| !name.is_empty())
                    .map_or_else(|| "-".to_owned(), printable),
                follow_status(follow.status).to_owned(),
                format_utc(follow.since_ms),
            ]
        })
        .collect();
    print_table(&["PEER ID", "NAME", "STATUS", "SINCE (UTC)"], rows, out)
}

fn follow_status(status: FollowOutcome) -> &'static str {
    match status {
        FollowOutcome::Active => "active",
        FollowOutcome::Requested => "requested",
        FollowOutcome::Removed => "removed",
    }
}

/// `kith devices [--json]`.
async fn devices(client: &Client, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let devices = client.devices().await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &devices), out);
    }
    if devices.is_empty() {
        writeln!(out, "No devices are paired.")?;
        return Ok(());
    }
    let rows = devices.iter().map(device_row).collect();
    print_table(&["PEER ID", "PAIRED SINCE (UTC)"], rows, out)
}

fn device_row(device: &DeviceView) -> Vec<String> {
    vec![device.peer_id.to_string(), format_utc(device.since_ms)]
}

/// `kith events`: one JSON object per line, flushed at once, until the node closes the stream.
/// A gap (the client fell behind) is printed as `{"type":"lagged","missed":n}`.
async fn events(client: &Client, out: &mut impl Write) -> anyhow::Result<()> {
    let mut stream = client.events().await?;
    while let Some(item) = stream.next_event().await {
        match item {
            Ok(event) => print_event(&event, out)?,
            Err(ClientError::Lagged { missed }) => {
                let line = serde_json::json!({ "type": "lagged", "missed": missed });
                writeln!(out, "{line}")?;
            }
            Err(error @ ClientError::Decode { .. }) => {
                // An event of a newer kind, most likely: not worth stopping for.
                eprintln!("warning: skipped an event: {:#}", anyhow::Error::new(error));
            }
            Err(error) => return Err(error.into()),
        }
        out.flush()?;
    }
    eprintln!("The node closed the event stream.");
    Ok(())
}

fn print_event(event: &EventView, out: &mut impl Write) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, event).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// The posts of a page, each followed by a blank line.
/// `kith replies ID`: the replies this node holds, newest first.
async fn replies(
    client: &Client,
    id: ObjectId,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let page = client.replies(&id, None, None).await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &page), out);
    }
    if page.posts.is_empty() {
        writeln!(out, "No replies to {} here.", short_id(&id))?;
        return Ok(());
    }
    print_page(&page, now_ms(), out)
}

/// `kith search QUERY…`: people first, then posts.
async fn search(
    client: &Client,
    query: &str,
    limit: Option<u64>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    // At most 50 (clap checks the range): fits any usize.
    let limit = limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let results = client.search(query, limit).await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &results), out);
    }
    if results.people.is_empty() && results.posts.is_empty() {
        writeln!(out, "Nothing here matches {:?}.", printable(query))?;
    }
    if !results.people.is_empty() {
        writeln!(out, "People:")?;
        for user in &results.people {
            let name = user
                .profile
                .as_ref()
                .map(|profile| printable(&profile.display_name))
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "-".to_owned());
            let mut relation = Vec::new();
            if user.is_self {
                relation.push("you");
            }
            match user.following {
                Some(FollowOutcome::Active) => relation.push("following"),
                Some(FollowOutcome::Requested) => relation.push("requested"),
                _ => {}
            }
            if user.follower == Some(FollowOutcome::Active) {
                relation.push("follows you");
            }
            writeln!(out, "  {name}  {}  {}", user.peer_id, relation.join(", "))?;
        }
        writeln!(out)?;
    }
    if !results.posts.is_empty() {
        writeln!(out, "Posts:")?;
        let now = now_ms();
        for post in &results.posts {
            print_post(post, now, out)?;
            writeln!(out)?;
        }
    }
    if results.posts_truncated {
        writeln!(
            out,
            "(searched the newest 20,000 posts; older ones may match too)"
        )?;
    }
    Ok(())
}

/// `kith notifications`: what happened to the owner, newest first.
async fn notifications(
    client: &Client,
    limit: Option<u64>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    // At most 200 (clap checks the range): fits any usize.
    let limit = limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let page = client.notifications(limit, None).await?;
    if json {
        return print_json(|out| serde_json::to_writer_pretty(out, &page), out);
    }
    if page.notifications.is_empty() {
        writeln!(
            out,
            "Nothing yet: replies, likes and new followers show up here."
        )?;
        return Ok(());
    }
    let now = now_ms();
    for notification in &page.notifications {
        let who = match notification.actor_name.as_deref() {
            Some(name) if !name.is_empty() => {
                format!("{} ({})", printable(name), short_peer(&notification.actor))
            }
            _ => notification.actor.to_string(),
        };
        let what = match notification.kind {
            NotificationKind::Reply => "replied",
            NotificationKind::Like => "liked your post",
            NotificationKind::Follow => "followed you",
            NotificationKind::FollowRequest => "asked to follow you (`kith requests`)",
        };
        writeln!(out, "{who} {what} · {}", ago(now, notification.at))?;
        if let Some(post) = &notification.post {
            for line in printable(&post.text).lines() {
                writeln!(out, "    {line}")?;
            }
            writeln!(out, "    ({})", short_id(&post.id))?;
        }
    }
    Ok(())
}

fn print_page(page: &PostPage, now: u64, out: &mut impl Write) -> anyhow::Result<()> {
    for post in &page.posts {
        print_post(post, now, out)?;
        writeln!(out)?;
    }
    Ok(())
}

/// A post for people: who and when, the text indented, then its id and counts.
fn print_post(post: &PostView, now: u64, out: &mut impl Write) -> anyhow::Result<()> {
    let author = match post.author_name.as_deref() {
        Some(name) if !name.is_empty() => {
            format!("{} ({})", printable(name), short_peer(&post.author))
        }
        _ => post.author.to_string(),
    };
    writeln!(out, "{author} · {}", ago(now, post.created_at))?;
    for line in printable(&post.text).lines() {
        writeln!(out, "  {line}")?;
    }
    let mut meta = vec![format!("id {}", post.id)];
    if post.like_count > 0 {
        meta.push(plural(post.like_count, "like"));
    }
    if let Some(parent) = &post.reply_to {
        meta.push(format!("reply to {}", short_id(parent)));
    }
    if let Some(quoted) = &post.quote_of {
        meta.push(format!("quotes {}", short_id(quoted)));
    }
    writeln!(out, "  {}", meta.join(" · "))?;
    Ok(())
}

/// `1 like`, `2 likes`.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The first 12 hex digits of an id, enough to recognise it.
fn short_id(id: &ObjectId) -> String {
    let hex = id.to_string();
    format!("{}…", &hex[..hex.len().min(12)])
}

/// A peer id shortened for a byline, e.g. `12D3KooW…x7YzQa`.
fn short_peer(peer: &PeerId) -> String {
    let text = peer.to_string();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 16 {
        return text;
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}…{tail}")
}

/// Text from other people, made safe for a terminal: control characters (escape sequences
/// among them) become U+FFFD, except newlines and tabs.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// The current unix time in milliseconds (0 if the clock is before 1970).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How long before `now_ms` something happened, for people: `just now`, `42s ago`, `3m ago`,
/// `5h ago`, `12d ago`, then the UTC date. A time slightly ahead (clock skew between nodes) is
/// `just now`.
fn ago(now_ms: u64, then_ms: u64) -> String {
    const SKEW_MS: u64 = 60_000;
    if then_ms > now_ms {
        return if then_ms - now_ms < SKEW_MS {
            "just now".to_owned()
        } else {
            format_utc(then_ms)
        };
    }
    let secs = (now_ms - then_ms) / 1000;
    match secs {
        0..5 => "just now".to_owned(),
        5..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        86_400..2_592_000 => format!("{}d ago", secs / 86_400),
        _ => {
            let date_time = format_utc(then_ms);
            date_time
                .split_once(' ')
                .map_or(date_time.clone(), |(date, _)| date.to_owned())
        }
    }
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
    fn relative_times() {
        let now = 1_709_210_096_789;
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now, now - 4_999), "just now");
        assert_eq!(ago(now, now - 42_000), "42s ago");
        assert_eq!(ago(now, now - 3 * 60_000 - 5), "3m ago");
        assert_eq!(ago(now, now - 5 * 3_600_000), "5h ago");
        assert_eq!(ago(now, now - 12 * 86_400_000), "12d ago");
        assert_eq!(ago(now, now - 40 * 86_400_000), "2024-01-20");
        // Clock skew: a little in the future is now; far in the future is a date.
        assert_eq!(ago(now, now + 30_000), "just now");
        assert_eq!(ago(now, now + 86_400_000), "2024-03-01 12:34:56");
        assert_eq!(ago(now, 0), "1970-01-01");
    }

    #[test]
    fn foreign_text_cannot_drive_the_terminal() {
        assert_eq!(
            printable("a\x1b[2Jb\r\nc\td\u{7}"),
            "a\u{fffd}[2Jb\u{fffd}\nc\td\u{fffd}"
        );
        assert_eq!(printable("héllo 👋"), "héllo 👋");
    }

    fn sample_post() -> PostView {
        PostView {
            id: ObjectId::from_bytes([0xab; 32]),
            author: PeerId::random(),
            author_name: Some("Ada\x1b]0;pwned\x07".to_owned()),
            created_at: 1_000_000,
            text: "first line\nsecond line".to_owned(),
            reply_to: Some(ObjectId::from_bytes([0x12; 32])),
            quote_of: None,
            like_count: 1,
            liked: false,
            reply_count: 0,
        }
    }

    #[test]
    fn posts_print_for_people() {
        let post = sample_post();
        let mut out = Vec::new();
        print_post(&post, 1_000_000 + 3 * 60_000, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[0],
            format!(
                "Ada\u{fffd}]0;pwned\u{fffd} ({}) · 3m ago",
                short_peer(&post.author)
            )
        );
        assert_eq!(lines[1], "  first line");
        assert_eq!(lines[2], "  second line");
        assert_eq!(
            lines[3],
            format!("  id {} · 1 like · reply to 121212121212…", "ab".repeat(32))
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn short_forms() {
        assert_eq!(plural(0, "like"), "0 likes");
        assert_eq!(plural(1, "like"), "1 like");
        let peer = PeerId::random();
        let short = short_peer(&peer);
        let full = peer.to_string();
        assert!(short.starts_with(&full[..8]) && short.ends_with(&full[full.len() - 6..]));
        assert_eq!(short.chars().count(), 15);
        assert_eq!(short_id(&ObjectId::from_bytes([0xff; 32])), "ffffffffffff…");
    }

    #[test]
    fn follow_tables() {
        let peer = PeerId::random();
        let list = [FollowView {
            peer_id: peer,
            status: FollowOutcome::Requested,
            since_ms: 0,
            display_name: None,
        }];
        let mut out = Vec::new();
        follows(&list, false, "none", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("PEER ID"), "{text}");
        assert!(
            text.contains(&format!("{peer}  -     requested  1970-01-01 00:00:00")),
            "{text}"
        );
        let mut out = Vec::new();
        follows(&[], false, "Nobody follows you yet.", &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "Nobody follows you yet.\n");
        let mut out = Vec::new();
        follows(&list, true, "none", &mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json[0]["status"], "requested");
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
            kith_config::load_network_key(&data_dir.join("swarm.key")).unwrap(),
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
            kith_config::load_network_key(&data_dir.join("swarm.key")).unwrap(),
            Some(key)
        );
        let mut out = Vec::new();
        join(&global(&data_dir), &other_code, true, &mut out).unwrap();
        assert_eq!(
            kith_config::load_network_key(&data_dir.join("swarm.key")).unwrap(),
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
