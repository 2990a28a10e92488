//! Pidfiles and per-name locks.
//!
//! A pidfile holds one decimal pid and a newline. It is read through `O_NOFOLLOW` with a size cap,
//! replaced atomically (a temporary file in the same directory, then `rename`), never written
//! through a symlink, and removed only while it still names the pid rdaemon means to remove.
//! The per-name `flock` serialises the check-then-act of start, stop, restart and forget.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg, OFlag};

use crate::parse::{format_pid_content, parse_pid_content, PIDFILE_MAX_BYTES};
use crate::process::Pid;

/// What a pidfile path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// No file there.
    Missing,
    /// A valid pid. `trusted` is false when rdaemon runs as root and the file could have been
    /// written by another user: not owned by root, writable by group or others, or with a
    /// second hard link (another user may have linked some root-owned file there).
    Valid { pid: Pid, trusted: bool },
    /// Something rdaemon must not act on; the reason says why.
    Invalid(String),
}

/// Reads and validates the pidfile at `path` without following a symlink and without reading
/// more than a bounded prefix.
pub fn read(path: &Path, is_root: bool) -> Content {
    let (raw, meta) = match read_raw(path) {
        Ok(None) => return Content::Missing,
        Ok(Some(found)) => found,
        Err(why) => return Content::Invalid(why),
    };
    let pid_max = crate::process::pid_max();
    if i64::from(raw) > pid_max {
        return Content::Invalid(format!(
            "{raw} is beyond the kernel's pid_max ({pid_max}), so no process can have it"
        ));
    }
    match Pid::new(raw) {
        Ok(pid) => Content::Valid {
            pid,
            trusted: !is_root || (meta.uid() == 0 && meta.mode() & 0o022 == 0 && meta.nlink() == 1),
        },
        Err(why) => Content::Invalid(why),
    }
}

/// The number a pidfile holds, before the [`Pid`] rules: `Ok(None)` when there is no file, an
/// error (the reason) when it is not one decimal pid in a regular file.
fn read_raw(path: &Path) -> Result<Option<(i32, fs::Metadata)>, String> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(
                "it is a symlink, and rdaemon does not follow symlinks at a pidfile path".into(),
            )
        }
        Err(e) => return Err(format!("cannot read it: {}", os_reason(&e))),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {}", os_reason(&e)))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    let mut buf = Vec::with_capacity(PIDFILE_MAX_BYTES + 1);
    file.take(PIDFILE_MAX_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {}", os_reason(&e)))?;
    let raw = parse_pid_content(&buf).map_err(|e| e.to_string())?;
    Ok(Some((raw, meta)))
}

/// Whether the pidfile at `path` names the calling process (the respawn monitor's own pidfile,
/// which [`read`] rightly refuses as "rdaemon itself").
pub fn names_self(path: &Path) -> bool {
    matches!(read_raw(path), Ok(Some((raw, _))) if raw == std::process::id() as i32)
}

/// Removes the pidfile if it still names the calling process. Returns whether it did.
pub fn remove_if_self(path: &Path) -> Result<bool> {
    if names_self(path) {
        remove(path).map(|()| true)
    } else {
        Ok(false)
    }
}

/// A pidfile being written: the temporary file exists from [`PidfileWriter::prepare`] on (so a
/// directory that is not writable shows before anything is started), and [`PidfileWriter::commit`]
/// fills it and renames it into place. Dropped uncommitted, it removes the temporary file.
#[derive(Debug)]
pub struct PidfileWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PidfileWriter {
    /// Checks the pidfile path (no symlink, no directory) and creates the temporary file.
    pub fn prepare(path: &Path) -> Result<PidfileWriter> {
        refuse_symlink(path)?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        let file_name = path
            .file_name()
            .with_context(|| format!("invalid pidfile path '{}'", path.display()))?;
        let prefix = format!(".{}.", file_name.to_string_lossy());
        remove_stale_temporaries(dir, &prefix);
        let tmp = dir.join(format!("{prefix}{}.tmp", std::process::id()));
        let file = create_exclusive(&tmp, 0o644)
            .map_err(os_error)
            .with_context(|| format!("cannot write pidfile '{}'", path.display()))?;
        Ok(PidfileWriter {
            path: path.to_owned(),
            tmp,
            file: Some(file),
        })
    }

    /// Writes `pid` and a newline and renames the file over the pidfile path.
    pub fn commit(mut self, pid: Pid) -> Result<()> {
        let mut file = self.file.take().expect("commit runs once");
        let written = file
            .write_all(format_pid_content(pid.get()).as_bytes())
            .and_then(|()| fs::rename(&self.tmp, &self.path));
        if written.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        written
            .map_err(os_error)
            .with_context(|| format!("cannot write pidfile '{}'", self.path.display()))
    }
}

impl Drop for PidfileWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Removes temporary pidfiles (`.NAME.pid.PID.tmp`) left by an rdaemon that was killed while
/// starting. The caller holds the name's lock, so no live writer owns one.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_ours = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if is_ours {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `path` exclusively with `mode` (exactly, whatever the umask), not following symlinks.
/// A leftover from a crashed run with the same pid is replaced.
pub fn create_exclusive(path: &Path, mode: u32) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(path)
    };
    let file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            open()?
        }
        other => other?,
    };
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(file)
}

/// Fails if `path` is a symlink: rdaemon never writes or removes a pidfile through one.
pub fn refuse_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => bail!(
            "refusing pidfile '{}': it is a symlink, and rdaemon does not follow symlinks at a pidfile path",
            path.display()
        ),
        Ok(m) if m.is_dir() => bail!("invalid pidfile '{}': it is a directory", path.display()),
        _ => Ok(()),
    }
}

/// Removes the pidfile if it still names `pid`. Returns whether it did.
pub fn remove_if_pid(path: &Path, pid: Pid) -> Result<bool> {
    match read(path, false) {
        Content::Valid { pid: p, .. } if p == pid => remove(path).map(|()| true),
        _ => Ok(false),
    }
}

/// Removes a stale or invalid pidfile (a regular file only: never a symlink's target).
pub fn remove(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => fs::remove_file(path)
            .map_err(os_error)
            .with_context(|| format!("cannot remove pidfile '{}'", path.display())),
        Ok(_) => bail!(
            "refusing to remove '{}': it is not a regular file",
            path.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(os_error(e)).with_context(|| format!("cannot remove pidfile '{}'", path.display()))
        }
    }
}

/// An exclusive `flock` on `DIR/NAME.lock`, held until dropped.
#[derive(Debug)]
pub struct NameLock {
    path: PathBuf,
    _lock: Flock<File>,
}

impl NameLock {
    /// Blocks until the lock on `path` is ours. If another rdaemon removed the lock file while we
    /// waited (`forget`), we locked a dead inode: take the new one instead.
    pub fn acquire(path: &Path) -> Result<NameLock> {
        Ok(Self::lock(path, true)?.expect("a blocking lock is always taken"))
    }

    /// Takes the lock on `path` if nobody holds it; `Ok(None)` when it is busy. Never blocks: the
    /// respawn monitor uses it, because `stop` holds the lock while it waits for the monitor.
    pub fn try_acquire(path: &Path) -> Result<Option<NameLock>> {
        Self::lock(path, false)
    }

    fn lock(path: &Path, block: bool) -> Result<Option<NameLock>> {
        let how = if block {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(0o644)
                .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC).bits())
                .open(path)
                .map_err(os_error)
                .with_context(|| format!("cannot create lock file '{}'", path.display()))?;
            let lock = match Flock::lock(file, how) {
                Ok(lock) => lock,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) if !block => return Ok(None),
                Err((_, e)) => {
                    return Err(e).with_context(|| format!("cannot lock '{}'", path.display()))
                }
            };
            // Locked a file that `forget` removed meanwhile: lock the one now at the path.
            let ours = lock.metadata()?.ino();
            if fs::metadata(path).is_ok_and(|m| m.ino() == ours) {
                return Ok(Some(NameLock {
                    path: path.to_owned(),
                    _lock: lock,
                }));
            }
        }
    }

    /// Removes the lock file while holding the lock (for `forget`).
    pub fn remove_file(&self) -> Result<()> {
        fs::remove_file(&self.path)
            .map_err(os_error)
            .with_context(|| format!("cannot remove lock file '{}'", self.path.display()))
    }
}

/// Their home is `exit` (one rendering of OS errors); re-exported for the callers of old.
pub use crate::exit::{os_error, os_reason};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let pid = Pid::new(4242).unwrap();
        PidfileWriter::prepare(&path).unwrap().commit(pid).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert!(matches!(read(&path, false), Content::Valid { pid: p, trusted: true } if p == pid));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
    }

    #[test]
    fn temporaries_of_a_killed_start_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        fs::write(dir.path().join(".x.pid.12345.tmp"), "").unwrap();
        fs::write(dir.path().join(".y.pid.12345.tmp"), "").unwrap();
        fs::write(dir.path().join(".x.pid.abc.tmp"), "").unwrap();
        PidfileWriter::prepare(&path)
            .unwrap()
            .commit(Pid::new(4242).unwrap())
            .unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".x.pid.abc.tmp", ".y.pid.12345.tmp", "x.pid"]);
    }

    #[test]
    fn uncommitted_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        drop(PidfileWriter::prepare(&path).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "4242\n").unwrap();
        let link = dir.path().join("x.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(read(&link, false), Content::Invalid(why) if why.contains("symlink")));
        assert!(PidfileWriter::prepare(&link).is_err());
        assert!(remove(&link).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "4242\n");
    }

    #[test]
    fn garbage_is_invalid_and_missing_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        assert_eq!(read(&path, false), Content::Missing);
        fs::write(&path, vec![b'7'; 5 << 20]).unwrap();
        assert!(matches!(read(&path, false), Content::Invalid(_)));
        fs::write(&path, "1\n").unwrap();
        assert!(matches!(read(&path, false), Content::Invalid(_)));
    }

    #[test]
    fn own_pid_is_recognised_and_only_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        assert!(names_self(&path));
        assert!(matches!(read(&path, false), Content::Invalid(_)));
        fs::write(&path, "4242\n").unwrap();
        assert!(!remove_if_self(&path).unwrap());
        assert!(path.exists());
        fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        assert!(remove_if_self(&path).unwrap());
        assert!(!path.exists());
        assert!(!remove_if_self(&path).unwrap());
    }

    #[test]
    fn try_lock_does_not_block_on_a_held_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = NameLock::acquire(&path).unwrap();
        // flock locks belong to the open file description: a second open conflicts even in the
        // same process.
        assert!(NameLock::try_acquire(&path).unwrap().is_none());
        drop(held);
        assert!(NameLock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn lock_survives_removal_by_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let lock = NameLock::acquire(&path).unwrap();
        lock.remove_file().unwrap();
        drop(lock);
        let again = NameLock::acquire(&path).unwrap();
        assert!(path.exists());
        drop(again);
    }
}
