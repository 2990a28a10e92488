//! Daemons that survive a reboot (issue 13, SPEC §5 `resurrect`): a reboot is simulated as the
//! kernel leaves things — every process of the daemons SIGKILLed by pid, and what lives in the
//! runtime directory gone (status files, pidfiles, locks) — while the specs stay.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;

/// The pids of `name`'s processes its status names: the main one and, in respawn mode, the
/// monitor's child.
fn pids_in_status(runtime: &Path, name: &str) -> Vec<i32> {
    let text = fs::read_to_string(runtime.join(format!("{name}.status"))).unwrap();
    let status: serde_json::Value = serde_json::from_str(&text).unwrap();
    ["pid", "child_pid"]
        .iter()
        .filter_map(|k| status[*k].as_i64())
        .map(|p| p as i32)
        .collect()
}

/// A reboot, as far as rdaemon can tell: SIGKILL to every process of `names`, by pid, then
/// the runtime files removed. With one directory for specs and runtime, only the runtime files
/// go: `NAME.status`, `NAME.pid`, `NAME.lock`.
fn reboot(runtime: &Path, names: &[&str]) {
    let mut pids = Vec::new();
    for name in names {
        if runtime.join(format!("{name}.status")).exists() {
            pids.extend(pids_in_status(runtime, name));
        }
    }
    for pid in &pids {
        let _ = kill(NixPid::from_raw(*pid), Signal::SIGKILL);
    }
    for pid in &pids {
        wait_dead(*pid);
    }
    for entry in fs::read_dir(runtime).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if [".status", ".pid", ".lock", ".new"]
            .iter()
            .any(|ext| file.ends_with(ext))
        {
            fs::remove_file(entry.path()).unwrap();
        }
    }
}

#[test]
fn after_a_reboot_status_tells_dead_from_stopped_and_resurrect_starts_the_wanted_ones() {
    let env = Env::new();
    let (a_secs, b_secs, c_secs) = (unique_secs(), unique_secs(), unique_secs());
    let a = env.start("a", &["sleep", &a_secs]);
    env.run(&["start", "--respawn", "--name", "b", "--", "sleep", &b_secs])
        .ok()
        .stdout_has("started b");
    let b_child = pids_in_status(env.dir(), "b")[1];
    env.start("c", &["sleep", &c_secs]);
    env.run(&["stop", "c"]).ok();

    reboot(env.dir(), &["a", "b", "c"]);
    assert!(!alive(a) && !alive(b_child));
    env.run(&["status", "a"]).code(1).stdout_has("a is dead");
    env.run(&["status", "b"]).code(1).stdout_has("b is dead");
    env.run(&["status", "c"]).code(3).stdout_has("c is stopped");
    let list: serde_json::Value =
        serde_json::from_str(&env.run(&["list", "--json"]).ok().stdout).unwrap();
    let states: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["dead", "dead", "stopped"]);

    let run = env
        .run(&["resurrect"])
        .ok()
        .stdout_has("started a (pid ")
        .stdout_has("started b (pid ");
    assert!(
        !run.stdout.contains("c "),
        "resurrect touched c: {}",
        run.stdout
    );
    let new_a = env.pid_of("a");
    assert_ne!(new_a, a);
    assert!(alive(new_a));
    assert_eq!(env.track_marked(&a_secs), vec![new_a]);
    assert_eq!(env.track_marked(&b_secs).len(), 1);
    assert!(alive(env.pid_of("b")));
    assert_eq!(env.track_marked(&c_secs), Vec::<i32>::new());
    env.run(&["status", "a"]).ok();
    env.run(&["status", "b"]).ok();
    env.run(&["status", "c"]).code(3);
    // Nothing left to do: all wanted running run.
    env.run(&["resurrect"])
        .ok()
        .stdout_has(&format!("a is already running (pid {new_a})"));
    assert_eq!(env.track_marked(&a_secs), vec![new_a]);
}

#[test]
fn start_name_starts_a_daemon_from_its_spec_with_overrides_saved() {
    let env = Env::new();
    let secs = unique_secs();
    let old = env.start("web", &["sleep", &secs]);
    let json = env.run(&["status", "web", "--json"]).ok().stdout;
    reboot(env.dir(), &["web"]);
    env.run(&["status", "web"]).code(1);
    env.run(&["start", "--env", "LEVEL=debug", "web"])
        .ok()
        .stdout_has("started web (pid ");
    let new = env.pid_of("web");
    assert_ne!(new, old);
    assert_eq!(env.track_marked(&secs), vec![new]);
    wait_environ_has(new, "LEVEL=debug");
    // The override is saved in the spec: the next start from it keeps it.
    env.run(&["stop", "web"]).ok();
    env.run(&["status", "web"]).code(3);
    env.run(&["start", "--name", "web"]).ok();
    let again = env.pid_of("web");
    wait_environ_has(again, "LEVEL=debug");
    let before: serde_json::Value = serde_json::from_str(&json).unwrap();
    let now: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "web", "--json"]).ok().stdout).unwrap();
    assert_eq!(now["command"], before["command"]);
    // --name alone names a stored spec; there is none for this one.
    env.run(&["start", "--name", "nosuch"])
        .code(2)
        .stderr_has("no record for nosuch");
    assert!(!env.path("nosuch.lock").exists());
}

#[test]
fn a_separate_runtime_directory_can_vanish_whole() {
    let env = Env::new();
    let runtime = env.path("run");
    let secs = unique_secs();
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_RUNTIME_DIR", &runtime);
    env.run_cmd(cmd, &["start", "--name", "w", "--", "sleep", &secs])
        .ok();
    let pid: i32 = fs::read_to_string(runtime.join("w.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(pid);
    assert!(env.path("w.json").exists() && !env.path("w.status").exists());
    assert!(runtime.join("w.status").exists());
    kill(NixPid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_dead(pid);
    fs::remove_dir_all(&runtime).unwrap();
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_RUNTIME_DIR", &runtime);
    env.run_cmd(cmd, &["status", "w"])
        .code(1)
        .stdout_has("w is dead");
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_RUNTIME_DIR", &runtime);
    env.run_cmd(cmd, &["resurrect"])
        .ok()
        .stdout_has("started w");
    let new: i32 = fs::read_to_string(runtime.join("w.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(new);
    assert_eq!(env.track_marked(&secs), vec![new]);
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_RUNTIME_DIR", &runtime);
    env.run_cmd(cmd, &["stop", "w"]).ok();
    wait_dead(new);
}

#[test]
fn two_resurrects_at_once_start_each_daemon_exactly_once() {
    let env = Env::new();
    let names = ["p", "q", "r"];
    let secs: Vec<String> = names.iter().map(|_| unique_secs()).collect();
    for (name, s) in names.iter().zip(&secs) {
        env.start(name, &["sleep", s]);
    }
    reboot(env.dir(), &names);
    let spawn = || {
        let mut cmd = env.std_cmd();
        cmd.arg("resurrect")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        Background::spawn(&mut cmd)
    };
    let (one, two) = (spawn(), spawn());
    let (one, two) = (
        one.output_within(DEADLINE * 3, "a resurrect to end"),
        two.output_within(DEADLINE * 3, "a resurrect to end"),
    );
    // Tracked by their marks first: a missing pidfile must not leave the others running.
    for s in &secs {
        env.track_marked(s);
    }
    for name in names {
        env.track(env.pid_of(name));
    }
    assert!(
        one.status.success() && two.status.success(),
        "{one:?}\n{two:?}"
    );
    for s in &secs {
        assert_eq!(env.track_marked(s).len(), 1, "not exactly one daemon");
    }
    let said =
        String::from_utf8_lossy(&one.stdout).to_string() + &String::from_utf8_lossy(&two.stdout);
    for name in names {
        assert_eq!(
            said.matches(&format!("started {name} (pid ")).count(),
            1,
            "{said}"
        );
    }
    let pids: HashSet<i32> = names.iter().map(|n| env.pid_of(n)).collect();
    assert_eq!(pids.len(), 3);
}

#[test]
fn resurrect_against_stop_ends_consistent() {
    let env = Env::new();
    for _ in 0..5 {
        let secs = unique_secs();
        env.start("s", &["sleep", &secs]);
        reboot(env.dir(), &["s"]);
        let mut res = env.std_cmd();
        res.arg("resurrect")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut stop = env.std_cmd();
        stop.args(["stop", "s"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let (res, stop) = (Background::spawn(&mut res), Background::spawn(&mut stop));
        let (res, stop) = (
            res.output_within(DEADLINE * 3, "resurrect to end"),
            stop.output_within(DEADLINE * 3, "stop to end"),
        );
        for pid in live_pids_with_arg(&secs) {
            env.track(pid);
        }
        assert!(stop.status.success(), "{stop:?}");
        // Whoever took the lock first, the user's stop wins: either it stopped what resurrect
        // started, or resurrect found the daemon wanted stopped and left it alone.
        assert_eq!(live_pids_with_arg(&secs), Vec::<i32>::new());
        env.run(&["status", "s"]).code(3).stdout_has("s is stopped");
        assert!(res.status.success(), "{res:?}");
    }
}

/// With a separate runtime directory, the respawn monitor (told it with `--runtime-dir`) writes
/// its status there once `start` has handed it over: a restart shows in `RUNTIME/NAME.status`,
/// and nothing of the runtime lands in the spec directory.
#[test]
fn the_monitor_writes_its_status_in_the_runtime_directory() {
    let env = Env::new();
    let runtime = env.path("run");
    let secs = unique_secs();
    let cmd = || {
        let mut cmd = env.cmd();
        cmd.env("RDAEMON_RUNTIME_DIR", &runtime);
        cmd
    };
    env.run_cmd(
        cmd(),
        &[
            "start",
            "--respawn",
            "--restart-delay",
            "0",
            "--name",
            "m",
            "--",
            "sleep",
            &secs,
        ],
    )
    .ok();
    let pids = pids_in_status(&runtime, "m");
    for pid in &pids {
        env.track(*pid);
    }
    let (monitor, child) = (pids[0], pids[1]);
    kill(NixPid::from_raw(child), Signal::SIGKILL).unwrap();
    wait_until("the monitor records the restart", DEADLINE, || {
        fs::read_to_string(runtime.join("m.status"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|s| {
                s["restarts"] == 1 && s["child_pid"].as_i64().is_some_and(|c| c as i32 != child)
            })
    });
    let new_child = pids_in_status(&runtime, "m")[1];
    env.track(new_child);
    assert_eq!(env.track_marked(&secs), vec![new_child]);
    assert!(!env.path("m.status").exists() && !env.path("m.pid").exists());
    env.run_cmd(cmd(), &["status", "m"])
        .ok()
        .stdout_has("restarts: 1");
    env.run_cmd(cmd(), &["stop", "m"]).ok();
    wait_dead(monitor);
    wait_dead(new_child);
    env.run_cmd(cmd(), &["status", "m"]).code(3);
}

/// Upgrading from v1: a running daemon whose record is one `NAME.json` with the runtime fields
/// (as rdaemon 1 wrote it, rebuilt here from the two files) is still known as running, is
/// converted to a spec and a status, and stops as before.
#[test]
fn a_v1_record_of_a_running_daemon_is_read_and_converted() {
    let env = Env::new();
    let secs = unique_secs();
    let pid = env.start("old", &["sleep", &secs]);
    let mut v1 = env.record("old");
    let v1 = v1.as_object_mut().unwrap();
    v1.remove("wanted");
    v1.insert("stopping".into(), false.into());
    fs::write(
        env.path("old.json"),
        serde_json::to_string_pretty(&v1).unwrap(),
    )
    .unwrap();
    fs::remove_file(env.path("old.status")).unwrap();
    env.run(&["status", "old"])
        .ok()
        .stdout_has(&format!("old is running (pid {pid})"));
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(env.path("old.json")).unwrap()).unwrap();
    assert_eq!(spec["wanted"], "running");
    assert!(spec.get("pid").is_none(), "{spec}");
    assert_eq!(env.record("old")["pid"], pid);
    env.run(&["stop", "old"]).ok().stdout_has("stopped old");
    wait_dead(pid);
    env.run(&["status", "old"]).code(3);
}

/// A pidfile outside the runtime directory outlives a reboot; its status does not, and its pid
/// may be anyone's by then (here: a process of root's that no daemon owns). The spec keeps the
/// boot its daemon was last started in, so nothing trusts that pidfile after a reboot:
/// `status` says dead, `stop` signals nothing, and `resurrect` starts the daemon again (a
/// helper's audit: before, `resurrect` said "already running" and `stop` killed the process).
#[test]
fn a_pidfile_that_outlived_a_reboot_names_nobody_of_the_daemon() {
    let env = Env::new();
    let pids = env.path("pids");
    fs::create_dir(&pids).unwrap();
    let pidfile = pids.join("p.pid");
    let secs = unique_secs();
    env.run(&[
        "start",
        "--name",
        "p",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ])
    .ok();
    env.track_marked(&secs);
    let stranger = OwnChild::sleep();
    // A reboot: the daemon gone, its status too, its spec from an earlier boot, and its old
    // pid reused by a process of root's.
    let spec = env.path("p.json");
    let reboot_into_stranger = || {
        reboot(env.dir(), &["p"]);
        let mut json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&spec).unwrap()).unwrap();
        assert!(json["started_boot"].is_string(), "{json}");
        json["started_boot"] = "00000000-0000-4000-8000-000000000000".into();
        fs::write(&spec, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        fs::write(&pidfile, format!("{}\n", stranger.pid())).unwrap();
    };
    reboot_into_stranger();
    resurrect_beside_stranger(&env, &pidfile, stranger.pid(), &secs);
    // Started in this boot: the spec says so again.
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&spec).unwrap()).unwrap();
    assert_ne!(json["started_boot"], "00000000-0000-4000-8000-000000000000");
    // And `stop` after such a reboot signals nothing.
    reboot_into_stranger();
    env.run(&["stop", "p"]).ok().stdout_has("not running");
    assert!(
        alive(stranger.pid()),
        "stop signalled a process of this boot"
    );
}

/// The same for a `--user` daemon whose `--pidfile` lies in its user's own directory: a pidfile
/// another user could write, which no status vouches for after the reboot. Naming a live pid
/// then (by chance, or the daemon's user's doing), it made `status` say unknown (4) and
/// `resurrect` and `start` fail ("could have been written by another user"), the daemon left
/// down (helper-125); its spec says it was last started before the reboot, so it names nobody of
/// the daemon, whoever wrote it.
#[test]
fn a_pidfile_in_the_users_directory_that_outlived_a_reboot_does_not_keep_the_daemon_down() {
    const TEST: &str =
        "a_pidfile_in_the_users_directory_that_outlived_a_reboot_does_not_keep_the_daemon_down";
    if root_and_nobody(TEST).is_none() {
        return;
    }
    let env = Env::new();
    open_dir(&env);
    let pids = env.path("pids");
    fs::create_dir(&pids).unwrap();
    std::os::unix::fs::chown(&pids, Some(65534), Some(65534)).unwrap();
    let pidfile = pids.join("p.pid");
    let secs = unique_secs();
    let start = [
        "start",
        "--name",
        "p",
        "--user",
        "nobody",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--",
        "sleep",
        &secs,
    ];
    env.run(&start).ok();
    env.track_marked(&secs);
    let stranger = OwnChild::sleep();
    let spec = env.path("p.json");
    reboot(env.dir(), &["p"]);
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&spec).unwrap()).unwrap();
    json["started_boot"] = "00000000-0000-4000-8000-000000000000".into();
    fs::write(&spec, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    // The pidfile rdaemon wrote there with the user's rights, its old pid now a stranger's.
    fs::write(&pidfile, format!("{}\n", stranger.pid())).unwrap();
    std::os::unix::fs::chown(&pidfile, Some(65534), Some(65534)).unwrap();
    resurrect_beside_stranger(&env, &pidfile, stranger.pid(), &secs);
    env.run(&["stop", "p"]).ok().stdout_has("stopped p");
    assert!(
        alive(stranger.pid()),
        "stop signalled a process of this boot"
    );
}

/// Starts `ex` (`sleep EX_SECS`) and `rn` (`--respawn`, `sleep RN_SECS`): returns the three pids
/// their statuses name (ex's, rn's monitor's and its child's).
fn start_ex_and_rn(env: &Env, ex_secs: &str, rn_secs: &str) -> Vec<i32> {
    env.run(&["start", "--name", "ex", "--", "sleep", ex_secs])
        .ok();
    let respawn = ["start", "--respawn", "--name", "rn", "--", "sleep", rn_secs];
    env.run(&respawn).ok();
    let mut pids = pids_in_status(env.dir(), "ex");
    pids.extend(pids_in_status(env.dir(), "rn"));
    assert_eq!(pids.len(), 3, "ex, rn's monitor and its child");
    pids
}

/// Only the status files removed while the daemons run, the pidfiles left in rdaemon's
/// directory: each pidfile names a process in its daemon's cgroup, so the daemon is judged as
/// when the whole runtime directory is gone (dead, what its cgroup holds its leftovers), and
/// `stop` stops them (user trial, 2026-12-04: `stop` refused the pidfile no record vouched for,
/// exit 1, while the process ran in the cgroup).
#[test]
fn daemons_whose_status_files_alone_were_removed_while_they_ran_are_stopped() {
    if cgroups_here("daemons_whose_status_files_alone_were_removed_while_they_ran_are_stopped")
        .is_none()
    {
        return;
    }
    let env = Env::new();
    let (ex_secs, rn_secs) = (unique_secs(), unique_secs());
    let old = start_ex_and_rn(&env, &ex_secs, &rn_secs);
    // As in the test above: the monitor's last write of its status is done.
    assert_polls_without_timeout(env.pid_of("rn"));
    for name in ["ex", "rn"] {
        fs::remove_file(env.path(&format!("{name}.status"))).unwrap();
    }
    env.run(&["status", "ex"])
        .code(1)
        .stdout_has("ex is dead: no status vouches for pid")
        .stdout_has("which runs in ex's cgroup; 1 leftover process");
    env.run(&["status", "rn"])
        .code(1)
        .stdout_has("which runs in rn's cgroup; 2 leftover processes");
    env.run(&["stop", "ex"])
        .ok()
        .stdout_has("stopped leftovers of ex: 1 process");
    env.run(&["stop", "rn"])
        .ok()
        .stdout_has("stopped leftovers of rn: 2 processes");
    for pid in &old {
        wait_dead(*pid);
    }
    assert!(env.track_marked(&ex_secs).is_empty());
    assert!(env.track_marked(&rn_secs).is_empty());
}

/// The runtime files removed while the daemons still run (not a reboot: an administrator's `rm
/// -rf /run/rdaemon`). No status names their processes any more, but their cgroups still hold
/// them: `resurrect` stops what is there before it starts each again, in its own cgroup, not a
/// second copy beside the first (user trial, 2026-12-02: a respawn daemon ran twice, the new
/// copy without a cgroup), and `stop` stops it rather than saying "not running".
#[test]
fn daemons_whose_runtime_files_were_removed_while_they_ran_are_not_doubled() {
    if cgroups_here("daemons_whose_runtime_files_were_removed_while_they_ran_are_not_doubled")
        .is_none()
    {
        return;
    }
    let env = Env::new();
    let (ex_secs, rn_secs) = (unique_secs(), unique_secs());
    let wipe = || {
        for entry in fs::read_dir(env.dir()).unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if [".status", ".pid", ".lock"]
                .iter()
                .any(|e| file.ends_with(e))
            {
                fs::remove_file(entry.path()).unwrap();
            }
        }
    };
    let old = start_ex_and_rn(&env, &ex_secs, &rn_secs);
    // The monitor writes its status once more after `start` has returned (the handoff): a
    // wipe before that write is undone by it (seen in a full run: "rn is already running").
    // At rest it waits in `poll` with no timeout, its writing done.
    assert_polls_without_timeout(env.pid_of("rn"));
    wipe();
    let run = env.run(&["resurrect"]).ok();
    let run = run
        .stdout_has("stopped leftovers of ex: 1 process")
        .stdout_has("stopped leftovers of rn: 2 processes");
    for pid in &old {
        wait_dead(*pid);
    }
    env.track_marked(&ex_secs);
    env.track_marked(&rn_secs);
    for (name, secs) in [("ex", &ex_secs), ("rn", &rn_secs)] {
        assert_eq!(
            live_pids_with_arg(secs).len(),
            1,
            "one {name} program\n{}",
            run.dump()
        );
        let leaf = env.cgroup_leaf(name);
        assert!(
            env.record(name)["cgroup"]
                .as_str()
                .is_some_and(|c| c.ends_with(&format!("/rdaemon/{leaf}"))),
            "{name} runs in its own cgroup again: {}",
            env.record(name)
        );
    }
    // Removed again: `stop` finds them in their cgroups, and nothing is left.
    let again: Vec<i32> = ["ex", "rn"]
        .iter()
        .flat_map(|n| pids_in_status(env.dir(), n))
        .collect();
    let ex_cgroup = env.record("ex")["cgroup"].as_str().unwrap().to_owned();
    assert_polls_without_timeout(env.pid_of("rn"));
    wipe();
    // Only a cgroup marked by a start from this very directory (review, 2026-12-02: the same
    // path made by another installation's default directory, whose daemon was killed).
    let test = "daemons_whose_runtime_files_were_removed_while_they_ran_are_not_doubled";
    if let Some(python) = python3_or_skip(test) {
        let mark = |value: &str| {
            let set = "import os, sys; os.setxattr(sys.argv[1], 'trusted.rdaemon.dir', sys.argv[2].encode())";
            let ok = std::process::Command::new(&python)
                .args(["-c", set, &ex_cgroup, value])
                .status()
                .unwrap();
            assert!(ok.success());
        };
        let get = "import os, sys; print(os.getxattr(sys.argv[1], 'trusted.rdaemon.dir').decode())";
        let ours = std::process::Command::new(&python)
            .args(["-c", get, &ex_cgroup])
            .output()
            .unwrap();
        let ours = String::from_utf8(ours.stdout).unwrap().trim().to_owned();
        assert!(!ours.is_empty(), "the start marked its cgroup");
        // `status` sees them there too, as `stop` will. No `--forking` hint: nothing says how
        // its main process ended, only that its status is gone (user trial, 2026-12-04).
        let status = env
            .run(&["status", "ex"])
            .code(1)
            .stdout_has("ex is dead: its main process is gone; 1 leftover process");
        assert!(!status.stdout.contains("--forking"), "{}", status.dump());
        // Nor is its spec forgotten while it runs there.
        env.run(&["forget", "ex"])
            .code(1)
            .stderr_has("ex has 1 process running in its cgroup");
        mark("1:2");
        env.run(&["stop", "ex"])
            .ok()
            .stdout_has("ex is not running");
        assert!(
            live_pids_with_arg(&ex_secs).len() == 1,
            "stop killed what another directory's cgroup holds"
        );
        mark(&ours);
    }
    env.run(&["stop", "ex"])
        .ok()
        .stdout_has("stopped leftovers of ex: 1 process");
    env.run(&["stop", "rn"])
        .ok()
        .stdout_has("stopped leftovers of rn: 2 processes");
    for pid in again {
        wait_dead(pid);
    }
    assert!(live_pids_with_arg(&ex_secs).is_empty());
    assert!(live_pids_with_arg(&rn_secs).is_empty());
}

/// The child process in which `resurrect` (pid `parent`) does its work for `name`: `rdaemon
/// __resurrect NAME`, one per daemon, run concurrently.
fn resurrect_child(parent: i32, name: &str) -> Option<i32> {
    let wanted = format!("__resurrect\0{name}\0");
    fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            stat(*pid).is_some_and(|s| s.ppid == parent)
                && fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&wanted))
        })
}

/// `name`'s child of `resurrect` once it has stopped itself (`RDAEMON_FAULT=STAGE:stop`).
fn stopped_child(resurrect: i32, name: &str) -> i32 {
    let mut child = None;
    wait_until(
        &format!("resurrect's child for {name} stops"),
        DEADLINE,
        || {
            child = resurrect_child(resurrect, name)
                .filter(|c| stat(*c).is_some_and(|s| s.state == 'T'));
            child.is_some()
        },
    );
    child.unwrap()
}

/// SIGTERM to `resurrect`, which passes it on to its `child`, stopped at a fault point: the
/// child is continued once the signal waits there, so that it arrives exactly at that stage.
fn sigterm_at(resurrect: i32, child: i32) {
    kill(NixPid::from_raw(resurrect), Signal::SIGTERM).unwrap();
    wait_until("resurrect passes SIGTERM on to its child", DEADLINE, || {
        signal_pending(child, Signal::SIGTERM)
    });
    kill(NixPid::from_raw(child), Signal::SIGCONT).unwrap();
}

/// `resurrect` run with `RDAEMON_FAULT=STAGE:stop`, and SIGTERM to it once its child for
/// `name` has stopped at `stage`: its exit code, stdout and stderr.
fn resurrect_sigterm_at(env: &Env, stage: &str, name: &str) -> (Option<i32>, String, String) {
    let resurrect = env.with_fault(stage, &["resurrect"]);
    let child = stopped_child(resurrect.pid(), name);
    sigterm_at(resurrect.pid(), child);
    let out = resurrect.output_within(DEADLINE, "resurrect ends");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// SIGTERM to `resurrect` between two daemons, the second after the first, which was started
/// with a readiness wait: the second is not started, and `resurrect` exits 143 (helper-87's
/// field trial, 2026-12-03: the signal was swallowed, and `resurrect` went on and exited 0).
/// Each daemon's start runs in a child of `resurrect` now; `RDAEMON_FAULT=start-before-catch:stop`
/// stops each child at its start; the test lets the first go on and signals `resurrect` while
/// the second is stopped: the signal is passed on, and that start ends before it began.
#[test]
fn a_sigterm_to_resurrect_between_two_daemons_starts_no_more() {
    let env = Env::new();
    let (a_secs, b_secs) = (unique_secs(), unique_secs());
    env.run(&[
        "start",
        "--name",
        "a",
        "--ready",
        "alive:50ms",
        "--",
        "sleep",
        &a_secs,
    ])
    .ok();
    env.run(&["start", "--name", "b", "--", "sleep", &b_secs])
        .ok();
    // b comes after a, as `up` would have recorded it: started only once a runs.
    edit_spec(&env, "b", "after", serde_json::json!(["a"]));
    reboot(env.dir(), &["a", "b"]);
    let resurrect = env.with_fault("start-before-catch", &["resurrect"]);
    let a = stopped_child(resurrect.pid(), "a");
    assert_eq!(resurrect_child(resurrect.pid(), "b"), None, "b before a");
    kill(NixPid::from_raw(a), Signal::SIGCONT).unwrap();
    let b = stopped_child(resurrect.pid(), "b");
    assert!(env.path("a.pid").exists(), "b's start before a runs");
    sigterm_at(resurrect.pid(), b);
    let out = resurrect.output_within(DEADLINE, "the interrupted resurrect ends");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    env.track_pidfiles();
    assert_eq!(out.status.code(), Some(143), "{stdout}{stderr}");
    assert!(stdout.contains("started a"), "{stdout}");
    assert!(
        stderr.contains("cannot start b: interrupted by SIGTERM before it was started"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "resurrect interrupted by SIGTERM; 1 of 2 daemons failed or were not started: b"
        ),
        "{stderr}"
    );
    assert_eq!(env.track_marked(&b_secs), Vec::<i32>::new(), "b runs");
    env.run(&["status", "b"]).code(1).stdout_has("b is dead");
    env.run(&["stop", "a"]).ok();
}

/// SIGTERM to `resurrect` while its child for a daemon waits for that daemon's lock (another
/// command holds it, as another `resurrect` would): it ends at once, starts nothing, exit 143
/// (helper-88's review, 2026-12-03: the catch held for the whole run kept the lock wait deaf to
/// the signal, until the other command let go).
#[test]
fn a_sigterm_to_resurrect_waiting_for_a_lock_ends_it() {
    let env = Env::new();
    let secs = unique_secs();
    env.start("a", &["sleep", &secs]);
    reboot(env.dir(), &["a"]);
    // As rdaemon makes it (mode 0600): one it did not make would not be its lock.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(env.path("a.lock"))
            .unwrap()
    };
    let _held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let resurrect = env.in_background("resurrect", &[]);
    wait_until("resurrect waits for the lock", DEADLINE, || {
        resurrect_child(resurrect.pid(), "a").is_some_and(|child| {
            fs::read_to_string(format!("/proc/{child}/wchan")).is_ok_and(|w| w.contains("sleep"))
        })
    });
    kill(NixPid::from_raw(resurrect.pid()), Signal::SIGTERM).unwrap();
    let out = resurrect.output_within(DEADLINE, "the interrupted resurrect ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM while waiting for the lock"),
        "{stderr}"
    );
    assert_eq!(env.track_marked(&secs), Vec::<i32>::new(), "a runs");
}

/// SIGTERM to `resurrect` during the start of its last daemon, one that waits for nothing
/// (and so catches nothing): the start completes and the daemon runs, as in `restart`, and
/// `resurrect` says the signal came (helper-89's review, 2026-12-03: it exited 0 without a
/// word of it). The start runs in `resurrect`'s child, which stops before the exec.
#[test]
fn a_sigterm_during_resurrects_last_start_is_told() {
    let env = Env::new();
    let secs = unique_secs();
    env.start("last", &["sleep", &secs]);
    reboot(env.dir(), &["last"]);
    let (code, stdout, stderr) = resurrect_sigterm_at(&env, "before-exec", "last");
    env.track_pidfiles();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("started last"), "{stdout}");
    assert_eq!(
        stderr,
        "rdaemon: warning: last was being started when SIGTERM came: its start completed, and it runs\n"
    );
    env.run(&["status", "last"]).ok();
    env.run(&["stop", "last"]).ok();
}

/// SIGTERM to `resurrect` before its child for a daemon catches any signal: the child dies of
/// the signal passed on to it, having started nothing, and `resurrect` says so as that, not as
/// if something else had killed it (helper-131's review: "was killed by SIGTERM").
#[test]
fn a_child_ended_by_the_signal_resurrect_passed_on_is_told_so() {
    let env = Env::new();
    let secs = unique_secs();
    env.start("last", &["sleep", &secs]);
    reboot(env.dir(), &["last"]);
    let (code, stdout, stderr) = resurrect_sigterm_at(&env, "resurrect-before-catch", "last");
    assert_eq!(code, Some(143), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "rdaemon: rdaemon's child for last was ended by the SIGTERM passed on to it\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("killed by"), "{stderr}");
    assert_eq!(
        env.track_marked(&secs),
        Vec::<i32>::new(),
        "last was started"
    );
}

/// SIGTERM to `resurrect` while its child looks at a daemon that runs already: nothing was
/// being started, and nothing says so (helper-128's review: `resurrect` warned that the
/// signal "came while up was being started", for any child that ran when it came). The
/// child stops where it found the daemon running (`RDAEMON_FAULT=resurrect-running:stop`).
#[test]
fn a_sigterm_while_resurrect_finds_a_daemon_running_is_not_called_a_start() {
    let env = Env::new();
    let pid = env.start("up", &["sleep", &unique_secs()]);
    let (code, stdout, stderr) = resurrect_sigterm_at(&env, "resurrect-running", "up");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, format!("up is already running (pid {pid})\n"));
    assert_eq!(stderr, "");
    assert!(alive(pid));
}

/// `resurrect` starts daemons that come after nothing at once, concurrently (as `up` does):
/// after a reboot, ten daemons that each take 2 s to be ready took 20 s, one after the other.
/// Proved by outcome, not by timing: x, y and z are each ready only once all three programs
/// have started (each leaves a `.started` marker, then waits for the other two), so that one
/// after the other the first is never ready (`ready-timeout`) and `resurrect` fails. And the
/// order still holds: w comes after x, and its program finds x ready when it starts.
#[test]
fn resurrect_starts_independent_daemons_at_once_and_the_dependent_after() {
    let env = Env::new();
    let names = ["x", "y", "z", "w"];
    let secs: Vec<String> = names.iter().map(|_| unique_secs()).collect();
    let wait_all =
        "while [ ! -e x.started ] || [ ! -e y.started ] || [ ! -e z.started ]; do sleep 0.01; done";
    let mut file = String::new();
    for (name, s) in names.iter().zip(&secs).take(3) {
        file += &format!(
            "[daemons.{name}]\nrun = \"touch {name}.started; {wait_all}; touch {name}.ready; exec sleep {s}\"\nready = \"file:{name}.ready\"\nready-timeout = \"5s\"\n\n"
        );
    }
    file += &format!(
        "[daemons.w]\nrun = \"if [ -e x.ready ]; then touch w.saw-x-ready; fi; touch w.ready; exec sleep {}\"\nready = \"file:w.ready\"\nafter = [\"x\"]\n",
        secs[3]
    );
    fs::write(env.path("rdaemon.toml"), file).unwrap();
    let clear = || {
        for name in names {
            for what in ["started", "ready", "saw-x-ready"] {
                let _ = fs::remove_file(env.path(&format!("{name}.{what}")));
            }
        }
    };
    // `up` starts them so (concurrently), and records their order.
    let up = env.run(&["up"]);
    for s in &secs {
        env.track_marked(s);
    }
    up.ok();
    assert!(env.path("w.saw-x-ready").exists());
    reboot(env.dir(), &names);
    clear();
    env.run(&["status", "x"]).code(1).stdout_has("x is dead");
    let run = env.run(&["resurrect"]);
    for s in &secs {
        env.track_marked(s);
    }
    let run = run.ok();
    for name in names {
        let said = run.stdout.matches(&format!("started {name} (pid ")).count();
        assert_eq!(said, 1, "{name}\n{}", run.dump());
    }
    assert!(
        env.path("w.saw-x-ready").exists(),
        "w started before x was ready\n{}",
        run.dump()
    );
    // w after x, also in what was said: x's line before w's.
    assert!(
        run.stdout.find("started x ") < run.stdout.find("started w "),
        "{}",
        run.dump()
    );
    for (name, s) in names.iter().zip(&secs) {
        assert_eq!(env.track_marked(s), vec![env.pid_of(name)], "{name}");
    }
    env.run(&["down"]).ok();
}

/// Two daemons in each other's way (here one pidfile, the spec edited as a user could) are not
/// started at once by `resurrect`: both starts found the pidfile free, both daemons ran, and it
/// named the one written last (helper-126 saw it in `up`). One after the other, as before
/// `resurrect` started any at once, the second finds the first's pidfile and is refused.
#[test]
fn resurrect_starts_daemons_sharing_a_pidfile_one_after_the_other() {
    let env = Env::new();
    let (p_secs, q_secs) = (unique_secs(), unique_secs());
    let shared = env.path("shared.pid");
    env.run(&[
        "start",
        "--name",
        "p",
        "--pidfile",
        shared.to_str().unwrap(),
        "--",
        "sleep",
        &p_secs,
    ])
    .ok();
    env.start("q", &["sleep", &q_secs]);
    let spec = env.path("q.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&spec).unwrap()).unwrap();
    json["pidfile"] = shared.to_str().unwrap().into();
    fs::write(&spec, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    reboot(env.dir(), &["p", "q"]);
    let _ = fs::remove_file(&shared);
    for _ in 0..3 {
        let p = resurrect_p_not_q(&env, &p_secs, &q_secs);
        assert_eq!(fs::read_to_string(&shared).unwrap(), format!("{p}\n"));
        reboot(env.dir(), &["p", "q"]);
        let _ = fs::remove_file(&shared);
    }
}

/// Two daemons in each other's way by a log (the `log:` readiness of q reads the log p writes
/// too, which `up` refuses in a file) are not started at once by `resurrect` either: at once,
/// q's wait took p's line for its own. p says its line once q's program runs (or after about
/// half a second): one after the other, p is ready first, and q, whose program says nothing,
/// times out. Checked: without the order, `resurrect` exits 0 with both running.
#[test]
fn resurrect_starts_a_daemon_waiting_on_anothers_log_after_it() {
    let env = Env::new();
    let (p_secs, q_secs) = (unique_secs(), unique_secs());
    let (log, q_runs) = (env.path("shared.log"), env.path("q.runs"));
    let log = log.to_str().unwrap();
    let p = format!(
        "for i in $(seq 50); do [ -e {} ] && break; sleep 0.01; done; echo p ready; exec sleep {p_secs}",
        q_runs.display()
    );
    let q = format!("touch {}; exec sleep {q_secs}", q_runs.display());
    for (name, ready, script) in [("p", "log:ready", &p), ("q", "exec", &q)] {
        let start = ["start", "--name", name, "--log", log, "--ready", ready];
        let run = env.run(&[&start[..], &["--", "sh", "-c", script]].concat());
        run.ok().stdout_has(&format!("started {name} (pid "));
    }
    edit_spec(&env, "q", "ready", "log:ready".into());
    edit_spec(&env, "q", "ready_timeout", "1s".into());
    reboot(env.dir(), &["p", "q"]);
    fs::remove_file(&q_runs).unwrap();
    resurrect_p_not_q(&env, &p_secs, &q_secs);
}

/// `resurrect` of daemons p and q in each other's way, one after the other: p started, q's
/// start refused (exit 1), their processes (marked `p_secs`, `q_secs`) tracked. Returns p's pid.
fn resurrect_p_not_q(env: &Env, p_secs: &str, q_secs: &str) -> i32 {
    let run = env.run(&["resurrect"]);
    let (p, q) = (env.track_marked(p_secs), env.track_marked(q_secs));
    let run = run
        .code(1)
        .stdout_has("started p (pid ")
        .stderr_has("cannot start q: ");
    assert_eq!((p.len(), q.len()), (1, 0), "{}", run.dump());
    p[0]
}

/// Two daemons in each other's way by a log whose specs each come after the other (hand-made:
/// `up` refuses both): the cycle is broken where the order breaks it, and the clash orders
/// them the same way (both by the place in that order), so that neither waits for the other
/// for good: `resurrect` starts both and ends.
#[test]
fn resurrect_of_a_log_pair_each_after_the_other_starts_both() {
    let env = Env::new();
    let (a_secs, b_secs) = (unique_secs(), unique_secs());
    let log = env.path("shared.log");
    let log = log.to_str().unwrap();
    let scripts = [
        ("a", "exec", format!("exec sleep {a_secs}")),
        (
            "b",
            "log:ready",
            format!("echo b ready; exec sleep {b_secs}"),
        ),
    ];
    for (name, ready, script) in &scripts {
        let start = ["start", "--name", name, "--log", log, "--ready", ready];
        let run = env.run(&[&start[..], &["--", "sh", "-c", script]].concat());
        run.ok().stdout_has(&format!("started {name} (pid "));
    }
    edit_spec(&env, "a", "after", serde_json::json!(["b"]));
    edit_spec(&env, "b", "after", serde_json::json!(["a"]));
    reboot(env.dir(), &["a", "b"]);
    let run = env.run(&["resurrect"]);
    let (a, b) = (env.track_marked(&a_secs), env.track_marked(&b_secs));
    let run = run
        .ok()
        .stdout_has("started a (pid ")
        .stdout_has("started b (pid ");
    assert_eq!((a.len(), b.len()), (1, 1), "{}", run.dump());
}

/// A child of `resurrect` killed outright (here at a fault point, as the OOM killer would) says
/// nothing itself: `resurrect` says it, does not start what comes after that daemon, exits 1,
/// and the next `resurrect` starts both.
#[test]
fn a_killed_child_of_resurrect_is_told_and_holds_back_what_comes_after() {
    let env = Env::new();
    let (a_secs, b_secs) = (unique_secs(), unique_secs());
    env.start("a", &["sleep", &a_secs]);
    env.start("b", &["sleep", &b_secs]);
    edit_spec(&env, "b", "after", serde_json::json!(["a"]));
    reboot(env.dir(), &["a", "b"]);
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "before-fork");
    let run = env.run_cmd(cmd, &["resurrect"]);
    env.track_marked(&a_secs);
    env.track_marked(&b_secs);
    let run = run
        .code(1)
        .stderr_has("rdaemon: rdaemon's child for a was killed by SIGKILL")
        .stderr_has("rdaemon: cannot start b: it comes after a, which did not start");
    assert_eq!(run.stdout, "", "{}", run.dump());
    env.run(&["resurrect"])
        .ok()
        .stdout_has("started a (pid ")
        .stdout_has("started b (pid ");
    assert_eq!(env.track_marked(&a_secs), vec![env.pid_of("a")]);
    assert_eq!(env.track_marked(&b_secs), vec![env.pid_of("b")]);
}

/// After a reboot of daemon `p` whose pidfile now names `stranger`: `status` says it was
/// last started before the reboot, `resurrect` starts it anew and leaves the stranger alone.
/// Returns the new pid (its processes, marked `secs`, are tracked).
fn resurrect_beside_stranger(env: &Env, pidfile: &Path, stranger: i32, secs: &str) -> i32 {
    env.run(&["status", "p"])
        .code(1)
        .stdout_has("it was last started before the machine rebooted");
    env.run(&["resurrect"]).ok().stdout_has("started p (pid ");
    env.track_marked(secs);
    let started: i32 = fs::read_to_string(pidfile).unwrap().trim().parse().unwrap();
    env.track(started);
    assert_ne!(started, stranger);
    assert_left_alone(stranger, "a resurrect over a pidfile naming it");
    started
}

/// Rewrites one field of the spec `NAME.json` (docs/json.md), as `up` would have written it.
fn edit_spec(env: &Env, name: &str, field: &str, value: serde_json::Value) {
    let spec = env.path(&format!("{name}.json"));
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&spec).unwrap()).unwrap();
    json[field] = value;
    fs::write(&spec, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}
