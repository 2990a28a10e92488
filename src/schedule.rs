//! The stop schedule (OpenRC's `run_stop_schedule`) run against one process: used by `stop`,
//! by `start` to stop a daemon that did not become ready, and by `restart` through `stop`. Below
//! `commands/`, so that no command imports another for it.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::parse::{signal_name, Step};
use crate::process::{Pid, Process};
use crate::progress::Spinner;

/// Where a stop schedule's signals go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aim {
    /// The process group the daemon leads, when the signals go to the group.
    pub group: Option<Pid>,
    /// Signals other than SIGKILL go to the main process only (a respawn monitor, which
    /// forwards them to its child); SIGKILL still goes to the group.
    pub soft_to_main: bool,
}

/// Runs a stop schedule (OpenRC's `run_stop_schedule`): each signal goes where `aim` says,
/// followed by SIGCONT so that a stopped process can act on it; each wait returns as soon as the
/// main process exits. Returns whether it exited. Shows the waits on `spinner` (with the last
/// signal sent).
pub fn run_schedule_with(
    process: &Process,
    aim: Aim,
    schedule: &[Step],
    spinner: &mut Spinner,
) -> Result<bool, Errno> {
    run_schedule_noting(process, aim, schedule, spinner, &mut Vec::new(), &mut 0)
}

/// [`run_schedule_with`], noting in `sent` each signal it sent (SIGCONT aside) with how long
/// after the first, as the schedule's waits add up, so that `stop` can say what it took.
pub fn run_schedule_noting(
    process: &Process,
    aim: Aim,
    schedule: &[Step],
    spinner: &mut Spinner,
    sent: &mut Vec<(Signal, Duration)>,
    killed_below: &mut usize,
) -> Result<bool, Errno> {
    let mut waited = Duration::ZERO;
    // The clock tick of the first signal, less one, and a respawn monitor's descendants then
    // (pid, start time): what starts from then on, `stop` could not hold before it.
    let mut first_at = None;
    let mut known = Vec::new();
    let mut i = 0;
    while i < schedule.len() {
        match schedule[i] {
            Step::Signal(sig) => {
                if process.has_exited() {
                    return Ok(true);
                }
                if first_at.is_none() {
                    first_at = crate::process::boot_ticks().map(|t| t.saturating_sub(1));
                    if aim.soft_to_main {
                        known = crate::session::descendants_of(process.pid().get())
                            .into_iter()
                            .map(|e| (e.pid, e.stat.start_time))
                            .collect();
                    }
                }
                // A respawn monitor on its way out waits for what was started since the first
                // signal outside its process group (what its last `--on-exit` command left,
                // which no one else can reach once it has exited): that gets SIGKILL first,
                // counted in `killed_below`, and a monitor that then ends by itself was not the
                // one that needed it. Its group (the program) gets it with the monitor.
                if let (Signal::SIGKILL, true, Some(since)) = (sig, aim.soft_to_main, first_at) {
                    let killed =
                        crate::session::kill_descendants(process, since, &known, aim.group);
                    *killed_below += killed;
                    if killed > 0
                        && process
                            .wait_exit(MONITOR_END_GRACE)
                            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?
                    {
                        return Ok(true);
                    }
                }
                spinner.set_detail(format!("after SIG{}", signal_name(sig)));
                match send(process, aim, sig) {
                    Ok(()) => sent.push((sig, waited)),
                    Err(Errno::ESRCH) => return Ok(true),
                    Err(e) => return Err(e),
                }
            }
            Step::Wait(d) => {
                if spinner
                    .wait_with(d, |slice| process.wait_exit(slice))
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?
                {
                    return Ok(true);
                }
                waited += d;
            }
            Step::Forever => {
                i = 0;
                continue;
            }
        }
        i += 1;
    }
    // SIGKILL cannot be caught: a process that got it dies as soon as the kernel has torn it
    // down, which takes a moment (longer for a large one). A schedule that ends with a short
    // wait after it (`--retry 0`, `TERM/0/KILL/0`) must not report it still running.
    // The schedule's own waits after its SIGKILL count toward that grace: `TERM/1/KILL/5`
    // gives up 5 s after the SIGKILL, as SPEC §3 says, not 10 (a review timed 11 s).
    if let Some(&(Signal::SIGKILL, at)) = sent.last() {
        let grace = KILL_GRACE.saturating_sub(waited.saturating_sub(at));
        return spinner
            .wait_with(grace, |slice| process.wait_exit(slice))
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
    }
    Ok(process.has_exited())
}

/// How long a respawn monitor whose descendants got SIGKILL is given to end by itself, before
/// it gets SIGKILL too. It ends as soon as it has seen them gone.
const MONITOR_END_GRACE: Duration = Duration::from_millis(250);

/// How long a process that got SIGKILL is given to be gone once the schedule has ended: as long
/// as `--timeout`'s SIGKILL gets (SPEC §3). It ends as soon as the process has.
const KILL_GRACE: Duration = Duration::from_secs(5);

fn send(process: &Process, aim: Aim, sig: Signal) -> Result<(), Errno> {
    let group = aim
        .group
        .filter(|_| sig == Signal::SIGKILL || !aim.soft_to_main);
    let deliver = |s| match group {
        Some(g) => process.signal_group(g, s),
        None => process.signal(s),
    };
    deliver(sig)?;
    if sig != Signal::SIGKILL && sig != Signal::SIGCONT {
        // Best effort: the process may already be gone.
        let _ = deliver(Signal::SIGCONT);
    }
    Ok(())
}
