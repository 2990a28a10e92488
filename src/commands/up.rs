//! `rdaemon up` and `rdaemon down` (SPEC §7): the daemons of a file (`upfile`), each an
//! ordinary daemon. Nothing stays resident: `up` is a graph of `rdaemon start`s, `down` one of
//! `rdaemon stop`s, each run as a child process of this very executable (the `start` code forks
//! and must not run on several threads, and each child takes its own name's lock as any
//! `start` does), run by `jobs`: a daemon's child once everything it waits for has succeeded,
//! those whose turn has come at once, concurrently. `down` lives here, beside `up`, as
//! `resurrect` lives beside `start`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;

use anyhow::Result;

use crate::cli::UpArgs;
use crate::exit::Code;
use crate::jobs::{run_jobs, Direction, Job};
use crate::parse::Name;
use crate::paths::Ctx;
use crate::preflight::{in_the_way, Holds, Shared};
use crate::process::Pid;
use crate::spec::Spec;
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
                        let running = Spec::from_record(ctx, &rec).ok();
                        // `after` says when to start a daemon, not how it runs: an entry whose
                        // order alone changed is not restarted (review, 2026-12-02), only its
                        // spec takes the new order, which `resurrect` and `export` read.
                        let same = running.as_ref().is_some_and(|r| {
                            let mut r = r.clone();
                            r.after.clone_from(&spec.after);
                            r == *spec
                        });
                        let reordered =
                            same && running.as_ref().is_some_and(|r| r.after != spec.after);
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
                            (false, _) => {
                                if let Some(running) = &running {
                                    let keys = changed_keys(running, spec);
                                    ctx.debug(format!(
                                        "{name}: its entry changed ({keys}): restarting it"
                                    ));
                                }
                                Action::Restart
                            }
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
    refuse_in_each_others_way(ctx, &file, &specs, &actions)?;
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
                runs_after: BTreeSet::new(),
            }
        })
        .collect();
    let code = run_jobs(ctx, Some(&file.dir), jobs, Direction::Up, |name| {
        format!("{name} is up to date")
    })?;
    warn_orphans(ctx, &file, "it still runs");
    Ok(code)
}

/// The keys of an entry that differ between the spec of its running daemon and the file's, by
/// the options of `start` they are ([`super::start::differing_options`]), for `up -v`.
fn changed_keys(running: &Spec, spec: &Spec) -> String {
    let command = (running.command != spec.command).then_some("command");
    let options = super::start::differing_options(running, spec);
    let keys: Vec<&str> = command
        .into_iter()
        .chain(options.iter().map(|o| o.trim_start_matches("--")))
        .collect();
    match keys.is_empty() {
        true => "how it runs".to_owned(),
        false => keys.join(", "),
    }
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
            runs_after: BTreeSet::new(),
        });
    }
    let code = run_jobs(ctx, Some(&file.dir), jobs, Direction::Down, |name| {
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

/// Two entries in each other's way ([`in_the_way`], the rule by which `resurrect` starts such
/// daemons one after the other): one port their readiness waits on (only one of them can listen
/// there: the other's start fails on the busy port, or its readiness never comes), one pidfile
/// (two `start`s at once each found it free, both daemons ran, and it named the one written
/// last, so that `kill $(cat PIDFILE)` reached one of them: helper-126), one `file:` their
/// readiness waits for (either program making it makes both "ready"), or a log one's `log:`
/// readiness reads that the other writes too (the other's line made it "ready" at once, and
/// what comes after it started before its program was: helper-126). Refused before anything
/// starts, naming both with their lines, exit 1 (`start`'s for a busy port or another's
/// pidfile). Only where the one whose start the other is in the way of is one `up` is about to
/// start: a pair both up to date runs already. For readiness, the other may be any entry of
/// the file, also one that `up NAME` does not start: it may run. Of two in the way of each
/// other's start, the later in the file is named; of several pairs, a port first, then a
/// pidfile, then readiness, each by the named entry's place in the file.
fn refuse_in_each_others_way(
    ctx: &Ctx,
    file: &UpFile,
    specs: &BTreeMap<Name, Spec>,
    actions: &BTreeMap<Name, Action>,
) -> Result<()> {
    let starts = |name: &Name| {
        actions
            .get(name)
            .is_some_and(|a| !matches!(a, Action::UpToDate))
    };
    if !specs.keys().any(starts) {
        return Ok(());
    }
    // The specs of the entries not chosen, as far as they can be built.
    let unchosen: BTreeMap<&Name, Spec> = file
        .entries
        .iter()
        .filter(|(name, _)| !specs.contains_key(*name))
        .filter_map(|(name, entry)| Some((name, entry.spec(ctx, &file.path).ok()?)))
        .collect();
    let mut holds: Vec<(&Name, Holds)> = specs
        .iter()
        .chain(unchosen.iter().map(|(name, spec)| (*name, spec)))
        .map(|(name, spec)| (name, Holds::of(spec)))
        .collect();
    holds.sort_by_key(|(name, _)| file.entries[*name].line);
    let place = |name: &Name| file.entries[name].line;
    // A port or a pidfile only of another entry to start or up to date: one that `up NAME`
    // does not start fails this one's start as it runs (a busy port; a pidfile naming another
    // daemon) and, not running, is in nobody's way. A log or a `file:` of any entry: its
    // line or file, whenever it comes, would be taken for this one's.
    let counts = |shared: &Shared, other: &Name| match shared {
        Shared::Port(_) | Shared::Pidfile(_) => specs.contains_key(other),
        Shared::ReadyFile(_) | Shared::Log(..) => true,
    };
    let rank = |shared: &Shared| match shared {
        Shared::Port(_) => 0,
        Shared::Pidfile(_) => 1,
        Shared::ReadyFile(_) | Shared::Log(..) => 2,
    };
    // Each pair once, the entry whose start the other is in the way of first (the later when
    // both are).
    let clashes = holds.iter().enumerate().flat_map(|(later, (b, b_holds))| {
        holds[..later].iter().filter_map(move |(a, a_holds)| {
            [(*b, b_holds, *a, a_holds), (*a, a_holds, *b, b_holds)]
                .into_iter()
                .filter(|(named, ..)| starts(named))
                .find_map(|(named, n, other, o)| {
                    let shared = in_the_way(o, n).into_iter().find(|s| counts(s, other));
                    shared.map(|shared| (named, other, shared))
                })
        })
    });
    let first = clashes.min_by_key(|(b, a, shared)| (rank(shared), place(b), place(a)));
    let Some((b, a, shared)) = first else {
        return Ok(());
    };
    let at = |name: &Name, keys: &[&str]| file.entries[name].line_about(keys, "");
    let (line_b, line_a) = (at(b, &["ready"]), at(a, &["ready"]));
    let path = file.path.display();
    match shared {
        Shared::Port(port) => anyhow::bail!(
            "{path}:{line_b}: {b}: port {port} is also the one {a} waits on to be ready (line {line_a}): only one of them can listen on it"
        ),
        Shared::Pidfile(pidfile) => anyhow::bail!(
            "{path}:{}: {b}: pidfile '{}' is also {a}'s (line {}): give each daemon a pidfile of its own",
            at(b, &["pidfile"]),
            pidfile.display(),
            at(a, &["pidfile"])
        ),
        Shared::ReadyFile(made) => anyhow::bail!(
            "{path}:{line_b}: {b}: the file '{}' it waits for to be ready is also the one {a} waits for (line {line_a}): either program making it would make both ready",
            made.display()
        ),
        Shared::Log(log, keys) => anyhow::bail!(
            "{path}:{line_b}: {b}: ready = \"{}\" reads the log '{}', which {a} writes too (line {}): a line of {a}'s would make {b} ready; give {b} a log of its own",
            specs[b].ready,
            log.display(),
            at(a, keys)
        ),
    }
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
