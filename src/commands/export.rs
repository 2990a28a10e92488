//! `rdaemon export systemd [NAME]`: print a systemd service unit equivalent to a daemon's
//! record, the way out for a daemon that outgrows rdaemon. `export systemd -f FILE`: a unit per
//! daemon of an `up` file (`After=`/`Requires=` from `after`, `PartOf=` and `WantedBy=` its
//! target) and the `.target` grouping them (`in_target`, `target_unit`). `export nomad`: one
//! Nomad job, one `raw_exec` task per daemon ([`nomad_job`]), from records or from a file.
//!
//! The mapping (also in `docs/guide.md`):
//!
//! | record | unit |
//! |---|---|
//! | `command` | `ExecStart=` (program resolved to an absolute path; `%`, `$`, quotes, spaces escaped) |
//! | `chdir`, `umask` | `WorkingDirectory=`, `UMask=` |
//! | `env` | one `Environment=` per variable (only the overrides: the inherited rest is not recorded) |
//! | `user`, `group` | `User=`, `Group=` |
//! | `stdout`, `stderr` | `StandardOutput=`/`StandardError=` `append:PATH` (`null` for `/dev/null`) |
//! | `ready` `exec` / `notify` | `Type=exec` / `Type=notify` + `NotifyAccess=all` + `TimeoutStartSec=` |
//! | `ready` `alive:`, `tcp:`, `file:`, `http:`, `cmd:`, `log:` | `Type=exec` and a comment: systemd has no such check (for `tcp:`, `file:`, `http:` and `cmd:` a commented `ExecStartPost=` shows how to keep the wait) |
//! | `mode` `respawn` | `Restart=` (`--restart`: `always` or `on-failure`, the latter with `RestartForceExitStatus=` for the four signals systemd counts as clean), `RestartSec=` (`--restart-delay`, default 1s), `StartLimitBurst=`/`StartLimitIntervalSec=` |
//! | `respawn.watchdog` | `WatchdogSec=` |
//! | `respawn.health`, `on_exit`, `log_timestamps` | a comment each: systemd has no health check, no exit hook with rdaemon's variables; the journal stamps lines |
//!
//! | `forking` | `Type=forking` + `PIDFile=` (the program's pidfile; none when it writes none) + `TimeoutStartSec=` (`--ready-timeout`) |
//! | `memory_max`, `tasks_max` | `MemoryMax=`, `TasksMax=` |
//! | `env_files` | one `EnvironmentFile=` per file (a comment notes that systemd lets them win over `Environment=`) |
//! | `limits` | `LimitNOFILE=SOFT:HARD` etc. (`infinity` for unlimited, sizes in bytes) |
//! | `nice`, `oom_score_adj` | `Nice=`, `OOMScoreAdjust=` |
//! | `stop_signal`, `stop_timeout` | `KillSignal=` (when not TERM), `TimeoutStopSec=` |
//! | `reload_signal` | `ExecReload=/bin/kill -SIG $MAINPID` (commented out when the running program does not handle it; under a comment saying it was not checked when none runs) |
//!
//! `rdaemon stop`'s default 10 s before SIGKILL becomes `TimeoutStopSec=10s`; `KillMode=
//! control-group` (systemd's default, written out) stops everything the daemon spawned, as
//! `rdaemon stop` does (SPEC §3.1).
//!
//! Reading the record and the terminal output is here; building the unit text is the pure
//! function [`systemd_unit`], unit-tested below and checked with `systemd-analyze verify` in
//! `tests/export.rs`.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;

use crate::cli::{ExportArgs, ExportFormat};
use crate::exit::{Code, Fail};
use crate::fsx::Dir;
use crate::parse::{signal_name, Name};
use crate::paths::Ctx;
use crate::state::{Mode, Record};
use crate::target::{resolve, several_error, Resolved};
use crate::upfile::UpFile;

use crate::plan::resolve_program_as;

// Defaults of SPEC §2 and §6 for what a record may not say: the spec's own.
use crate::spec::{Spec, STOP_SIGNAL};
use crate::state::{Respawn, RestartPolicy};

/// `rdaemon export`.
pub fn run(args: ExportArgs, ctx: &Ctx) -> Result<Code> {
    if let Some(path) = &args.file {
        return export_file(ctx, &args, path);
    }
    if args.out.is_some() {
        bail!(Fail::usage("--out needs -f FILE"));
    }
    if args.format == ExportFormat::Nomad {
        let recs = if args.more.is_empty() {
            vec![one_record(ctx, &args.target)?]
        } else {
            let names = args.target.name.iter().chain(&args.more);
            names
                .map(|name| {
                    Record::load(ctx, name)?.ok_or_else(|| {
                        anyhow::anyhow!("cannot export {name}: no record describes it")
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        let job = args.group.as_ref().map_or("rdaemon", Name::as_str);
        return print_nomad(ctx, job, &recs, "records");
    }
    if !args.more.is_empty() || args.group.is_some() {
        bail!(Fail::usage(
            "export systemd takes one NAME (and no --target): give -f FILE for several daemons"
        ));
    }
    let record = one_record(ctx, &args.target)?;
    let unit = unit_for(
        ctx,
        &record,
        &ctx.record_path(&record.name),
        reload_fate(ctx, &record),
    )?;
    // The daemons it comes after (its `up` file's `after`, kept in the spec): their units too.
    let text = match record.after.is_empty() {
        true => unit.text,
        false => add_unit_lines(&unit.text, &after_lines(&record.after), None),
    };
    print!("{text}");
    Ok(Code::Ok)
}

/// What the program of the daemon `record` describes, if it runs, would make of its reload
/// signal.
fn reload_fate(ctx: &Ctx, record: &Record) -> ReloadFate {
    let sig = crate::spec::reload_signal(record).unwrap_or(crate::spec::RELOAD_SIGNAL);
    let target = crate::target::Target::of_record(record.clone());
    match crate::deliver::running_program(ctx, &target) {
        Some(program) if program.would_be_ended_by(sig) => ReloadFate::Fatal {
            pid: program.pid().get(),
        },
        Some(_) => ReloadFate::Handled,
        None => ReloadFate::Unknown,
    }
}

/// The record of the one daemon `target` means.
fn one_record(ctx: &Ctx, target: &crate::cli::TargetArgs) -> Result<Record> {
    let target = match resolve(ctx, target)? {
        Resolved::One(t) => *t,
        Resolved::NoDaemons => bail!("no daemons to export"),
        Resolved::Several(names) => return Err(several_error(&names).into()),
    };
    let label = target.label();
    if let (None, Some(why)) = (&target.record, &target.record_error) {
        // Root's 0600 record, to another user: insufficient privilege (exit 4).
        let err = anyhow::anyhow!("cannot export {label}: {why}");
        return Err(crate::target::privilege_error(ctx, err));
    }
    match target.record {
        Some(record) if target.name.is_some() => Ok(record),
        _ => bail!("cannot export {label}: no record describes it (export needs the record of a daemon rdaemon started)"),
    }
}

/// The program as a unit or a job names it: resolved in the daemon's PATH as its user finds it
/// (as `start` runs it: a directory of root's that the user cannot reach is passed over; user
/// trial, 2026-12-03: `ExecStart=/root/.pyenv/shims/python3` with `User=nobody`, a unit that
/// could not start), else as recorded (with a warning).
fn program_of(ctx: &Ctx, record: &Record) -> PathBuf {
    let account = match (&record.user, &record.group, ctx.is_root) {
        (None, None, _) | (_, _, false) => None,
        (user, group, true) => {
            crate::account::resolve(user.as_deref(), group.as_deref(), ctx.uid()).ok()
        }
    };
    match resolve_program_as(&record.command[0], &record.env, account.as_ref()) {
        Ok(path) => path,
        Err(err) => {
            ctx.warn(format!(
                "{}; the export names it as recorded and the other supervisor will look for it in its own PATH",
                crate::exit::render(&err)
            ));
            PathBuf::from(&record.command[0])
        }
    }
}

/// The systemd unit of `record`, its warnings printed.
fn unit_for(ctx: &Ctx, record: &Record, record_path: &Path, reload: ReloadFate) -> Result<Unit> {
    let label = record.name.as_str();
    let unit = systemd_unit(
        record,
        &UnitContext {
            program: program_of(ctx, record),
            record_path: record_path.to_owned(),
            extras: Extras::of(record),
            user_manager: !ctx.is_root,
            reload,
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot export {label}: {e}"))?;
    for warning in &unit.warnings {
        ctx.warn(format!("{label}: {warning}"));
    }
    if ctx.is_root {
        for warning in opened_by_root(record) {
            ctx.warn(format!("{label}: {warning}"));
        }
    }
    Ok(unit)
}

/// What a system unit of `rec` would have systemd open as root, following symlinks, in a
/// directory another user can change (attack of 2026-12-02): its logs (`StandardOutput=append:`,
/// opened before the switch to `User=`) and env files (`EnvironmentFile=`, read by the service
/// manager). That user could point them at any file: have the daemon's output appended to it,
/// or read a root-only `KEY=VALUE` file into the environment of a daemon they run as. rdaemon
/// itself opens such files with that user's rights; systemd cannot be told to.
fn opened_by_root(rec: &Record) -> Vec<String> {
    // A directory another user can change; or a sticky one others may create names in (as
    // /tmp): rdaemon's own opens refuse their file there, systemd's follow it (helper-119: an
    // EnvironmentFile= in /tmp, replaced by nobody, gave root's unit LD_PRELOAD).
    let exposed = |path: &Path| {
        path.parent()
            .and_then(|dir| crate::fsx::Dir::open(dir).ok())
            .is_some_and(|dir| {
                !dir.is_protected() || (dir.mode() & 0o1000 != 0 && dir.mode() & 0o022 != 0)
            })
    };
    let mut logs = vec![&rec.stdout];
    if rec.stderr != rec.stdout {
        logs.push(&rec.stderr);
    }
    let logs = logs
        .into_iter()
        .filter(|_| !rec.inherited_output)
        .filter(|log| log.as_path() != Path::new("/dev/null"))
        .map(|log| ("log", log));
    let files = rec.env_files.iter().map(|file| ("env file", file));
    logs.chain(files)
        .filter(|(_, path)| exposed(path))
        .map(|(what, path)| {
            format!(
                "its {what} '{}' lies in a directory another user can change or create files in: systemd opens it as root, following symbolic links, so move it to a directory only root can write before you install the unit",
                one_line(path)
            )
        })
        .collect()
}

/// `export FORMAT -f FILE`: every daemon of an `up` file, described from the file (whether or
/// not it ever ran): systemd units grouped by a target, or one Nomad job.
fn export_file(ctx: &Ctx, args: &ExportArgs, path: &Path) -> Result<Code> {
    // Relative to the caller's directory: loading the file moves to the file's.
    let out = args
        .out
        .as_deref()
        .map(crate::paths::absolute)
        .transpose()?;
    let file = UpFile::load(Some(path))?;
    let group = match &args.group {
        Some(name) => name.clone(),
        None => {
            let base = file
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Name::parse(&base).map_err(|_| {
                Fail::usage(format!(
                    "cannot name the group after the directory '{}': give --target NAME",
                    file.dir.display()
                ))
            })?
        }
    };
    let mut recs = Vec::new();
    for entry in file.entries.values() {
        recs.push(entry.spec(ctx, &file.path)?.unstarted());
    }
    if args.format == ExportFormat::Nomad {
        if args.out.is_some() {
            bail!(Fail::usage(
                "--out is for systemd units: nomad prints one job"
            ));
        }
        return print_nomad(ctx, group.as_str(), &recs, &file.path.display().to_string());
    }
    let mut units: Vec<(String, String)> = Vec::new();
    for rec in &recs {
        // An entry that runs, started from this file with this command: its program is looked
        // at, as `export systemd NAME` does (helper-112's trial: `-f` wrote an `ExecReload=`
        // that would have ended a running program without a SIGHUP handler).
        // The same reload signal too: the program is asked about the signal the unit sends
        // (helper-113's review: an entry edited from USR1 to HUP was judged by USR1).
        let reload = |r: &Record| crate::spec::reload_signal(r).ok();
        let live = Record::load(ctx, &rec.name).ok().flatten().filter(|live| {
            crate::upfile::foreign_owner(live, &file.path).is_none()
                && live.command == rec.command
                && reload(live) == reload(rec)
        });
        let fate = match live.as_ref().map(|live| reload_fate(ctx, live)) {
            Some(ReloadFate::Unknown) | None => ReloadFate::FromFile,
            Some(fate) => fate,
        };
        let unit = unit_for(ctx, rec, &file.path, fate)?;
        units.push((
            format!("{}.service", rec.name),
            in_target(&unit.text, &rec.after, group.as_str()),
        ));
    }
    units.push((
        format!("{group}.target"),
        target_unit(&file.path, group.as_str(), &recs, !ctx.is_root),
    ));
    match &out {
        Some(dir) => write_units(ctx, dir, &units)?,
        None => {
            for (i, (name, text)) in units.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                println!("### {name}");
                print!("{text}");
            }
        }
    }
    Ok(Code::Ok)
}

/// The mode of a written unit file: systemd reads it as root, anyone may (`systemctl cat`).
const UNIT_MODE: u32 = 0o644;

/// Writes the units into `dir` (`--out`), which another user may be able to write to: through
/// one handle on the directory (`fsx::Dir::open`, no symlink another user could have made on
/// the way), each unit a new file (`O_EXCL`, mode 0644, rdaemon's user's) renamed over its name,
/// so no existing file is ever opened, followed or kept (its mode, its owner). A name that holds
/// anything but a regular file (a symlink, a FIFO, a directory) is refused before any unit is
/// written, as a pidfile path that is a symlink is: the user removes it, or meant another
/// directory.
fn write_units(ctx: &Ctx, dir: &Path, units: &[(String, String)]) -> Result<()> {
    // Made if missing, as `mkdir -p` would (as root, only beneath directories no other user
    // can change: `paths::create_dir`).
    if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
        bail!(
            "cannot write units into '{}': {}",
            dir.display(),
            nix::errno::Errno::ENOTDIR.desc()
        );
    }
    crate::paths::create_dir(dir, 0o755)
        .with_context(|| format!("cannot create directory '{}'", dir.display()))?;
    let handle = Dir::open(dir)?;
    for (name, _) in units {
        // As root, not where another user could replace the units written, or swap in a
        // directory of root's to have its files overwritten (SPEC §4, as for a pidfile).
        crate::fsx::refuse_shared_dir(&handle, None, "unit file", &handle.join(OsStr::new(name)))?;
        refuse_non_regular(&handle, OsStr::new(name))?;
    }
    for (name, text) in units {
        let path = handle.join(OsStr::new(name));
        write_unit(&handle, OsStr::new(name), text.as_bytes()).map_err(|e| {
            anyhow::anyhow!(
                "cannot write unit file '{}': {}",
                path.display(),
                crate::exit::os_reason(&e)
            )
        })?;
        ctx.say(format!("wrote {}", path.display()));
    }
    Ok(())
}

/// Fails, naming the path and why, when `name` in `dir` exists and is not a regular file.
fn refuse_non_regular(dir: &Dir, name: &OsStr) -> Result<()> {
    let st = dir.stat(name).map_err(|e| {
        anyhow::anyhow!(
            "cannot write unit file '{}': {}",
            dir.join(name).display(),
            crate::exit::os_reason(&e)
        )
    })?;
    let Some(st) = st else { return Ok(()) };
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFREG => Ok(()),
        SFlag::S_IFLNK => bail!(
            "refusing unit file '{}': it is a symlink, and rdaemon does not follow symlinks at a unit file path; remove it first",
            dir.join(name).display()
        ),
        other => bail!(
            "refusing unit file '{}': it is {}, not a regular file",
            dir.join(name).display(),
            crate::fsx::describe_kind(other)
        ),
    }
}

/// `text` as `name` in `dir`: written to `.NAME.PID.tmp`, made with `O_EXCL` and mode 0644 (one
/// left by a killed export of the same pid is removed first), then renamed over `name`. The
/// pid in the temporary name keeps two exports into one directory from writing each other's.
fn write_unit(dir: &Dir, name: &OsStr, text: &[u8]) -> std::io::Result<()> {
    let tmp = OsString::from(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let create = || dir.create(&tmp, OFlag::O_WRONLY, UNIT_MODE);
    let written = match create() {
        // A leftover of a killed export.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            dir.unlink(&tmp).and_then(|()| create())
        }
        other => other,
    }
    .and_then(|mut file| {
        file.write_all(text)?;
        dir.rename(&tmp, name)
    });
    if written.is_err() {
        let _ = dir.unlink(&tmp);
    }
    written
}

/// A daemon's unit as a member of `target`: ordered after (and requiring) the units of its
/// `after`, stopped and restarted with the target (`PartOf=`), installed into it.
pub fn in_target(unit: &str, after: &[Name], target: &str) -> String {
    let mut lines = vec![format!("PartOf={target}.target")];
    lines.extend(after_lines(after));
    let out = add_unit_lines(unit, &lines, Some(target));
    let mut out = out;
    // The header says how the unit was made (`export systemd -f`) and from what (the file).
    let how = "`rdaemon export systemd ";
    if let Some(at) = out.find(how) {
        if let Some(len) = out[at + how.len()..].find('`') {
            out.replace_range(at..at + how.len() + len + 1, "`rdaemon export systemd -f`");
        }
    }
    out.replace("from the\n# record ", "from the\n# up file ")
}

/// `After=` and `Requires=` for the units of a spec's `after` (none without).
fn after_lines(after: &[Name]) -> Vec<String> {
    if after.is_empty() {
        return Vec::new();
    }
    let units: Vec<String> = after.iter().map(|a| format!("{a}.service")).collect();
    vec![
        format!("After={}", units.join(" ")),
        format!("Requires={}", units.join(" ")),
    ]
}

/// `unit` with `lines` added to its `[Unit]` section after `Description=`, and, with a
/// `target`, installed into that target instead of `multi-user.target`.
fn add_unit_lines(unit: &str, lines: &[String], target: Option<&str>) -> String {
    let mut out = String::new();
    let mut section = "";
    for line in unit.lines() {
        if line.starts_with('[') {
            section = if line == "[Unit]" {
                "unit"
            } else if line == "[Install]" {
                "install"
            } else {
                ""
            };
        }
        if let (Some(target), "install", true) = (target, section, line.starts_with("WantedBy=")) {
            let _ = writeln!(out, "WantedBy={target}.target");
            continue;
        }
        let _ = writeln!(out, "{line}");
        if section == "unit" && line.starts_with("Description=") {
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    out
}

/// The target grouping the daemons of an `up` file: starting it starts them all (`Wants=`).
pub fn target_unit(file: &Path, target: &str, recs: &[Record], user_manager: bool) -> String {
    let (systemctl, wanted_by) = if user_manager {
        ("systemctl --user", "default.target")
    } else {
        ("systemctl", "multi-user.target")
    };
    let units: Vec<String> = recs.iter().map(|r| format!("{}.service", r.name)).collect();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# {target}.target: written by `rdaemon export systemd -f` (rdaemon {}) from",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(t, "# {}: the daemons it declares.", one_line(file));
    let _ = writeln!(
        t,
        "# Install it beside their units, stop the rdaemon copies (rdaemon down -f FILE), then:"
    );
    let _ = writeln!(
        t,
        "# {systemctl} daemon-reload && {systemctl} enable --now {target}.target"
    );
    t.push_str("\n[Unit]\n");
    let _ = writeln!(
        t,
        "Description=The daemons of {} (exported from rdaemon)",
        specifiers(&one_line(file))
    );
    let _ = writeln!(t, "Wants={}", units.join(" "));
    t.push_str("\n[Install]\n");
    let _ = writeln!(t, "WantedBy={wanted_by}");
    t
}

/// Prints the Nomad job of `recs`.
fn print_nomad(ctx: &Ctx, job: &str, recs: &[Record], source: &str) -> Result<Code> {
    let programs: Vec<PathBuf> = recs.iter().map(|r| program_of(ctx, r)).collect();
    let job = nomad_job(job, recs, &programs, source)
        .map_err(|e| anyhow::anyhow!("cannot export the Nomad job: {e}"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&job).expect("JSON values serialize")
    );
    Ok(Code::Ok)
}

/// Nanoseconds, as Nomad's JSON API counts durations.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The Nomad job (the JSON of `nomad job run -json`, the API's `{"Job": ...}`) for `recs`: one
/// group, one `raw_exec` task per daemon. `--respawn` becomes the task's `RestartPolicy` (exec
/// mode: no restart); `tcp:`/`http:` readiness a service check on a reserved port; `after` a
/// prestart sidecar `Lifecycle` for a daemon others need that needs nothing itself (Nomad
/// orders nothing else), and a `rdaemon_after` meta note on the dependent; what Nomad has no
/// field for (working directory, umask, log files, other readiness kinds, tasks limit) a
/// `rdaemon_*` meta note.
pub fn nomad_job(
    job: &str,
    recs: &[Record],
    programs: &[PathBuf],
    source: &str,
) -> Result<serde_json::Value, String> {
    use serde_json::{json, Map, Value};
    let needed: Vec<&Name> = recs.iter().flat_map(|r| &r.after).collect();
    let mut tasks = Vec::new();
    let mut ports = Vec::new();
    let mut services = Vec::new();
    for (rec, program) in recs.iter().zip(programs) {
        let name = rec.name.as_str();
        let extras = Extras::of(rec);
        let mut meta = Map::new();
        let mut note = |k: &str, v: String| {
            meta.insert(format!("rdaemon_{k}"), Value::String(v));
        };
        note("chdir", rec.chdir.display().to_string());
        note("umask", rec.umask.clone());
        note(
            "stdout",
            format!(
                "{} (Nomad keeps the task's logs itself)",
                rec.stdout.display()
            ),
        );
        note("stderr", rec.stderr.display().to_string());
        let ready = crate::ready::ReadySpec::parse(&rec.ready)
            .map_err(|e| format!("corrupt record for {name}: {e}"))?;
        let stop_signal =
            crate::spec::stop_signal(rec).map_err(|e| format!("corrupt record for {name}: {e}"))?;
        let stop_timeout = crate::spec::stop_timeout(rec)
            .map_err(|e| format!("corrupt record for {name}: {e}"))?;
        let check = match &ready {
            crate::ready::ReadySpec::Tcp { host, port } => {
                if host != "127.0.0.1" {
                    note(
                        "ready_host",
                        format!("{host}: Nomad checks the task's own address"),
                    );
                }
                Some((
                    *port,
                    json!({"Name": format!("{name}-ready"), "Type": "tcp"}),
                ))
            }
            crate::ready::ReadySpec::Http(url) => {
                let url = crate::probe::parse_http_url(url)
                    .map_err(|e| format!("corrupt record for {name}: {e}"))?;
                Some((
                    url.port,
                    json!({"Name": format!("{name}-ready"), "Type": "http", "Protocol": "http", "Path": url.path}),
                ))
            }
            crate::ready::ReadySpec::Exec => None,
            other => {
                note(
                    "ready",
                    format!("{other}: no Nomad equivalent (rdaemon waited for it at start)"),
                );
                None
            }
        };
        if let Some((port, mut check)) = check {
            let label = format!("{name}-ready");
            check["Interval"] = json!(nanos(Duration::from_secs(10)));
            check["Timeout"] = json!(nanos(Duration::from_secs(2)));
            ports.push(json!({"Label": label, "Value": port}));
            services.push(json!({
                "Name": name,
                "Provider": "nomad",
                "PortLabel": label,
                "TaskName": name,
                "Checks": [check],
            }));
        }
        if !rec.after.is_empty() {
            let after: Vec<&str> = rec.after.iter().map(Name::as_str).collect();
            note(
                "after",
                format!(
                    "{}: Nomad starts a group's main tasks together, after its prestart tasks",
                    after.join(",")
                ),
            );
        }
        if let Some(n) = rec.tasks_max {
            note("tasks_max", n.to_string());
        }
        // Process settings and supervision raw_exec has no field for: kept, not dropped
        // without a word (user trial, 2026-12-03).
        if !rec.env_files.is_empty() {
            let files: Vec<String> = rec
                .env_files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            note(
                "env_file",
                format!(
                    "{}: read at every start by rdaemon; Nomad's template block can render it",
                    files.join(",")
                ),
            );
        }
        if !rec.limits.is_empty() {
            let limits: Vec<String> = rec.limits.iter().map(|(k, v)| format!("{k}={v}")).collect();
            note("limits", limits.join(","));
        }
        if let Some(n) = rec.nice {
            note("nice", n.to_string());
        }
        if let Some(n) = rec.oom_score_adj {
            note("oom_score_adj", n.to_string());
        }
        if let Some(group) = &rec.group {
            note("group", group.clone());
        }
        if let Some(sig) = &rec.reload_signal {
            note("reload_signal", sig.clone());
        }
        if let Some(respawn) = &rec.respawn {
            if respawn.restart != crate::state::RestartPolicy::Always {
                note(
                    "restart",
                    format!(
                        "{}: Nomad restarts a task after every exit",
                        respawn.restart.as_str()
                    ),
                );
            }
            if let Some(health) = &respawn.health {
                note("health", health.clone());
            }
            if let Some(watchdog) = respawn.watchdog {
                note("watchdog", crate::parse::format_duration(watchdog));
            }
            if let Some(command) = &respawn.on_exit {
                note("on_exit", command.clone());
            }
        }
        if let Some(n) = extras.log_max_size {
            note("log_max_size", n.to_string());
        }
        let restart = match &rec.respawn {
            None => json!({"Attempts": 0, "Mode": "fail"}),
            Some(_) => {
                let defaults = Respawn::default();
                let max = extras.max_restarts.unwrap_or(defaults.max_restarts);
                let delay = extras.restart_delay.unwrap_or(defaults.restart_delay);
                let window = extras.restart_window.unwrap_or(defaults.restart_window);
                if max == 0 {
                    note(
                        "max_restarts",
                        "0: never gives up (Nomad: mode delay)".into(),
                    );
                }
                json!({
                    "Attempts": if max == 0 { defaults.max_restarts } else { max },
                    "Interval": nanos(window),
                    "Delay": nanos(delay),
                    "Mode": if max == 0 { "delay" } else { "fail" },
                })
            }
        };
        let mut task = json!({
            "Name": name,
            "Driver": "raw_exec",
            "Config": {
                "command": program.display().to_string(),
                "args": rec.command[1..],
            },
            "Env": rec.env,
            "KillSignal": format!("SIG{}", signal_name(stop_signal)),
            "KillTimeout": nanos(stop_timeout),
            "RestartPolicy": restart,
            "Meta": meta,
        });
        if let Some(user) = &rec.user {
            task["User"] = json!(user);
        }
        if let Some(bytes) = rec.memory_max {
            task["Resources"] = json!({"MemoryMB": bytes.div_ceil(1 << 20)});
        }
        if rec.after.is_empty() && needed.contains(&&rec.name) {
            task["Lifecycle"] = json!({"Hook": "prestart", "Sidecar": true});
        }
        tasks.push(task);
    }
    let mut group = json!({"Name": job, "Count": 1, "Tasks": tasks});
    if !ports.is_empty() {
        group["Networks"] = json!([{"ReservedPorts": ports}]);
        group["Services"] = json!(services);
    }
    Ok(json!({"Job": {
        "ID": job,
        "Name": job,
        "Type": "service",
        "Datacenters": ["*"],
        "Meta": {"rdaemon_source": source},
        "TaskGroups": [group],
    }}))
}

/// The record's supervised-mode and readiness settings, read from its typed fields; `None`
/// where the record has none (the SPEC default applies).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// Delay before the first restart.
    pub restart_delay: Option<Duration>,
    /// Restarts allowed within the window before giving up (0: no limit).
    pub max_restarts: Option<u32>,
    /// The window of `max_restarts`.
    pub restart_window: Option<Duration>,
    /// How long `start` waited for readiness.
    pub ready_timeout: Option<Duration>,
    /// Size at which the monitor rotated the log.
    pub log_max_size: Option<u64>,
}

impl Extras {
    /// The settings `rec` holds.
    pub fn of(rec: &Record) -> Extras {
        let respawn = rec.respawn.as_ref();
        Extras {
            restart_delay: respawn.map(|r| r.restart_delay),
            max_restarts: respawn.map(|r| r.max_restarts),
            restart_window: respawn.map(|r| r.restart_window),
            ready_timeout: rec.ready_timeout,
            log_max_size: respawn.and_then(|r| r.log_max_size),
        }
    }
}

/// What the unit needs beyond the record.
#[derive(Debug, Clone)]
pub struct UnitContext {
    /// The program as `ExecStart=` names it (absolute when it could be resolved).
    pub program: PathBuf,
    /// The record file, named in the header comment.
    pub record_path: PathBuf,
    /// Supervised-mode and readiness settings from the record.
    pub extras: Extras,
    /// A unit for `systemctl --user` (rdaemon not run as root).
    pub user_manager: bool,
    /// What the program running now would make of its reload signal.
    pub reload: ReloadFate,
}

/// What the daemon's program, running now, would make of its reload signal, as `rdaemon reload`
/// judges it (`deliver`): systemd's `ExecReload=` sends it regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReloadFate {
    /// Not running: not known.
    #[default]
    Unknown,
    /// An `up` file's entry, exported from the file: no program was looked at.
    FromFile,
    /// It catches, ignores or blocks the signal.
    Handled,
    /// The signal would end the program (pid): `rdaemon reload` refuses to send it.
    Fatal { pid: i32 },
}

/// A unit file and what could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The unit file.
    pub text: String,
    /// Settings left out, each with the reason.
    pub warnings: Vec<String>,
}

/// Builds the systemd service unit equivalent to `rec`. Fails when a path cannot be written
/// in a unit file (a control character, or white space at either end).
pub fn systemd_unit(rec: &Record, cx: &UnitContext) -> Result<Unit, String> {
    let name = rec.name.as_str();
    let mut warnings = Vec::new();
    let mut t = String::new();
    let (unit_dir, systemctl, wanted_by) = if cx.user_manager {
        (
            "~/.config/systemd/user",
            "systemctl --user",
            "default.target",
        )
    } else {
        ("/etc/systemd/system", "systemctl", "multi-user.target")
    };
    let _ = writeln!(
        t,
        "# {name}.service: written by `rdaemon export systemd {name}` (rdaemon {}) from the",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(t, "# record {}.", one_line(&cx.record_path));
    let _ = writeln!(
        t,
        "# Install it as {unit_dir}/{name}.service, stop the rdaemon copy (rdaemon stop {name}),"
    );
    let _ = writeln!(
        t,
        "# then: {systemctl} daemon-reload && {systemctl} enable --now {name}"
    );
    t.push_str(
        "# Only the --env overrides were recorded: the rest of the environment the daemon inherited\n\
         # from rdaemon is not, and systemd starts services with a clean one. Add what the program\n\
         # needs with Environment=.",
    );
    // A forking unit reads the program's own pidfile (`PIDFile=`); otherwise nothing writes one.
    t.push_str(match rec.forking {
        true => "\n",
        false => " systemd tracks the process itself: no pidfile is written.\n",
    });

    t.push_str("\n[Unit]\n");
    let _ = writeln!(
        t,
        "Description={} (exported from rdaemon)",
        specifiers(name)
    );
    let respawn = rec.mode == Mode::Respawn;
    if respawn {
        let max = cx
            .extras
            .max_restarts
            .unwrap_or(Respawn::default().max_restarts);
        let window = cx
            .extras
            .restart_window
            .unwrap_or(Respawn::default().restart_window);
        if max == 0 {
            t.push_str("# rdaemon never gives up (--max-restarts 0): no start limit.\n");
            t.push_str("StartLimitIntervalSec=0\n");
        } else {
            let _ = writeln!(
                t,
                "# rdaemon gives up after {max} restarts within {}: systemd counts the first start too.",
                timespan(window)
            );
            let _ = writeln!(t, "StartLimitIntervalSec={}", timespan(window));
            let _ = writeln!(t, "StartLimitBurst={}", max.saturating_add(1));
        }
    }

    t.push_str("\n[Service]\n");
    let ready = rec.ready.as_str();
    if rec.forking {
        // The program forks into the background: its exit is the start, its pidfile names
        // the main process (rdaemon's own default pidfile is none of the program's).
        t.push_str("Type=forking\n");
        if !rec.program_pidfile {
            t.push_str("# The program writes no pidfile of its own: systemd takes the process it leaves.\n");
        } else {
            let _ = writeln!(t, "PIDFile={}", unit_path(&rec.pidfile, "pidfile")?);
        }
        // rdaemon waited this long for the launch to end and the pidfile to name the daemon
        // (SPEC §2.2), and for any readiness after it: systemd's start timeout covers the
        // same (ExecStartPost= too), and is 90 s unless told (helper-126: a forking daemon's
        // --ready-timeout was left out).
        let timeout = timespan(
            cx.extras
                .ready_timeout
                .unwrap_or(Spec::default().ready_timeout),
        );
        let _ = writeln!(t, "TimeoutStartSec={timeout}");
        if ready != "exec" {
            let mut note = String::new();
            ready_comment(&mut note, ready, cx.extras.ready_timeout)?;
            t.push_str(
                &note
                    .replace(
                        "with Type=exec the unit counts as started once the program\n# is executed",
                        "with Type=forking the unit counts as started once the program\n# has forked and its first process exited",
                    )
                    .replace(&format!("#TimeoutStartSec={timeout}\n"), ""),
            );
        }
    } else if ready == "notify" {
        if respawn {
            // rdaemon reload waits for RELOADING=1, then READY=1, here (helper-112's trial).
            t.push_str(
                "# rdaemon reload waits for RELOADING=1 then READY=1; systemd >= 253 does with\n\
                 # Type=notify-reload (it then sends the reload signal itself: no ExecReload=).\n",
            );
        }
        t.push_str("Type=notify\nNotifyAccess=all\n");
        let timeout = cx
            .extras
            .ready_timeout
            .unwrap_or(Spec::default().ready_timeout);
        let _ = writeln!(t, "TimeoutStartSec={}", timespan(timeout));
    } else {
        t.push_str("Type=exec\n");
        if ready != "exec" {
            ready_comment(&mut t, ready, cx.extras.ready_timeout)?;
        }
    }
    let mut argv = vec![path_text(&cx.program, "program")?];
    argv.extend(rec.command.iter().skip(1).cloned());
    // systemd reads these as prefixes of the program, and refuses quotes and backslashes in
    // its path (load-fragment.c, config_parse_exec).
    if let Some(c) = argv[0].chars().next().filter(|c| "@-:+!".contains(*c)) {
        return Err(format!(
            "the program '{}' starts with '{c}', which systemd reads as a prefix; give it with its path",
            argv[0]
        ));
    }
    if argv[0].contains(['"', '\'', '\\']) {
        return Err(format!(
            "systemd refuses quotes and backslashes in the program's path '{}'",
            argv[0]
        ));
    }
    let _ = writeln!(t, "ExecStart={}", exec_line(&argv));
    let _ = writeln!(t, "WorkingDirectory={}", unit_path(&rec.chdir, "chdir")?);
    let umask =
        crate::parse::parse_umask(&rec.umask).map_err(|e| format!("corrupt record: {e}"))?;
    let _ = writeln!(t, "UMask={umask:04o}");
    for (key, value) in &rec.env {
        if env_name_is_valid(key) {
            let _ = writeln!(t, "Environment={}", quote(&format!("{key}={value}"), false));
        } else {
            warnings.push(format!(
                "--env {key}=... is left out: systemd accepts only variable names of letters, digits and _ (not starting with a digit)"
            ));
            let _ = writeln!(
                t,
                "# --env {}: not a variable name systemd accepts",
                comment_text(key)
            );
        }
    }
    if !rec.env_files.is_empty() {
        t.push_str(
            "# --env-file: systemd reads these at every start too, but its variables from\n\
             # EnvironmentFile= win over Environment= (with rdaemon, --env wins over the files).\n",
        );
    }
    for file in &rec.env_files {
        let _ = writeln!(t, "EnvironmentFile={}", unit_path(file, "env file")?);
    }
    let (user, group) = match rec.user.as_deref().map(|u| u.split_once(':')) {
        Some(Some((u, g))) => (Some(u), rec.group.as_deref().or(Some(g))),
        Some(None) => (rec.user.as_deref(), rec.group.as_deref()),
        None => (None, rec.group.as_deref()),
    };
    if let Some(user) = user {
        let _ = writeln!(t, "User={}", plain_value(user, "user")?);
    }
    if let Some(group) = group {
        let _ = writeln!(t, "Group={}", plain_value(group, "group")?);
    }
    if rec.inherited_output {
        // The caller's streams of a `--foreground` start (a file or terminal of its own), never
        // a log: under systemd, what its own `--foreground` start would get.
        t.push_str("StandardOutput=journal\nStandardError=journal\n");
    } else {
        let _ = writeln!(t, "StandardOutput={}", output(&rec.stdout, "stdout")?);
        let _ = writeln!(t, "StandardError={}", output(&rec.stderr, "stderr")?);
    }
    if cx.extras.log_max_size.is_some() {
        t.push_str(
            "# rdaemon rotated this log (--log-max-size); systemd does not: use logrotate with\n\
             # copytruncate, or StandardOutput=journal.\n",
        );
    }
    if respawn {
        let r = rec.respawn.clone().unwrap_or_default();
        t.push_str(
            "# --respawn: rdaemon doubles the delay after quick failures, up to 60s; systemd >= 254\n\
             # can: RestartSteps=6, RestartMaxDelaySec=60s.\n",
        );
        let _ = writeln!(t, "Restart={}", r.restart.as_str());
        if r.restart == RestartPolicy::OnFailure {
            // rdaemon's on-failure restarts after every signal; systemd's leaves the four it
            // counts as a clean end unless told.
            t.push_str("RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE\n");
        }
        let delay = cx
            .extras
            .restart_delay
            .unwrap_or(Respawn::default().restart_delay);
        let _ = writeln!(t, "RestartSec={}", timespan(delay));
        if let Some(d) = r.watchdog {
            let _ = writeln!(t, "WatchdogSec={}", timespan(d));
        }
        if let Some(health) = &r.health {
            let _ = writeln!(
                t,
                "# --health {} every {}, {} failures in a row restart it: systemd has no health\n\
                 # check (a timer unit running the check and `systemctl restart` comes closest).",
                comment_text(health),
                timespan(r.health_interval),
                r.health_retries
            );
        }
        if let Some(command) = &r.on_exit {
            let _ = writeln!(
                t,
                "# --on-exit {}: systemd has no exit hook with rdaemon's variables; ExecStopPost=\n\
                 # runs after each stop with $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS.",
                comment_text(command)
            );
        }
        if r.log_timestamps {
            t.push_str(
                "# --log-timestamps: the journal (StandardOutput=journal) stamps each line.\n",
            );
        }
    }
    if let Some(bytes) = rec.memory_max {
        let _ = writeln!(t, "MemoryMax={bytes}");
    }
    if let Some(n) = rec.tasks_max {
        let _ = writeln!(t, "TasksMax={n}");
    }
    for (res, value) in &rec.limits {
        let limit = crate::procopts::Limit::parse(&format!("{res}={value}"))
            .map_err(|e| format!("corrupt record: {e}"))?;
        let _ = writeln!(t, "{}={}", limit.resource.systemd(), limit.systemd_value());
    }
    if let Some(n) = rec.nice {
        let _ = writeln!(t, "Nice={n}");
    }
    if let Some(n) = rec.oom_score_adj {
        let _ = writeln!(t, "OOMScoreAdjust={n}");
    }
    let stop_signal = crate::spec::stop_signal(rec).map_err(|e| format!("corrupt record: {e}"))?;
    let stop_timeout =
        crate::spec::stop_timeout(rec).map_err(|e| format!("corrupt record: {e}"))?;
    let reload_signal =
        crate::spec::reload_signal(rec).map_err(|e| format!("corrupt record: {e}"))?;
    let _ = writeln!(
        t,
        "# As rdaemon stop: {} to every process of the daemon, KILL after {}.",
        signal_name(stop_signal),
        timespan(stop_timeout)
    );
    t.push_str(
        "KillMode=control-group
",
    );
    if stop_signal != STOP_SIGNAL {
        let _ = writeln!(t, "KillSignal=SIG{}", signal_name(stop_signal));
    }
    let _ = writeln!(t, "TimeoutStopSec={}", stop_timespan(stop_timeout));
    // As rdaemon reload: the reload signal to the main program, unless it would end it (a
    // program that does not handle SIGHUP: review, 2026-12-02).
    let reload = signal_name(reload_signal);
    let exec_reload = format!("ExecReload=/bin/kill -{reload} $MAINPID");
    match cx.reload {
        ReloadFate::Fatal { pid } => {
            warnings.push(format!(
                "ExecReload= is commented out: the program (pid {pid}) does not handle SIG{reload}, which would end it, so rdaemon reload refuses to send it"
            ));
            let _ = writeln!(
                t,
                "# rdaemon reload refuses: the program does not handle SIG{reload}, which would end it.\n\
                 # Once it does:\n#{exec_reload}"
            );
        }
        ReloadFate::Handled => {
            let _ = writeln!(t, "{exec_reload}");
        }
        // Not running, or an `up` file's entry: whether it handles the signal cannot be
        // seen (user trial, 2026-12-03: the guide promised the line commented out), and the
        // comment says which (helper-98's trial: running entries were said not to run).
        ReloadFate::Unknown | ReloadFate::FromFile => {
            let why = match cx.reload {
                ReloadFate::FromFile => "exported from the file, no program was looked at",
                _ => "the program was not running",
            };
            let _ = writeln!(
                t,
                "# Not checked ({why}): without a handler for SIG{reload},\n\
                 # this ends it; rdaemon reload refuses to send such a signal.\n{exec_reload}"
            );
        }
    }

    t.push_str("\n[Install]\n");
    let _ = writeln!(t, "WantedBy={wanted_by}");
    Ok(Unit { text: t, warnings })
}

/// The comment for a readiness check systemd does not have, with a commented-out
/// `ExecStartPost=` that keeps the wait where a shell can do it.
fn ready_comment(t: &mut String, ready: &str, timeout: Option<Duration>) -> Result<(), String> {
    let timeout = timespan(timeout.unwrap_or(Spec::default().ready_timeout));
    let suggestion = if let Some(d) = ready.strip_prefix("alive:") {
        let _ = writeln!(
            t,
            "# rdaemon checked that the program still ran {} after it started (--ready {}).",
            comment_text(d),
            comment_text(ready)
        );
        None
    } else if let Some(spec) = ready.strip_prefix("tcp:") {
        let (host, port) = match spec.rsplit_once(':') {
            Some((h, p)) => (h.trim_start_matches('[').trim_end_matches(']'), p),
            None => ("127.0.0.1", spec),
        };
        let _ = writeln!(
            t,
            "# rdaemon waited until {host}:{port} accepted a connection (--ready {}).",
            comment_text(ready)
        );
        Some(vec![
            "/bin/bash".to_owned(),
            "-c".to_owned(),
            "until (: </dev/tcp/\"$1\"/\"$2\") 2>/dev/null; do sleep 0.1; done".to_owned(),
            "ready".to_owned(),
            host.to_owned(),
            port.to_owned(),
        ])
    } else if let Some(path) = ready.strip_prefix("file:") {
        let _ = writeln!(
            t,
            "# rdaemon waited until {} existed (--ready {}).",
            specifiers(&one_line(Path::new(path))),
            comment_text(ready)
        );
        Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "until [ -e \"$1\" ]; do sleep 0.1; done".to_owned(),
            "ready".to_owned(),
            path.to_owned(),
        ])
    } else if let Some(url) = ready.strip_prefix("http:") {
        let _ = writeln!(
            t,
            "# rdaemon waited until a GET of {} answered 2xx or 3xx (--ready {}).",
            comment_text(url),
            comment_text(ready)
        );
        // curl -f fails on 4xx and 5xx only, and without -L a 3xx is an answer: as rdaemon.
        Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "until curl -fs -o /dev/null \"$1\"; do sleep 0.1; done".to_owned(),
            "ready".to_owned(),
            url.to_owned(),
        ])
    } else if let Some(command) = ready.strip_prefix("cmd:") {
        let _ = writeln!(
            t,
            "# rdaemon waited until `/bin/sh -c COMMAND` exited 0 (--ready {}).",
            comment_text(ready)
        );
        // ExecStartPost= runs as User= in WorkingDirectory=, as rdaemon ran the check.
        Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "until /bin/sh -c \"$1\"; do sleep 0.1; done".to_owned(),
            "ready".to_owned(),
            command.to_owned(),
        ])
    } else {
        let _ = writeln!(
            t,
            "# rdaemon's readiness check: --ready {}.",
            comment_text(ready)
        );
        None
    };
    t.push_str(
        "# systemd has no such check: with Type=exec the unit counts as started once the program\n\
         # is executed.",
    );
    match suggestion {
        Some(argv) => {
            t.push_str(" To keep the wait, uncomment:\n");
            let _ = writeln!(t, "#ExecStartPost={}", exec_line(&argv));
            let _ = writeln!(t, "#TimeoutStartSec={timeout}");
        }
        None => t.push('\n'),
    }
    Ok(())
}

/// A command line for `ExecStart=` (systemd.service(5), "Command lines"): each argument as one
/// word, quoted when it holds anything but plain characters; `%` (specifiers) and `$`
/// (variable expansion) doubled everywhere.
pub fn exec_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| quote(a, true))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word of a unit file setting: bare when plain, else in double quotes with C escapes for
/// `\`, `"` and control characters. `%` is always doubled; `$` too when `dollars` (ExecStart
/// expands `$VAR`, Environment= does not).
pub fn quote(arg: &str, dollars: bool) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%$".contains(&b));
    let mut out = String::with_capacity(arg.len() + 2);
    if !plain {
        out.push('"');
    }
    for c in arg.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' if dollars => out.push_str("$$"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    if !plain {
        out.push('"');
    }
    out
}

/// `%` doubled: systemd expands specifiers in nearly every setting.
fn specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

/// A value shown in a comment of the unit: every control character escaped (`\n`, `\r`,
/// `\u{1b}`), since systemd ends a line at a newline and at a carriage return alike, and the
/// rest of a `--ready cmd:` or `--health` value would be read as a setting of its own.
fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    specifiers(&out)
}

/// A path for settings that take the rest of the line as it is (no quoting, no escapes).
fn unit_path(path: &Path, what: &str) -> Result<String, String> {
    path_text(path, what).map(|s| specifiers(&s))
}

fn path_text(path: &Path, what: &str) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("the {what} path '{}' is not UTF-8", path.display()))?;
    // A unit file line ending in a backslash continues on the next line.
    if text.chars().any(char::is_control) || text.trim() != text || text.ends_with('\\') {
        return Err(format!(
            "the {what} path {text:?} cannot be written in a unit file (control characters, white space at an end, or a final backslash)"
        ));
    }
    Ok(text.to_owned())
}

fn plain_value(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "the {what} {value:?} cannot be written in a unit file"
        ));
    }
    Ok(specifiers(value))
}

fn output(path: &Path, what: &str) -> Result<String, String> {
    if path == Path::new("/dev/null") {
        return Ok("null".into());
    }
    Ok(format!("append:{}", unit_path(path, what)?))
}

/// A path for a comment line: lossy, newlines shown escaped.
fn one_line(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}

/// systemd's rule for Environment= names: letters, digits and `_`, not starting with a digit.
fn env_name_is_valid(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A systemd time span: whole seconds as `Ns`, else milliseconds, else microseconds (systemd's
/// finest unit; what is finer is rounded up, never down to a 0 that systemd may read as
/// "no limit").
fn timespan(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}us", d.as_nanos().div_ceil(1000))
    }
}

/// `TimeoutStopSec=` for rdaemon's stop timeout: a zero, which is "KILL at once" to rdaemon, is
/// "never KILL" to systemd, so it is written as systemd's shortest span instead.
fn stop_timespan(d: Duration) -> String {
    match d.is_zero() {
        true => "1us".to_owned(),
        false => timespan(d),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::parse::Name;

    fn record() -> Record {
        Record {
            name: Name::parse("web").unwrap(),
            pidfile: "/run/rdaemon/web.pid".into(),
            pid: Some(1234),
            child_pid: None,
            child_start_time: None,
            start_time: Some(1),
            boot_id: Some("b".into()),
            pidfs: None,
            session: None,
            session_inode: None,
            command: vec!["python3".into(), "-m".into(), "http.server".into()],
            chdir: "/srv/www".into(),
            umask: "027".into(),
            env: BTreeMap::from([("PORT".into(), "8080".into())]),
            user: None,
            group: None,
            stdout: "/var/log/rdaemon/web.log".into(),
            stderr: "/var/log/rdaemon/web.log".into(),
            mode: Mode::Exec,
            forking: false,
            program_pidfile: false,
            foreground: false,
            inherited_output: false,
            ready: "exec".into(),
            ready_timeout: None,
            status_text: None,
            start_failed: None,
            health_failing: None,
            notify: Default::default(),
            started_at: None,
            restarts: 0,
            last_exit: None,
            respawn: None,
            failed: false,
            stopped: false,
            stopping: false,
            cgroup_mode: None,
            memory_max: None,
            tasks_max: None,
            env_files: Vec::new(),
            limits: BTreeMap::new(),
            nice: None,
            oom_score_adj: None,
            stop_signal: None,
            stop_timeout: None,
            reload_signal: None,
            cgroup: None,
            cgroup_id: None,
            started_boot: None,
            source: None,
            after: Vec::new(),
        }
    }

    fn cx() -> UnitContext {
        UnitContext {
            program: "/usr/bin/python3".into(),
            record_path: "/run/rdaemon/web.json".into(),
            extras: Extras::default(),
            user_manager: false,
            reload: ReloadFate::Unknown,
        }
    }

    fn lines(unit: &Unit) -> Vec<&str> {
        unit.text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn exec_mode_maps_every_field() {
        let unit = systemd_unit(&record(), &cx()).unwrap();
        let l = lines(&unit);
        for want in [
            "[Unit]",
            "Description=web (exported from rdaemon)",
            "[Service]",
            "Type=exec",
            "ExecStart=/usr/bin/python3 -m http.server",
            "WorkingDirectory=/srv/www",
            "UMask=0027",
            "Environment=PORT=8080",
            "StandardOutput=append:/var/log/rdaemon/web.log",
            "StandardError=append:/var/log/rdaemon/web.log",
            "TimeoutStopSec=10s",
            "[Install]",
            "WantedBy=multi-user.target",
        ] {
            assert!(l.contains(&want), "{want} missing in\n{}", unit.text);
        }
        assert!(!unit.text.contains("Restart="));
        assert!(!unit.text.contains("User="));
        assert!(unit.warnings.is_empty());
    }

    #[test]
    fn forking_maps_to_type_forking_with_the_programs_pidfile() {
        let mut rec = record();
        rec.forking = true;
        rec.program_pidfile = true;
        rec.pidfile = "/run/nginx.pid".into();
        rec.ready = "tcp:8080".into();
        let unit = systemd_unit(&rec, &cx()).unwrap();
        let l = lines(&unit);
        assert!(l.contains(&"Type=forking"), "{}", unit.text);
        assert!(l.contains(&"PIDFile=/run/nginx.pid"), "{}", unit.text);
        assert!(!l.contains(&"Type=exec"), "{}", unit.text);
        assert!(unit
            .text
            .contains("with Type=forking the unit counts as started"));
        // Without a pidfile of its own, systemd guesses the main process: no PIDFile=.
        rec.program_pidfile = false;
        let unit = systemd_unit(&rec, &cx()).unwrap();
        assert!(lines(&unit).contains(&"Type=forking"));
        assert!(!unit.text.contains("PIDFile="), "{}", unit.text);
    }

    #[test]
    fn arguments_are_quoted_for_systemd() {
        let argv: Vec<String> = [
            "/bin/echo",
            "a b",
            "100%",
            "$HOME",
            "say \"hi\"",
            "back\\slash",
            "",
            "it's",
            "tab\there",
            ";",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            exec_line(&argv),
            r#"/bin/echo "a b" 100%% $$HOME "say \"hi\"" "back\\slash" "" "it's" "tab\there" ";""#
        );
        assert_eq!(quote("A=$x 5%", false), "\"A=$x 5%%\"");
        assert_eq!(quote("bell\u{7}", true), "\"bell\\x07\"");
    }

    #[test]
    fn respawn_restarts_on_failure_with_the_recorded_delay() {
        let mut rec = record();
        rec.mode = Mode::Respawn;
        let unit = systemd_unit(&rec, &cx()).unwrap();
        let l = lines(&unit);
        assert!(l.contains(&"Restart=always") && l.contains(&"RestartSec=1s"));
        assert!(l.contains(&"StartLimitBurst=6") && l.contains(&"StartLimitIntervalSec=60s"));
        rec.respawn = Some(crate::state::Respawn {
            restart_delay: Duration::from_millis(2500),
            max_restarts: 3,
            restart_window: Duration::from_secs(30),
            ..Default::default()
        });
        let cx = UnitContext {
            extras: Extras::of(&rec),
            ..cx()
        };
        let unit = systemd_unit(&rec, &cx).unwrap();
        let l = lines(&unit);
        assert!(l.contains(&"RestartSec=2500ms"), "{}", unit.text);
        assert!(l.contains(&"StartLimitBurst=4") && l.contains(&"StartLimitIntervalSec=30s"));
    }

    /// A forking daemon's --ready-timeout bounded its launch and pidfile: systemd's start
    /// timeout, 90 s unless told, is set to it (30 s by default), once, also with a readiness
    /// kind whose suggested wait it covers (helper-126).
    #[test]
    fn a_forking_daemons_ready_timeout_is_its_start_timeout() {
        let mut rec = record();
        rec.forking = true;
        let timeouts = |rec: &Record| -> Vec<String> {
            let cx = UnitContext {
                extras: Extras::of(rec),
                ..cx()
            };
            let unit = systemd_unit(rec, &cx).unwrap();
            assert!(lines(&unit).contains(&"Type=forking"), "{}", unit.text);
            unit.text
                .lines()
                .filter(|l| l.contains("TimeoutStartSec="))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(timeouts(&rec), ["TimeoutStartSec=30s"]);
        rec.ready_timeout = Some(Duration::from_secs(5));
        assert_eq!(timeouts(&rec), ["TimeoutStartSec=5s"]);
        rec.ready = "tcp:8080".into();
        assert_eq!(timeouts(&rec), ["TimeoutStartSec=5s"]);
    }

    #[test]
    fn readiness_maps_to_type() {
        let mut rec = record();
        rec.ready = "notify".into();
        let unit = systemd_unit(&rec, &cx()).unwrap();
        let l = lines(&unit);
        assert!(l.contains(&"Type=notify") && l.contains(&"TimeoutStartSec=30s"));
        // The recorded --ready-timeout carries over.
        rec.ready_timeout = Some(Duration::from_secs(120));
        let cx2 = UnitContext {
            extras: Extras::of(&rec),
            ..cx()
        };
        let unit = systemd_unit(&rec, &cx2).unwrap();
        assert!(
            lines(&unit).contains(&"TimeoutStartSec=120s"),
            "{}",
            unit.text
        );
        rec.ready_timeout = None;
        for ready in [
            "tcp:8080",
            "tcp:localhost:8080",
            "file:/run/web.ready",
            "alive:2s",
        ] {
            rec.ready = ready.into();
            let unit = systemd_unit(&rec, &cx()).unwrap();
            assert!(lines(&unit).contains(&"Type=exec"), "{ready}");
            assert!(unit.text.contains(&format!("--ready {ready}")), "{ready}");
            assert!(unit.text.contains("systemd has no such check"), "{ready}");
        }
        rec.ready = "tcp:localhost:8080".into();
        let unit = systemd_unit(&rec, &cx()).unwrap();
        assert!(
            unit.text.contains("#ExecStartPost=/bin/bash -c "),
            "{}",
            unit.text
        );
        assert!(
            unit.text.contains(" ready localhost 8080\n"),
            "{}",
            unit.text
        );
    }

    #[test]
    fn user_and_group_and_user_manager() {
        let mut rec = record();
        rec.user = Some("www-data:www".into());
        let unit = systemd_unit(&rec, &cx()).unwrap();
        assert!(lines(&unit).contains(&"User=www-data") && lines(&unit).contains(&"Group=www"));
        rec.user = Some("alice".into());
        rec.group = Some("staff".into());
        let unit = systemd_unit(&rec, &cx()).unwrap();
        assert!(lines(&unit).contains(&"User=alice") && lines(&unit).contains(&"Group=staff"));
        let mut cx = cx();
        cx.user_manager = true;
        let unit = systemd_unit(&record(), &cx).unwrap();
        assert!(lines(&unit).contains(&"WantedBy=default.target"));
        assert!(unit.text.contains("systemctl --user daemon-reload"));
    }

    #[test]
    fn dev_null_and_odd_values() {
        let mut rec = record();
        rec.stdout = "/dev/null".into();
        rec.stderr = "/tmp/100%.log".into();
        rec.env.insert("BAD KEY".into(), "x".into());
        let unit = systemd_unit(&rec, &cx()).unwrap();
        let l = lines(&unit);
        assert!(l.contains(&"StandardOutput=null"));
        assert!(l.contains(&"StandardError=append:/tmp/100%%.log"));
        assert_eq!(unit.warnings.len(), 1, "{:?}", unit.warnings);
        assert!(!l.iter().any(|l| l.contains("BAD KEY")));
        rec.chdir = "/tmp/new\nline".into();
        assert!(systemd_unit(&rec, &cx())
            .unwrap_err()
            .contains("cannot be written"));
    }

    #[test]
    fn timespans() {
        assert_eq!(timespan(Duration::from_secs(60)), "60s");
        assert_eq!(timespan(Duration::from_millis(500)), "500ms");
        assert_eq!(timespan(Duration::from_micros(100)), "100us");
        assert_eq!(timespan(Duration::from_nanos(1)), "1us");
        assert_eq!(timespan(Duration::from_millis(1500)), "1500ms");
        assert_eq!(timespan(Duration::ZERO), "0s");
        // Zero is "KILL at once" to rdaemon, "never" to systemd's TimeoutStopSec=.
        assert_eq!(stop_timespan(Duration::ZERO), "1us");
        assert_eq!(stop_timespan(Duration::from_secs(10)), "10s");
    }
}
