//! Where rdaemon keeps its state: the spec directory (what to run: `NAME.json`, kept across
//! reboots) and the runtime directory (what is true now: `NAME.status`, pidfiles, locks), the
//! same directory unless rdaemon runs as root without `--dir`/`RDAEMON_DIR` (then
//! `/var/lib/rdaemon` and `/run/rdaemon`, SPEC §1), and the per-daemon file names inside them.
//! Also the command context (`Ctx`) with the output helpers every command uses.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use nix::unistd::{access, geteuid, AccessFlags};

use crate::fsx::Dir;
use crate::parse::Name;

/// What every command needs to know about its environment.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The rdaemon directory (absolute): the spec directory, where `NAME.json` lives.
    pub dir: PathBuf,
    /// The runtime directory (absolute): status files, pidfiles, locks. The same as `dir`
    /// except as root with the default layout, or with `RDAEMON_RUNTIME_DIR`.
    pub runtime: PathBuf,
    /// Whether the directory came from `--dir` or `RDAEMON_DIR` rather than the default.
    pub dir_explicit: bool,
    /// `-q`: print only errors.
    pub quiet: bool,
    /// `-v`: how much more to say.
    pub verbose: u8,
    /// Whether rdaemon runs with effective uid 0.
    pub is_root: bool,
}

impl Ctx {
    /// Builds the context from the global options and the environment.
    pub fn new(dir: Option<PathBuf>, quiet: bool, verbose: u8) -> Result<Ctx> {
        let is_root = geteuid().is_root();
        let from_env = std::env::var_os("RDAEMON_DIR").filter(|v| !v.is_empty());
        let runtime_env = std::env::var_os("RDAEMON_RUNTIME_DIR").filter(|v| !v.is_empty());
        let (dir, runtime, dir_explicit) = layout(
            dir.or(from_env.map(PathBuf::from)),
            runtime_env.map(PathBuf::from),
            is_root,
        )?;
        let abs = |dir: PathBuf| {
            std::path::absolute(&dir)
                .with_context(|| format!("invalid rdaemon directory '{}'", dir.display()))
        };
        Ok(Ctx {
            dir: abs(dir)?,
            runtime: abs(runtime)?,
            dir_explicit,
            quiet,
            verbose,
            is_root,
        })
    }

    /// rdaemon's effective uid.
    pub fn uid(&self) -> u32 {
        geteuid().as_raw()
    }

    /// `RUNTIME/NAME.pid`, the default pidfile.
    pub fn pidfile_path(&self, name: &Name) -> PathBuf {
        self.runtime.join(format!("{name}.pid"))
    }

    /// `DIR/NAME.json`, the spec.
    pub fn record_path(&self, name: &Name) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// `RUNTIME/NAME.status`, the runtime status (JSON). Not `NAME.status.json`: that would
    /// read as the spec of a daemon named `NAME.status`.
    pub fn status_path(&self, name: &Name) -> PathBuf {
        self.runtime.join(format!("{name}.status"))
    }

    /// `RUNTIME/NAME.json`: where a v1 record lay when the runtime directory is not the spec
    /// directory (root's `/run/rdaemon`); `None` when they are the same.
    pub fn v1_record_path(&self, name: &Name) -> Option<PathBuf> {
        (self.runtime != self.dir).then(|| self.runtime.join(format!("{name}.json")))
    }

    /// The identity of the directory of the specs (`DEV:INODE`), which a start marks its
    /// daemon's cgroup with ([`crate::cgroup::Claimed::mark`]): the same directory seen through
    /// another path (a bind mount) has it too; another installation's directory of the same
    /// path (another mount namespace, a restored image) has not. `None` if it cannot be read.
    pub fn dir_identity(&self) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(&self.dir)
            .ok()
            .map(|m| format!("{}:{}", m.dev(), m.ino()))
    }

    /// The name of the daemon's cgroup beneath `rdaemon/` (SPEC §3.1): `NAME` for the default
    /// directory, `NAME@HASH` for one given with `--dir` or `RDAEMON_DIR` (HASH: 8 hex digits
    /// of its path). Cgroup paths are machine-wide, names are per directory: without it, a
    /// daemon of the same name from another directory ran without a cgroup, silently, and a
    /// stop racing the other's start could find the path made anew (`@` is never in a name).
    pub fn cgroup_leaf(&self, name: &Name) -> String {
        if !self.dir_explicit {
            return name.to_string();
        }
        // FNV-1a: stable across versions and machines, unlike std's hasher. Of the path as
        // its components give it: `/srv/a/` and `/srv/a/.` are `/srv/a`.
        let dir: PathBuf = self.dir.components().collect();
        let hash = dir
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0x811c_9dc5_u32, |h, &b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
        format!("{name}@{hash:08x}")
    }

    /// `RUNTIME/NAME.lock`, the per-name lock.
    pub fn lock_path(&self, name: &Name) -> PathBuf {
        self.runtime.join(format!("{name}.lock"))
    }

    /// The default log: `DIR/NAME.log`, or `/var/log/rdaemon/NAME.log` as root without an
    /// explicit directory.
    pub fn default_log_path(&self, name: &Name) -> PathBuf {
        if self.is_root && !self.dir_explicit {
            Path::new("/var/log/rdaemon").join(format!("{name}.log"))
        } else {
            self.dir.join(format!("{name}.log"))
        }
    }

    /// Creates the rdaemon directory if needed (mode 0755 for root, 0700 otherwise) and checks
    /// that rdaemon can write in it, so that a read-only directory fails before anything starts.
    pub fn ensure_dir(&self) -> Result<()> {
        for dir in self.dirs() {
            // The default one, under HOME (an account whose HOME is /nonexistent): say the way out.
            let hint = match self.dir_explicit {
                true => "",
                false => " (use --dir or RDAEMON_DIR)",
            };
            create_dir(dir, if self.is_root { 0o755 } else { 0o700 }).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create rdaemon directory '{}': {}{hint}",
                    dir.display(),
                    crate::exit::render(&e)
                )
            })?;
        }
        self.refuse_untrusted_dir()?;
        for dir in self.dirs() {
            access(dir, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|e| {
                anyhow::anyhow!(
                    "rdaemon directory '{}' is not writable: {}",
                    dir.display(),
                    e.desc()
                )
            })?;
        }
        Ok(())
    }

    /// The spec directory, then the runtime directory if it is another one.
    pub fn dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.dir.as_path()];
        if self.runtime != self.dir {
            dirs.push(self.runtime.as_path());
        }
        dirs
    }

    /// The spec directory, opened once per process without following symlinks another user
    /// could have made (`fsx::open_cached`): specs are reached through this handle.
    pub fn state_dir(&self) -> Result<Arc<Dir>> {
        crate::fsx::open_cached(&self.dir)
    }

    /// The runtime directory, opened the same way: status files, pidfiles and locks.
    pub fn runtime_dir(&self) -> Result<Arc<Dir>> {
        crate::fsx::open_cached(&self.runtime)
    }

    /// As root, refuses an rdaemon directory that another user could write to (not owned by
    /// root, or group- or world-writable), or put another in its place (through a directory
    /// above it that they can change): its records vouch for the pids rdaemon signals, so a
    /// record someone else could forge must never be read. A missing directory is fine (rdaemon
    /// creates it). Like sshd's StrictModes, which checks every parent too. The check is made on the opened directory
    /// ([`Ctx::state_dir`]), the one every later file operation goes through.
    pub fn refuse_untrusted_dir(&self) -> Result<()> {
        if !self.is_root {
            return Ok(());
        }
        for path in self.dirs() {
            if !path.exists() {
                continue;
            }
            let dir = crate::fsx::open_cached(path)?;
            if let Some(above) = dir.exposed() {
                bail!(
                    "refusing rdaemon directory '{}': other users can change '{}' on the way to it (owner uid {}, mode {:03o}) and so put another directory in its place; as root, rdaemon uses only a directory whose every parent is root's and writable by no one else, or sticky",
                    path.display(),
                    above.path.display(),
                    above.uid,
                    above.mode
                );
            }
            let st = dir
                .restat()
                .map_err(crate::pidfile::os_error)
                .with_context(|| format!("cannot read rdaemon directory '{}'", path.display()))?;
            let mode = st.st_mode & 0o7777;
            if st.st_uid != 0 || mode & 0o022 != 0 {
                bail!(
                    "refusing rdaemon directory '{}': other users could write to it (owner uid {}, mode {:03o}); as root, rdaemon uses only a directory owned by root and not group- or world-writable",
                    path.display(),
                    st.st_uid,
                    mode
                );
            }
        }
        Ok(())
    }

    /// Normal output (stdout), unless `-q`.
    pub fn say(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            println!("{msg}");
        }
    }

    /// A warning on stderr, in rdaemon's error voice.
    pub fn warn(&self, msg: impl std::fmt::Display) {
        eprintln!("rdaemon: warning: {msg}");
    }

    /// Detail for `-v` on stderr.
    pub fn debug(&self, msg: impl std::fmt::Display) {
        if self.verbose > 0 {
            eprintln!("rdaemon: {msg}");
        }
    }
}

/// Creates `dir` and its missing parents with `mode` (before umask).
pub fn create_dir(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // As root, only beneath a directory no other user can change: a path through theirs could
    // lead, by a symlink or a swapped directory, to where root would create a directory they
    // choose (a directory named /etc/nologin blocks logins).
    if nix::unistd::geteuid().is_root() {
        let absolute = std::path::absolute(dir).map_err(crate::pidfile::os_error)?;
        let existing = absolute
            .ancestors()
            .skip(1)
            .find(|a| fs::symlink_metadata(a).is_ok())
            .unwrap_or(Path::new("/"));
        let above = crate::fsx::Dir::open(existing)?;
        if !above.is_protected() {
            let (by, uid, mode) = match above.exposed() {
                Some(e) => (e.path.clone(), e.uid, e.mode),
                None => {
                    let st = above.restat().map_err(crate::pidfile::os_error)?;
                    (existing.to_owned(), st.st_uid, st.st_mode & 0o7777)
                }
            };
            bail!(
                "refusing to create it: other users can change '{}' (owner uid {uid}, mode {mode:03o}); as root, rdaemon creates directories only beneath directories that are root's and writable by no one else, or sticky",
                by.display()
            );
        }
        // One component at a time from the directory just checked, never through a symlink:
        // in a sticky directory another user may create the next name after the look above
        // (helper-119: `export --out /tmp/x/units` made /srv/victim/units through theirs).
        let rest = absolute.strip_prefix(existing).unwrap_or(Path::new(""));
        let mut at = above;
        for part in rest.components() {
            let std::path::Component::Normal(name) = part else {
                bail!(
                    "refusing to create it: '{}' is not a plain path",
                    dir.display()
                );
            };
            at = at
                .make_subdir(name, mode)
                .map_err(crate::pidfile::os_error)?;
        }
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(crate::pidfile::os_error)
}

/// The spec directory, the runtime directory, and whether they were chosen explicitly: from
/// `--dir` (or `RDAEMON_DIR`) and `RDAEMON_RUNTIME_DIR` (for tests and unusual setups). As root
/// without either, specs go to `/var/lib/rdaemon` (they must survive a reboot) and runtime to
/// the tmpfs `/run/rdaemon` (it must not); otherwise one directory holds both.
pub fn layout(
    dir: Option<PathBuf>,
    runtime: Option<PathBuf>,
    is_root: bool,
) -> Result<(PathBuf, PathBuf, bool)> {
    let (dir, explicit) = match dir {
        Some(d) => (d, true),
        None => (default_dir(is_root)?, false),
    };
    let runtime = match runtime {
        Some(r) => r,
        None if is_root && !explicit => PathBuf::from("/run/rdaemon"),
        None => dir.clone(),
    };
    Ok((dir, runtime, explicit))
}

fn default_dir(is_root: bool) -> Result<PathBuf> {
    if is_root {
        return Ok(PathBuf::from("/var/lib/rdaemon"));
    }
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from) {
        if state.is_absolute() {
            return Ok(state.join("rdaemon"));
        }
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/rdaemon")),
        None => {
            bail!("cannot find the rdaemon directory: HOME is not set; use --dir or RDAEMON_DIR")
        }
    }
}

/// Fails with ENOSPC's message when the file system holding `path` has no block left for
/// unprivileged writers: rdaemon checks this before starting anything, so a full disk shows as
/// a clear error rather than as a daemon whose log writes or pidfile silently fail.
///
/// For a path that does not exist yet, its directory is checked; a path that is neither a
/// regular file nor a directory (`/dev/null`, a FIFO) is not checked.
pub fn ensure_space(path: &Path, what: &str) -> Result<()> {
    use nix::sys::statvfs::statvfs;
    let probe = match fs::metadata(path) {
        Ok(m) if m.is_file() || m.is_dir() => path,
        Ok(_) => return Ok(()),
        Err(_) => match path.parent() {
            Some(dir) => dir,
            None => return Ok(()),
        },
    };
    match statvfs(probe) {
        Ok(st) if st.blocks_available() == 0 && st.blocks() > 0 => bail!(
            "cannot use {what} '{}': {}",
            path.display(),
            nix::errno::Errno::ENOSPC.desc()
        ),
        _ => Ok(()),
    }
}

/// Makes `path` absolute against the current directory, without resolving symlinks.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("invalid path '{}'", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_leaf_is_the_name_for_the_default_directory_and_hashed_for_another() {
        let ctx = |dir: &str, explicit: bool| Ctx {
            dir: dir.into(),
            runtime: dir.into(),
            dir_explicit: explicit,
            quiet: false,
            verbose: 0,
            is_root: true,
        };
        let web = Name::parse("web").unwrap();
        assert_eq!(ctx("/var/lib/rdaemon", false).cgroup_leaf(&web), "web");
        // FNV-1a of "/srv/a": stable across builds and machines.
        let a = ctx("/srv/a", true).cgroup_leaf(&web);
        assert_eq!(a, "web@d4de4497");
        assert_ne!(a, ctx("/srv/b", true).cgroup_leaf(&web));
        assert_eq!(ctx("/srv/a/", true).cgroup_leaf(&web), a);
        assert_eq!(ctx("/srv/./a/.", true).cgroup_leaf(&web), a);
    }

    #[test]
    fn root_splits_specs_from_runtime_and_everyone_else_keeps_one_dir() {
        let (d, r, e) = layout(None, None, true).unwrap();
        assert_eq!(
            (d.as_path(), r.as_path(), e),
            (
                Path::new("/var/lib/rdaemon"),
                Path::new("/run/rdaemon"),
                false
            )
        );
        let (d, r, e) = layout(Some("/x".into()), None, true).unwrap();
        assert_eq!(
            (d.as_path(), r.as_path(), e),
            (Path::new("/x"), Path::new("/x"), true)
        );
        let (d, r, _) = layout(Some("/x".into()), Some("/y".into()), false).unwrap();
        assert_eq!(
            (d.as_path(), r.as_path()),
            (Path::new("/x"), Path::new("/y"))
        );
        let (d, r, _) = layout(None, Some("/y".into()), true).unwrap();
        assert_eq!(
            (d.as_path(), r.as_path()),
            (Path::new("/var/lib/rdaemon"), Path::new("/y"))
        );
    }
}
