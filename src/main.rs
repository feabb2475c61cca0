//! `kith`: the command line of a Kith node.
//!
//! This binary only parses the command line ([`cli`]) and wires the library crates together:
//! `kith run` starts a node ([`run`]), the other commands handle key files or ask the running
//! node over its HTTP API ([`commands`]). Errors are printed with their whole chain of causes and
//! exit with status 1.

mod api_addr;
mod cli;
mod commands;
mod run;

use std::{io::Write, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command, NetworkCommand};

/// mimalloc rather than the system allocator: the node's hot paths (sled replacing tree nodes
/// on every write, the HTTP stack) allocate and free small blocks at a high rate.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long the runtime waits for leftover blocking work once a command has finished.
const RUNTIME_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`kith peers | head`): not a failure of ours.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    match command {
        // These only touch files: no runtime needed.
        Command::Network {
            command: NetworkCommand::New,
        } => commands::network_new(&mut std::io::stdout().lock()),
        Command::Join { code, replace } => {
            commands::join(&global, &code, replace, &mut std::io::stdout().lock())
        }
        Command::Passwd => commands::passwd(&global, &mut std::io::stdout().lock()),
        Command::Run(args) => block_on(run::run(&global, *args)),
        Command::Client(command) => block_on(async {
            let client = commands::client(&global)?;
            commands::run_client(&client, command, &mut std::io::stdout().lock()).await
        }),
    }
}

/// Runs `future` on a multi-threaded runtime, then gives leftover blocking work a moment to end.
fn block_on(future: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(future);
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_DEADLINE);
    result
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
