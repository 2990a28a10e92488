//! The defaults of a daemon's spec (SPEC §2, §3, §6), in one place: `start` fills a spec with
//! them, `export` falls back on them for what a spec does not say, `stop` and `start` (a daemon
//! that did not become ready) stop on them. The spec file itself is `state`'s (`NAME.json`).

use std::time::Duration;

/// `--ready-timeout`'s default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// `stop --timeout`'s default: how long after the first signal SIGKILL follows. The command
/// line says it as text (`"10s"`, clap's default); a unit test of `cli` checks that they agree.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// `--restart-delay`'s default.
pub const RESTART_DELAY: Duration = Duration::from_secs(1);
/// `--max-restarts`'s default.
pub const MAX_RESTARTS: u32 = 5;
/// `--restart-window`'s default.
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);
/// `--log-keep`'s default.
pub const LOG_KEEP: u32 = 5;
