//! Exit codes and the typed errors that carry one.
//!
//! Commands return `Result<Code>`: the `Ok` side is the code of a normal outcome (status uses 1, 3
//! and 4 for answers, not failures), the `Err` side is an `anyhow::Error` whose chain may hold a
//! [`Fail`] that picks a code other than 1. `main` walks the chain (as ripgrep does) to find it.

use std::fmt;
use std::io;

/// The exit codes of the contract (SPEC §8, LSB for `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Success; for `status`: running.
    Ok = 0,
    /// Failure; for `status`: dead but the pidfile exists, or a respawn daemon that gave up.
    Failure = 1,
    /// Usage error: malformed option, name or value.
    Usage = 2,
    /// `status`: not running.
    NotRunning = 3,
    /// Insufficient privilege; for `status`: unknown (invalid or unreadable pidfile).
    Privilege = 4,
    /// LSB's "program is not running" for an action other than `status`: `signal` and
    /// `reload` of a daemon that does not run (SPEC §5).
    ProgramNotRunning = 7,
    /// rdaemon got SIGHUP while `start` waited for readiness (128 + 1, as shells report it).
    HangUp = 129,
    /// Ctrl-C (SIGINT) while `start` waited for readiness (128 + 2, SPEC §2.1).
    Interrupted = 130,
    /// rdaemon got SIGTERM while `start` waited for readiness (128 + 15).
    Terminated = 143,
}

impl Code {
    /// How bad an outcome is, for [`Code::worst`]: 0 (success) < 3 (not running) < 7
    /// (program not running) < 1 (failure) < 2 (usage) < 4 (privilege: unknown for `status`)
    /// < the interruptions.
    fn severity(self) -> u8 {
        match self {
            Code::Ok => 0,
            Code::NotRunning => 1,
            Code::ProgramNotRunning => 2,
            Code::Failure => 3,
            Code::Usage => 4,
            Code::Privilege => 5,
            Code::HangUp | Code::Terminated => 6,
            Code::Interrupted => 7,
        }
    }

    /// The exit code of a command over several daemons: the worst of theirs, in the order of
    /// [`Code::severity`]. So `stop a b` exits the highest of 4 > 1 > 0; `signal` and `reload`
    /// 4 > 1 > 7 > 0. Usage errors (2) end a command before it acts on any daemon. (`status`
    /// of several daemons does not use it: 0 when all run, else 3, as SPEC §5 says.)
    pub fn worst(codes: impl IntoIterator<Item = Code>) -> Code {
        codes
            .into_iter()
            .max_by_key(|c| c.severity())
            .unwrap_or(Code::Ok)
    }
}

/// An error that must end rdaemon with a specific exit code.
#[derive(Debug)]
pub struct Fail {
    /// The exit code this error maps to.
    pub code: Code,
    message: String,
}

impl Fail {
    /// A usage error (exit 2): the user typed something malformed.
    pub fn usage(message: impl Into<String>) -> Fail {
        Fail {
            code: Code::Usage,
            message: message.into(),
        }
    }

    /// rdaemon was interrupted by `sig` (SIGINT, SIGTERM or SIGHUP): exit 128 + its number, as
    /// a shell reports a command a signal ended (130 for Ctrl-C).
    pub fn interrupted(sig: nix::sys::signal::Signal, message: impl Into<String>) -> Fail {
        use nix::sys::signal::Signal;
        Fail {
            code: match sig {
                Signal::SIGHUP => Code::HangUp,
                Signal::SIGTERM => Code::Terminated,
                _ => Code::Interrupted,
            },
            message: message.into(),
        }
    }

    /// `status` found nothing of what it was asked about running (exit 3, LSB's "not
    /// running"), said as an error.
    pub fn not_running(message: impl Into<String>) -> Fail {
        Fail {
            code: Code::NotRunning,
            message: message.into(),
        }
    }

    /// Permission to signal or act was denied (exit 4).
    pub fn privilege(message: impl Into<String>) -> Fail {
        Fail {
            code: Code::Privilege,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// The exit code for an error: the first [`Fail`] in its chain, else 1.
pub fn code_of(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Fail>().map(|fail| fail.code))
        .unwrap_or(Code::Failure)
}

/// The one rendering of an OS error (SPEC §8): the C library's text, `No such file or
/// directory` — never nix's `ENOENT: No such file or directory` nor Rust's `... (os error 2)`.
pub fn os_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => e.to_string(),
    }
}

/// An I/O error as an error whose text is only the OS reason (see [`os_reason`]).
pub fn os_error(e: io::Error) -> anyhow::Error {
    anyhow::anyhow!(os_reason(&e))
}

/// An error with its causes, `what failed: why: why`, as `{:#}` prints it but with every OS
/// error in the chain rendered by [`os_reason`]. Everything rdaemon prints about an error goes
/// through this.
pub fn render(err: &anyhow::Error) -> String {
    err.chain()
        .map(|cause| {
            if let Some(e) = cause.downcast_ref::<io::Error>() {
                os_reason(e)
            } else if let Some(errno) = cause.downcast_ref::<nix::errno::Errno>() {
                errno.desc().to_owned()
            } else {
                cause.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_worst_code_wins() {
        use Code::*;
        assert_eq!(Code::worst([]), Ok);
        assert_eq!(Code::worst([Ok, Ok]), Ok);
        assert_eq!(Code::worst([Ok, NotRunning, Ok]), NotRunning);
        assert_eq!(Code::worst([NotRunning, Failure]), Failure);
        assert_eq!(Code::worst([Failure, Privilege, NotRunning]), Privilege);
        assert_eq!(Code::worst([ProgramNotRunning, Ok]), ProgramNotRunning);
        assert_eq!(Code::worst([ProgramNotRunning, Failure]), Failure);
    }

    #[test]
    fn code_is_found_under_context() {
        let err = Err::<(), _>(Fail::usage("bad name"))
            .context("start")
            .unwrap_err();
        assert_eq!(code_of(&err), Code::Usage);
        assert_eq!(format!("{err:#}"), "start: bad name");
    }

    #[test]
    fn os_errors_have_one_rendering() {
        let io = io::Error::from_raw_os_error(24);
        assert_eq!(os_reason(&io), "Too many open files");
        let err = anyhow::Error::new(io).context("cannot open 'x'");
        assert_eq!(render(&err), "cannot open 'x': Too many open files");
        let err = anyhow::Error::new(nix::errno::Errno::ENOENT).context("cannot read 'y'");
        assert_eq!(render(&err), "cannot read 'y': No such file or directory");
        let err = anyhow::Error::new(Fail::usage("bad")).context("start");
        assert_eq!(render(&err), format!("{err:#}"));
    }

    #[test]
    fn plain_errors_are_failures() {
        assert_eq!(code_of(&anyhow::anyhow!("boom")), Code::Failure);
        let err = anyhow::Error::new(Fail::privilege("no")).context("stop");
        assert_eq!(code_of(&err), Code::Privilege);
    }
}
