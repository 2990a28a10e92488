//! rdaemon's integration tests: the real binary against real processes, checked in `/proc`.
//! One test binary (as ripgrep does) with a module per area.

mod common;

mod faults;
mod forget;
mod list;
mod restart;
mod start;
mod status;
mod stop;
mod stress;
mod usage;
