//! The daemon created straight in its cgroup (issue 18, round 2): `start` forks the process that
//! will exec the program with `clone3(CLONE_INTO_CGROUP)`, so it is in the daemon's cgroup from
//! its first instruction and never moved there (a move waits for an RCU grace period in the
//! kernel). Where the kernel refuses that clone, the old fork and write to `cgroup.procs` do the
//! same. Cgroup paths are global: each test's daemon has a name of its own, and a guard removes
//! its cgroup even when the test fails.

use std::fs;
use std::path::PathBuf;

use crate::common::*;

/// Kills whatever is left in the cgroup and removes it, on Drop (a failed test included).
pub(crate) struct CgroupGuard(pub(crate) PathBuf);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = fs::write(self.0.join("cgroup.kill"), "1");
            remove_cgroup_dir(&self.0);
        }
    }
}

#[test]
fn a_cgroup_on_daemon_runs_in_its_cgroup_from_its_first_instruction() {
    let test = "a_cgroup_on_daemon_runs_in_its_cgroup_from_its_first_instruction";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "clone");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    let _guard = CgroupGuard(cgroup.clone());
    let seen = env.path("seen");
    let body = format!(
        "cat /proc/self/cgroup > '{}.tmp'; mv '{0}.tmp' '{0}'; exec sleep 1000",
        seen.display()
    );
    env.run(&[
        "start", "--name", &name, "--cgroup", "on", "--", "sh", "-c", &body,
    ])
    .ok()
    .stdout_has(&format!("started {name} (pid "));
    let pid = env.pid_of(&name);
    let seen = env.wait_file("seen");
    let text = fs::read_to_string(&seen).unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("0::/rdaemon/{}", env.cgroup_leaf(&name))),
        "the program's first command ran in {text}"
    );
    let procs = fs::read_to_string(cgroup.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "{pid} is not in {}: {procs}",
        cgroup.display()
    );
    assert_eq!(env.record(&name)["cgroup"], cgroup.to_str().unwrap());
    env.run(&["stop", &name, "--timeout", "2s"]).ok();
    assert!(!alive(pid));
    assert!(!cgroup.exists(), "{} is still there", cgroup.display());
}

/// A start killed while the daemon-to-be waits for its "go" (nothing written yet, nothing
/// moved): that process was born in the cgroup and ran there until it gave up, which shows in
/// the cgroup's CPU time. Before clone3 it waited outside, and the cgroup never ran anything.
#[test]
fn the_daemon_is_born_in_its_cgroup_before_anything_is_written() {
    let test = "the_daemon_is_born_in_its_cgroup_before_anything_is_written";
    let Some(mount) = cgroups_here(test) else {
        return;
    };
    let env = Env::new();
    let name = unique_name(&env, "born");
    let cgroup = mount.join("rdaemon").join(env.cgroup_leaf(&name));
    let _guard = CgroupGuard(cgroup.clone());
    let ran = env.path("ran");
    let body = format!("echo $$ > '{}'; exec sleep 1000", ran.display());
    let mut cmd = env.cmd();
    cmd.env("RDAEMON_FAULT", "before-pidfile");
    let run = env.run_cmd(
        cmd,
        &[
            "start", "--name", &name, "--cgroup", "on", "--", "sh", "-c", &body,
        ],
    );
    assert_eq!(run.code, -1, "rdaemon was not killed\n{}", run.dump());
    assert!(cgroup.is_dir(), "{} was not made", cgroup.display());
    // The process that waited for "go" sees the end of the pipe and exits, from the cgroup.
    wait_until("the cgroup to be empty", DEADLINE, || {
        fs::read_to_string(cgroup.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
    });
    assert!(!ran.exists(), "the program ran without its go");
    let usage: u64 = fs::read_to_string(cgroup.join("cpu.stat"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(usage > 0, "nothing ever ran in {}", cgroup.display());
}
