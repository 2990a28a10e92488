//! The `rdaemon` binary: parse, run, map the outcome to an exit code.
//!
//! `main` is the C entry point (`#![no_main]`): Rust's runtime start-up (`lang_start`) is not
//! run. It cost every command about 0.1 ms of CPU, mostly finding the main thread's stack in
//! `/proc/self/maps` for a stack-overflow handler and mapping that handler's signal stack (issue
//! 18: `start` within 1.5× of a C program; the respawn monitor's memory). What rdaemon needs of
//! it is done by [`rdaemon::start_up`]; the exit goes through `std::process::exit`, which
//! flushes stdout as returning from Rust's `main` would.
#![no_main]
#![deny(unsafe_code)]

use std::ffi::{c_char, c_int};

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

// SAFETY: `no_mangle` exports this function as the symbol `main`, which the C runtime's start-up
// calls with the C signature written here. No other `main` is defined (`#![no_main]` keeps
// Rust's own from being generated), so the name clashes with nothing, and it is called once.
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    rdaemon::start_up();
    let cli = Cli::parse_or_exit();
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // Not std's `eprintln!`, which panics when the write fails (EIO from a terminal
            // that closed: the SIGHUP that ended the command came with it).
            rdaemon::output::write_err(format_args!("rdaemon: {}\n", exit::render(&err)));
            exit::code_of(&err)
        }
    };
    std::process::exit(code as i32)
}
