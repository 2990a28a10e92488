//! `rdaemon up` and `rdaemon down` (SPEC §7): the daemons of a file (`upfile`), each an
//! ordinary daemon. Nothing stays resident: `up` is a graph of `rdaemon start`s, `down` one of
//! `rdaemon stop`s, each run as a child process of this very executable (the `start` code forks
//! and must not run on several threads, and each child takes its own name's lock as any
//! `start` does). A daemon's child runs once everything it waits for has succeeded; children
//! whose turn has come run at once, concurrently. A thread per child waits for it and hands its
//! outcome and output to the main thread, which alone prints and starts the next ones. An
//! interrupt of `up` itself is passed on to the children by pidfd (`Interrupts`). `down`
//! lives here, beside `up`, as `resurrect` lives beside `start`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command as Child, Stdio};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::cli::UpArgs;
use crate::exit::{Code, Fail};
use crate::parse::Name;
use crate::paths::Ctx;
use crate::process::{Pid, Process};
use crate::state::Record;
use crate::target::Target;
use crate::upfile::UpFile;
use crate::view::Report;

/// What `up` does for one daemon.
enum Action {
    /// Running, its spec what the file says: left alone.
    UpToDate,
    /// Not running: started.
    Start,
    /// Running with another spec: stopped, then started with the file's.
    Restart,
}

/// `rdaemon up`.
pub fn run(args: UpArgs, ctx: &Ctx) -> Result<Code> {
    let file = UpFile::load(args.file.as_deref())?;
    let chosen = file.with_needs(&args.names)?;
    // Every spec first: a bad value anywhere starts nothing (exit 2).
    let mut specs = BTreeMap::new();
    for name in &chosen {
        specs.insert(name.clone(), file.entries[name].spec(ctx, &file.path)?);
    }
    // Then every name's owner: one that is not this file's starts nothing either (exit 1).
    let mut actions = BTreeMap::new();
    // Each existing daemon's record and its main process (while it runs): whose processes may
    // hold its readiness port without being in the way of its start.
    let mut found = BTreeMap::new();
    // Running entries whose order alone changed: their specs take it once every check passed.
    let mut reorder = Vec::new();
    for (name, spec) in &specs {
        let rec = Record::load(ctx, name)?;
        if let Some(rec) = &rec {
            refuse_foreign(name, rec, &file.path, "start")?;
        }
        let action = match rec {
            None => Action::Start,
            Some(rec) => {
                let report = Report::new(ctx, &Target::of_record(rec.clone()));
                // A respawn daemon's program without its monitor is not up: its start says why
                // it cannot start it.
                let action = match report.state.runs() && !report.unsupervised {
                    true => {
                        let running = crate::spec::Spec::from_record(ctx, &rec).ok();
                        // `after` says when to start a daemon, not how it runs: an entry whose
                        // order alone changed is not restarted (review, 2026-12-02), only its
                        // spec takes the new order, which `resurrect` and `export` read.
                        let same = running.as_ref().is_some_and(|r| {
                            let mut r = r.clone();
                            r.after.clone_from(&spec.after);
                            r == *spec
                        });
                        let reordered = same && running.is_some_and(|r| r.after != spec.after);
                        // Running, but maybe not ready: a start (another `up`'s) still waits
                        // for it. This `up`'s start waits for that one's lock, then finds it
                        // running and ready, or starts it itself: what comes after it waits.
                        let pending =
                            || crate::pidfile::pending_start(&ctx.lock_path(name)).is_some();
                        match (same, pending()) {
                            (true, false) if reordered => {
                                reorder.push(name.clone());
                                Action::UpToDate
                            }
                            (true, false) => Action::UpToDate,
                            (true, true) => Action::Start,
                            (false, _) => Action::Restart,
                        }
                    }
                    false => Action::Start,
                };
                found.insert(name.clone(), (rec, report.pid));
                action
            }
        };
        actions.insert(name.clone(), action);
    }
    refuse_shared_ports(&file, &specs, &actions)?;
    refuse_shared_pidfiles(&file, &specs, &actions)?;
    refuse_shared_readiness(ctx, &file, &specs, &actions)?;
    // Then what each start is bound to fail on (the user, the chdir target, the env files, the
    // program, the log and pidfile paths): checked for every entry to start, before any starts,
    // as `start` checks its own before it detaches. The error is `start`'s, with its exit code
    // (1 for a problem in the system, 2 for a malformed env file), said of the entry.
    let to_start = actions
        .iter()
        .filter(|(_, action)| !matches!(action, Action::UpToDate));
    for (i, (name, _)) in to_start.enumerate() {
        if i == 0 {
            // Created on demand, here as by the `start`s to come: checked writable below.
            ctx.ensure_dir()?;
        }
        let entry = &file.entries[name];
        crate::preflight::preflight_about(ctx, &specs[name]).map_err(|(options, e)| {
            // At the line of the key whose value it is about (`user = "nosuch"`), not the
            // entry's header line (a user's trial).
            let at = entry.line_about(options, &crate::exit::render(&e));
            e.context(format!("{}:{at}: {name}", file.path.display()))
        })?;
        // A `--ready tcp:`/`http:` port another process listens on fails `start` (SPEC §2.1),
        // after the ones before it had started: refused now, as `start` words it. The daemon's
        // own processes do not count: an edited entry's hold the port until its stop, and what
        // a dead one left, `start` stops first.
        let own = || match (found.get(name), &actions[name]) {
            (Some((rec, main)), Action::Start | Action::Restart) => {
                let stop = matches!(actions[name], Action::Restart);
                crate::preflight::own_processes(Some(rec), *main, stop)
            }
            _ => Vec::new(),
        };
        crate::preflight::check_port(ctx, &specs[name], own).map_err(|e| {
            let at = entry.line_of("--ready");
            e.context(format!("{}:{at}: {name}", file.path.display()))
        })?;
    }
    // Nothing is refused: the specs of the reordered entries change now, not before a check
    // that fails had to leave everything as it was (review, 2026-12-02).
    for name in &reorder {
        keep_order(ctx, name, &specs[name].after)?;
    }
    // An entry up to date whose pidfile no longer names it gets it back, as from `start`.
    for (name, action) in &actions {
        if let (Action::UpToDate, Some((_, Some(pid)))) = (action, found.get(name)) {
            repair_pidfile(ctx, name, *pid);
        }
    }
    let jobs = chosen
        .iter()
        .map(|name| {
            let entry = &file.entries[name];
            let start = std::iter::once(OsString::from("start"))
                .chain(entry.argv.iter().cloned())
                .collect::<Vec<_>>();
            // An edited entry: "stopped NAME (pid N)", then the start's "started NAME (pid M)",
            // so that the output shows it was restarted.
            let stop = vec![OsString::from("stop"), name.as_str().into()];
            let steps = match actions[name] {
                Action::UpToDate => vec![],
                Action::Start => vec![start],
                Action::Restart => vec![stop, start],
            };
            Job {
                name: name.clone(),
                replaces: matches!(actions[name], Action::Restart),
                steps,
                waits_for: entry.after.iter().cloned().collect(),
            }
        })
        .collect();
    let code = run_jobs(ctx, &file.dir, jobs, Direction::Up, |name| {
        format!("{name} is up to date")
    })?;
    warn_orphans(ctx, &file, "it still runs");
    Ok(code)
}

/// Writes the pidfile of `name`, running as `pid` when `up` looked, again if it no longer names
/// it, under its lock ([`super::start::repair_pidfile`]). Best effort: `up` goes on.
fn repair_pidfile(ctx: &Ctx, name: &Name, pid: i32) {
    let Ok(_lock) = crate::pidfile::NameLock::acquire(&ctx.lock_path(name)) else {
        return;
    };
    let Ok(Some(rec)) = Record::load(ctx, name) else {
        return;
    };
    // Still running as it was, by its record's identity (never a pid that was reused since).
    let report = Report::new(ctx, &Target::of_record(rec.clone()));
    if !report.state.runs() || report.unsupervised || report.pid != Some(pid) {
        return;
    }
    if let Ok(pid) = Pid::new(pid) {
        super::start::repair_pidfile(ctx, &rec, pid);
    }
}

/// Writes `after` into the spec of `name`, under its lock, for an entry whose order alone
/// changed: it keeps running.
fn keep_order(ctx: &Ctx, name: &Name, after: &[Name]) -> Result<()> {
    let _lock = crate::pidfile::NameLock::acquire(&ctx.lock_path(name))?;
    if let Some(mut rec) = Record::load(ctx, name)? {
        rec.after = after.to_vec();
        rec.save_spec(ctx)?;
    }
    Ok(())
}

/// `rdaemon down`.
pub fn down(args: UpArgs, ctx: &Ctx) -> Result<Code> {
    let file = UpFile::load(args.file.as_deref())?;
    let chosen = file.with_dependents(&args.names)?;
    let mut jobs = Vec::new();
    for name in &chosen {
        let rec = Record::load(ctx, name)?;
        if let Some(rec) = &rec {
            refuse_foreign(name, rec, &file.path, "stop")?;
        }
        jobs.push(Job {
            name: name.clone(),
            replaces: false,
            // Never started: nothing to stop, and no spec to mark.
            steps: match rec {
                Some(_) => vec![vec!["stop".into(), name.as_str().into()]],
                None => vec![],
            },
            // Dependents first.
            waits_for: file.dependents_of(name, &chosen).cloned().collect(),
        });
    }
    let code = run_jobs(ctx, &file.dir, jobs, Direction::Down, |name| {
        format!("{name} is not running")
    })?;
    warn_orphans(ctx, &file, "it was left running");
    Ok(code)
}

/// Says which running daemons came from `file` but are no longer in it (an entry removed or
/// renamed since `up`): neither `up` nor `down` acts on them any more, and without a word they
/// would run on unnoticed (docker compose warns of such "orphans" too).
fn warn_orphans(ctx: &Ctx, file: &UpFile, what: &str) {
    let Ok(names) = crate::state::list_names(ctx) else {
        return;
    };
    for name in names.iter().filter(|n| !file.entries.contains_key(*n)) {
        let Ok(Some(rec)) = Record::load(ctx, name) else {
            continue;
        };
        if rec.source.as_deref() != Some(file.path.as_path()) {
            continue;
        }
        if Report::new(ctx, &Target::of_record(rec)).state.runs() {
            ctx.warn(format!(
                "{name} was started from {}, which no longer has it: {what} ('rdaemon stop {name}' stops it)",
                file.path.display()
            ));
        }
    }
}

/// Two entries whose readiness (`tcp:`, `http:`) waits on one port of this machine: only one
/// can ever listen there, so the other's `start` is bound to fail (a busy port) or never to be
/// ready. Refused before anything starts, naming both with their lines, with the exit code of
/// `start`'s busy port (1). A pair of entries both up to date is left alone: they run already.
fn refuse_shared_ports(
    file: &UpFile,
    specs: &BTreeMap<Name, crate::spec::Spec>,
    actions: &BTreeMap<Name, Action>,
) -> Result<()> {
    if actions.values().all(|a| matches!(a, Action::UpToDate)) {
        return Ok(());
    }
    // In the file's order: the later entry is the one said to be in the way.
    let mut names: Vec<&Name> = specs.keys().collect();
    names.sort_by_key(|name| file.entries[*name].line);
    let waits: Vec<Vec<std::net::SocketAddr>> = names
        .iter()
        .map(|name| crate::preflight::ready_addrs(&specs[*name]))
        .collect();
    let clash = crate::preflight::shared_ports(&waits)
        .into_iter()
        .map(|(first, second, port)| (names[first], names[second], port))
        .find(|(a, b, _)| {
            !matches!(
                (&actions[*a], &actions[*b]),
                (Action::UpToDate, Action::UpToDate)
            )
        });
    let Some((a, b, port)) = clash else {
        return Ok(());
    };
    let line = |name: &Name| file.entries[name].line_of("--ready");
    anyhow::bail!(
        "{}:{}: {b}: port {port} is also the one {a} waits on to be ready (line {}): only one of them can listen on it",
        file.path.display(),
        line(b),
        line(a)
    )
}

/// Two entries with one pidfile: `start` refuses a pidfile that names another daemon, but
/// two `start`s at once (entries that wait for nothing) each found it free, both daemons ran,
/// and the pidfile named only the one written last (helper-126), so that `kill $(cat PIDFILE)`
/// reached one of them (SPEC §1: the pidfile holds the daemon's pid). Refused before anything
/// starts, naming both with their lines, with `start`'s exit code for it (1). A pair of entries
/// both up to date is left alone, as for [`refuse_shared_ports`].
fn refuse_shared_pidfiles(
    file: &UpFile,
    specs: &BTreeMap<Name, crate::spec::Spec>,
    actions: &BTreeMap<Name, Action>,
) -> Result<()> {
    // In the file's order: the later entry is the one said to be in the way.
    let mut names: Vec<&Name> = specs.keys().collect();
    names.sort_by_key(|name| file.entries[*name].line);
    let line = |name: &Name| file.entries[name].line_about(&["pidfile"], "--pidfile");
    for (i, b) in names.iter().enumerate() {
        let clash = names[..i].iter().find(|a| {
            specs[**a].pidfile == specs[*b].pidfile
                && !matches!(
                    (&actions[**a], &actions[*b]),
                    (Action::UpToDate, Action::UpToDate)
                )
        });
        if let Some(a) = clash {
            anyhow::bail!(
                "{}:{}: {b}: pidfile '{}' is also {a}'s (line {}): give each daemon a pidfile of its own",
                file.path.display(),
                line(b),
                specs[*b].pidfile.display(),
                line(a)
            );
        }
    }
    Ok(())
}

/// An entry to start whose readiness another entry of the file can meet: a `log:` wait on a
/// log file another entry writes too (a line of the other's counts, though SPEC §2.1 wants the
/// program's own), or a `file:` wait on the path another entry waits for (whichever program
/// makes it makes both "ready"). Started at once, such an entry was said ready, and what comes
/// after it started, before its program was (helper-126: two entries logging to one file, the
/// second ready at once on the first's line). Refused before anything starts, naming both with
/// their lines, exit 1 as for [`refuse_shared_ports`]. The other may be any entry of the
/// file, also one that `up NAME` does not start: it may run.
fn refuse_shared_readiness(
    ctx: &Ctx,
    file: &UpFile,
    specs: &BTreeMap<Name, crate::spec::Spec>,
    actions: &BTreeMap<Name, Action>,
) -> Result<()> {
    use crate::ready::ReadySpec;
    // The files a program's output goes to (each once), with the keys that name them.
    fn logs(spec: &crate::spec::Spec) -> Vec<(&Path, &'static [&'static str])> {
        let mut logs: Vec<(&Path, &'static [&'static str])> =
            vec![(&spec.stdout, &["stdout", "log"])];
        if spec.stderr != spec.stdout {
            logs.push((&spec.stderr, &["stderr", "log"]));
        }
        logs.retain(|(path, _)| *path != Path::new("/dev/null"));
        logs
    }
    // Every entry of the file may be in the way, also one `up NAME` does not start (it may
    // run): the specs of those not chosen, as far as they can be built.
    let unchosen: BTreeMap<&Name, crate::spec::Spec> = file
        .entries
        .iter()
        .filter(|(name, _)| !specs.contains_key(*name))
        .filter_map(|(name, entry)| Some((name, entry.spec(ctx, &file.path).ok()?)))
        .collect();
    let specs: BTreeMap<&Name, &crate::spec::Spec> = specs
        .iter()
        .chain(unchosen.iter().map(|(name, spec)| (*name, spec)))
        .collect();
    let mut names: Vec<&Name> = specs.keys().copied().collect();
    names.sort_by_key(|name| file.entries[*name].line);
    let line = |name: &Name, keys: &[&str]| file.entries[name].line_about(keys, "");
    for b in names.iter().filter(|b| {
        actions
            .get(**b)
            .is_some_and(|a| !matches!(a, Action::UpToDate))
    }) {
        let others = names.iter().filter(|a| *a != b);
        match &specs[*b].ready {
            ReadySpec::Log(_) => {
                let reads = logs(specs[*b]);
                for a in others {
                    let shared = logs(specs[*a])
                        .into_iter()
                        .find(|(path, _)| reads.iter().any(|(read, _)| read == path));
                    if let Some((log, keys)) = shared {
                        anyhow::bail!(
                            "{}:{}: {b}: ready = \"{}\" reads the log '{}', which {a} writes too (line {}): a line of {a}'s would make {b} ready; give {b} a log of its own",
                            file.path.display(),
                            line(b, &["ready"]),
                            specs[*b].ready,
                            log.display(),
                            line(a, keys)
                        );
                    }
                }
            }
            ReadySpec::File(path) => {
                for a in others {
                    if specs[*a].ready == specs[*b].ready {
                        anyhow::bail!(
                            "{}:{}: {b}: the file '{}' it waits for to be ready is also the one {a} waits for (line {}): either program making it would make both ready",
                            file.path.display(),
                            line(b, &["ready"]),
                            path.display(),
                            line(a, &["ready"])
                        );
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A name that belongs to a daemon not from `file` (started by hand, or from another file) is
/// refused: `up` and `down` act only on their own.
fn refuse_foreign(name: &Name, rec: &Record, file: &Path, verb: &str) -> Result<()> {
    match crate::upfile::foreign_owner(rec, file) {
        None => Ok(()),
        Some(owner) => Err(anyhow::anyhow!(
            "cannot {verb} {name} from {}: a daemon of that name {owner} (forget it, or rename the entry)",
            file.display()
        )),
    }
}

/// One daemon's work: commands of rdaemon to run one after the other, once every daemon of
/// `waits_for` has succeeded. No steps: nothing to do (`idle` says so).
struct Job {
    name: Name,
    /// An edited entry of a running daemon: stopped, then started anew.
    replaces: bool,
    steps: Vec<Vec<OsString>>,
    waits_for: BTreeSet<Name>,
}

/// How a job's child ended: success, and what it printed.
struct Done {
    name: Name,
    /// The job's `replaces`.
    replaces: bool,
    ok: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// What a worker thread hands the main thread.
enum Msg {
    /// A job finished.
    Done(Done),
    /// `up` itself got SIGINT, SIGTERM or SIGHUP.
    Interrupted(Signal),
}

/// Which way `run_jobs` goes: what it does when it is interrupted itself (SIGINT, SIGTERM,
/// SIGHUP), and how it words what it did not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// `up`: the signal is passed on to the `start`s running, which stop the daemon they half
    /// started (SPEC §2.1), and nothing more is started. A Ctrl-C on a terminal reaches them
    /// anyway (the process group); a `kill` of `up` alone did not, and they finished starting
    /// after `up` was gone.
    Up,
    /// `down`: the default disposition. The `stop`s running finish their work.
    Down,
}

impl Direction {
    /// Why `name` was not acted on: `cause`, which it waits for, failed, or was itself not
    /// acted on (`untouched`) for a failure further on.
    fn blocked(self, name: &Name, cause: &Name, untouched: bool) -> String {
        match (self, untouched) {
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
            Direction::Up => "started",
            Direction::Down => "stopped",
        }
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
/// once concurrently. A job whose wait failed is not run. Prints one line per daemon (what its
/// child printed, each stream to its own) as each finishes; a failure and the log tail
/// `start` shows go to stderr. Exit 0 when all succeeded, else 1; interrupted, 130 (SIGINT), 143
/// (SIGTERM) or 129 (SIGHUP) once the running children, passed the signal, have ended (a
/// start stops what it half started, a stop ends as an interrupted `stop`), unless every one
/// succeeded all the same.
fn run_jobs(
    ctx: &Ctx,
    cwd: &Path,
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
                let untouched = blocked_by_others.contains(&cause);
                eprintln!("rdaemon: {}", direction.blocked(&name, &cause, untouched));
                blocked_by_others.insert(name.clone());
                failed.insert(name);
            }
        }
        let ready: Vec<Name> = pending
            .values()
            .filter(|j| j.waits_for.iter().all(|w| succeeded.contains(w)))
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
            let mut children = Vec::new();
            for step in &job.steps {
                let mut cmd = Child::new(&exe);
                cmd.args(&base)
                    .args(step)
                    .current_dir(cwd)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                pass_dirs(ctx, &mut cmd);
                // Every step is told of an interrupt, as if it had been run by hand: a start
                // stops what it half started, a stop ends its wait as an interrupted `stop`
                // does (what still runs stays wanted running), so that a `timeout` or a CI
                // cancel bounds `up` and `down` too (helper-85's review: `down` waited out
                // every stop timeout).
                children.push(cmd);
            }
            let tx = tx.clone();
            let live = live.clone();
            let replaces = job.replaces;
            running += 1;
            std::thread::spawn(move || {
                let mut done = Done {
                    name,
                    replaces,
                    ok: true,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                };
                for mut cmd in children {
                    let interrupted = || live.lock().map_or(true, |l| l.interrupted.is_some());
                    if interrupted() {
                        done.ok = false;
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
                        }
                    }
                    if !done.ok {
                        break;
                    }
                }
                let _ = tx.send(Msg::Done(done));
            });
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
            succeeded.insert(done.name);
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
    if let Some(sig) = interrupted {
        return Err(
            Fail::interrupted(sig, format!("interrupted by {}; {summary}", sig.as_str())).into(),
        );
    }
    eprintln!("rdaemon: {summary}");
    Ok(Code::Failure)
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
