//! Where rdaemon keeps its state: the rdaemon directory (`--dir`, `RDAEMON_DIR`, or the default
//! for root or the user) and the per-daemon file names inside it. Also the command context
//! (`Ctx`) with the output helpers every command uses.

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
    /// The rdaemon directory (absolute).
    pub dir: PathBuf,
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
        let (dir, dir_explicit) = match dir.or(from_env.map(PathBuf::from)) {
            Some(d) => (d, true),
            None => (default_dir(is_root)?, false),
        };
        let dir = std::path::absolute(&dir)
            .with_context(|| format!("invalid rdaemon directory '{}'", dir.display()))?;
        Ok(Ctx {
            dir,
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

    /// `DIR/NAME.pid`, the default pidfile.
    pub fn pidfile_path(&self, name: &Name) -> PathBuf {
        self.dir.join(format!("{name}.pid"))
    }

    /// `DIR/NAME.json`, the record.
    pub fn record_path(&self, name: &Name) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// `DIR/NAME.lock`, the per-name lock.
    pub fn lock_path(&self, name: &Name) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
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
        create_dir(&self.dir, if self.is_root { 0o755 } else { 0o700 })
            .with_context(|| format!("cannot create rdaemon directory '{}'", self.dir.display()))?;
        self.refuse_untrusted_dir()?;
        access(&self.dir, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|e| {
            anyhow::anyhow!(
                "rdaemon directory '{}' is not writable: {}",
                self.dir.display(),
                e.desc()
            )
        })
    }

    /// The rdaemon directory, opened once per process without following symlinks another user
    /// could have made (`fsx::open_cached`): records, pidfiles and locks in it are all reached
    /// through this handle.
    pub fn state_dir(&self) -> Result<Arc<Dir>> {
        crate::fsx::open_cached(&self.dir)
    }

    /// As root, refuses an rdaemon directory that another user could write to (not owned by
    /// root, or group- or world-writable): its records vouch for the pids rdaemon signals, so a
    /// record someone else could forge must never be read. A missing directory is fine (rdaemon
    /// creates it). Like sshd's StrictModes. The check is made on the opened directory
    /// ([`Ctx::state_dir`]), the one every later file operation goes through.
    pub fn refuse_untrusted_dir(&self) -> Result<()> {
        if !self.is_root || !self.dir.exists() {
            return Ok(());
        }
        let dir = self.state_dir()?;
        let st = dir
            .restat()
            .map_err(crate::pidfile::os_error)
            .with_context(|| format!("cannot read rdaemon directory '{}'", self.dir.display()))?;
        let mode = st.st_mode & 0o7777;
        if st.st_uid != 0 || mode & 0o022 != 0 {
            bail!(
                "refusing rdaemon directory '{}': other users could write to it (owner uid {}, mode {:03o}); as root, rdaemon uses only a directory owned by root and not group- or world-writable",
                self.dir.display(),
                st.st_uid,
                mode
            );
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
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(crate::pidfile::os_error)
}

fn default_dir(is_root: bool) -> Result<PathBuf> {
    if is_root {
        return Ok(PathBuf::from("/run/rdaemon"));
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
