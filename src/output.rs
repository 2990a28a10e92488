//! The one writer for rdaemon's normal output (stdout) and its messages (stderr).
//!
//! Rust ignores SIGPIPE, so writing to a stdout whose reader is gone (`rdaemon list | head -1`)
//! fails with EPIPE, and std's `println!` turns that failure into a panic (exit 101, or 134 in a
//! release build, which aborts). SPEC §8 wants rdaemon to end quietly instead, and a `restart`
//! must never stop a daemon and then die on the "stopped" line before starting it again.
//!
//! So this module shadows `print!`, `println!`, `eprint!` and `eprintln!` for the whole crate
//! (`lib.rs` declares it first, with `#[macro_use]`): every call site, present and future, goes
//! through [`write_out`] or [`write_err`]; the binary (`main.rs`, another crate, which the
//! shadowing does not reach) writes its one error line through [`write_err`] too. A failed write to stdout means "stop printing": the
//! rest of the output is dropped and the command carries on to its end (a restart finishes, its
//! exit code stays the command's own). A broken pipe is silent; any other failure (a full disk
//! under `rdaemon list > file`) is said once on stderr. Writes to stderr never fail loudly:
//! there is nowhere left to report that.
//!
//! Must not: decide what is printed or where (commands do), or exit the process.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout has failed: from then on normal output is dropped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout (flushed, so that the order with stderr and with the daemon's own
/// output stays what the user sees); after the first failure, nothing more.
pub fn write_out(args: fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            write_err(format_args!(
                "rdaemon: cannot write to standard output: {}; the rest of the output is lost\n",
                crate::pidfile::os_reason(&e)
            ));
        }
    }
}

/// Writes `args` to stderr, ignoring failure: formatted first, then in one `write`, since
/// stderr has no buffer and `write_fmt` would write each piece on its own, so that a reader
/// of the same file (a log, a test) never sees half a line, nor another writer's in between.
pub fn write_err(args: fmt::Arguments<'_>) {
    let text = match args.as_str() {
        Some(text) => std::borrow::Cow::Borrowed(text),
        None => std::borrow::Cow::Owned(args.to_string()),
    };
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// `print!` through [`write_out`]: never panics.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*))
    };
}

/// `println!` through [`write_out`]: never panics.
macro_rules! println {
    () => {
        $crate::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` through [`write_err`]: never panics.
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!($($arg)*))
    };
}

/// `eprintln!` through [`write_err`]: never panics.
macro_rules! eprintln {
    () => {
        $crate::output::write_err(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
