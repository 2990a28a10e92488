//! Which daemon a command addresses (NAME, `--name`, `--pidfile`, or the only one there is) and
//! what state it is in. The judgement applies SPEC §2 and §4: a record that identifies a live
//! process exactly (pid, start time, boot id) names the daemon whatever the pidfile says; else a
//! pidfile's pid counts as the daemon only if it is alive (not a zombie), is neither an ancestor
//! of rdaemon nor a kernel thread, and, when a record describes it, has the record's start time
//! and boot id. Only the kernel's "no such process" means gone.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{TargetArgs, TargetsArgs};
use crate::exit::Fail;
use crate::parse::{Name, Pattern};
use crate::paths::{absolute, Ctx};
use crate::pidfile::{self, os_error, Content, NameLock};
use crate::process::{self, Pid};
use crate::state::{self, Mode, Record};

/// A daemon as addressed by a command.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Its name: the record's, the given one, or the pidfile's stem. `None` only for a pidfile
    /// whose stem is not a valid name.
    pub name: Option<Name>,
    /// The pidfile to act on.
    pub pidfile: PathBuf,
    /// The record, if there is one.
    pub record: Option<Record>,
    /// Why the record could not be read (corrupt, truncated, unreadable), if it could not.
    pub record_error: Option<String>,
}

/// The outcome of resolving a command's daemon arguments.
#[derive(Debug)]
pub enum Resolved {
    /// Exactly one daemon.
    One(Box<Target>),
    /// Nothing named and no records at all.
    NoDaemons,
    /// Nothing named and several records: the caller must choose.
    Several(Vec<Name>),
}

impl Target {
    /// The daemon its record `rec` describes, by its name and its recorded pidfile.
    pub fn of_record(rec: Record) -> Target {
        Target {
            name: Some(rec.name.clone()),
            pidfile: rec.pidfile.clone(),
            record: Some(rec),
            record_error: None,
        }
    }

    /// How to refer to the daemon in messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.to_string(),
            None => self.pidfile.display().to_string(),
        }
    }

    /// Takes the per-name lock (none for an anonymous pidfile) and reloads the record under it,
    /// so that what the caller then checks and does is not raced by another rdaemon. A corrupt
    /// record is left to the caller (`record_error`); one that cannot be read is an error.
    pub fn lock(&mut self, ctx: &Ctx) -> Result<Option<NameLock>> {
        let Some(name) = &self.name else {
            return Ok(None);
        };
        if !ctx.runtime.is_dir() {
            return Ok(None);
        }
        let lock = NameLock::acquire(&ctx.lock_path(name))?;
        // Another rdaemon may have saved, replaced or removed the record while we waited: what
        // counts is the record as it is now. A record that appeared meanwhile is ours only if
        // it describes the pidfile we act on.
        // A record that cannot be read is reported by the caller, as at resolve time.
        let had_record = self.record.is_some();
        match Record::load(ctx, name) {
            Ok(rec) => {
                self.record = rec.filter(|rec| had_record || rec.pidfile == self.pidfile);
                self.record_error = None;
            }
            // Content that is not a record: reported by the caller, which acts without it.
            Err(e) if e.root_cause().is::<serde_json::Error>() => {
                self.record = None;
                self.record_error = Some(crate::exit::render(&e));
            }
            // A record that cannot be read (EMFILE, EACCES...) may vouch for the running daemon:
            // acting without it could misjudge the daemon, so that is an error.
            Err(e) => return Err(e),
        }
        Ok(Some(lock))
    }
}

impl Target {
    /// This daemon, whose spec cannot be read (`record_error`), with the record its status alone
    /// makes ([`Record::from_status`]), if the status describes this pidfile: what `stop` needs to
    /// reach the daemon's session and cgroup beside its main process (SPEC §3.1). `None` when
    /// the spec was read, or there is no such status.
    pub fn by_status(&self, ctx: &Ctx) -> Option<Target> {
        let (None, Some(_), Some(name)) = (&self.record, &self.record_error, &self.name) else {
            return None;
        };
        let status = state::Status::load(ctx, name).ok().flatten()?;
        let own = status
            .pidfile
            .clone()
            .unwrap_or_else(|| ctx.pidfile_path(name));
        if own != self.pidfile {
            return None;
        }
        Some(Target {
            record: Some(Record::from_status(name, own, status)),
            ..self.clone()
        })
    }
}

/// Finds the daemon that `args` names.
pub fn resolve(ctx: &Ctx, args: &TargetArgs) -> Result<Resolved> {
    let pidfile = args.pidfile.as_deref().map(absolute).transpose()?;
    if let Some(name) = args.given_name() {
        return by_name(ctx, name, pidfile).map(one);
    }
    if let Some(pidfile) = pidfile {
        // Found by its stem or the pidfile index, without reading every spec (issue 18).
        if let Some(record) = state::by_pidfile(ctx, &pidfile)? {
            // As the record names it (the same file, perhaps reached another way).
            return Ok(one(Target {
                name: Some(record.name.clone()),
                pidfile: record.pidfile.clone(),
                record: Some(record),
                record_error: None,
            }));
        }
        return Ok(one(Target {
            name: state::stem_name(&pidfile),
            pidfile,
            ..Target::default()
        }));
    }
    let names = state::list_names(ctx)?;
    match names.as_slice() {
        [] => Ok(Resolved::NoDaemons),
        [name] => by_name(ctx, name, None).map(one),
        _ => Ok(Resolved::Several(names)),
    }
}

/// [`resolve`] for the commands that act on a running daemon (`stop`, `restart`, `logs`): bare,
/// with several daemons, the only *running* one if exactly one runs (SPEC §1).
pub fn resolve_running(ctx: &Ctx, args: &TargetArgs) -> Result<Resolved> {
    let names = match resolve(ctx, args)? {
        Resolved::Several(names) => names,
        other => return Ok(other),
    };
    let mut running = Vec::new();
    for name in &names {
        let target = by_name(ctx, name, None)?;
        if matches!(judge(ctx, &target), Ok(Main::Alive { .. })) {
            running.push(target);
        }
    }
    match (running.pop(), running.is_empty()) {
        (Some(only), true) => Ok(one(only)),
        _ => Ok(Resolved::Several(names)),
    }
}

/// The daemons a command over several names acts on (SPEC §1).
#[derive(Debug)]
pub enum Many {
    /// These daemons, in the order given (globs and `--all`: by name), each once; `unknown`
    /// holds what to say of each name or glob that names no daemon ([`unknown_name`]).
    Picked {
        targets: Vec<Target>,
        unknown: Vec<String>,
    },
    /// Nothing named and no records at all.
    NoDaemons,
    /// Nothing named and several daemons: the caller must choose.
    Several(Vec<Name>),
}

/// Finds the daemons that `args` names: for the one-daemon forms (at most one plain name), as
/// [`resolve`] (or [`resolve_running`] when `running`); else every name given, every known name
/// a glob matches, or with `--all` every known name. A name rdaemon does not know, and a glob
/// that matches nothing, go to `unknown`; `--pidfile` with several names is a usage error.
pub fn resolve_many(ctx: &Ctx, args: &TargetsArgs, running: bool) -> Result<Many> {
    if let Some(single) = args.single() {
        let resolved = match running {
            true => resolve_running(ctx, &single)?,
            false => resolve(ctx, &single)?,
        };
        return Ok(match resolved {
            Resolved::One(t) if is_unknown(ctx, &single, &t) => Many::Picked {
                unknown: vec![unknown_name_of(ctx, &single, &t)],
                targets: Vec::new(),
            },
            Resolved::One(t) => Many::Picked {
                targets: vec![*t],
                unknown: Vec::new(),
            },
            Resolved::NoDaemons => Many::NoDaemons,
            Resolved::Several(names) => Many::Several(names),
        });
    }
    if args.pidfile.is_some() {
        return Err(
            Fail::usage("--pidfile names one daemon: give it alone, or names instead").into(),
        );
    }
    // Another user's directory it may not read (root's 0700 one): exit 4, as for one daemon.
    let known = state::list_names(ctx).map_err(|e| denied_error(ctx, e))?;
    if args.all {
        if known.is_empty() {
            return Ok(Many::NoDaemons);
        }
        let targets = known
            .iter()
            .map(|n| by_name(ctx, n, None))
            .collect::<Result<_>>()?;
        return Ok(Many::Picked {
            targets,
            unknown: Vec::new(),
        });
    }
    let mut names: Vec<Name> = Vec::new();
    let mut unknown = Vec::new();
    for pattern in &args.names {
        let matched: Vec<&Name> = match pattern {
            Pattern::Name(n) => vec![n],
            Pattern::Glob(_) => known
                .iter()
                .filter(|n| pattern.matches(n.as_str()))
                .collect(),
        };
        if matched.is_empty() {
            unknown.push(no_match(ctx, pattern, &known));
        }
        for name in matched {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut targets = Vec::new();
    for name in &names {
        let target = by_name(ctx, name, None)?;
        if is_unknown_target(ctx, &target) {
            unknown.push(unknown_name(ctx, name));
        } else {
            targets.push(target);
        }
    }
    Ok(Many::Picked { targets, unknown })
}

/// How many known names a glob that matches none of them lists.
const NAMES_SHOWN: usize = 8;

/// What to say of a glob that matches no known name: as of an unknown name (SPEC §1).
fn no_match(ctx: &Ctx, pattern: &Pattern, known: &[Name]) -> String {
    match pattern {
        Pattern::Name(n) => unknown_name(ctx, n),
        Pattern::Glob(g) if known.is_empty() => {
            format!("no daemon named '{g}' (there are no daemons)")
        }
        Pattern::Glob(g) => {
            let list: Vec<&str> = known.iter().take(NAMES_SHOWN).map(Name::as_str).collect();
            let more = match known.len() > NAMES_SHOWN {
                true => format!(", … {} in all", known.len()),
                false => String::new(),
            };
            format!("no daemon named '{g}' (known: {}{more})", list.join(", "))
        }
    }
}

/// Whether rdaemon knows nothing of the daemon the user named: no record (readable or not) and
/// no pidfile; or, for `--pidfile P` alone, nothing at P and nothing of rdaemon's naming P
/// ([`is_unknown_pidfile`]). Such a target is reported by [`unknown_name_of`], not silently
/// "not running".
pub fn is_unknown(ctx: &Ctx, args: &TargetArgs, target: &Target) -> bool {
    match args.given_name() {
        Some(_) => is_unknown_target(ctx, target),
        None => args.pidfile.is_some() && is_unknown_pidfile(ctx, target),
    }
}

/// [`is_unknown`] for a pidfile given alone: no spec names it ([`resolve`] found none), nothing
/// is at its path, and its stem's daemon (if any) can say nothing of it either: its status does
/// not name it and neither its spec nor its status is unreadable. A stopped daemon, whose
/// pidfile its stop removed, is found by its spec; a pidfile that exists is usable whoever
/// wrote it (SPEC §4); a path that cannot be looked at (a directory this user may not search)
/// is not said to be missing.
fn is_unknown_pidfile(ctx: &Ctx, target: &Target) -> bool {
    let stem_may_name = |name: &Name| {
        let status_names = match state::Status::load(ctx, name) {
            Ok(Some(status)) => {
                status.pidfile.unwrap_or_else(|| ctx.pidfile_path(name)) == target.pidfile
            }
            Ok(None) => false,
            Err(_) => true,
        };
        status_names || Record::load(ctx, name).is_err()
    };
    target.record.is_none()
        && target.record_error.is_none()
        && is_missing(&target.pidfile)
        && !target.name.as_ref().is_some_and(stem_may_name)
}

/// Whether nothing is at `path`: it, or a directory on the way to it, does not exist (or the
/// way goes through a file).
fn is_missing(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
    }
}

/// [`is_unknown`] for a daemon named by the user (no record, no pidfile).
fn is_unknown_target(ctx: &Ctx, target: &Target) -> bool {
    target.record.is_none()
        && target.record_error.is_none()
        && target
            .name
            .as_ref()
            .is_some_and(|n| std::fs::symlink_metadata(ctx.record_path(n)).is_err())
        && std::fs::symlink_metadata(&target.pidfile).is_err()
}

/// Where root keeps its daemons' files by default: a non-root user who names one of them is told
/// to use sudo.
const ROOT_DIRS: [&str; 2] = ["/run/rdaemon", "/var/lib/rdaemon"];

/// What to say about a name rdaemon does not know (SPEC §1): `no daemon named 'pingr'`, the
/// known names that are closest, and, for a non-root user, whether root has a daemon of that
/// name.
pub fn unknown_name(ctx: &Ctx, name: &Name) -> String {
    let mut text = format!("no daemon named '{name}'");
    let known = state::list_names(ctx).unwrap_or_default();
    let close = closest(name.as_str(), known.iter().map(Name::as_str));
    if !close.is_empty() {
        text.push_str(&format!(" (closest: {})", close.join(", ")));
    }
    text.push_str(&roots_hint(ctx, name));
    text
}

/// For a user other than root, `; root has a daemon named 'NAME' (in DIR): use sudo` when root's
/// directories hold a pidfile or spec of that name; else nothing.
fn roots_hint(ctx: &Ctx, name: &Name) -> String {
    if ctx.is_root {
        return String::new();
    }
    let roots = ROOT_DIRS.iter().map(PathBuf::from);
    let theirs = roots.filter(|d| *d != ctx.dir).find(|dir| {
        ["pid", "json"]
            .iter()
            .any(|ext| std::fs::symlink_metadata(dir.join(format!("{name}.{ext}"))).is_ok())
    });
    match theirs {
        Some(dir) => format!(
            "; root has a daemon named '{name}' (in {}): use sudo",
            dir.display()
        ),
        None => String::new(),
    }
}

/// The known daemons' names closest to `word` ([`closest`]): a typo's candidates.
pub fn closest_names(ctx: &Ctx, word: &str) -> Vec<String> {
    let known = state::list_names(ctx).unwrap_or_default();
    closest(word, known.iter().map(Name::as_str))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// For a command with no "not running" answer of its own (`logs`, `restart`): an error when
/// `args` gives a pidfile alone that names nothing ([`is_unknown`]), said as [`unknown_name_of`]
/// says it, not as a daemon named after the file (a newcomer's trial, 2026-12-03).
pub fn refuse_unknown_pidfile(ctx: &Ctx, args: &TargetArgs, target: &Target) -> Result<()> {
    if args.given_name().is_none() && is_unknown(ctx, args, target) {
        bail!("{}", unknown_name_of(ctx, args, target));
    }
    Ok(())
}

/// What to say of a target that [`is_unknown`]: [`unknown_name`] for a name; for a pidfile given
/// alone, `no daemon with pidfile 'PATH'` and why (no such file, or no such directory), then
/// what its stem names: the pidfile of the daemon of that name, or root's daemon of that name
/// ([`roots_hint`]).
pub fn unknown_name_of(ctx: &Ctx, args: &TargetArgs, target: &Target) -> String {
    if let Some(name) = args.given_name() {
        return unknown_name(ctx, name);
    }
    let path = &target.pidfile;
    let why = match path.parent() {
        Some(dir) if is_missing(dir) => {
            format!("its directory '{}' does not exist", dir.display())
        }
        Some(dir) if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) => {
            format!("'{}' is not a directory", dir.display())
        }
        _ => "there is no such file, and no daemon's spec names it".to_owned(),
    };
    let mut text = format!("no daemon with pidfile '{}' ({why})", path.display());
    // `--pidfile /run/web.pid` for a daemon web whose pidfile is elsewhere: where it is.
    let theirs = target
        .name
        .as_ref()
        .and_then(|name| Record::load(ctx, name).ok().flatten());
    match (theirs, &target.name) {
        (Some(rec), _) => text.push_str(&format!(
            "; daemon '{}' has pidfile '{}'",
            rec.name,
            rec.pidfile.display()
        )),
        (None, Some(name)) => text.push_str(&roots_hint(ctx, name)),
        (None, None) => {}
    }
    text
}

/// The names among `known` closest to `name` by edit distance, at most three, best first; only
/// those close enough to be a typo of it (a third of its length, at least 1).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// The edit distance between `a` and `b` by characters, counting an insertion, a deletion, a
/// substitution or a swap of two neighbours as one edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The daemon called `name`: its record's pidfile unless `pidfile` overrides it.
pub fn by_name(ctx: &Ctx, name: &Name, pidfile: Option<PathBuf>) -> Result<Target> {
    let (record, record_error) = match Record::load(ctx, name) {
        Ok(r) => (r, None),
        Err(e) => (None, Some(crate::exit::render(&e))),
    };
    // Without a spec to read, the status says where the pidfile is (SPEC §1: it is the runtime
    // identity), so that what `stop` removes is the daemon's own.
    let from_status = || match record_error {
        Some(_) => state::Status::load(ctx, name).ok().flatten()?.pidfile,
        None => None,
    };
    let own = record
        .as_ref()
        .map(|r| r.pidfile.clone())
        .or_else(from_status);
    // A name and a `--pidfile` that is not that daemon's own: acting on one of them would leave
    // the other as it was, so which one was meant is asked, not guessed.
    if let (Some(given), Some(own)) = (&pidfile, &own) {
        let same_inode = || {
            matches!(
                (std::fs::metadata(given), std::fs::metadata(own)),
                (Ok(x), Ok(y)) if (x.dev(), x.ino()) == (y.dev(), y.ino())
            )
        };
        // The daemon named, so a link to its very pidfile may name it too.
        if !state::same_pidfile(given, own) && !same_inode() {
            return Err(Fail::usage(format!(
                "--pidfile '{}' is not the pidfile of {name}, which is '{}': give the name or \
                 the pidfile",
                given.display(),
                own.display()
            ))
            .into());
        }
    }
    let pidfile = pidfile.or(own).unwrap_or_else(|| ctx.pidfile_path(name));
    Ok(Target {
        name: Some(name.clone()),
        pidfile,
        record,
        record_error,
    })
}

fn one(target: Target) -> Resolved {
    Resolved::One(Box::new(target))
}

/// Whether none of the daemons `names` has a main process alive (or one whose state is
/// unknown), nor anything else for which `busy` holds (`stop`: leftovers of one that is gone).
pub fn none_alive(ctx: &Ctx, names: &[Name], busy: impl Fn(&Target) -> bool) -> Result<bool> {
    for name in names {
        let target = by_name(ctx, name, None)?;
        if !matches!(judge(ctx, &target)?, Main::NoPidfile | Main::Gone { .. }) || busy(&target) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What a bare command says when several daemons exist and none runs.
pub fn none_running(names: &[Name]) -> String {
    let list: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    format!("no daemon is running ({})", list.join(", "))
}

/// The usage error for a bare command when several daemons exist.
pub fn several_error(names: &[Name]) -> Fail {
    let list: Vec<&str> = names.iter().map(Name::as_str).collect();
    Fail::usage(format!(
        "several daemons exist ({}): name one",
        list.join(", ")
    ))
}

/// What the record, the pidfile and `/proc` say of a daemon's main process: the evidence the
/// verbs act on (which pid to signal, which pidfile is stale). Not a state of the daemon: that
/// is [`crate::view::DaemonState`], the one state enum (running, restarting, stopped, dead,
/// failed, unknown), derived from this, the spec and the status by `DaemonState::derive` (a
/// missing pidfile is `stopped` or `dead` by what the spec wants, `failed` if the monitor gave
/// up). The variants are named apart from the states for that reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Main {
    /// Its pid is alive and is the daemon, vouched for as `vouched` says. `start_time` is the
    /// process's, as judged: `Process::open_verified` checks it again before signalling.
    Alive {
        pid: Pid,
        vouched: Vouch,
        start_time: u64,
    },
    /// No pidfile and no live process the record names: never started, stopped, or gone
    /// together with its pidfile.
    NoPidfile,
    /// The pidfile remains but its process is gone (or the pid now belongs to another process).
    Gone { pid: Pid, why: String },
    /// The pidfile cannot be trusted: invalid, unreadable, a symlink, or untrusted as root.
    Untrusted { why: String },
    /// Its record identifies it exactly (pid, start time, boot id), alive, and it is rdaemon's
    /// parent or another ancestor: rdaemon runs inside the daemon (its script ran `rdaemon
    /// status` on itself). It runs, so `status` and `start` say so, but rdaemon never signals
    /// an ancestor (SPEC §4): `stop`, `signal` and `restart` refuse, naming why.
    Caller { pid: i32, start_time: u64 },
}

/// What makes rdaemon sure a live pid is the daemon's ([`Main::Alive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vouch {
    /// The record (or the status) names it with its start time and boot: the process `start`
    /// started, a respawn daemon's monitor.
    Record,
    /// The record names it as the child of a respawn monitor that is gone (killed: SIGKILL,
    /// the OOM killer), with the start time the monitor read: the program runs on, and
    /// nothing restarts it. A `--forking` program, in a session of its own, outlives its
    /// monitor so (a plain child gets the monitor's death signal).
    OrphanedChild,
    /// Only its pidfile names it, trusted the classic way (SPEC §4).
    Pidfile,
}

impl Main {
    /// Why a verb that signals cannot act on a daemon judged [`Main::Caller`].
    pub fn caller_refusal(pid: i32) -> String {
        format!(
            "it is pid {pid}, which runs this rdaemon (its parent or an ancestor), and rdaemon never signals the process that ran it; run it from outside the daemon"
        )
    }
}

/// Judges the daemon's main process from its record, its pidfile and `/proc`.
///
/// The record wins: when it identifies a live process exactly (pid, start time and boot id),
/// that process is the daemon whatever the pidfile holds (missing, garbage, another pid), so a
/// daemon cannot escape by removing its pidfile; when the spec cannot be read, its status alone
/// does the same ([`judge_by_status`]). Otherwise the pidfile's pid counts only if it
/// is alive, is not an ancestor of rdaemon or a kernel thread, and either the record vouches for
/// it or, for a pidfile outside rdaemon's directory, it is trusted the classic way.
///
/// An error reading `/proc` (EMFILE, EACCES...) is an error, never "gone": only the kernel's
/// ENOENT or ESRCH means that a process does not exist.
pub fn judge(ctx: &Ctx, target: &Target) -> Result<Main> {
    if let Some(state) = judge_by_record(target)? {
        return Ok(state);
    }
    if let Some(state) = judge_orphaned_child(target)? {
        return Ok(state);
    }
    if let Some(state) = judge_by_status(ctx, target)? {
        return Ok(state);
    }
    let (pid, trusted) = match pidfile::read(&target.pidfile, ctx.is_root) {
        Content::Missing => return Ok(Main::NoPidfile),
        Content::Invalid(why) => {
            return Ok(Main::Untrusted {
                why: format!("invalid pidfile '{}': {why}", target.pidfile.display()),
            })
        }
        Content::Valid { pid, trusted } => (pid, trusted),
    };
    let stat = read_stat(pid)?;
    if let Some(why) = refuse_protected(pid, stat.as_ref())? {
        return Ok(Main::Untrusted {
            why: format!("invalid pidfile '{}': {why}", target.pidfile.display()),
        });
    }
    let Some(stat) = stat.filter(|s| s.is_alive()) else {
        return Ok(Main::Gone {
            pid,
            why: format!("pid {pid} is not running"),
        });
    };
    let mut record = target.record.as_ref().filter(|r| r.pid == Some(pid.get()));
    let fresh;
    let in_own_dir = in_dir(&target.pidfile, &ctx.runtime);
    if record.is_none() && in_own_dir {
        // `start` commits the record before the pidfile, so a record read after the pidfile
        // vouches for a pidfile of rdaemon's, even one written since this command began.
        fresh = match &target.name {
            Some(name) => Record::load(ctx, name).ok().flatten(),
            None => None,
        };
        record = fresh
            .as_ref()
            .filter(|r| r.pid == Some(pid.get()) && r.pidfile == target.pidfile);
    }
    // Asked once, and only of a pid no record vouches for.
    let in_its_cgroup = match record {
        Some(_) => None,
        None => its_cgroup_holds(ctx, target, pid),
    };
    Ok(match record {
        Some(rec) => match identity_mismatch(rec, stat.start_time)? {
            Some(why) => Main::Gone { pid, why },
            None => Main::Alive {
                pid,
                vouched: Vouch::Record,
                start_time: stat.start_time,
            },
        },
        // The record's respawn program had this number, and the process that has it now was
        // started at another time or boot: the program died with its monitor, and its own
        // pidfile (`--forking`) outlived it (helper-93's review, 2026-12-03: the process the
        // kernel gave the number to was taken for the daemon, and `stop` killed it).
        None if reused_child_number(target, pid, stat.start_time)? => Main::Gone {
            pid,
            why: format!(
                "pid {pid} of pidfile '{}' was {}'s program, and now belongs to another process",
                target.pidfile.display(),
                target.label()
            ),
        },
        // The daemon's spec says it was last started during an earlier boot: whatever runs
        // under that pid now was started since (the pidfile outlived a reboot, its status did
        // not), so it is not the daemon, and nothing is signalled (SPEC §4). Whoever could
        // have written the pidfile: one in the daemon's user's directory, naming a live pid
        // after a reboot (by chance, or the user's doing), made the daemon unknown, and
        // `resurrect` failed to start it (helper-125).
        None if started_before_boot(target) => Main::Gone {
            pid,
            why: format!(
                "pid {pid} of pidfile '{}' is not {}: it was last started before the machine rebooted",
                target.pidfile.display(),
                target.label()
            ),
        },
        // A pidfile another user could write, that the record describes: rdaemon wrote the
        // record's pid there, so another pid in it was put there by someone else (the daemon's
        // user, in their own directory). The daemon is the record's, and the record's process
        // is gone: dead, not unknown, so that the daemon can still be stopped, restarted and
        // resurrected (review, 2026-12-02: a live root pid written there made them fail).
        None if !trusted && replaced_by_another(target, pid) => Main::Gone {
            pid,
            why: format!(
                "its pid {} is not running, and pidfile '{}' names pid {pid} instead, which no record vouches for",
                target.record.as_ref().and_then(|r| r.pid).unwrap_or_default(),
                target.pidfile.display()
            ),
        },
        // A pid outside the daemon's cgroup is not the daemon's, by the kernel's word, whoever
        // wrote the pidfile, so the daemon whose process is gone is dead: a `--forking`
        // program's own pidfile, which another user could write (user trial, 2026-12-04:
        // memcached killed, its pidfile in `nobody`'s directory naming another process of
        // nobody's made the daemon unknown, and `status`, `stop` and `resurrect` failed, where
        // `start` took it for stale), or one only root could write, trusted the classic way
        // below (the same trial: nginx's pidfile rewritten to name a `sleep`, its status lost,
        // and `stop nginx` killed the `sleep`). In the cgroup, it may be the program's new
        // process (nginx's binary upgrade): judged as before.
        None if in_its_cgroup == Some(false) => Main::Gone {
            pid,
            why: format!(
                "pidfile '{}' names pid {pid} ({}), which is not in {}'s cgroup",
                target.pidfile.display(),
                crate::sockets::comm(pid.get()),
                target.label()
            ),
        },
        None if !trusted => Main::Untrusted {
            why: format!(
                "pidfile '{}' could have been written by another user (it is not owned by root, is group- or world-writable, has another hard link, or lies in a directory another user can write), and no record vouches for pid {pid}",
                target.pidfile.display()
            ),
        },
        // Its status lost while it ran (the status file removed, the pidfile left): the pid is
        // in the daemon's cgroup, which a start from this directory marked, so it is one of the
        // daemon's processes by the kernel's word, whichever. The daemon is judged as when the
        // whole runtime directory is gone: its main process unknown, what its cgroup holds its
        // leftovers, which `stop` stops and `start` stops before starting (user trial,
        // 2026-12-04: `stop` refused, exit 1, while the process ran in the cgroup).
        None if in_own_dir && in_its_cgroup == Some(true) => Main::Gone {
            pid,
            why: format!(
                "no status vouches for pid {pid} of pidfile '{}', which runs in {}'s cgroup",
                target.pidfile.display(),
                target.label()
            ),
        },
        None if in_own_dir => Main::Untrusted {
            why: format!(
                "no record vouches for pid {pid} in pidfile '{}': rdaemon writes a pidfile in its directory only after the record that vouches for it, so this one was left by an interrupted start or written by something else; remove it if pid {pid} is not the daemon",
                target.pidfile.display()
            ),
        },
        // Trusted the classic way, unless the pid is another daemon's ([`owner_of`]): two
        // specs given the same `--pidfile` (review, 2026-12-02, second: `stop a` killed daemon
        // z's process through their shared pidfile), or a pidfile rewritten with another
        // daemon's pid. Only a pidfile no other user could have written gets here (above), so
        // a daemon's user cannot make every `status` read every status; the index remembers
        // the other daemon of a shared pidfile once a scan has found it.
        None => match owner_of(ctx, target, pid)? {
            Some(owner) => Main::Untrusted {
                why: format!(
                    "pidfile '{}' names pid {pid}, which is daemon {owner}: give {} a --pidfile of its own",
                    target.pidfile.display(),
                    target.label()
                ),
            },
            None => Main::Alive {
                pid,
                vouched: Vouch::Pidfile,
                start_time: stat.start_time,
            },
        },
    })
}

/// The daemon other than `target`'s that `pid` is, if there is one: a daemon whose spec names
/// the same pidfile and whose status identifies `pid` (pid, start time, boot); else any other
/// daemon whose status identifies `pid` as its live main process, or names it as the program
/// of its live respawn monitor (its `child_pid`, a child of that monitor). The second is a
/// scan of every status, made only here, for a pidfile naming a live pid that no record
/// vouches for: rewritten with another daemon's process (user trial, 2026-12-02: nginx writes
/// the `pid` its configuration names whether rdaemon runs it with `--forking` or with `daemon
/// off;` under another name, and `stop` of the first, stopped, killed the second's master; a
/// pidfile copied by hand did the same). For a daemon with a spec, a process beneath another
/// daemon's live main process is that daemon's as well (a program run by a wrapper script); for
/// a bare `--pidfile`, only the other's main process or its monitor's program is, so that a
/// program a daemon's script started with a pidfile of its own (`start-stop-daemon
/// --make-pidfile`) is stopped by that pidfile as before (reviews of 2026-12-02).
pub fn owner_of(ctx: &Ctx, target: &Target, pid: Pid) -> Result<Option<Name>> {
    let name = target.name.as_ref();
    if let Some(other) = match name {
        Some(name) => state::other_by_pidfile(ctx, &target.pidfile, name, true)?
            .filter(|r| r.pid == Some(pid.get())),
        None => None,
    } {
        if alive_by_status(ctx, &other.name)? == Some(pid) {
            return Ok(Some(other.name));
        }
    }
    // For a daemon of its own (a spec names this pidfile), anything beneath another daemon's
    // main process is that daemon's too (second review, 2026-12-02: the other's nginx ran
    // beneath a wrapper script of its program, and `stop` of this one killed it). A bare
    // `--pidfile` (no spec) is the classic use: only the other's main process or its
    // monitor's program is refused, and a program started inside another daemon with a
    // pidfile of its own is stopped by it.
    let lineage = match target.record {
        Some(_) => lineage(pid)?,
        None => vec![pid.get()],
    };
    for other in state::list_names(ctx)? {
        if Some(&other) == name {
            continue;
        }
        let Ok(Some(status)) = state::Status::load(ctx, &other) else {
            continue;
        };
        let is_child = status.child_pid == Some(pid.get());
        let named = status.pid.filter(|p| lineage.contains(p));
        // The program its monitor recorded (pid and start time, this boot), alive whether or
        // not that monitor still is: one outliving a killed monitor is that daemon's still.
        let recorded_child = status
            .child_pid
            .filter(|c| lineage.contains(c))
            .zip(status.child_start_time)
            .is_some_and(|(child, since)| {
                status.boot_id.as_deref() == Some(current_boot_id().unwrap_or_default().as_str())
                    && process::stat_of(child)
                        .ok()
                        .flatten()
                        .is_some_and(|s| s.is_alive() && s.start_time == since)
            });
        if recorded_child {
            return Ok(Some(other));
        }
        if named.is_none() && !is_child {
            continue;
        }
        let Some(main) = alive_by_status(ctx, &other)? else {
            continue;
        };
        let parent = || {
            process::stat(pid)
                .ok()
                .flatten()
                .is_some_and(|s| s.ppid == main.get())
        };
        if named == Some(main.get()) || (is_child && parent()) {
            return Ok(Some(other));
        }
    }
    Ok(None)
}

/// `pid` and its ancestors up to (not including) PID 1, as far as `/proc` shows them.
fn lineage(pid: Pid) -> Result<Vec<i32>> {
    let mut line = vec![pid.get()];
    let mut at = pid.get();
    // A chain longer than this is a loop seen mid-change: what was gathered is enough.
    while line.len() < 4096 {
        let ppid = match process::stat_of(at)
            .map_err(os_error)
            .with_context(|| format!("cannot read /proc/{at}/stat"))?
        {
            Some(stat) if stat.ppid > 1 => stat.ppid,
            _ => break,
        };
        line.push(ppid);
        at = ppid;
    }
    Ok(line)
}

/// Whether the record of `target` describes its pidfile as one rdaemon writes (not the
/// program's own, `--forking --pidfile`) and names another main process than `pid`.
fn replaced_by_another(target: &Target, pid: Pid) -> bool {
    target.record.as_ref().is_some_and(|r| {
        r.pidfile == target.pidfile && !r.program_pidfile && r.pid.is_some_and(|p| p != pid.get())
    })
}

/// The daemon's record, if it is for this very pidfile.
fn record_of_this_pidfile(target: &Target) -> Option<&Record> {
    target
        .record
        .as_ref()
        .filter(|r| r.pidfile == target.pidfile)
}

/// Whether the daemon's cgroup holds `pid`, by the kernel's word: its cgroup by its record (for
/// this very pidfile) or, its status lost, by the mark a start from this directory left on it
/// ([`crate::cgroup::Cgroup::of_daemon`]). `None` without a record or a cgroup (without
/// cgroups, or one emptied and removed), and when `/proc/PID/cgroup` cannot be read: no answer
/// is taken for "not in it" (helper-135's review).
fn its_cgroup_holds(ctx: &Ctx, target: &Target, pid: Pid) -> Option<bool> {
    let rec = record_of_this_pidfile(target)?;
    crate::cgroup::Cgroup::of_daemon(ctx, rec)?.holds_known(pid.get())
}

/// Whether the record names `pid` as its respawn monitor's program (`child_pid`), started at
/// another time than `start_time` or during another boot: that number has gone to another
/// process.
fn reused_child_number(target: &Target, pid: Pid, start_time: u64) -> Result<bool> {
    let Some(rec) = target
        .record
        .as_ref()
        .filter(|r| r.child_pid == Some(pid.get()) && r.pid != Some(pid.get()))
    else {
        return Ok(false);
    };
    if let Some(boot) = &rec.boot_id {
        if *boot != current_boot_id()? {
            return Ok(true);
        }
    }
    Ok(rec.child_start_time.is_some_and(|t| t != start_time))
}

/// Whether the spec of the daemon `target` names (for this very pidfile) says it was last
/// started during another boot than this one. `false` when it does not say (a spec written
/// before it kept the boot, no spec, or the boot id cannot be read).
fn started_before_boot(target: &Target) -> bool {
    let Some(rec) = record_of_this_pidfile(target) else {
        return false;
    };
    let Some(started) = rec.started_boot.as_deref() else {
        return false;
    };
    process::boot_id().is_ok_and(|now| now != started)
}

/// The daemon as its record identifies it, whatever the pidfile says: `Alive` when the
/// recorded pid is alive with the recorded start time during the recorded boot (`Untrusted` if
/// that process is one rdaemon must never signal). `None` when the record does not identify a
/// live process exactly, or says its monitor gave up (it is on its way out).
fn judge_by_record(target: &Target) -> Result<Option<Main>> {
    let Some(rec) = target.record.as_ref().filter(|r| !r.failed) else {
        return Ok(None);
    };
    let inode = state::Pidfs::inode_of(rec.pidfs, rec.pid, rec.start_time);
    judge_identity(
        rec.pid,
        rec.start_time,
        rec.boot_id.as_deref(),
        inode,
        "record",
        Vouch::Record,
    )
}

/// A respawn daemon whose monitor is gone (judged after [`judge_by_record`] found it not
/// alive) while the child it recorded runs on with the start time it read ([`Vouch::OrphanedChild`]).
/// Without this, `status` called such a daemon dead, `stop` left its program running, and
/// `start` or `resurrect` ran a second copy beside it (a `--forking` program without a
/// cgroup; with one, its cgroup found it).
fn judge_orphaned_child(target: &Target) -> Result<Option<Main>> {
    let Some(rec) = target
        .record
        .as_ref()
        .filter(|r| r.mode == Mode::Respawn && !r.failed && r.child_pid != r.pid)
    else {
        return Ok(None);
    };
    judge_identity(
        rec.child_pid,
        rec.child_start_time,
        rec.boot_id.as_deref(),
        None,
        "record",
        Vouch::OrphanedChild,
    )
}

/// The daemon as its status alone identifies it, for a name whose spec could not be read
/// (`record_error`: a corrupt spec, or another user's 0600 one). The status, in rdaemon's own
/// runtime directory, is the daemon's runtime identity (SPEC §1): the process it names, alive
/// with the start time it recorded during the boot it recorded, is the daemon, and a spec
/// damaged on disk must not make it look gone (`forget` would drop it and the next `start` run
/// a second copy). `None` when there is no such status or it names no live process.
fn judge_by_status(ctx: &Ctx, target: &Target) -> Result<Option<Main>> {
    let (None, Some(_), Some(name)) = (&target.record, &target.record_error, &target.name) else {
        return Ok(None);
    };
    judge_status_of(ctx, name, Some(&target.pidfile))
}

/// The pid of daemon `name` when its status alone names it alive ([`judge_by_status`]): for a
/// `start` that found no spec it can read, which must not start a second copy.
pub fn alive_by_status(ctx: &Ctx, name: &Name) -> Result<Option<Pid>> {
    Ok(match judge_status_of(ctx, name, None)? {
        Some(Main::Alive { pid, .. }) => Some(pid),
        _ => None,
    })
}

/// What the status of `name` says, for the daemon whose pidfile is `pidfile` (`None`: any): a
/// `--pidfile` given for another file (its stem happening to be this name) is not this daemon.
fn judge_status_of(ctx: &Ctx, name: &Name, pidfile: Option<&Path>) -> Result<Option<Main>> {
    let Ok(Some(status)) = state::Status::load(ctx, name) else {
        return Ok(None);
    };
    let own = status
        .pidfile
        .clone()
        .unwrap_or_else(|| ctx.pidfile_path(name));
    if pidfile.is_some_and(|p| p != own) {
        return Ok(None);
    }
    if status.failed {
        return Ok(None);
    }
    judge_identity(
        status.pid,
        status.start_time,
        status.boot_id.as_deref(),
        state::Pidfs::inode_of(status.pidfs, status.pid, status.start_time),
        "status",
        Vouch::Record,
    )
}

/// `Alive` when `pid` is alive with `start_time` during boot `boot` (`Untrusted` if it is a
/// process rdaemon must never signal, `what` naming the file that named it); `None` when any is
/// missing or does not match. `inode`, the pid's pidfs inode `start` read for that start time,
/// proves it by a pidfd where the kernel can, rather than by `/proc/PID/stat`.
fn judge_identity(
    pid: Option<i32>,
    start_time: Option<u64>,
    boot: Option<&str>,
    inode: Option<u64>,
    what: &str,
    vouched: Vouch,
) -> Result<Option<Main>> {
    let (Some(raw), Some(start_time), Some(boot)) = (pid, start_time, boot) else {
        return Ok(None);
    };
    if boot != current_boot_id()? {
        return Ok(None);
    }
    let Ok(pid) = Pid::new(raw) else {
        // rdaemon's parent is no `Pid` (nothing may signal it), but it may well be the daemon.
        let caller = raw == nix::unistd::getppid().as_raw()
            && process::stat_of(raw)
                .map_err(os_error)
                .with_context(|| format!("cannot read /proc/{raw}/stat"))?
                .is_some_and(|stat| stat.is_alive() && stat.start_time == start_time);
        return Ok(caller.then_some(Main::Caller {
            pid: raw,
            start_time,
        }));
    };
    // The very process `start` started, during this boot: none rdaemon must never signal
    // unless it is rdaemon's ancestor (`is_pidfs_process` leaves kthreadd's to `/proc`).
    let by_pidfd = inode.and_then(|inode| process::is_pidfs_process(pid, inode));
    if by_pidfd == Some(false) {
        return Ok(None);
    }
    let stat = match by_pidfd {
        Some(_) => None,
        None => match read_stat(pid)? {
            Some(stat) if stat.is_alive() && stat.start_time == start_time => Some(stat),
            _ => return Ok(None),
        },
    };
    if process::is_ancestor(pid).map_err(os_error)? {
        return Ok(Some(Main::Caller {
            pid: pid.get(),
            start_time,
        }));
    }
    // Judged by its pidfd, it is no kernel thread (above); by `/proc`, it is checked here.
    let refused = match &stat {
        Some(stat) => refuse_protected(pid, Some(stat))?,
        None => None,
    };
    if let Some(why) = refused {
        return Ok(Some(Main::Untrusted {
            why: format!("the {what} names pid {pid}, but {why}"),
        }));
    }
    Ok(Some(Main::Alive {
        pid,
        vouched,
        start_time,
    }))
}

/// `/proc/PID/stat`, naming the file in an error.
fn read_stat(pid: Pid) -> Result<Option<process::ProcStat>> {
    process::stat(pid)
        .map_err(os_error)
        .with_context(|| format!("cannot read /proc/{pid}/stat"))
}

/// Why rdaemon must never signal `pid` (an ancestor of rdaemon, a kernel thread), if so.
fn refuse_protected(pid: Pid, stat: Option<&process::ProcStat>) -> Result<Option<String>> {
    process::refuse_protected_with(pid, stat)
        .map_err(os_error)
        .with_context(|| format!("cannot check whether pid {pid} is an ancestor of rdaemon"))
}

fn current_boot_id() -> Result<String> {
    process::boot_id()
        .map_err(os_error)
        .context("cannot read the boot id")
}

/// Whether `path` is a file directly in directory `dir` (the same directory, however named).
fn in_dir(path: &Path, dir: &Path) -> bool {
    let Some(parent) = path.parent() else {
        return false;
    };
    if parent == dir {
        return true;
    }
    match (std::fs::metadata(parent), std::fs::metadata(dir)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Why a live process with the record's pid is not the recorded daemon, if it is not.
fn identity_mismatch(rec: &Record, start_time: u64) -> Result<Option<String>> {
    let pid = rec.pid.unwrap_or_default();
    if let Some(recorded) = &rec.boot_id {
        if *recorded != current_boot_id()? {
            return Ok(Some(format!(
                "pid {pid} was recorded during an earlier boot"
            )));
        }
    }
    Ok(match rec.start_time {
        Some(t) if t != start_time => Some(format!(
            "pid {pid} now belongs to another process (start time {start_time}, recorded {t})"
        )),
        // The same start time, and yet not the process `start` read the pidfs inode of.
        _ if another_pidfs_process(rec) => Some(format!(
            "pid {pid} now belongs to another process (its pidfs inode is not the one recorded)"
        )),
        _ => None,
    })
}

/// Whether the record's pid, by the pidfs inode recorded with it, is now another process (or
/// none); `false` when no inode was recorded for it or a pidfd cannot tell.
fn another_pidfs_process(rec: &Record) -> bool {
    let inode = state::Pidfs::inode_of(rec.pidfs, rec.pid, rec.start_time);
    match (inode, rec.pid.map(Pid::new)) {
        (Some(inode), Some(Ok(pid))) => process::is_pidfs_process(pid, inode) == Some(false),
        _ => false,
    }
}

/// Maps an error met while taking a daemon's lock or reading its files, as a user other than
/// root for a daemon whose rdaemon directory belongs to someone else, to "insufficient
/// privilege" (exit 4, SPEC §3), saying whose the daemon is.
pub fn privilege_error(ctx: &Ctx, err: anyhow::Error) -> anyhow::Error {
    // An error that already has its exit code (a usage error) keeps it (helper-113's review:
    // `status a b --pidfile P` as another user became exit 4).
    if ctx.is_root || err.downcast_ref::<Fail>().is_some() {
        return err;
    }
    let owner = std::fs::metadata(&ctx.dir).map(|m| m.uid());
    match owner {
        Ok(uid) if uid != ctx.uid() => {
            let whose = if uid == 0 {
                "root's (use sudo)".to_owned()
            } else {
                format!("uid {uid}'s")
            };
            let dir = ctx.dir.display();
            anyhow::Error::new(Fail::privilege(format!(
                "{}; the rdaemon directory '{dir}' is {whose}",
                crate::exit::render(&err)
            )))
        }
        _ => err,
    }
}

/// Whether `target`'s record exists but may not be read by this user (root's 0600 record, to a
/// user), as opposed to a corrupt one: `logs` and `wait` then fail for want of privilege.
pub fn record_refused(ctx: &Ctx, target: &Target) -> bool {
    let (None, Some(_), Some(name)) = (&target.record, &target.record_error, &target.name) else {
        return false;
    };
    std::fs::File::open(ctx.record_path(name))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
}

/// [`privilege_error`] for an error the kernel's "permission denied" caused (an `EACCES` or
/// `EPERM` kept in its chain): `list` and `status` of another user's directory they may not
/// read. Any other error is left as it is.
pub fn denied_error(ctx: &Ctx, err: anyhow::Error) -> anyhow::Error {
    let denied = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
            || cause
                .downcast_ref::<nix::errno::Errno>()
                .is_some_and(|e| matches!(e, nix::errno::Errno::EACCES | nix::errno::Errno::EPERM))
    });
    match denied {
        true => privilege_error(ctx, err),
        false => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("pingr", "ping"), 1);
        assert_eq!(edit_distance("web", "wbe"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_names_are_typos_only_best_first() {
        let known = ["ping", "pinger", "web", "worker-1", "worker-2"];
        assert_eq!(closest("pingr", known.into_iter()), ["ping", "pinger"]);
        assert_eq!(
            closest("worker-3", known.into_iter()),
            ["worker-1", "worker-2"]
        );
        assert!(closest("database", known.into_iter()).is_empty());
        assert_eq!(closest("wbe", known.into_iter()), ["web"]);
        assert!(closest("x", known.into_iter()).is_empty());
    }
}
