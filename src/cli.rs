//! The command line: what `kith` accepts, parsed by clap's derive API.
//!
//! `--data-dir` and `--config` (also `KITH_DATA_DIR`, `KITH_CONFIG`) are global: they may come
//! before or after the subcommand, because every command needs to know which node it is about.
//! `kith run` takes all of the node's settings as flags ([`RawSettings`], shared with `kith.toml`
//! and the `KITH_*` environment), which includes these two again; a value given after `run` wins.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kith_client::{Multiaddr, ObjectId, PeerId};
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
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once and moved into its handler; boxing `RunArgs` saves nothing"
)]
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
    /// Set (or change) the web UI password, read from the terminal or one line of stdin
    Passwd,
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
    /// Print a one-time link that logs a browser in to the web UI (valid for an hour)
    Login,
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
    /// Mute a person: hide their posts and notifications without unfollowing or telling them
    Mute {
        /// The person to mute
        peer_id: PeerId,
    },
    /// Unmute a person
    Unmute {
        /// The person to unmute
        peer_id: PeerId,
    },
    /// List muted people
    Mutes {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Write a post (the words are joined with spaces)
    Post {
        /// The text
        #[arg(required = true, num_args = 1.., value_name = "TEXT")]
        text: Vec<String>,
        /// The id of the post this one answers
        #[arg(long, value_name = "ID")]
        reply_to: Option<ObjectId>,
        /// The id of the post this one quotes
        #[arg(long, value_name = "ID")]
        quote: Option<ObjectId>,
    },
    /// Show the home timeline: your posts and those of the people you follow, newest first
    Timeline {
        /// How many posts (1 to 200)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=200))]
        limit: Option<u64>,
        /// Start after this cursor (printed at the end of the previous page)
        #[arg(long, value_name = "CURSOR")]
        before: Option<String>,
        /// Print the API's JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show the replies to a post this node holds, newest first
    Replies {
        /// The post's id
        id: ObjectId,
        /// Print the API's JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show what happened to you: replies, likes, follows and follow requests, newest first
    Notifications {
        /// How many (1 to 200)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=200))]
        limit: Option<u64>,
        /// Print the API's JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Search the people and posts this node knows (the words are joined with spaces)
    Search {
        /// What to look for: every word must match (a name, a peer id, words of a post)
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// How many people and how many posts at most (1 to 50)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=50))]
        limit: Option<u64>,
        /// Print the API's JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show one post
    Show {
        /// The post's id
        id: ObjectId,
        /// Print the API's JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Delete one of your posts
    Delete {
        /// The post's id
        id: ObjectId,
    },
    /// Like a post
    Like {
        /// The post's id
        id: ObjectId,
    },
    /// Show a person: their profile, how you are connected, their latest posts
    User {
        /// Their peer id
        peer_id: PeerId,
        /// Print JSON ({"user":..,"posts":..}) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show your profile, or change it with the options given
    Profile {
        /// Your display name
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// A few words about you
        #[arg(long, value_name = "TEXT")]
        bio: Option<String>,
        /// A reference to your picture ("" removes it)
        #[arg(long, value_name = "REF")]
        avatar: Option<String>,
        /// Approve followers yourself (true) or let anyone follow (false)
        #[arg(long, value_name = "true|false")]
        locked: Option<bool>,
        /// Print the API's JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Follow a person
    Follow {
        /// Their peer id
        peer_id: PeerId,
    },
    /// Stop following a person
    Unfollow {
        /// Their peer id
        peer_id: PeerId,
    },
    /// List the people you follow
    Following {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// List the people who follow you
    Followers {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// List the follow requests waiting for you (locked accounts)
    Requests {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Approve a follow request
    Approve {
        /// Who asked
        peer_id: PeerId,
    },
    /// Reject a follow request
    Reject {
        /// Who asked
        peer_id: PeerId,
    },
    /// List your paired devices
    Devices {
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Pair a device: let that peer use your private routes
    Pair {
        /// The device's peer id
        peer_id: PeerId,
    },
    /// Unpair a device
    Unpair {
        /// The device's peer id
        peer_id: PeerId,
    },
    /// Print the node's live events as they come, one JSON object per line
    Events,
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

    #[test]
    fn social_commands_parse_their_arguments() {
        let id = "ab".repeat(32);
        let cli = parse(&["post", "hello", "world", "--reply-to", &id]).unwrap();
        let Command::Client(ClientCommand::Post {
            text,
            reply_to,
            quote,
        }) = cli.command
        else {
            panic!("expected post")
        };
        assert_eq!(text, ["hello", "world"]);
        assert_eq!(reply_to.map(|id| id.to_string()), Some(id.clone()));
        assert_eq!(quote, None);
        assert!(parse(&["post"]).is_err(), "a post needs text");
        assert!(parse(&["post", "x", "--quote", "not-an-id"]).is_err());
        assert!(parse(&["show", "ABCD"]).is_err());
        assert!(parse(&["like", &id]).is_ok());

        assert!(matches!(
            parse(&["timeline", "--limit", "20", "--before", "c1", "--json"])
                .unwrap()
                .command,
            Command::Client(ClientCommand::Timeline { limit: Some(20), before: Some(ref b), json: true }) if b == "c1"
        ));
        assert!(parse(&["timeline", "--limit", "0"]).is_err());
        assert!(parse(&["timeline", "--limit", "201"]).is_err());

        let cli = parse(&["profile", "--name", "Ada", "--locked", "true"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Client(ClientCommand::Profile { name: Some(ref n), bio: None, avatar: None, locked: Some(true), json: false }) if n == "Ada"
        ));
        assert!(parse(&["profile", "--locked", "maybe"]).is_err());
        assert!(matches!(
            parse(&["profile"]).unwrap().command,
            Command::Client(ClientCommand::Profile {
                name: None,
                bio: None,
                avatar: None,
                locked: None,
                ..
            })
        ));

        let peer = PeerId::random().to_string();
        for command in [
            "follow", "unfollow", "approve", "reject", "pair", "unpair", "user",
        ] {
            assert!(parse(&[command, &peer]).is_ok(), "{command}");
            assert!(parse(&[command, "nope"]).is_err(), "{command}");
        }
        assert!(matches!(
            parse(&["events"]).unwrap().command,
            Command::Client(ClientCommand::Events)
        ));
    }
}
