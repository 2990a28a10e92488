//! The respawn monitor (`start --respawn`, SPEC §6): `rdaemon __monitor NAME`, exec'd by `start`
//! as the daemon, keeps PROGRAM running as its child.
//!
//! It owns: the child's life (start through `daemonize::spawn_child`, reap, restart with backoff,
//! give up after too many restarts, or end after a clean exit with `--restart on-failure`; the
//! first child is on trial until `start` hands over: its exit then is reported to `start`, which
//! fails and stops the monitor, and is not restarted, SPEC §2.1),
//! forwarding signals to the child, the respawn fields of the status (`child_pid`, `restarts`,
//! `last_exit`, `failed`), with `--log-max-size` or `--log-timestamps` the log files (the child
//! writes into pipes; the monitor appends, stamps and rotates, at line boundaries where it can,
//! never past `--log-max-size`), and with `--ready notify` the notify socket once `start` has
//! handed it over (`READY=1`, `STATUS=`, `RELOADING=1`, `STOPPING=1`, `WATCHDOG=1`, `MAINPID=`
//! into the status: SPEC §6, sd_notify for life). It runs `--health` checks and enforces
//! `--watchdog` (stopping and restarting the program), and runs `--on-exit` after each exit;
//! helpers (`--on-exit`, `--health cmd:`) are std `Command` children in their own process
//! groups, reaped with the rest and killed at their deadline.
//!
//! It must not: fork or exec itself (that is `daemonize`; helpers come from std `Command`), poll
//! on a timer (it blocks in `poll` on a signal self-pipe, the log pipes and the notify socket,
//! with a timeout only while a restart delay, a record update, the end of an open line held
//! back from the log, a health check, the watchdog, a SIGKILL or a helper's deadline is
//! pending), do work in signal handlers (signal-hook's handlers only write to the self-pipe),
//! start threads, or block on the name's lock (`stop` holds that lock while it waits for the
//! monitor to exit; see "Locking" in docs/ARCHITECTURE.md).
//!
//! The shape is s6-supervise's: an explicit [`State`], events from the self-pipe and the clock,
//! and a pure table [`action`] from (state, event) to what to do. Backoff and the restart limit
//! are pure too ([`Backoff`], step/cap/window as OpenRC's `respawn_*`), as is the choice of
//! rotation points ([`next_cut`]), so they are unit-tested here.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

use crate::cli::MonitorArgs;
use crate::daemonize::{self, Credentials, Plan};
use crate::exit::Code;
use crate::fsx::{self, Dir, Rights};
use crate::parse::{format_duration, Name};
use crate::paths::Ctx;
use crate::pidfile;
use crate::plan::{self, send_report};
use crate::process::{self, Ended, Pid, Process};
use crate::ready::{self, Notice, NotifySocket, ReadySpec};
use crate::rotate::RotatingLog;
use crate::session;
use crate::spec::Spec;
use crate::state::{
    HealthFailing, LastExit, Mode, NotifyState, NotifyStatus, Record, RestartPolicy, Status,
    StopReason,
};

/// The delay never doubles past this (unless `--restart-delay` itself is longer).
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A child that ran this long was no quick failure: the next delay is `--restart-delay` again.
pub const RESET_AFTER: Duration = Duration::from_secs(60);
/// The exit status recorded when the child could not even be executed (as a shell reports a
/// command it cannot run).
pub const SPAWN_FAILED_STATUS: i32 = 127;
/// Size of the buffer the log pipes are read into (a pipe's default capacity).
const READ_BUFFER: usize = 64 * 1024;
/// Reads per pipe per wake-up, so that a chatty child cannot starve signal handling.
const READS_PER_WAKE: usize = 16;
/// How long the end of an open line may be held back before it is written anyway.
pub const HOLD_FOR: Duration = Duration::from_secs(1);
/// How long after SIGKILL the monitor waits for leftovers before it restarts the child anyway.
const LEFTOVER_KILL_WAIT: Duration = Duration::from_secs(5);
/// How long a monitor ending on its own waits for what its last child left (sent SIGTERM) to
/// leave the daemon's cgroup, which it then removes ([`Monitor::leave_cgroup`]).
const LEAVE_WAIT: Duration = Duration::from_secs(1);

/// A program that exits 0 within this, leaving a process behind, is taken for one that put
/// itself in the background (`memcached -d`): the leftover line says to use `--forking`.
const DAEMONIZED_WITHIN: Duration = Duration::from_secs(2);
/// How often a leftover held without a pidfd is checked (kernels before 5.3 only).
const BLIND_CHECK: Duration = Duration::from_millis(5);

/// The signals the monitor handles. SIGPIPE is caught (and dropped) rather than ignored: an
/// ignored disposition would be inherited across exec, a caught one is reset.
const SIGNALS: [Signal; 9] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGQUIT,
    Signal::SIGCHLD,
    Signal::SIGPIPE,
];

// ---------------------------------------------------------------------------------------------
// Backoff and the restart limit: pure.

/// The restart policy of one daemon (`--restart-delay`, `--max-restarts`, `--restart-window`,
/// `--restart`) and what the monitor watches while the program runs (`--ready notify`,
/// `--health`, `--watchdog`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Delay before the first restart.
    pub delay: Duration,
    /// Restarts allowed within `window`; 0 for no limit.
    pub max_restarts: u32,
    /// The window of `max_restarts`.
    pub window: Duration,
    /// After which exits to restart.
    pub restart: RestartPolicy,
    /// `--ready notify`: the program is ready once it says `READY=1` (else at once).
    pub notify: bool,
    /// `--health-interval` and `--health-retries`, with `--health`.
    pub health: Option<HealthPolicy>,
    /// `--watchdog`.
    pub watchdog: Option<Duration>,
    /// `--forking`: the program daemonizes itself; the launcher and the pidfile have this long
    /// (`--ready-timeout`) before the launch counts as failed. `None`: the child is the program.
    pub forking: Option<Duration>,
    /// The spec's `--stop-signal`: besides SIGTERM and SIGINT, the signal that stops the
    /// monitor (`stop` sends it), forwarded to the child as it is.
    pub stop_signal: Signal,
    /// The spec's `--stop-timeout`: how long a program the monitor stops itself (unhealthy,
    /// watchdog), or what an exited child left behind, has after the stop signal before SIGKILL.
    pub stop_timeout: Duration,
}

impl Policy {
    /// Whether `sig` tells the monitor to stop.
    fn stops(&self, sig: Signal) -> bool {
        matches!(sig, Signal::SIGTERM | Signal::SIGINT) || sig == self.stop_signal
    }
}

impl Policy {
    /// A policy with the defaults of SPEC §6 but for the restart delay and limit.
    pub fn new(delay: Duration, max_restarts: u32, window: Duration) -> Policy {
        Policy {
            delay,
            max_restarts,
            window,
            restart: RestartPolicy::Always,
            notify: false,
            health: None,
            watchdog: None,
            forking: None,
            stop_signal: Signal::SIGTERM,
            stop_timeout: crate::spec::STOP_TIMEOUT,
        }
    }
}

/// How often the health check runs, and how many failures in a row restart the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// `--health-interval`.
    pub interval: Duration,
    /// `--health-retries`.
    pub retries: u32,
    /// After a restart, how long failed checks do not count unless one passed first: the
    /// spec's `--ready-timeout` when its `--ready` is a condition the program takes time to
    /// meet (`tcp:`, `http:`, `file:`, `log:`, `cmd:`); zero otherwise (`start` waited for it
    /// on the first run; `notify` begins the checks at `READY=1`).
    pub grace: Duration,
}

/// What follows an exit of the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    Restart(Duration),
    /// Too many restarts within the window: stop trying.
    GiveUp,
}

/// The memory of past exits and restarts that the policy needs.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    /// The delay chosen after the previous exit.
    last_delay: Option<Duration>,
    /// When the restarts still inside the window happened (at most `max_restarts`).
    restarts: VecDeque<Instant>,
}

impl Backoff {
    /// Decides what follows an exit at `now` of a child that ran for `ran_for`: give up when
    /// `max_restarts` restarts already happened within the window ending now; else restart after
    /// `delay`, doubled for each consecutive quick failure, capped at [`MAX_DELAY`], back to
    /// `delay` once a child has run [`RESET_AFTER`].
    pub fn on_exit(&mut self, policy: &Policy, now: Instant, ran_for: Duration) -> Decision {
        while let Some(&first) = self.restarts.front() {
            if now.saturating_duration_since(first) < policy.window {
                break;
            }
            self.restarts.pop_front();
        }
        if policy.max_restarts > 0 && self.restarts.len() >= policy.max_restarts as usize {
            return Decision::GiveUp;
        }
        let delay = match self.last_delay {
            Some(prev) if ran_for < RESET_AFTER => {
                prev.saturating_mul(2).min(MAX_DELAY.max(policy.delay))
            }
            _ => policy.delay,
        };
        self.last_delay = Some(delay);
        Decision::Restart(delay)
    }

    /// Notes that the child was restarted at `now`.
    pub fn on_restart(&mut self, policy: &Policy, now: Instant) {
        if policy.max_restarts == 0 {
            return;
        }
        self.restarts.push_back(now);
        while self.restarts.len() > policy.max_restarts as usize {
            self.restarts.pop_front();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The state machine: states, events, effects and the whole (state, event) → (state, effects)
// table. Pure.

/// Where the monitor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing started yet: the first clock tick starts the first child.
    New,
    /// A child is being started (the `Spawn` effect); its outcome is the next event. `first`:
    /// the first child, which is no restart.
    Starting { first: bool },
    /// The first child runs, since `since`, while `start` waits for it to be ready (SPEC
    /// §2.1): until `start` hands the status over, its exit is reported to `start`, which fails
    /// and stops the monitor, and is not restarted.
    Trial { child: Pid, since: Instant },
    /// The first child ended (`ended`, at `at`) before `start` saw it ready, and `start` was
    /// told: the monitor waits for `start` to stop it, restarting nothing. Should `start` hand
    /// over all the same (it saw the program ready just before the exit), the exit is then
    /// handled as any other.
    Held {
        child: Pid,
        since: Instant,
        at: Instant,
        ended: Ended,
    },
    /// The child runs, since `since`.
    Running {
        child: Pid,
        since: Instant,
        /// With `--ready notify`, what it last said of its state (`None` otherwise).
        said: Option<NotifyState>,
        /// Health checks failed in a row.
        failures: u32,
        /// When the next health check is due; `None` before the program is ready and while a
        /// check runs.
        health_at: Option<Instant>,
        /// A health check runs (its outcome is the next `Health` event).
        checking: bool,
        /// When the watchdog expires unless `WATCHDOG=1` comes first; `None` until it is
        /// armed (by the first `READY=1` or `WATCHDOG=1`).
        watchdog_at: Option<Instant>,
        /// After a restart, until the health check first passes (at the latest this instant,
        /// `--ready-timeout` after the restart), a failed check does not count: the program
        /// is not ready yet (SPEC §6: checks count once it is). `None` once it counts.
        grace_until: Option<Instant>,
    },
    /// The monitor stops the child itself (SIGTERM sent) for `reason`, to restart it; SIGKILL
    /// is due at `kill_at` (`None` once sent).
    Killing {
        child: Pid,
        since: Instant,
        reason: StopReason,
        kill_at: Option<Instant>,
    },
    /// No child: the next one starts at `at` (the restart delay).
    Waiting { at: Instant },
    /// `--forking`: the launched program runs, since `since`, and is to fork into the
    /// background and exit by `until`; what it leaves is adopted then.
    Launching {
        launcher: Pid,
        first: bool,
        since: Instant,
        until: Instant,
    },
    /// `--forking`: the launcher exited; the process it left is being found (the `Adopt`
    /// effect), whose outcome is the next event.
    Adopting {
        launcher: Pid,
        first: bool,
        since: Instant,
    },
    /// TERM or INT was forwarded: the monitor exits as soon as the child has.
    Stopping { child: Pid },
    /// The monitor is finished and exits with `code`.
    Done { code: Code },
}

/// What wakes the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A child was reaped.
    Exited { pid: Pid, how: LastExit },
    /// A signal other than SIGCHLD and SIGPIPE arrived.
    Signal(Signal),
    /// The clock: the poll loop woke up (at the `now` given to [`step`]); `leftovers`: what the
    /// last child left behind is still being stopped (the next child waits for that).
    Tick { leftovers: bool },
    /// The child asked for by `Spawn` was started.
    Spawned(Pid),
    /// The child asked for by `Spawn` could not be started, for this reason.
    SpawnFailed(String),
    /// A notify message from the program's processes (its `MAINPID=`, if any, checked: a
    /// descendant of the monitor).
    Notified(Notice),
    /// The outcome of the health check asked for by `CheckHealth`: why it failed, if it did.
    Health(Result<(), String>),
    /// `--forking`: the process the launcher left was adopted as the child.
    Adopted(Pid),
    /// `--forking`: no process could be adopted, for this reason.
    AdoptFailed(String),
    /// `start` has returned (it closed its end of the report pipe): the status is the
    /// monitor's, and the first child is on trial no more.
    HandedOver,
}

/// What the monitor does, in order, for one step of its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Pass the signal on to the child.
    Forward(Pid, Signal),
    /// A line of the monitor's own in the daemon's log.
    Say(String),
    /// Copy what the exited child's pipes still hold into the log.
    Drain,
    /// Record how the child ended (`last_exit`; no `child_pid` any more).
    NoteExit(LastExit),
    /// Count a restart (`restarts`).
    CountRestart,
    /// Record the new child (`child_pid`).
    ChildStarted(Pid),
    /// Stop what the exited child left behind.
    Cleanup(Pid),
    /// Start a child; the outcome comes back as `Spawned` or `SpawnFailed`.
    Spawn,
    /// `--forking`: find the process the launcher left (its pidfile's, or the only one) and
    /// adopt it; the outcome comes back as `Adopted` or `AdoptFailed`. `first`: the first
    /// child, whose outcome `start` waits for.
    Adopt { first: bool },
    /// `--forking`: the first launch failed: tell `start`, stop what it left, exit.
    Abort(String),
    /// Tell `start`, which waits for the first child to be ready, how that child ended.
    Report(Ended),
    /// The monitor gave up (state `failed`).
    Failed,
    /// Save the status, remove the pidfile, exit with `code`.
    Finish { code: Code, end: End },
    /// Run the health check; its outcome comes back as `Health`.
    CheckHealth,
    /// Run `--on-exit` for this exit, the daemon's state being `state` (`restarting`,
    /// `failed`, `stopped`).
    OnExit { how: LastExit, state: &'static str },
    /// The program said what state it is in (status `notify_state`).
    NotifyState(NotifyState),
    /// The program finished a reload (`RELOADING=1`, then `READY=1`): status `reloads` grows.
    Reloaded,
    /// The program's `STATUS=` text.
    StatusText(String),
    /// The program's `MAINPID=`.
    MainPid(i32, u64),
    /// `--health` checks are failing now, counted (status `health_failing`); `None` once one
    /// passes again.
    HealthFailing(Option<HealthFailing>),
}

/// Why the monitor ends ([`Effect::Finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It was told to stop (TERM, INT): state `stopped` if by `stop` or `down`, which mark the
    /// spec wanted stopped first; by anyone else (`kill`, the system going down) the daemon is
    /// still wanted running, and `dead` (SPEC §5: killed), as a daemon without a monitor
    /// would be. Whoever told it (`stop`, or `start` failing) stops the rest of the daemon
    /// and removes its cgroup.
    Asked,
    /// `--restart on-failure` saw a clean exit: state `stopped`.
    Clean,
    /// It gave up: state `failed`.
    GaveUp,
}

/// The monitor's machine, whole (s6-supervise's `actions[state][event]`): the next state and
/// what to do, from the state, the event, the restart policy and its memory, and the time.
/// Pure but for `backoff`, which it keeps; `restarts` is the count so far, for messages.
/// How long a program ran, as the monitor's log says it: milliseconds under a second (a
/// program that failed at once), else to the second (`3s`, `2m 5s`; `3s 7ms` read oddly).
fn format_ran_for(d: Duration) -> String {
    match d < Duration::from_secs(1) {
        true => format_duration(Duration::from_millis(d.as_millis() as u64)),
        false => format_duration(Duration::from_secs((d.as_millis() as u64 + 500) / 1000)),
    }
}

pub fn step(
    state: State,
    event: Event,
    policy: &Policy,
    backoff: &mut Backoff,
    restarts: u32,
    now: Instant,
) -> (State, Vec<Effect>) {
    use Signal::{SIGCONT, SIGKILL};
    // A child ended (or never started): restart it after the delay, or give up; with
    // `--restart on-failure`, a clean exit ends the monitor.
    let mut ended = |who: String, how: LastExit, ran_for: Duration, child: Option<Pid>| {
        let what = format!(
            "{who}: {} after {}",
            how.describe(),
            format_ran_for(ran_for)
        );
        let mut effects = vec![Effect::NoteExit(how.clone())];
        let clean = how.reason.is_none() && how.code == Some(0);
        if policy.restart == RestartPolicy::OnFailure && clean {
            effects.push(Effect::Say(format!(
                "{what}; not restarting it (--restart on-failure)"
            )));
            effects.extend(child.map(Effect::Cleanup));
            effects.push(Effect::OnExit {
                how,
                state: "stopped",
            });
            effects.push(Effect::Finish {
                code: Code::Ok,
                end: End::Clean,
            });
            return (State::Done { code: Code::Ok }, effects);
        }
        match backoff.on_exit(policy, now, ran_for) {
            Decision::Restart(delay) => {
                effects.push(Effect::Say(format!(
                    "{what}; restarting in {}",
                    format_duration(delay)
                )));
                effects.extend(child.map(Effect::Cleanup));
                effects.push(Effect::OnExit {
                    how,
                    state: "restarting",
                });
                (State::Waiting { at: now + delay }, effects)
            }
            Decision::GiveUp => {
                effects.push(Effect::Failed);
                effects.push(Effect::Say(format!(
                    "{what}; giving up after {} within {} (state: failed)",
                    crate::parse::counted(policy.max_restarts, "restart", "restarts"),
                    format_duration(policy.window)
                )));
                effects.push(Effect::OnExit {
                    how,
                    state: "failed",
                });
                effects.push(Effect::Finish {
                    code: Code::Failure,
                    end: End::GaveUp,
                });
                (
                    State::Done {
                        code: Code::Failure,
                    },
                    effects,
                )
            }
        }
    };
    let stop = |child: Pid, sig: Signal| {
        vec![Effect::Forward(child, sig), Effect::Forward(child, SIGCONT)]
    };
    // The monitor stops the child itself, to restart it.
    let kill = |child: Pid, since: Instant, reason: StopReason, why: String| {
        let mut effects = vec![Effect::Say(format!("{why}: stopping pid {child}"))];
        effects.extend(stop(child, policy.stop_signal));
        let state = State::Killing {
            child,
            since,
            reason,
            kill_at: Some(now + policy.stop_timeout),
        };
        (state, effects)
    };
    // A child (spawned, or adopted with `--forking`) runs from now on: what the monitor
    // watches starts afresh.
    let running = |child: Pid, since: Instant, restarted: bool| State::Running {
        child,
        since,
        said: policy.notify.then_some(NotifyState::Starting),
        failures: 0,
        // Without notify, the program counts as ready once started.
        health_at: policy
            .health
            .filter(|_| !policy.notify)
            .map(|h| now + h.interval),
        checking: false,
        watchdog_at: None,
        grace_until: policy
            .health
            .filter(|h| restarted && !h.grace.is_zero())
            .map(|h| now + h.grace),
    };
    match (state, event) {
        (State::Done { .. }, _) => (state, vec![]),
        (State::New, Event::Tick { .. }) => (State::Starting { first: true }, vec![Effect::Spawn]),
        (State::Starting { first }, Event::Spawned(launcher)) if policy.forking.is_some() => {
            let until = now + policy.forking.unwrap_or_default();
            (
                State::Launching {
                    launcher,
                    first,
                    since: now,
                    until,
                },
                vec![],
            )
        }
        (
            State::Launching {
                launcher,
                first,
                since,
                ..
            },
            Event::Exited { pid, how },
        ) if pid == launcher => {
            if how.code == Some(0) {
                return (
                    State::Adopting {
                        launcher,
                        first,
                        since,
                    },
                    vec![Effect::Adopt { first }],
                );
            }
            let why = format!(
                "the program {} before it forked into the background (--forking)",
                match how.signal {
                    Some(_) => format!("was {}", how.describe()),
                    None => how.describe(),
                }
            );
            if first {
                return (
                    State::Done {
                        code: Code::Failure,
                    },
                    vec![Effect::Abort(why)],
                );
            }
            let ran_for = now.saturating_duration_since(since);
            ended(why, how, ran_for, Some(launcher))
        }
        (State::Adopting { first, since, .. }, Event::Adopted(child)) => {
            let mut effects = vec![Effect::ChildStarted(child)];
            if !first {
                effects.push(Effect::Say(format!(
                    "restarted: adopted pid {child} (restart {restarts})"
                )));
            }
            if policy.notify {
                effects.push(Effect::NotifyState(NotifyState::Starting));
            }
            match first {
                true => (State::Trial { child, since }, effects),
                false => (running(child, since, true), effects),
            }
        }
        (
            State::Adopting {
                launcher,
                first,
                since,
            },
            Event::AdoptFailed(why),
        ) => {
            if first {
                return (
                    State::Done {
                        code: Code::Failure,
                    },
                    vec![Effect::Abort(why)],
                );
            }
            let ran_for = now.saturating_duration_since(since);
            ended(why, LastExit::code(0), ran_for, Some(launcher))
        }
        (State::Launching { launcher, until, .. }, Event::Tick { .. }) if now >= until => (
            state,
            vec![
                Effect::Say(format!(
                    "pid {launcher} did not fork into the background and exit within {}: killing it",
                    format_duration(policy.forking.unwrap_or_default())
                )),
                Effect::Forward(launcher, Signal::SIGKILL),
            ],
        ),
        (State::Launching { launcher, .. }, Event::Signal(sig)) if policy.stops(sig) => {
            let mut effects = vec![Effect::Say(format!(
                "got SIG{}: stopping pid {launcher}",
                crate::parse::signal_name(sig)
            ))];
            effects.extend(stop(launcher, sig));
            (State::Stopping { child: launcher }, effects)
        }
        (State::Launching { launcher, .. }, Event::Signal(sig)) => {
            (state, vec![Effect::Forward(launcher, sig)])
        }
        (State::Starting { first }, Event::Spawned(child)) => {
            let mut effects = vec![Effect::ChildStarted(child)];
            if !first {
                effects.push(Effect::Say(format!(
                    "restarted as pid {child} (restart {restarts})"
                )));
            }
            if policy.notify {
                effects.push(Effect::NotifyState(NotifyState::Starting));
            }
            match first {
                true => (State::Trial { child, since: now }, effects),
                false => (running(child, now, true), effects),
            }
        }
        // The first child's exit while `start` waits for its readiness fails the start (SPEC
        // §2.1): `start` hears how it ended (after its last output, for the log's tail) and
        // stops the monitor.
        (State::Trial { child, since }, Event::Exited { pid, how }) if pid == child => {
            let ended = ended_of(&how);
            let held = State::Held {
                child,
                since,
                at: now,
                ended,
            };
            (held, vec![Effect::Drain, Effect::Report(ended)])
        }
        (State::Trial { child, since }, Event::HandedOver) => {
            (running(child, since, false), vec![])
        }
        (
            State::Held {
                child,
                since,
                at,
                ended: how,
            },
            Event::HandedOver,
        ) => {
            let ran_for = at.saturating_duration_since(since);
            ended(format!("pid {child}"), LastExit::from(how), ran_for, Some(child))
        }
        (State::Starting { .. }, Event::SpawnFailed(why)) => {
            let how = LastExit::code(SPAWN_FAILED_STATUS);
            ended(why, how, Duration::ZERO, None)
        }
        (State::Running { child, since, .. }, Event::Exited { pid, how }) if pid == child => {
            let ran_for = now.saturating_duration_since(since);
            let (next, mut effects) = ended(format!("pid {child}"), how, ran_for, Some(child));
            effects.insert(0, Effect::Drain);
            (next, effects)
        }
        (
            State::Killing {
                child,
                since,
                reason,
                ..
            },
            Event::Exited { pid, how },
        ) if pid == child => {
            let ran_for = now.saturating_duration_since(since);
            let how = LastExit {
                reason: Some(reason),
                ..how
            };
            let (next, mut effects) = ended(format!("pid {child}"), how, ran_for, Some(child));
            effects.insert(0, Effect::Drain);
            (next, effects)
        }
        (State::Stopping { child }, Event::Exited { pid, how }) if pid == child => (
            State::Done { code: Code::Ok },
            vec![
                Effect::Drain,
                Effect::NoteExit(how.clone()),
                Effect::OnExit {
                    how,
                    state: "stopped",
                },
                Effect::Finish {
                    code: Code::Ok,
                    end: End::Asked,
                },
            ],
        ),
        (_, Event::Exited { .. }) => (state, vec![]),
        (
            State::Running { child, .. } | State::Killing { child, .. } | State::Trial { child, .. },
            Event::Signal(sig),
        ) if policy.stops(sig) => {
            // A stopped (SIGSTOP, SIGTSTP) child acts on TERM only once continued, as exec
            // mode's `stop` does it: without SIGCONT, it would sit out the whole stop timeout,
            // be SIGKILLed with the monitor, and its exit would go unrecorded.
            let mut effects = vec![Effect::Say(format!(
                "got SIG{}: stopping pid {child}",
                crate::parse::signal_name(sig)
            ))];
            effects.extend(stop(child, sig));
            (State::Stopping { child }, effects)
        }
        (State::Stopping { child }, Event::Signal(sig)) if policy.stops(sig) => {
            (State::Stopping { child }, stop(child, sig))
        }
        // No child to pass it to (the first one, on trial, ended: `start` is stopping the
        // monitor): done at once.
        (State::Waiting { .. } | State::New | State::Held { .. }, Event::Signal(sig))
            if policy.stops(sig) =>
        {
            let finish = Effect::Finish {
                code: Code::Ok,
                end: End::Asked,
            };
            (State::Done { code: Code::Ok }, vec![finish])
        }
        (
            State::Running { child, .. }
            | State::Stopping { child }
            | State::Killing { child, .. }
            | State::Trial { child, .. },
            Event::Signal(sig),
        ) => (state, vec![Effect::Forward(child, sig)]),
        (State::Waiting { at }, Event::Tick { leftovers: false }) if now >= at => {
            backoff.on_restart(policy, now);
            (
                State::Starting { first: false },
                vec![Effect::CountRestart, Effect::Spawn],
            )
        }
        (
            State::Running {
                child,
                since,
                watchdog_at: Some(at),
                ..
            },
            Event::Tick { .. },
        ) if now >= at => {
            let limit = format_duration(policy.watchdog.unwrap_or_default());
            let why = format!("no WATCHDOG=1 from the program within {limit}");
            kill(child, since, StopReason::Watchdog, why)
        }
        (
            State::Running {
                child,
                since,
                said,
                failures,
                health_at: Some(at),
                checking: false,
                watchdog_at,
                grace_until,
            },
            Event::Tick { .. },
        ) if now >= at => (
            State::Running {
                child,
                since,
                said,
                failures,
                health_at: None,
                checking: true,
                watchdog_at,
                grace_until,
            },
            vec![Effect::CheckHealth],
        ),
        (
            State::Killing {
                child,
                since,
                reason,
                kill_at: Some(at),
            },
            Event::Tick { .. },
        ) if now >= at => (
            State::Killing {
                child,
                since,
                reason,
                kill_at: None,
            },
            vec![
                Effect::Say(format!(
                    "pid {child} still running {} after SIGTERM: sent SIGKILL",
                    format_duration(policy.stop_timeout)
                )),
                Effect::Forward(child, SIGKILL),
            ],
        ),
        (
            State::Running {
                child,
                since,
                said,
                failures,
                checking: true,
                watchdog_at,
                grace_until,
                ..
            },
            Event::Health(outcome),
        ) => {
            let Some(health) = policy.health else {
                return (state, vec![]);
            };
            let next = now + health.interval;
            let running = |failures, grace_until| State::Running {
                child,
                since,
                said,
                failures,
                health_at: Some(next),
                checking: false,
                watchdog_at,
                grace_until,
            };
            match outcome {
                // Passed: from now on every failure counts.
                Ok(()) if failures > 0 => (running(0, None), vec![Effect::HealthFailing(None)]),
                Ok(()) => (running(0, None), vec![]),
                // Restarted and not yet ready: not counted, as `start` would not have either.
                Err(why) if grace_until.is_some_and(|until| now < until) => {
                    let line = format!(
                        "health check failed while pid {child} starts (not counted until it first passes, or {} after the restart): {why}",
                        format_duration(health.grace)
                    );
                    (running(failures, grace_until), vec![Effect::Say(line)])
                }
                Err(why) => {
                    let failures = failures + 1;
                    let line = format!(
                        "health check failed ({failures} of {} in a row): {why}",
                        health.retries
                    );
                    if failures < health.retries {
                        let failing = HealthFailing {
                            failures,
                            retries: health.retries,
                            last: why,
                        };
                        return (
                            running(failures, None),
                            vec![Effect::Say(line), Effect::HealthFailing(Some(failing))],
                        );
                    }
                    let (next, mut effects) = kill(
                        child,
                        since,
                        StopReason::Unhealthy,
                        format!("{line}; unhealthy"),
                    );
                    effects.remove(0);
                    effects.insert(0, Effect::Say(format!("{line}: stopping pid {child}")));
                    // Said while the program is stopped, which may take its --stop-timeout
                    // (helper-105's review: the count before the last stayed shown).
                    effects.insert(
                        1,
                        Effect::HealthFailing(Some(HealthFailing {
                            failures,
                            retries: health.retries,
                            last: why,
                        })),
                    );
                    (next, effects)
                }
            }
        }
        (
            State::Running {
                child,
                since,
                said,
                failures,
                health_at,
                checking,
                watchdog_at,
                grace_until,
            },
            Event::Notified(notice),
        ) => {
            let mut effects = Vec::new();
            let mut said = said;
            let (mut health_at, mut watchdog_at) = (health_at, watchdog_at);
            if let Some(text) = notice.status {
                effects.push(Effect::StatusText(text));
            }
            if let (Some(pid), Some(start)) = (notice.main_pid, notice.main_pid_start) {
                effects.push(Effect::MainPid(pid, start));
            }
            if let Some(n) = notice.errno {
                effects.push(Effect::Say(format!(
                    "pid {child} reported ERRNO={n} ({})",
                    Errno::from_raw(n).desc()
                )));
            }
            let tell =
                |state: NotifyState, said: &mut Option<NotifyState>, effects: &mut Vec<Effect>| {
                    if *said != Some(state) {
                        *said = Some(state);
                        effects.push(Effect::NotifyState(state));
                    }
                };
            if notice.reloading {
                tell(NotifyState::Reloading, &mut said, &mut effects);
            }
            if notice.ready {
                if said == Some(NotifyState::Reloading) {
                    effects.push(Effect::Reloaded);
                }
                tell(NotifyState::Ready, &mut said, &mut effects);
                // Ready for the first time: the health checks begin.
                if health_at.is_none() && !checking {
                    health_at = policy.health.map(|h| now + h.interval);
                }
            }
            if notice.stopping {
                tell(NotifyState::Stopping, &mut said, &mut effects);
            }
            if notice.ready || notice.watchdog {
                watchdog_at = policy.watchdog.map(|d| now + d);
            }
            let running = State::Running {
                child,
                since,
                said,
                failures,
                health_at,
                checking,
                watchdog_at,
                grace_until,
            };
            (running, effects)
        }
        // The rest: a signal with no child to pass it to, a tick before its time, a spawn
        // outcome nobody asked for, a notice or a check outcome for a child being stopped.
        _ => (state, vec![]),
    }
}

/// How a reaped child ended, as `start` is told it ([`Effect::Report`]): its exit status or the
/// signal that killed it.
fn ended_of(how: &LastExit) -> Ended {
    match (how.code, how.signal) {
        (_, Some(sig)) => Ended::Signal(sig, false),
        (code, None) => Ended::Code(code.unwrap_or_default()),
    }
}

/// A pipe from the child's stdout and/or stderr into a rotating log.
#[derive(Debug)]
struct Output {
    /// The read end (non-blocking).
    pipe: File,
    log: RotatingLog,
    /// Whether the child's stderr goes here (the monitor's own messages follow it).
    stderr: bool,
    /// The last write failed (reported once, not at every chunk).
    failing: bool,
    /// `--log-timestamps`: each line begins with its time.
    timestamps: bool,
    /// The next byte begins a line (for `timestamps`).
    line_start: bool,
}

/// `data` with `stamp` and a space before each line that begins in it; `line_start` says whether
/// the first byte begins one, and is left saying whether the byte after `data` will.
pub fn stamp_lines(data: &[u8], line_start: &mut bool, stamp: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + stamp.len() + 1);
    for &b in data {
        if *line_start {
            out.extend_from_slice(stamp.as_bytes());
            out.push(b' ');
        }
        out.push(b);
        *line_start = b == b'\n';
    }
    out
}

impl Output {
    /// A write failed: the disk is full or the directory gone. The output is lost, the monitor
    /// lives and says so once on its own stderr (the log as `start` opened it).
    fn report(&mut self, name: &Name, err: &anyhow::Error) {
        if !self.failing {
            self.failing = true;
            let _ = writeln!(
                io::stderr(),
                "rdaemon: {name}: {}",
                crate::exit::render(err)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The first report to `start`.

// ---------------------------------------------------------------------------------------------
// The monitor.

/// `rdaemon __monitor NAME`: supervise the daemon whose record names this process.
pub fn run(args: MonitorArgs, ctx: &Ctx) -> Result<Code> {
    let mut ctx = ctx.clone();
    if let Some(runtime) = &args.runtime_dir {
        ctx.runtime = runtime.clone();
    }
    let ctx = &ctx;
    let mut report = args
        .report_fd
        .map(daemonize::claim_inherited_pipe)
        .transpose()?
        .map(File::from);
    let mut monitor = match Monitor::new(ctx, &args) {
        Ok(m) => m,
        Err(err) => {
            send_report(&mut report, Err(&err));
            return Err(err);
        }
    };
    // The first child goes through the machine like every other; only its outcome is also
    // reported to `start`, which cleans up itself if it could not be started.
    monitor.report = report;
    monitor.dirty = true;
    monitor.handle(Event::Tick { leftovers: false });
    if let Some(err) = monitor.fatal.take() {
        return Err(err);
    }
    // Resident for the daemon's life: what the set-up allocated and freed goes back (issue 18).
    crate::process::release_free_memory();
    monitor.run_loop()
}

/// The monitor's world.
/// How long the monitor leaves its notify socket unread after a read that left it full (a
/// flood: [`Monitor::read_notify`]).
const NOTIFY_REST: Duration = Duration::from_millis(50);

struct Monitor {
    ctx: Ctx,
    name: Name,
    pidfile: PathBuf,
    /// This process's start time, which the record must show for the monitor to update it.
    start_time: u64,
    policy: Policy,
    plan: Plan,
    /// The launch plan, whose env files are read again before each start of the child.
    launch: plan::Plan,
    outputs: Vec<Output>,
    buffer: Vec<u8>,
    signals: SignalDelivery<UnixStream, SignalOnly>,
    state: State,
    backoff: Backoff,
    // The record fields the monitor owns.
    child_pid: Option<i32>,
    /// `child_pid`'s start time, read before the child could be reaped (the status keeps it).
    child_start_time: Option<u64>,
    /// `--forking`: the process just adopted and its start time, as pinned when it was found
    /// (the adoption reaps zombies, which may include it: its pid no longer names it then).
    adopted: Option<(Pid, u64)>,
    /// When the current (or last) child was started, for the `--forking` hint.
    child_since: Option<Instant>,
    restarts: u32,
    last_exit: Option<LastExit>,
    failed: bool,
    /// It was told to stop (SIGTERM, SIGINT) and stopped its program.
    stopped: bool,
    /// They changed and are not saved yet.
    dirty: bool,
    /// The status was just saved (after the handoff, a restart, an exit): before it sleeps,
    /// the monitor gives back the memory that work used (issue 18).
    settle: bool,
    /// It settled once: the pages of its code that the set-up alone used are unmapped.
    settled: bool,
    /// The report pipe to `start`, while `start` still writes the status: the monitor writes
    /// it only once `start` has closed its end (poll reports an error on this end then).
    handoff: Option<File>,
    /// The notify socket is not read again before this: it was still full after a read, as a
    /// flood of others' messages keeps it ([`NOTIFY_REST`]).
    notify_rest: Option<Instant>,
    /// The report pipe to `start` until the first child is started.
    report: Option<File>,
    /// The first child could not be started and `start` was told: the monitor exits with this.
    fatal: Option<anyhow::Error>,
    /// What the last child left behind, being stopped before the next start.
    cleanup: Option<Cleanup>,
    /// `--ready notify`: the socket `start` passed on, read once `start` has handed over.
    notify: Option<NotifySocket>,
    /// Notify messages dropped (not from the program's processes); kept short.
    ignored: Vec<String>,
    /// With `--user`: the program's uid (a notify sender already gone is heard if it had it).
    program_uid: Option<u32>,
    /// What the program said over the notify socket, for the status.
    said: NotifyStatus,
    /// Its last `STATUS=` text, once the monitor has heard one.
    status_text: Option<String>,
    /// The status still holds an earlier program's `STATUS=` text, to be removed.
    clear_status_text: bool,
    /// `--health` checks failing now ([`Effect::HealthFailing`]).
    health_failing: Option<HealthFailing>,
    /// The clock tick (since boot) before the one in which it was first told to stop, and the
    /// descendants it had then (pid, start time): what started since, `stop` could not hold
    /// ([`Monitor::end_descendants`]).
    ending_since: Option<u64>,
    known_at_end: Vec<(i32, u64)>,
    /// `--health`.
    health: Option<ReadySpec>,
    /// A `cmd:` health check under way.
    health_run: Option<Helper>,
    /// `--on-exit`.
    on_exit: Option<String>,
    /// An `--on-exit` command under way.
    hook: Option<Helper>,
    /// What helpers (`--on-exit`, `--health cmd:`) run with: the program's environment,
    /// directory and credentials.
    env: BTreeMap<std::ffi::OsString, std::ffi::OsString>,
    chdir: PathBuf,
    creds: Option<Credentials>,
    /// `--forking --pidfile`: the pidfile the program writes (read, never written).
    program_pidfile: Option<PathBuf>,
    /// The daemon's cgroup (the monitor is in it too), for `--forking`'s identity check.
    cgroup: Option<crate::cgroup::Cgroup>,
    /// Helpers a `--forking` launch reaped, not yet routed ([`Monitor::hear_helpers_reaped_elsewhere`]).
    reaped_elsewhere: Vec<(i32, Ended)>,
}

/// A short-lived command the monitor runs beside the program (`--on-exit`, `--health cmd:`), in
/// a session and process group of its own; reaped with the rest by `reap_children`.
#[derive(Debug, Clone, Copy)]
struct Helper {
    pid: Pid,
    began: Instant,
    /// SIGKILL (to its group) is due then.
    deadline: Instant,
    killed: bool,
}

/// How long an `--on-exit` command may run (SPEC §6).
pub const ON_EXIT_LIMIT: Duration = Duration::from_secs(60);
/// How long the monitor, on its way out, waits for an `--on-exit` command before it kills it:
/// well within `stop`'s timeout, which is waiting for the monitor.
pub const ON_EXIT_FINAL_WAIT: Duration = Duration::from_secs(5);
/// The longest a `tcp:` or `http:` health check may block the monitor's loop.
pub const HEALTH_TRY_LIMIT: Duration = Duration::from_secs(2);

/// Processes an exited child left behind (its process group, and whatever escaped it and was
/// re-parented to the monitor, the child subreaper), being stopped: SIGTERM (and SIGCONT), then
/// SIGKILL at the deadline. Held by pidfd; the monitor's `poll` wakes when one exits.
struct Cleanup {
    held: Vec<Process>,
    /// SIGKILL is due then; once sent, the monitor stops waiting then.
    deadline: Instant,
    killed: bool,
    /// How many were stopped so far.
    count: usize,
}

/// Signals `sig` (and SIGCONT after any signal but SIGKILL) to every live descendant of this
/// process not yet in `held` and not `exclude` (the running child), and holds them, found by
/// following the kernel's lists of children down from it. Returns how many it added. Members are this subreaper's descendants by the kernel's
/// word; each is verified by start time once its pidfd pins it.
fn gather(held: &mut Vec<Process>, exclude: Option<Pid>, spare: &[i32], sig: Signal) -> usize {
    gather_where(held, sig, |e| {
        Some(e.pid) != exclude.map(Pid::get) && !spare.contains(&e.stat.pgrp)
    })
}

/// [`gather`] of the descendants for which `wanted` holds.
fn gather_where(
    held: &mut Vec<Process>,
    sig: Signal,
    wanted: impl Fn(&session::Entry) -> bool,
) -> usize {
    if childless() {
        return 0;
    }
    let me = std::process::id() as i32;
    let mut added = 0;
    for e in session::descendants_of(me) {
        if !wanted(&e) || held.iter().any(|p| p.pid().get() == e.pid) {
            continue;
        }
        let Ok(pid) = Pid::new(e.pid) else { continue };
        let Ok(Some(p)) = Process::open_verified(pid, e.stat.start_time) else {
            continue;
        };
        let _ = p.signal(sig);
        if sig != Signal::SIGKILL {
            let _ = p.signal(Signal::SIGCONT);
        }
        held.push(p);
        added += 1;
    }
    added
}

/// Whether this process has no child at all, zombies included, and so no descendant: a
/// descendant's parent is alive (then it is a child of ours or its descendant) or it was
/// re-parented to this subreaper before its parent could be reaped. One `waitid` that reaps
/// nothing (`WNOWAIT`), instead of a scan of every process on the machine (`gather`), which
/// sat between a child's death and its restart (issue 18: respawn 1.97× libslack's).
fn childless() -> bool {
    let any = WaitPidFlag::WEXITED
        | WaitPidFlag::WSTOPPED
        | WaitPidFlag::WCONTINUED
        | WaitPidFlag::WNOHANG
        | WaitPidFlag::WNOWAIT
        | WaitPidFlag::__WALL;
    matches!(
        nix::sys::wait::waitid(nix::sys::wait::Id::All, any),
        Err(Errno::ECHILD)
    )
}

impl Monitor {
    /// Reads the record and prepares everything the children need, signal handling included
    /// (before the first child exists, so that no SIGCHLD is missed). Never inlined: its
    /// locals would otherwise stay in the frame of [`run`], on the stack for the monitor's
    /// whole life (issue 18).
    #[inline(never)]
    fn new(ctx: &Ctx, args: &MonitorArgs) -> Result<Monitor> {
        let name = &args.name;
        let rec = Record::load(ctx, name)?
            .with_context(|| format!("no record for {name} in '{}'", ctx.dir.display()))?;
        let me = std::process::id() as i32;
        let start_time = process::read_own_stat()
            .context("cannot read /proc/self/stat")?
            .start_time;
        if rec.mode != Mode::Respawn || rec.pid != Some(me) || rec.start_time != Some(start_time) {
            bail!("the record of {name} does not describe this monitor (pid {me})");
        }
        // The same plan `start` made, from the same spec: the monitor's environment is the one
        // `start` built for the daemon, so building it again changes nothing, but for the
        // `NOTIFY_SOCKET` of `--ready notify`, which `start` added to it and the child keeps.
        let spec = Spec::from_record(ctx, &rec)?;
        let mut launch = plan::plan(ctx, &spec)?;
        if let Some(socket) = std::env::var_os("NOTIFY_SOCKET") {
            launch.env.insert("NOTIFY_SOCKET".into(), socket.clone());
            launch.monitor_env.insert("NOTIFY_SOCKET".into(), socket);
        }
        let respawn = launch
            .respawn
            .clone()
            .with_context(|| format!("the spec of {name} is not supervised"))?;
        let policy = Policy {
            restart: respawn.restart,
            notify: launch.ready == ReadySpec::Notify,
            health: respawn.health.as_ref().map(|_| HealthPolicy {
                interval: respawn.health_interval,
                retries: respawn.health_retries,
                grace: match launch.ready {
                    ReadySpec::Exec | ReadySpec::Notify | ReadySpec::Alive(_) => Duration::ZERO,
                    _ => launch.ready_timeout,
                },
            }),
            watchdog: respawn.watchdog,
            stop_signal: launch.stop_signal,
            stop_timeout: launch.stop_timeout,
            forking: launch.forking.as_ref().map(|f| f.timeout),
            ..Policy::new(
                respawn.restart_delay,
                respawn.max_restarts,
                respawn.restart_window,
            )
        };
        let notify = args
            .notify_fd
            .map(daemonize::claim_inherited_socket)
            .transpose()?
            .map(|fd| {
                // Its file (in `/run/rdaemon/notify`), removed when the monitor is done.
                let file = std::env::var_os("NOTIFY_SOCKET")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute());
                NotifySocket::from_fd(fd, file)
            });
        // The monitor stays root (it writes the status); only the child drops privileges.
        let creds = launch.account.as_ref().map(|a| a.creds.clone());

        let stdin = OwnedFd::from(File::open("/dev/null").context("cannot open /dev/null")?);
        let shared = launch.stdout == launch.stderr;
        let mut outputs = Vec::new();
        // Without rotation or timestamps, the child writes the files itself, through the
        // monitor's own stdout and stderr, which `start` opened on them.
        let piped = match (respawn.log_max_size, respawn.log_timestamps) {
            (Some(max), _) => Some(max),
            (None, true) => Some(u64::MAX),
            (None, false) => None,
        };
        let (stdout, stderr) = match piped {
            None => (
                dup(io::stdout().as_fd())?,
                if shared {
                    None
                } else {
                    Some(dup(io::stderr().as_fd())?)
                },
            ),
            Some(max) => {
                let mut stream = |path: &Path, stderr: bool| -> Result<OwnedFd> {
                    if !is_regular_or_missing(path) {
                        // /dev/null, a terminal: nothing to rotate (`fsx::open_log` refuses the
                        // rest).
                        let (dir, name) = Dir::open_parent(path).with_context(|| {
                            format!("cannot open log file '{}'", path.display())
                        })?;
                        let rights = Rights::for_dir(&dir, creds.as_ref());
                        let owner = creds.as_ref().map(|c| c.uid);
                        return Ok(OwnedFd::from(
                            fsx::open_log(&dir, &name, rights, owner, false, 0o644)?.0,
                        ));
                    }
                    let (read, write) =
                        nix::unistd::pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe")?;
                    fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                        .context("cannot make a pipe non-blocking")?;
                    outputs.push(Output {
                        pipe: File::from(read),
                        log: RotatingLog::open_as(
                            path,
                            max,
                            respawn.log_keep,
                            creds.as_ref(),
                            fsx::log_mode(launch.umask),
                        )?,
                        stderr,
                        failing: false,
                        timestamps: respawn.log_timestamps,
                        line_start: true,
                    });
                    Ok(write)
                };
                let out = stream(&launch.stdout, shared)?;
                let err = if shared {
                    None
                } else {
                    Some(stream(&launch.stderr, true)?)
                };
                (out, err)
            }
        };
        let buffer = if outputs.is_empty() {
            Vec::new()
        } else {
            vec![0; READ_BUFFER]
        };
        let plan = launch.exec(stdin, stdout, stderr)?;
        // Helpers get the program's environment, but they are not the program: no
        // NOTIFY_SOCKET, no watchdog. The monitor keeps only the copies of the environment it
        // will use (issue 18: each is a few hundred small allocations, resident for the
        // daemon's life): the plan's, the helpers' if it has helpers, and the base of
        // `env_now` if it reads env files again.
        let helpers =
            respawn.on_exit.is_some() || matches!(respawn.health, Some(ReadySpec::Cmd(_)));
        let mut helper_env = if helpers {
            std::mem::take(&mut launch.env)
        } else {
            BTreeMap::new()
        };
        launch.env = BTreeMap::new();
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            helper_env.remove(std::ffi::OsStr::new(var));
        }
        if launch.env_files.is_empty() {
            launch.monitor_env = BTreeMap::new();
        }
        let plan = match policy.watchdog {
            Some(_) => plan.with_pid_env("WATCHDOG_PID")?,
            None => plan,
        };

        // Whatever escapes the child (setsid, double fork) is re-parented to the monitor, which
        // can then stop it (SPEC §3.1). Set before the first child exists.
        nix::sys::prctl::set_child_subreaper(true)
            .context("cannot become a child subreaper (PR_SET_CHILD_SUBREAPER)")?;
        let (read, write) = UnixStream::pair().context("cannot create the signal pipe")?;
        // The stop signal too, when it is another one: it must stop the monitor, not kill it.
        let mut handled: Vec<i32> = SIGNALS.map(|s| s as i32).to_vec();
        let stop = policy.stop_signal;
        if !SIGNALS.contains(&stop) && !matches!(stop, Signal::SIGKILL | Signal::SIGSTOP) {
            handled.push(stop as i32);
        }
        let signals = SignalDelivery::with_pipe(read, write, SignalOnly, handled)
            .context("cannot install signal handlers")?;
        let program_pidfile = launch.forking.as_ref().and_then(|f| f.pidfile.clone());
        let program_uid = launch.account.as_ref().map(|a| a.creds.uid);
        let chdir = launch.chdir.clone();
        let creds = launch.account.as_ref().map(|a| a.creds.clone());
        Ok(Monitor {
            ctx: ctx.clone(),
            name: name.clone(),
            pidfile: rec.pidfile.clone(),
            start_time,
            policy,
            plan,
            launch,
            outputs,
            buffer,
            signals,
            state: State::New,
            backoff: Backoff::default(),
            child_pid: None,
            child_start_time: None,
            adopted: None,
            child_since: None,
            restarts: rec.restarts,
            last_exit: rec.last_exit.clone(),
            failed: false,
            stopped: false,
            dirty: false,
            settle: false,
            settled: false,
            handoff: None,
            notify_rest: None,
            report: None,
            fatal: None,
            cleanup: None,
            notify,
            ignored: Vec::new(),
            program_uid,
            said: NotifyStatus::default(),
            status_text: None,
            clear_status_text: false,
            health_failing: None,
            ending_since: None,
            known_at_end: Vec::new(),
            health: respawn.health.clone(),
            health_run: None,
            on_exit: respawn.on_exit.clone(),
            hook: None,
            env: helper_env,
            chdir,
            creds,
            program_pidfile,
            cgroup: crate::cgroup::Cgroup::of_record(&rec),
            reaped_elsewhere: Vec::new(),
        })
    }

    /// Blocks for events and acts on them until the state is `Done`.
    fn run_loop(&mut self) -> Result<Code> {
        loop {
            if let State::Done { code } = self.state {
                // `--forking`: a first launch that failed (`start` was told).
                if let Some(err) = self.fatal.take() {
                    return Err(err);
                }
                return Ok(code);
            }
            if self.settle {
                self.settle = false;
                crate::process::release_free_memory();
                if !self.settled {
                    self.settled = true;
                    crate::process::release_executable_pages();
                }
            }
            let wake = self.wait()?;
            for i in wake.readable {
                self.pump(i, READS_PER_WAKE);
            }
            self.flush_held(Some(Instant::now()));
            if wake.handed_over {
                self.handle(Event::HandedOver);
            }
            if wake.handed_over && self.policy.notify {
                // `start` returned: it saw the program's READY=1 (else it would have failed and
                // stopped this monitor). From now on the monitor hears the program; a
                // `MAINPID=` that `start` heard is kept as one heard here.
                let (main_pid, main_pid_start) = self.main_pid_heard_by_start();
                self.handle(Event::Notified(Notice {
                    ready: true,
                    main_pid,
                    main_pid_start,
                    ..Notice::default()
                }));
            }
            if wake.notified {
                self.read_notify();
            }
            if wake.signalled {
                let pending: Vec<i32> = self.signals.pending().collect();
                for sig in pending {
                    match Signal::try_from(sig) {
                        Ok(Signal::SIGCHLD) => {
                            for event in reap_children() {
                                self.route(event);
                            }
                        }
                        Ok(Signal::SIGPIPE) | Err(_) => {}
                        Ok(sig) => {
                            if self.policy.stops(sig) && self.ending_since.is_none() {
                                self.ending_since =
                                    process::boot_ticks().map(|t| t.saturating_sub(1));
                                self.known_at_end =
                                    session::descendants_of(std::process::id() as i32)
                                        .into_iter()
                                        .map(|e| (e.pid, e.stat.start_time))
                                        .collect();
                            }
                            self.handle(Event::Signal(sig))
                        }
                    }
                }
            }
            self.hear_helpers_reaped_elsewhere();
            self.tend_cleanup();
            self.tend_helpers();
            // The clock is an event of the loop like the others.
            self.handle(Event::Tick {
                leftovers: self.cleanup.is_some(),
            });
            if self.dirty && self.handoff.is_none() && !matches!(self.state, State::Done { .. }) {
                self.save_status();
            }
        }
    }

    /// Waits in `poll` for the signal pipe and the log pipes. The only timeouts are a pending
    /// restart delay, a pending record update and the end of an open line held back from a log
    /// (for at most [`HOLD_FOR`]); otherwise it sleeps until something happens.
    /// Returns whether the signal pipe is readable and which log pipes are.
    fn wait(&mut self) -> Result<Wake> {
        let now = Instant::now();
        let mut timeout: Option<Duration> = None;
        match self.state {
            // A restart that is due waits for the cleanup of what the last program left: the
            // cleanup's own events and deadline wake the loop then, not a timeout of 0 at
            // every turn (helper-106's attack: one TERM-ignoring leftover spun the monitor at
            // a core's 100 % for the whole --stop-timeout, at every restart).
            State::Waiting { at } if at <= now && self.cleanup.is_some() => {}
            State::Waiting { at } | State::Launching { until: at, .. } => {
                timeout = Some(at.saturating_duration_since(now));
            }
            _ => {}
        }
        if let Some(since) = self.outputs.iter().filter_map(|o| o.log.held_since()).min() {
            let left = (since + HOLD_FOR).saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let due = match self.state {
            State::Running {
                health_at,
                watchdog_at,
                ..
            } => [health_at, watchdog_at],
            State::Killing { kill_at, .. } => [kill_at, None],
            _ => [None, None],
        };
        let helpers = [&self.hook, &self.health_run]
            .into_iter()
            .flatten()
            .filter(|h| !h.killed)
            .map(|h| h.deadline);
        for at in due.into_iter().flatten().chain(helpers) {
            let left = at.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if let Some(c) = &self.cleanup {
            let mut left = c.deadline.saturating_duration_since(now);
            if c.held.iter().any(|p| p.pidfd().is_none()) {
                left = left.min(BLIND_CHECK);
            }
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let mut fds = vec![PollFd::new(
            self.signals.get_read().as_fd(),
            PollFlags::POLLIN,
        )];
        fds.extend(
            self.outputs
                .iter()
                .map(|o| PollFd::new(o.pipe.as_fd(), PollFlags::POLLIN)),
        );
        // The notify socket, once `start` has handed over (until then `start` reads it), and
        // not while it rests after a flood.
        let resting = self.notify_rest.filter(|&at| at > now);
        if let Some(at) = resting {
            let left = at.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => {
                let ms = t.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let listening = self.handoff.is_none() && self.notify.is_some() && resting.is_none();
        if let Some(sock) = self.notify.as_ref().filter(|_| listening) {
            fds.push(PollFd::new(sock.fd(), PollFlags::POLLIN));
        }
        // A leftover's pidfd becomes readable when it exits.
        fds.extend(
            self.cleanup
                .iter()
                .flat_map(|c| c.held.iter().filter_map(|p| p.pidfd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
        );
        // The write end of the report pipe: POLLERR once `start` has closed the read end.
        if let Some(handoff) = &self.handoff {
            fds.push(PollFd::new(handoff.as_fd(), PollFlags::empty()));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).context("cannot wait for events"),
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        let handed_over = self.handoff.is_some() && fds.last().is_some_and(ready);
        let readable = fds[1..=self.outputs.len()]
            .iter()
            .enumerate()
            .filter(|(_, fd)| ready(fd))
            .map(|(i, _)| i)
            .collect();
        let signalled = ready(&fds[0]);
        let notified = listening && ready(&fds[self.outputs.len() + 1]);
        if handed_over {
            self.handoff = None;
        }
        Ok(Wake {
            signalled,
            readable,
            notified,
            handed_over,
        })
    }

    /// Copies what the `i`-th log pipe holds (at most `reads` reads) into its log.
    fn pump(&mut self, i: usize, reads: usize) {
        for _ in 0..reads {
            let output = &mut self.outputs[i];
            let n = match output.pipe.read(&mut self.buffer) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return, // WouldBlock: drained.
            };
            let data = &self.buffer[..n];
            let stamped;
            let data = if output.timestamps {
                let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
                stamped = stamp_lines(data, &mut output.line_start, &now.to_string());
                &stamped[..]
            } else {
                data
            };
            match output.log.write(data) {
                Ok(()) => output.failing = false,
                Err(err) => output.report(&self.name, &err),
            }
        }
    }

    /// Copies everything the log pipes hold now (the exited child's last words).
    fn drain_outputs(&mut self) {
        for i in 0..self.outputs.len() {
            self.pump(i, 64);
        }
        self.flush_held(None);
    }

    /// Writes the ends of open lines held back: all of them, or those held since before
    /// `now - HOLD_FOR`.
    fn flush_held(&mut self, now: Option<Instant>) {
        for output in &mut self.outputs {
            let due = match (output.log.held_since(), now) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(since), Some(now)) => now >= since + HOLD_FOR,
            };
            if due {
                if let Err(err) = output.log.flush_held() {
                    output.report(&self.name, &err);
                }
            }
        }
    }

    /// Acts on one event as the machine says, and on the events its effects produce (the
    /// outcome of a spawn).
    fn handle(&mut self, event: Event) {
        let mut next = Some(event);
        while let Some(event) = next.take() {
            let now = Instant::now();
            let (state, effects) = step(
                self.state,
                event,
                &self.policy,
                &mut self.backoff,
                self.restarts,
                now,
            );
            self.state = state;
            for effect in effects {
                match effect {
                    Effect::Forward(child, sig) => forward(child, sig),
                    Effect::Say(line) => self.say(&line),
                    Effect::Drain => self.drain_outputs(),
                    Effect::NoteExit(how) => self.note_exit(how),
                    Effect::CountRestart => {
                        self.restarts += 1;
                        self.dirty = true;
                    }
                    Effect::ChildStarted(child) => {
                        // A program started again has said nothing yet: the last one's
                        // `STATUS=` is not its (helper-101's trial).
                        if self.last_exit.is_some() {
                            self.status_text = None;
                            self.clear_status_text = true;
                        }
                        self.child_pid = Some(child.get());
                        // Adopted (`--forking`): as it was found. Spawned: not reaped yet (this
                        // monitor reaps it), so its pid still names it.
                        self.child_start_time = match self.adopted.take() {
                            Some((pid, start_time)) if pid == child => Some(start_time),
                            _ => crate::process::read_stat(child).map(|s| s.start_time),
                        };
                        self.child_since = Some(Instant::now());
                        self.dirty = true;
                    }
                    Effect::Cleanup(child) => self.begin_cleanup(child),
                    Effect::Failed => self.failed = true,
                    Effect::Finish { code, end } => {
                        self.stopped |= match end {
                            End::Clean => true,
                            End::Asked => !self.wanted_running(),
                            End::GaveUp => false,
                        };
                        self.state = self.finish(code, end);
                    }
                    Effect::Spawn => next = self.spawn(),
                    Effect::CheckHealth => next = self.check_health(),
                    Effect::OnExit { how, state } => self.run_on_exit(&how, state),
                    Effect::NotifyState(state) => {
                        self.said.notify_state = Some(state);
                        self.dirty = true;
                    }
                    Effect::Reloaded => {
                        self.said.reloads += 1;
                        self.dirty = true;
                    }
                    Effect::StatusText(text) => {
                        self.status_text = Some(text);
                        self.dirty = true;
                    }
                    Effect::MainPid(pid, start) => {
                        self.said.main_pid = Some(pid);
                        self.said.main_pid_start = Some(start);
                        self.dirty = true;
                    }
                    Effect::HealthFailing(failing) => {
                        self.health_failing = failing;
                        self.dirty = true;
                    }
                    Effect::Adopt { first } => next = Some(self.adopt(first)),
                    Effect::Abort(why) => self.abort(why),
                    Effect::Report(ended) => plan::send_exit(&mut self.handoff, ended),
                }
            }
            let on_trial = matches!(self.state, State::Trial { .. } | State::Held { .. });
            if next.is_none() && on_trial && self.handoff.is_none() && self.report.is_none() {
                // Nobody waits for the first child's readiness (`start` is gone, or gave this
                // monitor no report pipe): it is on trial no more.
                next = Some(Event::HandedOver);
            }
        }
        // A check of a child that is gone says nothing of the next one.
        if !matches!(self.state, State::Running { .. }) {
            if let Some(h) = self.health_run.as_mut().filter(|h| !h.killed) {
                h.killed = true;
                kill_helper(h);
            }
        }
    }

    /// An event from `reap_children`: a helper's end, or one for the machine.
    fn route(&mut self, event: Event) {
        let Event::Exited { pid, how } = &event else {
            return self.handle(event);
        };
        if self.health_run.is_some_and(|h| h.pid == *pid) {
            let h = self.health_run.take().expect("checked");
            self.stop_helper_leftovers(h.pid, "--health command");
            let outcome = match (how.code, h.killed) {
                (Some(0), _) => Ok(()),
                (_, true) => Err(format!(
                    "the command did not finish within {}",
                    format_duration(Duration::from_millis(
                        h.deadline.saturating_duration_since(h.began).as_millis() as u64
                    ))
                )),
                _ => Err(format!("the command {}", how.describe())),
            };
            return self.handle(Event::Health(outcome));
        }
        if self.hook.is_some_and(|h| h.pid == *pid) {
            let h = self.hook.take().expect("checked");
            self.stop_helper_leftovers(h.pid, "--on-exit command");
            if h.killed {
                self.say(&format!(
                    "--on-exit command (pid {pid}) killed after {}",
                    format_duration(ON_EXIT_LIMIT)
                ));
            } else if how.code != Some(0) {
                self.say(&format!("--on-exit command (pid {pid}) {}", how.describe()));
            }
            return;
        }
        self.handle(event)
    }

    /// A helper (`--on-exit`, `--health cmd:`) ended: what it left running in its session gets
    /// the stop signal and SIGCONT now, as what the program leaves does when it exits (SPEC
    /// §3.1). Before, it ran on past the restart (helper-124's review), and a check that left a
    /// process each interval piled them up until the program's next exit. No process of the
    /// program is in that session, and the kernel keeps its id while a member lives. One that
    /// ignores the signal, or left the session, is stopped with the program's leftovers at its
    /// next exit, or at `stop`.
    fn stop_helper_leftovers(&mut self, helper: Pid, what: &str) {
        let mut held = Vec::new();
        let sid = helper.get();
        // Reaped, the helper no longer holds its number: a process that has it now took it
        // since, and a session of that number is its own (helper-127's review). Else the
        // kernel keeps the number while a member of the helper's session lives.
        if !matches!(process::stat_of(sid), Ok(None)) {
            return;
        }
        let count = gather_where(&mut held, self.policy.stop_signal, |e| {
            e.stat.session == sid
        });
        if count > 0 {
            self.say(&format!(
                "stopping {} the {what} (pid {helper}) left running",
                crate::parse::counted(count as u64, "process", "processes")
            ));
        }
    }

    /// The `MAINPID=` that `start` heard while it waited for `READY=1` and kept in the status
    /// it handed over, if that process is still the same descendant of this monitor.
    fn main_pid_heard_by_start(&self) -> (Option<i32>, Option<u64>) {
        let Ok(Some(status)) = Status::load(&self.ctx, &self.name) else {
            return (None, None);
        };
        let me = std::process::id() as i32;
        match (status.notify.main_pid, status.notify.main_pid_start) {
            (Some(pid), Some(start))
                if status.pid == Some(me) && process::descendant_start(me, pid) == Some(start) =>
            {
                (Some(pid), Some(start))
            }
            _ => (None, None),
        }
    }

    /// Reads the queued notify messages and acts on each of the daemon's. A socket still full
    /// after a read, as others' messages sent as fast as they can keep it, rests for
    /// [`NOTIFY_REST`]: a flood from any user then costs the monitor a batch of messages every
    /// few milliseconds, not a whole CPU (helper-97's attack, 2026-12-03: 92 % of a core
    /// against four senders), and delays what the program says by as much.
    fn read_notify(&mut self) {
        loop {
            let Some(sock) = &self.notify else { return };
            let message = match sock.receive_for_monitor(self.program_uid, &mut self.ignored) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    let full = crate::process::fd_readable(sock.fd());
                    self.notify_rest = full.then(|| Instant::now() + NOTIFY_REST);
                    return;
                }
                Err(err) => {
                    self.say(&crate::exit::render(&err));
                    return;
                }
            };
            let mut notice = crate::ready::parse_notice(&message);
            if let Some(pid) = notice.main_pid {
                notice.main_pid_start = process::descendant_start(std::process::id() as i32, pid);
                if notice.main_pid_start.is_none() {
                    notice.main_pid = None;
                    self.say(&format!(
                        "ignored MAINPID={pid}: not a process of this daemon"
                    ));
                }
            }
            self.handle(Event::Notified(notice));
        }
    }

    /// The process groups of the helpers under way, which clean-ups leave alone.
    fn helper_groups(&self) -> Vec<i32> {
        [&self.hook, &self.health_run]
            .into_iter()
            .flatten()
            .map(|h| h.pid.get())
            .collect()
    }

    /// Hears of the helpers that a `--forking` launch's reaping took with its own
    /// ([`crate::forking::take_reaped`]): they ended, and are no longer under way.
    fn hear_helpers_reaped_elsewhere(&mut self) {
        let reaped = std::mem::take(&mut self.reaped_elsewhere);
        for (pid, ended) in reaped.into_iter().chain(crate::forking::take_reaped()) {
            let Ok(pid) = Pid::new(pid) else { continue };
            if self.helper_groups().contains(&pid.get()) {
                self.route(Event::Exited {
                    pid,
                    how: LastExit::from(ended),
                });
            }
        }
    }

    /// Kills the helpers whose time is up (their end comes through `reap_children`).
    fn tend_helpers(&mut self) {
        let now = Instant::now();
        for h in [&mut self.hook, &mut self.health_run].into_iter().flatten() {
            if !h.killed && now >= h.deadline {
                h.killed = true;
                kill_helper(h);
            }
        }
    }

    /// Starts `/bin/sh -c command` as a helper: with the program's environment (plus `extra`),
    /// directory and user, stdin from /dev/null, its output to the log (`to_log`) or nowhere,
    /// in a session and process group of its own ([`crate::daemonize::isolate_helper`]).
    fn start_helper(
        &self,
        command: &str,
        extra: &[(&str, String)],
        to_log: bool,
        limit: Duration,
    ) -> Result<Helper> {
        use std::process::{Command, Stdio};
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(command)
            .env_clear()
            .envs(&self.env)
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if to_log {
            // Where the program's stderr goes: with rotation or timestamps, the pipe this
            // monitor reads into the log (the file `start` opened may have been rotated away
            // or removed: review, 2026-12-02), else that file.
            let out = self.plan.stderr_fd();
            cmd.stdout(Stdio::from(dup(out)?))
                .stderr(Stdio::from(dup(out)?));
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        // A session of its own (its group is its pid, for `killpg`), fds 0-2 only, the
        // daemon's user with a session keyring of its own, the daemon's directory entered as
        // that user. It stays in the monitor's cgroup, the daemon's, and the monitor, a child
        // subreaper, still reaps it.
        crate::daemonize::isolate_helper(
            &mut cmd,
            self.creds.as_ref(),
            None,
            Some(self.chdir.as_path()),
        )?;
        // The hook enters the directory as the daemon's user: a refusal there fails the spawn.
        let child = cmd.spawn().map_err(|e| {
            anyhow::anyhow!(
                "cannot run '/bin/sh' in '{}': {}",
                self.chdir.display(),
                crate::pidfile::os_reason(&e)
            )
        })?;
        let pid = Pid::new(child.id() as i32).map_err(|e| anyhow::anyhow!(e))?;
        // Reaped by `reap_children` with every other child: the handle is not waited on.
        drop(child);
        let began = Instant::now();
        Ok(Helper {
            pid,
            began,
            deadline: began + limit,
            killed: false,
        })
    }

    /// Runs the health check: `tcp:`, `http:` and `file:` at once (bounded by
    /// [`HEALTH_TRY_LIMIT`]), their outcome the event returned; `cmd:` as a helper, whose end
    /// gives the outcome. `tcp:` and `http:` on an address of this machine count only the
    /// program's own listener, as readiness does: a program that lost its socket is not kept
    /// alive by another process that took the port meanwhile.
    fn check_health(&mut self) -> Option<Event> {
        let interval = self.policy.health.map(|h| h.interval)?;
        let limit = HEALTH_TRY_LIMIT.min(interval);
        // The monitor's own child, not yet reaped: its pid names no other process.
        let child = self
            .child_pid
            .and_then(|pid| Pid::new(pid).ok())
            .and_then(|pid| Process::open(pid).ok());
        let outcome = match self.health.as_ref()? {
            ReadySpec::Tcp { host, port } => health_tcp(host, *port, limit, child.as_ref()),
            ReadySpec::Http(url) => health_http(url, limit, child.as_ref()),
            ReadySpec::File(path) => ready::health_file(path, self.creds.as_ref().map(|c| c.uid)),
            ReadySpec::Cmd(command) => {
                let command = command.clone();
                match self.start_helper(&command, &[], false, interval) {
                    Ok(helper) => {
                        self.health_run = Some(helper);
                        return None;
                    }
                    Err(err) => Err(crate::exit::render(&err)),
                }
            }
            _ => Ok(()),
        };
        Some(Event::Health(outcome))
    }

    /// Runs `--on-exit` for an exit of the program (SPEC §6), unless the previous one still
    /// runs.
    fn run_on_exit(&mut self, how: &LastExit, state: &str) {
        let Some(command) = self.on_exit.clone() else {
            return;
        };
        // The launch that just failed may have reaped it (helper-93's review): heard of now,
        // not at the end of this turn of the loop.
        if let Some(hook) = self.hook {
            let (done, other): (Vec<_>, Vec<_>) = crate::forking::take_reaped()
                .into_iter()
                .partition(|(pid, _)| *pid == hook.pid.get());
            self.reaped_elsewhere.extend(other);
            for (_, ended) in done {
                self.route(Event::Exited {
                    pid: hook.pid,
                    how: LastExit::from(ended),
                });
            }
        }
        if let Some(h) = &self.hook {
            let pid = h.pid;
            self.say(&format!(
                "--on-exit: the previous command (pid {pid}) still runs; not running it for this exit"
            ));
            return;
        }
        let mut extra = vec![
            ("RDAEMON_NAME", self.name.to_string()),
            ("RDAEMON_EXIT", how.describe()),
            ("RDAEMON_RESTARTS", self.restarts.to_string()),
            ("RDAEMON_STATE", state.to_owned()),
        ];
        match (how.code, how.signal) {
            (_, Some(sig)) => extra.push(("RDAEMON_EXIT_SIGNAL", sig.to_string())),
            (Some(code), None) => extra.push(("RDAEMON_EXIT_CODE", code.to_string())),
            (None, None) => {}
        }
        match self.start_helper(&command, &extra, true, ON_EXIT_LIMIT) {
            Ok(helper) => self.hook = Some(helper),
            Err(err) => {
                let line = format!("--on-exit: {}", crate::exit::render(&err));
                self.say(&line);
            }
        }
    }

    /// On the way out: gives an `--on-exit` command under way a little time
    /// ([`ON_EXIT_FINAL_WAIT`], so that `stop` is not held up), then kills and reaps the
    /// helpers.
    fn end_helpers(&mut self) {
        for h in [self.hook.take(), self.health_run.take()]
            .into_iter()
            .flatten()
        {
            if !process::is_unreaped_child(h.pid) {
                continue;
            }
            let group = nix::unistd::Pid::from_raw(h.pid.get());
            let wait = h
                .deadline
                .min(Instant::now() + ON_EXIT_FINAL_WAIT)
                .saturating_duration_since(Instant::now());
            // Until it has exited or the time is up: a signal (the SIGCHLD of what the
            // command left, a second SIGTERM) ends one wait, and so does a look without a
            // pidfd (every few milliseconds), which killed the command half-way.
            let until = Instant::now() + wait;
            let done = !h.killed
                && Process::open(h.pid).is_ok_and(|p| loop {
                    self.wait_any_exit(&[&p], until.saturating_duration_since(Instant::now()));
                    if p.has_exited() {
                        break true;
                    }
                    if Instant::now() >= until {
                        break false;
                    }
                });
            if !done {
                kill_helper(&h);
            }
            let _ = waitpid(group, None);
        }
    }

    /// Starts a child; the event that says how it went. The first child's outcome also goes on
    /// the report pipe to `start`, whose end is then kept for the status handoff.
    fn spawn(&mut self) -> Option<Event> {
        let first = matches!(self.state, State::Starting { first: true });
        if self.policy.forking.is_some() {
            crate::forking::begin_launch(self.program_uid, &self.helper_groups());
        }
        match self
            .read_env()
            .and_then(|()| daemonize::spawn_child(&self.plan))
        {
            Ok(child) => {
                // `--forking`: `start` hears of the process the launcher leaves, once adopted.
                if first && self.policy.forking.is_none() {
                    send_report(&mut self.report, Ok(child.get()));
                    self.handoff = self.report.take();
                }
                Some(Event::Spawned(child))
            }
            // `start` waits for this answer and cleans up (pidfile, record) under its lock.
            Err(err) if first && self.report.is_some() => {
                send_report(&mut self.report, Err(&err));
                self.fatal = Some(err);
                self.state = State::Done {
                    code: Code::Failure,
                };
                None
            }
            Err(err) => Some(Event::SpawnFailed(crate::exit::render(&err))),
        }
    }

    /// Reads the env files again into the child's environment (later files win, `--env` wins
    /// over them): a file that cannot be read or has a malformed line fails this start.
    fn read_env(&mut self) -> Result<()> {
        if self.launch.env_files.is_empty() {
            return Ok(());
        }
        let env = self.launch.env_now()?;
        self.plan.set_env(env)
    }

    /// `--forking`: the launcher exited with status 0; finds the process it left (named by the
    /// program's pidfile, or the only one left), accepted only if it is this monitor's child
    /// (re-parented to it, the subreaper): the monitor must hear of its exit. The first child's
    /// outcome goes on the report pipe to `start`, as [`Monitor::spawn`] does for a program
    /// that does not fork.
    fn adopt(&mut self, first: bool) -> Event {
        let timeout = self.policy.forking.unwrap_or_default();
        let deadline = Instant::now() + timeout;
        let found = crate::forking::find_child(
            self.program_pidfile.as_deref(),
            self.cgroup.as_ref(),
            deadline,
            timeout,
        );
        match found {
            Ok(found) => {
                let child = found.process.pid();
                self.adopted = Some((child, found.stat.start_time));
                if first {
                    send_report(&mut self.report, Ok(child.get()));
                    self.handoff = self.report.take();
                }
                Event::Adopted(child)
            }
            Err(err) => Event::AdoptFailed(crate::exit::render(&err)),
        }
    }

    /// `--forking`: the first launch failed (the launcher's exit, or nothing to adopt). Stops
    /// what it left (the monitor's descendants that the launch left, in the daemon's cgroup
    /// if it has one: never the whole cgroup, which holds the monitor too), then tells
    /// `start`, which cleans up its files; the monitor then exits.
    fn abort(&mut self, why: String) {
        let stopped = crate::forking::stop_left(self.cgroup.as_ref());
        if let Some(path) = &self.program_pidfile {
            // The program's pidfile, if it names what was just stopped (SPEC §2.2).
            for pid in stopped.iter().filter_map(|&p| Pid::new(p).ok()) {
                let _ = pidfile::remove_if_pid(path, pid);
            }
        }
        let mut why = why;
        if !stopped.is_empty() {
            why.push_str(&format!(
                "; stopped what it left running (pid {})",
                crate::parse::some_pids(&stopped, 10)
            ));
        }
        let err = anyhow::anyhow!(why);
        send_report(&mut self.report, Err(&err));
        self.fatal = Some(err);
    }

    fn note_exit(&mut self, how: LastExit) {
        self.last_exit = Some(how);
        self.child_pid = None;
        self.child_start_time = None;
        // Its failing checks too: the next program's are counted anew.
        self.health_failing = None;
        // What the program said is gone with it.
        if self.policy.notify {
            self.said.notify_state = None;
            self.said.main_pid = None;
            self.said.main_pid_start = None;
        }
        self.dirty = true;
    }

    /// The end: saves the status, removes the pidfile if it still names this monitor.
    fn finish(&mut self, code: Code, end: End) -> State {
        self.end_helpers();
        self.flush_held(None);
        // Still before the handoff: `start` is failing and restores the files itself.
        if self.handoff.is_none() {
            self.save_status();
        }
        if let Err(err) = pidfile::remove_if_self(&self.pidfile) {
            self.say(&crate::exit::render(&err));
        }
        end_group();
        self.end_descendants(end);
        if end != End::Asked && self.handoff.is_none() {
            self.leave_cgroup();
        }
        State::Done { code }
    }

    /// Whether the spec still wants the daemon running (a `stop` or `down` marked it wanted
    /// stopped before its first signal); yes if it cannot be read.
    fn wanted_running(&self) -> bool {
        !matches!(
            Record::load(&self.ctx, &self.name),
            Ok(Some(rec)) if rec.wanted() == crate::state::Wanted::Stopped
        )
    }

    /// Ending on its own ([`End::GaveUp`], [`End::Clean`]), the monitor is the last process of
    /// its daemon's cgroup: it leaves the cgroup and removes it
    /// ([`Cgroup::leave_and_remove`](crate::cgroup::Cgroup::leave_and_remove)). Told to stop
    /// ([`End::Asked`]), it leaves that to `stop`, which waits for the cgroup to empty and
    /// removes it; before the handoff, to the failing `start`.
    fn leave_cgroup(&mut self) {
        let Some(cgroup) = &self.cgroup else {
            return;
        };
        match cgroup.leave_and_remove(LEAVE_WAIT) {
            Ok(true) => {}
            Ok(false) => {
                let left = cgroup.procs().map_or(0, |p| p.len());
                self.say(&format!(
                    "its cgroup stays: {} of it still {} after SIGTERM ('rdaemon stop {}' ends {})",
                    crate::parse::counted(left as u64, "process", "processes"),
                    if left == 1 { "runs" } else { "run" },
                    self.name,
                    if left == 1 { "it" } else { "them" },
                ));
            }
            Err(err) => {
                let why = crate::exit::render(&err);
                self.say(&format!("its empty cgroup stays: {why}"));
            }
        }
    }

    /// Writes the monitor's fields into the status file, if it still describes this monitor.
    /// No lock: after the handoff the monitor is the status's only writer (SPEC §1) — `start`
    /// has returned, and `stop` and `restart` write nothing of it while this process lives.
    fn save_status(&mut self) {
        self.dirty = false;
        self.settle = true;
        let me = std::process::id() as i32;
        let saved = Status::load(&self.ctx, &self.name).and_then(|status| match status {
            Some(mut status)
                if status.pid == Some(me) && status.start_time == Some(self.start_time) =>
            {
                status.child_pid = self.child_pid;
                status.child_start_time = self.child_start_time;
                status.restarts = self.restarts;
                status.last_exit = self.last_exit.clone();
                status.failed = self.failed;
                status.stopped = self.stopped;
                if std::mem::take(&mut self.clear_status_text) {
                    status.status_text = None;
                }
                status.health_failing = self.health_failing.clone();
                if let Some(text) = &self.status_text {
                    status.status_text = Some(text.clone());
                }
                if self.policy.notify {
                    status.notify = self.said.clone();
                }
                status.save(&self.ctx, &self.name).map(|()| true)
            }
            _ => Ok(false),
        });
        match saved {
            Ok(true) => {}
            Ok(false) => self.say("the status no longer describes this monitor; not updating it"),
            Err(err) => self.say(&crate::exit::render(&err)),
        }
    }

    /// The child `child` exited: stops what it left behind before the next start (the stop
    /// signal and SIGCONT now, SIGKILL after the stop timeout, SPEC §3.1), without blocking: `run_loop` waits on
    /// the leftovers' pidfds with the signal pipe and calls [`Monitor::tend_cleanup`].
    fn begin_cleanup(&mut self, child: Pid) {
        let mut held = Vec::new();
        let spare = self.helper_groups();
        let count = gather(&mut held, None, &spare, self.policy.stop_signal);
        if count == 0 {
            return;
        }
        // Named, the first few: the program's pid alone read as if it were the one left.
        let mut pids: Vec<String> = held
            .iter()
            .take(5)
            .map(|p| p.pid().get().to_string())
            .collect();
        if held.len() > 5 {
            pids.push("…".into());
        }
        // A program that exits 0 at once leaving a process is likely one that puts itself in
        // the background (`memcached -d`), which would flap here for ever: say how to run it.
        let at_once = self
            .child_since
            .is_some_and(|since| since.elapsed() < DAEMONIZED_WITHIN);
        let daemonized = self.policy.forking.is_none()
            && at_once
            && self.last_exit.as_ref().is_some_and(|l| l.code == Some(0));
        self.say(&format!(
            "stopping {} the program (pid {child}) left behind ({} {}) before restarting it{}",
            crate::parse::counted(count as u64, "process", "processes"),
            if held.len() == 1 { "pid" } else { "pids" },
            pids.join(", "),
            match daemonized {
                true => format!(" ({})", crate::forking::background_hint("it")),
                false => String::new(),
            }
        ));
        self.cleanup = Some(Cleanup {
            held,
            deadline: Instant::now() + self.policy.stop_timeout,
            killed: false,
            count,
        });
    }

    /// Moves a clean-up on: drops the leftovers that exited (looking once more for any forked
    /// meanwhile when none is left), sends SIGKILL at the deadline, and gives up on survivors
    /// [`LEFTOVER_KILL_WAIT`] later.
    fn tend_cleanup(&mut self) {
        let spare = self.helper_groups();
        let Some(c) = &mut self.cleanup else {
            return;
        };
        c.held.retain(|p| !p.has_exited());
        if c.held.is_empty() {
            let sig = if c.killed {
                Signal::SIGKILL
            } else {
                self.policy.stop_signal
            };
            c.count += gather(&mut c.held, None, &spare, sig);
            if c.held.is_empty() {
                self.cleanup = None;
                return;
            }
        }
        let now = Instant::now();
        if now < c.deadline {
            return;
        }
        if !c.killed {
            for p in &c.held {
                let _ = p.signal(Signal::SIGKILL);
            }
            c.killed = true;
            c.deadline = now + LEFTOVER_KILL_WAIT;
            let msg = format!(
                "{} leftover processes still running after {}: sent SIGKILL",
                c.held.len(),
                format_duration(self.policy.stop_timeout)
            );
            self.say(&msg);
            return;
        }
        let pids: Vec<String> = c.held.iter().map(|p| p.pid().to_string()).collect();
        let msg = format!(
            "leftover processes {} survive SIGKILL; starting anyway",
            pids.join(", ")
        );
        self.cleanup = None;
        self.say(&msg);
    }

    /// On the way out: SIGTERM and SIGCONT to every descendant left (escaped ones included,
    /// which the process group signal misses; those of a clean-up under way had theirs). Told
    /// to stop ([`End::Asked`]), the monitor then waits only for the orphans re-parented to it
    /// that started since the signal ([`Monitor::ending_since`]): what the last `--on-exit`
    /// command left, which `stop` could not hold by pidfd before its first signal, and which
    /// would be PID 1's once the monitor has exited (helper-122's attack: a process that
    /// command left in the background, ignoring SIGTERM, outlived `stop` without a cgroup).
    /// `stop` holds and ends the rest on its own schedule (SPEC §3.1), what they start as they
    /// shut down included (helper-123's review: waiting for that too, the monitor cut a
    /// graceful shutdown short at the spec's timeout, whatever `stop --timeout` said). Ending on its own ([`End::GaveUp`], [`End::Clean`]), no
    /// one else will: it waits for every descendant. SIGKILL comes after the stop timeout (at
    /// `stop`'s own SIGKILL, [`crate::session::kill_descendants`], if that comes first), and
    /// survivors of it are left [`LEFTOVER_KILL_WAIT`] later.
    fn end_descendants(&mut self, end: End) {
        let mut held = self.cleanup.take().map(|c| c.held).unwrap_or_default();
        gather(&mut held, None, &[], Signal::SIGTERM);
        // Told to stop: the orphans re-parented to it (its children now) that started since,
        // and what they leave; ending on its own: everything.
        let (since, orphans_only) = match (end, self.ending_since) {
            (End::Asked, Some(since)) => (since, true),
            (End::Asked, None) => return,
            (End::Clean | End::GaveUp, _) => (0, false),
        };
        let me = std::process::id() as i32;
        // Stopped by `stop` or `down` (they mark the spec wanted stopped first), SIGKILL is
        // theirs to send, on their schedule, or not at all (`--no-kill`): the monitor waits
        // (helper-124: its own SIGKILL on the spec's timeout overrode `stop --no-kill` and
        // `--timeout`, unsaid). A bare `kill` has no schedule: the spec's stop timeout.
        let own_kill = !orphans_only || self.wanted_running();
        let mut deadline = Instant::now() + self.policy.stop_timeout;
        let mut killed = false;
        loop {
            // Exited children are reaped, so that `gather` sees through them.
            let _ = reap_children();
            held.retain(|p| !p.has_exited());
            let sig = match killed {
                true => Signal::SIGKILL,
                false => Signal::SIGTERM,
            };
            // Told to stop, what the others start as they shut down is theirs, and `stop`'s:
            // SIGTERM to it would cut that short (helper-123's review).
            let known = &self.known_at_end;
            let ours = |pid: i32, stat: &process::ProcStat| {
                !orphans_only
                    || (stat.start_time >= since
                        && stat.ppid == me
                        && !known.contains(&(pid, stat.start_time)))
            };
            gather_where(&mut held, sig, |e| ours(e.pid, &e.stat));
            let started_since =
                |p: &&Process| process::read_stat(p.pid()).is_some_and(|s| ours(p.pid().get(), &s));
            let waited: Vec<&Process> = held.iter().filter(started_since).collect();
            if waited.is_empty() {
                return;
            }
            let now = Instant::now();
            if !own_kill {
                self.wait_any_exit(&waited, Duration::MAX);
                continue;
            }
            if now < deadline {
                self.wait_any_exit(&waited, deadline - now);
                continue;
            }
            let pids: Vec<String> = waited.iter().map(|p| p.pid().to_string()).collect();
            if killed {
                let msg = format!(
                    "processes {} survive SIGKILL; the monitor exits",
                    pids.join(", ")
                );
                self.say(&msg);
                return;
            }
            for p in &waited {
                let _ = p.signal(Signal::SIGKILL);
            }
            let msg = format!(
                "{} ({}) still running after {}: sent SIGKILL",
                crate::parse::counted(waited.len() as u64, "process", "processes"),
                pids.join(", "),
                format_duration(self.policy.stop_timeout)
            );
            killed = true;
            deadline = now + LEFTOVER_KILL_WAIT;
            self.say(&msg);
        }
    }

    /// Waits until one of `processes` has exited, or `timeout`: on their pidfds at once, and
    /// every few milliseconds where one has none. What the log pipes receive meanwhile is
    /// copied into the log: a process that writes as it shuts down (what the last `--on-exit`
    /// command left, the command itself) would otherwise fill its pipe and block there, until
    /// SIGKILL, losing what it wrote (docs/safety.md listed it as a limit).
    fn wait_any_exit(&mut self, processes: &[&Process], timeout: Duration) {
        let deadline = Instant::now().checked_add(timeout);
        let blind = processes.iter().any(|p| p.pidfd().is_none());
        // Pipes whose writers have all gone: polled no more (they would wake it at once).
        let mut open = vec![true; self.outputs.len()];
        loop {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            let slice = match blind {
                true => left.min(Duration::from_millis(5)),
                false => left,
            };
            let mut fds: Vec<PollFd> = processes
                .iter()
                .filter_map(|p| p.pidfd())
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            let exits = fds.len();
            let pipes: Vec<usize> = (0..self.outputs.len()).filter(|&i| open[i]).collect();
            fds.extend(
                pipes
                    .iter()
                    .map(|&i| PollFd::new(self.outputs[i].pipe.as_fd(), PollFlags::POLLIN)),
            );
            let ms = slice.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let woke = poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            );
            let fired = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let exited = fds[..exits].iter().any(fired);
            let ready: Vec<(usize, bool)> = pipes
                .iter()
                .zip(&fds[exits..])
                .filter(|(_, f)| fired(f))
                .map(|(&i, f)| {
                    (
                        i,
                        f.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)),
                    )
                })
                .collect();
            drop(fds);
            for &(i, readable) in &ready {
                match readable {
                    true => self.pump(i, 16),
                    false => open[i] = false,
                }
            }
            // A failed poll (ENOMEM) returns, as the time being up does: the caller looks again.
            if exited || ready.is_empty() || woke.is_err() || blind {
                return;
            }
        }
    }

    /// A line of the monitor's own in the daemon's stderr log.
    fn say(&mut self, msg: &str) {
        let line = format!("rdaemon: {}: {msg}\n", self.name);
        match self.outputs.iter_mut().find(|o| o.stderr) {
            Some(output) => {
                let _ = output.log.write_line(&line);
            }
            None => {
                let _ = io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

/// Passes `sig` on to the child. It is this process's unreaped child, so its pid cannot have
/// been reused; an error means it is already exiting.
fn forward(child: Pid, sig: Signal) {
    let _ = kill(nix::unistd::Pid::from_raw(child.get()), sig);
}

/// Sends SIGTERM (and SIGCONT) to what is left of the process group this monitor leads: the
/// processes its children started and left behind go with the daemon, as `stop`'s group signal
/// takes them in exec mode (`stop` signals only the monitor of a respawn daemon, so that the
/// child gets one TERM, forwarded). The monitor gets them too and, being done, ignores them.
fn end_group() {
    let me = nix::unistd::getpid();
    if nix::unistd::getpgrp() == me {
        let _ = nix::sys::signal::killpg(me, Signal::SIGTERM);
        let _ = nix::sys::signal::killpg(me, Signal::SIGCONT);
    }
}

/// SIGKILLs helper `h`'s process group, which it leads (a session of its own), only while
/// `h` is this monitor's unreaped child: once reaped, its number may be anyone's.
fn kill_helper(h: &Helper) {
    if process::is_unreaped_child(h.pid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(h.pid.get()), Signal::SIGKILL);
    }
}

/// Reaps every child that has exited (WNOHANG until none is left: signals coalesce).
fn reap_children() -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let (pid, how) = match waitpid(None::<nix::unistd::Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => break,
            Ok(status) => match (status.pid(), process::Ended::of_wait(&status)) {
                (Some(pid), Some(ended)) => (pid, LastExit::from(ended)),
                _ => continue,
            },
            Err(Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: no children at all.
        };
        if let Ok(pid) = Pid::new(pid.as_raw()) {
            events.push(Event::Exited { pid, how });
        }
    }
    events
}

/// What woke the monitor's `poll`.
struct Wake {
    /// The signal pipe is readable.
    signalled: bool,
    /// These log pipes are readable.
    readable: Vec<usize>,
    /// The notify socket is readable.
    notified: bool,
    /// `start` has just handed the status over.
    handed_over: bool,
}

/// A `tcp:` health check: a connection to HOST:PORT within `limit`, to a listener of `child`'s
/// (see [`ready::foreign_listener`]; `None`: the child is gone, and any listener counts).
fn health_tcp(
    host: &str,
    port: u16,
    limit: Duration,
    child: Option<&Process>,
) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{host}': {e}"))?
        .collect();
    let mut why = format!("no address for '{host}'");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, limit) {
            Ok(_) => match child.and_then(|c| ready::foreign_listener(c, &addr)) {
                None => return Ok(()),
                Some(foreign) => why = foreign.describe(),
            },
            Err(e) => why = format!("no connection to {addr}: {}", crate::pidfile::os_reason(&e)),
        }
    }
    Err(why)
}

/// An `http:` health check: a GET answered 2xx or 3xx within `limit`, sent only to a listener
/// of `child`'s, as [`health_tcp`].
fn health_http(url: &str, limit: Duration, child: Option<&Process>) -> Result<(), String> {
    use crate::probe::{http_ask, http_connect, parse_http_url, Answer};
    use std::net::ToSocketAddrs;
    let parsed = parse_http_url(url)?;
    let addr = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{}': {e}", parsed.host))?
        .next()
        .ok_or_else(|| format!("no address for '{}'", parsed.host))?;
    let wait = |stream: &std::net::TcpStream, slice: Duration| {
        let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        let ms = slice.as_millis().clamp(1, 60_000) as i32;
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
        false
    };
    let limit = Instant::now() + limit;
    let Some(stream) = http_connect(&addr, limit) else {
        return Err(format!("no connection to {addr}"));
    };
    if let Some(foreign) = child.and_then(|c| ready::foreign_listener(c, &addr)) {
        // Closed unsent: its answer would say nothing of the program.
        return Err(foreign.describe());
    }
    match http_ask(&parsed, stream, limit, wait) {
        Answer::Status(code, _) if (200..400).contains(&code) => Ok(()),
        Answer::Status(_, line) => Err(format!("{url} answered '{line}'")),
        Answer::NoConnection => Err(format!("no connection to {addr}")),
        Answer::Silent(why) => Err(format!("{url}: {why}")),
        Answer::Cut => Err(format!("{url}: cut short")),
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .context("cannot duplicate a standard stream")
}

fn is_regular_or_missing(path: &Path) -> bool {
    match fs::metadata(path) {
        Ok(m) => m.is_file(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn how_long_a_program_ran_reads_plainly() {
        let ms = Duration::from_millis;
        assert_eq!(format_ran_for(ms(0)), "0s");
        assert_eq!(format_ran_for(ms(7)), "7ms");
        assert_eq!(format_ran_for(ms(999)), "999ms");
        assert_eq!(format_ran_for(ms(3007)), "3s");
        assert_eq!(format_ran_for(ms(2600)), "3s");
        assert_eq!(format_ran_for(ms(125_400)), "2m 5s");
    }
    use super::*;

    fn policy(delay_ms: u64, max: u32, window_s: u64) -> Policy {
        Policy::new(
            Duration::from_millis(delay_ms),
            max,
            Duration::from_secs(window_s),
        )
    }

    /// Exits quickly `n` times, restarting after each chosen delay; returns the delays.
    fn crash_loop(b: &mut Backoff, p: &Policy, t0: Instant, n: usize) -> Vec<Decision> {
        let mut t = t0;
        let mut out = Vec::new();
        for _ in 0..n {
            let d = b.on_exit(p, t, Duration::from_millis(10));
            out.push(d);
            if let Decision::Restart(delay) = d {
                t += delay;
                b.on_restart(p, t);
            }
        }
        out
    }

    #[test]
    fn delay_doubles_on_quick_failures_and_is_capped() {
        let p = policy(1000, 0, 60);
        let delays = crash_loop(&mut Backoff::default(), &p, Instant::now(), 9);
        let secs: Vec<u64> = delays
            .iter()
            .map(|d| match d {
                Decision::Restart(d) => d.as_secs(),
                Decision::GiveUp => panic!("gave up without a limit"),
            })
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn a_long_run_resets_the_delay() {
        let p = policy(500, 0, 60);
        let mut b = Backoff::default();
        let t = Instant::now();
        crash_loop(&mut b, &p, t, 4);
        let d = b.on_exit(&p, t + Duration::from_secs(600), RESET_AFTER);
        assert_eq!(d, Decision::Restart(Duration::from_millis(500)));
        let d = b.on_exit(&p, t + Duration::from_secs(601), Duration::from_secs(1));
        assert_eq!(d, Decision::Restart(Duration::from_secs(1)));
    }

    #[test]
    fn a_delay_longer_than_the_cap_is_kept() {
        let p = policy(120_000, 0, 60);
        let d = crash_loop(&mut Backoff::default(), &p, Instant::now(), 2);
        assert_eq!(d, [Decision::Restart(Duration::from_secs(120)); 2]);
    }

    #[test]
    fn gives_up_after_max_restarts_within_the_window() {
        let p = policy(100, 3, 60);
        let d = crash_loop(&mut Backoff::default(), &p, Instant::now(), 5);
        assert_eq!(
            d,
            [
                Decision::Restart(Duration::from_millis(100)),
                Decision::Restart(Duration::from_millis(200)),
                Decision::Restart(Duration::from_millis(400)),
                Decision::GiveUp,
                Decision::GiveUp,
            ]
        );
    }

    #[test]
    fn restarts_outside_the_window_do_not_count() {
        let p = policy(0, 2, 10);
        let mut b = Backoff::default();
        let t = Instant::now();
        assert_eq!(
            b.on_exit(&p, t, Duration::ZERO),
            Decision::Restart(Duration::ZERO)
        );
        b.on_restart(&p, t);
        let t1 = t + Duration::from_secs(1);
        assert!(matches!(
            b.on_exit(&p, t1, Duration::ZERO),
            Decision::Restart(_)
        ));
        b.on_restart(&p, t1);
        // Two restarts within 10 s: the next exit gives up...
        assert_eq!(
            b.on_exit(&p, t + Duration::from_secs(5), Duration::ZERO),
            Decision::GiveUp
        );
        // ...but not once the first restart has left the window.
        let later = t + Duration::from_secs(10);
        assert!(matches!(
            b.on_exit(&p, later, Duration::ZERO),
            Decision::Restart(_)
        ));
    }

    #[test]
    fn zero_max_restarts_never_gives_up() {
        let p = policy(0, 0, 3600);
        let d = crash_loop(&mut Backoff::default(), &p, Instant::now(), 1000);
        assert!(d.iter().all(|d| *d == Decision::Restart(Duration::ZERO)));
    }

    /// A child running since `t`, not watched (no notify, health or watchdog).
    fn running_since(child: Pid, t: Instant) -> State {
        State::Running {
            child,
            since: t,
            said: None,
            failures: 0,
            health_at: None,
            checking: false,
            watchdog_at: None,
            grace_until: None,
        }
    }

    /// `--forking`: the launcher's exit leads to adoption; its failure, to a restart (or, for
    /// the first launch, to the monitor's end); a launcher that does not exit is killed.
    #[test]
    fn forking_launch_adopt_and_fail_through_the_table() {
        let mut p = policy(1000, 5, 60);
        p.forking = Some(Duration::from_secs(30));
        let go = |state, event, now| step(state, event, &p, &mut Backoff::default(), 0, now);
        let t = Instant::now();
        let launcher = Pid::new(4242).unwrap();
        let main = Pid::new(4250).unwrap();
        let (s, e) = go(State::Starting { first: true }, Event::Spawned(launcher), t);
        let launching = State::Launching {
            launcher,
            first: true,
            since: t,
            until: t + Duration::from_secs(30),
        };
        assert_eq!((s, e), (launching, vec![]));
        let ok = Event::Exited {
            pid: launcher,
            how: LastExit::code(0),
        };
        let (s, e) = go(launching, ok.clone(), t);
        let adopting = State::Adopting {
            launcher,
            first: true,
            since: t,
        };
        assert_eq!((s, e), (adopting, vec![Effect::Adopt { first: true }]));
        let (s, e) = go(adopting, Event::Adopted(main), t);
        assert_eq!(
            s,
            State::Trial {
                child: main,
                since: t
            }
        );
        assert_eq!(e, vec![Effect::ChildStarted(main)]);
        // The first launch failing ends the monitor (start is told and cleans up).
        let three = Event::Exited {
            pid: launcher,
            how: LastExit::code(3),
        };
        let (s, e) = go(launching, three.clone(), t);
        assert_eq!(
            s,
            State::Done {
                code: Code::Failure
            }
        );
        assert!(matches!(&e[..], [Effect::Abort(why)] if why.contains("exited with status 3")));
        let (s, e) = go(adopting, Event::AdoptFailed("no pidfile".into()), t);
        assert_eq!(
            s,
            State::Done {
                code: Code::Failure
            }
        );
        assert_eq!(e, vec![Effect::Abort("no pidfile".into())]);
        // A later launch failing is an exit like any other: cleanup, then a restart.
        let later = State::Launching {
            launcher,
            first: false,
            since: t,
            until: t + Duration::from_secs(30),
        };
        let (s, e) = go(later, three, t);
        assert!(matches!(s, State::Waiting { .. }), "{s:?}");
        assert!(e.contains(&Effect::Cleanup(launcher)), "{e:?}");
        // A launcher still running at its deadline is killed; its exit then follows.
        let (s, e) = go(
            later,
            Event::Tick { leftovers: false },
            t + Duration::from_secs(31),
        );
        assert_eq!(s, later);
        assert!(e.contains(&Effect::Forward(launcher, Signal::SIGKILL)));
        // TERM while launching stops the launcher.
        let (s, e) = go(later, Event::Signal(Signal::SIGTERM), t);
        assert_eq!(s, State::Stopping { child: launcher });
        assert!(e.contains(&Effect::Forward(launcher, Signal::SIGTERM)));
        // A later launch's process runs as any restarted child.
        let adopting_again = State::Adopting {
            launcher,
            first: false,
            since: t,
        };
        let (s, _) = go(adopting_again, Event::Adopted(main), t);
        assert_eq!(s, running_since(main, t));
        // Without --forking, a spawned child runs at once (on trial, being the first).
        let (s, _) = one(State::Starting { first: true }, Event::Spawned(launcher), t);
        let trial = State::Trial {
            child: launcher,
            since: t,
        };
        assert_eq!(s, trial);
        let (s, _) = one(
            State::Starting { first: false },
            Event::Spawned(launcher),
            t,
        );
        assert_eq!(s, running_since(launcher, t));
    }

    /// One step from `state` at `now`, with a fresh backoff: the next state and the effects.
    fn one(state: State, event: Event, now: Instant) -> (State, Vec<Effect>) {
        step(
            state,
            event,
            &policy(1000, 5, 60),
            &mut Backoff::default(),
            0,
            now,
        )
    }

    /// The spec's stop signal stops the monitor as TERM does, and is passed on as it is; the
    /// same signal is only forwarded when it is not the stop signal.
    #[test]
    fn the_stop_signal_stops_the_monitor() {
        let child = Pid::new(4242).unwrap();
        let t = Instant::now();
        let running = running_since(child, t);
        let usr2 = Policy {
            stop_signal: Signal::SIGUSR2,
            ..policy(1000, 5, 60)
        };
        let (next, effects) = step(
            running,
            Event::Signal(Signal::SIGUSR2),
            &usr2,
            &mut Backoff::default(),
            0,
            t,
        );
        assert_eq!(next, State::Stopping { child });
        assert_eq!(
            effects[1..],
            [
                Effect::Forward(child, Signal::SIGUSR2),
                Effect::Forward(child, Signal::SIGCONT)
            ]
        );
        let (next, effects) = one(running, Event::Signal(Signal::SIGUSR2), t);
        assert_eq!(next, running);
        assert_eq!(effects, [Effect::Forward(child, Signal::SIGUSR2)]);
        let waiting = State::Waiting { at: t };
        let (next, _) = step(
            waiting,
            Event::Signal(Signal::SIGUSR2),
            &usr2,
            &mut Backoff::default(),
            0,
            t,
        );
        assert_eq!(next, State::Done { code: Code::Ok });
    }

    #[test]
    fn the_transition_table() {
        let child = Pid::new(4242).unwrap();
        let other = Pid::new(4243).unwrap();
        let t = Instant::now();
        let running = running_since(child, t);
        let waiting = State::Waiting { at: t };
        let stopping = State::Stopping { child };
        let done = State::Done { code: Code::Ok };
        let exit = |pid| Event::Exited {
            pid,
            how: LastExit::code(1),
        };
        let tick = Event::Tick { leftovers: false };
        use Signal::*;
        let stop = |sig| {
            (
                stopping,
                vec![Effect::Forward(child, sig), Effect::Forward(child, SIGCONT)],
            )
        };
        let finish = Effect::Finish {
            code: Code::Ok,
            end: End::Asked,
        };
        let cases: Vec<(State, Event, (State, Vec<Effect>))> = vec![
            (running, exit(other), (running, vec![])),
            (
                running,
                Event::Signal(SIGHUP),
                (running, vec![Effect::Forward(child, SIGHUP)]),
            ),
            (
                running,
                Event::Signal(SIGQUIT),
                (running, vec![Effect::Forward(child, SIGQUIT)]),
            ),
            (running, tick.clone(), (running, vec![])),
            (
                waiting,
                tick.clone(),
                (
                    State::Starting { first: false },
                    vec![Effect::CountRestart, Effect::Spawn],
                ),
            ),
            (waiting, Event::Tick { leftovers: true }, (waiting, vec![])),
            (
                waiting,
                Event::Signal(SIGTERM),
                (State::Done { code: Code::Ok }, vec![finish.clone()]),
            ),
            (
                waiting,
                Event::Signal(SIGINT),
                (State::Done { code: Code::Ok }, vec![finish.clone()]),
            ),
            (waiting, Event::Signal(SIGUSR1), (waiting, vec![])),
            (waiting, exit(other), (waiting, vec![])),
            (stopping, exit(other), (stopping, vec![])),
            (stopping, Event::Signal(SIGTERM), stop(SIGTERM)),
            (
                stopping,
                Event::Signal(SIGWINCH),
                (stopping, vec![Effect::Forward(child, SIGWINCH)]),
            ),
            (stopping, tick.clone(), (stopping, vec![])),
            (done, Event::Signal(SIGTERM), (done, vec![])),
            (done, exit(child), (done, vec![])),
            (
                State::New,
                tick.clone(),
                (State::Starting { first: true }, vec![Effect::Spawn]),
            ),
            (
                State::Starting { first: true },
                Event::Spawned(child),
                (
                    State::Trial { child, since: t },
                    vec![Effect::ChildStarted(child)],
                ),
            ),
            (running, Event::HandedOver, (running, vec![])),
            (waiting, Event::HandedOver, (waiting, vec![])),
        ];
        for (state, event, want) in cases {
            assert_eq!(one(state, event.clone(), t), want, "{state:?} + {event:?}");
        }
        // TERM while running: said, passed on with SIGCONT, then the child's exit ends it.
        let (next, effects) = one(running, Event::Signal(SIGTERM), t);
        assert_eq!(next, stopping);
        assert!(matches!(&effects[0], Effect::Say(line) if line.contains("got SIGTERM")));
        assert_eq!(effects[1..], stop(SIGTERM).1[..]);
        let (next, effects) = one(stopping, exit(child), t);
        assert_eq!(next, State::Done { code: Code::Ok });
        assert_eq!(effects.last(), Some(&finish));
        // A tick before the restart delay is over does nothing.
        let later = State::Waiting {
            at: t + Duration::from_secs(5),
        };
        assert_eq!(one(later, tick, t), (later, vec![]));
    }

    /// The first child, while `start` waits for its readiness: its exit is reported to `start`
    /// (after its last output) and not restarted; `start` then stops the monitor. Once `start`
    /// has handed over, it is a child like any other, and an exit reported too late for `start`
    /// is handled as any exit.
    #[test]
    fn the_first_child_is_on_trial_until_the_handoff() {
        let child = Pid::new(4242).unwrap();
        let other = Pid::new(4243).unwrap();
        let t = Instant::now();
        let later = t + Duration::from_millis(300);
        let trial = State::Trial { child, since: t };
        use Signal::*;
        let killed = Event::Exited {
            pid: child,
            how: LastExit::signal(9),
        };
        let held = State::Held {
            child,
            since: t,
            at: later,
            ended: Ended::Signal(9, false),
        };
        assert_eq!(
            one(trial, killed, later),
            (
                held,
                vec![Effect::Drain, Effect::Report(Ended::Signal(9, false))]
            )
        );
        let (s, e) = one(
            trial,
            Event::Exited {
                pid: child,
                how: LastExit::code(9),
            },
            later,
        );
        assert!(
            matches!(
                s,
                State::Held {
                    ended: Ended::Code(9),
                    ..
                }
            ),
            "{s:?}"
        );
        assert_eq!(e, vec![Effect::Drain, Effect::Report(Ended::Code(9))]);
        // Another process's exit changes nothing; neither do signals, ticks or time.
        let exit_other = Event::Exited {
            pid: other,
            how: LastExit::code(1),
        };
        assert_eq!(one(trial, exit_other.clone(), t), (trial, vec![]));
        assert_eq!(
            one(trial, Event::Signal(SIGHUP), t),
            (trial, vec![Effect::Forward(child, SIGHUP)])
        );
        let tick = Event::Tick { leftovers: false };
        let much_later = t + Duration::from_secs(3600);
        assert_eq!(one(trial, tick.clone(), much_later), (trial, vec![]));
        assert_eq!(one(held, tick, much_later), (held, vec![]));
        assert_eq!(one(held, exit_other, later), (held, vec![]));
        assert_eq!(one(held, Event::Signal(SIGHUP), later), (held, vec![]));
        // `start` stops it (a timeout, Ctrl-C, the program's exit): as in Running, or at once
        // when the program is gone already, leaving the status to `start`.
        let (s, e) = one(trial, Event::Signal(SIGTERM), t);
        assert_eq!(s, State::Stopping { child });
        assert!(e.contains(&Effect::Forward(child, SIGTERM)));
        let finish = Effect::Finish {
            code: Code::Ok,
            end: End::Asked,
        };
        assert_eq!(
            one(held, Event::Signal(SIGTERM), later),
            (State::Done { code: Code::Ok }, vec![finish])
        );
        // Handed over: the child runs as any other, watched from now on.
        let mut p = policy(1000, 5, 60);
        p.health = Some(HealthPolicy {
            interval: Duration::from_secs(10),
            retries: 3,
            grace: Duration::ZERO,
        });
        let (s, e) = step(
            trial,
            Event::HandedOver,
            &p,
            &mut Backoff::default(),
            0,
            later,
        );
        assert_eq!(e, vec![]);
        assert!(
            matches!(s, State::Running { child: c, since, health_at: Some(at), .. }
                if c == child && since == t && at == later + Duration::from_secs(10)),
            "{s:?}"
        );
        // An exit `start` did not hear of in time is handled as any exit once it hands over:
        // noted, what it left cleaned up, restarted after the delay.
        let (s, e) = one(held, Event::HandedOver, later);
        assert_eq!(
            s,
            State::Waiting {
                at: later + Duration::from_secs(1)
            }
        );
        assert!(
            matches!(&e[0], Effect::NoteExit(l) if l.signal == Some(9)),
            "{e:?}"
        );
        assert!(e.contains(&Effect::Cleanup(child)), "{e:?}");
        assert!(says(&e, "killed by signal 9 after 300ms; restarting in 1s"));
        assert!(
            !e.contains(&Effect::Drain),
            "drained at the exit already: {e:?}"
        );
    }

    /// Drives the machine through `events` (each at its time), as the monitor's loop does,
    /// feeding the outcome of each `Spawn` back: `spawns` says, in order, whether each spawn
    /// works. `start` hands over as soon as the first child runs (`--ready exec`). Returns the
    /// states passed through and every effect.
    fn run_machine(
        p: &Policy,
        events: Vec<(Instant, Event)>,
        mut spawns: Vec<bool>,
    ) -> (Vec<State>, Vec<Effect>) {
        let mut backoff = Backoff::default();
        let (mut state, mut restarts, mut next_pid) = (State::New, 0, 5000);
        let (mut states, mut all) = (Vec::new(), Vec::new());
        for (now, event) in events {
            let mut pending = Some(event);
            while let Some(event) = pending.take() {
                let (next, effects) = step(state, event, p, &mut backoff, restarts, now);
                state = next;
                states.push(state);
                for effect in &effects {
                    match effect {
                        Effect::CountRestart => restarts += 1,
                        Effect::Spawn if spawns.remove(0) => {
                            next_pid += 1;
                            pending = Some(Event::Spawned(Pid::new(next_pid).unwrap()));
                        }
                        Effect::Spawn => {
                            pending = Some(Event::SpawnFailed("cannot execute 'x'".into()))
                        }
                        _ => {}
                    }
                }
                if pending.is_none() && matches!(state, State::Trial { .. }) {
                    pending = Some(Event::HandedOver);
                }
                all.extend(effects);
            }
        }
        (states, all)
    }

    fn crashed(pid: i32) -> Event {
        Event::Exited {
            pid: Pid::new(pid).unwrap(),
            how: LastExit::code(1),
        }
    }

    #[test]
    fn a_crash_loop_gives_up_after_max_restarts() {
        let p = policy(100, 2, 60);
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let tick = || Event::Tick { leftovers: false };
        // Start (5001), crash, restart after 100 ms (5002), crash, restart after 200 ms (5003),
        // crash: two restarts within the window, give up.
        let events = vec![
            (ms(0), tick()),
            (ms(10), crashed(5001)),
            (ms(110), tick()),
            (ms(120), crashed(5002)),
            (ms(320), tick()),
            (ms(330), crashed(5003)),
            (ms(2000), tick()),
        ];
        let (states, effects) = run_machine(&p, events, vec![true, true, true]);
        assert_eq!(
            states.last(),
            Some(&State::Done {
                code: Code::Failure
            })
        );
        assert_eq!(
            effects
                .iter()
                .filter(|e| **e == Effect::CountRestart)
                .count(),
            2
        );
        assert_eq!(effects.iter().filter(|e| **e == Effect::Spawn).count(), 3);
        assert!(effects.contains(&Effect::Failed));
        assert!(effects.contains(&Effect::Finish {
            code: Code::Failure,
            end: End::GaveUp
        }));
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::Say(l) if l.contains("giving up after 2 restarts"))));
        // Each crash drained its pipes and cleaned up what it left, but the last (given up).
        assert_eq!(effects.iter().filter(|e| **e == Effect::Drain).count(), 3);
        assert_eq!(
            effects
                .iter()
                .filter(|e| matches!(e, Effect::Cleanup(_)))
                .count(),
            2
        );
    }

    #[test]
    fn term_while_waiting_to_restart_stops_without_a_restart() {
        let p = policy(1000, 5, 60);
        let t = Instant::now();
        let events = vec![
            (t, Event::Tick { leftovers: false }),
            (t + Duration::from_millis(10), crashed(5001)),
            (
                t + Duration::from_millis(20),
                Event::Signal(Signal::SIGTERM),
            ),
            // The delay would be over now: nothing starts any more.
            (t + Duration::from_secs(5), Event::Tick { leftovers: false }),
        ];
        let (states, effects) = run_machine(&p, events, vec![true]);
        assert_eq!(states.last(), Some(&State::Done { code: Code::Ok }));
        assert_eq!(effects.iter().filter(|e| **e == Effect::Spawn).count(), 1);
        assert!(effects.contains(&Effect::Finish {
            code: Code::Ok,
            end: End::Asked
        }));
        assert!(!effects.contains(&Effect::Failed));
    }

    #[test]
    fn a_spawn_failure_at_a_restart_counts_as_an_exit_and_is_retried() {
        let p = policy(100, 5, 60);
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let tick = || Event::Tick { leftovers: false };
        let events = vec![
            (ms(0), tick()),
            (ms(10), crashed(5001)),
            // The restart cannot execute the program: recorded as status 127, retried later.
            (ms(110), tick()),
            (ms(50_000), tick()),
        ];
        let (states, effects) = run_machine(&p, events, vec![true, false, true]);
        assert!(
            matches!(states.last(), Some(State::Running { .. })),
            "{states:?}"
        );
        assert!(effects.contains(&Effect::NoteExit(LastExit {
            at: effects.iter().find_map(|e| match e {
                Effect::NoteExit(l) if l.code == Some(SPAWN_FAILED_STATUS) => l.at.clone(),
                _ => None,
            }),
            ..LastExit::code(SPAWN_FAILED_STATUS)
        })));
        assert!(effects.iter().any(|e| matches!(e, Effect::Say(l) if l.starts_with("cannot execute 'x'") && l.contains("restarting in"))));
        // Nothing to clean up after a child that never ran.
        assert_eq!(
            effects
                .iter()
                .filter(|e| matches!(e, Effect::Cleanup(_)))
                .count(),
            1
        );
        assert_eq!(
            effects
                .iter()
                .filter(|e| **e == Effect::CountRestart)
                .count(),
            2
        );
    }

    #[test]
    fn the_next_child_waits_for_the_leftovers() {
        let p = policy(0, 5, 60);
        let t = Instant::now();
        let events = vec![
            (t, Event::Tick { leftovers: false }),
            (t, crashed(5001)),
            (
                t + Duration::from_millis(1),
                Event::Tick { leftovers: true },
            ),
        ];
        let (states, _) = run_machine(&p, events.clone(), vec![true]);
        assert!(matches!(states.last(), Some(State::Waiting { .. })));
        let mut events = events;
        events.push((
            t + Duration::from_millis(2),
            Event::Tick { leftovers: false },
        ));
        let (states, _) = run_machine(&p, events, vec![true, true]);
        assert!(matches!(states.last(), Some(State::Running { .. })));
    }

    fn notified(f: impl FnOnce(&mut Notice)) -> Event {
        let mut n = Notice::default();
        f(&mut n);
        Event::Notified(n)
    }

    fn says(effects: &[Effect], text: &str) -> bool {
        effects
            .iter()
            .any(|e| matches!(e, Effect::Say(l) if l.contains(text)))
    }

    #[test]
    fn health_failures_in_a_row_stop_and_restart_the_program() {
        let mut p = policy(100, 5, 60);
        p.health = Some(HealthPolicy {
            interval: Duration::from_secs(1),
            retries: 3,
            grace: Duration::ZERO,
        });
        let t = Instant::now();
        let s = |n: u64| t + Duration::from_millis(n);
        let tick = || Event::Tick { leftovers: false };
        let bad = || Event::Health(Err("no connection".into()));
        let events = vec![
            (s(0), tick()),
            // Too early: nothing.
            (s(500), tick()),
            (s(1000), tick()),
            (s(1010), bad()),
            (s(2010), tick()),
            // A pass resets the count.
            (s(2020), Event::Health(Ok(()))),
            (s(3020), tick()),
            (s(3030), bad()),
            (s(4030), tick()),
            (s(4040), bad()),
            (s(5040), tick()),
            (s(5050), bad()),
            // Stopped with SIGTERM; SIGKILL at the stop timeout if it does not go.
            (s(15050), tick()),
            (
                s(15060),
                Event::Exited {
                    pid: Pid::new(5001).unwrap(),
                    how: LastExit::signal(9),
                },
            ),
            (s(16000), tick()),
        ];
        let (states, effects) = run_machine(&p, events, vec![true, true]);
        let checks = effects
            .iter()
            .filter(|e| **e == Effect::CheckHealth)
            .count();
        assert_eq!(checks, 5, "{effects:?}");
        assert!(says(&effects, "health check failed (3 of 3 in a row)"));
        assert!(!says(&effects, "(4 of 3"));
        let child = Pid::new(5001).unwrap();
        assert!(effects.contains(&Effect::Forward(child, Signal::SIGTERM)));
        assert!(effects.contains(&Effect::Forward(child, Signal::SIGKILL)));
        let last = effects.iter().rev().find_map(|e| match e {
            Effect::NoteExit(l) => Some(l.clone()),
            _ => None,
        });
        assert_eq!(last.unwrap().reason, Some(StopReason::Unhealthy));
        assert!(says(&effects, "unhealthy after"));
        assert!(matches!(states.last(), Some(State::Running { child, .. }) if child.get() == 5002));
        assert_eq!(
            effects
                .iter()
                .filter(|e| **e == Effect::CountRestart)
                .count(),
            1
        );
    }

    /// After a restart, the program is not ready at once (a server that takes its time to
    /// listen): failed checks do not count until one passes or `grace` (its `--ready-timeout`)
    /// has gone by since the restart; then they count as always.
    #[test]
    fn after_a_restart_health_failures_count_once_the_program_is_ready() {
        let mut p = policy(100, 5, 60);
        p.health = Some(HealthPolicy {
            interval: Duration::from_secs(1),
            retries: 2,
            grace: Duration::from_secs(10),
        });
        let t = Instant::now();
        let ms = Duration::from_millis;
        let tick = || Event::Tick { leftovers: false };
        let crash = || Event::Exited {
            pid: Pid::new(5001).unwrap(),
            how: LastExit::code(1),
        };
        // Restarted at 300 ms; each check is due 1 s after the last outcome. `outcomes` come
        // one per check from `first` ms on.
        let timeline = |first: u64, outcomes: &[Result<(), String>]| {
            let mut events = vec![(t, tick()), (t + ms(100), crash()), (t + ms(300), tick())];
            let mut at = first;
            for outcome in outcomes {
                events.push((t + ms(at), tick()));
                events.push((t + ms(at + 10), Event::Health(outcome.clone())));
                at += 1010;
            }
            events
        };
        let bad = || Err("no connection".to_string());
        let child = Pid::new(5002).unwrap();
        // Five failures while it starts, none counted; a pass; then two in a row stop it.
        let outcomes = [bad(), bad(), bad(), bad(), bad(), Ok(()), bad(), bad()];
        let (_, effects) = run_machine(&p, timeline(1300, &outcomes), vec![true, true, true]);
        assert!(says(&effects, "while pid 5002 starts (not counted"));
        let counted = effects
            .iter()
            .filter(|e| matches!(e, Effect::Say(l) if l.contains("(1 of 2 in a row)")))
            .count();
        assert_eq!(
            counted, 1,
            "only the failure after the pass counts: {effects:?}"
        );
        assert!(says(&effects, "health check failed (2 of 2 in a row)"));
        let stops = effects
            .iter()
            .filter(|e| **e == Effect::Forward(child, Signal::SIGTERM))
            .count();
        assert_eq!(stops, 1, "{effects:?}");
        // Failures past the grace, with no pass before it: counted.
        let outcomes = [bad(), bad()];
        let (_, effects) = run_machine(&p, timeline(10_400, &outcomes), vec![true, true, true]);
        assert!(!says(&effects, "not counted"), "{effects:?}");
        assert!(says(&effects, "health check failed (2 of 2 in a row)"));
    }

    #[test]
    fn a_watchdog_miss_stops_and_restarts_the_program() {
        let mut p = policy(100, 5, 60);
        p.notify = true;
        p.watchdog = Some(Duration::from_millis(500));
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let tick = || Event::Tick { leftovers: false };
        let events = vec![
            (ms(0), tick()),
            // Not armed before READY=1: no miss however long it takes.
            (ms(5000), tick()),
            (ms(5010), notified(|n| n.ready = true)),
            (ms(5400), notified(|n| n.watchdog = true)),
            (ms(5800), tick()),
            (ms(5900), tick()),
            (
                ms(5910),
                Event::Exited {
                    pid: Pid::new(5001).unwrap(),
                    how: LastExit::signal(15),
                },
            ),
            (ms(6100), tick()),
        ];
        let (states, effects) = run_machine(&p, events, vec![true, true]);
        let term = Effect::Forward(Pid::new(5001).unwrap(), Signal::SIGTERM);
        assert_eq!(effects.iter().filter(|e| **e == term).count(), 1);
        assert!(says(
            &effects,
            "no WATCHDOG=1 from the program within 500ms"
        ));
        let reason = effects.iter().find_map(|e| match e {
            Effect::NoteExit(l) => l.reason,
            _ => None,
        });
        assert_eq!(reason, Some(StopReason::Watchdog));
        // The new child is not ready, and its watchdog waits for its READY=1.
        assert!(matches!(
            states.last(),
            Some(State::Running {
                said: Some(NotifyState::Starting),
                watchdog_at: None,
                ..
            })
        ));
    }

    #[test]
    fn on_failure_ends_on_a_clean_exit_and_restarts_after_a_failure() {
        let mut p = policy(100, 5, 60);
        p.restart = RestartPolicy::OnFailure;
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let tick = || Event::Tick { leftovers: false };
        let exit = |pid, code| Event::Exited {
            pid: Pid::new(pid).unwrap(),
            how: LastExit::code(code),
        };
        let events = vec![
            (ms(0), tick()),
            (ms(10), exit(5001, 1)),
            (ms(110), tick()),
            (ms(120), exit(5002, 0)),
            (ms(5000), tick()),
        ];
        let (states, effects) = run_machine(&p, events, vec![true, true, true]);
        assert_eq!(states.last(), Some(&State::Done { code: Code::Ok }));
        assert_eq!(effects.iter().filter(|e| **e == Effect::Spawn).count(), 2);
        assert!(says(&effects, "not restarting it (--restart on-failure)"));
        assert!(effects.contains(&Effect::Finish {
            code: Code::Ok,
            end: End::Clean
        }));
        let hooks: Vec<&str> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::OnExit { state, .. } => Some(*state),
                _ => None,
            })
            .collect();
        assert_eq!(hooks, ["restarting", "stopped"]);
        // A signal is a failure too.
        let events = vec![
            (ms(0), tick()),
            (
                ms(10),
                Event::Exited {
                    pid: Pid::new(5001).unwrap(),
                    how: LastExit::signal(9),
                },
            ),
            (ms(200), tick()),
        ];
        let (states, _) = run_machine(&p, events, vec![true, true]);
        assert!(matches!(states.last(), Some(State::Running { .. })));
    }

    #[test]
    fn ready_again_after_a_restart_and_reloads_are_counted() {
        let mut p = policy(100, 5, 60);
        p.notify = true;
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let tick = || Event::Tick { leftovers: false };
        let events = vec![
            (ms(0), tick()),
            (ms(10), notified(|n| n.ready = true)),
            (ms(20), notified(|n| n.status = Some("one".into()))),
            (ms(30), notified(|n| n.reloading = true)),
            (ms(40), notified(|n| n.ready = true)),
            // A READY=1 without RELOADING=1 is no reload.
            (ms(50), notified(|n| n.ready = true)),
            (ms(60), crashed(5001)),
            (ms(200), tick()),
            (ms(210), notified(|n| n.ready = true)),
        ];
        let (states, effects) = run_machine(&p, events, vec![true, true]);
        let said: Vec<NotifyState> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::NotifyState(s) => Some(*s),
                _ => None,
            })
            .collect();
        use NotifyState::*;
        assert_eq!(said, [Starting, Ready, Reloading, Ready, Starting, Ready]);
        assert_eq!(
            effects.iter().filter(|e| **e == Effect::Reloaded).count(),
            1
        );
        assert!(effects.contains(&Effect::StatusText("one".into())));
        assert!(matches!(
            states.last(),
            Some(State::Running { said: Some(Ready), child, .. }) if child.get() == 5002
        ));
    }

    #[test]
    fn stamps_each_line_where_it_begins() {
        let mut start = true;
        let out = stamp_lines(b"one\ntw", &mut start, "T");
        assert_eq!(out, b"T one\nT tw");
        assert!(!start);
        // The rest of an open line gets no stamp; the next line does.
        let out = stamp_lines(b"o\n\nx", &mut start, "T");
        assert_eq!(out, b"o\nT \nT x");
        assert_eq!(stamp_lines(b"", &mut start, "T"), b"");
    }
}
