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

/// mimalloc's `mi_option_arena_eager_commit`: its index in `mi_option_e` (mimalloc.h, the same
/// in mimalloc 2 and 3), which libmimalloc-sys does not name.
#[cfg(target_os = "linux")]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

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

/// Tells mimalloc to commit its arenas as they are used instead of all at once (issue 9).
///
/// On Linux mimalloc commits its first arena (1 GiB of address space) eagerly and advises
/// transparent huge pages for it, so with THP in `madvise` mode every 2 MiB region touched
/// becomes resident whole: an idle node held 72 MiB instead of 23. Committed on demand, an
/// arena is not advised and grows in small steps. The option must be set before mimalloc
/// reserves its first arena, which the Rust runtime's own allocations already do before `main`
/// (set at the top of `main`, it changed nothing), so it runs from `.init_array`, as the
/// process loads, before any Rust code allocates; the startup bench checks that it holds.
/// `set_default` leaves a `MIMALLOC_ARENA_EAGER_COMMIT` from the environment in force.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_MEMORY_ON_DEMAND: extern "C" fn() = commit_memory_on_demand;

#[cfg(target_os = "linux")]
extern "C" fn commit_memory_on_demand() {
    // SAFETY: sets one of mimalloc's option words, with a valid option index; this runs while
    // the process loads, on its only thread, so nothing reads or writes options concurrently.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
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
