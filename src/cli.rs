//! The command line: what `kith` accepts, parsed by clap's derive API.
//!
//! `--data-dir` and `--config` (also `KITH_DATA_DIR`, `KITH_CONFIG`) are global: they may come
//! before or after the subcommand, because every command needs to know which node it is about.
//! `kith run` takes all of the node's settings as flags ([`RawSettings`], shared with `kith.toml`
//! and the `KITH_*` environment), which includes these two again; a value given after `run` wins.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kith_client::{Multiaddr, PeerId};
use kith_config::RawSettings;

/// A self-hosted, peer-to-peer social node.
#[derive(Debug, Parser)]
#[command(name = "kith", version, about, propagate_version = true)]
pub struct Cli {
    /// Which node: the data dir and config file.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory for keys, database and kith.toml [default: $XDG_DATA_HOME/kith, else
    /// ~/.local/share/kith]
    #[arg(long, env = "KITH_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Config file [default: DATA_DIR/kith.toml]
    #[arg(long, env = "KITH_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

impl GlobalArgs {
    /// The settings these options name, with nothing else set: for commands other than `run`.
    pub fn raw_settings(&self) -> RawSettings {
        RawSettings {
            data_dir: self.data_dir.clone(),
            config: self.config.clone(),
            ..RawSettings::default()
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the node (creates keys and a new private network on the first run)
    Run(RunArgs),
    /// Join a network with an invite code: store its key and peers (before `kith run`)
    Join {
        /// The invite code (kith1…)
        code: String,
        /// Replace an existing, different network key (the old one is kept as a backup)
        #[arg(long)]
        replace: bool,
    },
    /// Manage network keys
    Network {
        /// What to do.
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// Commands that ask the running node.
    #[command(flatten)]
    Client(ClientCommand),
}

/// The commands that talk to the running node over its HTTP API.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Print an invite code to this node's network (asks the running node)
    Invite,
    /// Show who the running node is
    Status,
    /// List the peers the running node knows
    Peers {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Ask the running node to connect to an address (with or without /p2p/PEER_ID)
    Connect {
        /// A TCP multiaddr, e.g. /ip4/192.168.1.20/tcp/4001
        addr: Multiaddr,
    },
    /// Block a peer: disconnect it and never talk to it again
    Block {
        /// The peer to block
        peer_id: PeerId,
        /// A note for yourself on why
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a block
    Unblock {
        /// The peer to unblock
        peer_id: PeerId,
    },
    /// List blocked peers
    Blocks {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

/// `kith run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The node's settings.
    #[command(flatten)]
    pub settings: RawSettings,
}

/// `kith network ...`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Print a fresh network key in swarm.key format (e.g. `kith network new > swarm.key`)
    New,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kith").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn data_dir_goes_before_or_after_the_subcommand() {
        let cli = parse(&["--data-dir", "/a", "status"]).unwrap();
        assert_eq!(cli.global.data_dir, Some(PathBuf::from("/a")));
        let cli = parse(&["status", "--data-dir", "/b"]).unwrap();
        assert_eq!(cli.global.data_dir, Some(PathBuf::from("/b")));

        let cli = parse(&[
            "--data-dir",
            "/a",
            "run",
            "--api",
            "127.0.0.1:0",
            "--mdns",
            "false",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(
            run.settings.data_dir.or(cli.global.data_dir),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(run.settings.api, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(run.settings.mdns, Some(false));

        let cli = parse(&["run", "--data-dir", "/c"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(
            run.settings.data_dir.or(cli.global.data_dir),
            Some(PathBuf::from("/c"))
        );
    }

    #[test]
    fn client_commands_parse_their_arguments() {
        let peer = PeerId::random();
        let cli = parse(&["block", &peer.to_string(), "--reason", "spam"]).unwrap();
        assert!(
            matches!(cli.command, Command::Client(ClientCommand::Block { peer_id, reason: Some(ref r) }) if peer_id == peer && r == "spam")
        );
        assert!(parse(&["block", "not-a-peer"]).is_err());
        assert!(parse(&["connect", "not-an-addr"]).is_err());
        let cli = parse(&["connect", "/ip4/127.0.0.1/tcp/4001"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Client(ClientCommand::Connect { .. })
        ));
        let cli = parse(&["join", "kith1abc", "--replace"]).unwrap();
        assert!(matches!(cli.command, Command::Join { replace: true, .. }));
        assert!(matches!(
            parse(&["network", "new"]).unwrap().command,
            Command::Network {
                command: NetworkCommand::New
            }
        ));
        assert!(matches!(
            parse(&["peers", "--json"]).unwrap().command,
            Command::Client(ClientCommand::Peers { json: true })
        ));
    }
}
