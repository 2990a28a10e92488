//! The `rdaemon` binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

use rdaemon::cli::Cli;
use rdaemon::{commands, exit};

// The unwinder from libgcc_eh.a, linked in, instead of libgcc_s.so: panics abort (panic =
// "abort"), so it only serves backtraces, and one shared library less to load and relocate
// makes every command start faster and every resident monitor smaller (issue 18). Named
// here, in the binary, so that it comes before std's `-lgcc_s` on the link line, which then
// goes unused (`--as-needed`). The static libgcc is what `gcc -static-libgcc` links.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[link(name = "gcc_eh", kind = "static")]
extern "C" {}

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
