//! What a start is bound to fail on, checked creating and changing nothing ([`preflight`]):
//! the account, the program, the directories, the log files, the env files and limits, the
//! readiness spec, the cgroup. `restart` runs it before it stops the running daemon, `up`
//! for every entry it is about to start before it starts any; `start` checks the same again
//! as it goes, and opens the files for real. Also the refusal of a `--ready tcp:`/`http:` port
//! another process already listens on ([`refuse_busy_port`]), which `start` and `up` share, and
//! the one rule of what puts two daemons in each other's way ([`in_the_way`]: one pidfile, one
//! readiness port or file, a log one's readiness reads and the other writes), by which
//! `resurrect` orders its starts and `up` refuses a file. Below `commands/`, where all of them
//! reach it.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::unistd::{access, AccessFlags};

use crate::account::Account;
use crate::cgroup::{self, Cgroup};
use crate::cli::CgroupMode;
use crate::exit::Fail;
use crate::fsx::{self, Dir, Rights};
use crate::paths::{ensure_space, Ctx};
use crate::pidfile::{self, os_reason};
use crate::plan::{check_executable, resolve_program_as};
use crate::ready::{Check, PortInUse, ReadySpec};
use crate::spec::Spec;
use crate::state::{Record, Wanted};

/// Checks, creating and changing nothing, what starting `spec` will need: the user and group,
/// the pidfile path, the program (found, and executable by its user), the `--chdir` target, the `--ready` spec, and that the
/// rdaemon directory, the pidfile's directory and the log files (or the directories they will
/// be created in) are writable and not on a full file system. `restart` runs it before it stops
/// the running daemon, so that a start bound to fail leaves that daemon untouched (issue 12);
/// `up` for every entry it is about to start, before it starts any (SPEC §7: nothing is
/// started), through [`preflight_about`]. The start itself checks all of it again and opens the
/// files for real. The port of `--ready tcp:` is not checked here: the running daemon may hold
/// it ([`check_port`] does, for `restart` and `up`, knowing which processes are the daemon's
/// own).
pub(crate) fn preflight(ctx: &Ctx, spec: &Spec) -> Result<()> {
    preflight_about(ctx, spec).map_err(|(_, e)| e)
}

/// The options of `start` whose value a [`preflight`] failure is about, as an up file's keys
/// (`user`, `chdir`; `command` and `run` for the program), most likely first: `up` reports the
/// failure at the line of the first its entry gives. None for what no option sets (the rdaemon
/// directory) or what the message names itself (`cannot set --limit ...`).
pub(crate) type About = &'static [&'static str];

/// [`preflight`], each failure with the options it is about ([`About`]).
pub(crate) fn preflight_about(ctx: &Ctx, spec: &Spec) -> Result<(), (About, anyhow::Error)> {
    let about = |options: About| move |e: anyhow::Error| (options, e);
    // The group's line for an error about the group (helper-93's review: an unknown group
    // was said at the `user` line), else the user's.
    let account = spec.account(ctx).map_err(|e| {
        let options: About = match crate::exit::render(&e).contains("group '") {
            true => &["group", "user"],
            false => &["user", "group"],
        };
        (options, e)
    })?;
    let account = account.as_ref();
    let logs: [(&Path, About); 2] = [
        (&spec.stdout, &["stdout", "log"]),
        (&spec.stderr, &["stderr", "log"]),
    ];
    // A log file that cannot be opened safely (a planted symlink, FIFO or set-id file).
    if !spec.inherit_output {
        for (log, options) in logs {
            check_log(log, account).map_err(about(options))?;
        }
    }
    pidfile::refuse_non_regular(&spec.pidfile).map_err(about(&["pidfile"]))?;
    let program = &["command", "run"];
    let resolved =
        resolve_program_as(&spec.command[0], &spec.env, account).map_err(about(program))?;
    check_executable(&resolved, &spec.command[0], account).map_err(about(program))?;
    check_chdir(&spec.chdir, account).map_err(about(&["chdir"]))?;
    spec.env_file_vars(account).map_err(about(&["env-file"]))?;
    spec.check_tuning().map_err(about(&[]))?;
    Check::prepare(&spec.ready, &spec.name, &ctx.runtime, account)
        .and_then(|mut check| check.watch_logs(&[&spec.stdout, &spec.stderr]))
        .map_err(about(&["ready"]))?;
    check_cgroup(ctx, spec)?;
    for dir in ctx.dirs() {
        writable(dir, "rdaemon directory").map_err(about(&[]))?;
    }
    if let Some(dir) = spec.pidfile.parent() {
        writable(dir, "pidfile directory").map_err(about(&["pidfile"]))?;
    }
    if !spec.inherit_output {
        for (log, options) in logs {
            check_log_space(log).map_err(about(options))?;
        }
    }
    Ok(())
}

/// Fails unless rdaemon may write the log file `log` (or create it in its directory), on a file
/// system with room.
fn check_log_space(log: &Path) -> Result<()> {
    match std::fs::metadata(log) {
        Ok(m) if m.is_file() => writable(log, "log file"),
        Ok(m) if m.is_dir() => {
            bail!("cannot open log file '{}': Is a directory", log.display())
        }
        Ok(_) => Ok(()), // /dev/null, a FIFO, a terminal: nothing fills up
        Err(_) => {
            // Created at the start in its directory, which `check_log` found.
            let dir = log.parent().unwrap_or(Path::new("/"));
            writable(dir, "log directory")
        }
    }
}

/// The processes of a daemon that end before its program starts anew: a port one of them
/// listens on is the daemon's own, not in the way of its start. With `stop` (a `restart`, an
/// edited entry of `up`), all of the daemon whose main process `main` runs (itself, its session,
/// its descendants), or, with its main process gone, what it left in its session: its stop ends
/// them. Without, only a daemon that died wanted running has some: what it left in its session,
/// which `start` stops first. And whatever its cgroup holds, in both cases (SPEC §3.1). `rec` is
/// the daemon's record; without one (a pidfile no record describes), the main process and its
/// descendants.
pub(crate) fn own_processes(rec: Option<&Record>, main: Option<i32>, stop: bool) -> Vec<i32> {
    let with_session = rec.is_some_and(|r| r.session.is_some());
    let mut own = match (main, rec) {
        (Some(main), _) if stop => {
            crate::session::processes_of(main, &crate::session::scan(), with_session)
        }
        (_, Some(rec)) if stop || rec.wanted() == Wanted::Running => {
            crate::session::Session::of(rec)
                .ok()
                .flatten()
                .map(|s| s.leftovers().into_iter().map(|e| e.pid).collect())
                .unwrap_or_default()
        }
        _ => return Vec::new(),
    };
    if let Some(cgroup) = rec.and_then(Cgroup::of_record).filter(|c| c.exists()) {
        own.extend(cgroup.procs().unwrap_or_default());
    }
    own
}

/// `start`'s refusal when the port of `check` (`--ready tcp:` or `http:` on an address of this
/// machine) already has a listener (SPEC §2.1 preflight), exit 1: with another server on it, the
/// new program would fail to bind while a connect to the old one looked like readiness. A
/// listener held only by `own`, the processes of the daemon about to be (re)started, does not
/// count: `start` passes none (it has stopped what its daemon left), `up` those that its stop
/// or its start will end first.
pub(crate) fn refuse_busy_port(ctx: &Ctx, check: &Check, own: &[i32]) -> Result<()> {
    match check.port_in_use(own) {
        Some(busy) => bail!(port_in_use_message(ctx, &busy)),
        None => Ok(()),
    }
}

/// [`refuse_busy_port`] for `spec`, before `start` prepares its own check: for `up`, of every
/// entry it is about to start or restart, before it starts any; for `restart`, before it stops
/// the daemon. Only `tcp:` and `http:` are prepared (`notify` would bind its socket). `own`
/// gives the daemon's own processes ([`own_processes`]); asked only when the port has a
/// listener, as finding them may cost a scan of `/proc`.
pub(crate) fn check_port(ctx: &Ctx, spec: &Spec, own: impl FnOnce() -> Vec<i32>) -> Result<()> {
    if !matches!(spec.ready, ReadySpec::Tcp { .. } | ReadySpec::Http(_)) {
        return Ok(());
    }
    let check = Check::prepare(&spec.ready, &spec.name, &ctx.runtime, None)?;
    if check.port_in_use(&[]).is_none() {
        return Ok(());
    }
    refuse_busy_port(ctx, &check, &own())
}

/// The addresses of this machine `spec`'s readiness (`tcp:`, `http:`) waits for a listener on;
/// none for another kind, a remote host, or one that does not resolve ([`preflight`] says so).
fn ready_addrs(spec: &Spec) -> Vec<SocketAddr> {
    // No runtime directory is needed: only a notify check uses it.
    match spec.ready {
        ReadySpec::Tcp { .. } | ReadySpec::Http(_) => {
            Check::prepare(&spec.ready, &spec.name, "".as_ref(), None)
                .map(|c| c.local_addrs())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// What of a daemon [`in_the_way`] compares with another's: its spec, and the addresses of
/// this machine its readiness waits on, resolved once ([`ready_addrs`]).
pub(crate) struct Holds<'a> {
    spec: &'a Spec,
    ports: Vec<SocketAddr>,
}

impl<'a> Holds<'a> {
    /// What `spec` holds or watches as it starts.
    pub(crate) fn of(spec: &'a Spec) -> Self {
        let ports = ready_addrs(spec);
        Holds { spec, ports }
    }

    /// The files its program's output goes to (each once; not `/dev/null`, where nothing is
    /// written), each with the keys of an up file that name it ([`About`]).
    fn logs(&self) -> Vec<(&'a Path, About)> {
        let spec = self.spec;
        let mut logs: Vec<(&'a Path, About)> = vec![(&spec.stdout, &["stdout", "log"])];
        if spec.stderr != spec.stdout {
            logs.push((&spec.stderr, &["stderr", "log"]));
        }
        logs.retain(|(path, _)| *path != Path::new("/dev/null"));
        logs
    }
}

/// What one daemon shares with another that puts it in the way of the other's start
/// ([`in_the_way`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shared<'a> {
    /// A port of this machine both their readiness (`tcp:`, `http:`) waits on: only one of them
    /// can listen there, and the other's own listener fails to bind while another's does not
    /// count (SPEC §2.1).
    Port(u16),
    /// Their pidfile, which names one daemon (SPEC §1): two starts at once each find it free,
    /// both daemons run, and it names the one written last (helper-126).
    Pidfile(&'a Path),
    /// The file both their `file:` readiness waits for: either program making it makes both
    /// "ready".
    ReadyFile(&'a Path),
    /// A log the other's `log:` readiness reads, which this one writes too, with the keys that
    /// name it in this one's entry: a line of this one's makes the other "ready" before its
    /// program is, though SPEC §2.1 wants the program's own.
    Log(&'a Path, About),
}

/// What `a` shares with `b` that puts it in the way of `b`'s start, the one rule of what
/// "in each other's way" means: `resurrect` starts such daemons one after the other
/// ([`clashes`]), and `up` refuses such entries before it starts any. In this order: a port
/// their readiness waits on, their pidfile, a file their readiness waits for, a log `b`'s
/// `log:` readiness reads that `a` writes. All but the log go both ways: `a` writing a log
/// that `b`'s readiness reads is not in the way of `a`'s start.
pub(crate) fn in_the_way<'a>(a: &Holds<'a>, b: &Holds<'a>) -> Vec<Shared<'a>> {
    let spec: &'a Spec = b.spec;
    let mut shared = Vec::new();
    if let Some(addr) = b.ports.iter().find(|addr| a.ports.contains(addr)) {
        shared.push(Shared::Port(addr.port()));
    }
    if a.spec.pidfile == spec.pidfile {
        shared.push(Shared::Pidfile(&spec.pidfile));
    }
    match &spec.ready {
        ReadySpec::File(path) if a.spec.ready == spec.ready => {
            shared.push(Shared::ReadyFile(path));
        }
        ReadySpec::Log(_) => {
            let reads = b.logs();
            let log = a
                .logs()
                .into_iter()
                .find(|(log, _)| reads.iter().any(|(read, _)| read == log));
            shared.extend(log.map(|(log, keys)| Shared::Log(log, keys)));
        }
        _ => {}
    }
    shared
}

/// Every two of `specs` (in their order; none: unknown) that must not start at once, by index
/// (the earlier first): either in the way of the other's start ([`in_the_way`]). One after the
/// other, each start finds what the other did, as it would by hand.
pub(crate) fn clashes(specs: &[Option<&Spec>]) -> Vec<(usize, usize)> {
    let holds: Vec<Option<Holds>> = specs.iter().map(|s| s.map(Holds::of)).collect();
    let mut pairs = Vec::new();
    for (second, b) in holds.iter().enumerate() {
        let Some(b) = b else { continue };
        for (first, a) in holds[..second].iter().enumerate() {
            let Some(a) = a else { continue };
            if !in_the_way(a, b).is_empty() || !in_the_way(b, a).is_empty() {
                pairs.push((first, second));
            }
        }
    }
    pairs
}

/// `port 8080 is already in use by pid 4711 (python3, daemon 'web')`: the holder's command name,
/// and the daemon whose record names its pid, if any.
fn port_in_use_message(ctx: &Ctx, busy: &PortInUse) -> String {
    let port = busy.port;
    let Some((pid, comm)) = &busy.holder else {
        return format!("port {port} is already in use by another process");
    };
    let daemon = crate::state::list_names(ctx)
        .unwrap_or_default()
        .into_iter()
        .find(|name| {
            Record::load(ctx, name)
                .ok()
                .flatten()
                .is_some_and(|rec| rec.pid == Some(*pid) || rec.child_pid == Some(*pid))
        });
    match daemon {
        Some(name) => {
            format!("port {port} is already in use by pid {pid} ({comm}, daemon '{name}')")
        }
        None => format!("port {port} is already in use by pid {pid} ({comm})"),
    }
}

/// Fails unless rdaemon may write `path` (a file, or a directory to create files in) and its
/// file system has room.
fn writable(path: &Path, what: &str) -> Result<()> {
    let mode = if path.is_dir() {
        AccessFlags::W_OK | AccessFlags::X_OK
    } else {
        AccessFlags::W_OK
    };
    access(path, mode)
        .map_err(|e| anyhow::anyhow!("cannot write {what} '{}': {}", path.display(), e.desc()))?;
    ensure_space(path, what)
}

/// Fails unless the `--chdir` target is a directory.
pub(crate) fn check_chdir(chdir: &Path, account: Option<&Account>) -> Result<()> {
    match std::fs::metadata(chdir) {
        // The daemon changes directory as its `--user`: one they cannot enter fails its exec
        // (bad-input sweep, 2026-12-02: `restart --user nobody --chdir /root` stopped the
        // daemon first), said now.
        Ok(m) if m.is_dir() => match crate::plan::barred_from_dir(account, chdir) {
            Some(why) => bail!("cannot change directory to '{}': {why}", chdir.display()),
            None => Ok(()),
        },
        Ok(_) => bail!(
            "cannot change directory to '{}': Not a directory",
            chdir.display()
        ),
        Err(e) => bail!(
            "cannot change directory to '{}': {}",
            chdir.display(),
            os_reason(&e)
        ),
    }
}

/// What `start`'s `prepare_cgroup` would refuse, found creating nothing: for `restart`'s preflight,
/// before the running daemon is stopped. Its cgroup path in use is not checked here: the
/// running daemon holds it.
fn check_cgroup(ctx: &Ctx, spec: &Spec) -> Result<(), (About, anyhow::Error)> {
    let about = |options: About| move |e: anyhow::Error| (options, e);
    let limits = spec.has_limits();
    if spec.cgroup == CgroupMode::Off {
        if limits {
            return Err((&["cgroup"], Fail::usage(NO_LIMITS_WITHOUT_CGROUP).into()));
        }
        return Ok(());
    }
    if spec.cgroup == CgroupMode::Auto && !limits {
        return Ok(());
    }
    let any = &["cgroup", "memory-max", "tasks-max"];
    let host = cgroup::Host::detect(ctx.is_root)
        .map_err(|e| anyhow::anyhow!("cannot read /proc/self/mountinfo: {}", os_reason(&e)))
        .map_err(about(any))?;
    let parent = cgroup::decide(&host, cgroup::is_delegated)
        .map_err(|why| anyhow::anyhow!("cannot give {} a cgroup: {why}", spec.name))
        .map_err(about(any))?;
    if spec.memory_max.is_some() {
        Cgroup::check_controller(&parent, "memory").map_err(about(&["memory-max"]))?;
    }
    if spec.tasks_max.is_some() {
        Cgroup::check_controller(&parent, "pids").map_err(about(&["tasks-max"]))?;
    }
    Ok(())
}

pub(crate) const NO_LIMITS_WITHOUT_CGROUP: &str =
    "--memory-max and --tasks-max need a cgroup: they do not work with --cgroup off";

/// Checks, without creating anything, that the log file `path` can be opened the safe way: an
/// existing one must pass the checks of `start`'s `open_log`. `restart` calls it before
/// stopping the running daemon, so that a log replaced by a symlink, a FIFO or a set-id file
/// costs nothing.
fn check_log(path: &Path, account: Option<&Account>) -> Result<()> {
    let creds = account.map(|a| &a.creds);
    // A missing directory fails `start` as it fails here: before anything is stopped.
    let (dir, name) = Dir::open_parent(path)
        .with_context(|| format!("cannot open log file '{}'", path.display()))?;
    if dir.stat(&name).ok().flatten().is_none() {
        return Ok(());
    }
    let rights = Rights::for_dir(&dir, creds);
    fsx::open_log(&dir, &name, rights, creds.map(|c| c.uid), false, 0o644)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, pidfile: &str, ready: &str) -> Spec {
        Spec {
            name: crate::parse::Name::parse(name).unwrap(),
            pidfile: pidfile.into(),
            ready: ReadySpec::parse(ready).unwrap(),
            stdout: format!("/l/{name}.log").into(),
            stderr: format!("/l/{name}.log").into(),
            ..Spec::default()
        }
    }

    /// Specs `s0`, `s1`, ..., one for each of `waits`, each with a pidfile of its own.
    fn numbered(waits: &[&[&str]]) -> Vec<Spec> {
        (0..waits.len())
            .map(|i| spec(&format!("s{i}"), &format!("/p/{i}"), "exec"))
            .collect()
    }

    /// The [`Holds`] of `specs`, the readiness of each waiting on its `waits` (as if resolved).
    fn waiting_on<'a>(specs: &'a [Spec], waits: &[&[&str]]) -> Vec<Holds<'a>> {
        let holds = specs.iter().zip(waits).map(|(spec, addrs)| Holds {
            spec,
            ports: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        });
        holds.collect()
    }

    #[test]
    fn in_the_way_names_a_port_both_wait_on() {
        let waits: &[&[&str]] = &[
            &["127.0.0.1:8080"],
            &[],
            &["[::1]:8080", "127.0.0.1:8080"],
            &["127.0.0.1:9090"],
            &["127.0.0.1:8080"],
        ];
        let specs = numbered(waits);
        let holds = waiting_on(&specs, waits);
        let shared = |a: usize, b: usize| in_the_way(&holds[a], &holds[b]);
        for (a, b) in [(0, 2), (2, 0), (0, 4), (2, 4), (4, 2)] {
            assert_eq!(shared(a, b), [Shared::Port(8080)], "{a} {b}");
        }
        for (a, b) in [(0, 1), (1, 0), (0, 3), (3, 4), (1, 2)] {
            assert!(shared(a, b).is_empty(), "{a} {b}");
        }
        // One port on two addresses: two servers can bind them side by side.
        let waits: &[&[&str]] = &[
            &["127.0.0.1:8080"],
            &["[::1]:8080"],
            &["127.0.0.2:8080"],
            &["127.0.0.1:8081"],
        ];
        let specs = numbered(waits);
        let holds = waiting_on(&specs, waits);
        for a in 0..4 {
            for b in (0..4).filter(|b| *b != a) {
                assert!(in_the_way(&holds[a], &holds[b]).is_empty(), "{a} {b}");
            }
        }
    }

    #[test]
    fn in_the_way_names_a_pidfile_a_ready_file_or_a_log_read() {
        let mut reader = spec("r", "/p/r.pid", "log:ready");
        let mut writer = spec("w", "/p/w.pid", "exec");
        writer.stderr = "/l/r.log".into();
        fn way<'a>(a: &'a Spec, b: &'a Spec) -> Vec<Shared<'a>> {
            in_the_way(&Holds::of(a), &Holds::of(b))
        }
        // A log the reader's readiness reads, written by the other: in the way of the
        // reader's start only.
        assert_eq!(
            way(&writer, &reader),
            [Shared::Log(Path::new("/l/r.log"), &["stderr", "log"])]
        );
        assert!(way(&reader, &writer).is_empty());
        // Its stderr elsewhere, the reader reads it too; `/dev/null` is shared by none.
        reader.stderr = "/l/w.log".into();
        assert_eq!(
            way(&writer, &reader),
            [Shared::Log(Path::new("/l/w.log"), &["stdout", "log"])]
        );
        reader.stderr = "/dev/null".into();
        (writer.stdout, writer.stderr) = ("/dev/null".into(), "/l/w.log".into());
        assert!(way(&writer, &reader).is_empty());
        // One pidfile, both ways, before the log.
        writer.pidfile = reader.pidfile.clone();
        writer.stderr = "/l/r.log".into();
        let pidfile = Shared::Pidfile(Path::new("/p/r.pid"));
        let log = Shared::Log(Path::new("/l/r.log"), &["stderr", "log"]);
        assert_eq!(way(&writer, &reader), [pidfile, log]);
        assert_eq!(way(&reader, &writer), [pidfile]);
        // One `file:`, both ways; another file, or another kind, is not.
        let one = spec("a", "/p/a.pid", "file:/r/x");
        let two = spec("b", "/p/b.pid", "file:/r/x");
        for (a, b) in [(&one, &two), (&two, &one)] {
            assert_eq!(way(a, b), [Shared::ReadyFile(Path::new("/r/x"))]);
        }
        assert!(way(&one, &spec("c", "/p/c.pid", "file:/r/y")).is_empty());
        assert!(way(&one, &spec("d", "/p/d.pid", "exec")).is_empty());
    }

    #[test]
    fn clashes_pair_specs_that_must_not_start_at_once() {
        let mut logger = spec("g", "/p/g.pid", "exec");
        logger.stdout = "/l/h.log".into();
        let specs = [
            spec("a", "/p/a.pid", "tcp:127.0.0.1:8080"),
            spec("b", "/p/b.pid", "file:/r/x"),
            spec("c", "/p/a.pid", "exec"),
            spec("d", "/p/d.pid", "tcp:127.0.0.1:8080"),
            spec("e", "/p/e.pid", "file:/r/x"),
            spec("f", "/p/f.pid", "file:/r/y"),
            logger,
            spec("h", "/p/h.pid", "log:ready"),
        ];
        let mut refs: Vec<Option<&Spec>> = specs.iter().map(Some).collect();
        let mut pairs = clashes(&refs);
        pairs.sort_unstable();
        assert_eq!(pairs, [(0, 2), (0, 3), (1, 4), (6, 7)]);
        // An unknown spec clashes with nothing.
        refs[0] = None;
        refs[7] = None;
        assert_eq!(clashes(&refs), [(1, 4)]);
    }
}
