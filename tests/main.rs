//! rdaemon's integration tests: the real binary against real processes, checked in `/proc`.
//! One test binary (as ripgrep does) with a module per area.

mod common;

mod clone_cgroup;
mod completions;
mod containment;
mod export;
mod faults;
mod field_cli;
mod field_monitor;
mod field_start;
mod files;
mod foreground;
mod forget;
mod forking;
mod json;
mod list;
mod list_speed;
mod logs;
mod many;
mod monitor_duties;
mod monitor_memory;
mod pid_reuse;
mod pidfile_validation;
mod preflight;
mod privileges;
mod process_settings;
mod process_state;
mod races;
mod ready;
mod ready_kinds;
mod ready_speed;
mod reboot;
mod respawn;
mod respawn_ready;
mod restart;
mod scale;
mod security_files;
mod security_pids;
mod start;
mod status;
mod stop;
mod stress;
mod terminal;
mod up;
mod usage;
