//! What `start` and the respawn monitor share about launching a program: the launch plan
//! ([`plan`]: the one place that turns a [`Spec`] into what a launch needs: the program as
//! execve will run it, argv, the final environment, the account, directory, umask, streams,
//! cgroup settings, readiness and the monitor's policy), how PROGRAM is found
//! (`resolve_program`), and the monitor's report to `start` on its first child, with the status
//! handoff that follows it (SPEC §1: one status writer at a time). Below `commands/`, so that
//! the monitor imports no command and `start` no monitor.
//!
//! A new launch setting is a field of `Spec` (and its file), a field of [`Plan`] set in
//! [`plan`], and its use in the grandchild ([`Plan::exec`] hands it to `daemonize`): `start`,
//! `restart`, `resurrect` and the monitor all launch through this.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::{access, AccessFlags};

use crate::account::Account;
use crate::cli::CgroupMode;
use crate::daemonize;
use crate::parse::Name;
use crate::paths::{absolute, Ctx};
use crate::pidfile::os_reason;
use crate::process::Ended;
use crate::ready::ReadySpec;
use crate::spec::Spec;
use crate::state::RestartPolicy;

/// Everything a launch of a daemon needs, derived from its spec by [`plan`] and nowhere else.
/// Checked and resolved, opening nothing: the callers open the streams (`start` the log files,
/// the monitor its pipes) and fork.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The daemon's name.
    pub name: Name,
    /// Absolute pidfile path.
    pub pidfile: PathBuf,
    /// PROGRAM as execve will run it (looked up in the daemon's PATH).
    pub program: PathBuf,
    /// argv, `argv[0]` as given.
    pub argv: Vec<String>,
    /// The final environment: rdaemon's own (without `NOTIFY_SOCKET` unless `--foreground`),
    /// `USER`, `LOGNAME` and `HOME` of `--user`, then the `--env-file`s' variables (read now),
    /// then `--env`.
    pub env: BTreeMap<OsString, OsString>,
    /// The same without the env files' variables: what a respawn monitor is given, so that it
    /// reads the files again before each start of its child ([`Plan::env_now`]) and an edit
    /// that removes a variable takes effect.
    pub monitor_env: BTreeMap<OsString, OsString>,
    /// `--env-file`s, absolute, in order.
    pub env_files: Vec<PathBuf>,
    /// `--env`, which wins over the env files.
    pub env_overrides: BTreeMap<String, String>,
    /// `--limit`s, `--nice`, `--oom-score-adj`: set in the program before exec.
    pub tuning: daemonize::Tuning,
    /// `--stop-signal`.
    pub stop_signal: nix::sys::signal::Signal,
    /// `--stop-timeout`.
    pub stop_timeout: Duration,
    /// `--user`/`--group`, resolved (root only).
    pub account: Option<Account>,
    /// Working directory.
    pub chdir: PathBuf,
    /// File mode creation mask.
    pub umask: u32,
    /// stdout file.
    pub stdout: PathBuf,
    /// stderr file.
    pub stderr: PathBuf,
    /// Where each log file ended before this launch (set by `start` right before it): the
    /// tail of a failed start shows only what came after.
    pub log_marks: Vec<(PathBuf, crate::logs::LogMark)>,
    /// `--foreground`: exec in place.
    pub foreground: bool,
    /// `--foreground` without log options: keep rdaemon's streams.
    pub inherit_output: bool,
    /// `--cgroup`.
    pub cgroup: CgroupMode,
    /// `--memory-max`, in bytes.
    pub memory_max: Option<u64>,
    /// `--tasks-max`.
    pub tasks_max: Option<u64>,
    /// What "started" means.
    pub ready: ReadySpec,
    /// How long to wait for readiness.
    pub ready_timeout: Duration,
    /// Supervised mode; `None` in exec mode.
    pub respawn: Option<Supervision>,
    /// `--forking`: the program daemonizes itself (SPEC §2.2); `None` otherwise.
    pub forking: Option<Forking>,
}

/// What `--forking` needs of a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forking {
    /// The pidfile the program writes (`--pidfile`), which rdaemon only reads; `None`: the only
    /// process the launch left is the daemon.
    pub pidfile: Option<PathBuf>,
    /// How long the program has to fork, exit and leave its process (`--ready-timeout`).
    pub timeout: Duration,
}

/// The monitor's part of a plan (`--respawn`), typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervision {
    /// `--restart-delay`.
    pub restart_delay: Duration,
    /// `--max-restarts`; 0 for no limit.
    pub max_restarts: u32,
    /// `--restart-window`.
    pub restart_window: Duration,
    /// `--log-max-size`: the monitor writes (and rotates) the logs.
    pub log_max_size: Option<u64>,
    /// `--log-keep`.
    pub log_keep: u32,
    /// `--restart`.
    pub restart: RestartPolicy,
    /// `--health`, parsed.
    pub health: Option<ReadySpec>,
    /// `--health-interval`.
    pub health_interval: Duration,
    /// `--health-retries`.
    pub health_retries: u32,
    /// `--watchdog` (the environment then has `WATCHDOG_USEC`).
    pub watchdog: Option<Duration>,
    /// `--on-exit`.
    pub on_exit: Option<String>,
    /// `--log-timestamps`: the monitor writes the logs, each line stamped.
    pub log_timestamps: bool,
}

/// The launch plan of `spec`: resolves the account (exit 4 without root, 1 for an unknown
/// user), the program, and builds the environment from rdaemon's own. The one builder of what
/// a launch needs (issue 13): `start` and the monitor both use it.
pub fn plan(ctx: &Ctx, spec: &Spec) -> Result<Plan> {
    plan_as(spec, spec.account(ctx)?)
}

/// [`plan`] with the spec's account already resolved ([`Spec::account`]): a `start` resolves it
/// once (each resolution asks the user database, LDAP or sssd where NSS says so).
pub fn plan_as(spec: &Spec, account: Option<Account>) -> Result<Plan> {
    let program = match spec.command.first() {
        Some(program) => resolve_program_as(program, &spec.env, account.as_ref())?,
        None => bail!("cannot start {}: no program given", spec.name),
    };
    let respawn = match spec.respawn.as_ref() {
        None => None,
        Some(r) => Some(Supervision {
            restart_delay: r.restart_delay,
            max_restarts: r.max_restarts,
            restart_window: r.restart_window,
            log_max_size: r.log_max_size,
            log_keep: r.log_keep,
            restart: r.restart,
            health: r.health()?,
            health_interval: r.health_interval,
            health_retries: r.health_retries.max(1),
            watchdog: r.watchdog,
            on_exit: r.on_exit.clone(),
            log_timestamps: r.log_timestamps,
        }),
    };
    // A missing env file is exit 1, a malformed line exit 2, here, before anything is created.
    let file_vars = spec.env_file_vars(account.as_ref())?;
    // `PWD` says where the daemon runs, not where rdaemon was called: a program (or its
    // shell, or a library) that trusts it would look in the caller's directory (user trial,
    // 2026-12-03: memcached ran in `/` with the caller's `PWD`). `--env PWD=…` still wins.
    let base: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(key, _)| key != "PWD")
        .chain([("PWD".into(), spec.chdir.clone().into_os_string())])
        .collect();
    let mut env = environment(
        base.clone(),
        spec.foreground,
        account.as_ref(),
        &file_vars,
        &spec.env,
    );
    let monitor_env = environment(
        base,
        spec.foreground,
        account.as_ref(),
        &BTreeMap::new(),
        &spec.env,
    );
    if let Some(limit) = respawn.as_ref().and_then(|r| r.watchdog) {
        // sd_watchdog_enabled(3); the monitor adds WATCHDOG_PID, the child's own pid, at the
        // fork (`daemonize::Plan::with_pid_env`).
        env.insert("WATCHDOG_USEC".into(), limit.as_micros().to_string().into());
    }
    Ok(Plan {
        log_marks: Vec::new(),
        name: spec.name.clone(),
        pidfile: spec.pidfile.clone(),
        program,
        argv: spec.command.clone(),
        env,
        monitor_env,
        env_files: spec.env_files.clone(),
        env_overrides: spec.env.clone(),
        tuning: spec.tuning(),
        stop_signal: spec.stop_signal,
        stop_timeout: spec.stop_timeout,
        account,
        chdir: spec.chdir.clone(),
        umask: spec.umask,
        stdout: spec.stdout.clone(),
        stderr: spec.stderr.clone(),
        foreground: spec.foreground,
        inherit_output: spec.inherit_output,
        cgroup: spec.cgroup,
        memory_max: spec.memory_max,
        tasks_max: spec.tasks_max,
        ready: spec.ready.clone(),
        ready_timeout: spec.ready_timeout,
        respawn,
        forking: spec.forking.then(|| Forking {
            pidfile: spec.program_pidfile.then(|| spec.pidfile.clone()),
            timeout: spec.ready_timeout,
        }),
    })
}

/// The daemon's environment: `base` (rdaemon's own), without `NOTIFY_SOCKET` unless in the
/// foreground (a detached daemon must not report to rdaemon's supervisor), with what the program
/// expects of its user as systemd and OpenRC set them, then the env files' variables, then
/// `--env`, which wins.
fn environment(
    base: impl IntoIterator<Item = (OsString, OsString)>,
    foreground: bool,
    account: Option<&Account>,
    files: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = base.into_iter().collect();
    if !foreground {
        env.remove(OsStr::new("NOTIFY_SOCKET"));
    }
    if let Some((login, home)) = account.and_then(|a| a.login.as_ref()) {
        env.insert("USER".into(), login.into());
        env.insert("LOGNAME".into(), login.into());
        env.insert("HOME".into(), home.into());
    }
    if let Some(shell) = account.and_then(|a| a.shell.as_ref()) {
        // An empty shell field means /bin/sh (passwd(5)).
        let shell = match shell.as_os_str().is_empty() {
            true => OsStr::new("/bin/sh"),
            false => shell.as_os_str(),
        };
        env.insert("SHELL".into(), shell.into());
    }
    env.extend(files.iter().map(|(k, v)| (k.into(), v.into())));
    env.extend(overrides.iter().map(|(k, v)| (k.into(), v.into())));
    env
}

impl Plan {
    /// Whether it sets a limit that needs a cgroup.
    pub fn has_limits(&self) -> bool {
        self.memory_max.is_some() || self.tasks_max.is_some()
    }

    /// The grandchild's part: what `daemonize` execs for this plan, on these streams (`stderr`
    /// of `None` shares `stdout`'s file).
    pub fn exec(
        &self,
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: Option<OwnedFd>,
    ) -> Result<daemonize::Plan> {
        daemonize::Plan::new(
            self.program.as_os_str(),
            &self.argv,
            &self.env,
            self.chdir.as_os_str(),
            self.umask,
            stdin,
            stdout,
            stderr,
            self.account.as_ref().map(|a| a.creds.clone()),
        )
        .map(|plan| plan.tune(&self.tuning))
    }

    /// The program's environment with the env files read again now (the respawn monitor,
    /// before each start of its child): `monitor_env`, the files' variables, then `--env`.
    pub fn env_now(&self) -> Result<BTreeMap<OsString, OsString>> {
        let mut env = self.monitor_env.clone();
        if !self.env_files.is_empty() {
            let creds = self.account.as_ref().map(|a| &a.creds);
            let vars = crate::procopts::read_env_files(&self.env_files, creds)?;
            env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
            env.extend(self.env_overrides.iter().map(|(k, v)| (k.into(), v.into())));
        }
        if let Some(limit) = self.respawn.as_ref().and_then(|r| r.watchdog) {
            env.insert("WATCHDOG_USEC".into(), limit.as_micros().to_string().into());
        }
        Ok(env)
    }
}

/// Looks PROGRAM up as execve will run it: as given if it has a `/`, else in the daemon's PATH.
pub fn resolve_program(program: &str, env: &BTreeMap<String, String>) -> Result<PathBuf> {
    resolve_program_as(program, env, None)
}

/// [`resolve_program`] for the user the program will run as (`account`; `None`: rdaemon's
/// own ids): a PATH entry that user cannot reach or execute is passed over, as their own
/// `execvp` does after EACCES (a review: `python3` as `nobody` resolved to root's
/// `/root/.pyenv/shims/python3`, where `nobody`'s own lookup finds `/usr/bin/python3`).
pub fn resolve_program_as(
    program: &str,
    env: &BTreeMap<String, String>,
    account: Option<&Account>,
) -> Result<PathBuf> {
    let fail =
        |errno: nix::errno::Errno| anyhow::anyhow!("cannot execute '{program}': {}", errno.desc());
    if program.contains('/') {
        let path = PathBuf::from(program);
        return match std::fs::metadata(&path) {
            Ok(_) => Ok(path),
            Err(e) => Err(anyhow::anyhow!(
                "cannot execute '{program}': {}",
                os_reason(&e)
            )),
        };
    }
    if program.is_empty() {
        return Err(fail(nix::errno::Errno::ENOENT));
    }
    let path_var: OsString = match env.get("PATH") {
        Some(p) => p.into(),
        None => std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
    };
    let mut denied = false;
    let mut first_barred = None;
    for dir in std::env::split_paths(&path_var).filter(|d| !d.as_os_str().is_empty()) {
        let candidate = dir.join(program);
        if let Some(meta) = std::fs::metadata(&candidate).ok().filter(|m| m.is_file()) {
            let theirs = account
                .map(|a| RunAs::of(Some(a)))
                .filter(|_| candidate.is_absolute());
            let barred = theirs.as_ref().is_some_and(|ids| {
                ids.barred_on_the_way(&candidate).is_some() || ids.refusal(&meta).is_some()
            });
            if !barred && access(&candidate, AccessFlags::X_OK).is_ok() {
                return absolute(&candidate);
            }
            if barred && first_barred.is_none() {
                first_barred = Some(candidate);
            }
            denied = true;
        }
    }
    // Only ones the user cannot reach: the first, for `check_executable` to say why.
    if let Some(candidate) = first_barred {
        return absolute(&candidate);
    }
    Err(fail(if denied {
        nix::errno::Errno::EACCES
    } else {
        nix::errno::Errno::ENOENT
    }))
}

/// Fails when the exec of `program` (as [`resolve_program`] found it; `given` as the command
/// line has it) is bound to fail for the user it will run as (`account`; `None`: rdaemon's own
/// ids): a directory or another file that is not a regular one, a file whose mode bits do not
/// let that user execute it or that sits behind a directory they may not search, a script whose `#!` line names an interpreter that does not exist,
/// is not a regular file, or that user may not execute (execve(2): EACCES, ENOENT). `start`
/// checks it before it detaches, `restart` before it stops the running daemon, `up` before it
/// starts any entry; the words are those of the exec's own failure (`daemonize`).
///
/// Conservative: only what the mode bits clearly forbid is refused. ACLs are not read: an ACL
/// may let a user execute what the group class allows (its mask), never what it forbids, so a
/// user outside the owner's class is refused only where the group class has no execute bit.
/// Anything unsure (a file that cannot be read, a relative interpreter, an interpreter of an
/// interpreter, the dynamic loader of an ELF program) is left to the exec, which reports it.
pub(crate) fn check_executable(
    program: &Path,
    given: &str,
    account: Option<&Account>,
) -> Result<()> {
    let shown = match program.as_os_str() == OsStr::new(given) {
        true => format!("'{given}'"),
        false => format!("'{given}' ({})", program.display()),
    };
    let fail = |why: String| anyhow::anyhow!("cannot execute {shown}: {why}");
    // Found by `resolve_program` a moment ago; gone meanwhile, the exec says so.
    let Ok(meta) = std::fs::metadata(program) else {
        return Ok(());
    };
    let ids = RunAs::of(account);
    if let Some(why) = ids.barred_on_the_way(program) {
        return Err(fail(why));
    }
    if meta.is_dir() {
        return Err(fail(nix::errno::Errno::EISDIR.desc().into()));
    }
    if let Some(why) = ids.refusal(&meta) {
        return Err(fail(format!(
            "{}: it {why}",
            nix::errno::Errno::EACCES.desc()
        )));
    }
    // Read once, for both: what runs it.
    let head = program_head(program);
    if let Some(why) = head.as_deref().and_then(exec_format_refusal) {
        return Err(fail(why));
    }
    let Some(interpreter) = head.as_deref().and_then(shebang_of) else {
        return Ok(());
    };
    // A relative one is looked up from the daemon's directory, at the exec: left to it.
    if !interpreter.is_absolute() {
        return Ok(());
    }
    if let Some(why) = ids.barred_on_the_way(&interpreter) {
        return Err(fail(format!(
            "the interpreter its #! line names, '{}': {why}",
            interpreter.display()
        )));
    }
    match std::fs::metadata(&interpreter) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let why = crate::fsx::missing_interpreter(program)
                .unwrap_or_else(|| nix::errno::Errno::ENOENT.desc().into());
            Err(fail(why))
        }
        Err(_) => Ok(()),
        Ok(m) => match ids.refusal(&m) {
            Some(why) => Err(fail(format!(
                "{}: the interpreter its #! line names, '{}', {why}",
                nix::errno::Errno::EACCES.desc(),
                interpreter.display()
            ))),
            None => Ok(()),
        },
    }
}

/// Why the daemon's `--user` cannot reach the file at `path` (absolute): a directory on the way
/// to it that they may not search. `None` without `--user` (the program runs with rdaemon's own
/// ids, which made the path), or when they can. For files rdaemon makes for the program, such
/// as the notify socket.
pub(crate) fn barred_for(account: Option<&Account>, path: &Path) -> Option<String> {
    account.and_then(|a| RunAs::of(Some(a)).barred_on_the_way(path))
}

/// Why the daemon's `--user` cannot enter the directory `dir` (absolute): it, or a directory on
/// the way to it, is one they may not search. `None` without `--user`, or when they can.
pub(crate) fn barred_from_dir(account: Option<&Account>, dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let ids = RunAs::of(Some(account?));
    if let Some(why) = ids.barred_on_the_way(dir) {
        return Some(why);
    }
    let meta = std::fs::metadata(dir).ok()?;
    let mode = meta.mode() & 0o7777;
    if ids.uid == 0 || may_execute(mode, meta.uid(), meta.gid(), ids.uid, &ids.gids) {
        return None;
    }
    Some(format!(
        "{}: {} may not search it (mode {mode:03o}, owner uid {}, group {})",
        nix::errno::Errno::EACCES.desc(),
        ids.who.unwrap_or_else(|| format!("uid {}", ids.uid)),
        meta.uid(),
        meta.gid()
    ))
}

/// The ids a program will run with, for [`check_executable`].
struct RunAs {
    uid: u32,
    /// The primary group, then the supplementary ones.
    gids: Vec<u32>,
    /// `user 'nobody' (uid 65534)`, for messages; `None` for rdaemon's own ids.
    who: Option<String>,
}

impl RunAs {
    fn of(account: Option<&Account>) -> RunAs {
        match account {
            Some(a) => RunAs {
                uid: a.creds.uid,
                gids: std::iter::once(a.creds.gid)
                    .chain(a.creds.groups.iter().copied())
                    .collect(),
                who: Some(match &a.login {
                    Some((login, _)) => format!("user '{login}' (uid {})", a.creds.uid),
                    None => format!("uid {}", a.creds.uid),
                }),
            },
            None => {
                let uid = nix::unistd::geteuid().as_raw();
                // Root needs any execute bit, whatever its groups: not read for it.
                let groups = match uid {
                    0 => Vec::new(),
                    _ => nix::unistd::getgroups().unwrap_or_default(),
                };
                RunAs {
                    uid,
                    gids: std::iter::once(nix::unistd::getegid())
                        .chain(groups)
                        .map(|g| g.as_raw())
                        .collect(),
                    who: None,
                }
            }
        }
    }

    /// Why these ids cannot reach the file at `path` (absolute): a directory on the way to it,
    /// as written or as its symbolic links resolve, that the mode bits clearly forbid them to
    /// search (EACCES), such as `/root` (0700) on the way to a program in root's home for
    /// `--user nobody`. Root may search any directory. `None` when every directory may let
    /// them through, or one cannot be looked at (left to the exec).
    fn barred_on_the_way(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        if self.uid == 0 || !path.is_absolute() {
            return None;
        }
        let resolved = std::fs::canonicalize(path).ok();
        let ways = std::iter::once(path).chain(resolved.as_deref());
        for dir in ways.flat_map(Path::ancestors).filter(|d| *d != path) {
            let Ok(meta) = std::fs::metadata(dir) else {
                continue;
            };
            let mode = meta.mode() & 0o7777;
            if meta.is_dir() && !may_execute(mode, meta.uid(), meta.gid(), self.uid, &self.gids) {
                let who = self
                    .who
                    .clone()
                    .unwrap_or_else(|| format!("uid {}", self.uid));
                return Some(format!(
                    "{}: {who} may not search the directory '{}' on the way to it (mode {mode:03o}, owner uid {}, group {})",
                    nix::errno::Errno::EACCES.desc(),
                    dir.display(),
                    meta.uid(),
                    meta.gid()
                ));
            }
        }
        None
    }

    /// Why the exec of the file `meta` describes must fail for these ids, said after "it" (or
    /// after an interpreter's name); `None` when it may succeed.
    fn refusal(&self, meta: &std::fs::Metadata) -> Option<String> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let kind = meta.file_type();
        let other = match () {
            _ if kind.is_dir() => Some("a directory"),
            _ if kind.is_fifo() => Some("a FIFO"),
            _ if kind.is_socket() => Some("a socket"),
            _ if kind.is_char_device() => Some("a character device"),
            _ if kind.is_block_device() => Some("a block device"),
            _ => None,
        };
        if let Some(kind) = other {
            return Some(format!("is {kind}, not a regular file"));
        }
        let mode = meta.mode() & 0o7777;
        if may_execute(mode, meta.uid(), meta.gid(), self.uid, &self.gids) {
            return None;
        }
        Some(match (&self.who, self.uid) {
            (_, 0) => format!("has mode {mode:03o}, with no execute bit"),
            (Some(who), _) => format!(
                "has mode {mode:03o} (owner uid {}, group {}), which does not let {who} execute it",
                meta.uid(),
                meta.gid()
            ),
            (None, uid) => format!(
                "has mode {mode:03o} (owner uid {}, group {}), which does not let uid {uid} execute it",
                meta.uid(),
                meta.gid()
            ),
        })
    }
}

/// Whether the mode bits `mode` of a regular file owned by `owner` and `group` may let a process
/// of `uid` with groups `gids` execute it, as the kernel's permission check reads them: root
/// needs one execute bit, anyone else the bit of the first class they fall in (owner, group,
/// other). `false` only where the mode bits forbid it whatever the file's ACL says: the owner's
/// entry is the owner bits, and a named user's or group's entry is capped by the mask, the
/// group bits; so with the group execute bit set, any user but the owner may be let in.
fn may_execute(mode: u32, owner: u32, group: u32, uid: u32, gids: &[u32]) -> bool {
    if uid == 0 {
        return mode & 0o111 != 0;
    }
    if uid == owner {
        return mode & 0o100 != 0;
    }
    if mode & 0o010 != 0 {
        return true;
    }
    if gids.contains(&group) {
        return false;
    }
    mode & 0o001 != 0
}

/// The interpreter the `#!` line of `program` names, as the kernel reads it (binfmt_script:
/// the first word after `#!` and any blanks, within the first 256 bytes); `None` for a file that
/// is no script, cannot be read, is no regular file once open, or whose line is longer than
/// what was read. Opened as the exec will: through symlinks (`/usr/bin/python3`), but
/// non-blocking, so that a FIFO swapped in meanwhile cannot hang it.
#[cfg(test)]
fn shebang_interpreter(program: &Path) -> Option<PathBuf> {
    shebang_of(&program_head(program)?)
}

/// [`shebang_interpreter`] of a file whose first bytes are `head` ([`program_head`]).
fn shebang_of(head: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let line = head.strip_prefix(b"#!")?;
    let end = line.iter().position(|&b| b == b'\n')?;
    let line = &line[..end];
    let first = line.iter().position(|&b| b != b' ' && b != b'\t')?;
    let name = line[first..]
        .split(|&b| b == b' ' || b == b'\t' || b == 0)
        .next()
        .filter(|n| !n.is_empty())?;
    Some(PathBuf::from(OsStr::from_bytes(name)))
}

/// The first 256 bytes of the regular file `program`; `None` for anything else, or when it
/// cannot be read. Looked at with `O_PATH` first and opened for reading only once it is known
/// to be a regular file (through `/proc/self/fd`, the same inode): a path another user could
/// have swapped for a device between the caller's check and this open is never opened as one
/// (helper-102's lead, 2026-12-03: a device's open can act, a tape rewinds).
fn program_head(program: &Path) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let found = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_PATH)
        .open(program)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&found)
        ))
        .ok()?;
    let mut head = Vec::with_capacity(256);
    file.take(256).read_to_end(&mut head).ok()?;
    Some(head)
}

/// Why the kernel cannot execute the regular file whose first bytes are `head`: it is neither an ELF binary nor a
/// `#!` script (an empty file, a shell script without its `#!` line; SPEC §2 runs no `/bin/sh`
/// in its place, as a shell's own exec would), so the exec fails with `ENOEXEC`. `None` when it
/// may run, when it cannot be read, or unless binfmt_misc is known to hold no other format
/// ([`binfmt_misc_is_empty`]).
fn exec_format_refusal(head: &[u8]) -> Option<String> {
    if head.starts_with(b"\x7fELF") || head.starts_with(b"#!") {
        return None;
    }
    if !binfmt_misc_is_empty(Path::new("/proc/sys/fs/binfmt_misc")) {
        return None;
    }
    Some(format!(
        "{}: it is neither a binary nor a script with a #! line",
        nix::errno::Errno::ENOEXEC.desc()
    ))
}

/// Whether the kernel surely runs no format but ELF and `#!` scripts: binfmt_misc, mounted at
/// `dir`, lists no format of its own, or the kernel has none (no `dir`). Not mounted there
/// (an empty directory: a container, a mount namespace of its own), formats registered
/// elsewhere may still apply, and nothing is known (review, 2026-12-02: a registered format
/// was refused that way).
fn binfmt_misc_is_empty(dir: &Path) -> bool {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return e.kind() == io::ErrorKind::NotFound,
    };
    let names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.iter().any(|n| n == "status") && names.iter().all(|n| n == "status" || n == "register")
}

/// Reads the monitor's report on its first child, as `start` does: the child's pid once it has
/// been executed, or the reason it could not be. One line: the monitor keeps its end open after
/// it, and on success the pipe is handed back ([`Handoff`]): the monitor writes the status only
/// once `start` has closed it, so that the status never has two writers (SPEC §1).
pub fn await_first_child(report: OwnedFd) -> Result<(i32, Handoff)> {
    let mut file = File::from(report);
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while text.len() < 4096 {
        match file.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => text.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("cannot read from the rdaemon monitor"),
        }
    }
    let pid = parse_report(&String::from_utf8_lossy(&text))?;
    Ok((pid, Handoff { pipe: file }))
}

/// `start`'s end of the report pipe, held while `start` still writes the status; dropping it
/// hands the status over to the monitor. Until then the first child is on trial: should it end
/// while `start` waits for its readiness, the monitor says how on this pipe ([`send_exit`]) and
/// restarts nothing (SPEC §2.1).
#[derive(Debug)]
pub struct Handoff {
    pipe: File,
}

impl Handoff {
    /// A copy of this end of the pipe, for the readiness wait to wake on: readable once the
    /// monitor reports the program's end (or is gone). Close-on-exec; the handoff takes place
    /// once every copy is closed.
    pub fn watch(&self) -> Result<OwnedFd> {
        self.pipe
            .as_fd()
            .try_clone_to_owned()
            .context("cannot watch the rdaemon monitor's report")
    }

    /// How the program (the monitor's first child) ended, if the monitor has said so; `None`
    /// when it has not (nothing to read, or end-of-file: the monitor itself is gone). Never
    /// blocks.
    pub fn program_ended(&mut self) -> Option<Ended> {
        let mut fds = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
            return None;
        }
        // The monitor writes the line whole, in one write shorter than PIPE_BUF.
        let mut text = Vec::new();
        let mut byte = [0u8; 1];
        while text.len() < 64 {
            match self.pipe.read(&mut byte) {
                Ok(0) => break,
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => text.push(byte[0]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        parse_exit(&String::from_utf8_lossy(&text))
    }
}

/// Parses `ok PID` / `error MESSAGE`.
fn parse_report(text: &str) -> Result<i32> {
    let text = text.trim_end();
    if let Some(pid) = text.strip_prefix("ok ") {
        return pid
            .parse()
            .ok()
            .filter(|p| *p > 1)
            .with_context(|| format!("internal error: bad report from the monitor: '{text}'"));
    }
    match text.strip_prefix("error ") {
        Some(why) => bail!("{why}"),
        None => bail!("the rdaemon monitor exited before it could start the program"),
    }
}

/// Parses `exit N` / `signal N` (the monitor's [`send_exit`]).
fn parse_exit(text: &str) -> Option<Ended> {
    let (kind, number) = text.trim_end().split_once(' ')?;
    let number: i32 = number.parse().ok()?;
    match kind {
        "exit" => Some(Ended::Code(number)),
        "signal" if number > 0 => Some(Ended::Signal(number, false)),
        _ => None,
    }
}

/// The monitor's word to `start`, on the pipe `start` still holds (`handoff`), that the first
/// child ended before `start` saw it ready: `exit N` or `signal N`. A `start` already gone
/// cannot be told: the pipe is dropped, which hands over.
pub(crate) fn send_exit(handoff: &mut Option<File>, ended: Ended) {
    if let Some(file) = handoff {
        let line = match ended {
            Ended::Code(code) => format!("exit {code}\n"),
            Ended::Signal(sig, _) => format!("signal {sig}\n"),
        };
        if file.write_all(line.as_bytes()).is_err() {
            *handoff = None;
        }
    }
}

/// The monitor's report on its first child: `ok PID` once it runs, `error MESSAGE` if it could
/// not be started (`start` then fails with MESSAGE). A `start` already gone cannot be told.
pub(crate) fn send_report(report: &mut Option<File>, outcome: Result<i32, &anyhow::Error>) {
    if let Some(file) = report {
        let line = match outcome {
            Ok(pid) => format!("ok {pid}\n"),
            Err(err) => format!("error {}\n", crate::exit::render(err)),
        };
        // `start` may be gone (killed): then nobody needs the answer, nor waits to hand over.
        if file.write_all(line.as_bytes()).is_err() {
            *report = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse() {
        assert_eq!(parse_report("ok 1234\n").unwrap(), 1234);
        let err = parse_report("error cannot execute 'x': Exec format error\n").unwrap_err();
        assert_eq!(err.to_string(), "cannot execute 'x': Exec format error");
        assert!(parse_report("")
            .unwrap_err()
            .to_string()
            .contains("exited before"));
        assert!(parse_report("ok 1").is_err());
        assert!(parse_report("ok x").is_err());
    }

    #[test]
    fn exit_reports_round_trip() {
        for ended in [Ended::Code(0), Ended::Code(9), Ended::Signal(9, false)] {
            let (read, write) = nix::unistd::pipe().unwrap();
            let mut handoff = Some(File::from(write));
            send_exit(&mut handoff, ended);
            assert!(handoff.is_some());
            let mut start = Handoff {
                pipe: File::from(read),
            };
            assert_eq!(start.program_ended(), Some(ended));
            // Nothing more to read: no answer, and no wait.
            assert_eq!(start.program_ended(), None);
            drop(handoff);
            // End-of-file: the monitor is gone without a word.
            assert_eq!(start.program_ended(), None);
        }
        assert_eq!(parse_exit("exit x"), None);
        assert_eq!(parse_exit("signal 0"), None);
        assert_eq!(parse_exit("ok 1234"), None);
        assert_eq!(parse_exit(""), None);
    }

    #[test]
    fn an_exit_report_to_a_start_that_is_gone_hands_over() {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let mut handoff = Some(File::from(write));
        // EPIPE (the test binary ignores SIGPIPE, as Rust programs do; the monitor catches it).
        send_exit(&mut handoff, Ended::Code(1));
        assert!(handoff.is_none());
    }

    fn ctx(dir: &std::path::Path) -> Ctx {
        Ctx::new(Some(dir.to_owned()), true, 0).unwrap()
    }

    fn spec(ctx: &Ctx, command: &[&str]) -> Spec {
        let name = Name::parse("web").unwrap();
        Spec::new(
            ctx,
            name,
            None,
            command.iter().map(|s| s.to_string()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_plan_carries_the_spec_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let plan = plan(&ctx, &spec(&ctx, &["/bin/sh", "-c", "true"])).unwrap();
        assert_eq!(plan.program, PathBuf::from("/bin/sh"));
        assert_eq!(plan.argv, ["/bin/sh", "-c", "true"]);
        assert_eq!(plan.chdir, PathBuf::from("/"));
        assert_eq!(plan.umask, 0o022);
        assert_eq!(plan.ready, ReadySpec::Exec);
        assert_eq!(plan.ready_timeout, Duration::from_secs(30));
        assert_eq!(plan.cgroup, CgroupMode::Auto);
        assert_eq!(plan.stdout, ctx.default_log_path(&plan.name));
        assert_eq!(plan.stdout, plan.stderr);
        assert!(plan.account.is_none() && plan.respawn.is_none() && !plan.has_limits());
    }

    #[test]
    fn a_supervised_plan_has_typed_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut spec = spec(&ctx, &["/bin/sh"]);
        spec.respawn = Some(crate::state::Respawn::default());
        let s = plan(&ctx, &spec).unwrap().respawn.unwrap();
        assert_eq!(s.restart_delay, Duration::from_secs(1));
        assert_eq!(s.max_restarts, 5);
        assert_eq!(s.restart_window, Duration::from_secs(60));
        assert_eq!((s.log_max_size, s.log_keep), (None, 5));
    }

    #[test]
    fn the_environment_is_rdaemons_then_the_user_then_env() {
        let base = [
            ("PATH", "/usr/bin"),
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("USER", "root"),
            ("KEEP", "1"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let account = Account {
            creds: daemonize::Credentials {
                uid: 65534,
                gid: 65534,
                groups: vec![],
            },
            login: Some(("nobody".into(), "/nonexistent".into())),
            shell: Some("/usr/sbin/nologin".into()),
        };
        let overrides = BTreeMap::from([
            ("HOME".to_string(), "/srv".to_string()),
            ("BOTH".to_string(), "env".to_string()),
        ]);
        let files = BTreeMap::from([
            ("KEEP".to_string(), "file".to_string()),
            ("BOTH".to_string(), "file".to_string()),
        ]);
        let env = environment(base.clone(), false, Some(&account), &files, &overrides);
        let get = |k: &str| env.get(OsStr::new(k)).map(|v| v.to_str().unwrap());
        assert_eq!(get("NOTIFY_SOCKET"), None);
        assert_eq!(get("USER"), Some("nobody"));
        assert_eq!(get("LOGNAME"), Some("nobody"));
        assert_eq!(get("SHELL"), Some("/usr/sbin/nologin"));
        // --env wins over the account's.
        assert_eq!(get("HOME"), Some("/srv"));
        // The env files win over rdaemon's environment, --env over the files.
        assert_eq!(get("KEEP"), Some("file"));
        assert_eq!(get("BOTH"), Some("env"));
        assert_eq!(get("PATH"), Some("/usr/bin"));
        // In the foreground, the daemon reports to rdaemon's own supervisor.
        let env = environment(base, true, None, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            env.get(OsStr::new("NOTIFY_SOCKET")),
            Some(&OsString::from("/run/systemd/notify"))
        );
        assert_eq!(env.get(OsStr::new("USER")), Some(&OsString::from("root")));
        // An empty shell in the user database is /bin/sh (passwd(5)); --env still wins.
        let account = Account {
            shell: Some("".into()),
            ..account
        };
        let env = environment(
            [],
            false,
            Some(&account),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        assert_eq!(
            env.get(OsStr::new("SHELL")),
            Some(&OsString::from("/bin/sh"))
        );
        let mine = BTreeMap::from([("SHELL".to_string(), "/bin/dash".to_string())]);
        let env = environment([], false, Some(&account), &BTreeMap::new(), &mine);
        assert_eq!(
            env.get(OsStr::new("SHELL")),
            Some(&OsString::from("/bin/dash"))
        );
    }

    #[test]
    fn mode_bits_let_execute_as_the_kernel_reads_them() {
        // (mode, owner, group, uid, groups) -> may execute
        let cases = [
            // Root: any execute bit.
            (0o644, 1000, 1000, 0, vec![0], false),
            (0o001, 1000, 1000, 0, vec![0], true),
            (0o010, 1000, 1000, 0, vec![0], true),
            // The owner: the owner's bit alone, even where others have theirs.
            (0o755, 1000, 1000, 1000, vec![1000], true),
            (0o055, 1000, 1000, 1000, vec![1000], false),
            // In the file's group, without the group's bit: refused, whatever other says.
            (0o705, 0, 50, 1000, vec![1000, 50], false),
            (0o715, 0, 50, 1000, vec![1000, 50], true),
            // Other: other's bit; with the group's bit set, an ACL may let anyone in.
            (0o701, 0, 50, 1000, vec![1000], true),
            (0o700, 0, 50, 1000, vec![1000], false),
            (0o710, 0, 50, 1000, vec![1000], true),
        ];
        for (mode, owner, group, uid, gids, expected) in cases {
            assert_eq!(
                may_execute(mode, owner, group, uid, &gids),
                expected,
                "mode {mode:o}, owner {owner}:{group}, uid {uid} {gids:?}"
            );
        }
    }

    #[test]
    fn the_interpreter_is_read_from_the_shebang_line() {
        let dir = tempfile::tempdir().unwrap();
        let at = |content: &[u8]| {
            let path = dir.path().join("script");
            std::fs::write(&path, content).unwrap();
            shebang_interpreter(&path)
        };
        let some = |p: &str| Some(PathBuf::from(p));
        assert_eq!(at(b"#!/bin/sh\necho\n"), some("/bin/sh"));
        assert_eq!(at(b"#! \t/usr/bin/env python3 -u\n"), some("/usr/bin/env"));
        assert_eq!(at(b"#!/bin/sh\r\n"), some("/bin/sh\r"));
        assert_eq!(at(b"#!python\n"), some("python"));
        // No script, no interpreter named, or a line longer than the kernel reads.
        assert_eq!(at(b"\x7fELF\x02\x01"), None);
        assert_eq!(at(b"#!\n"), None);
        assert_eq!(at(b"#!   \n"), None);
        let long = [b"#!/".as_slice(), &[b'a'; 300], b"\n"].concat();
        assert_eq!(at(&long), None);
        assert_eq!(shebang_interpreter(&dir.path().join("missing")), None);
    }

    #[test]
    fn binfmt_misc_is_known_empty_only_when_it_says_so() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("binfmt_misc");
        // No binfmt_misc in the kernel: no other format.
        assert!(binfmt_misc_is_empty(&dir));
        // Not mounted (an empty directory): nothing known.
        std::fs::create_dir(&dir).unwrap();
        assert!(!binfmt_misc_is_empty(&dir));
        for name in ["status", "register"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        assert!(binfmt_misc_is_empty(&dir));
        std::fs::write(dir.join("qemu-arm"), "enabled\n").unwrap();
        assert!(!binfmt_misc_is_empty(&dir));
    }

    #[test]
    fn a_program_that_cannot_be_executed_is_refused_saying_why() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, content: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        let why = |path: &Path, given: &str| {
            check_executable(path, given, None)
                .err()
                .map(|e| e.to_string())
        };
        let fine = file("fine.sh", "#!/bin/sh\n", 0o755);
        assert_eq!(why(&fine, fine.to_str().unwrap()), None);
        // Neither a binary nor a script: the exec's ENOEXEC, unless binfmt_misc knows formats
        // (then left to the exec).
        let plain = file("plain", "true\n", 0o755);
        match !binfmt_misc_is_empty(Path::new("/proc/sys/fs/binfmt_misc")) {
            true => assert_eq!(why(&plain, "plain"), None),
            false => assert_eq!(
                why(&plain, "plain").unwrap(),
                format!(
                    "cannot execute 'plain' ({}): Exec format error: it is neither a binary nor a script with a #! line",
                    plain.display()
                )
            ),
        }
        let shut = file("shut.sh", "#!/bin/sh\n", 0o644);
        let text = why(&shut, "shut").unwrap();
        assert!(
            text.starts_with(&format!(
                "cannot execute 'shut' ({}): Permission denied: it has mode 644",
                shut.display()
            )),
            "{text}"
        );
        assert_eq!(
            why(dir.path(), "d").unwrap(),
            format!(
                "cannot execute 'd' ({}): Is a directory",
                dir.path().display()
            )
        );
        let orphan = file("orphan.sh", "#!/no/such/sh -e\n", 0o755);
        assert_eq!(
            why(&orphan, "orphan").unwrap(),
            format!(
                "cannot execute 'orphan' ({}): the interpreter its #! line names, '/no/such/sh', does not exist",
                orphan.display()
            )
        );
        let via_dir = file("via-dir.sh", "#!/\n", 0o755);
        assert!(why(&via_dir, "v")
            .unwrap()
            .ends_with("Permission denied: the interpreter its #! line names, '/', is a directory, not a regular file"));
        // A relative interpreter is looked up from the daemon's directory: not here.
        let relative = file("relative.sh", "#!no/such/sh\n", 0o755);
        assert_eq!(why(&relative, "r"), None);
    }

    #[test]
    fn the_program_is_found_in_the_daemons_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("only-here");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ctx = ctx(dir.path());
        let mut spec = spec(&ctx, &["only-here"]);
        assert!(plan(&ctx, &spec)
            .unwrap_err()
            .to_string()
            .contains("cannot execute 'only-here'"));
        spec.env
            .insert("PATH".into(), format!("/nonexistent:{}", bin.display()));
        let plan = plan(&ctx, &spec).unwrap();
        assert_eq!(plan.program, tool);
        assert_eq!(plan.argv, ["only-here"]);
        assert_eq!(
            plan.env.get(OsStr::new("PATH")),
            Some(&OsString::from(format!("/nonexistent:{}", bin.display())))
        );
    }
}
