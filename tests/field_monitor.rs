//! What real programs found in the monitor, `status` and `logs -f` (issue 12 items 3, 6, 8, 9
//! and 14, issue 11 finding 11): one test per finding, each failing on the code before its fix.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;
use serde_json::Value;

use crate::common::*;

/// `PATH` and its rotated files `PATH.1` … that exist, as (path, size). Taken while the monitor
/// rotates, the listing can miss files (a slot is empty for a moment) but never counts one twice.
fn log_files(log: &Path) -> Vec<(PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    loop {
        let path = if n == 0 {
            log.to_owned()
        } else {
            PathBuf::from(format!("{}.{n}", log.display()))
        };
        match fs::metadata(&path) {
            Ok(m) if seen.insert((m.dev(), m.ino())) => files.push((path, m.len())),
            Ok(_) => {}
            Err(_) if n == 0 => {}
            Err(_) => return files,
        }
        n += 1;
    }
}

/// Item 3: the monitor forwards SIGCONT after the stop signal, so a stopped child acts on
/// `stop` at once (instead of being SIGKILLed at the timeout), and its end is recorded.
#[test]
fn respawn_stop_wakes_a_stopped_child_and_records_its_exit() {
    let env = Env::new();
    let secs = unique_secs();
    let (monitor, child) = start_respawn(&env, "frozen", &[], &["sleep", &secs]);
    kill(NixPid::from_raw(child), Signal::SIGSTOP).unwrap();
    wait_until("the child is stopped", DEADLINE, || {
        stat(child).is_some_and(|s| s.state == 'T')
    });

    let run = env.run(&["stop", "frozen", "--timeout", "20s"]).ok();
    // Before the fix: the whole 20 s, then SIGKILL. Now stop needs no SIGKILL, and the child's
    // recorded end (below) is the forwarded TERM.
    assert!(!run.stdout.contains("SIGKILL"), "{}", run.dump());
    assert!(!alive(child), "the child survived\n{}", run.dump());
    assert!(!alive(monitor), "the monitor survived\n{}", run.dump());
    assert!(env.track_marked(&secs).is_empty());
    // The monitor saw its child end by the forwarded TERM, and said so.
    let last = &env.record("frozen")["last_exit"];
    assert_eq!(last["signal"], 15, "{}", env.record("frozen"));
    let (code, v) = status_json(&env, "frozen");
    assert_eq!((code, v["state"].as_str()), (3, Some("stopped")), "{v}");
}

/// Item 6: `--log-max-size` is a bound even for output without newlines; nothing is lost, and
/// an open line is not held back for long.
#[test]
fn log_max_size_bounds_output_without_newlines() {
    let env = Env::new();
    let total: u64 = 1 << 20;
    let script = env.script(
        "bar.sh",
        &format!("head -c {total} /dev/zero | tr '\\0' '#'\nexec sleep 1000"),
    );
    start_respawn(
        &env,
        "bar",
        &["--log-max-size", "4K", "--log-keep", "300"],
        &[script.to_str().unwrap()],
    );
    let log = env.path("bar.log");
    wait_until("the monitor wrote all the output", DEADLINE, || {
        log_files(&log).iter().map(|(_, n)| n).sum::<u64>() == total
    });
    let files = log_files(&log);
    assert_eq!(
        files.iter().map(|(_, n)| n).sum::<u64>(),
        total,
        "{files:?}"
    );
    for (path, size) in &files {
        assert!(*size <= 4096, "{} has {size} bytes", path.display());
    }
    assert!(files.len() >= 256, "{} files", files.len());

    // The other side of the bound: the end of a line still open is held back so that a cut
    // can fall before its line, but not for long: a prompt without a newline reaches the log.
    let script = env.script("prompt.sh", "printf 'password: '\nexec sleep 1000");
    start_respawn(
        &env,
        "prompt",
        &["--log-max-size", "1M"],
        &[script.to_str().unwrap()],
    );
    let log = env.path("prompt.log");
    wait_until("the prompt is in the log", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|t| t == "password: ")
    });
}

/// Item 8: `status` while `stop` runs never says "dead" (exit 1): a daemon rdaemon is stopping
/// is stopped, not crashed. Exec mode and respawn mode, many times, with two pollers.
#[test]
fn status_during_a_clean_stop_is_never_dead() {
    let env = Env::new();
    let rounds = 25;
    for (mode, extra) in [("exec", None), ("respawn", Some("--respawn"))] {
        let mut seen: Vec<(i32, String)> = Vec::new();
        for round in 0..rounds {
            let mut args = vec!["start", "--name", "svc"];
            args.extend(extra);
            let secs = unique_secs();
            args.extend(["--", "sleep", &secs]);
            env.run(&args).ok();
            let done = AtomicBool::new(false);
            let results = std::thread::scope(|s| {
                let poll = || {
                    let mut out = Vec::new();
                    while !done.load(Ordering::Relaxed) {
                        let run = env.run(&["status", "svc"]);
                        out.push((run.code, run.stdout));
                    }
                    out
                };
                let pollers = [s.spawn(poll), s.spawn(poll)];
                // Set when this closure ends, also by a failing stop's panic: the scope joins
                // the pollers before it unwinds, and they must not poll forever.
                let stop_polling = SetOnDrop(&done);
                env.run(&["stop", "svc"]).ok();
                drop(stop_polling);
                pollers.map(|p| p.join().unwrap())
            });
            for r in results.into_iter().flatten() {
                assert_ne!(
                    r.0, 1,
                    "{mode} round {round}: status said dead during stop: {}",
                    r.1
                );
                seen.push(r);
            }
            env.run(&["status", "svc"]).code(3);
            assert!(env.track_marked(&secs).is_empty());
        }
        assert!(
            seen.len() >= rounds,
            "{mode}: too few looks: {}",
            seen.len()
        );
    }
}

/// Item 9 (and the smaller finding): `logs -f` under fast rotation prints every line once, in
/// order, reading each rotated file it had not read; and it says nothing about rotation.
#[test]
fn logs_follow_reads_every_rotated_file_in_order_quietly() {
    let env = Env::new();
    let n = 5000; // 8-byte lines: about 40 files of 1K, fewer than the 50 kept.
    let go = env.path("go");
    let script = env.script(
        "count.sh",
        &format!(
            r#"echo begin
while [ ! -e "$1" ]; do sleep 0.01; done
awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf "%07d\n", i }}'
exec sleep 1000"#
        ),
    );
    start_respawn(
        &env,
        "count",
        &["--log-max-size", "1K", "--log-keep", "50"],
        &[script.to_str().unwrap(), go.to_str().unwrap()],
    );
    let (out_path, err_path) = (env.path("follow.out"), env.path("follow.err"));
    let mut cmd = env.std_cmd();
    cmd.args(["logs", "count", "-f"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let follower = Background::spawn(&mut cmd);
    let out = || fs::read_to_string(&out_path).unwrap();
    wait_until("logs -f prints the first line", DEADLINE, || {
        out() == "begin\n"
    });
    fs::write(&go, "").unwrap();
    let last = format!("{n:07}\n");
    wait_until("logs -f prints the last line", DEADLINE, || {
        out().ends_with(&last)
    });
    let text = out();
    let numbers: Vec<&str> = text.lines().skip(1).collect();
    let expected: Vec<String> = (1..=n).map(|i| format!("{i:07}")).collect();
    if numbers != expected {
        let missing = expected
            .iter()
            .filter(|e| !numbers.contains(&e.as_str()))
            .count();
        panic!(
            "{} lines printed, {missing} of {n} missing, or out of order; rotated files: {}",
            numbers.len(),
            log_files(&env.path("count.log")).len()
        );
    }
    assert!(alive(follower.pid()), "logs -f stopped by itself");
    drop(follower);
    let err = fs::read_to_string(&err_path).unwrap();
    assert_eq!(err, "", "logs -f is not quiet about rotation");
}

/// `rdaemon logs NAME -f -n 0` in the background, its stdout and stderr into files of the test's
/// directory, once it waits for lines (in its poll).
fn follow_new_lines(env: &Env, name: &str) -> (Background, PathBuf, PathBuf) {
    let (out_path, err_path) = (env.path("follow.out"), env.path("follow.err"));
    let mut cmd = env.std_cmd();
    cmd.args(["logs", name, "-f", "-n", "0"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let follower = Background::spawn(&mut cmd);
    wait_until("logs -f waits for lines", DEADLINE, || {
        in_poll(follower.pid())
    });
    (follower, out_path, err_path)
}

/// helper-110's audit: a burst of output rotated the log more times than `--log-keep` keeps
/// between two looks of `logs -f`, and the follower went on at the name, skipping the rotated
/// files still there. The follower is stopped (SIGSTOP) across the burst, so that it sees it
/// all at once: it prints the file it had open, then every file still on disk, oldest first;
/// only the files that fell off in between are lost.
#[test]
fn logs_follow_goes_on_with_the_oldest_file_left_when_a_burst_rotated_past_its_file() {
    let env = Env::new();
    let go = env.path("go");
    // 40 lines of 24 bytes: five or so files of 200 bytes, of which the log keeps four.
    let script = env.script(
        "burst.sh",
        r#"while [ ! -e "$1" ]; do sleep 0.01; done
i=1; while [ $i -le 40 ]; do printf 'line %02d of the burst ...\n' $i; i=$((i+1)); done
exec sleep 1000"#,
    );
    start_respawn(
        &env,
        "burst",
        &["--log-max-size", "200", "--log-keep", "3"],
        &[script.to_str().unwrap(), go.to_str().unwrap()],
    );
    let (follower, out_path, err_path) = follow_new_lines(&env, "burst");
    let pid = nix::unistd::Pid::from_raw(follower.pid());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    fs::write(&go, "").unwrap();
    let log = env.path("burst.log");
    wait_until("the burst is written", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("line 40 "))
    });
    // Oldest first: what rotation left on disk.
    let mut on_disk = String::new();
    for k in (1..=3).rev() {
        on_disk += &fs::read_to_string(format!("{}.{k}", log.display())).unwrap_or_default();
    }
    on_disk += &fs::read_to_string(&log).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let out = || fs::read_to_string(&out_path).unwrap();
    wait_until("logs -f prints the last line", DEADLINE, || {
        out().contains("line 40 ")
    });
    let text = out();
    assert!(
        text.ends_with(&on_disk) && text.starts_with("line 01 "),
        "printed:\n{text}\non disk:\n{on_disk}"
    );
    let numbers: Vec<u32> = text.lines().map(|l| l[5..7].parse().unwrap()).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "out of order:\n{text}"
    );
    assert!(alive(follower.pid()), "logs -f stopped by itself");
    drop(follower);
    assert_eq!(fs::read_to_string(&err_path).unwrap(), "");
}

/// helper-116: with `--log-keep 0` the monitor removed the log, then made the new one; woken by
/// the removal, `logs -f` looked between the two and said on stderr, without `-v`, that the log
/// had become inaccessible, then that it appeared, at a third of the rotations. The new file is
/// renamed over the old one now: the name is never missing, and `logs -f` is quiet.
#[test]
fn logs_follow_is_quiet_across_keep_zero_rotations() {
    let env = Env::new();
    let go = env.path("go");
    // Forty files' worth, a line at a time, each a rotation for the follower to see.
    let script = env.script(
        "lines.sh",
        r#"while [ ! -e "$1" ]; do sleep 0.01; done
i=1; while [ $i -le 40 ]; do printf 'line %02d, a file of its own ......\n' $i; i=$((i+1)); sleep 0.01; done
exec sleep 1000"#,
    );
    start_respawn(
        &env,
        "k0",
        &["--log-max-size", "40", "--log-keep", "0"],
        &[script.to_str().unwrap(), go.to_str().unwrap()],
    );
    let (follower, out_path, err_path) = follow_new_lines(&env, "k0");
    fs::write(&go, "").unwrap();
    wait_until("logs -f prints the last line", DEADLINE, || {
        fs::read_to_string(&out_path).is_ok_and(|t| t.contains("line 40,"))
    });
    drop(follower);
    assert_eq!(fs::read_to_string(&err_path).unwrap(), "");
    let names: Vec<String> = fs::read_dir(env.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".new"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// Item 14: during the restart delay a respawn daemon is `restarting` (exit 3), not running.
#[test]
fn respawn_status_is_restarting_during_the_delay() {
    let env = Env::new();
    // The child may be gone before `start` returns: no child pid to read.
    env.run(&[
        "start",
        "--respawn",
        "--name",
        "flaky",
        "--restart-delay",
        "30s",
        "--",
        "sh",
        "-c",
        "exit 3",
    ])
    .ok();
    let monitor = env.pid_of("flaky");
    // From the moment the program is gone (and once the monitor recorded how it ended).
    wait_until("status says restarting, after exit 3", DEADLINE, || {
        let (code, v) = status_json(&env, "flaky");
        assert!(code == 0 || code == 3, "{v}");
        code == 3 && v["state"] == "restarting" && v["last_exit"]["code"] == 3
    });
    let (_, v) = status_json(&env, "flaky");
    assert_eq!(v["pid"], monitor, "{v}");
    assert_eq!(v["child_pid"], Value::Null, "{v}");
    assert_eq!(v["rss_bytes"], Value::Null, "no program runs: {v}");
    assert_eq!(v["wanted"], "running", "{v}");
    env.run(&["status", "flaky"])
        .code(3)
        .stdout_has("flaky is restarting");
    let list = env.run(&["list"]).ok();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("flaky ") && l.contains(" restarting ")),
        "{}",
        list.dump()
    );
    env.run(&["stop", "flaky"]).ok();
    assert!(!alive(monitor));
}

/// Item 14: a respawn daemon's `rss_bytes` is its program's, the monitor's is apart.
#[test]
fn respawn_status_reports_the_programs_memory() {
    let env = Env::new();
    // The shell keeps 50 MB in a variable, then waits.
    let script = env.script(
        "big.sh",
        "x=$(head -c 50000000 /dev/zero | tr '\\0' x)\n: > \"$1\"\nwhile :; do sleep 1000; done",
    );
    let ready = env.path("big.ready");
    let (_, child) = start_respawn(
        &env,
        "big",
        &[],
        &[script.to_str().unwrap(), ready.to_str().unwrap()],
    );
    env.wait_file("big.ready");
    let (code, v) = status_json(&env, "big");
    assert_eq!((code, v["state"].as_str()), (0, Some("running")), "{v}");
    assert_eq!(v["child_pid"], child, "{v}");
    let rss = v["rss_bytes"].as_u64().unwrap();
    let monitor_rss = v["monitor_rss_bytes"].as_u64().unwrap();
    assert!(rss >= 40 << 20, "rss_bytes {rss} is not the program's\n{v}");
    assert!(
        monitor_rss < 20 << 20,
        "monitor_rss_bytes {monitor_rss}\n{v}"
    );
    let human = env.run(&["status", "big"]).ok();
    let shown: Option<f64> = human.stdout.lines().find_map(|l| {
        let mib = l.trim().strip_prefix("rss:")?.trim().strip_suffix(" MiB")?;
        mib.parse().ok()
    });
    assert!(
        shown.is_some_and(|mib| mib >= 40.0),
        "the program's memory is not shown\n{}",
        human.dump()
    );
}

/// Issue 11 finding 11: `--log-keep` is bounded (a huge value hung the monitor, which renamed
/// every slot), and a large allowed value with few files rotates as fast as a small one.
#[test]
fn log_keep_is_bounded_and_rotation_renames_only_existing_files() {
    let env = Env::new();
    let run = env
        .run(&[
            "start",
            "--respawn",
            "--log-max-size",
            "1K",
            "--log-keep",
            "4000000000",
            "--",
            "sleep",
            "1000",
        ])
        .code(2);
    assert!(run.stderr.contains("1000"), "{}", run.dump());
    assert_eq!(listing(env.dir()), Vec::<String>::new(), "{}", run.dump());

    let n = 40; // 25-byte lines, 100-byte files: 10 files.
    let script = env.script(
        "few.sh",
        &format!(
            "awk 'BEGIN {{ for (i = 1; i <= {n}; i++) printf \"%024d\\n\", i }}'\nexec sleep 1000"
        ),
    );
    start_respawn(
        &env,
        "few",
        &["--log-max-size", "100", "--log-keep", "1000"],
        &[script.to_str().unwrap()],
    );
    let log = env.path("few.log");
    let last = format!("{n:024}\n");
    wait_until("the monitor wrote the last line", DEADLINE, || {
        fs::read_to_string(&log).is_ok_and(|t| t.ends_with(&last))
    });
    let files = log_files(&log);
    assert_eq!(files.len(), 10, "{files:?}");
    let text: String = files
        .iter()
        .rev()
        .map(|(p, _)| fs::read_to_string(p).unwrap())
        .collect();
    let expected: String = (1..=n).map(|i| format!("{i:024}\n")).collect();
    assert_eq!(text, expected);
    // No empty slot was created on the way: the rotated files are exactly 1..=9.
    let rotated = listing(env.dir())
        .into_iter()
        .filter(|f| f.starts_with("few.log."))
        .count();
    assert_eq!(rotated, 9);
}
