//! `rdaemon start`: resolve and check everything, then detach the program through
//! `daemonize::spawn` and report only once it has really been executed and, with `--ready`, is
//! ready. With `--respawn`, what is detached is an rdaemon monitor (`rdaemon __monitor`, see
//! `supervisor`), and "executed" means the monitor has started the program's first child.
//!
//! A program that dies while `start` waits for readiness is reported at once, with how it ended
//! and the end of its log; one that is not ready in time is stopped as `stop` would.
//! `--foreground` execs the program in rdaemon's place instead (`daemonize::exec_in_place`).

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;

use crate::cgroup::{self, Cgroup, Claimed};
use crate::cli::{CgroupMode, StartArgs};
use crate::daemonize::Credentials;
use crate::daemonize::{self, above_stdio};
use crate::exit::{Code, Fail};
use crate::fsx::{self, Dir, Rights};
use crate::logs;
use crate::parse::{default_schedule, format_duration, printable, shell_join, Name};
use crate::paths::{absolute, create_dir, ensure_space, Ctx};
use crate::pidfile::{self, os_reason, Content, NameLock, PidfileWriter};
use crate::plan;
use crate::preflight;
use crate::process::{self, Ended, Pid, Process};
use crate::progress::Spinner;
use crate::ready::{Check, Interrupt, Outcome, ReadySpec};
use crate::schedule::{run_schedule_with, Aim};
use crate::session::{Held, Session};
use crate::state::{Pidfs, Record, Respawn, StagedSpec};
use crate::target::{judge, Main, Target, Vouch};

/// How much of the log a failed start shows.
const TAIL_LINES: usize = 10;

use crate::spec::Spec;

/// Converts a command line to UTF-8 text (records are JSON) and makes a program path with a `/`
/// absolute, since the daemon runs from another directory.
pub fn command_line(program: &[OsString]) -> Result<Vec<String>> {
    let mut command = program
        .iter()
        .map(|a| {
            a.to_str().map(str::to_owned).ok_or_else(|| {
                Fail::usage(format!(
                    "invalid argument '{}': rdaemon needs UTF-8 arguments",
                    a.to_string_lossy()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    match command.first_mut() {
        None => bail!(Fail::usage("no program given")),
        Some(p) if p.contains('/') => *p = absolute(Path::new(p))?.to_string_lossy().into_owned(),
        Some(_) => {}
    }
    Ok(command)
}

/// The daemon `start` names without a command line: `start NAME` (one word, no `--`, naming a
/// known daemon) or `start --name NAME` alone. `None`: a program to run.
fn stored_name(ctx: &Ctx, args: &StartArgs) -> Result<Option<Name>> {
    match (args.program.as_slice(), &args.name) {
        ([], Some(name)) => Ok(Some(name.clone())),
        ([], None) => Err(Fail::usage(
            "no program given: rdaemon start [OPTIONS] -- PROGRAM [ARGS...], or rdaemon start NAME",
        )
        .into()),
        ([word], None) if !std::env::args_os().any(|a| a == "--") => {
            let name = word.to_str().and_then(|w| Name::parse(w).ok());
            let known = name.clone().filter(|n| {
                std::fs::symlink_metadata(ctx.record_path(n)).is_ok()
                    || ctx
                        .v1_record_path(n)
                        .is_some_and(|p| std::fs::symlink_metadata(p).is_ok())
            });
            // `start a1x` for daemon a1: no such program either; say which daemon was meant.
            if let (None, Some(name)) = (&known, &name) {
                let close = crate::target::closest_names(ctx, name.as_str());
                if !close.is_empty()
                    && plan::resolve_program(name.as_str(), &start_path(args)).is_err()
                {
                    bail!(
                        "cannot execute '{name}': {}, and no daemon is named so (closest: {})",
                        nix::errno::Errno::ENOENT.desc(),
                        close.join(", ")
                    );
                }
            }
            Ok(known)
        }
        ([word, option, ..], None)
            if option.to_str().is_some_and(|o| o.starts_with('-'))
                && !std::env::args_os().any(|a| a == "--") =>
        {
            // `start web --env A=1`: the options of a stored daemon given after its name (read
            // as its command line). Said plainly when the word is one of start's own options,
            // and no program of that name is in rdaemon's PATH or the one `--env` gives.
            let Some(name) = word.to_str().and_then(|w| Name::parse(w).ok()) else {
                return Ok(None);
            };
            let known = std::fs::symlink_metadata(ctx.record_path(&name)).is_ok();
            if !known || !is_start_option(option) {
                return Ok(None);
            }
            if plan::resolve_program(name.as_str(), &start_path(args)).is_err() {
                return Err(Fail::usage(format!(
                    "{name} is a daemon, not a program: its options go before its name (rdaemon start [OPTIONS] {name})"
                ))
                .into());
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// The processes an earlier run of the daemon left when its main process died (killed, the
/// OOM killer): the rest of its session and its cgroup, stopped with its stop signal and
/// timeout as `stop` would (SPEC §3: a daemon whose main process died but whose leftovers
/// live is stopped the same way), before the new copy starts. Otherwise they would run on
/// beside it, holding its cgroup (the new copy would get none under `--cgroup auto`), its
/// ports and its files, and no later `stop` would reach them. `restart` does the same through
/// its stop; this is `start NAME` and `resurrect`. Called once the daemon is known not to run.
fn stop_what_it_left(ctx: &Ctx, rec: &Record) -> Result<()> {
    let target = Target::of_record(rec.clone());
    let (signal, timeout) = crate::spec::stop_settings(Some(rec));
    let schedule = default_schedule(signal, timeout, false);
    let stopped = super::stop::stop_remains(ctx, &target, &schedule, Vec::new())
        .with_context(|| format!("cannot start {}", rec.name))?;
    if stopped > 0 {
        ctx.say(format!(
            "stopped leftovers of {}: {}",
            rec.name,
            crate::parse::counted(stopped as u64, "process", "processes")
        ));
    }
    Ok(())
}

/// The `PATH` that `--env` gives, if it does (else the program is looked up in rdaemon's).
fn start_path(args: &StartArgs) -> std::collections::BTreeMap<String, String> {
    args.opts
        .env
        .iter()
        .filter(|(k, _)| k == "PATH")
        .cloned()
        .collect()
}

/// Whether `word` (`--env`, `--env=A=1`, `-q`) is an option of `rdaemon start`.
fn is_start_option(word: &std::ffi::OsStr) -> bool {
    let Some(word) = word.to_str() else {
        return false;
    };
    // Built only here, for a command line that looks wrong: subcommands are deferred.
    let cli = crate::cli::Cli::built();
    let Some(start) = cli.find_subcommand("start") else {
        return false;
    };
    let long = word
        .strip_prefix("--")
        .map(|w| w.split('=').next().unwrap_or(w));
    let short = word.strip_prefix('-').and_then(|w| w.chars().next());
    let found = start.get_arguments().any(|a| match long {
        Some(l) => a.get_long() == Some(l),
        None => short.is_some() && a.get_short() == short,
    });
    found
}

/// `rdaemon start`.
pub fn run(args: StartArgs, ctx: &Ctx) -> Result<Code> {
    if let Some(name) = stored_name(ctx, &args)? {
        return start_stored(ctx, &name, &args);
    }
    let command = command_line(&args.program)?;
    let name = match args.name {
        Some(ref n) => n.clone(),
        None => derive_name(args.pidfile.as_deref(), &command[0])?,
    };
    let spec = Spec::from_start(ctx, name, &args, command)?;
    if args.opts.chdir.is_none() {
        warn_relative_args(ctx, &spec);
    }
    warn_relative_ready(ctx, &args, &spec);
    start_spec(ctx, spec, &args)
}

/// A relative `--ready file:` path is taken from the directory `start` runs in, as every path
/// of its command line is; with a `--chdir` elsewhere, a program that creates the file relative
/// to its own directory is waited for in vain (user trial, 2026-12-02): said, as a relative
/// argument is ([`warn_relative_args`]).
fn warn_relative_ready(ctx: &Ctx, args: &StartArgs, spec: &Spec) {
    let (Some(chdir), Some(ReadySpec::File(given))) = (&args.opts.chdir, &args.opts.ready) else {
        return;
    };
    if given.is_absolute() || spec.chdir == std::env::current_dir().unwrap_or_default() {
        return;
    }
    ctx.warn(format!(
        "--ready file:{} is taken from this directory, not from --chdir {}: rdaemon waits for '{}'; give an absolute path if the program makes it elsewhere",
        given.display(),
        chdir.display(),
        std::env::current_dir()
            .unwrap_or_default()
            .join(given)
            .display()
    ));
}

/// `rdaemon start NAME`: the daemon from its spec, the options given overriding it (and saved
/// with it, as `restart` does).
fn start_stored(ctx: &Ctx, name: &Name, args: &StartArgs) -> Result<Code> {
    ctx.ensure_dir()?;
    let rec = {
        let lock = NameLock::acquire(&ctx.lock_path(name))?;
        let rec = load_record_warning(ctx, name, false);
        if !matches!(rec, Ok(Some(_))) {
            // A name rdaemon never knew leaves no lock file behind.
            super::release_lock(ctx, name, lock);
        }
        rec?
    };
    let Some(rec) = rec else {
        // A spec that cannot be read, while its status names the running daemon: it runs,
        // which is all `start NAME` asks (what it runs is unknown, and said).
        if let Ok(Some(pid)) = crate::target::alive_by_status(ctx, name) {
            if let Err(e) = Record::load(ctx, name) {
                ctx.warn(format!(
                    "{}; its status names pid {pid}, which runs",
                    crate::exit::render(&e)
                ));
            }
            ctx.say(format!("{name} is already running (pid {pid})"));
            return Ok(Code::Ok);
        }
        return Err(no_spec(
            ctx,
            name,
            "start",
            "rdaemon start --name {name} -- PROGRAM ARGS",
        ));
    };
    let mut spec = Spec::from_record(ctx, &rec)?;
    if let Some(pidfile) = &args.pidfile {
        spec.pidfile = absolute(pidfile)?;
        spec.program_pidfile = true;
    }
    spec.apply(&args.opts)?;
    spec.program_pidfile &= spec.forking;
    if args.source.is_some() {
        spec.source.clone_from(&args.source);
        spec.after.clone_from(&args.after);
    }
    start_spec(ctx, spec, args)
}

/// Why `VERB NAME` without a command line has nothing to run: no spec (a usage error, exit 2),
/// or a spec that cannot be read (exit 1, naming the file and what is wrong in it, rather than
/// "no record"). `how` is the command line that would replace it, `{name}` in it the name.
pub fn no_spec(ctx: &Ctx, name: &Name, verb: &str, how: &str) -> anyhow::Error {
    let how = how.replace("{name}", name.as_str());
    match Record::load(ctx, name) {
        Err(e) => anyhow::anyhow!(
            "cannot {verb} {name}: {}; give its command line to replace it ({how}), or forget it (rdaemon forget {name})",
            crate::exit::render(&e)
        ),
        Ok(_) => {
            // A typo as likely as a new daemon: the closest known names, as `status` gives them.
            let close = crate::target::closest_names(ctx, name.as_str());
            let close = match close.is_empty() {
                true => String::new(),
                false => format!(" (closest: {})", close.join(", ")),
            };
            Fail::usage(format!(
                "no record for {name}{close}: give its command line ({how})"
            ))
            .into()
        }
    }
}

/// What `start` does once it knows what to start.
fn start_spec(ctx: &Ctx, mut spec: Spec, args: &StartArgs) -> Result<Code> {
    // Refuse a bad --user or --group before creating anything.
    spec.account(ctx)?;
    if args.foreground {
        if spec.ready != ReadySpec::Exec {
            return Err(Fail::usage(format!(
                "--ready {}: rdaemon cannot wait for readiness with --foreground, as it becomes the program (under systemd, use Type=notify: NOTIFY_SOCKET is passed on)",
                spec.ready
            ))
            .into());
        }
        if spec.forking {
            return Err(Fail::usage(
                "--forking cannot be used with --foreground: rdaemon becomes the program, which then forks away from it (under systemd, use Type=forking)",
            )
            .into());
        }
        if spec.respawn.is_some() {
            return Err(Fail::usage(
                "--respawn cannot be used with --foreground: rdaemon becomes the program and cannot supervise it (let systemd or the container runtime restart it)",
            )
            .into());
        }
        spec.foreground = true;
        let opts = &args.opts;
        if opts.log.is_none() && opts.stdout.is_none() && opts.stderr.is_none() {
            spec.inherit_output = true;
            spec.stdout = inherited_stream(1);
            spec.stderr = inherited_stream(2);
        }
    }
    ctx.ensure_dir()?;
    let lock = NameLock::acquire(&ctx.lock_path(&spec.name))?;
    let result =
        load_record_for_start(ctx, &spec.name).and_then(|old| start_locked(ctx, &spec, old));
    if result.is_err() {
        // A first start that failed leaves nothing behind, not even its lock file.
        super::release_lock(ctx, &spec.name, lock);
    }
    result
}

// `rdaemon resurrect`: starts every daemon whose spec wants it running and that does not run —
// after a reboot emptied the runtime directory, or after a crash. In `up`'s dependency order
// (the specs' `after`), each daemon once every one it comes after runs, and those whose turn
// has come at once, concurrently (`jobs`, as `up`): each in a child process of rdaemon's own
// (`rdaemon __resurrect NAME`, [`resurrect_child`]), since a start forks and must run on one
// thread. Each under its own lock, where `wanted` is read again: a `stop` that won the lock
// wins. A daemon that comes after one that could not be started, or after one that is wanted
// stopped and does not run, is not started: an error for it, unless it runs already or is
// wanted stopped too. It lives here, beside `start`, since it is `start NAME` over every such
// daemon.

/// `rdaemon resurrect`.
pub fn resurrect(_args: crate::cli::ResurrectArgs, ctx: &Ctx) -> Result<Code> {
    let names = crate::state::list_names(ctx).map_err(|e| crate::target::denied_error(ctx, e))?;
    // A directory it may read but not write (root's, to a user): said once, exit 4, not
    // "cannot start" for every daemon, running ones included (helper-116).
    if !names.is_empty() {
        if let Err(e) = ctx.ensure_dir() {
            // Only for want of permission, not a read-only or full file system (helper-117).
            return Err(match crate::fsx::write_denied(&ctx.dir) {
                true => crate::target::privilege_error(ctx, e),
                false => e,
            });
        }
    }
    // The order comes from the specs as they are now; each is read again under its lock.
    let recs: Vec<Option<Record>> = names
        .iter()
        .map(|name| Record::load(ctx, name).ok().flatten())
        .collect();
    let after: Vec<(Name, Vec<Name>)> = names
        .into_iter()
        .zip(&recs)
        .map(|(name, rec)| {
            (
                name,
                rec.as_ref().map(|r| r.after.clone()).unwrap_or_default(),
            )
        })
        .collect();
    let order = crate::upfile::order_by_after(&after);
    let place: std::collections::BTreeMap<&Name, usize> =
        order.iter().enumerate().map(|(i, n)| (n, i)).collect();
    // Daemons in each other's way (preflight::in_the_way: one pidfile, one readiness port or
    // file, a log one's readiness reads and the other writes) start one after the other, in
    // the order, as they did before resurrect started any at once.
    let specs: Vec<Option<Spec>> = recs
        .iter()
        .map(|rec| rec.as_ref().and_then(|r| Spec::from_record(ctx, r).ok()))
        .collect();
    let mut by_place: Vec<usize> = (0..after.len()).collect();
    by_place.sort_by_key(|i| place[&after[*i].0]);
    let ordered: Vec<Option<&Spec>> = by_place.iter().map(|i| specs[*i].as_ref()).collect();
    let mut runs_after: std::collections::BTreeMap<&Name, std::collections::BTreeSet<Name>> =
        std::collections::BTreeMap::new();
    for (first, second) in crate::preflight::clashes(&ordered) {
        let (first, second) = (&after[by_place[first]].0, &after[by_place[second]].0);
        runs_after.entry(second).or_default().insert(first.clone());
    }
    let jobs = after
        .iter()
        .map(|(name, after)| crate::jobs::Job {
            name: name.clone(),
            replaces: false,
            steps: vec![vec![crate::cli::RESURRECT_ONE.into(), name.as_str().into()]],
            // What it comes after, of the daemons there are, earlier in the order: a cycle
            // (hand-made specs) is broken where the order broke it, as when one ran after the
            // other.
            waits_for: after
                .iter()
                .filter(|d| place.get(d).is_some_and(|p| *p < place[name]))
                .cloned()
                .collect(),
            runs_after: runs_after.remove(name).unwrap_or_default(),
        })
        .collect();
    crate::jobs::run_jobs(ctx, None, jobs, crate::jobs::Direction::Resurrect, |name| {
        format!("{name} is left alone")
    })
}

/// `rdaemon __resurrect NAME`: `resurrect`'s work for one daemon, in a child process of its
/// own. Exit 0 when it runs afterwards, 3 when it is left alone (not wanted running, or left to
/// the supervisor that runs it in the foreground), 1 when it could not be started (said on
/// stderr); `args.after` names a daemon it comes after that does not run, and why.
pub fn resurrect_child(args: crate::cli::ResurrectOneArgs, ctx: &Ctx) -> Result<Code> {
    // SIGINT, SIGTERM and SIGHUP (`resurrect` passes them on) end its wait for the daemon's
    // lock; held during the start itself, whose own waits catch them as they would alone.
    crate::fault::point("resurrect-before-catch");
    crate::process::catch_interrupts().context("cannot install signal handlers")?;
    let name = &args.name;
    let blocked = args.after.map(|(dep, why)| {
        let why = match why {
            crate::cli::AfterDown::Failed => DID_NOT_START,
            crate::cli::AfterDown::Stopped => IS_STOPPED,
        };
        (dep, why)
    });
    match resurrect_one(ctx, name, blocked) {
        Ok(Some(Code::Ok)) => Ok(Code::Ok),
        Ok(Some(_)) => Ok(Code::Failure),
        Ok(None) => Ok(Code::NotRunning),
        Err(err) => {
            let why = crate::exit::render(&err);
            // Most errors of a start name the daemon already.
            match why.starts_with(&format!("cannot start {name}")) {
                true => eprintln!("rdaemon: {why}"),
                false => eprintln!("rdaemon: cannot start {name}: {why}"),
            }
            Ok(Code::Failure)
        }
    }
}

/// Why `resurrect` does not start a daemon after one that failed.
const DID_NOT_START: &str = "did not start";

/// Why `resurrect` does not start a daemon after one that is wanted stopped.
const IS_STOPPED: &str = "is stopped (start it, or run 'rdaemon up')";

/// One daemon: started if it is wanted running and does not run, unless it is `blocked`: it
/// comes after a daemon that does not run (which, and why). `Some(Ok)` when it runs
/// afterwards, `None` when it is not wanted running (left alone, not running unless someone
/// else started it).
fn resurrect_one(
    ctx: &Ctx,
    name: &crate::parse::Name,
    blocked: Option<(Name, &str)>,
) -> Result<Option<Code>> {
    ctx.ensure_dir()?;
    let _lock = NameLock::acquire(&ctx.lock_path(name))?;
    let Some(rec) = Record::load(ctx, name)? else {
        return Ok(None);
    };
    let report = crate::view::Report::new(ctx, &Target::of_record(rec.clone()));
    // A respawn daemon's program running without its monitor is not what `resurrect` promises:
    // `start_locked` says why it cannot start it.
    let runs = report.state.runs() && !report.unsupervised;
    if rec.wanted() != crate::state::Wanted::Running {
        ctx.debug(format!("{name} is wanted stopped: left alone"));
        return Ok(runs.then_some(Code::Ok));
    }
    if runs {
        if let Some(pid) = report.pid.and_then(|p| Pid::new(p).ok()) {
            repair_pidfile(ctx, &rec, pid);
        }
        crate::fault::point("resurrect-running");
        ctx.say(format!(
            "{name} is already running (pid {})",
            report.pid.unwrap_or_default()
        ));
        return Ok(Some(Code::Ok));
    }
    // Its supervisor (systemd, a container runtime) starts it again, in the foreground: a
    // detached copy from here would run beside that one, or make its start find it running
    // and end at once.
    if rec.foreground {
        ctx.say(format!(
            "{name} was started with --foreground: left to the supervisor that runs it"
        ));
        return Ok(None);
    }
    if let Some((dep, why)) = blocked {
        anyhow::bail!("cannot start {name}: it comes after {dep}, which {why}");
    }
    if report.state == crate::view::DaemonState::Unknown {
        anyhow::bail!(report.reason.unwrap_or_else(|| "unknown state".into()))
    }
    let spec = Spec::from_record(ctx, &rec)?;
    // The start catches the signals itself where it waits, as `restart`'s does.
    crate::process::hold_interrupts();
    let started = start_locked(ctx, &spec, Some(rec));
    // One that waits for nothing does not catch them: it ran on to the end. Said here, where
    // it is known that a start was under way (not for a daemon found running).
    if started.is_ok() {
        warn_started_regardless(ctx, name);
    }
    started.map(Some)
}

/// The warning of a start that completed although SIGINT, SIGTERM or SIGHUP came while it ran
/// (`--ready exec`, which catches none of them), if one came: the daemon runs.
pub fn warn_started_regardless(ctx: &Ctx, name: &crate::parse::Name) {
    if let Some(sig) = crate::process::caught() {
        ctx.warn(format!(
            "{name} was being started when SIG{} came: its start completed, and it runs",
            crate::parse::signal_name(sig)
        ));
    }
}

/// The relative-path trap (SPEC §2): with the default `--chdir /` (or, for `restart` with a new
/// command line, the recorded one), an argument that names an existing file relative to the
/// caller's directory, but not relative to the daemon's, is most likely meant as the caller's
/// file, which the daemon will not find.
pub fn warn_relative_args(ctx: &Ctx, spec: &Spec) {
    for arg in spec.command.iter().skip(1) {
        let path = Path::new(arg);
        if arg.is_empty() || arg.starts_with('-') || path.is_absolute() {
            continue;
        }
        if path.exists() && !spec.chdir.join(path).exists() {
            ctx.warn(format!(
                "'{arg}' is relative to the daemon's working directory {}; use an absolute path or --chdir",
                spec.chdir.display()
            ));
        }
    }
}

/// The default name: the pidfile's stem, else the program's basename (SPEC §1).
fn derive_name(pidfile: Option<&Path>, program: &str) -> Result<Name> {
    let (source, what) = match pidfile {
        Some(p) => (
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            format!("pidfile '{}'", p.display()),
        ),
        None => (
            Path::new(program)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            format!("program '{program}'"),
        ),
    };
    Name::parse(&source).map_err(|_| {
        Fail::usage(format!(
            "cannot derive a daemon name from {what}: '{source}' is not a valid name; give --name"
        ))
        .into()
    })
}

/// The previous record; a corrupt one (content that is not a record) is reported and will be
/// replaced. A record that cannot be read (EMFILE, EACCES...) is an error: it may vouch for a
/// running daemon, and starting without it could start a second copy.
pub fn load_record_for_start(ctx: &Ctx, name: &Name) -> Result<Option<Record>> {
    load_record_warning(ctx, name, true)
}

/// [`load_record_for_start`], saying what will be replaced only when `warn` (`start NAME` reads
/// the record twice: to build the spec, then under the lock to start it).
pub fn load_record_warning(ctx: &Ctx, name: &Name, warn: bool) -> Result<Option<Record>> {
    let warn = |text: String| {
        if warn {
            ctx.warn(text);
        }
    };
    match Record::load(ctx, name) {
        Ok(r) => Ok(r),
        Err(e) if e.root_cause().is::<serde_json::Error>() => {
            let why = crate::exit::render(&e);
            // The spec may be whole and only the status damaged: the spec is kept, and the
            // daemon may run, which only the status could tell.
            if let Ok(Some(rec)) = Record::load_spec_only(ctx, name) {
                if let Content::Valid { pid, .. } = pidfile::read(&rec.pidfile, ctx.is_root) {
                    if matches!(process::alive(pid), Ok(true)) {
                        bail!(
                            "cannot start {name}: {why}; its pidfile '{}' names pid {pid}, which runs, and without its status nothing tells whether that is {name}: if it is, stop it (kill {pid}), then start {name} again",
                            rec.pidfile.display()
                        );
                    }
                }
                warn(format!("{why}; it will be replaced"));
                return Ok(Some(rec));
            }
            // Unless its status names the running daemon: `start_locked` then says so.
            if !matches!(crate::target::alive_by_status(ctx, name), Ok(Some(_))) {
                warn(format!("{why}; it will be replaced"));
            }
            Ok(None)
        }
        Err(e) => Err(e.context(format!("cannot start {name}"))),
    }
}

/// Starts `spec` while its name's lock is held. `old` is the previous record, which is kept if
/// the start fails.
pub fn start_locked(ctx: &Ctx, spec: &Spec, old: Option<Record>) -> Result<Code> {
    // The account first, as always: a bad --user or --group is reported before anything else.
    let account = spec.account(ctx)?;
    pidfile::refuse_non_regular(&spec.pidfile)?;
    let mut pidfiles = vec![spec.pidfile.clone()];
    if let Some(rec) = old.as_ref().filter(|r| r.pidfile != spec.pidfile) {
        pidfiles.insert(0, rec.pidfile.clone());
    }
    let mut launch = plan::plan_as(spec, account)?;
    let program = launch.program.clone();
    // Without a spec it can read (a corrupt one, reported as it was loaded), the status may
    // still name the running daemon: never a second copy beside it.
    if old.is_none() {
        if let Some(pid) = crate::target::alive_by_status(ctx, &spec.name)? {
            ctx.warn(format!(
                "the spec of {} cannot be read, but its status names pid {pid}, which runs: whether it runs this command is unknown",
                spec.name
            ));
            ctx.say(format!("{} is already running (pid {pid})", spec.name));
            return Ok(Code::Ok);
        }
    }
    // Stale pidfiles are only noted here, and replaced once every check below has passed: a
    // start that fails on bad input changes nothing (SPEC §2).
    let mut stale = Vec::new();
    for path in pidfiles {
        let target = Target {
            name: Some(spec.name.clone()),
            pidfile: path,
            record: old.clone(),
            record_error: None,
        };
        refuse_anothers_pidfile(ctx, &target, old.as_ref())?;
        let respawn = spec.respawn.is_some();
        let (pid, signalable) = match look_at_pidfile(ctx, &target, &program, respawn)? {
            Found::Nothing => continue,
            Found::Stale(found) => {
                stale.push(found);
                continue;
            }
            Found::Running(pid) => (pid.get(), Some(pid)),
            Found::Caller(pid) => (pid, None),
        };
        if let Some(rec) = old.as_ref().filter(|r| r.pid == Some(pid)) {
            // A forking program's own pidfile is its to write, never rdaemon's.
            if let Some(own) = signalable.filter(|_| writes_pidfile(spec)) {
                let creds = launch.account.as_ref().map(|a| &a.creds);
                restore_pidfile(ctx, &rec.pidfile, own, creds);
            }
        }
        if let Some(other) = old
            .as_ref()
            .and_then(|rec| running_otherwise(ctx, spec, rec))
        {
            bail!("{} is already running (pid {pid}) {other}", spec.name);
        }
        ctx.say(format!("{} is already running (pid {pid})", spec.name));
        return Ok(Code::Ok);
    }

    // Env files that cannot be read, limits, nice or OOM score the kernel refuses: now, on
    // the terminal, before anything is detached.
    spec.check_process_settings(launch.account.as_ref())?;
    // A program that cannot be executed (a directory, no execute bit for its user, a missing
    // `#!` interpreter): said now, as `restart` says it before it stops anything.
    plan::check_executable(&launch.program, &spec.command[0], launch.account.as_ref())?;
    if spec.foreground {
        if launch.cgroup == CgroupMode::On || launch.has_limits() {
            bail!(Fail::usage(
                "--cgroup on, --memory-max and --tasks-max do not work with --foreground"
            ));
        }
        return start_in_place(ctx, spec, old, &launch, stale);
    }
    // Only a daemon that ended without a `stop` (wanted running: it died) can have left
    // some; a stopped one's `stop` ended them all, and its start costs no look at `/proc`.
    if let Some(rec) = old
        .as_ref()
        .filter(|r| r.wanted() == crate::state::Wanted::Running)
    {
        stop_what_it_left(ctx, rec)?;
    }
    let mut check = Check::prepare(
        &launch.ready,
        &launch.name,
        &ctx.runtime,
        launch.account.as_ref(),
    )?;
    // `log:` counts only lines written from now on, and cannot read /dev/null.
    check.watch_logs(&[&spec.stdout, &spec.stderr])?;
    // So does the tail shown if this start fails: not an earlier run's last words.
    // Once per file: stdout and stderr are usually the same one.
    let mut logs_seen = vec![&launch.stdout];
    if launch.stderr != launch.stdout {
        logs_seen.push(&launch.stderr);
    }
    launch.log_marks = logs_seen
        .into_iter()
        .filter_map(|p| Some((p.clone(), logs::LogMark::of(p)?)))
        .collect();
    // With another server on the port, the new program would fail to bind while a connect
    // to the old one looked like readiness: refuse now, naming who holds it.
    preflight::refuse_busy_port(ctx, &check, &[])?;
    if let Some(a) = launch.account.as_ref().filter(|_| spec.respawn.is_some()) {
        check.hear_program_uid(a.creds.uid);
    }
    if let Some(a) = launch.account.as_ref() {
        check.hear_file_owner(a.creds.uid);
    }
    warn_missing_pidfile_dir(ctx, &launch);
    // With a wait to come, Ctrl-C, SIGTERM and SIGHUP are caught from before the launch (SPEC
    // §2.1): one that came between the fork and the wait (a Ctrl-C, an `up` passing its own on)
    // was the default death, which left a launched daemon running, reported by nobody. The
    // wait sees it at once and stops the daemon. A start that waits for nothing is not slowed
    // by it (a socket pair and three handlers, 0.05 ms): it completes in a moment anyway.
    let waits = launch.ready != ReadySpec::Exec || launch.forking.is_some();
    crate::fault::point("start-before-catch");
    let mut interrupt = waits.then(Interrupt::catch);
    // One that came already (before this catch began, noted by `restart`'s, which it holds
    // for this start, and raised again by `Interrupt::catch`; or noted there for a start that
    // catches nothing) ends the start before anything is launched.
    let early = match interrupt.as_mut() {
        Some(caught) => caught.as_mut().ok().and_then(Interrupt::caught),
        None => crate::process::caught(),
    };
    if let Some(sig) = early {
        return Err(Fail::interrupted(
            sig,
            format!(
                "cannot start {}: interrupted by {} before it was started",
                launch.name,
                sig.as_str()
            ),
        )
        .into());
    }
    let (plan, report, new_logs) = prepare(ctx, &mut launch, Some(&mut check))?;
    // Set by the step before the "go": the temporary pidfile, made while the intermediate forks.
    let mut writer: Option<PidfileWriter> = None;
    // Last before the fork: the cgroup, with its limits (an error here is the start's).
    let cgroup = prepare_cgroup(ctx, &launch)?;
    // Every check has passed: the stale pidfiles go now (the log files this start created, and
    // its cgroup, go with a failure here as with any other).
    if let Err(err) = replace_stale(ctx, spec, stale) {
        remove_if_empty(cgroup.as_ref());
        return Err(err);
    }
    let mut committed = None;
    let mut joined = false;
    // Held until this function returns: the monitor writes the status only after that.
    let mut handoff = None;
    let into = cgroup.as_ref().map(|c| c.dir());
    // What needs no pid is done while the intermediate child forks, off the path from the fork
    // to the exec, which waits for that child: the spec, the temporary pidfile, the boot id
    // (0.11-0.14 ms of a start, issue 18). An error there fails the start before the program
    // runs, as one before the fork would. The spec is written once, saying `wanted: running`
    // already: a failed exec, or a program never ready, puts the old spec back (a new name's is
    // marked wanted stopped) below; a start killed before that leaves its daemon wanted running,
    // `running` if the program runs, else `dead`, and `resurrect` starts it. Written twice,
    // the second write, replacing the first, cost a start 0.2 ms, and a readiness wait 0.1-0.15
    // ms between the program's readiness and the start's return (issue 18). With `--forking`,
    // `wanted: stopped` until the program's process has been adopted.
    let wanted_at_once = launch.forking.is_none();
    // A daemon wanted running before this start (a restart, a resurrect, a start after it died)
    // stays wanted running whatever this start's outcome: one that is never ready is `dead`
    // then, and the next `resurrect` tries it again, not `stopped` as if a user had stopped it
    // (SPEC §1: `stopped` after stop or down).
    let wanted_before = old
        .as_ref()
        .is_some_and(|r| r.wanted() == crate::state::Wanted::Running);
    let mut spec_saved = false;
    let mut unstarted = spec.unstarted();
    unstarted.stopping = !(wanted_at_once || wanted_before);
    let creds = launch.account.as_ref().map(|a| &a.creds);
    // What descends from this `start` already (earlier daemons of a `resurrect`) is not this
    // launch's to stop if it fails.
    crate::forking::begin_launch(launch.account.as_ref().map(|a| a.creds.uid), &[]);
    // A `--forking` program runs beneath a child subreaper of its own, which what earlier
    // daemons of the same command orphan is never re-parented to (`forking::keep`).
    let keep = launch.forking.is_some() && report.is_none();
    let result = daemonize::spawn(
        &plan,
        into,
        keep,
        || {
            // The spec keeps the boot it was started in: after a reboot, a pidfile of this
            // start names no process of the daemon (`target::judge`).
            let boot_id = process::boot_id();
            unstarted.started_boot = boot_id.as_ref().ok().cloned();
            let saved = unstarted.save_spec(ctx);
            spec_saved = saved.is_ok();
            let prepared = match writes_pidfile(spec) {
                true => PidfileWriter::prepare(&spec.pidfile, creds).map(Some),
                false => Ok(None),
            };
            (saved, prepared, boot_id)
        },
        |(saved, prepared, boot_id), pid, in_cgroup| {
            saved?;
            writer = prepared?;
            let boot_id = boot_id.context("cannot read the boot id")?;
            crate::fault::point("before-pidfile");
            let stat =
                process::read_stat(pid).with_context(|| format!("cannot read /proc/{pid}/stat"))?;
            // The record first: every pidfile rdaemon writes is vouched for by a record from the
            // moment it exists, so a start killed between the two leaves a record naming a pid that
            // never ran (judged by its start time once reused), never a pidfile naming nobody's.
            let mut record = spec.record(pid, stat.start_time, &boot_id);
            // The session the double fork made (the daemon waits for its "go": nothing ran yet).
            record.session = crate::session::made_for(&stat);
            // Its leader, the intermediate process, is our unreaped child until `spawn` returns.
            record.session_inode = record
                .session
                .and_then(|sid| crate::session::identity(sid, None));
            // Its pid is pinned: an unreaped descendant of this rdaemon, its subreaper.
            record.pidfs = Pidfs::open(pid, stat.start_time);
            // Into its cgroup while it waits for its "go": no code of the program runs outside it,
            // and whatever it forks is born inside. Created there where the kernel can (clone3),
            // else moved there now, as root, so `--user` changes nothing.
            if let Some(cg) = &cgroup {
                let joined_at_birth = if in_cgroup { Ok(()) } else { cg.add(pid.get()) };
                match joined_at_birth {
                    Ok(()) => {
                        record.cgroup = Some(cg.cgroup.path().to_owned());
                        record.cgroup_id = cg.id();
                        joined = true;
                    }
                    // A start of the same name from another directory took the path over while
                    // the cgroup was empty: `auto` goes without.
                    Err(_) if launch.cgroup == CgroupMode::Auto && !launch.has_limits() => {}
                    Err(err) => return Err(err),
                }
            }
            record.save_status(ctx)?;
            committed = Some(pid);
            crate::fault::point("between-commits");
            // `--forking`: the pidfile names the process the program leaves, known only later
            // (a respawn monitor's own pidfile is written now, as for any monitor).
            match writer.take() {
                Some(writer) if !spec.forking || spec.respawn.is_some() => writer.commit(pid)?,
                other => writer = other,
            }
            Ok(record)
        },
    )
    .map(|(pid, _, keeper)| {
        if let Some(keeper) = keeper {
            crate::forking::keep(keeper);
        }
        pid
    });
    // The plan holds the monitor's end of the report pipe: drop it, so that a monitor that dies
    // without a word shows as end-of-file.
    drop(plan);
    // `--forking`: the launcher was executed, so the program ran, whatever it leaves.
    let launched = result.is_ok() && report.is_none() && launch.forking.is_some();
    let result = match (result, report) {
        (Ok(monitor), Some(report)) => confirm_monitor(ctx, &launch, monitor, report, &mut handoff),
        (Ok(launcher), None) if launch.forking.is_some() => {
            let cgroup = cgroup.as_ref().filter(|_| joined).map(|c| &c.cgroup);
            adopt_forked(
                ctx,
                &launch,
                launcher,
                cgroup,
                writer.take(),
                interrupt.take(),
            )
        }
        (result, _) => result,
    };
    // The launch is over: its keeper goes, and the daemon it held is re-parented here.
    crate::forking::release();
    match result {
        Ok(pid) => {
            // The program ran: its log stays, whatever its readiness (the record names it).
            new_logs.keep();
            if launch.ready == ReadySpec::Exec {
                if !wanted_at_once {
                    want_running(ctx, &spec.name, pid)?;
                }
                ctx.say(format!("started {} (pid {pid})", spec.name));
                return Ok(Code::Ok);
            }
            // With `--forking`, the spec that says "wanted running" is written now, while the
            // program gets ready, and put in place by a rename once it is (dropped, unused, if
            // it never is); otherwise it says so already.
            let staged = match wanted_at_once {
                true => None,
                false => stage_running(ctx, &spec.name, pid),
            };
            // The daemon's processes are its cgroup's: their TCP state changes may end the
            // pauses of a `tcp:` or `http:` wait.
            if let Some(cg) = cgroup.as_ref().filter(|_| joined) {
                check.watch_cgroup(cg.dir());
            }
            let code = await_ready(
                ctx,
                &launch,
                pid,
                &mut check,
                handoff.as_mut(),
                interrupt.take(),
            )
            .inspect_err(|_| {
                // Never ready: stopped, and its cgroup goes like one of a start that failed
                // earlier; the spec it replaced comes back.
                remove_if_empty(cgroup.as_ref());
                restore_spec(ctx, old.as_ref());
                if old.is_none() && wanted_at_once {
                    want_stopped(ctx, &spec.name, pid);
                }
            })?;
            match staged {
                Some(staged) => staged.commit()?,
                None if wanted_at_once => {}
                None => want_running(ctx, &spec.name, pid)?,
            }
            Ok(code)
        }
        // The program ran and left nothing to adopt: as for a start that is never ready, its
        // log stays, and the spec it replaced comes back (a new name's stays, wanted stopped,
        // for `status`, `logs` and `restart`).
        Err(err) if launched => {
            new_logs.keep();
            remove_if_empty(cgroup.as_ref());
            restore_spec(ctx, old.as_ref());
            Err(err)
        }
        Err(err) => {
            remove_if_empty(cgroup.as_ref());
            if let Some(pid) = committed {
                let _ = pidfile::remove_if_pid(&spec.pidfile, pid);
            }
            if committed.is_some() || spec_saved {
                let _ = match &old {
                    Some(rec) => rec.save(ctx),
                    None => Record::remove(ctx, &spec.name),
                };
            }
            Err(err)
        }
    }
}

/// After a start whose program ran but never became ready (or left nothing to adopt): the spec
/// it replaced, `old`'s, written back, so that a failed `restart NAME --ready tcp:WRONG` or
/// `start --name NAME` with a new command loses nothing of what worked (a plain `restart` runs
/// it again), with `wanted` as it was. Best effort: the start's own error is what the user
/// needs to see.
fn restore_spec(ctx: &Ctx, old: Option<&Record>) {
    if let Some(rec) = old {
        if let Err(err) = rec.save_spec(ctx) {
            ctx.warn(format!("{err:#}"));
        }
    }
}

/// `--forking --pidfile PATH` whose directory does not exist: said now, on the terminal, rather
/// than only when `--ready-timeout` has run out (30 s by default). A warning, not an error: a
/// program may create its run directory itself before it writes its pidfile.
fn warn_missing_pidfile_dir(ctx: &Ctx, launch: &plan::Plan) {
    let Some(path) = launch.forking.as_ref().and_then(|f| f.pidfile.as_ref()) else {
        return;
    };
    let Some(dir) = path
        .parent()
        .filter(|d| std::fs::symlink_metadata(d).is_err())
    else {
        return;
    };
    ctx.warn(format!(
        "the directory of the program's pidfile '{}' does not exist ('{}'): unless the program creates it, the start fails after --ready-timeout",
        path.display(),
        dir.display()
    ));
}

/// After a failed start, best effort: an empty cgroup goes; one that holds a failed program's
/// processes is left for `stop`.
fn remove_if_empty(cgroup: Option<&Claimed>) {
    if let Some(cg) = cgroup.map(|c| &c.cgroup) {
        if matches!(cg.populated(), Ok(false)) {
            let _ = cg.remove();
        }
    }
}

/// The pidfile rdaemon writes for the running daemon of `rec`, whose main process (its monitor
/// in respawn mode) is `pid`, written again if it no longer names it (removed, overwritten), as
/// `start` does for a daemon already running: `resurrect` and `up` do it too (helper-121's
/// trial: they left it, while `status` named the pidfile wrong). The caller holds the name's
/// lock.
pub(crate) fn repair_pidfile(ctx: &Ctx, rec: &Record, pid: Pid) {
    let Ok(spec) = Spec::from_record(ctx, rec) else {
        return;
    };
    if !writes_pidfile(&spec) {
        return;
    }
    match spec.account(ctx) {
        Ok(account) => restore_pidfile(ctx, &rec.pidfile, pid, account.as_ref().map(|a| &a.creds)),
        Err(e) => ctx.warn(crate::exit::render(&e)),
    }
}

/// Whether rdaemon writes the daemon's pidfile: always, except the pidfile a `--forking`
/// program writes itself (`--pidfile`; without it, the default one is rdaemon's as usual).
fn writes_pidfile(spec: &Spec) -> bool {
    !(spec.forking && spec.program_pidfile)
}

/// `--forking` (SPEC §2.2): waits for the launched program (`launcher`, a child of this start,
/// its subreaper) to exit, then adopts the process it left behind (`forking::find_main`: named
/// by the program's pidfile, or the only one left, and in either case left by this launch), all
/// within `--ready-timeout`. The status then names that process, with its start time; the
/// pidfile too when it is rdaemon's (`writer`). On failure, everything the launch left is
/// stopped and the error shows how the program ended and its log tail.
fn adopt_forked(
    ctx: &Ctx,
    launch: &plan::Plan,
    launcher: Pid,
    cgroup: Option<&Cgroup>,
    writer: Option<PidfileWriter>,
    interrupt: Option<Result<Interrupt>>,
) -> Result<Pid> {
    let name = &launch.name;
    let Some(forking) = &launch.forking else {
        bail!("internal error: {name} is not a --forking daemon");
    };
    let timeout = forking.timeout;
    let deadline = std::time::Instant::now() + timeout;
    // Ctrl-C (or SIGTERM, SIGHUP) now stops what the launch left and exits 130 (SPEC §2.1).
    let mut interrupt = match interrupt.unwrap_or_else(Interrupt::catch) {
        Ok(i) => Some(i),
        Err(e) => {
            ctx.warn(format!("{e:#}; Ctrl-C will not stop {name}"));
            None
        }
    };
    let fail = |why: String, sig: Option<Signal>| -> anyhow::Error {
        let stopped = crate::forking::stop_left(cgroup);
        if let Some(path) = &forking.pidfile {
            // The program's pidfile, if it names what was just stopped (SPEC §2.2), or if it is
            // still empty: what was stopped had created it and not yet written its pid.
            for pid in stopped.iter().filter_map(|&p| Pid::new(p).ok()) {
                let _ = pidfile::remove_if_pid(path, pid);
            }
            if !stopped.is_empty() {
                let _ = pidfile::remove_if_empty(path);
            }
        }
        let mut message = format!("cannot start {name}: {why}");
        if !stopped.is_empty() {
            message.push_str(&format!(
                "; stopped what it left running (pid {})",
                crate::parse::some_pids(&stopped, 10)
            ));
        }
        if let Some(sig) = sig {
            // What the user asked for, not the program's fault: no log tail.
            return Fail::interrupted(sig, message).into();
        }
        message.push_str(&log_tail(launch, TAIL_LINES));
        anyhow::anyhow!(message)
    };
    let interrupted = |interrupt: &mut Option<Interrupt>, stage: &str| {
        let sig = interrupt.as_mut().and_then(Interrupt::caught)?;
        Some(fail(
            format!(
                "interrupted by {} while rdaemon waited for {stage}",
                sig.as_str()
            ),
            Some(sig),
        ))
    };
    // The launcher is the child of the launch's keeper, which reaps it and says how it ended
    // (or, without a keeper, this start's child: reaped here). Already reaped: it is gone.
    let ended_now = |process: Option<&Process>| {
        crate::forking::launcher_ended(launcher.get(), Duration::from_secs(5))
            .or_else(|| process.and_then(Process::reap))
            .unwrap_or(Ended::Code(0))
    };
    let ended = match crate::forking::launcher_ended(launcher.get(), Duration::ZERO) {
        Some(ended) => Ok(Some(ended)),
        None => match Process::open(launcher) {
            Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => Ok(Some(ended_now(None))),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot wait for {name} (pid {launcher})"))
            }
            Ok(process) => {
                let mut spinner = Spinner::new(ctx, format!("waiting for {name} to fork"));
                spinner.set_limit(timeout);
                let exited = spinner.wait_with(timeout, |slice| {
                    crate::forking::wait_launcher(
                        &process,
                        interrupt.as_ref().map(Interrupt::fd),
                        slice,
                    )
                });
                spinner.finish();
                if let Some(err) = interrupted(&mut interrupt, "the program to fork") {
                    return Err(err);
                }
                let exited = exited.map(|_| process.has_exited());
                exited.map(|exited| exited.then(|| ended_now(Some(&process))))
            }
        },
    };
    match ended {
        Ok(Some(Ended::Code(0))) => {}
        Ok(Some(ended)) => {
            return Err(fail(
                format!(
                    "{} before it forked into the background (--forking)",
                    crate::forking::describe_launcher(ended)
                ),
                None,
            ))
        }
        Ok(None) => {
            return Err(fail(
                format!(
                    "the program (pid {launcher}) did not exit within {}: with --forking, rdaemon waits for it to fork into the background and exit",
                    format_duration(timeout)
                ),
                None,
            ))
        }
        Err(e) => {
            return Err(fail(
                format!("cannot wait for pid {launcher}: {}", os_reason(&e)),
                None,
            ))
        }
    }
    let pidfile = forking.pidfile.as_deref();
    let stop = interrupt.as_ref().map(Interrupt::fd);
    let found = match crate::forking::find_main(pidfile, cgroup, deadline, timeout, stop) {
        Ok(found) => found,
        Err(e) => {
            let what = "the process the program left";
            return Err(interrupted(&mut interrupt, what)
                .unwrap_or_else(|| fail(crate::exit::render(&e), None)));
        }
    };
    let pid = found.process.pid();
    ctx.debug(format!(
        "the program (pid {launcher}) exited after forking; adopting pid {pid}"
    ));
    let adopted = (|| -> Result<()> {
        let mut rec = Record::load(ctx, name)?
            .filter(|r| r.pid == Some(launcher.get()))
            .with_context(|| format!("the status of {name} changed while it started"))?;
        rec.pid = Some(pid.get());
        rec.start_time = Some(found.stat.start_time);
        // `find_main` checked the process behind its pidfd against this start time.
        let pidfd = found.process.pidfd();
        rec.pidfs = pidfd.and_then(|fd| Pidfs::of(fd, pid, found.stat.start_time));
        // The session the program made for itself (`setsid`), led by the daemon or not: its
        // leftovers are found there (`session::Session`).
        rec.session = crate::session::made_for(&found.stat);
        // The program, alive in it, keeps its number from naming another while it is read.
        rec.session_inode = rec
            .session
            .and_then(|sid| crate::session::identity(sid, Some(&found.process)));
        rec.started_at = Some(crate::state::now_rfc3339());
        rec.save(ctx)?;
        if let Some(writer) = writer {
            writer.commit(pid)?;
        }
        Ok(())
    })();
    adopted.map_err(|e| fail(crate::exit::render(&e), None))?;
    Ok(pid)
}

/// Marks the spec of the daemon just started as `pid` wanted running: the start succeeded.
fn want_running(ctx: &Ctx, name: &Name, pid: Pid) -> Result<()> {
    match Record::load(ctx, name)? {
        Some(mut rec) if rec.pid == Some(pid.get()) && rec.stopping => {
            rec.stopping = false;
            rec.save_spec(ctx)
        }
        _ => Ok(()),
    }
}

/// The spec of a new name whose start failed after it was saved wanted running (a program never
/// ready): it stays, for `status`, `logs` and `restart`, but wanted stopped, as before this
/// start: a start that failed is no daemon that died, for `status` or `resurrect`. Best effort:
/// a spec that cannot be written is a warning beside the start's own error.
fn want_stopped(ctx: &Ctx, name: &Name, pid: Pid) {
    let marked = match Record::load(ctx, name) {
        Ok(Some(mut rec)) if rec.pid == Some(pid.get()) && !rec.stopping => {
            rec.stopping = true;
            rec.save_spec(ctx)
        }
        Ok(_) => Ok(()),
        Err(err) => Err(err),
    };
    if let Err(err) = marked {
        ctx.warn(format!("{err:#}"));
    }
}

/// [`want_running`] written ahead, for a start that waits for readiness: the spec marked wanted
/// running, staged to be put in place by [`StagedSpec::commit`]. `None` when there is nothing to
/// mark or the staging failed ([`want_running`] then does it, and reports its error).
fn stage_running(ctx: &Ctx, name: &Name, pid: Pid) -> Option<StagedSpec> {
    match Record::load(ctx, name) {
        Ok(Some(mut rec)) if rec.pid == Some(pid.get()) && rec.stopping => {
            rec.stopping = false;
            rec.stage_spec(ctx).ok()
        }
        _ => None,
    }
}

/// The cgroup `spec` asks for (SPEC §3.1), created with its limits: `None` with `--cgroup off`,
/// and with `auto` where rdaemon cannot have one (unless a limit needs it). `--cgroup on` or a
/// limit where it is impossible, or a limit whose controller is missing, is an error with the
/// reason (exit 1); the cgroup is then removed again.
fn prepare_cgroup(ctx: &Ctx, launch: &plan::Plan) -> Result<Option<Claimed>> {
    let limits = launch.has_limits();
    if launch.cgroup == CgroupMode::Off {
        if limits {
            bail!(Fail::usage(preflight::NO_LIMITS_WITHOUT_CGROUP));
        }
        return Ok(None);
    }
    let host = cgroup::Host::detect(ctx.is_root)
        .map_err(|e| anyhow::anyhow!("cannot read /proc/self/mountinfo: {}", os_reason(&e)))?;
    let parent = match cgroup::decide(&host, cgroup::is_delegated) {
        Ok(parent) => parent,
        // Silently, as SPEC §3.1 wants; `-v` says why (helper-122: a root shell on a systemd
        // host gets none, and nothing said so).
        Err(why) if launch.cgroup == CgroupMode::Auto && !limits => {
            ctx.debug(format!(
                "no cgroup for {} (--cgroup auto): {why}",
                launch.name
            ));
            return Ok(None);
        }
        Err(why) => bail!("cannot give {} a cgroup: {why}", launch.name),
    };
    // Cgroup paths are global: never share (or set limits on) another daemon's. An empty one
    // left by an earlier daemon of this name (from any directory) is made anew, so that it gets
    // a new id: the records that name the old one no longer match it.
    let leaf = ctx.cgroup_leaf(&launch.name);
    let claimed = match Cgroup::claim(&parent, &leaf) {
        Ok(claimed) => claimed,
        Err(_) if launch.cgroup == CgroupMode::Auto && !limits => None,
        Err(err) => return Err(err),
    };
    let Some(claimed) = claimed else {
        if launch.cgroup == CgroupMode::Auto && !limits {
            return Ok(None);
        }
        bail!(
            "cannot give {} a cgroup: '{}' is in use (another daemon of this name?)",
            launch.name,
            Cgroup::at(&parent, &leaf).path().display()
        );
    };
    if let Some(owner) = ctx.dir_identity() {
        claimed.mark(&owner);
    }
    let cg = &claimed.cgroup;
    let limited = (|| -> Result<()> {
        if let Some(bytes) = launch.memory_max {
            cg.set_memory_max(bytes)?;
        }
        if let Some(n) = launch.tasks_max {
            cg.set_pids_max(n)?;
        }
        Ok(())
    })();
    if let Err(err) = limited {
        if matches!(cg.populated(), Ok(false)) {
            let _ = cg.remove();
        }
        return Err(err);
    }
    Ok(Some(claimed))
}

/// How the running daemon's record differs from what `spec` asks for, said for the error of a
/// `start` that would otherwise do nothing (SPEC §2): `with another command: ...; use 'rdaemon
/// restart ...' to replace it, or another --name`, or `with other options (--nice, ...)`.
/// `None` when the spec is the same.
fn running_otherwise(ctx: &Ctx, spec: &Spec, rec: &Record) -> Option<String> {
    let running = Spec::from_record(ctx, rec).ok()?;
    let name = &spec.name;
    let next = "to replace it, or another --name";
    let differ = differing_options(&running, spec);
    if running.command != spec.command && !differ.is_empty() {
        // `restart NAME -- COMMAND` would keep the running options (a user's trial: the old
        // `--ready tcp:` kept, the new program never ready, the daemon left dead). Only a stop
        // and this start again replace both.
        return Some(format!(
            "with another command: {}, and other options ({}); use 'rdaemon stop {name}', then this start again, {next}",
            shell_join(&running.command),
            differ.join(", ")
        ));
    }
    if running.command != spec.command {
        let restart = format!("rdaemon restart {name} -- {}", shell_join(&spec.command));
        // Set off in quotes as SPEC §2 shows it, unless it holds quotes of its own (an argument
        // quoted for the shell): backquotes then, not 'a -g 'b c''.
        let quote = if restart.contains('\'') { '`' } else { '\'' };
        return Some(format!(
            "with another command: {}; use {quote}{restart}{quote} {next}",
            shell_join(&running.command),
        ));
    }
    (!differ.is_empty()).then(|| {
        format!(
            "with other options ({}); use 'rdaemon restart {name}' with the new options {next}",
            differ.join(", ")
        )
    })
}

/// The options of `start` on which `running` and `spec` differ, in the order of `start --help`,
/// each named once. Every field of [`Spec`] (and of [`Respawn`]) is named below, so that a new
/// launch setting cannot be forgotten here: the ones left out say nothing about what runs (the
/// name, where the spec came from) or never decide how it runs again (`--foreground`); the command is
/// compared by the caller.
pub(crate) fn differing_options(running: &Spec, spec: &Spec) -> Vec<&'static str> {
    let Spec {
        name: _,
        source: _,
        after: _,
        foreground: _,
        inherit_output: _,
        command: _,
        pidfile,
        chdir,
        umask,
        env,
        stdout,
        stderr,
        respawn,
        user,
        group,
        ready,
        ready_timeout,
        cgroup,
        memory_max,
        tasks_max,
        env_files,
        limits,
        nice,
        oom_score_adj,
        stop_signal,
        stop_timeout,
        reload_signal,
        forking,
        program_pidfile,
    } = running;
    let options = [
        (
            "--pidfile",
            *pidfile != spec.pidfile || *program_pidfile != spec.program_pidfile,
        ),
        ("--chdir", *chdir != spec.chdir),
        ("--umask", *umask != spec.umask),
        ("--env", *env != spec.env),
        ("--log", *stdout != spec.stdout || *stderr != spec.stderr),
        ("--user/--group", *user != spec.user || *group != spec.group),
        ("--ready", *ready != spec.ready),
        ("--ready-timeout", *ready_timeout != spec.ready_timeout),
    ];
    let rest = [
        ("--env-file", *env_files != spec.env_files),
        ("--limit", *limits != spec.limits),
        ("--nice", *nice != spec.nice),
        ("--oom-score-adj", *oom_score_adj != spec.oom_score_adj),
        ("--stop-signal", *stop_signal != spec.stop_signal),
        ("--stop-timeout", *stop_timeout != spec.stop_timeout),
        ("--reload-signal", *reload_signal != spec.reload_signal),
        ("--forking", *forking != spec.forking),
        ("--cgroup", *cgroup != spec.cgroup),
        ("--memory-max", *memory_max != spec.memory_max),
        ("--tasks-max", *tasks_max != spec.tasks_max),
    ];
    let named = |list: &[(&'static str, bool)]| -> Vec<&'static str> {
        list.iter()
            .filter(|(_, differs)| *differs)
            .map(|(option, _)| *option)
            .collect()
    };
    let mut differ = named(&options);
    differ.extend(differing_respawn(respawn.as_ref(), spec.respawn.as_ref()));
    differ.extend(named(&rest));
    differ
}

/// [`differing_options`] of respawn mode: `--respawn` when one runs supervised and the other
/// not, else the supervised options that differ (`--restart-window`, `--health`, ...).
fn differing_respawn(running: Option<&Respawn>, wanted: Option<&Respawn>) -> Vec<&'static str> {
    let (running, wanted) = match (running, wanted) {
        (None, None) => return Vec::new(),
        (Some(running), Some(wanted)) => (running, wanted),
        _ => return vec!["--respawn"],
    };
    let Respawn {
        restart_delay,
        max_restarts,
        restart_window,
        log_max_size,
        log_keep,
        restart,
        health,
        health_interval,
        health_retries,
        watchdog,
        on_exit,
        log_timestamps,
    } = running;
    [
        ("--restart-delay", *restart_delay != wanted.restart_delay),
        ("--max-restarts", *max_restarts != wanted.max_restarts),
        ("--restart-window", *restart_window != wanted.restart_window),
        ("--restart", *restart != wanted.restart),
        ("--log-max-size", *log_max_size != wanted.log_max_size),
        ("--log-keep", *log_keep != wanted.log_keep),
        ("--log-timestamps", *log_timestamps != wanted.log_timestamps),
        ("--health", *health != wanted.health),
        (
            "--health-interval",
            *health_interval != wanted.health_interval,
        ),
        ("--health-retries", *health_retries != wanted.health_retries),
        ("--watchdog", *watchdog != wanted.watchdog),
        ("--on-exit", *on_exit != wanted.on_exit),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(option, _)| option)
    .collect()
}

/// Waits for the respawn monitor's word on its first child. On success, records the child's pid
/// (the monitor cannot yet: this start holds the name's lock); on failure, makes sure the
/// monitor is gone before the caller removes its pidfile.
fn confirm_monitor(
    ctx: &Ctx,
    launch: &plan::Plan,
    monitor: Pid,
    report: OwnedFd,
    handoff: &mut Option<plan::Handoff>,
) -> Result<Pid> {
    match plan::await_first_child(report) {
        Ok((child, pipe)) => {
            *handoff = Some(pipe);
            ctx.debug(format!(
                "the monitor (pid {monitor}) started child pid {child}"
            ));
            if let Ok(Some(mut rec)) = Record::load(ctx, &launch.name) {
                if rec.pid == Some(monitor.get()) && rec.child_pid.is_none() {
                    rec.child_pid = Some(child);
                    // With its start time, read while it is the monitor's child: a monitor
                    // killed before its own first save otherwise left a `child_pid` that a
                    // process given the number later passed for (helper-95's review).
                    rec.child_start_time = Pid::new(child)
                        .ok()
                        .and_then(process::read_stat)
                        .filter(|s| s.is_alive() && s.ppid == monitor.get())
                        .map(|s| s.start_time);
                    rec.save(ctx)?;
                }
            }
            Ok(monitor)
        }
        Err(err) => {
            // `--forking`: the monitor's report says how the launch failed; the log says more.
            let err = match launch.forking {
                Some(_) => anyhow::anyhow!(
                    "cannot start {}: {}{}",
                    launch.name,
                    crate::exit::render(&err),
                    log_tail(launch, TAIL_LINES)
                ),
                None => err,
            };
            // The monitor exits by itself after reporting; this is rdaemon's own child (start is
            // its subreaper), so the pid cannot have been reused.
            if let Ok(p) = process::Process::open(monitor) {
                if !p
                    .wait_exit(std::time::Duration::from_secs(5))
                    .unwrap_or(false)
                {
                    let _ = p.signal(nix::sys::signal::Signal::SIGKILL);
                    let _ = p.wait_exit(std::time::Duration::from_secs(5));
                }
            }
            Err(err)
        }
    }
}

/// Waits until the freshly started daemon (in supervised mode: its monitor) is ready. If it dies
/// first, fails at once with how it ended; if it reports failure or is not ready in time, stops
/// it with `stop`'s schedule. Either way the pidfile goes (unless the program refused to die),
/// the record stays (for `logs`, `status`, `restart`), and the error shows the end of the log.
///
/// In supervised mode (`handoff`: this start's end of the monitor's report pipe) the program is
/// the monitor's first child, which the monitor does not restart before the handoff: should it
/// end during the wait, the monitor says how on the pipe, and `start` fails at once as in exec
/// mode, stopping the monitor and whatever the program left as a timeout does (SPEC §2.1).
fn await_ready(
    ctx: &Ctx,
    launch: &plan::Plan,
    pid: Pid,
    check: &mut Check,
    handoff: Option<&mut plan::Handoff>,
    interrupt: Option<Result<Interrupt>>,
) -> Result<Code> {
    let name = &launch.name;
    let supervised = handoff.is_some();
    let process = match Process::open(pid) {
        Ok(p) => p,
        Err(e) => {
            let _ = pidfile::remove_if_pid(&launch.pidfile, pid);
            return Err(e).with_context(|| format!("cannot wait for {name} (pid {pid})"));
        }
    };
    // Ctrl-C (or SIGTERM, SIGHUP) now must not leave a half-started daemon "started": the wait
    // ends and the daemon is stopped as on a timeout (SPEC §2.1).
    match interrupt.unwrap_or_else(Interrupt::catch) {
        Ok(interrupt) => check.end_on_interrupt(interrupt),
        Err(e) => ctx.warn(format!("{e:#}; Ctrl-C will not stop {name}")),
    }
    let mut spinner = Spinner::new(ctx, format!("waiting for {name}: {}", launch.ready));
    if !matches!(launch.ready, ReadySpec::Alive(_)) {
        spinner.set_limit(launch.ready_timeout);
    }
    let watched = handoff.as_deref().map(plan::Handoff::watch).transpose();
    let outcome = watched
        .and_then(|report| {
            if let Some(report) = report {
                check.end_on_report(report);
            }
            check.wait(&process, launch.ready_timeout, &mut spinner)
        })
        .unwrap_or_else(|e| Outcome::Failed(crate::exit::render(&e)));
    spinner.finish();
    // A `MAINPID=` heard here, in supervised mode: the monitor keeps it once handed the
    // status, as one it hears itself (only a descendant's, with its start time).
    let main_pid = check.main_pid().filter(|_| supervised).and_then(|n| {
        let start = crate::process::descendant_start(pid.get(), n);
        if start.is_none() {
            ctx.warn(format!(
                "{name}: ignored MAINPID={n}: not a process of this daemon"
            ));
        }
        Some(n).zip(start)
    });
    if check.status_text().is_some() || main_pid.is_some() {
        save_notified(ctx, name, pid, check.status_text(), main_pid);
    }
    let what = launch.ready.describe();
    let mut interrupted = None;
    // The daemon is stopped because the program ended: the message says how it ended, not
    // that rdaemon stopped it.
    let mut ended_anyway = false;
    // And it ended with status 0: without `--forking`, what it left behind may be the program
    // itself, put in the background (`redis-server --daemonize yes`), and the message says so.
    let mut exited_0 = false;
    let (reason, stopped) = match outcome {
        Outcome::Ready => {
            ctx.say(format!("started {name} (pid {pid})"));
            return Ok(Code::Ok);
        }
        Outcome::Exited => match handoff.and_then(plan::Handoff::program_ended) {
            // The monitor's first child, which the monitor holds back from restarting: the
            // monitor goes, and with it whatever the program left.
            Some(ended) => {
                ended_anyway = true;
                exited_0 = ended == Ended::Code(0);
                (
                    format!(
                        "{} while rdaemon waited for {what}",
                        how_it_ended("the program", ended)
                    ),
                    stop_unready(ctx, launch, &process),
                )
            }
            None => {
                // In supervised mode the pid is the monitor's, which exited by itself.
                let who = match launch.respawn {
                    Some(_) => "the monitor",
                    None => "the program",
                };
                let how = match process.reap() {
                    Some(ended) => {
                        exited_0 = launch.respawn.is_none() && ended == Ended::Code(0);
                        how_it_ended(who, ended)
                    }
                    None => format!("{who} exited"),
                };
                // What it forked lives on in its session and cgroup (a server that daemonized
                // itself, a background job), and, re-parented to this `start`, its child
                // subreaper, whatever left the session: no half-started daemon (SPEC §2.1,
                // §3.1).
                ended_anyway = true;
                let target = unready_target(ctx, launch, pid);
                let escaped = hold_orphans(&target, &launch.ready);
                (
                    format!("{how} while rdaemon waited for {what}"),
                    stop_left_behind(ctx, launch, &target, escaped),
                )
            }
        },
        Outcome::Failed(why) => (why, stop_unready(ctx, launch, &process)),
        Outcome::Interrupted(sig) => {
            interrupted = Some(sig);
            (
                format!(
                    "interrupted by {} while rdaemon waited for {what}",
                    sig.as_str()
                ),
                stop_unready(ctx, launch, &process),
            )
        }
        Outcome::TimedOut(waited) => {
            let mut why = format!(
                "it was not ready after {} (rdaemon waited for {what})",
                format_duration(Duration::from_millis(waited.as_millis() as u64))
            );
            if let Some(first) = check.ignored().first() {
                why.push_str(&format!("; rdaemon ignored {first}"));
            }
            if let Some(path) = check.notify_unheard() {
                why.push_str(&format!(
                    "; nothing at all reached it ({path}): the program must send READY=1 to $NOTIFY_SOCKET (sd_notify), within --ready-timeout; one in a mount namespace or chroot of its own must have it bind-mounted in"
                ));
            }
            if let Some((path, uid)) = check.file_of_stranger() {
                why.push_str(&format!(
                    "; '{}' is owned by uid {uid}, neither root nor the daemon's user, and does not count",
                    path.display()
                ));
            }
            if let Some(path) = check.file_there_before() {
                why.push_str(&format!(
                    "; '{}' was there before the start, and a file already there does not count: remove it before starting, or have the program replace it",
                    path.display()
                ));
            }
            (why, stop_unready(ctx, launch, &process))
        }
    };
    note_start_failed(ctx, name, pid, &reason);
    let mut message = format!("cannot start {name}: {reason}");
    match stopped {
        Ok(left) => {
            let _ = pidfile::remove_if_pid(&launch.pidfile, pid);
            let counted = crate::parse::counted(left as u64, "process", "processes");
            let hint = match exited_0 && launch.forking.is_none() {
                true => format!(" ({})", crate::forking::background_hint("it")),
                false => String::new(),
            };
            message.push_str(&match (ended_anyway, left) {
                (true, 0) => String::new(),
                (true, _) => format!("; stopped {counted} it left behind{hint}"),
                (false, 0) => format!("; stopped it (pid {pid})"),
                (false, _) => format!("; stopped it (pid {pid}) and {counted} it left behind"),
            });
        }
        Err(e) if ended_anyway => {
            let _ = pidfile::remove_if_pid(&launch.pidfile, pid);
            message.push_str(&format!(
                "; and what it left behind could not be stopped: {}",
                crate::exit::render(&e)
            ));
        }
        Err(e) => message.push_str(&format!(
            "; and it could not be stopped: {}",
            crate::exit::render(&e)
        )),
    }
    if let Some(text) = check.status_text() {
        message.push_str(&format!("\nits last STATUS= was: {}", printable(text)));
    }
    if let Some(sig) = interrupted {
        // What the user asked for, not the program's fault: no log tail.
        return Err(Fail::interrupted(sig, message).into());
    }
    message.push_str(&log_tail(launch, TAIL_LINES));
    Err(anyhow::anyhow!(message))
}

/// `the program exited with status 3`, `the program was killed by signal 9 (SIGKILL)`.
fn how_it_ended(who: &str, ended: Ended) -> String {
    match ended {
        Ended::Code(_) => format!("{who} {ended}"),
        Ended::Signal(..) => format!("{who} was {ended}"),
    }
}

/// Keeps in the status why this start failed once its program ran, for `status`: a `restart`
/// whose new program failed leaves the daemon wanted running and `dead`, which said "killed,
/// crashed, or the machine rebooted" (helper-101's trial).
fn note_start_failed(ctx: &Ctx, name: &Name, pid: Pid, why: &str) {
    match crate::state::Status::load(ctx, name) {
        Ok(Some(mut status)) if status.pid == Some(pid.get()) => {
            status.start_failed = Some(why.to_owned());
            if let Err(e) = status.save(ctx, name) {
                ctx.warn(crate::exit::render(&e));
            }
        }
        Ok(_) => {}
        Err(e) => ctx.warn(crate::exit::render(&e)),
    }
}

/// Keeps what the program said over the notify socket while `start` waited in the record, for
/// `status`: its last `STATUS=` text, and its `MAINPID=` (a pid and its start time), which the
/// respawn monitor takes up when it is handed the status. The record is read again: in
/// supervised mode `start` has added the child's pid to it since the spawn.
fn save_notified(
    ctx: &Ctx,
    name: &Name,
    pid: Pid,
    text: Option<&str>,
    main_pid: Option<(i32, u64)>,
) {
    match Record::load(ctx, name) {
        Ok(Some(mut rec)) if rec.pid == Some(pid.get()) => {
            if let Some(text) = text {
                rec.status_text = Some(text.to_owned());
            }
            if let Some((main, start)) = main_pid {
                rec.notify.main_pid = Some(main);
                rec.notify.main_pid_start = Some(start);
            }
            if let Err(e) = rec.status().save(ctx, name) {
                ctx.warn(crate::exit::render(&e));
            }
        }
        Ok(_) => {}
        Err(e) => ctx.warn(crate::exit::render(&e)),
    }
}

/// The daemon `start` launched as `pid`, as its record describes it (its session and cgroup).
fn unready_target(ctx: &Ctx, launch: &plan::Plan, pid: Pid) -> Target {
    let record = Record::load(ctx, &launch.name)
        .ok()
        .flatten()
        .filter(|rec| rec.pid == Some(pid.get()));
    Target {
        name: Some(launch.name.clone()),
        pidfile: launch.pidfile.clone(),
        record,
        record_error: None,
    }
}

/// Once the daemon's main process (in supervised mode its monitor) is gone: what the program
/// left in its session and its cgroup (SPEC §3.1), and what `escaped` holds (a monitor's
/// adopted descendants), stopped as `stop` would (its stop signal, its stop timeout, KILL),
/// and the cgroup goes. How many processes that was.
fn stop_left_behind(
    ctx: &Ctx,
    launch: &plan::Plan,
    target: &Target,
    escaped: Vec<Held>,
) -> Result<usize> {
    let schedule = default_schedule(launch.stop_signal, launch.stop_timeout, false);
    super::stop::stop_remains(ctx, target, &schedule, escaped)
}

/// What the daemon of `target`, whose program exited or was not ready in time, left outside its
/// session that was re-parented to this `start` (its child subreaper): held by pidfd for the
/// sweep, as `stop` holds what escaped a live main process. Nothing where the daemon has a
/// cgroup, which holds all of it, nor where an earlier daemon of the same command descends from
/// this process ([`crate::forking::launched_alone`]) or a `--ready cmd:` command ran: their
/// orphans would be re-parented here too.
fn hold_orphans(target: &Target, ready: &ReadySpec) -> Vec<Held> {
    let Some(rec) = target.record.as_ref() else {
        return Vec::new();
    };
    // A `--ready cmd:` command is `start`'s own child: what it detached (an agent it launched)
    // is re-parented here too, in a session of its own, as the daemon's would be.
    // Without the session rdaemon made for it, "outside its session" would say nothing.
    let Some(sid) = rec.session else {
        return Vec::new();
    };
    if Cgroup::of_record(rec).is_some_and(|cg| cg.exists())
        || !crate::forking::launched_alone()
        || matches!(ready, ReadySpec::Cmd(_))
    {
        return Vec::new();
    }
    // Its processes are in its session or in ones they made: never in this `start`'s, where
    // its own helpers are (the `cat` a readiness wait may leave to close its inotify).
    let own = process::own_session().ok();
    // And none of them was forked before its main process.
    crate::session::hold(crate::forking::launch_left().into_iter().filter(|e| {
        e.stat.session != sid
            && Some(e.stat.session) != own
            && rec.start_time.is_none_or(|t| e.stat.start_time >= t)
    }))
}

/// Stops a daemon that did not become ready, as `stop` would: its stop signal to its group, its
/// stop timeout, KILL, 5 s, and it is reaped; then what it left in its session and its cgroup
/// (SPEC §3.1), and the cgroup goes. How many processes it left behind.
fn stop_unready(ctx: &Ctx, launch: &plan::Plan, process: &Process) -> Result<usize> {
    let pid = process.pid();
    let schedule = default_schedule(launch.stop_signal, launch.stop_timeout, false);
    let target = unready_target(ctx, launch, pid);
    let soft_to_main = launch.respawn.is_some();
    // What escaped its session, held by pidfd before the daemon goes: beneath it, and what a
    // double fork already re-parented to this `start`.
    let mut escaped = match (&target.record, process::read_stat(pid)) {
        (Some(rec), Some(stat)) => {
            let session = Session::of(rec).ok().flatten();
            super::stop::hold_escaped(&target, process, stat.start_time, session.as_ref())
        }
        _ => Vec::new(),
    };
    for orphan in hold_orphans(&target, &launch.ready) {
        if !escaped.iter().any(|h| h.live_pid() == orphan.live_pid()) {
            escaped.push(orphan);
        }
    }
    let mut spinner = Spinner::new(ctx, format!("stopping {} (pid {pid})", launch.name));
    let aim = Aim {
        group: process.own_group(),
        soft_to_main,
    };
    match run_schedule_with(process, aim, &schedule, &mut spinner) {
        Ok(true) => {
            process.reap();
        }
        Ok(false) => bail!("pid {pid} is still running after SIGKILL"),
        Err(e) => bail!("cannot signal pid {pid}: {}", e.desc()),
    }
    spinner.finish();
    stop_left_behind(ctx, launch, &target, escaped)
}

/// The last lines of the daemon's log file(s), each under a `==> PATH <==` header, for an error
/// message; their control characters shown escaped ([`printable`]).
fn log_tail(launch: &plan::Plan, lines: usize) -> String {
    let mut out = String::new();
    let mut seen: Vec<&Path> = Vec::new();
    // A `log:` wait that saw nothing: the usual cause is a program that holds its output in a
    // buffer when it is not a terminal (helper-101's trial, Python without -u).
    let hint = match launch.ready {
        ReadySpec::Log(_) => {
            ": a program whose output is not a terminal may keep it in a buffer (python3 -u, stdbuf -oL)"
        }
        _ => "",
    };
    for path in [launch.stdout.as_path(), launch.stderr.as_path()] {
        if seen.contains(&path) || path == Path::new("/dev/null") || !path.is_absolute() {
            continue;
        }
        seen.push(path);
        let mark = launch
            .log_marks
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m);
        match logs::tail_text_since(path, lines, mark) {
            Ok(text) => {
                out.push_str(&format!("\n==> {} <==", path.display()));
                // The daemon's lines, shown, never obeyed by the terminal.
                for line in text.lines() {
                    out.push('\n');
                    out.push_str(&printable(&logs::quoted(line)));
                }
            }
            Err(()) if mark.is_some_and(|m| m.len > 0) => out.push_str(&format!(
                "\n(nothing was written to the log '{}' by this start{hint})",
                path.display()
            )),
            Err(()) => out.push_str(&format!("\n(the log '{}' is empty{hint})", path.display())),
        }
    }
    out
}

/// `start --foreground`: writes the pidfile and record with rdaemon's own pid, then execs the
/// program in place. Returns only if the exec failed, after removing both again.
fn start_in_place(
    ctx: &Ctx,
    spec: &Spec,
    old: Option<Record>,
    launch: &plan::Plan,
    stale: Vec<Stale>,
) -> Result<Code> {
    // `new_logs` removes the log files this created if the exec fails; after an exec nothing
    // of rdaemon is left to drop it.
    let (plan, _, _new_logs) = prepare(ctx, &mut launch.clone(), None)?;
    replace_stale(ctx, spec, stale)?;
    let writer = PidfileWriter::prepare(&spec.pidfile, launch.account.as_ref().map(|a| &a.creds))?;
    let boot_id = process::boot_id().context("cannot read the boot id")?;
    let pid = Pid::own_for_foreground();
    let start_time = process::read_stat(pid)
        .map(|s| s.start_time)
        .context("cannot read /proc/self/stat")?;
    let undo = |old: Option<Record>| {
        // The pidfile names rdaemon itself, which `remove_if_pid` would rightly refuse to match.
        let _ = pidfile::remove(&spec.pidfile);
        let _ = match old {
            Some(rec) => rec.save(ctx),
            None => Record::remove(ctx, &spec.name),
        };
    };
    // The record before the pidfile, as in a detached start; wanted running, since nothing of
    // rdaemon is left after the exec to say so.
    let mut record = spec.record(pid, start_time, &boot_id);
    record.pidfs = Pidfs::open(pid, start_time);
    record.stopping = false;
    record.save(ctx)?;
    if let Err(e) = writer.commit(pid) {
        undo(old);
        return Err(e);
    }
    ctx.debug(format!(
        "executing {} in place as {} (pid {pid})",
        plan.display, spec.name
    ));
    let _ = io::stdout().flush();
    let err = match daemonize::exec_in_place(&plan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    undo(old);
    Err(err)
}

/// What fd `fd` of rdaemon is, as `/proc/self/fd` shows it (`/dev/pts/0`, `pipe:[1234]`);
/// `/dev/null` for a closed one, which the daemon then gets instead.
fn inherited_stream(fd: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_else(|_| "/dev/null".into())
}

/// What a pidfile holds before a start.
enum Found {
    /// No pidfile.
    Nothing,
    /// The daemon, verifiably running.
    Running(Pid),
    /// The daemon, verifiably running, and rdaemon's parent or another ancestor: this start
    /// runs inside it ([`Main::Caller`]).
    Caller(i32),
    /// A stale or invalid pidfile, replaced once the start has passed its checks.
    Stale(Stale),
}

/// A stale or invalid pidfile found before a start, and why it is one.
struct Stale {
    path: PathBuf,
    why: String,
    /// Said as a warning (garbage, another program's pid), not only with `-v` (a dead pid).
    warn: bool,
}

/// Fails when `target`'s pidfile names another daemon's running process (two specs given the
/// same `--pidfile`): that process is the other daemon, whether the pidfile alone would pass it
/// for this one (same program) or for a stale one to replace. Only a pidfile naming a live pid
/// that this daemon's own record (`old`) does not name costs a look at the other records.
fn refuse_anothers_pidfile(ctx: &Ctx, target: &Target, old: Option<&Record>) -> Result<()> {
    let Content::Valid { pid, .. } = pidfile::read(&target.pidfile, ctx.is_root) else {
        return Ok(());
    };
    if old.is_some_and(|r| r.pid == Some(pid.get())) || !matches!(process::alive(pid), Ok(true)) {
        return Ok(());
    }
    let Some(name) = target.name.as_ref() else {
        return Ok(());
    };
    // This daemon running (a respawn monitor whose program's pidfile names the program): its
    // own; the other records are read only for one that does not run.
    if crate::target::alive_by_status(ctx, name)?.is_some() {
        return Ok(());
    }
    let Some(other) = crate::target::owner_of(ctx, target, pid)? else {
        return Ok(());
    };
    bail!(
        "cannot start {}: pidfile '{}' is that of daemon {other}, which runs as pid {pid}; give {} a --pidfile of its own",
        target.label(),
        target.pidfile.display(),
        target.label()
    );
}

/// Looks at one pidfile before a start: the pid if the daemon verifiably runs, else whether the
/// pidfile is stale or invalid. Changes nothing, never signals anything. For a `respawn` spec,
/// a process that only the pidfile names (running `program`, but vouched for by no record) is
/// no monitor: "already running" would promise a supervision nothing gives, so the start
/// fails, naming it.
fn look_at_pidfile(ctx: &Ctx, target: &Target, program: &Path, respawn: bool) -> Result<Found> {
    let judged = judge(ctx, target).with_context(|| format!("cannot start {}", target.label()))?;
    let (why, warn) = match judged {
        Main::NoPidfile => return Ok(Found::Nothing),
        // Judged by its pidfd, which says a process has ended only once every thread of it is
        // collected: `/proc` tells one whose exited threads a tracer still holds, which no
        // longer runs (helper-87: `stop` had said it stopped, and `start` then said "already
        // running" and started nothing). One `/proc` read, only where the daemon runs.
        Main::Alive {
            pid,
            vouched: Vouch::Record,
            ..
        } if process::stat(pid)
            .ok()
            .flatten()
            .is_some_and(|s| !s.is_alive()) =>
        {
            (
                format!("pid {pid} has ended (a tracer still holds its exited threads)"),
                false,
            )
        }
        Main::Alive {
            pid,
            vouched: Vouch::Record,
            ..
        } => return Ok(Found::Running(pid)),
        Main::Alive {
            pid,
            vouched: Vouch::OrphanedChild,
            ..
        } => {
            if respawn {
                let name = target.label();
                bail!(
                    "cannot start {name}: its monitor is gone, and its program (pid {pid}, {}) runs on unsupervised: stop it ('rdaemon stop {name}'), then start it again",
                    crate::sockets::comm(pid.get())
                );
            }
            return Ok(Found::Running(pid));
        }
        Main::Alive {
            pid,
            vouched: Vouch::Pidfile,
            ..
        } => {
            let same = process::exe(pid)
                .zip(program.canonicalize().ok())
                .is_some_and(|(a, b)| a == b);
            if same && respawn {
                let name = target.label();
                bail!(
                    "cannot start {name}: pidfile '{}' names pid {pid} ({}), which no monitor of {name} supervises (rdaemon did not start it, or its monitor was killed): stop it ('rdaemon stop {name}'), or remove the pidfile",
                    target.pidfile.display(),
                    crate::sockets::comm(pid.get())
                );
            }
            if same {
                return Ok(Found::Running(pid));
            }
            // Named, so that a pidfile of another service given by mistake is seen (user
            // trial, 2026-12-03); stale all the same (SPEC §2: a pid now used by another
            // process), and the program writes its own anew.
            let why = format!(
                "pidfile '{}' names pid {pid} ({}), which is not {}",
                target.pidfile.display(),
                crate::sockets::comm(pid.get()),
                target.label()
            );
            (why, true)
        }
        Main::Gone { why, .. } => (why, false),
        Main::Untrusted { why } => (why, true),
        Main::Caller { pid, .. } => return Ok(Found::Caller(pid)),
    };
    // Lines of text beyond a pidfile's size are no stale pidfile but most likely a mistyped
    // --pidfile naming some other file: never replaced, nor removed by a later stop.
    if let Some(len) = pidfile::other_file_at(&target.pidfile) {
        bail!(
            "refusing to replace '{}': it holds {len} bytes in several lines, which is not a pidfile (a pid and a newline); remove it if it is one, or give another --pidfile",
            target.pidfile.display()
        );
    }
    Ok(Found::Stale(Stale {
        path: target.pidfile.clone(),
        why,
        warn,
    }))
}

/// Removes the stale pidfiles a start found, saying why, once everything that could fail the
/// start on bad input (user, chdir, logs, env files, limits, cgroup) has been checked. The
/// safety rules are [`pidfile::remove`]'s: a regular file only, never a symlink's target.
/// `spec`'s own pidfile, with `--forking --pidfile`, is the program's, which rdaemon only
/// removes: the program writes it anew (`nginx -t` leaves one empty).
fn replace_stale(ctx: &Ctx, spec: &Spec, stale: Vec<Stale>) -> Result<()> {
    let programs = (spec.forking && spec.program_pidfile).then_some(spec.pidfile.as_path());
    for Stale { path, why, warn } in stale {
        let program_writes = programs == Some(path.as_path());
        // The program's own pidfile, empty: what `nginx -t`, run before every restart, leaves
        // (user trial, 2026-12-04: a warning at each start after it was noise). Said with -v.
        let routine = program_writes
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0);
        // Removed first: a file that cannot be removed is one error line, not a warning that
        // it is being replaced followed by the error.
        pidfile::remove(&path)?;
        let what = match program_writes {
            true => "removing it (the program writes it)",
            false => "replacing it",
        };
        match warn {
            true if routine => ctx.debug(format!("{why}; {what}")),
            true => ctx.warn(format!("{why}; {what}")),
            false => ctx.debug(format!(
                "removing stale pidfile '{}': {why}",
                path.display()
            )),
        }
    }
    Ok(())
}

/// Makes the pidfile of a daemon that its record identifies name it again, owned by rdaemon,
/// when it does not (the daemon removed or replaced it): SPEC §2, the status wins over the
/// pidfile. A failure is only a warning: the daemon runs either way.
fn restore_pidfile(ctx: &Ctx, path: &Path, pid: Pid, creds: Option<&Credentials>) {
    if matches!(pidfile::read(path, ctx.is_root), Content::Valid { pid: p, .. } if p == pid) {
        return;
    }
    ctx.debug(format!(
        "rewriting pidfile '{}' with pid {pid}",
        path.display()
    ));
    if let Err(e) = PidfileWriter::prepare(path, creds).and_then(|w| w.commit(pid)) {
        ctx.warn(format!("{e:#}"));
    }
}

/// Checks and opens everything the launch plan `launch` needs, so that failures show here, on
/// the terminal. In respawn mode the plan runs the monitor (this very executable, `__monitor`)
/// and comes with the read end of the pipe on which the monitor reports its first child; the
/// monitor stays root (it writes the status) and drops privileges for the child only. Log files
/// this creates are removed again if the start fails (see [`NewFiles`]). `check` gives the
/// `NOTIFY_SOCKET` of `--ready notify` (a detached daemon never inherits rdaemon's own: it would
/// report to rdaemon's supervisor; a `--foreground` one does), added to `launch`'s environment,
/// and learns what a `cmd:` check runs with.
fn prepare(
    ctx: &Ctx,
    launch: &mut plan::Plan,
    mut check: Option<&mut Check>,
) -> Result<(daemonize::Plan, Option<OwnedFd>, NewFiles)> {
    preflight::check_chdir(&launch.chdir, launch.account.as_ref())?;
    let default_log = ctx.default_log_path(&launch.name);
    if !launch.inherit_output && (launch.stdout == default_log || launch.stderr == default_log) {
        if let Some(dir) = default_log.parent() {
            create_dir(dir, 0o755)
                .with_context(|| format!("cannot create log directory '{}'", dir.display()))?;
        }
    }
    ensure_space(&ctx.dir, "rdaemon directory")?;
    if let Some(dir) = launch.pidfile.parent() {
        ensure_space(dir, "pidfile directory")?;
    }
    // Read and write: it may stand for stdout and stderr too (a program writing there gets its
    // output thrown away, not EBADF).
    let null = || -> Result<OwnedFd> {
        Ok(std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .context("cannot open /dev/null")?
            .into())
    };
    // `--foreground` keeps rdaemon's streams (a closed one becomes /dev/null), but for another
    // user not a terminal (the caller's): with its controlling terminal given up before the
    // exec, a background child the program leaves could read it free of job control (what
    // root types next into its shell; review, 2026-12-02), and claim it once a session leader
    // gave it up. It gets /dev/null, with a warning.
    let other_user = launch
        .account
        .as_ref()
        .is_some_and(|a| a.creds.uid != crate::process::real_uid_of_self());
    let mut kept_from: Vec<&str> = Vec::new();
    let mut inherit = |fd: std::os::fd::BorrowedFd<'_>, what: &'static str| {
        if other_user && crate::fsx::is_terminal(fd) {
            kept_from.push(what);
            return null();
        }
        match fd.try_clone_to_owned() {
            Ok(fd) => Ok(fd),
            Err(_) => null(),
        }
    };
    let stdin = if launch.foreground {
        inherit(io::stdin().as_fd(), "standard input")?
    } else {
        null()?
    };
    let mut new_logs = NewFiles::default();
    let (stdout, stderr) = if launch.inherit_output {
        (
            inherit(io::stdout().as_fd(), "standard output")?,
            Some(inherit(io::stderr().as_fd(), "standard error")?),
        )
    } else {
        let creds = launch.account.as_ref().map(|a| &a.creds);
        let stdout = open_log(&launch.stdout, &mut new_logs, creds, launch.umask)?;
        let stderr = if launch.stderr == launch.stdout {
            None
        } else {
            Some(open_log(
                &launch.stderr,
                &mut new_logs,
                creds,
                launch.umask,
            )?)
        };
        (stdout, stderr)
    };
    if !kept_from.is_empty() {
        ctx.warn(format!(
            "{} runs as another user, who must not read or write the caller's terminal: its {} {} /dev/null instead (use --log, or redirect {})",
            launch.name,
            kept_from.join(", "),
            if kept_from.len() == 1 { "is" } else { "are" },
            if kept_from.len() == 1 { "it" } else { "them" },
        ));
    }
    if let Some(address) = check.as_ref().and_then(|c| c.notify_socket()) {
        launch.env.insert("NOTIFY_SOCKET".into(), address.into());
        launch
            .monitor_env
            .insert("NOTIFY_SOCKET".into(), address.into());
    }
    if let Some(check) = check.as_mut() {
        check.run_as(
            &launch.env,
            &launch.chdir,
            launch.account.as_ref().map(|a| &a.creds),
        );
    }
    if launch.respawn.is_none() {
        let plan = launch.exec(stdin, stdout, stderr)?;
        return Ok((plan, None, new_logs));
    }
    // Resolved now: the grandchild must exec exactly the binary that runs this start.
    let exe = std::env::current_exe()
        .ok()
        .filter(|p| p.is_file())
        .context(
            "cannot find rdaemon's own executable to run the monitor (was it replaced or deleted?)",
        )?;
    let (report_r, report_w) = crate::fsx::cloexec_pipe()?;
    let report_w = above_stdio(report_w)?;
    // With `--ready notify` the monitor keeps the notify socket for the program's whole life
    // (SPEC §6): it gets a copy, and reads it only once this start has returned.
    let notify = check
        .as_ref()
        .and_then(|c| c.notify_fd())
        .map(|fd| {
            fd.try_clone_to_owned()
                .context("cannot pass on the notify socket")
        })
        .transpose()?
        .map(above_stdio)
        .transpose()?;
    if let Some(check) = check.as_mut().filter(|_| notify.is_some()) {
        check.hand_over_notify_socket();
    }
    let mut argv: Vec<OsString> = vec![
        exe.clone().into(),
        "__monitor".into(),
        "--dir".into(),
        ctx.dir.clone().into(),
        "--runtime-dir".into(),
        ctx.runtime.clone().into(),
        "--report-fd".into(),
        std::os::fd::AsRawFd::as_raw_fd(&report_w)
            .to_string()
            .into(),
        launch.name.as_str().into(),
    ];
    if let Some(fd) = &notify {
        argv.splice(
            argv.len() - 1..argv.len() - 1,
            [
                "--notify-fd".into(),
                std::os::fd::AsRawFd::as_raw_fd(fd).to_string().into(),
            ],
        );
    }
    // The monitor runs with the daemon's environment but the env files' variables (it makes
    // the same plan from the spec, and reads the files again before each start of its child),
    // works from `/` (the child changes to the daemon's directory itself) and writes its own
    // messages to the daemon's stderr.
    let plan = daemonize::Plan::new(
        exe.as_os_str(),
        &argv,
        &launch.monitor_env,
        "/".as_ref(),
        launch.umask,
        stdin,
        stdout,
        stderr,
        None,
    )?
    .inherit(report_w)?;
    let plan = match notify {
        Some(fd) => plan.inherit(fd)?,
        None => plan,
    };
    Ok((plan, Some(report_r), new_logs))
}

/// Files a failed start created and must not leave behind. Dropped, it removes each one that is
/// still empty (nothing ran, so nothing was written), with the rights it was created with;
/// [`NewFiles::keep`] keeps them.
#[derive(Debug, Default)]
struct NewFiles(Vec<(PathBuf, Option<Rights>)>);

impl NewFiles {
    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for NewFiles {
    fn drop(&mut self) {
        for (path, rights) in &self.0 {
            let Ok((dir, name)) = Dir::open_parent(path) else {
                continue;
            };
            let _ = fsx::with_rights(*rights, || {
                let empty = dir.stat(&name)?.is_some_and(|st| {
                    st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG && st.st_size == 0
                });
                if empty {
                    dir.unlink(&name)?;
                }
                Ok(())
            });
        }
    }
}

/// Opens a log file for appending (created 0644 narrowed by the daemon's umask:
/// [`fsx::log_mode`]), close-on-exec in rdaemon; remembers it in
/// `new` if this created it. A regular file on a full file system is refused: the daemon's
/// output would be lost without a word. Opened the safe way (`fsx`): its directory without
/// following another user's symlinks, the file with `O_NOFOLLOW | O_NONBLOCK`, checked with
/// `fstat` (a regular file with one link, owned by root or the daemon's user, no set-id bits; or
/// a character device such as `/dev/null`), and, in a directory the daemon's user can write,
/// with that user's rights.
fn open_log(
    path: &Path,
    new: &mut NewFiles,
    creds: Option<&Credentials>,
    umask: u32,
) -> Result<OwnedFd> {
    ensure_space(path, "log file")?;
    let (dir, name) = Dir::open_parent(path)
        .with_context(|| format!("cannot open log file '{}'", path.display()))?;
    let rights = Rights::for_dir(&dir, creds);
    let (file, created) = fsx::open_log(
        &dir,
        &name,
        rights,
        creds.map(|c| c.uid),
        false,
        fsx::log_mode(umask),
    )?;
    if created {
        new.0.push((path.to_owned(), rights));
    }
    Ok(OwnedFd::from(file))
}
#[cfg(test)]
mod tests {
    use super::*;

    /// What `start` names when the running daemon's spec differs: the options that differ, the
    /// supervised ones too, never `--respawn` when both run supervised.
    #[test]
    fn the_options_named_are_the_ones_that_differ() {
        let plain = Spec::default();
        assert_eq!(differing_options(&plain, &plain), Vec::<&str>::new());
        let supervised = Spec {
            respawn: Some(Respawn::default()),
            ..Spec::default()
        };
        assert_eq!(differing_options(&plain, &supervised), ["--respawn"]);
        assert_eq!(differing_options(&supervised, &plain), ["--respawn"]);
        let with = |change: fn(&mut Respawn)| {
            let mut respawn = Respawn::default();
            change(&mut respawn);
            Spec {
                respawn: Some(respawn),
                ..Spec::default()
            }
        };
        // The tester's case: --restart-window 0 running, the default asked for.
        let window = with(|r| r.restart_window = Duration::ZERO);
        assert_eq!(
            differing_options(&window, &supervised),
            ["--restart-window"]
        );
        /// A change to the respawn defaults, and the option it is said to be.
        type Case = (fn(&mut Respawn), &'static str);
        let cases: [Case; 12] = [
            (
                |r| r.restart_delay = Duration::from_secs(7),
                "--restart-delay",
            ),
            (|r| r.max_restarts = 0, "--max-restarts"),
            (
                |r| r.restart_window = Duration::from_secs(7),
                "--restart-window",
            ),
            (
                |r| r.restart = crate::state::RestartPolicy::OnFailure,
                "--restart",
            ),
            (|r| r.log_max_size = Some(1 << 20), "--log-max-size"),
            (|r| r.log_keep = 9, "--log-keep"),
            (|r| r.log_timestamps = true, "--log-timestamps"),
            (|r| r.health = Some("tcp:127.0.0.1:80".into()), "--health"),
            (
                |r| r.health_interval = Duration::from_secs(7),
                "--health-interval",
            ),
            (|r| r.health_retries = 9, "--health-retries"),
            (|r| r.watchdog = Some(Duration::from_secs(7)), "--watchdog"),
            (|r| r.on_exit = Some("true".into()), "--on-exit"),
        ];
        for (change, option) in cases {
            assert_eq!(differing_options(&with(change), &supervised), [option]);
        }
        // Several at once, in the order of `start --help`, with a launch option.
        let mut both = with(|r| {
            r.max_restarts = 0;
            r.watchdog = Some(Duration::from_secs(1));
        });
        both.nice = Some(5);
        both.ready_timeout = Duration::from_secs(1);
        assert_eq!(
            differing_options(&both, &supervised),
            ["--ready-timeout", "--max-restarts", "--watchdog", "--nice"]
        );
    }

    /// `start NAME --env A=1` is pointed to the options' place; `start prog --port 1` is not.
    #[test]
    fn start_options_are_known() {
        assert!(is_start_option(std::ffi::OsStr::new("--env")));
        assert!(super::is_start_option(std::ffi::OsStr::new("--env=A=1")));
        assert!(!super::is_start_option(std::ffi::OsStr::new("--port")));
    }
}
