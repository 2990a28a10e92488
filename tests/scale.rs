//! Cost flat in the number of daemons (issue 18): `--pidfile P` finds its daemon through the
//! pidfile index (`.pidfile.HASH` in the spec directory) rather than by reading every spec. The
//! index is only a hint: a missing or stale entry still finds the daemon (and is repaired), and a
//! forged one never redirects a command to another daemon.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// The pidfile index entries in the rdaemon directory.
fn index_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".pidfile."))
        })
        .collect();
    entries.sort();
    entries
}

/// Starts `web` with a pidfile whose stem (`custom`) is another daemon's name, and that other
/// daemon, `custom`, with its default pidfile: the stem alone leads to the wrong spec. Returns
/// web's pidfile, its pid and custom's pid.
fn web_and_custom(env: &Env) -> (PathBuf, i32, i32) {
    fs::create_dir(env.path("elsewhere")).unwrap();
    let pidfile = env.path("elsewhere/custom.pid");
    let p = pidfile.to_str().unwrap();
    let run = env.run(&[
        "start",
        "--name",
        "web",
        "--pidfile",
        p,
        "--",
        "sleep",
        "1000",
    ]);
    // Its pidfile is not in the directory `Env` looks in: tracked before anything can fail.
    let web = fs::read_to_string(&pidfile)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    if let Some(web) = web {
        env.track(web);
    }
    run.ok();
    let web = web.expect("no pidfile");
    let custom = env.start("custom", &["sleep", "1001"]);
    (pidfile, web, custom)
}

#[test]
fn status_by_pidfile_finds_the_daemon_with_a_missing_or_stale_index() {
    let env = Env::new();
    let (pidfile, web, _custom) = web_and_custom(&env);
    let p = pidfile.to_str().unwrap();
    // The first lookup scans and indexes web's pidfile (custom's is found by its stem and
    // needs no entry).
    assert!(index_entries(env.dir()).is_empty());
    let running = format!("web is running (pid {web})");
    env.run(&["status", "--pidfile", p])
        .ok()
        .stdout_has(&running);
    let entries = index_entries(env.dir());
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = entries[0].clone();
    assert_eq!(fs::read_to_string(&entry).unwrap(), "web\n");

    // Missing: found by the scan, and the entry is written again.
    fs::remove_file(&entry).unwrap();
    env.run(&["status", "--pidfile", p])
        .ok()
        .stdout_has(&running);
    assert_eq!(fs::read_to_string(&entry).unwrap(), "web\n", "not repaired");

    // Stale (naming a daemon whose spec names another pidfile), or garbage: the same.
    for stale in ["custom\n", "no-such-daemon\n", "../../etc/passwd\n", ""] {
        fs::write(&entry, stale).unwrap();
        env.run(&["status", "--pidfile", p])
            .ok()
            .stdout_has(&running);
        assert_eq!(fs::read_to_string(&entry).unwrap(), "web\n", "{stale:?}");
    }

    // `forget` takes the entry with the spec.
    env.run(&["stop", "web"]).ok();
    env.run(&["forget", "web"]).ok();
    assert!(index_entries(env.dir()).is_empty());
}

#[test]
fn a_forged_index_entry_does_not_redirect_stop() {
    let env = Env::new();
    let (pidfile, web, custom) = web_and_custom(&env);
    let p = pidfile.to_str().unwrap();
    env.run(&["status", "--pidfile", p]).ok();
    let entry = index_entries(env.dir())
        .pop()
        .expect("web's pidfile is indexed");
    // The entry for web's pidfile names the other daemon: as if planted by another user (owned
    // by nobody, when there is one), or by anyone who could write the directory.
    fs::write(&entry, "custom\n").unwrap();
    if let Some(nobody) = nobody().filter(|_| is_root()) {
        std::os::unix::fs::chown(&entry, Some(nobody.uid.as_raw()), None).unwrap();
        assert_eq!(fs::metadata(&entry).unwrap().uid(), nobody.uid.as_raw());
    }
    env.run(&["stop", "--pidfile", p])
        .ok()
        .stdout_has(&format!("stopped web (pid {web})"));
    wait_dead(web);
    assert!(
        alive(custom),
        "the forged entry redirected stop to 'custom'"
    );
    env.run(&["status", "custom"])
        .ok()
        .stdout_has(&format!("custom is running (pid {custom})"));
}
