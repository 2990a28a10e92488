//! The record (`DIR/NAME.json`): everything needed to recognise and re-run a daemon. Saved
//! atomically (a `.new` file and `rename`, as s6 does), it survives `stop` and goes only with
//! `forget`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use crate::parse::{format_duration, parse_duration, Name};
use crate::paths::Ctx;
use crate::pidfile::os_error;

/// How a daemon runs: the program itself, or under an rdaemon monitor (`--respawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// rdaemon execs the program; the pidfile holds its pid.
    #[default]
    Exec,
    /// A monitor restarts the program; the pidfile holds the monitor's pid.
    Respawn,
}

/// How a program ended: `{"code": N}` or `{"signal": N}`, with when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LastExit {
    /// Exit status, when it exited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<i32>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at: Option<String>,
}

/// One daemon's record. Field names are those of `status --json` (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The daemon's name.
    pub name: Name,
    /// Absolute path of its pidfile.
    pub pidfile: PathBuf,
    /// The pid rdaemon started (the monitor's in respawn mode).
    pub pid: Option<i32>,
    /// Respawn mode: the current child's pid.
    #[serde(default)]
    pub child_pid: Option<i32>,
    /// Start time of `pid` in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: Option<u64>,
    /// The boot during which `pid` was started.
    pub boot_id: Option<String>,
    /// The session rdaemon made for the daemon (the `setsid` of the double fork; field 6 of
    /// `/proc/PID/stat`), read at start while the daemon waited for its exec: how its leftovers
    /// are found once the main process has died (`session`). `None` for `--foreground` (it
    /// keeps the caller's session) and in records written before it existed.
    #[serde(default)]
    pub session: Option<i32>,
    /// argv, program first.
    pub command: Vec<String>,
    /// Working directory.
    pub chdir: PathBuf,
    /// File mode creation mask, octal text (`"022"`).
    pub umask: String,
    /// Environment overrides (`--env`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `--user`.
    #[serde(default)]
    pub user: Option<String>,
    /// `--group`.
    #[serde(default)]
    pub group: Option<String>,
    /// Where stdout goes.
    pub stdout: PathBuf,
    /// Where stderr goes.
    pub stderr: PathBuf,
    /// exec or respawn.
    #[serde(default)]
    pub mode: Mode,
    /// Readiness spec (`--ready`), in its canonical form.
    #[serde(default = "default_ready")]
    pub ready: String,
    /// `--ready-timeout` (`30s`).
    #[serde(default)]
    pub ready_timeout: Option<String>,
    /// The last `STATUS=` text the program sent over the notify socket while `start` waited.
    #[serde(default)]
    pub status_text: Option<String>,
    /// When it was started (RFC 3339).
    pub started_at: Option<String>,
    /// Respawn mode: restarts so far.
    #[serde(default)]
    pub restarts: u32,
    /// Respawn mode: how the program last ended.
    #[serde(default)]
    pub last_exit: Option<LastExit>,
    /// Respawn mode: the options of the monitor; `None` in exec mode.
    #[serde(default)]
    pub respawn: Option<Respawn>,
    /// Respawn mode: the monitor gave up after too many restarts (state `failed`).
    #[serde(default)]
    pub failed: bool,
    /// `stop` (or `restart`) is stopping this daemon: set before its first signal, so that a
    /// daemon found gone before `stop` removed its pidfile is not taken for a crash. A new
    /// start writes a new record without it.
    #[serde(default)]
    pub stopping: bool,
    /// `--cgroup`: `auto`, `on` or `off` (absent: `auto`).
    #[serde(default)]
    pub cgroup_mode: Option<String>,
    /// `--memory-max`, in bytes.
    #[serde(default)]
    pub memory_max: Option<u64>,
    /// `--tasks-max`.
    #[serde(default)]
    pub tasks_max: Option<u64>,
    /// The cgroup the daemon runs in (`.../rdaemon/NAME`), if it got one.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// Its id (the directory's inode): cgroup paths are global and a name's cgroup may be
    /// another daemon's since, so nothing is done to one whose id differs.
    #[serde(default)]
    pub cgroup_id: Option<u64>,
}

impl LastExit {
    /// An exit with status `code`, now.
    pub fn code(code: i32) -> LastExit {
        LastExit {
            code: Some(code),
            signal: None,
            at: Some(now_rfc3339()),
        }
    }

    /// Death by signal `signal`, now.
    pub fn signal(signal: i32) -> LastExit {
        LastExit {
            code: None,
            signal: Some(signal),
            at: Some(now_rfc3339()),
        }
    }

    /// `exited with status 1` / `killed by signal 9`, as SPEC §6 words it.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(code), None) => format!("exited with status {code}"),
            (None, None) => "ended".into(),
        }
    }
}

/// Respawn mode's options (SPEC §6), as `start` was given them and `restart` restores them.
/// Durations are kept as text (`"1s"`, `"500ms"`) so the record stays readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Respawn {
    /// Delay before the first restart (`--restart-delay`).
    pub restart_delay: String,
    /// Restarts allowed within the window before giving up; 0 for no limit (`--max-restarts`).
    pub max_restarts: u32,
    /// The window of `max_restarts` (`--restart-window`).
    pub restart_window: String,
    /// Rotate the log at this many bytes (`--log-max-size`); `None`: the child writes the log
    /// files itself and nothing rotates.
    #[serde(default)]
    pub log_max_size: Option<u64>,
    /// How many rotated files to keep (`--log-keep`).
    #[serde(default = "default_log_keep")]
    pub log_keep: u32,
}

/// `--restart-delay`'s default.
pub const DEFAULT_RESTART_DELAY: Duration = Duration::from_secs(1);
/// `--max-restarts`'s default.
pub const DEFAULT_MAX_RESTARTS: u32 = 5;
/// `--restart-window`'s default.
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(60);
/// `--log-keep`'s default.
pub const DEFAULT_LOG_KEEP: u32 = 5;

fn default_log_keep() -> u32 {
    DEFAULT_LOG_KEEP
}

impl Default for Respawn {
    fn default() -> Respawn {
        Respawn {
            restart_delay: format_duration(DEFAULT_RESTART_DELAY),
            max_restarts: DEFAULT_MAX_RESTARTS,
            restart_window: format_duration(DEFAULT_RESTART_WINDOW),
            log_max_size: None,
            log_keep: DEFAULT_LOG_KEEP,
        }
    }
}

impl Respawn {
    /// `--restart-delay` as a duration; a corrupt record is an error naming the field.
    pub fn restart_delay(&self) -> Result<Duration> {
        parse_duration(&self.restart_delay)
            .map_err(|e| anyhow::anyhow!("corrupt record: restart_delay: {e}"))
    }

    /// `--restart-window` as a duration.
    pub fn restart_window(&self) -> Result<Duration> {
        parse_duration(&self.restart_window)
            .map_err(|e| anyhow::anyhow!("corrupt record: restart_window: {e}"))
    }
}

fn default_ready() -> String {
    "exec".into()
}

impl Record {
    /// Loads `DIR/NAME.json`; `Ok(None)` when there is none.
    pub fn load(ctx: &Ctx, name: &Name) -> Result<Option<Record>> {
        load_path(&ctx.record_path(name))
    }

    /// The record as rdaemon stores it: pretty JSON and a newline. Fails only for a path that is
    /// not UTF-8 (JSON cannot hold it).
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        Ok(text)
    }

    /// Reads a record from the content of a `NAME.json` file; [`Record::to_json`] is its inverse.
    pub fn from_json(bytes: &[u8]) -> serde_json::Result<Record> {
        serde_json::from_slice(bytes)
    }

    /// Saves the record atomically, readable and writable by its owner only (mode 0600): it
    /// holds the `--env` values, which may be secrets. Written through the rdaemon directory's
    /// handle: `NAME.json.new` created exclusively, then renamed over `NAME.json`.
    pub fn save(&self, ctx: &Ctx) -> Result<()> {
        let path = ctx.record_path(&self.name);
        let text = self
            .to_json()
            .with_context(|| format!("cannot write record '{}'", path.display()))?;
        let dir = ctx
            .state_dir()
            .with_context(|| format!("cannot write record '{}'", path.display()))?;
        let name = OsString::from(format!("{}.json", self.name));
        let tmp = OsString::from(format!("{}.json.new", self.name));
        let write = || -> io::Result<()> {
            let create = || dir.create(&tmp, OFlag::O_WRONLY, RECORD_MODE);
            let mut file = match create() {
                // A leftover of a killed rdaemon (the caller holds the name's lock).
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    dir.unlink(&tmp)?;
                    create()?
                }
                other => other?,
            };
            file.write_all(&text)?;
            dir.rename(&tmp, &name)
        };
        write()
            .map_err(|e| {
                let _ = dir.unlink(&tmp);
                os_error(e)
            })
            .with_context(|| format!("cannot write record '{}'", path.display()))
    }

    /// Removes `DIR/NAME.json`.
    pub fn remove(ctx: &Ctx, name: &Name) -> Result<()> {
        let path = ctx.record_path(name);
        ctx.state_dir()
            .and_then(|dir| {
                dir.unlink(OsStr::new(&format!("{name}.json")))
                    .map_err(os_error)
            })
            .with_context(|| format!("cannot remove record '{}'", path.display()))
    }

    /// Checks what serde cannot: every field rdaemon will act on makes sense, so that a corrupt
    /// or hostile record is an error naming the field, never a panic or an absurd action.
    pub fn validate(&self) -> Result<(), String> {
        let pid_ok = |p: Option<i32>| p.is_none_or(|p| p > 1 && p <= PID_MAX_LIMIT);
        match self.command.first() {
            None => return Err("\"command\" is empty".into()),
            Some(p) if p.is_empty() => return Err("\"command\" names an empty program".into()),
            Some(_) => {}
        }
        if let Some(arg) = self.command.iter().find(|a| a.contains('\0')) {
            return Err(format!(
                "\"command\" has an argument with a NUL byte: {arg:?}"
            ));
        }
        if !pid_ok(self.pid) {
            return Err(format!(
                "\"pid\" {} is not a possible pid",
                self.pid.unwrap_or_default()
            ));
        }
        if !pid_ok(self.child_pid) {
            return Err(format!(
                "\"child_pid\" {} is not a possible pid",
                self.child_pid.unwrap_or_default()
            ));
        }
        for (field, path) in [("pidfile", &self.pidfile), ("chdir", &self.chdir)] {
            if !path.is_absolute() {
                return Err(format!(
                    "\"{field}\" '{}' is not an absolute path",
                    path.display()
                ));
            }
        }
        for (field, path) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if path.as_os_str().is_empty() {
                return Err(format!("\"{field}\" is empty"));
            }
        }
        if crate::parse::parse_umask(&self.umask).is_err() {
            return Err(format!("\"umask\" '{}' is not an octal umask", self.umask));
        }
        if let Some(k) = self
            .env
            .keys()
            .find(|k| k.is_empty() || k.contains(['=', '\0']))
        {
            return Err(format!("\"env\" has an invalid variable name {k:?}"));
        }
        if let Some(r) = &self.respawn {
            if r.log_max_size == Some(0) {
                return Err("\"respawn.log_max_size\" is 0".into());
            }
            r.restart_delay().map_err(|e| e.to_string())?;
            r.restart_window().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// A record's mode: its owner's only, since `env` may hold secrets (issue 11, finding 7).
pub const RECORD_MODE: u32 = 0o600;
/// No record is larger than this; a bigger file is refused unread (a link to `/dev/zero` would
/// otherwise be read forever).
pub const RECORD_MAX_BYTES: u64 = 1 << 20;
/// The kernel's highest possible pid (`PID_MAX_LIMIT` on 64-bit systems).
const PID_MAX_LIMIT: i32 = 1 << 22;

/// Loads a record file; `Ok(None)` when missing, an error naming the path when unreadable,
/// not a regular file, larger than [`RECORD_MAX_BYTES`] or corrupt. Opened without following a
/// symlink and without blocking (a FIFO), through the directory's handle.
pub fn load_path(path: &Path) -> Result<Option<Record>> {
    let fail = || format!("cannot read record '{}'", path.display());
    let Some(parent) = path.parent().filter(|p| p.is_dir()) else {
        return Ok(None);
    };
    let name = path.file_name().with_context(fail)?;
    let dir = crate::fsx::open_cached(parent).with_context(fail)?;
    let file = match dir.open_file(name, OFlag::O_RDONLY, 0) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!(crate::fsx::open_reason(&e))).with_context(fail),
    };
    let st = crate::fsx::check_file(&file, crate::fsx::Kind::Regular, None)
        .map_err(|why| anyhow::anyhow!(why))
        .with_context(fail)?;
    if st.st_size as u64 > RECORD_MAX_BYTES {
        return Err(anyhow::anyhow!(
            "it is larger than {} bytes",
            RECORD_MAX_BYTES
        ))
        .with_context(fail);
    }
    let mut text = Vec::new();
    file.take(RECORD_MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(os_error)
        .with_context(fail)?;
    if text.len() as u64 > RECORD_MAX_BYTES {
        return Err(anyhow::anyhow!(
            "it is larger than {} bytes",
            RECORD_MAX_BYTES
        ))
        .with_context(fail);
    }
    let rec =
        Record::from_json(&text).with_context(|| format!("corrupt record '{}'", path.display()))?;
    rec.validate()
        .map_err(|why| anyhow::anyhow!(why))
        .with_context(|| format!("corrupt record '{}'", path.display()))?;
    if path.file_name() != Some(OsStr::new(&format!("{}.json", rec.name))) {
        bail!(
            "corrupt record '{}': it names another daemon ('{}')",
            path.display(),
            rec.name
        );
    }
    Ok(Some(rec))
}

/// The names of all records in the rdaemon directory, sorted.
pub fn list_names(ctx: &Ctx) -> Result<Vec<Name>> {
    let entries = match fs::read_dir(&ctx.dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(os_error(e))
                .with_context(|| format!("cannot read rdaemon directory '{}'", ctx.dir.display()))
        }
    };
    let mut names: Vec<Name> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name();
            let stem = file.to_str()?.strip_suffix(".json")?;
            Name::parse(stem).ok()
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Now, as RFC 3339 with seconds (UTC).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> Ctx {
        Ctx {
            dir: dir.to_owned(),
            dir_explicit: true,
            quiet: false,
            verbose: 0,
            is_root: false,
        }
    }

    fn sample() -> Record {
        Record {
            name: Name::parse("web").unwrap(),
            pidfile: "/run/rdaemon/web.pid".into(),
            pid: Some(1234),
            child_pid: None,
            start_time: Some(98765),
            boot_id: Some("0c9b6f2e-8f0e-4f3a-9d55-0d6f1f3c1a2b".into()),
            session: Some(4241),
            command: vec!["python3".into(), "-m".into(), "http.server".into()],
            chdir: "/".into(),
            umask: "022".into(),
            env: BTreeMap::from([("PORT".into(), "8080".into())]),
            user: None,
            group: None,
            stdout: "/run/rdaemon/web.log".into(),
            stderr: "/run/rdaemon/web.log".into(),
            mode: Mode::Exec,
            ready: "exec".into(),
            ready_timeout: Some("30s".into()),
            status_text: Some("Listening".into()),
            started_at: Some("2026-11-21T13:00:00Z".into()),
            restarts: 0,
            last_exit: None,
            respawn: None,
            failed: false,
            stopping: false,
            cgroup_mode: None,
            memory_max: None,
            tasks_max: None,
            cgroup: None,
            cgroup_id: None,
        }
    }

    #[test]
    fn record_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let rec = sample();
        rec.save(&ctx).unwrap();
        assert_eq!(Record::load(&ctx, &rec.name).unwrap(), Some(rec.clone()));
        assert_eq!(list_names(&ctx).unwrap(), vec![rec.name.clone()]);
        let text = fs::read_to_string(ctx.record_path(&rec.name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["mode"], "exec");
        assert_eq!(v["start_time"], 98765);
        Record::remove(&ctx, &rec.name).unwrap();
        assert_eq!(Record::load(&ctx, &rec.name).unwrap(), None);
    }

    #[test]
    fn corrupt_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let name = Name::parse("web").unwrap();
        fs::write(ctx.record_path(&name), "{\"name\": \"web\", ").unwrap();
        let err = Record::load(&ctx, &name).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt record"), "{err:#}");
        assert!(format!("{err:#}").contains("web.json"));
    }

    /// Regression (issue 8): a path that is not UTF-8 made `save` fail with serde's bare
    /// "path contains invalid UTF-8 characters", naming no file.
    #[test]
    fn unencodable_record_is_an_error_naming_the_file() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut rec = sample();
        rec.stdout = PathBuf::from(OsStr::from_bytes(b"/tmp/l\xff.log"));
        let err = format!("{:#}", rec.save(&ctx).unwrap_err());
        assert!(err.starts_with("cannot write record '"), "{err}");
        assert!(err.contains("web.json") && err.contains("UTF-8"), "{err}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "left a file behind"
        );
    }

    #[test]
    fn respawn_record_round_trips_and_old_records_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut rec = sample();
        rec.mode = Mode::Respawn;
        rec.child_pid = Some(4321);
        rec.restarts = 3;
        rec.last_exit = Some(LastExit::signal(9));
        rec.respawn = Some(Respawn {
            log_max_size: Some(10 << 20),
            ..Respawn::default()
        });
        rec.save(&ctx).unwrap();
        assert_eq!(Record::load(&ctx, &rec.name).unwrap(), Some(rec.clone()));
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ctx.record_path(&rec.name)).unwrap()).unwrap();
        assert_eq!(v["mode"], "respawn");
        assert_eq!(v["last_exit"]["signal"], 9);
        assert!(v["last_exit"].get("code").is_none());
        assert_eq!(v["respawn"]["restart_delay"], "1s");
        let respawn = rec.respawn.as_ref().unwrap();
        assert_eq!(respawn.restart_delay().unwrap(), Duration::from_secs(1));
        assert_eq!(respawn.restart_window().unwrap(), Duration::from_secs(60));

        // A record written before respawn mode existed has none of the new fields.
        let mut old = v.clone();
        for key in ["respawn", "failed", "child_pid", "restarts", "last_exit"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let back: Record = serde_json::from_value(old).unwrap();
        assert_eq!((back.respawn, back.failed, back.restarts), (None, false, 0));
    }

    #[test]
    fn last_exit_is_described_as_the_spec_words_it() {
        assert_eq!(LastExit::code(1).describe(), "exited with status 1");
        assert_eq!(LastExit::signal(9).describe(), "killed by signal 9");
        assert!(LastExit::code(0).at.unwrap().ends_with('Z'));
    }

    /// Issue 11, finding 10: fields serde accepts but rdaemon cannot act on are refused by
    /// name, and a hostile file is never read whole.
    #[test]
    fn absurd_fields_and_hostile_files_are_errors_naming_them() {
        type Spoil = fn(&mut Record);
        let bad: [(&str, Spoil); 6] = [
            ("\"command\" is empty", |r| r.command.clear()),
            ("empty program", |r| r.command = vec![String::new()]),
            ("\"pid\" 1", |r| r.pid = Some(1)),
            ("\"child_pid\" -5", |r| r.child_pid = Some(-5)),
            ("\"pidfile\" 'x.pid'", |r| r.pidfile = "x.pid".into()),
            ("\"umask\" '999'", |r| r.umask = "999".into()),
        ];
        for (why, spoil) in bad {
            let mut rec = sample();
            spoil(&mut rec);
            let err = rec.validate().unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        assert_eq!(sample().validate(), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let web = Name::parse("web").unwrap();
        std::os::unix::fs::symlink("/dev/zero", ctx.record_path(&web)).unwrap();
        let err = format!("{:#}", Record::load(&ctx, &web).unwrap_err());
        assert!(err.contains("web.json") && err.contains("symlink"), "{err}");
        fs::remove_file(ctx.record_path(&web)).unwrap();
        fs::write(ctx.record_path(&web), vec![b' '; 2 << 20]).unwrap();
        let err = format!("{:#}", Record::load(&ctx, &web).unwrap_err());
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn missing_dir_lists_nothing() {
        let ctx = ctx(Path::new("/nonexistent/rdaemon"));
        assert!(list_names(&ctx).unwrap().is_empty());
    }
}

/// Property tests (issue 8): a record survives `to_json` then `from_json` unchanged, and no
/// content of a record file makes `from_json` panic.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn last_exit() -> impl Strategy<Value = LastExit> {
        (
            any::<Option<i32>>(),
            any::<Option<i32>>(),
            any::<Option<String>>(),
        )
            .prop_map(|(code, signal, at)| LastExit { code, signal, at })
    }

    fn respawn() -> impl Strategy<Value = Respawn> {
        (
            any::<String>(),
            any::<u32>(),
            any::<String>(),
            any::<Option<u64>>(),
            any::<u32>(),
        )
            .prop_map(
                |(restart_delay, max_restarts, restart_window, log_max_size, log_keep)| Respawn {
                    restart_delay,
                    max_restarts,
                    restart_window,
                    log_max_size,
                    log_keep,
                },
            )
    }

    fn record() -> impl Strategy<Value = Record> {
        let identity = (
            "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
            any::<String>(),
            any::<Option<i32>>(),
            any::<Option<i32>>(),
            any::<Option<u64>>(),
            any::<Option<String>>(),
        );
        let how = (
            prop::collection::vec(any::<String>(), 0..4),
            any::<String>(),
            "[0-7]{3}",
            prop::collection::btree_map(any::<String>(), any::<String>(), 0..3),
            any::<Option<String>>(),
            any::<Option<String>>(),
            any::<String>(),
            any::<String>(),
        );
        let run = (
            any::<bool>(),
            any::<String>(),
            any::<Option<String>>(),
            any::<u32>(),
            proptest::option::of(last_exit()),
            proptest::option::of(respawn()),
            any::<bool>(),
            any::<Option<String>>(),
            any::<Option<String>>(),
        );
        (identity, how, run).prop_map(
            |(
                (name, pidfile, pid, child_pid, start_time, boot_id),
                (command, chdir, umask, env, user, group, stdout, stderr),
                (
                    respawn_mode,
                    ready,
                    started_at,
                    restarts,
                    last_exit,
                    respawn,
                    failed,
                    ready_timeout,
                    status_text,
                ),
            )| Record {
                name: Name::parse(&name).unwrap(),
                pidfile: pidfile.into(),
                pid,
                child_pid,
                start_time,
                boot_id,
                session: None,
                command,
                chdir: chdir.into(),
                umask,
                env,
                user,
                group,
                stdout: stdout.into(),
                stderr: stderr.into(),
                mode: if respawn_mode {
                    Mode::Respawn
                } else {
                    Mode::Exec
                },
                ready,
                started_at,
                restarts,
                last_exit,
                respawn,
                failed,
                // Another random bit, without widening the tuples.
                stopping: restarts % 2 == 1,
                cgroup_mode: None,
                memory_max: None,
                tasks_max: None,
                cgroup: None,
                cgroup_id: None,
                ready_timeout,
                status_text,
            },
        )
    }

    proptest! {
        #[test]
        fn record_round_trips(rec in record()) {
            let json = rec.to_json().unwrap();
            prop_assert_eq!(Record::from_json(&json).unwrap(), rec);
        }

        #[test]
        fn record_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(rec) = Record::from_json(&bytes) {
                prop_assert_eq!(Record::from_json(&rec.to_json().unwrap()).unwrap(), rec);
            }
        }

        /// A valid record file with a few bytes overwritten: mostly corrupt, sometimes still a
        /// record, never a panic.
        #[test]
        fn damaged_record_never_panics(
            rec in record(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut json = rec.to_json().unwrap();
            for (at, byte) in edits {
                let i = at.index(json.len());
                json[i] = byte;
            }
            if let Ok(rec) = Record::from_json(&json) {
                prop_assert_eq!(Record::from_json(&rec.to_json().unwrap()).unwrap(), rec);
            }
        }
    }
}
