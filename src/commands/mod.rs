//! One module per subcommand; each `run` orchestrates and returns the exit code of a normal
//! outcome. None of them calls libc: that is `daemonize` and `process`.

pub mod export;
pub mod forget;
pub mod list;
pub mod restart;
pub mod start;
pub mod status;
pub mod stop;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::Code;
use crate::paths::Ctx;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Code> {
    let ctx = Ctx::new(cli.dir, cli.quiet, cli.verbose)?;
    match cli.command {
        Command::Start(args) => start::run(args, &ctx),
        Command::Stop(args) => stop::run(args, &ctx),
        Command::Status(args) => status::run(args, &ctx),
        Command::List(args) => list::run(args, &ctx),
        Command::Restart(args) => restart::run(args, &ctx),
        Command::Forget(args) => forget::run(args, &ctx),
        Command::Export(args) => export::run(args, &ctx),
    }
}
