//! The command line as its owner uses it: the real `kith` binary in child processes, talking to
//! each other over TCP on 127.0.0.1.
//!
//! Covered: the first run (key files, modes, banner, `kith status`, clean SIGTERM), invite and
//! join, restarts keeping the identity, corrupt or missing key files, the QUIC refusal, joining
//! through a bootstrap node given with or without its peer id, the social commands (`post`,
//! `timeline`, `profile`, `show`, `like`, `delete`) against a running node, and the web UI's
//! access (`passwd`, the links of `kith login`, the refusal to serve beyond
//! loopback without a password).

use std::{fs, os::unix::fs::PermissionsExt, path::Path, time::Duration};

use crate::process::{
    KithProcess, assert_success, cli_ok, loopback_args, run_cli, run_cli_input, run_cli_with,
};

/// Upper bound for two nodes on loopback to find and verify each other.
const CONNECT: Duration = Duration::from_secs(20);
/// Upper bound for `kith run` to give up on bad input.
const REFUSE: Duration = Duration::from_secs(10);

fn mode(path: &Path) -> u32 {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    meta.permissions().mode() & 0o777
}

fn json_logs() -> Vec<String> {
    let mut args = loopback_args();
    args.extend(["--log-format", "json"].map(String::from));
    args
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `kith peers --json`: the API's list of peer objects.
async fn peers(dir: &Path) -> Vec<serde_json::Value> {
    let stdout = cli_ok(dir, &["peers", "--json"]).await;
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("`kith peers --json` printed no JSON list ({e}):\n{stdout}"))
}

/// The entry for `peer_id` in `kith peers --json` of `dir`, failing with the whole list if absent.
async fn peer_entry(dir: &Path, peer_id: &str) -> serde_json::Value {
    let list = peers(dir).await;
    list.iter()
        .find(|p| p["peer_id"] == peer_id)
        .cloned()
        .unwrap_or_else(|| panic!("{peer_id} is not in `kith peers --json`: {list:#?}"))
}

/// Copies `from`'s network key into `to` (a fresh data dir), keeping mode 0600.
fn share_network_key(from: &Path, to: &Path) {
    let key = fs::read(from.join("swarm.key")).expect("reading swarm.key");
    write_private(&to.join("swarm.key"), &key);
}

#[tokio::test]
async fn first_run_creates_private_keys_prints_a_banner_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = KithProcess::start(&loopback_args(), dir.path()).await;

    for file in ["identity.key", "swarm.key", "api.token"] {
        let path = dir.path().join(file);
        assert_eq!(mode(&path), 0o600, "{file} must be private");
    }
    let banner = &node.banner;
    assert!(
        banner.peer_id.starts_with("12D3KooW"),
        "not an Ed25519 peer id: {banner:?}"
    );
    assert_eq!(banner.role, "member");
    assert!(
        banner.api.starts_with("http://127.0.0.1:"),
        "API not on loopback: {banner:?}"
    );
    assert_eq!(banner.token_path, dir.path().join("api.token"));
    assert!(
        !banner.listen.is_empty()
            && banner
                .listen
                .iter()
                .all(|a| a.starts_with("/ip4/127.0.0.1/tcp/")),
        "{banner:?}"
    );
    let api_addr = dir.path().join("api.addr");
    let announced = fs::read_to_string(&api_addr).expect("api.addr is written while the node runs");
    assert_eq!(format!("http://{}", announced.trim()), banner.api);

    let status = cli_ok(dir.path(), &["status"]).await;
    assert!(
        status.contains(&banner.peer_id),
        "`kith status` names another node:\n{status}"
    );
    assert!(
        status.contains(&banner.network),
        "`kith status` shows another network:\n{status}"
    );

    let exit = node.terminate().await;
    assert!(
        exit.success(),
        "SIGTERM should stop the node cleanly, got {exit}"
    );
    assert!(!api_addr.exists(), "api.addr must be removed on shutdown");
    let status = run_cli(dir.path(), &["status"]).await;
    assert!(
        !status.status.success(),
        "`kith status` with no node running must fail"
    );
}

#[tokio::test]
async fn restart_keeps_the_peer_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = KithProcess::start(&loopback_args(), dir.path()).await;
    let (peer_id, network) = (first.banner.peer_id.clone(), first.banner.network.clone());
    assert!(first.terminate().await.success());

    let second = KithProcess::start(&loopback_args(), dir.path()).await;
    assert_eq!(
        second.banner.peer_id, peer_id,
        "the identity must survive a restart"
    );
    assert_eq!(
        second.banner.network, network,
        "the network key must survive a restart"
    );
    assert!(second.terminate().await.success());
}

#[tokio::test]
async fn invite_and_join_bring_a_second_node_into_the_network() {
    let a_dir = tempfile::tempdir().expect("temp dir");
    let a = KithProcess::start(&json_logs(), a_dir.path()).await;

    let invite = a.invite().await;
    let invite = invite.as_str();
    assert!(
        invite.starts_with("kith1"),
        "`kith invite` printed no code:\n{invite}"
    );
    let decoded = kith_config::Invite::decode(invite).expect("`kith invite` prints a valid code");
    let a_key = kith_config::load_network_key(&a_dir.path().join("swarm.key"))
        .expect("reading A's swarm.key")
        .expect("A has a swarm.key");
    assert!(
        decoded.network_key == a_key,
        "`kith invite` carries another network's key"
    );
    assert!(
        !decoded.addrs.is_empty()
            && decoded
                .addrs
                .iter()
                .all(|addr| kith_config::peer_id_of(addr)
                    .is_some_and(|p| p.to_string() == a.peer_id())),
        "`kith invite` names addresses of another node: {:?}",
        decoded.addrs
    );

    let b_dir = tempfile::tempdir().expect("temp dir");
    let joined = run_cli(b_dir.path(), &["join", invite]).await;
    assert_success(&joined, "join");
    let b_key = b_dir.path().join("swarm.key");
    assert_eq!(mode(&b_key), 0o600);
    assert_eq!(
        fs::read(&b_key).expect("B's swarm.key"),
        fs::read(a_dir.path().join("swarm.key")).expect("A's swarm.key")
    );
    let config = fs::read_to_string(b_dir.path().join("kith.toml")).expect("join writes kith.toml");
    assert!(
        config.contains("bootstrap") && config.contains(&a.banner.peer_id),
        "kith.toml has no bootstrap entry for A:\n{config}"
    );

    let b = KithProcess::start(&json_logs(), b_dir.path()).await;
    assert_eq!(
        b.banner.network, a.banner.network,
        "joined node is on another network"
    );
    b.wait_for_event("peer verified", &[("peer", a.peer_id())], CONNECT)
        .await;
    a.wait_for_event("peer verified", &[("peer", b.peer_id())], CONNECT)
        .await;
    let entry = peer_entry(a_dir.path(), b.peer_id()).await;
    assert_eq!(
        entry["connected"], true,
        "A does not list B as connected: {entry:#}"
    );

    // A different network's invite must not silently replace B's key.
    let c_dir = tempfile::tempdir().expect("temp dir");
    let c = KithProcess::start(&loopback_args(), c_dir.path()).await;
    assert_ne!(c.banner.network, a.banner.network);
    let c_invite = c.invite().await;
    let key_before = fs::read(&b_key).expect("B's swarm.key");
    let refused = run_cli(b_dir.path(), &["join", &c_invite]).await;
    assert!(
        !refused.status.success(),
        "joining another network without --replace must fail"
    );
    let message = stderr_of(&refused);
    assert!(
        message.contains(&c.banner.network) && message.contains("--replace"),
        "the error should name the network and say how to replace the key:\n{message}"
    );
    assert_eq!(
        fs::read(&b_key).expect("B's swarm.key"),
        key_before,
        "swarm.key changed"
    );

    // With --replace it switches, keeping the old key as a backup.
    let replaced = run_cli(b_dir.path(), &["join", "--replace", &c_invite]).await;
    assert_success(&replaced, "join --replace");
    let c_key = fs::read(c_dir.path().join("swarm.key")).expect("C's swarm.key");
    assert_eq!(fs::read(&b_key).expect("B's swarm.key"), c_key);
    assert_eq!(mode(&b_key), 0o600);
    let backups: Vec<Vec<u8>> = fs::read_dir(b_dir.path())
        .expect("listing B's data dir")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("swarm.key."))
        })
        .map(|path| fs::read(path).expect("reading a backup"))
        .collect();
    assert_eq!(
        backups,
        [key_before],
        "the old key must be kept as a backup"
    );

    for node in [a, b, c] {
        assert!(node.terminate().await.success());
    }
}

/// Runs `kith run` on a data dir that must be refused, and returns its stderr.
async fn refused_run(dir: &Path, args: &[String]) -> String {
    let mut argv: Vec<&str> = vec!["run"];
    argv.extend(args.iter().map(String::as_str));
    let output = run_cli_with(&[], dir, &argv, REFUSE).await;
    assert!(
        !output.status.success(),
        "`kith run` should have refused to start:\n{}",
        stderr_of(&output)
    );
    assert!(
        output.status.code().is_some(),
        "kith should exit with an error, not die of a signal: {}",
        output.status
    );
    stderr_of(&output)
}

/// A fresh data dir with a valid network key from `kith network new`.
async fn dir_with_network_key() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = cli_ok(dir.path(), &["network", "new"]).await;
    write_private(&dir.path().join("swarm.key"), key.as_bytes());
    dir
}

/// Writes a key file as kith would: owner-only.
fn write_private(path: &Path, content: &[u8]) {
    fs::write(path, content).expect("writing a key file");
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[tokio::test]
async fn a_corrupt_swarm_key_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("swarm.key");
    write_private(&path, b"this is not a swarm key\n");
    let stderr = refused_run(dir.path(), &loopback_args()).await;
    assert!(
        stderr.contains(&path.display().to_string()),
        "the error should name {}:\n{stderr}",
        path.display()
    );
    assert_eq!(
        fs::read(&path).expect("swarm.key"),
        b"this is not a swarm key\n",
        "a corrupt key must never be replaced"
    );
}

#[tokio::test]
async fn a_corrupt_identity_key_is_refused_naming_the_file() {
    let dir = dir_with_network_key().await;
    let path = dir.path().join("identity.key");
    write_private(&path, &[0x08, 0x01, 0x12, 0x05, 1, 2, 3]);
    let stderr = refused_run(dir.path(), &loopback_args()).await;
    assert!(
        stderr.contains(&path.display().to_string()),
        "the error should name {}:\n{stderr}",
        path.display()
    );
    assert_eq!(
        fs::read(&path).expect("identity.key"),
        [0x08, 0x01, 0x12, 0x05, 1, 2, 3],
        "a corrupt key must never be replaced"
    );
}

#[tokio::test]
async fn an_identity_without_a_network_key_is_told_how_to_get_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    assert!(node.terminate().await.success());
    fs::remove_file(dir.path().join("swarm.key")).expect("removing swarm.key");

    let stderr = refused_run(dir.path(), &loopback_args()).await;
    assert!(
        stderr.contains("kith network new"),
        "the error should say how to make a network:\n{stderr}"
    );
    assert!(
        stderr.contains("kith join"),
        "the error should say how to join a network:\n{stderr}"
    );
    assert!(
        !dir.path().join("swarm.key").exists(),
        "no new network key may appear behind the owner's back"
    );
}

#[tokio::test]
async fn network_new_prints_a_swarm_key_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = cli_ok(dir.path(), &["network", "new"]).await;
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 3, "swarm.key format is three lines:\n{first}");
    assert_eq!(lines[0], "/key/swarm/psk/1.0.0/");
    assert_eq!(lines[1], "/base16/");
    assert_eq!(lines[2].len(), 64, "a 256-bit key in hex:\n{first}");
    assert!(
        lines[2]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lowercase hex:\n{first}"
    );
    assert!(first.ends_with('\n') && !first.ends_with("\n\n"));

    let second = cli_ok(dir.path(), &["network", "new"]).await;
    assert_ne!(first, second, "every network key must be fresh");
    assert!(
        !dir.path().join("swarm.key").exists(),
        "`kith network new` only prints"
    );
}

#[tokio::test]
async fn quic_listen_addresses_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "--listen",
        "/ip4/127.0.0.1/udp/0/quic-v1",
        "--api",
        "127.0.0.1:0",
        "--mdns",
        "false",
    ]
    .map(String::from);
    let stderr = refused_run(dir.path(), &args).await;
    assert!(
        stderr.contains("QUIC") && stderr.contains("TCP"),
        "the error should explain that only TCP is allowed:\n{stderr}"
    );
}

/// A member started with `--bootstrap <addr>` finds the bootstrap node and lists it with its role.
async fn join_through_bootstrap(addr_of: impl FnOnce(&KithProcess) -> String) {
    let boot_dir = tempfile::tempdir().expect("temp dir");
    let mut args = json_logs();
    args.extend(["--role", "bootstrap"].map(String::from));
    let boot = KithProcess::start(&args, boot_dir.path()).await;
    assert_eq!(boot.banner.role, "bootstrap");

    let member_dir = tempfile::tempdir().expect("temp dir");
    share_network_key(boot_dir.path(), member_dir.path());
    let mut args = json_logs();
    args.extend(["--bootstrap".to_owned(), addr_of(&boot)]);
    let member = KithProcess::start(&args, member_dir.path()).await;
    assert_eq!(member.banner.role, "member");

    let fields = member
        .wait_for_event("peer verified", &[("peer", boot.peer_id())], CONNECT)
        .await;
    assert_eq!(
        fields.get("source").map(String::as_str),
        Some("bootstrap"),
        "{fields:?}"
    );
    assert_eq!(
        fields.get("role").map(String::as_str),
        Some("bootstrap"),
        "{fields:?}"
    );
    let entry = peer_entry(member_dir.path(), boot.peer_id()).await;
    assert_eq!(entry["connected"], true, "{entry:#}");
    assert_eq!(entry["role"], "bootstrap", "{entry:#}");
    assert_eq!(entry["source"], "bootstrap", "{entry:#}");

    assert!(member.terminate().await.success());
    assert!(boot.terminate().await.success());
}

#[tokio::test]
async fn a_member_joins_through_a_bootstrap_address_with_peer_id() {
    join_through_bootstrap(|boot| boot.banner.dial_addr()).await;
}

#[tokio::test]
async fn a_member_joins_through_a_plain_bootstrap_address() {
    join_through_bootstrap(|boot| boot.banner.plain_addr()).await;
}

/// The id in `kith post`'s answer, `Posted <id>.`.
fn posted_id(stdout: &str) -> String {
    let id = stdout
        .trim()
        .strip_prefix("Posted ")
        .and_then(|rest| rest.strip_suffix('.'))
        .unwrap_or_else(|| panic!("`kith post` printed no id:\n{stdout}"));
    assert_eq!(id.len(), 64, "not a post id: {id}");
    id.to_owned()
}

#[tokio::test]
async fn posting_and_reading_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    let dir = dir.path();

    let empty = cli_ok(dir, &["timeline"]).await;
    assert!(empty.contains("No posts yet"), "{empty}");

    let id = posted_id(&cli_ok(dir, &["post", "hello", "from", "the", "shell"]).await);
    let timeline = cli_ok(dir, &["timeline"]).await;
    assert!(
        timeline.contains("  hello from the shell\n") && timeline.contains(&id),
        "`kith timeline` does not show the post:\n{timeline}"
    );
    assert!(timeline.contains(&node.banner.peer_id), "{timeline}");
    assert!(
        timeline.contains("just now") || timeline.contains("s ago"),
        "{timeline}"
    );

    let json = cli_ok(dir, &["timeline", "--json", "--limit", "1"]).await;
    let page: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("`kith timeline --json` printed no JSON ({e}):\n{json}"));
    assert_eq!(page["posts"][0]["id"], id.as_str());
    assert_eq!(page["posts"][0]["text"], "hello from the shell");
    assert_eq!(page["posts"][0]["author"], node.banner.peer_id.as_str());

    let updated = cli_ok(
        dir,
        &["profile", "--name", "Ada Lovelace", "--bio", "counts"],
    )
    .await;
    assert!(
        updated.contains("Profile updated.") && updated.contains("Ada Lovelace"),
        "{updated}"
    );
    let profile = cli_ok(dir, &["profile"]).await;
    assert!(
        profile.contains("name:") && profile.contains("Ada Lovelace") && profile.contains("counts"),
        "`kith profile` does not show the new name:\n{profile}"
    );
    let named = cli_ok(dir, &["timeline"]).await;
    assert!(
        named.contains("Ada Lovelace ("),
        "posts show the author's name:\n{named}"
    );

    let reply = posted_id(&cli_ok(dir, &["post", "a", "reply", "--reply-to", &id]).await);
    let shown = cli_ok(dir, &["show", &reply]).await;
    assert!(shown.contains("reply to"), "{shown}");
    let liked = cli_ok(dir, &["like", &id]).await;
    assert!(liked.contains("1 like"), "{liked}");
    let found = cli_ok(dir, &["search", "REPLY"]).await;
    assert!(
        found.contains("Posts:") && found.contains("a reply"),
        "{found}"
    );
    let replies = cli_ok(dir, &["replies", &id]).await;
    assert!(replies.contains("a reply"), "{replies}");
    // The owner's own reply and like notify nobody.
    let notifications = cli_ok(dir, &["notifications"]).await;
    assert!(notifications.contains("Nothing yet"), "{notifications}");

    let someone = libp2p::PeerId::random().to_string();
    let muted = cli_ok(dir, &["mute", &someone]).await;
    assert!(muted.contains(&someone), "{muted}");
    let mutes = cli_ok(dir, &["mutes"]).await;
    assert!(mutes.contains(&someone), "{mutes}");
    assert!(cli_ok(dir, &["unmute", &someone]).await.contains("Unmuted"));
    let again = run_cli(dir, &["unmute", &someone]).await;
    assert!(
        !again.status.success(),
        "unmuting someone not muted is an error"
    );
    assert!(cli_ok(dir, &["mutes"]).await.contains("Nobody"));

    let deleted = cli_ok(dir, &["delete", &id]).await;
    assert!(deleted.contains(&id), "{deleted}");
    let gone = run_cli(dir, &["show", &id]).await;
    assert!(!gone.status.success(), "a deleted post is not shown");
    let message = stderr_of(&gone);
    assert!(
        message.starts_with("error: ") && message.contains("not-found"),
        "the error should say the post is not found:\n{message}"
    );
    let bad = run_cli(dir, &["show", "xyz"]).await;
    assert!(!bad.status.success(), "a malformed id is refused");

    assert!(node.terminate().await.success());
}

/// `303` answers, not followed, so that the tests see the cookie and where they lead.
pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Opens a login link; returns the session cookie it sets, or `None` with where it led.
pub(crate) async fn open_login_link(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = http.get(url).send().await.expect("GET the login link");
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER, "{url}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    match response.headers().get("set-cookie") {
        Some(cookie) if location == "/" => Ok(cookie.to_str().unwrap().to_owned()),
        _ => Err(location),
    }
}

#[tokio::test]
async fn web_ui_access_login_links_password_and_open_binding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open_api: Vec<String> = loopback_args()
        .into_iter()
        .map(|arg| {
            if arg == "127.0.0.1:0" {
                "0.0.0.0:0".to_owned()
            } else {
                arg
            }
        })
        .collect();

    // Serving beyond loopback needs a password first.
    let stderr = refused_run(dir.path(), &open_api).await;
    assert!(stderr.contains("kith passwd"), "{stderr}");

    let short = run_cli_input(dir.path(), &["passwd"], "short\n").await;
    assert!(!short.status.success());
    assert!(
        stderr_of(&short).contains("at least 8"),
        "{}",
        stderr_of(&short)
    );
    let set = run_cli_input(dir.path(), &["passwd"], "correct horse battery\n").await;
    assert_success(&set, "passwd");
    let password_file = dir.path().join("ui.password");
    assert_eq!(mode(&password_file), 0o600);
    let stored = fs::read_to_string(&password_file).unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("horse"));

    let node = KithProcess::start(&open_api, dir.path()).await;
    let http = no_redirects();
    let login = &node.login_link().await;
    // Printed for this machine's browser, whatever address the API is bound to.
    assert!(
        login.starts_with("http://127.0.0.1:") && login.contains("/login?code="),
        "{login}"
    );
    let cookie = open_login_link(&http, login)
        .await
        .expect("the link from `kith login` logs in");
    assert!(cookie.starts_with("kith_session=") && cookie.contains("HttpOnly"));
    let again = open_login_link(&http, login).await;
    assert!(
        again
            .as_ref()
            .is_err_and(|to| to.starts_with("/login?error=")),
        "a login link works once: {again:?}"
    );

    // `kith login` prints a fresh one each time.
    let fresh = node.login_link().await;
    assert_ne!(&fresh, login, "`kith login` printed the same link twice");
    let logged_out = open_login_link(&http, &fresh)
        .await
        .expect("a second link from `kith login` logs in");
    let api = node.banner.api.clone();
    assert_eq!(session_status(&http, &api, &logged_out).await, 200);
    let logout = http
        .delete(format!("{api}/api/v1/session"))
        .header("cookie", cookie_pair(&logged_out))
        .header("x-csrf-token", csrf_token(&http, &api, &logged_out).await)
        .header("origin", &api)
        .send()
        .await
        .expect("DELETE /api/v1/session");
    assert_eq!(logout.status(), reqwest::StatusCode::NO_CONTENT);
    assert_eq!(session_status(&http, &api, &logged_out).await, 401);

    // The password set before the start works over HTTP; a wrong one does not.
    for (password, works) in [
        ("wrong horse battery", false),
        ("correct horse battery", true),
    ] {
        let response = http
            .post(format!("{}/login", node.banner.api))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("password={}", password.replace(' ', "+")))
            .send()
            .await
            .expect("POST /login");
        assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers().contains_key("set-cookie"),
            works,
            "{password}"
        );
    }
    let csrf = csrf_token(&http, &api, &cookie).await;
    assert!(node.terminate().await.success());

    // Sessions outlive a restart (with the same CSRF token); a logout does too.
    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    let api = node.banner.api.clone();
    assert_eq!(session_status(&http, &api, &cookie).await, 200);
    assert_eq!(csrf_token(&http, &api, &cookie).await, csrf);
    assert_eq!(session_status(&http, &api, &logged_out).await, 401);
    assert!(node.terminate().await.success());
}

/// `name=value` of a `Set-Cookie` header value.
fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().expect("a cookie")
}

/// The status of `GET /api/v1/session` with the session cookie `set_cookie` set.
async fn session_status(http: &reqwest::Client, api: &str, set_cookie: &str) -> u16 {
    http.get(format!("{api}/api/v1/session"))
        .header("cookie", cookie_pair(set_cookie))
        .send()
        .await
        .expect("GET /api/v1/session")
        .status()
        .as_u16()
}

/// The CSRF token of the session whose cookie is `set_cookie`.
async fn csrf_token(http: &reqwest::Client, api: &str, set_cookie: &str) -> String {
    let session: serde_json::Value = http
        .get(format!("{api}/api/v1/session"))
        .header("cookie", cookie_pair(set_cookie))
        .send()
        .await
        .expect("GET /api/v1/session")
        .json()
        .await
        .expect("a session view");
    session["csrf_token"]
        .as_str()
        .expect("a cookie session has a CSRF token")
        .to_owned()
}
