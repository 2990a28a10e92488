//! The files rdaemon trusts: a pidfile is never followed through a symlink, is replaced
//! atomically with mode 0644 whatever the umask, and, as root, is not believed if another user
//! could have written it and no record vouches for its pid; an rdaemon directory that other
//! users could write is refused outright (its records vouch for pids).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;

use crate::common::*;

#[test]
fn pidfile_symlink_is_refused() {
    let env = Env::new();
    let victim = env.path("victim");
    fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, env.path("link.pid")).unwrap();
    env.run(&["start", "--name", "link", "--", "sleep", "1000"])
        .code(1)
        .one_error_line()
        .stderr_has("symlink");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!env.path("link.json").exists());
}

#[test]
fn a_symlink_to_a_live_daemons_pidfile_is_not_followed_by_any_command() {
    let env = Env::new();
    let pid = env.start("real", &["sleep", &unique_secs()]);
    let link = env.path("alias.pid");
    std::os::unix::fs::symlink(env.path("real.pid"), &link).unwrap();
    let dangling = env.path("dangling.pid");
    std::os::unix::fs::symlink(env.path("nowhere"), &dangling).unwrap();
    for path in [&link, &dangling] {
        let path = path.to_str().unwrap();
        env.run(&["status", "--pidfile", path])
            .code(4)
            .one_error_line()
            .stderr_has("symlink")
            .stderr_has(path);
        env.run(&["stop", "--pidfile", path])
            .code(1)
            .one_error_line()
            .stderr_has("symlink")
            .stderr_has(path);
        env.run(&["start", "--pidfile", path, "--", "sleep", &unique_secs()])
            .code(1)
            .one_error_line()
            .stderr_has("symlink");
    }
    assert!(
        alive(pid),
        "a command followed the symlink and stopped the daemon"
    );
    assert_eq!(env.pid_of("real"), pid);
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(
        !env.path("nowhere").exists(),
        "start wrote through a dangling symlink"
    );
    assert_eq!(
        listing(env.dir())
            .iter()
            .filter(|f| f.ends_with(".json"))
            .count(),
        1
    );
}

#[test]
fn pidfile_and_record_are_0644_and_replaced_by_rename_whatever_the_umask() {
    let env = Env::new();
    let mut cmd = env.std_cmd();
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::libc::umask(0o077);
            Ok(())
        });
    }
    env.run_cmd(
        assert_cmd::Command::from_std(cmd),
        &["start", "--name", "modes", "--", "sleep", &unique_secs()],
    )
    .ok();
    let pidfile = env.path("modes.pid");
    let record = env.path("modes.json");
    // The record holds --env values: its owner's only (issue 11, finding 7).
    for (path, mode) in [(&pidfile, 0o644), (&record, 0o600)] {
        let meta = fs::metadata(path).unwrap();
        assert_eq!(meta.mode() & 0o7777, mode, "{}", path.display());
        assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    }
    // Hold the old pidfile open (its inode cannot be recycled then): a rewrite in place would
    // show the new pid through it.
    let old_pid = env.pid_of("modes");
    let mut old = fs::File::open(&pidfile).unwrap();
    env.run(&["restart", "modes"]).ok();
    let after = fs::metadata(&pidfile).unwrap();
    assert_ne!(
        after.ino(),
        old.metadata().unwrap().ino(),
        "the pidfile was rewritten in place"
    );
    let mut old_text = String::new();
    std::io::Read::read_to_string(&mut old, &mut old_text).unwrap();
    assert_eq!(old_text, format!("{old_pid}\n"));
    assert_eq!(after.mode() & 0o7777, 0o644);
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", env.pid_of("modes"))
    );
    let temporary: Vec<String> = listing(env.dir())
        .into_iter()
        .filter(|f| f.starts_with('.') || f.ends_with(".new") || f.ends_with(".tmp"))
        .collect();
    assert!(temporary.is_empty(), "{temporary:?}");
}

#[test]
fn as_root_a_pidfile_another_user_could_write_is_not_trusted_without_a_record() {
    const TEST: &str = "as_root_a_pidfile_another_user_could_write_is_not_trusted_without_a_record";
    if !is_root() {
        return skip(TEST, "the ownership rule applies to root only");
    }
    let Some(nobody) = nobody() else {
        return skip(TEST, "no 'nobody' user on this system");
    };
    let env = Env::new();
    let bystander = OwnChild::sleep();
    let pid = bystander.pid();
    // Outside rdaemon's directory, where rdaemon itself writes a pidfile only with a record.
    fs::create_dir(env.path("elsewhere")).unwrap();
    let pidfile = env.path("elsewhere/foreign.pid");
    let path = pidfile.to_str().unwrap();
    let alias = env.path("alias");
    let cases: [(&str, u32, u32, bool); 4] = [
        ("owned by nobody", nobody.uid.as_raw(), 0o644, false),
        ("world-writable", 0, 0o666, false),
        ("group-writable", 0, 0o664, false),
        ("hard-linked elsewhere", 0, 0o644, true),
    ];
    for (what, uid, mode, linked) in cases {
        let _ = fs::remove_file(&pidfile);
        let _ = fs::remove_file(&alias);
        fs::write(&pidfile, format!("{pid}\n")).unwrap();
        std::os::unix::fs::chown(&pidfile, Some(uid), None).unwrap();
        fs::set_permissions(&pidfile, fs::Permissions::from_mode(mode)).unwrap();
        if linked {
            fs::hard_link(&pidfile, &alias).unwrap();
        }
        env.run(&["status", "--pidfile", path])
            .code(4)
            .one_error_line()
            .stderr_has("another user")
            .stderr_has(path);
        env.run(&["stop", "--pidfile", path])
            .code(1)
            .one_error_line()
            .stderr_has("another user");
        assert!(
            alive(pid),
            "{what}: stop signalled a process named by an untrusted pidfile"
        );
        assert!(pidfile.exists(), "{what}");
    }
    // The same pidfile, root's, 0644 and linked once: trusted the classic way (SPEC §4).
    fs::remove_file(&alias).unwrap();
    fs::remove_file(&pidfile).unwrap();
    fs::write(&pidfile, format!("{pid}\n")).unwrap();
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["status", "--pidfile", path]).ok();
}

#[test]
fn as_root_a_record_vouches_for_a_pidfile_another_user_could_write() {
    const TEST: &str = "as_root_a_record_vouches_for_a_pidfile_another_user_could_write";
    if !is_root() {
        return skip(TEST, "the ownership rule applies to root only");
    }
    let env = Env::new();
    let pid = env.start("vouched", &["sleep", &unique_secs()]);
    let pidfile = env.path("vouched.pid");
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o666)).unwrap();
    env.run(&["status", "vouched"]).ok();
    env.run(&["stop", "vouched"])
        .ok()
        .stdout_has("stopped vouched");
    assert!(!alive(pid));
}

#[test]
fn as_root_an_rdaemon_directory_others_could_write_is_refused() {
    const TEST: &str = "as_root_an_rdaemon_directory_others_could_write_is_refused";
    if !is_root() {
        return skip(TEST, "the directory rule applies to root only");
    }
    let Some(nobody) = nobody() else {
        return skip(TEST, "no 'nobody' user on this system");
    };
    let env = Env::new();
    let pid = env.start("web", &["sleep", &unique_secs()]);
    let dir = env.dir().to_str().unwrap().to_owned();
    let before = listing(env.dir());
    for (uid, mode) in [(0, 0o777), (0, 0o775), (nobody.uid.as_raw(), 0o755)] {
        std::os::unix::fs::chown(env.dir(), Some(uid), None).unwrap();
        fs::set_permissions(env.dir(), fs::Permissions::from_mode(mode)).unwrap();
        for args in [
            vec!["start", "--name", "other", "--", "sleep", "1000"],
            vec!["stop", "web"],
            vec!["restart", "web"],
            vec!["forget", "web"],
        ] {
            env.run(&args)
                .code(1)
                .one_error_line()
                .stderr_has("refusing rdaemon directory")
                .stderr_has(&dir);
        }
        assert_left_alone(
            pid,
            &format!("the refusals with the directory at mode {mode:o}"),
        );
        assert_eq!(listing(env.dir()), before, "mode {mode:o}");
    }
    std::os::unix::fs::chown(env.dir(), Some(0), None).unwrap();
    fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o700)).unwrap();
    env.run(&["stop", "web"]).ok();
}
