//! The daemon's process settings of issue 17 (SPEC §2): `--env-file` (read, as root, the safe
//! way, at every start, restart and respawn), `--limit RES=SOFT[:HARD]`, `--nice` and
//! `--oom-score-adj`. It owns their syntax (pure parsers, unit-tested here) and turns them into
//! the [`Tuning`] that `daemonize` applies in the daemon before exec; the trial that checks,
//! before detaching, that the kernel accepts them is `daemonize::try_tuning`.
//!
//! Must not: fork (that is `daemonize`), or read an env file through a symlink, a FIFO or
//! without a size cap (the file may belong to the daemon's user).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Result};
use nix::fcntl::OFlag;

use crate::daemonize::{Credentials, Tuning};
use crate::exit::Fail;
use crate::fsx::{self, Dir, Kind, Rights};
use crate::parse::{format_size, parse_size};

/// The largest env file rdaemon reads: far more than any real one, and a bound on what a
/// hostile one can make root allocate.
pub const MAX_ENV_FILE: u64 = 1 << 20;

/// A resource `--limit` sets (setrlimit(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// Open files (`RLIMIT_NOFILE`).
    Nofile,
    /// Processes of the user (`RLIMIT_NPROC`).
    Nproc,
    /// Core file size, bytes (`RLIMIT_CORE`).
    Core,
    /// Locked memory, bytes (`RLIMIT_MEMLOCK`).
    Memlock,
    /// Address space, bytes (`RLIMIT_AS`).
    As,
    /// File size, bytes (`RLIMIT_FSIZE`).
    Fsize,
    /// CPU time, seconds (`RLIMIT_CPU`).
    Cpu,
    /// Stack size, bytes (`RLIMIT_STACK`).
    Stack,
    /// Data segment, bytes (`RLIMIT_DATA`).
    Data,
}

impl Resource {
    /// Every resource, in the order of SPEC §2.
    pub const ALL: [Resource; 9] = [
        Resource::Nofile,
        Resource::Nproc,
        Resource::Core,
        Resource::Memlock,
        Resource::As,
        Resource::Fsize,
        Resource::Cpu,
        Resource::Stack,
        Resource::Data,
    ];

    /// The word of the command line and the spec (`nofile`).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Nofile => "nofile",
            Resource::Nproc => "nproc",
            Resource::Core => "core",
            Resource::Memlock => "memlock",
            Resource::As => "as",
            Resource::Fsize => "fsize",
            Resource::Cpu => "cpu",
            Resource::Stack => "stack",
            Resource::Data => "data",
        }
    }

    /// systemd's directive (`LimitNOFILE`).
    pub fn systemd(self) -> &'static str {
        match self {
            Resource::Nofile => "LimitNOFILE",
            Resource::Nproc => "LimitNPROC",
            Resource::Core => "LimitCORE",
            Resource::Memlock => "LimitMEMLOCK",
            Resource::As => "LimitAS",
            Resource::Fsize => "LimitFSIZE",
            Resource::Cpu => "LimitCPU",
            Resource::Stack => "LimitSTACK",
            Resource::Data => "LimitDATA",
        }
    }

    /// The kernel's number for it.
    pub fn raw(self) -> i32 {
        use nix::libc;
        (match self {
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            Resource::As => libc::RLIMIT_AS,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Stack => libc::RLIMIT_STACK,
            Resource::Data => libc::RLIMIT_DATA,
        }) as i32
    }

    /// Whether its values are sizes in bytes (and take `K`, `M`, `G`).
    pub fn is_size(self) -> bool {
        matches!(
            self,
            Resource::Core
                | Resource::Memlock
                | Resource::As
                | Resource::Fsize
                | Resource::Stack
                | Resource::Data
        )
    }

    /// Parses a resource name (any case).
    pub fn parse(s: &str) -> Result<Resource, String> {
        let lower = s.trim().to_ascii_lowercase();
        Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Resource::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown resource '{s}': use one of {}", names.join(", "))
            })
    }
}

/// One `--limit`: soft and hard values, `None` for `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Which resource.
    pub resource: Resource,
    /// The soft limit (`None`: unlimited).
    pub soft: Option<u64>,
    /// The hard limit (`None`: unlimited).
    pub hard: Option<u64>,
}

impl Limit {
    /// Parses `RES=SOFT[:HARD]`. A value is a whole number, `unlimited` (or `infinity`), or for
    /// the size resources a size (`512K`, `64M`, `1G`). One value sets both limits, as systemd's
    /// `LimitNOFILE=` and prlimit(1) do. A soft limit above the hard one is malformed.
    pub fn parse(s: &str) -> Result<Limit, String> {
        let (res, value) = s.split_once('=').ok_or_else(|| {
            format!("invalid limit '{s}': use RES=SOFT[:HARD], like nofile=65536")
        })?;
        let resource = Resource::parse(res)?;
        let (soft, hard) = match value.split_once(':') {
            Some((soft, hard)) => (soft, hard),
            None => (value, value),
        };
        let soft = parse_value(resource, soft, s)?;
        let hard = parse_value(resource, hard, s)?;
        if let (Some(s_), h) = (soft, hard) {
            if h.is_some_and(|h| s_ > h) {
                return Err(format!(
                    "invalid limit '{s}': the soft limit is above the hard one"
                ));
            }
        }
        if soft.is_none() && hard.is_some() {
            return Err(format!(
                "invalid limit '{s}': the soft limit is above the hard one"
            ));
        }
        Ok(Limit {
            resource,
            soft,
            hard,
        })
    }

    /// `SOFT:HARD` as the spec keeps it and [`Limit::parse`] reads it back (after `RES=`).
    pub fn value_text(&self) -> String {
        let one = |v: Option<u64>| match v {
            None => "unlimited".to_owned(),
            Some(n) if self.resource.is_size() => format_size(n),
            Some(n) => n.to_string(),
        };
        format!("{}:{}", one(self.soft), one(self.hard))
    }

    /// systemd's `SOFT:HARD` (`infinity` for unlimited, sizes in bytes).
    pub fn systemd_value(&self) -> String {
        let one = |v: Option<u64>| v.map_or("infinity".to_owned(), |n| n.to_string());
        format!("{}:{}", one(self.soft), one(self.hard))
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.resource.as_str(), self.value_text())
    }
}

/// One limit value: a number, `unlimited`/`infinity`, or a size for a size resource.
fn parse_value(resource: Resource, v: &str, whole: &str) -> Result<Option<u64>, String> {
    let t = v.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("infinity") {
        return Ok(None);
    }
    let n = if resource.is_size() {
        parse_size(t).map_err(|_| {
            format!("invalid limit '{whole}': '{v}' is not a size (512K, 64M, 1G, a number of bytes) or unlimited")
        })?
    } else {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "invalid limit '{whole}': '{v}' is not a whole number or unlimited"
            ));
        }
        t.parse::<u64>()
            .map_err(|_| format!("invalid limit '{whole}': '{v}' is too large"))?
    };
    // RLIM_INFINITY is all ones: a number that large means unlimited to the kernel.
    if n == u64::MAX {
        return Ok(None);
    }
    Ok(Some(n))
}

/// Why the kernel would refuse `limit`, as far as rdaemon can tell: the hint of the error.
pub fn refusal_hint(limit: &Limit) -> String {
    if limit.resource == Resource::Nofile {
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        if let Some(max) = nr_open {
            if [limit.soft, limit.hard]
                .iter()
                .any(|v| v.is_none_or(|v| v > max))
            {
                return format!("the system allows at most {max} open files (fs.nr_open)");
            }
        }
    }
    let above = current_hard(limit.resource)
        .filter(|&now| limit.hard.is_none_or(|wanted| wanted > now))
        .map(|now| format!("{} {now}", limit.resource.as_str()));
    match (above, nix::unistd::geteuid().is_root()) {
        (Some(now), false) => format!("it is above the hard limit {now} rdaemon runs with, which only root may raise"),
        // Root without CAP_SYS_RESOURCE: in a container, or under a bounding set that drops it.
        (Some(now), true) => format!(
            "it is above the hard limit {now} rdaemon runs with, which only a process with CAP_SYS_RESOURCE may raise (a container may not have it)"
        ),
        (None, false) => "raising a hard limit needs root".into(),
        (None, true) => "the value is above what the system allows".into(),
    }
}

/// The hard limit of `resource` this process has; `None` for unlimited.
fn current_hard(resource: Resource) -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource as R};
    let r = match resource {
        Resource::Nofile => R::RLIMIT_NOFILE,
        Resource::Nproc => R::RLIMIT_NPROC,
        Resource::Core => R::RLIMIT_CORE,
        Resource::Memlock => R::RLIMIT_MEMLOCK,
        Resource::As => R::RLIMIT_AS,
        Resource::Fsize => R::RLIMIT_FSIZE,
        Resource::Cpu => R::RLIMIT_CPU,
        Resource::Stack => R::RLIMIT_STACK,
        Resource::Data => R::RLIMIT_DATA,
    };
    let (_, hard) = getrlimit(r).ok()?;
    (hard != nix::libc::RLIM_INFINITY).then_some(hard)
}

/// `--limit`'s value parser.
pub fn parse_limit(s: &str) -> Result<Limit, String> {
    Limit::parse(s)
}

/// `--nice N`: -20 to 19.
pub fn parse_nice(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i32>() {
        Ok(n) if (-20..=19).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid nice value '{s}': use a whole number from -20 to 19"
        )),
    }
}

/// `--oom-score-adj N`: -1000 to 1000.
pub fn parse_oom_score_adj(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i32>() {
        Ok(n) if (-1000..=1000).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid OOM score adjustment '{s}': use a whole number from -1000 to 1000"
        )),
    }
}

/// The [`Tuning`] these settings make (limits in order, later ones winning).
pub fn tuning(limits: &[Limit], nice: Option<i32>, oom_score_adj: Option<i32>) -> Tuning {
    let inf = |v: Option<u64>| v.unwrap_or(u64::MAX);
    Tuning {
        rlimits: limits
            .iter()
            .map(|l| (l.resource.raw(), inf(l.soft), inf(l.hard)))
            .collect(),
        nice,
        oom_score_adj,
    }
}

/// Parses the text of an env file: `KEY=VALUE` lines; blank lines and `#` comments skipped; an
/// optional `export ` before KEY; one level of matching single or double quotes around VALUE
/// stripped (nothing inside them is interpreted). A malformed line is an error giving its
/// number and why (the caller adds the file).
pub fn parse_env_text(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err((n, "expected KEY=VALUE".into()));
        };
        let key = key.trim_end();
        if !crate::parse::is_variable_name(key) {
            return Err((
                n,
                // Another user's file may hold terminal escapes: shown escaped (attack of
                // 2026-12-02: a forged "restarted" line on root's cleared screen).
                format!(
                    "'{}' is not a variable name (letters, digits and _)",
                    crate::parse::printable(key)
                ),
            ));
        }
        let value = value.trim_start();
        let value = match value.as_bytes() {
            [q @ (b'"' | b'\''), .., last] if last == q && value.len() >= 2 => {
                &value[1..value.len() - 1]
            }
            [b'"' | b'\'', ..] => return Err((n, "unmatched quote".into())),
            _ => value,
        };
        if value.contains('\0') {
            return Err((n, "the value contains a NUL byte".into()));
        }
        vars.push((key.to_owned(), value.to_owned()));
    }
    Ok(vars)
}

/// Reads the env files in order (later files win) into one map, for a daemon that runs with
/// `creds`. Each is opened the safe way (`fsx`): its directory without following another
/// user's symlinks, the file with `O_NOFOLLOW | O_NONBLOCK` (a FIFO never blocks root), checked
/// with `fstat` to be a regular file, at most [`MAX_ENV_FILE`] bytes. In a directory the
/// daemon's user can write, or beneath a directory another user can change (`fsx::Exposed`), it
/// is opened with that user's rights and must pass `fsx::check_file` (one link, owned by root
/// or that user): the user cannot make root read a file it could not read itself into its
/// environment. For a daemon that runs as root (no `--user`, or `--user root`), rdaemon being
/// root, the file must be one no other user can change (`fsx::trusted_by_root_at`): owned by
/// root, one link, writable by no one else, in a directory no one else can change. The monitor
/// reads the files again at each respawn, so this holds then too. A missing or unreadable file
/// (or a refused one) is exit 1;
/// a malformed line exit 2 naming `FILE:LINE`.
pub fn read_env_files(
    files: &[impl AsRef<Path>],
    creds: Option<&Credentials>,
) -> Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    let runs_as_root = nix::unistd::geteuid().is_root() && creds.is_none_or(|c| c.uid == 0);
    for path in files {
        let path = path.as_ref();
        let shown = path.display();
        let fail = |why: String| anyhow::anyhow!("cannot read env file '{shown}': {why}");
        let (dir, name) = Dir::open_parent(path).map_err(|e| fail(format!("{e:#}")))?;
        let rights = Rights::to_read(&dir, creds);
        let file = fsx::with_rights(rights, || dir.open_file(&name, OFlag::O_RDONLY, 0))
            .map_err(|e| fail(fsx::open_reason(&e)))?;
        let checked = match rights {
            Some(_) => fsx::check_file(&file, Kind::Regular, creds.map(|c| c.uid)).and_then(|_| {
                // Opened with the user's file-system ids, but root's supplementary groups.
                let readable = match (file.metadata(), creds) {
                    (Ok(m), Some(c)) => fsx::readable_by(&m, c),
                    _ => false,
                };
                match readable {
                    true => Ok(()),
                    false => Err(format!(
                        "its user (uid {}) may not read it",
                        creds.map_or(0, |c| c.uid)
                    )),
                }
            }),
            // A daemon that runs as root: whoever could write or swap the file would choose
            // what runs as root (issue: a PATH or LD_PRELOAD of another user's).
            None if runs_as_root => fsx::trusted_by_root_at(&dir, &file).map_err(|why| {
                format!(
                    "{why}; as root, rdaemon reads an env file for a daemon that runs as root only if root owns it and no other user can write it or change the directories on the way to it"
                )
            }),
            None => match file.metadata() {
                Ok(m) if m.is_file() => Ok(()),
                Ok(m) if std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()) => {
                    Err("it is a FIFO, not a regular file".to_owned())
                }
                Ok(_) => Err("it is not a regular file".to_owned()),
                Err(e) => Err(crate::pidfile::os_reason(&e)),
            },
        };
        checked.map_err(|why| anyhow::anyhow!("refusing env file '{shown}': {why}"))?;
        let mut bytes = Vec::new();
        file.take(MAX_ENV_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(crate::pidfile::os_reason(&e)))?;
        if bytes.len() as u64 > MAX_ENV_FILE {
            bail!(fail(format!("it is larger than {MAX_ENV_FILE} bytes")));
        }
        let Ok(text) = String::from_utf8(bytes) else {
            bail!(Fail::usage(format!(
                "invalid env file '{shown}': it is not UTF-8 text"
            )));
        };
        match parse_env_text(&text) {
            Ok(pairs) => vars.extend(pairs),
            Err((line, why)) => bail!(Fail::usage(format!("{shown}:{line}: {why}"))),
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_text_parses() {
        let text = "# comment\n\nA=1\nexport B=two words\nC=\"quoted # not a comment\"\nD='single'\nE=\nF=a=b\n  G = 'x\"y' \nH=\"\"\n";
        let got = parse_env_text(text).unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "quoted # not a comment"),
            ("D", "single"),
            ("E", ""),
            ("F", "a=b"),
            ("G", "x\"y"),
            ("H", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn env_text_refuses_malformed_lines() {
        assert_eq!(parse_env_text("A=1\nnot a pair\n").unwrap_err().0, 2);
        assert_eq!(parse_env_text("1A=x").unwrap_err().0, 1);
        assert_eq!(parse_env_text("A-B=x").unwrap_err().0, 1);
        assert_eq!(parse_env_text("\n\nA=\"open").unwrap_err().0, 3);
        assert_eq!(parse_env_text("=x").unwrap_err().0, 1);
        // A key with terminal escapes is said escaped: the file may be another user's.
        let (_, why) = parse_env_text("\x1b]0;PWNED\x07\x1b[2Jx=1").unwrap_err();
        assert!(!why.contains('\x1b') && !why.contains('\x07'), "{why:?}");
        assert!(why.contains("PWNED"), "{why:?}");
        // `exportA=1` is the variable exportA, not an export.
        assert_eq!(
            parse_env_text("exportA=1").unwrap(),
            vec![("exportA".into(), "1".into())]
        );
    }

    #[test]
    fn limits_parse() {
        let l = Limit::parse("nofile=1024:65536").unwrap();
        assert_eq!(
            (l.resource, l.soft, l.hard),
            (Resource::Nofile, Some(1024), Some(65536))
        );
        let l = Limit::parse("NOFILE=4096").unwrap();
        assert_eq!((l.soft, l.hard), (Some(4096), Some(4096)));
        let l = Limit::parse("core=unlimited").unwrap();
        assert_eq!((l.soft, l.hard), (None, None));
        let l = Limit::parse("as=512M:1G").unwrap();
        assert_eq!((l.soft, l.hard), (Some(512 << 20), Some(1 << 30)));
        let l = Limit::parse("stack=8M:unlimited").unwrap();
        assert_eq!((l.soft, l.hard), (Some(8 << 20), None));
        assert_eq!(l.to_string(), "stack=8M:unlimited");
        assert_eq!(Limit::parse(&l.to_string()).unwrap(), l);
        assert_eq!(l.systemd_value(), format!("{}:infinity", 8 << 20));
        for bad in [
            "nofile",
            "files=10",
            "nofile=",
            "nofile=10M",
            "nofile=-1",
            "nofile=20:10",
            "nofile=unlimited:10",
            "cpu=1.5",
            "as=12Q",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Limit::parse("files=10")
            .unwrap_err()
            .contains("unknown resource"));
    }

    #[test]
    fn nice_and_oom_ranges() {
        assert_eq!(parse_nice("-20"), Ok(-20));
        assert_eq!(parse_nice("19"), Ok(19));
        assert!(parse_nice("20").is_err());
        assert!(parse_nice("x").is_err());
        assert_eq!(parse_oom_score_adj("-1000"), Ok(-1000));
        assert!(parse_oom_score_adj("1001").is_err());
    }
}
