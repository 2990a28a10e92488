//! rdaemon turns any program into a well-behaved Unix daemon and hands it back by name.
//!
//! The binary (`src/main.rs`) is a thin shell over this library; the library exists so that
//! the parsers can be fuzzed and tested on their own. `SPEC.md` in the project's shared folder
//! fixes the behaviour; `docs/ARCHITECTURE.md` explains the layout. Linux only.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

// First, so that its `print!`/`println!`/`eprint!`/`eprintln!` shadow std's in every module
// below: a closed stdout must end rdaemon quietly, never in a panic (see `output`).
#[macro_use]
pub mod output;

pub mod account;
pub mod cgroup;
pub mod cli;
pub mod commands;
#[allow(unsafe_code)]
pub mod daemonize;
pub mod deliver;
pub mod exit;
pub mod fault;
pub mod fsx;
pub mod logs;
pub mod manpage;
pub mod parse;
pub mod paths;
pub mod pidfile;
pub mod plan;
pub mod probe;
#[allow(unsafe_code)]
pub mod process;
pub mod progress;
pub mod ready;
pub mod schedule;
pub mod session;
pub mod sockets;
pub mod spec;
pub mod state;
pub mod supervisor;
pub mod target;
pub mod view;
