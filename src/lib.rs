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

pub(crate) mod account;
pub(crate) mod cgroup;
pub mod cli;
pub mod commands;
#[allow(unsafe_code)]
pub(crate) mod daemonize;
pub(crate) mod deliver;
pub mod exit;
pub(crate) mod fault;
pub(crate) mod forking;
pub(crate) mod fsx;
pub(crate) mod jobs;
pub(crate) mod logs;
pub mod manpage;
pub mod parse;
pub(crate) mod paths;
pub(crate) mod pidfile;
pub(crate) mod plan;
pub(crate) mod preflight;
pub(crate) mod probe;
#[allow(unsafe_code)]
pub mod process;
pub(crate) mod procopts;
pub(crate) mod progress;
pub mod ready;
pub(crate) mod rotate;
pub(crate) mod schedule;
pub(crate) mod session;
pub(crate) mod sockets;
pub(crate) mod spec;
pub mod state;
pub(crate) mod supervisor;
pub(crate) mod target;
pub(crate) mod upfile;
pub(crate) mod view;

pub use daemonize::start_up;
