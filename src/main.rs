//! The `rdaemon` binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

use rdaemon::cli::Cli;
use rdaemon::{commands, exit};

fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("rdaemon: {}", exit::render(&err));
            exit::code_of(&err).into()
        }
    }
}
