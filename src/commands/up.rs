//! `rdaemon up` and `rdaemon down` (SPEC §7): the daemons of a file (`upfile`), each an
//! ordinary daemon. Nothing stays resident: `up` is a graph of `rdaemon start`s, `down` one of
//! `rdaemon stop`s, each run as a child process of this very executable (the `start` code forks
//! and must not run on several threads, and each child takes its own name's lock as any
//! `start` does). A daemon's child runs once everything it waits for has succeeded; children
//! whose turn has come run at once, concurrently. A thread per child waits for it and hands its
//! outcome and output to the main thread, which alone prints and starts the next ones. `down`
//! lives here, beside `up`, as `resurrect` lives beside `start`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command as Child, Stdio};
use std::sync::mpsc;

use anyhow::{Context, Result};

use crate::cli::UpArgs;
use crate::exit::Code;
use crate::parse::Name;
use crate::paths::Ctx;
use crate::state::Record;
use crate::target::Target;
use crate::upfile::UpFile;
use crate::view::{DaemonState, Report};

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
    for (name, spec) in &specs {
        let rec = Record::load(ctx, name)?;
        if let Some(rec) = &rec {
            refuse_foreign(name, rec, &file.path, "start")?;
        }
        let action = match rec {
            None => Action::Start,
            Some(rec) => {
                let target = Target {
                    name: Some(name.clone()),
                    pidfile: rec.pidfile.clone(),
                    record: Some(rec.clone()),
                    record_error: None,
                };
                match Report::new(ctx, &target).state {
                    DaemonState::Running | DaemonState::Restarting => {
                        let same = crate::spec::Spec::from_record(ctx, &rec)
                            .is_ok_and(|running| &running == spec);
                        match same {
                            true => Action::UpToDate,
                            false => Action::Restart,
                        }
                    }
                    _ => Action::Start,
                }
            }
        };
        actions.insert(name.clone(), action);
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
                steps,
                waits_for: entry.after.iter().cloned().collect(),
            }
        })
        .collect();
    let code = run_jobs(ctx, &file.dir, jobs, |name| format!("{name} is up to date"))?;
    warn_orphans(ctx, &file, "it still runs");
    Ok(code)
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
            // Never started: nothing to stop, and no spec to mark.
            steps: match rec {
                Some(_) => vec![vec!["stop".into(), name.as_str().into()]],
                None => vec![],
            },
            // Dependents first.
            waits_for: file.dependents_of(name, &chosen).cloned().collect(),
        });
    }
    let code = run_jobs(ctx, &file.dir, jobs, |name| {
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
        let target = Target {
            name: Some(name.clone()),
            pidfile: rec.pidfile.clone(),
            record: Some(rec),
            record_error: None,
        };
        if matches!(
            Report::new(ctx, &target).state,
            DaemonState::Running | DaemonState::Restarting
        ) {
            ctx.warn(format!(
                "{name} was started from {}, which no longer has it: {what} ('rdaemon stop {name}' stops it)",
                file.path.display()
            ));
        }
    }
}

/// A name that belongs to a daemon not from `file` (started by hand, or from another file) is
/// refused: `up` and `down` act only on their own.
fn refuse_foreign(name: &Name, rec: &Record, file: &Path, verb: &str) -> Result<()> {
    if rec.source.as_deref() == Some(file) {
        return Ok(());
    }
    let owner = match &rec.source {
        Some(other) => format!("comes from {}", other.display()),
        None => "was started by hand".to_owned(),
    };
    Err(anyhow::anyhow!(
        "cannot {verb} {name} from {}: a daemon of that name {owner} (forget it, or rename the entry)",
        file.display()
    ))
}

/// One daemon's work: commands of rdaemon to run one after the other, once every daemon of
/// `waits_for` has succeeded. No steps: nothing to do (`idle` says so).
struct Job {
    name: Name,
    steps: Vec<Vec<OsString>>,
    waits_for: BTreeSet<Name>,
}

/// How a job's child ended: success, and what it printed.
struct Done {
    name: Name,
    ok: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs the jobs: each as soon as everything it waits for has succeeded, all that may run at
/// once concurrently. A job whose wait failed is not run. Prints one line per daemon (what its
/// child printed) as each finishes; a failure's whole output (the status and log tail `start`
/// shows) goes to stderr. Exit 0 when all succeeded, else 1.
fn run_jobs(ctx: &Ctx, cwd: &Path, jobs: Vec<Job>, idle: impl Fn(&Name) -> String) -> Result<Code> {
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
    let (tx, rx) = mpsc::channel::<Done>();
    loop {
        // Not run: what waits for a failure (transitively, as each is marked failed).
        loop {
            let blocked: Vec<(Name, Name)> = pending
                .values()
                .filter_map(|j| {
                    j.waits_for
                        .iter()
                        .find(|w| failed.contains(*w))
                        .map(|w| (j.name.clone(), w.clone()))
                })
                .collect();
            if blocked.is_empty() {
                break;
            }
            for (name, cause) in blocked {
                pending.remove(&name);
                eprintln!("rdaemon: {name} not started: it comes after {cause}, which failed");
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
                children.push(cmd);
            }
            let tx = tx.clone();
            running += 1;
            std::thread::spawn(move || {
                let mut done = Done {
                    name,
                    ok: true,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                };
                for mut cmd in children {
                    match cmd.output() {
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
                let _ = tx.send(done);
            });
        }
        if progressed {
            continue;
        }
        if running == 0 {
            break;
        }
        let done = rx
            .recv()
            .context("internal error: a worker thread vanished")?;
        running -= 1;
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        if done.ok {
            print!("{}", text(&done.stdout));
            eprint!("{}", text(&done.stderr));
            succeeded.insert(done.name);
        } else {
            eprint!("{}{}", text(&done.stdout), text(&done.stderr));
            failed.insert(done.name);
        }
    }
    if failed.is_empty() {
        return Ok(Code::Ok);
    }
    let names: Vec<&str> = failed.iter().map(Name::as_str).collect();
    eprintln!(
        "rdaemon: {} of {} daemons failed or were not started: {}",
        failed.len(),
        failed.len() + succeeded.len(),
        names.join(", ")
    );
    Ok(Code::Failure)
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
