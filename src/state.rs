//! The record (`DIR/NAME.json`): everything needed to recognise and re-run a daemon. Saved
//! atomically (a `.new` file and `rename`, as s6 does), it survives `stop` and goes only with
//! `forget`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::parse::Name;
use crate::paths::Ctx;
use crate::pidfile::create_exclusive;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Readiness spec (`--ready`).
    #[serde(default = "default_ready")]
    pub ready: String,
    /// When it was started (RFC 3339).
    pub started_at: Option<String>,
    /// Respawn mode: restarts so far.
    #[serde(default)]
    pub restarts: u32,
    /// Respawn mode: how the program last ended.
    #[serde(default)]
    pub last_exit: Option<LastExit>,
}

fn default_ready() -> String {
    "exec".into()
}

impl Record {
    /// Loads `DIR/NAME.json`; `Ok(None)` when there is none.
    pub fn load(ctx: &Ctx, name: &Name) -> Result<Option<Record>> {
        load_path(&ctx.record_path(name))
    }

    /// Saves the record atomically (mode 0644).
    pub fn save(&self, ctx: &Ctx) -> Result<()> {
        let path = ctx.record_path(&self.name);
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        let tmp = path.with_extension("json.new");
        let write = || -> io::Result<()> {
            let mut file = create_exclusive(&tmp, 0o644)?;
            file.write_all(&text)?;
            fs::rename(&tmp, &path)
        };
        write()
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                anyhow::Error::new(e)
            })
            .with_context(|| format!("cannot write record '{}'", path.display()))
    }

    /// Removes `DIR/NAME.json`.
    pub fn remove(ctx: &Ctx, name: &Name) -> Result<()> {
        let path = ctx.record_path(name);
        fs::remove_file(&path).with_context(|| format!("cannot remove record '{}'", path.display()))
    }
}

/// Loads a record file; `Ok(None)` when missing, an error naming the path when unreadable or
/// corrupt.
pub fn load_path(path: &Path) -> Result<Option<Record>> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read record '{}'", path.display()))
        }
    };
    serde_json::from_slice(&text)
        .map(Some)
        .with_context(|| format!("corrupt record '{}'", path.display()))
}

/// The names of all records in the rdaemon directory, sorted.
pub fn list_names(ctx: &Ctx) -> Result<Vec<Name>> {
    let entries = match fs::read_dir(&ctx.dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e)
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
            started_at: Some("2026-11-21T13:00:00Z".into()),
            restarts: 0,
            last_exit: None,
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

    #[test]
    fn missing_dir_lists_nothing() {
        let ctx = ctx(Path::new("/nonexistent/rdaemon"));
        assert!(list_names(&ctx).unwrap().is_empty());
    }
}
