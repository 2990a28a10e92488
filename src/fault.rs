//! Fault injection for the test suite: with `RDAEMON_FAULT=STAGE` in its environment, rdaemon
//! kills itself with SIGKILL when `start` reaches that stage, exactly as an impatient user or an
//! OOM killer would. The reliability tests use it to prove that a start killed anywhere leaves a
//! state the next start recovers from. Unset (always, outside those tests) a check costs one
//! environment lookup.
//!
//! Stages, in order: `before-fork` (everything checked, the temporary pidfile created),
//! `between-forks` (the parent, just after the first fork), `before-pidfile` (the grandchild
//! exists and waits; nothing is written yet), `between-commits` (the record is written, the
//! pidfile not yet), `before-exec` ("go" was sent; the exec is under way); and
//! `restart-before-start` (`restart`, its stop done, its start about to begin), and
//! `start-before-catch` (every check of a start passed, its signals not yet caught), and
//! `resurrect-running` (`resurrect`'s child for a daemon it found running, before it says so),
//! `resurrect-before-catch` (`resurrect`'s child before it catches any signal);
//! and, in any command, `session-scan` (a daemon's session found plausible, its members not yet
//! read), `session-listed` (the pids of `/proc` listed for that scan, none of them read yet),
//! `upfile-checked` (an up file's path checked, the file not yet opened), and
//! `socket-dup` (a socket of the daemon's duplicated with `pidfd_getfd` by a `tcp:`/`http:`
//! check, not yet closed).
//!
//! `RDAEMON_FAULT=STAGE:stop` stops rdaemon there instead (SIGSTOP): a test then sends it a
//! signal, which stays pending until its SIGCONT, and so arrives exactly at that stage.
//!
//! Two faults change what rdaemon sees instead ([`injected`]): `session-elusive` makes every
//! scan of a daemon's session report life it could not find, as a chain of processes that fork
//! and exit faster than `/proc` can be read would (no real chain outran the sweep in a test, so
//! `stop`'s failure for one is reached this way); `clone-vm-refused` makes `start` create its
//! children as where the kernel refuses `clone3` (a seccomp filter, a kernel before 5.3): forked,
//! not sharing its memory.
//!
//! `RDAEMON_FAULT` may name several, separated by commas (`clone-vm-refused,before-pidfile:stop`).

use nix::sys::signal::{raise, Signal};

/// The environment variable that names the stage at which to die.
pub const VAR: &str = "RDAEMON_FAULT";

/// Dies here with SIGKILL if `RDAEMON_FAULT` names `stage` (stops with SIGSTOP if it names
/// `stage:stop`).
pub fn point(stage: &str) {
    let Some(value) = std::env::var_os(VAR) else {
        return;
    };
    for fault in value.to_str().unwrap_or_default().split(',') {
        if fault == stage {
            let _ = raise(Signal::SIGKILL);
        } else if fault.strip_suffix(":stop") == Some(stage) {
            let _ = raise(Signal::SIGSTOP);
        }
    }
}

/// Whether `RDAEMON_FAULT` names `fault`, one that changes what rdaemon sees rather than where
/// it dies (`session-elusive`, `clone-vm-refused`).
pub fn injected(fault: &str) -> bool {
    std::env::var_os(VAR).is_some_and(|v| {
        v.to_str()
            .unwrap_or_default()
            .split(',')
            .any(|f| f == fault)
    })
}
