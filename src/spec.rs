//! A daemon's spec, typed ([`Spec`]: what `start` runs, built from the command line or from the
//! spec file), and its defaults (SPEC §2, §3, §6), in one place, [`Spec::default`] (with
//! `Respawn::default` for the supervised part, and [`STOP_TIMEOUT`] while the spec keeps no stop
//! timeout): `start` fills a spec with them, `export` falls back on them for what a spec does not
//! say, the command line's help says them (a unit test of `cli` checks it), `stop` and `start`
//! (a daemon that did not become ready) stop on them. The spec file itself is `state`'s
//! (`NAME.json`); launching a spec is `plan`'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use nix::sys::signal::Signal;

use crate::account::{self, Account};
use crate::cli::{CgroupMode, StartOpts};
use crate::exit::Fail;
use crate::parse::{parse_signal, signal_name, Name};
use crate::paths::{absolute, Ctx};
use crate::process::Pid;
use crate::procopts::Limit;
use crate::ready::ReadySpec;
use crate::state::{now_rfc3339, Mode, Record, Respawn};

/// `--stop-timeout`'s default: how long after the first signal SIGKILL follows (`stop`,
/// `start` for a daemon that did not become ready, the monitor for what a child left behind),
/// for [`Spec::default`] and for a pidfile that no spec describes ([`stop_settings`]).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// `--stop-signal`'s default: what `stop` sends first.
pub const STOP_SIGNAL: Signal = Signal::SIGTERM;
/// `--reload-signal`'s default: what `reload` sends.
pub const RELOAD_SIGNAL: Signal = Signal::SIGHUP;

/// What to start: the resolved command line and options, from `start`'s arguments or from a
/// record plus `restart`'s overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The daemon's name.
    pub name: Name,
    /// Absolute pidfile path.
    pub pidfile: PathBuf,
    /// argv; a program given with a `/` is made absolute.
    pub command: Vec<String>,
    /// Working directory (absolute).
    pub chdir: PathBuf,
    /// File mode creation mask.
    pub umask: u32,
    /// `--env` overrides.
    pub env: BTreeMap<String, String>,
    /// stdout file (absolute).
    pub stdout: PathBuf,
    /// stderr file (absolute).
    pub stderr: PathBuf,
    /// Supervised mode's options; `None` in exec mode.
    pub respawn: Option<Respawn>,
    /// `--user`: user name or uid to run as.
    pub user: Option<String>,
    /// `--group` (or the GROUP of `--user USER:GROUP`): group name or gid to run with.
    pub group: Option<String>,
    /// What "started" means.
    pub ready: ReadySpec,
    /// How long to wait for readiness.
    pub ready_timeout: Duration,
    /// `--foreground`: exec in place instead of detaching (recorded as the spec's `foreground`,
    /// but never started so again: a start from the spec detaches).
    pub foreground: bool,
    /// `--foreground` without log options: keep rdaemon's stdin, stdout and stderr (`stdout` and
    /// `stderr` then say what they are, as `/proc/self/fd` shows them).
    pub inherit_output: bool,
    /// `--cgroup`.
    pub cgroup: CgroupMode,
    /// `--memory-max`, in bytes.
    pub memory_max: Option<u64>,
    /// `--tasks-max`.
    pub tasks_max: Option<u64>,
    /// The `up` file it comes from (absolute), if any.
    pub source: Option<PathBuf>,
    /// The daemons of its `up` file it starts after.
    pub after: Vec<Name>,
    /// `--env-file`s (absolute), read at every start, in order.
    pub env_files: Vec<PathBuf>,
    /// `--limit`s, one per resource, by resource name: the order the spec file keeps them in
    /// (a map), so that a spec read back equals the one given in any order.
    pub limits: Vec<Limit>,
    /// `--nice`.
    pub nice: Option<i32>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--stop-signal`.
    pub stop_signal: Signal,
    /// `--stop-timeout`.
    pub stop_timeout: Duration,
    /// `--reload-signal`.
    pub reload_signal: Signal,
    /// `--forking`: the program daemonizes itself (SPEC §2.2).
    pub forking: bool,
    /// With `--forking`, `pidfile` is the program's own (`--pidfile` given): rdaemon only reads
    /// it. Without, rdaemon writes its default pidfile as for any daemon.
    pub program_pidfile: bool,
}

impl Default for Spec {
    /// The defaults of SPEC §2, §3 and §6, written nowhere else. What depends on the daemon and
    /// its directory (`name`, `pidfile`, `command`, the log files) is a placeholder here:
    /// [`Spec::new`] sets it.
    fn default() -> Spec {
        Spec {
            name: Name::parse("daemon").expect("a valid name"),
            pidfile: PathBuf::new(),
            command: Vec::new(),
            chdir: PathBuf::from("/"),
            umask: 0o022,
            env: BTreeMap::new(),
            stdout: PathBuf::new(),
            stderr: PathBuf::new(),
            respawn: None,
            user: None,
            group: None,
            ready: ReadySpec::Exec,
            ready_timeout: Duration::from_secs(30),
            foreground: false,
            inherit_output: false,
            cgroup: CgroupMode::Auto,
            memory_max: None,
            tasks_max: None,
            source: None,
            after: Vec::new(),
            env_files: Vec::new(),
            limits: Vec::new(),
            nice: None,
            oom_score_adj: None,
            stop_signal: STOP_SIGNAL,
            stop_timeout: STOP_TIMEOUT,
            reload_signal: RELOAD_SIGNAL,
            forking: false,
            program_pidfile: false,
        }
    }
}

impl Spec {
    /// A spec with the defaults ([`Spec::default`]) for `command`.
    pub fn new(
        ctx: &Ctx,
        name: Name,
        pidfile: Option<&Path>,
        command: Vec<String>,
    ) -> Result<Spec> {
        let log = ctx.default_log_path(&name);
        Ok(Spec {
            pidfile: match pidfile {
                Some(p) => absolute(p)?,
                None => ctx.pidfile_path(&name),
            },
            name,
            command,
            stdout: log.clone(),
            stderr: log,
            ..Spec::default()
        })
    }

    /// The spec `start` builds for a new command line (`rdaemon start [OPTIONS] -- PROGRAM`,
    /// and `up` for each entry, which compares it with a running daemon's): `command` (UTF-8,
    /// a program with a `/` already absolute) as `name`, the defaults, the options given, and
    /// the `up` file's `source` and `after`.
    pub fn from_start(
        ctx: &Ctx,
        name: Name,
        args: &crate::cli::StartArgs,
        command: Vec<String>,
    ) -> Result<Spec> {
        let mut spec = Spec::new(ctx, name, args.pidfile.as_deref(), command)?;
        spec.apply(&args.opts)?;
        spec.program_pidfile = spec.forking && args.pidfile.is_some();
        spec.source.clone_from(&args.source);
        spec.after.clone_from(&args.after);
        Ok(spec)
    }

    /// The spec a record describes. A stream a `--foreground` start inherited (the caller's
    /// terminal, pipe or file) goes to the default log instead: it was never a log to write to
    /// (a user's trial: `resurrect` appended to the caller's file).
    pub fn from_record(ctx: &Ctx, rec: &Record) -> Result<Spec> {
        let corrupt = |e: String| anyhow::anyhow!("corrupt record for {}: {e}", rec.name);
        let stream = |p: &PathBuf| {
            if p.is_absolute() && !rec.inherited_output {
                p.clone()
            } else {
                ctx.default_log_path(&rec.name)
            }
        };
        Ok(Spec {
            name: rec.name.clone(),
            pidfile: rec.pidfile.clone(),
            command: rec.command.clone(),
            chdir: rec.chdir.clone(),
            umask: crate::parse::parse_umask(&rec.umask).map_err(corrupt)?,
            env: rec.env.clone(),
            stdout: stream(&rec.stdout),
            stderr: stream(&rec.stderr),
            respawn: match rec.mode {
                Mode::Exec | Mode::Forking => None,
                Mode::Respawn => Some(rec.respawn.clone().unwrap_or_default()),
            },
            user: rec.user.clone(),
            group: rec.group.clone(),
            ready: ReadySpec::parse(&rec.ready).map_err(corrupt)?,
            ready_timeout: rec.ready_timeout.unwrap_or(Spec::default().ready_timeout),
            foreground: false,
            inherit_output: false,
            cgroup: CgroupMode::from_record(rec.cgroup_mode.as_deref()),
            memory_max: rec.memory_max,
            tasks_max: rec.tasks_max,
            source: rec.source.clone(),
            after: rec.after.clone(),
            env_files: rec.env_files.clone(),
            limits: rec
                .limits
                .iter()
                .map(|(res, value)| Limit::parse(&format!("{res}={value}")))
                .collect::<Result<_, _>>()
                .map_err(corrupt)?,
            nice: rec.nice,
            oom_score_adj: rec.oom_score_adj,
            stop_signal: stop_signal(rec).map_err(corrupt)?,
            stop_timeout: stop_timeout(rec).map_err(corrupt)?,
            reload_signal: reload_signal(rec).map_err(corrupt)?,
            forking: rec.forking || rec.mode == Mode::Forking,
            program_pidfile: rec.program_pidfile,
        })
    }

    /// Applies options given on the command line over what the spec holds.
    pub fn apply(&mut self, opts: &StartOpts) -> Result<()> {
        if let Some(log) = &opts.log {
            self.stdout = absolute(log)?;
            self.stderr = self.stdout.clone();
        }
        if let Some(p) = &opts.stdout {
            self.stdout = absolute(p)?;
        }
        if let Some(p) = &opts.stderr {
            self.stderr = absolute(p)?;
        }
        if let Some(d) = &opts.chdir {
            self.chdir = absolute(d)?;
        }
        if let Some(u) = opts.umask {
            self.umask = u;
        }
        self.env.extend(opts.env.iter().cloned());
        if !opts.env_file.is_empty() {
            // The files given replace the spec's: they are one ordered list.
            self.env_files = opts
                .env_file
                .iter()
                .map(|p| absolute(p))
                .collect::<Result<_>>()?;
        }
        for limit in &opts.limit {
            self.limits.retain(|l| l.resource != limit.resource);
            self.limits.push(*limit);
        }
        // As the spec file keeps them (by name): `--limit nofile=1024 --limit core=0` is the
        // spec of a daemon started so. In the order given, it differed from the one read back,
        // and a second identical `start` said "with other options (--limit)", exit 1, and `up`
        // restarted such an entry every time (helper-126).
        self.limits.sort_by_key(|l| l.resource.as_str());
        if let Some(n) = opts.nice {
            self.nice = Some(n);
        }
        if let Some(n) = opts.oom_score_adj {
            self.oom_score_adj = Some(n);
        }
        if let Some(sig) = opts.stop_signal {
            self.stop_signal = sig;
        }
        if let Some(t) = opts.stop_timeout {
            self.stop_timeout = t;
        }
        if let Some(sig) = opts.reload_signal {
            self.reload_signal = sig;
        }
        if let Some(ready) = &opts.ready {
            self.ready = match ready {
                ReadySpec::File(p) => ReadySpec::File(absolute(p)?),
                other => other.clone(),
            };
        }
        if let Some(t) = opts.ready_timeout {
            self.ready_timeout = t;
        }
        if let Some(spec) = &opts.user {
            // A new user comes with its own group (given, or its primary one).
            self.user = Some(spec.user.clone());
            self.group = spec.group.clone();
        }
        if let Some(group) = &opts.group {
            if let Some(given) = opts.user.as_ref().and_then(|u| u.group.as_ref()) {
                bail!(Fail::usage(format!(
                    "--group {group} conflicts with the group in --user {}:{given}: give one of them",
                    opts.user.as_ref().map(|u| u.user.as_str()).unwrap_or_default()
                )));
            }
            self.group = Some(group.clone());
        }
        if let Some(mode) = opts.cgroup {
            self.cgroup = mode;
        }
        if let Some(n) = opts.memory_max {
            self.memory_max = Some(n);
        }
        if let Some(n) = opts.tasks_max {
            self.tasks_max = Some(n);
        }
        if self.cgroup == CgroupMode::Off && self.has_limits() {
            bail!(Fail::usage(
                "--memory-max and --tasks-max need a cgroup: they do not work with --cgroup off"
            ));
        }
        if opts.forking {
            self.forking = true;
        }
        if opts.respawn && self.respawn.is_none() {
            self.respawn = Some(Respawn::default());
        }
        let Some(respawn) = &mut self.respawn else {
            let given = [
                ("--restart-delay", opts.restart_delay.is_some()),
                ("--max-restarts", opts.max_restarts.is_some()),
                ("--restart-window", opts.restart_window.is_some()),
                ("--log-max-size", opts.log_max_size.is_some()),
                ("--log-keep", opts.log_keep.is_some()),
                ("--restart", opts.restart.is_some()),
                ("--health", opts.health.is_some()),
                ("--health-interval", opts.health_interval.is_some()),
                ("--health-retries", opts.health_retries.is_some()),
                ("--watchdog", opts.watchdog.is_some()),
                ("--on-exit", opts.on_exit.is_some()),
                ("--log-timestamps", opts.log_timestamps),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
                bail!(Fail::usage(format!(
                    "{flag} works only in supervised mode: add --respawn"
                )));
            }
            return Ok(());
        };
        if let Some(d) = opts.restart_delay {
            respawn.restart_delay = d;
        }
        if let Some(n) = opts.max_restarts {
            respawn.max_restarts = n;
        }
        if let Some(d) = opts.restart_window {
            respawn.restart_window = d;
        }
        if let Some(n) = opts.log_max_size {
            respawn.log_max_size = Some(n);
        }
        if let Some(n) = opts.log_keep {
            respawn.log_keep = n;
        }
        if let Some(policy) = opts.restart {
            respawn.restart = policy;
        }
        if let Some(health) = &opts.health {
            let health = match health {
                ReadySpec::File(p) => ReadySpec::File(absolute(p)?),
                other => other.clone(),
            };
            respawn.health = Some(health.to_string());
        }
        if let Some(d) = opts.health_interval {
            respawn.health_interval = d;
        }
        if let Some(n) = opts.health_retries {
            respawn.health_retries = n;
        }
        if let Some(d) = opts.watchdog {
            respawn.watchdog = Some(d);
        }
        if let Some(command) = &opts.on_exit {
            respawn.on_exit = Some(command.clone());
        }
        if opts.log_timestamps {
            respawn.log_timestamps = true;
        }
        if respawn.watchdog.is_some() && self.ready != ReadySpec::Notify {
            bail!(Fail::usage(format!(
                "--watchdog needs --ready notify: the program sends WATCHDOG=1 on its NOTIFY_SOCKET (--ready is {})",
                self.ready
            )));
        }
        Ok(())
    }

    /// Resolves `--user`/`--group` to ids. Refused unless rdaemon runs as root (exit 4); an
    /// unknown user or group is exit 1. Called before anything is created or stopped.
    pub fn account(&self, ctx: &Ctx) -> Result<Option<Account>> {
        if self.user.is_none() && self.group.is_none() {
            return Ok(None);
        }
        let who = match (&self.user, &self.group) {
            (Some(u), Some(g)) => format!("user '{u}' and group '{g}'"),
            (Some(u), None) => format!("user '{u}'"),
            (None, g) => format!("group '{}'", g.as_deref().unwrap_or_default()),
        };
        if !ctx.is_root {
            bail!(Fail::privilege(format!(
                "cannot run {} as {who}: --user and --group need root (rdaemon runs as uid {})",
                self.name,
                ctx.uid()
            )));
        }
        account::resolve(self.user.as_deref(), self.group.as_deref(), ctx.uid()).map(Some)
    }

    /// The limits, nice value and OOM score adjustment the program gets.
    pub fn tuning(&self) -> crate::daemonize::Tuning {
        crate::procopts::tuning(&self.limits, self.nice, self.oom_score_adj)
    }

    /// The environment the env files give, read now for a daemon running as `account` (a
    /// missing file is exit 1, a malformed line exit 2).
    pub fn env_file_vars(&self, account: Option<&Account>) -> Result<BTreeMap<String, String>> {
        crate::procopts::read_env_files(&self.env_files, account.map(|a| &a.creds))
    }

    /// Checks, before anything is detached, that the env files can be read and that the
    /// kernel accepts the limits, nice value and OOM score adjustment (a trial in a forked
    /// child: `daemonize::try_tuning`); a refusal is exit 1 naming the option.
    pub fn check_process_settings(&self, account: Option<&Account>) -> Result<()> {
        self.env_file_vars(account)?;
        self.check_tuning()
    }

    /// Checks that the kernel accepts the limits, nice value and OOM score adjustment (a trial
    /// in a forked child: `daemonize::try_tuning`); a refusal is exit 1 naming the option.
    pub fn check_tuning(&self) -> Result<()> {
        let refused = match crate::daemonize::try_tuning(&self.tuning())? {
            None => return Ok(()),
            Some(r) => r,
        };
        use crate::daemonize::Refused;
        match refused {
            Refused::Rlimit(i, errno) => {
                let Some(limit) = self.limits.get(i) else {
                    bail!("cannot set a resource limit: {}", errno.desc())
                };
                bail!(
                    "cannot set --limit {limit}: the kernel refuses it ({}: {})",
                    errno.desc(),
                    crate::procopts::refusal_hint(limit)
                )
            }
            Refused::Nice(errno) => bail!(
                "cannot set --nice {}: the kernel refuses it ({}; a negative nice value needs root)",
                self.nice.unwrap_or_default(),
                errno.desc()
            ),
            Refused::OomScoreAdj(errno) => bail!(
                "cannot set --oom-score-adj {}: the kernel refuses it ({}; lowering it needs CAP_SYS_RESOURCE, which a container's root may lack)",
                self.oom_score_adj.unwrap_or_default(),
                errno.desc()
            ),
        }
    }

    /// Whether it sets a limit that needs a cgroup.
    pub fn has_limits(&self) -> bool {
        self.memory_max.is_some() || self.tasks_max.is_some()
    }

    /// The record of this spec started as `pid`.
    pub fn record(&self, pid: Pid, start_time: u64, boot_id: &str) -> Record {
        Record {
            pid: Some(pid.get()),
            start_time: Some(start_time),
            boot_id: Some(boot_id.to_owned()),
            started_boot: Some(boot_id.to_owned()),
            ..self.unstarted()
        }
    }

    /// The record of this spec before anything runs (no pid, wanted stopped): what `export -f`
    /// describes for an entry of an `up` file.
    pub fn unstarted(&self) -> Record {
        Record {
            name: self.name.clone(),
            pidfile: self.pidfile.clone(),
            pid: None,
            child_pid: None,
            child_start_time: None,
            start_time: None,
            boot_id: None,
            pidfs: None,
            session: None,
            session_inode: None,
            command: self.command.clone(),
            chdir: self.chdir.clone(),
            umask: crate::parse::format_umask(self.umask),
            env: self.env.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            mode: match self.respawn {
                None => Mode::Exec,
                Some(_) => Mode::Respawn,
            },
            forking: self.forking,
            program_pidfile: self.forking && self.program_pidfile,
            foreground: self.foreground,
            inherited_output: self.inherit_output,
            ready: self.ready.to_string(),
            ready_timeout: Some(self.ready_timeout),
            status_text: None,
            start_failed: None,
            health_failing: None,
            notify: Default::default(),
            started_at: Some(now_rfc3339()),
            restarts: 0,
            last_exit: None,
            respawn: self.respawn.clone(),
            failed: false,
            stopped: false,
            // Wanted running only once this start has succeeded, or, when the exec is all it
            // waits for, once it has begun (`start` says so in the spec it writes while it
            // forks): a start that fails or times out leaves a daemon that is `stopped`, not
            // `dead`.
            stopping: true,
            cgroup_mode: Some(self.cgroup.as_str().to_owned()),
            memory_max: self.memory_max,
            tasks_max: self.tasks_max,
            env_files: self.env_files.clone(),
            limits: self
                .limits
                .iter()
                .map(|l| (l.resource.as_str().to_owned(), l.value_text()))
                .collect(),
            nice: self.nice,
            oom_score_adj: self.oom_score_adj,
            stop_signal: Some(signal_name(self.stop_signal).to_owned()),
            stop_timeout: Some(self.stop_timeout),
            reload_signal: Some(signal_name(self.reload_signal).to_owned()),
            cgroup: None,
            cgroup_id: None,
            source: self.source.clone(),
            after: self.after.clone(),
            started_boot: None,
        }
    }
}

/// The stop signal a record keeps (`TERM` when it keeps none).
pub fn stop_signal(rec: &Record) -> Result<Signal, String> {
    rec.stop_signal
        .as_deref()
        .map_or(Ok(STOP_SIGNAL), parse_signal)
}

/// The stop timeout a record keeps (`10s` when it keeps none).
pub fn stop_timeout(rec: &Record) -> Result<Duration, String> {
    Ok(rec.stop_timeout.unwrap_or(STOP_TIMEOUT))
}

/// The reload signal a record keeps (`HUP` when it keeps none).
pub fn reload_signal(rec: &Record) -> Result<Signal, String> {
    rec.reload_signal
        .as_deref()
        .map_or(Ok(RELOAD_SIGNAL), parse_signal)
}

/// What `stop` uses unless told otherwise: the record's stop signal and timeout, or the
/// defaults (for a pidfile without a record, or a record that keeps none or a corrupt one).
pub fn stop_settings(rec: Option<&Record>) -> (Signal, Duration) {
    match rec {
        Some(rec) => (
            stop_signal(rec).unwrap_or(STOP_SIGNAL),
            stop_timeout(rec).unwrap_or(STOP_TIMEOUT),
        ),
        None => (STOP_SIGNAL, STOP_TIMEOUT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Spec::new` adds only what depends on the daemon and its directory to `Spec::default`,
    /// the one home of the defaults (SPEC §2, §3, §6).
    #[test]
    fn a_new_spec_is_the_default_with_its_name_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx::new(Some(dir.path().to_owned()), true, 0).unwrap();
        let name = Name::parse("web").unwrap();
        let spec = Spec::new(&ctx, name.clone(), None, vec!["web".into()]).unwrap();
        let log = ctx.default_log_path(&name);
        assert_eq!(
            spec,
            Spec {
                name: name.clone(),
                pidfile: ctx.pidfile_path(&name),
                command: vec!["web".into()],
                stdout: log.clone(),
                stderr: log,
                ..Spec::default()
            }
        );
        let d = Spec::default();
        assert_eq!((d.chdir, d.umask), (PathBuf::from("/"), 0o022));
        assert_eq!(
            (d.ready, d.ready_timeout),
            (ReadySpec::Exec, Duration::from_secs(30))
        );
        assert_eq!((d.cgroup, d.respawn), (CgroupMode::Auto, None));
        let r = Respawn::default();
        assert_eq!(
            (
                r.restart_delay,
                r.max_restarts,
                r.restart_window,
                r.log_keep
            ),
            (Duration::from_secs(1), 5, Duration::from_secs(60), 5)
        );
        assert_eq!(STOP_TIMEOUT, Duration::from_secs(10));
        assert_eq!(
            (d.stop_signal, d.stop_timeout, d.reload_signal),
            (Signal::SIGTERM, STOP_TIMEOUT, Signal::SIGHUP)
        );
        assert!(d.env_files.is_empty() && d.limits.is_empty());
        assert_eq!((d.nice, d.oom_score_adj), (None, None));
    }
}
