//! What `list` (and `status`) spare themselves must not change what they say (issue 18: `list`
//! of 1000 live daemons ≤ 20 ms). A stopped daemon whose cgroup was removed is not looked for in
//! every process of the machine: its leftovers are none, as the look would find; while its
//! cgroup lives, or without one, the look is made. From 64 daemons on, the reports are shared
//! among threads in batches: every daemon says what `status NAME` says, in the names' order.

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;

use crate::common::*;
use crate::containment::start_with_members;

/// The reports of `list --json`'s output, which must name `names` in that order.
fn reports_named_in_order(run: &Run, names: &[String]) -> Vec<serde_json::Value> {
    let all: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let listed: Vec<&str> = all.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(listed, names, "{}", run.dump());
    all
}

/// The report of `name` in `list --json`.
fn listed(env: &Env, name: &str) -> serde_json::Value {
    let run = env.run(&["list", "--json"]).ok();
    let all: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {}", run.dump()))
        .clone()
}

/// The line of `name` in the `list` table, split in words.
fn table_row(env: &Env, name: &str) -> Vec<String> {
    let run = env.run(&["list"]).ok();
    let row = run
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in the table: {}", run.dump()));
    row.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn leftovers_are_looked_for_while_the_cgroup_lives_and_none_once_stop_removed_it() {
    let test = "leftovers_are_looked_for_while_the_cgroup_lives_and_none_once_stop_removed_it";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "ls");
    let (main, members) = start_with_members(&env, &name, 1, false);
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    assert_eq!(env.record(&name)["cgroup"], cgroup.to_str().unwrap());
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    // The cgroup lives on with the member in it: the session is looked at.
    let report = listed(&env, &name);
    assert_eq!(report["state"], "dead", "{report}");
    assert_eq!(report["leftovers"], 1, "{report}");
    assert_eq!(table_row(&env, &name)[1], "dead");
    env.run(&["stop", &name])
        .ok()
        .stdout_has(&format!("stopped leftovers of {name}: 1 process"));
    assert!(!alive(members[0]));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
    // Removed, so empty: stopped, no leftovers, as a look at every process would say.
    let report = listed(&env, &name);
    assert_eq!(report["state"], "stopped", "{report}");
    assert!(report.get("leftovers").is_none(), "{report}");
    assert_eq!(table_row(&env, &name)[1], "stopped");
    env.run(&["status", &name])
        .code(3)
        .stdout_has(&format!("{name} is stopped"));
}

#[test]
fn without_a_cgroup_the_leftovers_of_a_dead_daemon_are_still_found() {
    let env = Env::new();
    let script = env.script(
        "member.sh",
        &format!(
            r#"sleep {secs} & echo $! > "$1/members.tmp"; mv "$1/members.tmp" "$1/members.txt"
exec sleep 1000"#,
            secs = unique_secs()
        ),
    );
    let main = crate::containment::start_script_without_cgroup(&env, "web", &script);
    let member = crate::containment::member_pids(&env, "members.txt")[0];
    assert!(env.record("web")["cgroup"].is_null());
    kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
    wait_dead(main);
    let report = listed(&env, "web");
    assert_eq!(report["state"], "dead", "{report}");
    assert_eq!(report["leftovers"], 1, "{report}");
    assert!(alive(member), "list must not touch member {member}");
    env.run(&["stop", "web"])
        .ok()
        .stdout_has("stopped leftovers of web: 1 process");
    assert_eq!(listed(&env, "web")["state"], "stopped");
}

#[test]
fn a_list_shared_among_threads_says_what_status_says_in_the_names_order() {
    let env = Env::new();
    // More than the 64 from which `list` shares the work, in several states.
    let names: Vec<String> = (0..70).map(|i| format!("d{i:02}")).collect();
    for name in &names {
        env.start(name, &["sleep", &unique_secs()]);
    }
    for name in ["d03", "d40", "d69"] {
        env.run(&["stop", name]).ok();
    }
    for name in ["d07", "d50"] {
        let pid = env.pid_of(name);
        kill(NixPid::from_raw(pid), Signal::SIGKILL).unwrap();
        wait_dead(pid);
    }
    let run = env.run(&["list", "--json"]).ok();
    let all = reports_named_in_order(&run, &names);
    for report in &all {
        let name = report["name"].as_str().unwrap();
        let one = env.run(&["status", name, "--json"]);
        let status: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
        for field in [
            "state",
            "pid",
            "start_time",
            "restarts",
            "command",
            "leftovers",
        ] {
            assert_eq!(report.get(field), status.get(field), "{name}: {field}");
        }
        let want = match name {
            "d03" | "d40" | "d69" => "stopped",
            "d07" | "d50" => "dead",
            _ => "running",
        };
        assert_eq!(report["state"], want, "{name}");
    }
    let table = env.run(&["list"]).ok();
    let rows: Vec<&str> = table
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(rows, names, "{}", table.dump());
}

/// With a separate runtime directory (root's layout: v1 records of root lay there), the names of
/// both directories are read while the workers already report: a name in both is listed once,
/// one found only in the runtime directory (a v1 record) takes its place in the names' order.
#[test]
fn a_shared_list_reads_both_directories_and_lists_each_name_once() {
    let env = Env::new();
    let runtime = env.path("run");
    let with_runtime = || {
        let mut cmd = env.cmd();
        cmd.env("RDAEMON_RUNTIME_DIR", &runtime);
        cmd
    };
    let secs = unique_secs();
    let names: Vec<String> = (0..70).map(|i| format!("d{i:02}")).collect();
    for name in &names {
        let run = env.run_cmd(
            with_runtime(),
            &["start", "--name", name, "--", "sleep", &secs],
        );
        // Its pidfile is in the runtime directory, where `Env` does not look: tracked first.
        env.track_marked(&secs);
        run.ok();
    }
    // `d05`: a v1 record in the runtime directory beside its spec; `d33`: only a v1 record
    // there (spec and status made into one file, as rdaemon 1 wrote it).
    let v1 = |name: &str| {
        let spec = fs::read_to_string(env.path(&format!("{name}.json"))).unwrap();
        let mut v1: serde_json::Value = serde_json::from_str(&spec).unwrap();
        let status = fs::read_to_string(runtime.join(format!("{name}.status"))).unwrap();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        let v1_obj = v1.as_object_mut().unwrap();
        for (k, v) in status.as_object().unwrap() {
            v1_obj.insert(k.clone(), v.clone());
        }
        v1_obj.remove("wanted");
        v1_obj.insert("stopping".into(), false.into());
        serde_json::to_string_pretty(&v1).unwrap()
    };
    fs::write(runtime.join("d05.json"), v1("d05")).unwrap();
    fs::write(runtime.join("d33.json"), v1("d33")).unwrap();
    fs::remove_file(env.path("d33.json")).unwrap();
    fs::remove_file(runtime.join("d33.status")).unwrap();
    let run = env.run_cmd(with_runtime(), &["list", "--json"]).ok();
    let all = reports_named_in_order(&run, &names);
    for report in &all {
        assert_eq!(report["state"], "running", "{report}");
    }
    env.run_cmd(with_runtime(), &["stop", "--all"]).ok();
}

/// Where the kernel cannot say whether a dead daemon's session lives (no file handles on
/// pidfs: kernels before 6.13, or a container's seccomp filter refusing `open_by_handle_at`),
/// every such session is plausible. `list` then looked again for each one's fork chain: a scan
/// of `/proc` per dead daemon on top of the one they share (review of the look for a fork
/// chain: 200 dead daemons, 401 scans). Under `strace`, which makes `open_by_handle_at` fail,
/// `list` of four dead daemons scans `/proc` once at most.
#[test]
fn list_of_dead_daemons_scans_proc_once_where_pidfs_cannot_tell() {
    let test = "list_of_dead_daemons_scans_proc_once_where_pidfs_cannot_tell";
    let Some(strace) = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        return skip_optional(test, "no strace");
    };
    let env = Env::new();
    let mark = unique_secs();
    let names: Vec<String> = (0..4).map(|i| format!("dd{i}")).collect();
    for name in &names {
        env.run(&[
            "start", "--name", name, "--cgroup", "off", "--", "sleep", &mark,
        ])
        .ok();
        let main = env.pid_of(name);
        kill(NixPid::from_raw(main), Signal::SIGKILL).unwrap();
        wait_dead(main);
    }
    let trace = env.path("trace");
    let cmd = env.wrapped(&[
        strace,
        "-f",
        "-qq",
        "-y",
        "-o",
        trace.to_str().unwrap(),
        "--seccomp-bpf",
        "-e",
        "trace=getdents64,open_by_handle_at",
        "-e",
        "inject=open_by_handle_at:error=EOPNOTSUPP",
    ]);
    let run = env.run_cmd(cmd, &["list"]);
    if run.code != 0 {
        return skip_optional(test, &format!("strace cannot run here\n{}", run.dump()));
    }
    for name in &names {
        assert_eq!(table_row(&env, name)[1], "dead");
    }
    let text = fs::read_to_string(&trace).unwrap();
    if !text.contains("open_by_handle_at(") {
        return skip_optional(test, "no pidfs identities here: nothing to refuse");
    }
    // Each scan of `/proc` ends with a read of the directory that returns nothing.
    let scans = text
        .lines()
        .filter(|l| l.contains("getdents64(") && l.contains("</proc>,") && l.ends_with("= 0"))
        .count();
    assert!(scans <= 1, "{scans} scans of /proc\n{}\n{text}", run.dump());
}
