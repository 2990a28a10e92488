//! Which daemon a command addresses (NAME, `--name`, `--pidfile`, or the only one there is) and
//! what state it is in. The judgement applies SPEC §2 and §4: a record that identifies a live
//! process exactly (pid, start time, boot id) names the daemon whatever the pidfile says; else a
//! pidfile's pid counts as the daemon only if it is alive (not a zombie), is neither an ancestor
//! of rdaemon nor a kernel thread, and, when a record describes it, has the record's start time
//! and boot id. Only the kernel's "no such process" means gone.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cli::TargetArgs;
use crate::exit::Fail;
use crate::parse::Name;
use crate::paths::{absolute, Ctx};
use crate::pidfile::{self, os_error, Content, NameLock};
use crate::process::{self, Pid};
use crate::state::{self, Record};

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
        if !ctx.dir.is_dir() {
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
                self.record_error = Some(format!("{e:#}"));
            }
            // A record that cannot be read (EMFILE, EACCES...) may vouch for the running daemon:
            // acting without it could misjudge the daemon, so that is an error.
            Err(e) => return Err(e),
        }
        Ok(Some(lock))
    }
}

/// Finds the daemon that `args` names.
pub fn resolve(ctx: &Ctx, args: &TargetArgs) -> Result<Resolved> {
    let pidfile = args.pidfile.as_deref().map(absolute).transpose()?;
    if let Some(name) = args.given_name() {
        return by_name(ctx, name, pidfile).map(one);
    }
    let names = state::list_names(ctx)?;
    if let Some(pidfile) = pidfile {
        for name in &names {
            if let Ok(Some(record)) = Record::load(ctx, name) {
                if record.pidfile == pidfile {
                    return Ok(one(Target {
                        name: Some(record.name.clone()),
                        pidfile,
                        record: Some(record),
                        record_error: None,
                    }));
                }
            }
        }
        let name = pidfile
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| Name::parse(s).ok());
        return Ok(one(Target {
            name,
            pidfile,
            ..Target::default()
        }));
    }
    match names.as_slice() {
        [] => Ok(Resolved::NoDaemons),
        [name] => by_name(ctx, name, None).map(one),
        _ => Ok(Resolved::Several(names)),
    }
}

/// The daemon called `name`: its record's pidfile unless `pidfile` overrides it.
fn by_name(ctx: &Ctx, name: &Name, pidfile: Option<PathBuf>) -> Result<Target> {
    let (record, record_error) = match Record::load(ctx, name) {
        Ok(r) => (r, None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let pidfile = pidfile
        .or_else(|| record.as_ref().map(|r| r.pidfile.clone()))
        .unwrap_or_else(|| ctx.pidfile_path(name));
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

/// The usage error for a bare command when several daemons exist.
pub fn several_error(names: &[Name]) -> Fail {
    let list: Vec<&str> = names.iter().map(Name::as_str).collect();
    Fail::usage(format!(
        "several daemons exist ({}): name one",
        list.join(", ")
    ))
}

/// What state a daemon is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Its pid is alive and is the daemon. `vouched` when the record's start time and boot id
    /// match; a pidfile without a matching record is trusted the classic way. `start_time` is
    /// the process's, as judged: `Process::open_verified` checks it again before signalling.
    Running {
        pid: Pid,
        vouched: bool,
        start_time: u64,
    },
    /// No pidfile: never started, or stopped by rdaemon.
    Stopped,
    /// The pidfile remains but its process is gone (or the pid now belongs to another process).
    Dead { pid: Pid, why: String },
    /// The pidfile cannot be trusted: invalid, unreadable, a symlink, or untrusted as root.
    Unknown { why: String },
}

/// Judges the daemon's state from its record, its pidfile and `/proc`.
///
/// The record wins: when it identifies a live process exactly (pid, start time and boot id),
/// that process is the daemon whatever the pidfile holds (missing, garbage, another pid), so a
/// daemon cannot escape by removing its pidfile. Otherwise the pidfile's pid counts only if it
/// is alive, is not an ancestor of rdaemon or a kernel thread, and either the record vouches for
/// it or, for a pidfile outside rdaemon's directory, it is trusted the classic way.
///
/// An error reading `/proc` (EMFILE, EACCES...) is an error, never "gone": only the kernel's
/// ENOENT or ESRCH means that a process does not exist.
pub fn judge(ctx: &Ctx, target: &Target) -> Result<State> {
    if let Some(state) = judge_by_record(target)? {
        return Ok(state);
    }
    let (pid, trusted) = match pidfile::read(&target.pidfile, ctx.is_root) {
        Content::Missing => return Ok(State::Stopped),
        Content::Invalid(why) => {
            return Ok(State::Unknown {
                why: format!("invalid pidfile '{}': {why}", target.pidfile.display()),
            })
        }
        Content::Valid { pid, trusted } => (pid, trusted),
    };
    if let Some(why) = refuse_protected(pid)? {
        return Ok(State::Unknown {
            why: format!("invalid pidfile '{}': {why}", target.pidfile.display()),
        });
    }
    let Some(stat) = read_stat(pid)?.filter(|s| s.is_alive()) else {
        return Ok(State::Dead {
            pid,
            why: format!("pid {pid} is not running"),
        });
    };
    let mut record = target.record.as_ref().filter(|r| r.pid == Some(pid.get()));
    let fresh;
    let in_own_dir = in_dir(&target.pidfile, &ctx.dir);
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
    Ok(match record {
        Some(rec) => match identity_mismatch(rec, stat.start_time)? {
            Some(why) => State::Dead { pid, why },
            None => State::Running {
                pid,
                vouched: true,
                start_time: stat.start_time,
            },
        },
        None if !trusted => State::Unknown {
            why: format!(
                "pidfile '{}' could have been written by another user (it is not owned by root, is group- or world-writable, or has another hard link), and no record vouches for pid {pid}",
                target.pidfile.display()
            ),
        },
        None if in_own_dir => State::Unknown {
            why: format!(
                "no record vouches for pid {pid} in pidfile '{}': rdaemon writes a pidfile in its directory only after the record that vouches for it, so this one was left by an interrupted start or written by something else; remove it if pid {pid} is not the daemon",
                target.pidfile.display()
            ),
        },
        None => State::Running {
            pid,
            vouched: false,
            start_time: stat.start_time,
        },
    })
}

/// The daemon as its record identifies it, whatever the pidfile says: `Running` when the
/// recorded pid is alive with the recorded start time during the recorded boot (`Unknown` if
/// that process is one rdaemon must never signal). `None` when the record does not identify a
/// live process exactly, or says its monitor gave up (it is on its way out).
fn judge_by_record(target: &Target) -> Result<Option<State>> {
    let Some(rec) = target.record.as_ref().filter(|r| !r.failed) else {
        return Ok(None);
    };
    let (Some(raw), Some(start_time), Some(boot)) = (rec.pid, rec.start_time, &rec.boot_id) else {
        return Ok(None);
    };
    let Ok(pid) = Pid::new(raw) else {
        return Ok(None);
    };
    if *boot != current_boot_id()? {
        return Ok(None);
    }
    match read_stat(pid)? {
        Some(stat) if stat.is_alive() && stat.start_time == start_time => {}
        _ => return Ok(None),
    }
    if let Some(why) = refuse_protected(pid)? {
        return Ok(Some(State::Unknown {
            why: format!("the record names pid {pid}, but {why}"),
        }));
    }
    Ok(Some(State::Running {
        pid,
        vouched: true,
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
fn refuse_protected(pid: Pid) -> Result<Option<String>> {
    process::refuse_protected(pid)
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
        _ => None,
    })
}

/// Maps an error met while taking a daemon's lock or reading its files, as a user other than
/// root for a daemon whose rdaemon directory belongs to someone else, to "insufficient
/// privilege" (exit 4, SPEC §3), saying whose the daemon is.
pub fn privilege_error(ctx: &Ctx, err: anyhow::Error) -> anyhow::Error {
    if ctx.is_root {
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
                "{err:#}; the rdaemon directory '{dir}' is {whose}"
            )))
        }
        _ => err,
    }
}
