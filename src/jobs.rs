//! Runs a graph of rdaemon's own commands as child processes (SPEC §7): `up`'s `start`s,
//! `down`'s `stop`s and `resurrect`'s starts. A job's child runs once everything it waits for
//! has succeeded; children whose turn has come run at once, concurrently. Each is a child
//! process of this very executable (the `start` code forks and must not run on several
//! threads, and each child takes its own name's lock as any `start` does). A thread per child
//! waits for it and hands its outcome and output to the main thread, which alone prints and
//! starts the next ones. An interrupt of rdaemon itself is passed on to the children by pidfd.
//! It runs no daemon code itself: what a child does is the verb's.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command as Child, Stdio};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::exit::{Code, Fail};
use crate::parse::Name;
use crate::paths::Ctx;
use crate::process::{Pid, Process};
use crate::state::Record;
use crate::target::Target;
use crate::view::Report;

/// One daemon's work: commands of rdaemon to run one after the other, once every daemon of
/// `waits_for` has succeeded. No steps: nothing to do (`idle` says so).
pub(crate) struct Job {
    pub name: Name,
    /// An edited entry of a running daemon: stopped, then started anew.
    pub replaces: bool,
    pub steps: Vec<Vec<OsString>>,
    pub waits_for: BTreeSet<Name>,
    /// Jobs that must have ended first, whatever their outcome: two daemons that would be in
    /// each other's way if started at once (`resurrect`'s [`crate::preflight::clashes`]).
    pub runs_after: BTreeSet<Name>,
}

/// How a job's child ended: success, its exit code, and what it printed.
struct Done {
    name: Name,
    /// The job's `replaces`.
    replaces: bool,
    ok: bool,
    /// The last step's exit code (none: killed by a signal, or never run).
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// What a worker thread hands the main thread.
enum Msg {
    /// A job finished.
    Done(Done),
    /// rdaemon itself got SIGINT, SIGTERM or SIGHUP.
    Interrupted(Signal),
}

/// Which way `run_jobs` goes: what it does when it is interrupted itself (SIGINT, SIGTERM,
/// SIGHUP), and how it words what it did not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `up`: the signal is passed on to the `start`s running, which stop the daemon they half
    /// started (SPEC §2.1), and nothing more is started. A Ctrl-C on a terminal reaches them
    /// anyway (the process group); a `kill` of `up` alone did not, and they finished starting
    /// after `up` was gone.
    Up,
    /// `down`: the signal is passed on to the `stop`s running, which end as an interrupted
    /// `stop` does, and nothing more is stopped.
    Down,
    /// `resurrect`: as `up`, but each job's child (`rdaemon __resurrect NAME`) decides under
    /// the daemon's lock what to do, also for a daemon that comes after one that does not run
    /// (it may run already, or be wanted stopped: no error then). Exit 3 of a child says the
    /// daemon was left alone (not wanted running): not a failure, but what comes after it is
    /// not started either.
    Resurrect,
}

impl Direction {
    /// Why `name` was not acted on: `cause`, which it waits for, failed, or was itself not
    /// acted on (`untouched`) for a failure further on. (`resurrect`'s child says it.)
    fn blocked(self, name: &Name, cause: &Name, untouched: bool) -> String {
        match (self, untouched) {
            (Direction::Resurrect, _) => {
                format!("cannot start {name}: it comes after {cause}, which did not start")
            }
            (Direction::Up, false) => {
                format!("{name} not started: it comes after {cause}, which failed")
            }
            (Direction::Up, true) => {
                format!("{name} not started: it comes after {cause}, which was not started")
            }
            (Direction::Down, false) => {
                format!("{name} not stopped: {cause}, which comes after it, could not be stopped")
            }
            (Direction::Down, true) => {
                format!("{name} not stopped: {cause}, which comes after it, was not stopped")
            }
        }
    }

    /// What the failed ones were not.
    fn not_done(self) -> &'static str {
        match self {
            Direction::Up | Direction::Resurrect => "started",
            Direction::Down => "stopped",
        }
    }

    /// The step that looks at `name` all the same although `cause`, which it comes after,
    /// does not run (it `failed`, or was left alone): `resurrect`'s, whose child tells a
    /// daemon that runs already, or is wanted stopped, from one that cannot be started now.
    /// None: the job is not run (`up`, `down`).
    fn blocked_step(self, name: &Name, cause: &Name, failed: bool) -> Option<Vec<OsString>> {
        let why = match failed {
            true => crate::cli::AFTER_FAILED,
            false => crate::cli::AFTER_STOPPED,
        };
        (self == Direction::Resurrect).then(|| {
            vec![
                crate::cli::RESURRECT_ONE.into(),
                name.as_str().into(),
                format!("--{why}").into(),
                cause.as_str().into(),
            ]
        })
    }

    /// Whether a child that exited `code` left its daemon alone: not failed, but what comes
    /// after it is held back (`resurrect`'s daemons wanted stopped).
    fn left_alone(self, code: Option<i32>) -> bool {
        self == Direction::Resurrect && code == Some(Code::NotRunning as i32)
    }
}

/// The children running now, each held by pidfd from its spawn to its reaping (so that a
/// signal passed on never reaches a reused pid), and the interrupt that came, if one did.
#[derive(Default)]
struct Running {
    children: Vec<(u32, Process)>,
    interrupted: Option<Signal>,
}

type Shared = Arc<Mutex<Running>>;

/// Registers the child `pid` just spawned. After an interrupt it gets the signal at once; the
/// caller then runs no further step.
fn hold_child(running: &Shared, pid: u32) {
    let Ok(process) =
        Pid::new(pid as i32).and_then(|p| Process::open(p).map_err(|e| e.to_string()))
    else {
        return;
    };
    let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sig) = running.interrupted {
        let _ = process.signal(sig);
    }
    running.children.push((pid, process));
}

/// Forgets the child `pid`, before it is reaped.
fn drop_child(running: &Shared, pid: u32) {
    let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
    running.children.retain(|(p, _)| *p != pid);
}

/// Catches SIGINT, SIGTERM and SIGHUP (those not ignored, as `start` does) on a thread that
/// passes the first one on to the running children and tells the main thread.
fn pass_on_interrupts(running: Shared, tx: mpsc::Sender<Msg>) -> Result<()> {
    let ignored = crate::process::ignored_signals();
    let sigs: Vec<i32> = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP]
        .iter()
        .map(|s| *s as i32)
        .filter(|s| ignored & (1u64 << (s - 1)) == 0)
        .collect();
    let mut signals =
        signal_hook::iterator::Signals::new(sigs).context("cannot install signal handlers")?;
    std::thread::spawn(move || {
        for raw in signals.forever() {
            let Ok(sig) = Signal::try_from(raw) else {
                continue;
            };
            let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
            if running.interrupted.is_some() {
                continue;
            }
            running.interrupted = Some(sig);
            for (_, process) in &running.children {
                let _ = process.signal(sig);
            }
            drop(running);
            let _ = tx.send(Msg::Interrupted(sig));
        }
    });
    Ok(())
}

/// Runs the jobs: each as soon as everything it waits for has succeeded, all that may run at
/// once concurrently. A job whose wait failed is not run (`resurrect`: run with the step that
/// says so, [`Direction::blocked_step`]). Prints one line per daemon (what its
/// child printed, each stream to its own) as each finishes; a failure and the log tail
/// `start` shows go to stderr. Exit 0 when all succeeded, else 1; interrupted, 130 (SIGINT), 143
/// (SIGTERM) or 129 (SIGHUP) once the running children, passed the signal, have ended (a
/// start stops what it half started, a stop ends as an interrupted `stop`), unless every one
/// succeeded all the same. The children work in `cwd` (none: rdaemon's own).
pub(crate) fn run_jobs(
    ctx: &Ctx,
    cwd: Option<&Path>,
    jobs: Vec<Job>,
    direction: Direction,
    idle: impl Fn(&Name) -> String,
) -> Result<Code> {
    let exe = std::env::current_exe().context("cannot find rdaemon's own executable")?;
    let mut base: Vec<OsString> = Vec::new();
    if ctx.quiet {
        base.push("-q".into());
    }
    base.extend((0..ctx.verbose).map(|_| OsString::from("-v")));
    let command = |step: &Vec<OsString>| {
        let mut cmd = Child::new(&exe);
        cmd.args(&base)
            .args(step)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        pass_dirs(ctx, &mut cmd);
        // Every step is told of an interrupt, as if it had been run by hand: a start stops
        // what it half started, a stop ends its wait as an interrupted `stop` does (what still
        // runs stays wanted running), so that a `timeout` or a CI cancel bounds `up` and
        // `down` too (helper-85's review: `down` waited out every stop timeout).
        cmd
    };
    let mut pending: BTreeMap<Name, Job> = jobs.into_iter().map(|j| (j.name.clone(), j)).collect();
    let mut succeeded: BTreeSet<Name> = BTreeSet::new();
    let mut failed: BTreeSet<Name> = BTreeSet::new();
    let mut running = 0usize;
    let (tx, rx) = mpsc::channel::<Msg>();
    let live: Shared = Arc::default();
    // Both ways: interrupted, `up` and `down` pass the signal on to the steps under way, wait
    // for them and print what they said, instead of dying with their output unread.
    pass_on_interrupts(live.clone(), tx.clone())?;
    // What had nothing to do (up to date, or nothing to stop) but waits for a failure: neither
    // failed nor done, it still holds back what waits for it. With the failure that held it.
    let mut held: BTreeMap<Name, Name> = BTreeMap::new();
    // Of `failed`, those not acted on for another's failure (said so, not "failed").
    let mut blocked_by_others: BTreeSet<Name> = BTreeSet::new();
    let mut interrupted = None;
    loop {
        // Not run: what waits for a failure (transitively, as each is marked failed or held).
        loop {
            let blocked: Vec<(Name, Name)> = pending
                .values()
                .filter_map(|j| {
                    let cause = j.waits_for.iter().find_map(|w| match failed.contains(w) {
                        true => Some(w.clone()),
                        false => held.get(w).cloned(),
                    })?;
                    Some((j.name.clone(), cause))
                })
                .collect();
            if blocked.is_empty() {
                break;
            }
            for (name, cause) in blocked {
                let job = pending.remove(&name).expect("pending");
                if job.steps.is_empty() {
                    // An entry that runs unchanged is not failed by its dependency's failure.
                    ctx.say(idle(&name));
                    held.insert(name, cause);
                    continue;
                }
                if let Some(step) = direction.blocked_step(&name, &cause, failed.contains(&cause)) {
                    let children = vec![command(&step)];
                    spawn_job(name, false, children, tx.clone(), live.clone());
                    running += 1;
                    continue;
                }
                let untouched = blocked_by_others.contains(&cause);
                eprintln!("rdaemon: {}", direction.blocked(&name, &cause, untouched));
                blocked_by_others.insert(name.clone());
                failed.insert(name);
            }
        }
        let ended = |w: &Name| succeeded.contains(w) || failed.contains(w) || held.contains_key(w);
        let ready: Vec<Name> = pending
            .values()
            .filter(|j| j.waits_for.iter().all(|w| succeeded.contains(w)))
            .filter(|j| j.runs_after.iter().all(ended))
            .map(|j| j.name.clone())
            .collect();
        let mut progressed = false;
        for name in ready {
            let job = pending.remove(&name).expect("pending");
            if job.steps.is_empty() {
                ctx.say(idle(&name));
                succeeded.insert(name);
                // What waits for it may go now.
                progressed = true;
                continue;
            }
            let children = job.steps.iter().map(&command).collect();
            spawn_job(name, job.replaces, children, tx.clone(), live.clone());
            running += 1;
        }
        if progressed {
            continue;
        }
        if running == 0 {
            break;
        }
        let done = match rx
            .recv()
            .context("internal error: a worker thread vanished")?
        {
            Msg::Done(done) => done,
            Msg::Interrupted(sig) => {
                // Nothing more starts; the running ones stop what they half started.
                interrupted = Some(sig);
                for (name, job) in std::mem::take(&mut pending) {
                    // Nothing to do for it: it runs (or stays stopped) as it was, not failed.
                    match job.steps.is_empty() {
                        true => {
                            held.insert(name.clone(), name);
                        }
                        false => {
                            failed.insert(name);
                        }
                    }
                }
                continue;
            }
        };
        running -= 1;
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let stderr = name_warnings(&text(&done.stderr), &done.name);
        if done.ok {
            print!("{}", text(&done.stdout));
            eprint!("{stderr}");
            // A start that completed although the signal came says so itself: only it knows
            // whether it started anything (helper-89's review: it went unsaid; helper-128's:
            // said here, it was said of a daemon found running too).
            succeeded.insert(done.name);
        } else if direction.left_alone(done.code) {
            print!("{}", text(&done.stdout));
            eprint!("{stderr}");
            // It holds back what comes after it, as the cause.
            held.insert(done.name.clone(), done.name);
        } else {
            // What succeeded before the failed step (an edited entry's "stopped NAME") is on
            // stdout, as `restart` prints it; the failure, with its log tail, on stderr.
            print!("{}", text(&done.stdout));
            eprint!("{stderr}");
            if done.replaces {
                keep_wanted_running(ctx, &done.name);
            }
            failed.insert(done.name);
        }
    }
    if failed.is_empty() {
        return Ok(Code::Ok);
    }
    let names: Vec<&str> = failed.iter().map(Name::as_str).collect();
    let summary = format!(
        "{} of {} daemons failed or were not {}: {}",
        failed.len(),
        failed.len() + succeeded.len() + held.len(),
        direction.not_done(),
        names.join(", ")
    );
    let verb = match direction {
        Direction::Resurrect => "resurrect ",
        Direction::Up | Direction::Down => "",
    };
    if let Some(sig) = interrupted {
        return Err(Fail::interrupted(
            sig,
            format!("{verb}interrupted by {}; {summary}", sig.as_str()),
        )
        .into());
    }
    // `resurrect` said each failure on its line, and only that, as it always has.
    if direction != Direction::Resurrect {
        eprintln!("rdaemon: {summary}");
    }
    Ok(Code::Failure)
}

/// Runs a job's `children` one after the other on a thread of their own, until one fails or
/// rdaemon is interrupted, each held (`hold_child`) while it runs so that an interrupt reaches
/// it; then hands the main thread how the job ended.
fn spawn_job(
    name: Name,
    replaces: bool,
    children: Vec<Child>,
    tx: mpsc::Sender<Msg>,
    live: Shared,
) {
    std::thread::spawn(move || {
        let mut done = Done {
            name,
            replaces,
            ok: true,
            code: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        for mut cmd in children {
            let interrupted = || live.lock().map_or(true, |l| l.interrupted.is_some());
            if interrupted() {
                done.ok = false;
                done.code = None;
                break;
            }
            let out = cmd.spawn().and_then(|child| {
                let pid = child.id();
                hold_child(&live, pid);
                // Forgotten before it is reaped: a pid is never signalled once reused.
                let out = wait_output(child, || drop_child(&live, pid));
                drop_child(&live, pid);
                out
            });
            match out {
                Ok(out) => {
                    done.stdout.extend(out.stdout);
                    done.stderr.extend(out.stderr);
                    done.ok = out.status.success();
                    done.code = out.status.code();
                    // Killed (the OOM killer, a SIGKILL by hand): it said nothing, so this does.
                    // Or ended by the interrupt passed on to it, before it caught it itself.
                    if let Some(raw) = std::os::unix::process::ExitStatusExt::signal(&out.status) {
                        let sig = Signal::try_from(raw).ok();
                        let name =
                            sig.map_or_else(|| format!("signal {raw}"), |s| s.as_str().into());
                        let passed = live.lock().map_or(None, |l| l.interrupted);
                        let how = match sig.is_some() && sig == passed {
                            true => format!("ended by the {name} passed on to it"),
                            false => format!("killed by {name}"),
                        };
                        done.stderr.extend(
                            format!("rdaemon: rdaemon's child for {} was {how}\n", done.name)
                                .into_bytes(),
                        );
                    }
                }
                Err(e) => {
                    done.stderr.extend(
                        format!(
                            "rdaemon: cannot run rdaemon for {}: {}\n",
                            done.name,
                            crate::exit::os_reason(&e)
                        )
                        .into_bytes(),
                    );
                    done.ok = false;
                    done.code = None;
                }
            }
            if !done.ok {
                break;
            }
        }
        let _ = tx.send(Msg::Done(done));
    });
}

/// `stderr`, a child's, with `name` after each `rdaemon: warning: ` that does not name the
/// daemon already: the child's own warnings (`--ready file:x is taken from this directory`)
/// say which entry only when one runs at a time (helper-126's trial).
fn name_warnings(stderr: &str, name: &Name) -> String {
    const WARNING: &str = "rdaemon: warning: ";
    let named = format!("{name}: ");
    stderr
        .split_inclusive('\n')
        .map(|line| match line.strip_prefix(WARNING) {
            Some(rest) if !rest.starts_with(&named) && !rest.starts_with(&format!("{name} ")) => {
                format!("{WARNING}{named}{rest}")
            }
            _ => line.to_owned(),
        })
        .collect()
}

/// The child's output and exit status, as `Command::output` gives them; `before_reap` runs once
/// the child has exited and before it is reaped (its pid is still its own then).
fn wait_output(
    mut child: std::process::Child,
    before_reap: impl FnOnce(),
) -> std::io::Result<std::process::Output> {
    use std::io::Read;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    // Both pipes read to their end (the child's exit, or it closed them), one on a thread, so
    // that a child filling one while rdaemon reads the other never blocks.
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut err = Vec::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_end(&mut err);
        }
        err
    });
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_end(&mut out)?;
    }
    err.extend(reader.join().unwrap_or_default());
    // Exited (or at least done writing): wait without reaping, then forget it, then reap.
    crate::process::wait_exited_unreaped(child.id() as i32);
    before_reap();
    let status = child.wait()?;
    Ok(std::process::Output {
        status,
        stdout: out,
        stderr: err,
    })
}

/// After an edited entry's restart failed (never ready, an interrupt): its `stop` marked the
/// daemon wanted stopped, and the start that failed put that spec back. Nobody asked for it to
/// be stopped, so it is wanted running again, `dead` until the next `up` or `resurrect`, as
/// after a failed `restart`. Left alone when it runs (the stop failed). Best effort.
fn keep_wanted_running(ctx: &Ctx, name: &Name) {
    let Ok(_lock) = crate::pidfile::NameLock::acquire(&ctx.lock_path(name)) else {
        return;
    };
    let Ok(Some(mut rec)) = Record::load(ctx, name) else {
        return;
    };
    let runs = Report::new(ctx, &Target::of_record(rec.clone()))
        .state
        .runs();
    if rec.stopping && !runs {
        rec.stopping = false;
        if let Err(err) = rec.save_spec(ctx) {
            ctx.debug(format!("{err:#}"));
        }
    }
}

/// The children work from the file's directory: an rdaemon directory given relative to the
/// caller's is passed on as an absolute path.
fn pass_dirs(ctx: &Ctx, cmd: &mut Child) {
    if ctx.dir_explicit {
        cmd.env("RDAEMON_DIR", &ctx.dir);
    }
    if std::env::var_os("RDAEMON_RUNTIME_DIR").is_some_and(|v| !v.is_empty()) {
        cmd.env("RDAEMON_RUNTIME_DIR", &ctx.runtime);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_childs_warnings_name_its_daemon() {
        let name = Name::parse("web").unwrap();
        let stderr = "rdaemon: warning: --ready file:x is taken from this directory\n\
                      rdaemon: warning: web: already said\n\
                      rdaemon: cannot start web: no\n\
                      (the log is empty)";
        assert_eq!(
            name_warnings(stderr, &name),
            "rdaemon: warning: web: --ready file:x is taken from this directory\n\
             rdaemon: warning: web: already said\n\
             rdaemon: cannot start web: no\n\
             (the log is empty)"
        );
    }
}
