//! What `start` and the respawn monitor share about launching a program: how PROGRAM is found
//! (`resolve_program`, as execve will run it), and the monitor's report to `start` on its first
//! child, with the status handoff that follows it (SPEC §1: one status writer at a time). Below
//! `commands/`, so that the monitor imports no command and `start` no monitor.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use nix::unistd::{access, AccessFlags};

use crate::paths::absolute;
use crate::pidfile::os_reason;

/// Looks PROGRAM up as execve will run it: as given if it has a `/`, else in the daemon's PATH.
pub fn resolve_program(program: &str, env: &BTreeMap<String, String>) -> Result<PathBuf> {
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
    for dir in std::env::split_paths(&path_var).filter(|d| !d.as_os_str().is_empty()) {
        let candidate = dir.join(program);
        if std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            if access(&candidate, AccessFlags::X_OK).is_ok() {
                return absolute(&candidate);
            }
            denied = true;
        }
    }
    Err(fail(if denied {
        nix::errno::Errno::EACCES
    } else {
        nix::errno::Errno::ENOENT
    }))
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
    Ok((pid, Handoff { _pipe: file }))
}

/// `start`'s end of the report pipe, held while `start` still writes the status; dropping it
/// hands the status over to the monitor.
#[derive(Debug)]
pub struct Handoff {
    _pipe: File,
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
}
