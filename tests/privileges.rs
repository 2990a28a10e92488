//! `--user USER[:GROUP]` and `--group GROUP` (SPEC §2): as root, the daemon gets the user's
//! supplementary groups, then the gid, then the uid, after rdaemon has opened the pidfile and
//! logs; it cannot rewrite its own pidfile; restart keeps the user; without root both options
//! are refused. Checked in `/proc/PID/status` with the `nobody` user.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;

use nix::unistd::{getgrouplist, Gid, Group, User};

use crate::common::*;

/// `Uid:`/`Gid:` of `/proc/PID/status` when all four ids (real, effective, saved, fs) are `id`.
fn all_four(id: u32) -> String {
    format!("{id}\t{id}\t{id}\t{id}")
}

/// The supplementary groups `initgroups(user, gid)` would set, as `/proc/PID/status` lists them.
fn expected_groups(user: &User, gid: u32) -> String {
    let name = CString::new(user.name.as_str()).unwrap();
    let mut groups: Vec<u32> = getgrouplist(&name, Gid::from_raw(gid))
        .unwrap()
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    groups.sort();
    groups.dedup();
    groups
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn groups_of(pid: i32) -> String {
    let mut groups: Vec<u32> = status_field(pid, "Groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    groups.sort();
    groups
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn nobody_gets_its_ids_and_groups_and_cannot_touch_its_pidfile() {
    let Some(nobody) =
        root_and_nobody("nobody_gets_its_ids_and_groups_and_cannot_touch_its_pidfile")
    else {
        return;
    };
    let env = Env::new();
    open_dir(&env);
    let pidfile = env.path("drop.pid");
    let script = env.script(
        "drop.sh",
        "if (echo 1 > \"$1\") 2>/dev/null; then echo WROTE; else echo NOT_WRITTEN; fi\n\
         if rm -f \"$1\" 2>/dev/null; then echo REMOVED; else echo NOT_REMOVED; fi\n\
         exec sleep \"$2\"",
    );
    let mut cmd = env.std_cmd();
    // rdaemon itself holds extra supplementary groups (0, daemon, adm): none may reach the daemon.
    // SAFETY: setgroups is async-signal-safe; the array lives on the closure's stack.
    unsafe {
        cmd.pre_exec(|| {
            let groups: [nix::libc::gid_t; 3] = [0, 1, 4];
            nix::libc::setgroups(groups.len(), groups.as_ptr());
            Ok(())
        });
    }
    env.run_cmd(
        assert_cmd::Command::from_std(cmd),
        &[
            "start",
            "--name",
            "drop",
            "--user",
            "nobody",
            "--",
            script.to_str().unwrap(),
            pidfile.to_str().unwrap(),
            &unique_secs(),
        ],
    )
    .ok()
    .stdout_has("started drop (pid");
    let pid = env.pid_of("drop");
    let uid = nobody.uid.as_raw();
    let gid = nobody.gid.as_raw();
    wait_until("the daemon has tried its pidfile", DEADLINE, || {
        fs::read_to_string(env.path("drop.log")).is_ok_and(|s| s.lines().count() >= 2)
    });
    assert_eq!(status_field(pid, "Uid"), all_four(uid));
    assert_eq!(status_field(pid, "Gid"), all_four(gid));
    assert_eq!(groups_of(pid), expected_groups(&nobody, gid));
    assert_eq!(
        fs::read_to_string(env.path("drop.log")).unwrap(),
        "NOT_WRITTEN\nNOT_REMOVED\n"
    );
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), format!("{pid}\n"));
    for (file, mode) in [
        ("drop.pid", 0o644),
        ("drop.json", 0o600),
        ("drop.log", 0o644),
    ] {
        let meta = fs::metadata(env.path(file)).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o777), (0, mode), "{file}");
    }
    wait_environ_has(pid, "USER=nobody");
    wait_environ_has(pid, "LOGNAME=nobody");
    wait_environ_has(pid, &format!("HOME={}", nobody.dir.display()));
    wait_environ_has(pid, &format!("SHELL={}", nobody.shell.display()));
    let rec = env.record("drop");
    assert_eq!(rec["user"], "nobody");
    assert_eq!(rec["group"], serde_json::Value::Null);
    env.run(&["status", "drop"])
        .ok()
        .stdout_has("  user:    nobody");
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "drop", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["user"], "nobody");
    assert_eq!(json["group"], serde_json::Value::Null);
    env.run(&["stop", "drop"]).ok();
    assert!(!alive(pid));
}

#[test]
fn user_and_group_forms_set_the_expected_ids() {
    let Some(nobody) = root_and_nobody("user_and_group_forms_set_the_expected_ids") else {
        return;
    };
    let Some(daemon) = Group::from_gid(Gid::from_raw(1)).unwrap() else {
        return skip("user_and_group_forms_set_the_expected_ids", "no group 1");
    };
    let env = Env::new();
    let uid = nobody.uid.as_raw();
    let g = daemon.name.as_str();
    let user_group = format!("nobody:{g}");
    let numeric = format!("{uid}:{}", nobody.gid.as_raw());
    // (options, uid, gid, supplementary groups)
    let cases: Vec<(Vec<&str>, u32, u32, String)> = vec![
        (
            vec!["--user", &user_group],
            uid,
            1,
            expected_groups(&nobody, 1),
        ),
        (
            vec!["--user", "nobody", "--group", g],
            uid,
            1,
            expected_groups(&nobody, 1),
        ),
        (
            vec!["--user", &numeric],
            uid,
            nobody.gid.as_raw(),
            expected_groups(&nobody, nobody.gid.as_raw()),
        ),
        (vec!["--group", g], 0, 1, "1".to_owned()),
    ];
    for (i, (opts, uid, gid, groups)) in cases.into_iter().enumerate() {
        let name = format!("form{i}");
        let mut args = vec!["start", "--name", &name];
        args.extend(&opts);
        let secs = unique_secs();
        args.extend(["--", "sleep", &secs]);
        env.run(&args).ok();
        let pid = env.pid_of(&name);
        assert_eq!(status_field(pid, "Uid"), all_four(uid), "{opts:?}");
        assert_eq!(status_field(pid, "Gid"), all_four(gid), "{opts:?}");
        assert_eq!(groups_of(pid), groups, "{opts:?}");
    }
}

#[test]
fn restart_keeps_the_recorded_user_and_takes_overrides() {
    let Some(nobody) = root_and_nobody("restart_keeps_the_recorded_user_and_takes_overrides")
    else {
        return;
    };
    let env = Env::new();
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    env.run(&[
        "start",
        "--name",
        "kept",
        "--user",
        "nobody",
        "--",
        "sleep",
        &unique_secs(),
    ])
    .ok();
    env.run(&["restart", "kept"]).ok();
    let pid = env.pid_of("kept");
    assert_eq!(status_field(pid, "Uid"), all_four(uid));
    assert_eq!(status_field(pid, "Gid"), all_four(gid));

    env.run(&["restart", "kept", "--group", "1"]).ok();
    let pid = env.pid_of("kept");
    assert_eq!(status_field(pid, "Uid"), all_four(uid));
    assert_eq!(status_field(pid, "Gid"), all_four(1));
    assert_eq!(env.record("kept")["group"], "1");

    // A new user brings its own primary group: the recorded --group goes.
    env.run(&["restart", "kept", "--user", "root"]).ok();
    let pid = env.pid_of("kept");
    assert_eq!(status_field(pid, "Uid"), all_four(0));
    assert_eq!(status_field(pid, "Gid"), all_four(0));
    assert_eq!(env.record("kept")["user"], "root");
    assert_eq!(env.record("kept")["group"], serde_json::Value::Null);
}

#[test]
fn user_and_group_are_refused_without_root() {
    let env = Env::new();
    let run_unprivileged = |args: &[&str]| {
        let mut cmd = env.std_cmd();
        if is_root() {
            // Run rdaemon itself as nobody (std drops the supplementary groups too).
            let nobody = nobody()?;
            // std changes the uid before the directory: nobody cannot enter the test's.
            cmd.uid(nobody.uid.as_raw())
                .gid(nobody.gid.as_raw())
                .current_dir("/");
        }
        Some(env.run_cmd(assert_cmd::Command::from_std(cmd), args))
    };
    let secs = unique_secs();
    for opts in [
        vec!["--user", "nobody"],
        vec!["--user", "root:root"],
        vec!["--group", "nogroup"],
    ] {
        let mut args = vec!["start", "--name", "priv"];
        args.extend(&opts);
        args.extend(["--", "sleep", &secs]);
        let Some(run) = run_unprivileged(&args) else {
            return skip(
                "user_and_group_are_refused_without_root",
                "no 'nobody' user",
            );
        };
        run.code(4)
            .one_error_line()
            .stderr_has("need root")
            .stderr_has(opts[1].split(':').next().unwrap());
    }
    assert_eq!(listing(env.dir()), Vec::<String>::new());
    assert_eq!(env.track_marked(&secs), Vec::<i32>::new());
}

#[test]
fn what_the_user_cannot_reach_fails_the_start_and_leaves_nothing() {
    let Some(_) = root_and_nobody("what_the_user_cannot_reach_fails_the_start_and_leaves_nothing")
    else {
        return;
    };
    let env = Env::new();
    open_dir(&env);
    let private = env.path("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let script = env.script("rootonly.sh", "exec sleep 1000");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o700)).unwrap();
    let before = listing(env.dir());
    let secs = unique_secs();
    // chdir and exec happen after setuid, so only the daemon process itself can find out:
    // the failure comes back over the report pipe, and start undoes what it wrote.
    env.run(&[
        "start",
        "--name",
        "nochdir",
        "--user",
        "nobody",
        "--chdir",
        private.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "cannot change directory to '{}': Permission denied",
        private.display()
    ));
    env.run(&[
        "start",
        "--name",
        "noexec",
        "--user",
        "nobody",
        "--",
        script.to_str().unwrap(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has("cannot execute")
    .stderr_has("Permission denied");
    // Found on PATH where the user cannot go (a `python3` in root's home): the error says where.
    let tool = private.join("tool");
    copy_executable("/bin/sleep", &tool);
    let path = format!("PATH={}", private.display());
    env.run(&[
        "start", "--name", "onpath", "--user", "nobody", "--env", &path, "--", "tool", &secs,
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "cannot execute 'tool' ({}): Permission denied",
        tool.display()
    ));
    assert_eq!(listing(env.dir()), before);
    assert_eq!(env.track_marked(&secs), Vec::<i32>::new());
}

#[test]
fn in_supervised_mode_only_the_child_drops_privileges() {
    let Some(nobody) = root_and_nobody("in_supervised_mode_only_the_child_drops_privileges") else {
        return;
    };
    let env = Env::new();
    let secs = unique_secs();
    env.run(&[
        "start",
        "--name",
        "sup",
        "--respawn",
        "--user",
        "nobody",
        "--",
        "sleep",
        &secs,
    ])
    .ok()
    .stdout_has("started sup (pid");
    let monitor = env.pid_of("sup");
    let child = env.record("sup")["child_pid"]
        .as_i64()
        .expect("start records the child before it reports") as i32;
    env.track(child);
    assert_eq!(env.track_marked(&secs), vec![child]);
    // The monitor writes the record and the logs: it stays root.
    assert_eq!(status_field(monitor, "Uid"), all_four(0));
    assert_eq!(status_field(child, "Uid"), all_four(nobody.uid.as_raw()));
    assert_eq!(status_field(child, "Gid"), all_four(nobody.gid.as_raw()));
    assert_eq!(
        groups_of(child),
        expected_groups(&nobody, nobody.gid.as_raw())
    );
    wait_environ_has(child, "USER=nobody");
    env.run(&["stop", "sup"]).ok();
    assert!(!alive(monitor) && !alive(child));
}

/// `signal --group` that the kernel refuses for part of the daemon exits 4, "insufficient
/// privilege" (SPEC §8), once the rest has the signal: a user's daemon runs a set-user-id
/// program that made itself root, in a process group of its own; the user's `signal --group`
/// reaches the daemon's group, names the group that got it and says the rest refused it;
/// `stop` stops the program and refuses the same way.
#[test]
fn a_group_signal_the_kernel_refuses_in_part_exits_4() {
    let test = "a_group_signal_the_kernel_refuses_in_part_exits_4";
    if root_and_nobody(test).is_none() {
        return;
    }
    let env = Env::new();
    open_dir(&env);
    // The set-user-id program: in a process group of its own, in the daemon's session, and
    // root in all four ids, so that nobody may not signal it.
    let source = env.path("rootpause.c");
    fs::write(
        &source,
        "#define _GNU_SOURCE\n\
         #include <unistd.h>\n\
         int main(void) {\n\
             if (setpgid(0, 0) || setresuid(0, 0, 0)) return 1;\n\
             for (;;) pause();\n\
         }\n",
    )
    .unwrap();
    let rootpause = env.path("rootpause");
    let compiled = std::process::Command::new("gcc")
        .arg("-o")
        .arg(&rootpause)
        .arg(&source)
        .status();
    if !compiled.is_ok_and(|s| s.success()) {
        skip(test, "gcc cannot build a C program here");
        return;
    }
    fs::set_permissions(&rootpause, fs::Permissions::from_mode(0o4755)).unwrap();
    let theirs = env.path("nobody");
    fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let bin = theirs.join("rdaemon");
    copy_executable(assert_cmd::cargo::cargo_bin!("rdaemon"), &bin);
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .arg("--dir")
            .arg(theirs.join("d"))
            .args(args)
            .env_remove("RDAEMON_DIR")
            .output()
            .unwrap()
    };
    let mark = unique_secs();
    let script = env.script("suid.sh", "\"$1\" \"$2\" & exec sleep \"$2\"");
    let out = as_nobody(&[
        "start",
        "--name",
        "d",
        "--",
        script.to_str().unwrap(),
        rootpause.to_str().unwrap(),
        &mark,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let root_owned = |pid: i32| {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|s| s.lines().any(|l| l == format!("Uid:\t{}", all_four(0))))
    };
    let mut pids = Vec::new();
    wait_until("the daemon and its root process run", DEADLINE, || {
        pids = env.track_marked(&mark);
        pids.len() == 2 && pids.iter().any(|&p| root_owned(p))
    });
    let (&root, &main) = match root_owned(pids[0]) {
        true => (&pids[0], &pids[1]),
        false => (&pids[1], &pids[0]),
    };
    assert_eq!(stat(main).unwrap().pgrp, main, "the daemon leads its group");
    assert_ne!(
        stat(root).unwrap().pgrp,
        main,
        "the root process has a group of its own"
    );

    // WINCH, which `sleep` ignores (CONT would reach the root process too: the kernel lets
    // any process of a session continue another).
    let out = as_nobody(&["signal", "--group", "WINCH", "d"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "rdaemon: cannot signal every process of d (process group {main} got it): Operation not permitted\n"
        )
    );
    assert!(alive(main) && alive(root));

    // `stop` ends what it may and says what it may not, exit 4 as well.
    let out = as_nobody(&["stop", "d"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("rdaemon: cannot signal a leftover of d (pid {root}): Operation not permitted\n")
    );
    wait_dead(main);
    assert!(alive(root));
}
