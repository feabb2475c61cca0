//! The start-up banner where a service's output ends up: on a pipe (journald, `docker logs`) it
//! holds neither the login link nor the invite code (which carries the network key) nor the API
//! token, and says which commands print them; those commands work. On a terminal it shows the
//! link and the invite, as for an owner who starts the node by hand.

use super::find_program;
use crate::{
    cli::{no_redirects, open_login_link},
    process::{KithProcess, loopback_args},
};

#[tokio::test]
async fn a_piped_banner_holds_no_secrets_and_says_how_to_get_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let node = KithProcess::start(&loopback_args(), dir.path()).await;
    let banner = node.stdout();

    // The secrets, from where the banner says to get them; they work.
    let invite = node.invite().await;
    let decoded = kith_config::Invite::decode(&invite)
        .unwrap_or_else(|e| panic!("`kith invite` printed no valid code ({e}): {invite}"));
    let key = kith_config::load_network_key(&dir.path().join("swarm.key"))
        .expect("reading swarm.key")
        .expect("the node has a swarm.key");
    assert!(
        decoded.network_key == key,
        "`kith invite` carries another network's key"
    );
    let login = node.login_link().await;
    let code = login
        .split_once("/login?code=")
        .map(|(_, code)| code.to_owned())
        .unwrap_or_else(|| panic!("`kith login` printed no login link: {login}"));
    open_login_link(&no_redirects(), &login)
        .await
        .expect("the link from `kith login` logs in");
    let token = std::fs::read_to_string(dir.path().join("api.token")).expect("reading api.token");
    let token = token.trim();
    assert!(!token.is_empty());

    // None of them in the banner.
    assert_eq!(
        (&node.banner.login, &node.banner.invite),
        (&None, &None),
        "a piped banner has login or invite lines:\n{banner}"
    );
    for (secret, what) in [
        ("/login?code=", "a login link"),
        (invite.as_str(), "the invite code"),
        (token, "the API token"),
    ] {
        assert!(
            !banner.contains(secret),
            "the piped banner holds {what}:\n{banner}"
        );
    }
    assert!(
        !banner
            .split_whitespace()
            .any(|word| word.starts_with("kith1")),
        "the piped banner holds an invite code:\n{banner}"
    );

    // It says how to get them, for this data dir.
    let secrets = banner
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("secrets:"))
        .unwrap_or_else(|| panic!("the piped banner has no `secrets:` line:\n{banner}"));
    let data_dir = dir.path().display();
    for command in ["login", "invite"] {
        let line = format!("`kith --data-dir {data_dir} {command}`");
        assert!(
            secrets.contains(&line),
            "the `secrets:` line does not name {line}:\n{banner}"
        );
    }

    // Nor in the logs, which the service manager keeps as well.
    let logs = node.stderr();
    for (secret, what) in [
        (code.as_str(), "the login code"),
        (invite.as_str(), "the invite code"),
        (token, "the API token"),
    ] {
        assert!(!logs.contains(secret), "the logs hold {what}:\n{logs}");
    }
    assert!(node.terminate().await.success());
}

#[tokio::test]
async fn on_a_terminal_the_banner_shows_the_login_link_and_the_invite() {
    if find_program("script").is_none() {
        eprintln!(
            "the banner on a terminal is not checked: util-linux `script` (Debian package \
             bsdutils), which gives the node a pseudo-terminal, is not installed"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let node = KithProcess::start_on_terminal(&loopback_args(), dir.path()).await;
    let banner = node.stdout();

    let login = node
        .banner
        .login
        .clone()
        .unwrap_or_else(|| panic!("no `login:` line on a terminal:\n{banner}"));
    assert!(
        login.starts_with("http://127.0.0.1:") && login.contains("/login?code="),
        "{login}"
    );
    open_login_link(&no_redirects(), &login)
        .await
        .expect("the banner's link logs in");
    let invite = node
        .banner
        .invite
        .clone()
        .unwrap_or_else(|| panic!("no `invite:` line on a terminal:\n{banner}"));
    assert_eq!(
        invite,
        node.invite().await,
        "the banner's invite and `kith invite` disagree"
    );
    assert!(
        !banner.contains("secrets:"),
        "a terminal's banner says secrets are withheld:\n{banner}"
    );
    // `script` passes SIGTERM on to the node; its exit status is not the node's to report here.
    node.terminate().await;
}
