//! `status --json` and `list --json` are an interface for scripts: the field names and types
//! below are the contract documented in `docs/json.md`. These tests parse the output in every
//! state, and check that the document lists exactly these fields.

use std::collections::BTreeSet;
use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;
use serde_json::Value;

use crate::common::*;

/// JSON types, for the table below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    Int,
    StrArray,
    Object,
}

/// Every field of a daemon's JSON object: name, type, and whether it may be null.
const FIELDS: &[(&str, Ty, bool)] = &[
    ("name", Ty::Str, false),
    ("state", Ty::Str, false),
    ("wanted", Ty::Str, true),
    ("pid", Ty::Int, true),
    ("child_pid", Ty::Int, true),
    ("pidfile", Ty::Str, false),
    ("command", Ty::StrArray, false),
    ("mode", Ty::Str, false),
    ("started_at", Ty::Str, true),
    ("uptime_secs", Ty::Int, true),
    ("rss_bytes", Ty::Int, true),
    ("monitor_rss_bytes", Ty::Int, true),
    ("restarts", Ty::Int, false),
    ("last_exit", Ty::Object, true),
    ("stdout", Ty::Str, true),
    ("stderr", Ty::Str, true),
    ("user", Ty::Str, true),
    ("group", Ty::Str, true),
    ("start_time", Ty::Int, true),
    ("boot_id", Ty::Str, true),
    ("status_text", Ty::Str, true),
    ("start_failed", Ty::Str, true),
    ("health_failing", Ty::Object, true),
    ("notify_state", Ty::Str, true),
    ("reloads", Ty::Int, false),
    ("main_pid", Ty::Int, true),
    ("tasks", Ty::Int, true),
    ("memory_bytes", Ty::Int, true),
    ("cgroup", Ty::Str, true),
];

/// Present only when `state` is `dead` or `unknown`.
const REASON: &str = "reason";

/// Present only when `state` is `dead` and processes of the daemon's session live on.
const LEFTOVERS: &str = "leftovers";

fn has_type(v: &Value, ty: Ty) -> bool {
    match ty {
        Ty::Str => v.is_string(),
        Ty::Int => v.is_u64(),
        Ty::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Ty::Object => v.is_object(),
    }
}

/// Checks one daemon object against the contract and returns it.
pub(crate) fn check_object(v: &Value) -> &serde_json::Map<String, Value> {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let mut expected: BTreeSet<&str> = FIELDS.iter().map(|f| f.0).collect();
    let state = obj["state"].as_str().unwrap();
    if matches!(state, "dead" | "unknown") {
        expected.insert(REASON);
        assert!(obj[REASON].is_string(), "{v}");
    }
    if state == "dead" && obj.contains_key(LEFTOVERS) {
        expected.insert(LEFTOVERS);
        assert!(obj[LEFTOVERS].as_u64().is_some_and(|n| n > 0), "{v}");
    }
    assert_eq!(keys, expected, "field set of {v}");
    for &(name, ty, nullable) in FIELDS {
        let value = &obj[name];
        assert!(
            has_type(value, ty) || (nullable && value.is_null()),
            "{name} should be {ty:?}{}: {value}",
            if nullable { " or null" } else { "" }
        );
    }
    assert!(
        [
            "running",
            "restarting",
            "stopped",
            "dead",
            "failed",
            "unknown"
        ]
        .contains(&state),
        "{state}"
    );
    assert!(["exec", "respawn"].contains(&obj["mode"].as_str().unwrap()));
    assert!(
        obj["wanted"].is_null()
            || ["running", "stopped"].contains(&obj["wanted"].as_str().unwrap()),
        "wanted: {v}"
    );
    obj
}

fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn status_json_in_every_state() {
    let env = Env::new();
    // Running.
    let pid = env.start("web", &["sleep", "1000"]);
    let run = env.run(&["status", "web", "--json"]).ok();
    let v = parse(&run.stdout);
    let obj = check_object(&v);
    assert_eq!(obj["state"], "running");
    assert_eq!(obj["wanted"], "running");
    assert_eq!(obj["pid"], pid);
    assert!(obj["rss_bytes"].as_u64().unwrap() > 0);
    assert!(obj["uptime_secs"].is_u64());
    let started_at = obj["started_at"].as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(started_at).is_ok(),
        "started_at is not RFC 3339: {started_at}"
    );

    // Dead: killed behind rdaemon's back, pidfile left.
    kill(NixPid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_dead(pid);
    let run = env.run(&["status", "web", "--json"]).code(1);
    let v = parse(&run.stdout);
    let obj = check_object(&v);
    assert_eq!(obj["state"], "dead");
    assert_eq!(obj["wanted"], "running", "dead: wanted running, but gone");
    assert_eq!(obj["pid"], Value::Null);
    assert_eq!(obj["rss_bytes"], Value::Null);

    // Stopped.
    env.run(&["stop", "web"]).ok();
    let run = env.run(&["status", "web", "--json"]).code(3);
    let obj = check_object(&parse(&run.stdout)).clone();
    assert_eq!(obj["state"], "stopped");
    assert_eq!(obj["wanted"], "stopped");
    assert_eq!(obj["uptime_secs"], Value::Null);
    assert_eq!(obj["command"], serde_json::json!(["sleep", "1000"]));

    // Unknown: a pidfile that is not a pid.
    fs::write(env.path("web.pid"), "garbage\n").unwrap();
    let run = env.run(&["status", "web", "--json"]).code(4);
    let v = parse(&run.stdout);
    let obj = check_object(&v);
    assert_eq!(obj["state"], "unknown");
    assert_eq!(obj["wanted"], "stopped", "the spec still says it");
    assert!(obj[REASON].as_str().unwrap().contains("invalid pidfile"));

    // Never started: no daemon, so no object (none says "stopped" of a name rdaemon never
    // knew): `[]`, as for several names that all name none, and the name said on stderr.
    for args in [&["nothing"][..], &["nothing", "other"]] {
        let mut args = args.to_vec();
        args.insert(0, "status");
        args.push("--json");
        let run = env.run(&args).code(3);
        assert_eq!(parse(&run.stdout), serde_json::json!([]), "{}", run.dump());
        assert!(
            run.stderr.contains("no daemon named 'nothing'"),
            "{}",
            run.dump()
        );
    }
    // Without --json: nothing on stdout, the same line on stderr, the same code (SPEC §1, §5).
    let run = env.run(&["status", "nothing"]).code(3).one_error_line();
    assert_eq!(run.stdout, "", "{}", run.dump());
    assert!(run.stderr.starts_with("rdaemon: no daemon named 'nothing'"));
}

/// A `--respawn` daemon whose program exited and whose monitor waits out the restart delay:
/// the monitor runs, the program does not, so its process count and memory are `null`, as
/// docs/json.md says of a daemon nothing of which runs (they are the program's, not the
/// monitor's), and the human status has no `tasks:` line.
#[test]
fn a_restarting_daemon_has_no_tasks_nor_memory() {
    let env = Env::new();
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
    let status = || {
        let run = env.run(&["status", "flaky", "--json"]);
        parse(&run.stdout)
    };
    wait_until("flaky is restarting", DEADLINE, || {
        let v = status();
        v["state"] == "restarting" && v["last_exit"]["code"] == 3
    });
    let v = status();
    let obj = check_object(&v);
    assert_eq!(obj["pid"], monitor, "{v}");
    assert_eq!(obj["tasks"], Value::Null, "{v}");
    assert_eq!(obj["memory_bytes"], Value::Null, "{v}");
    assert!(
        obj["monitor_rss_bytes"].as_u64().is_some_and(|r| r > 0),
        "{v}"
    );
    let run = env.run(&["status", "flaky"]).code(3);
    assert!(run.stdout.contains("flaky is restarting"), "{}", run.dump());
    assert!(!run.stdout.contains("tasks:"), "{}", run.dump());
    env.run(&["stop", "flaky"]).ok();
    wait_dead(monitor);
}

#[test]
fn list_json_is_an_array_of_the_same_objects() {
    let env = Env::new();
    let run = env.run(&["list", "--json"]).ok();
    assert_eq!(parse(&run.stdout), serde_json::json!([]), "empty is []");
    let run = env.run(&["status", "--json"]).code(3);
    assert_eq!(parse(&run.stdout), serde_json::json!([]));

    env.start("a", &["sleep", "1000"]);
    env.start("b", &["sleep", "1000"]);
    env.run(&["stop", "b"]).ok();
    fs::write(env.path("c.json"), "{ not json").unwrap();
    let run = env.run(&["list", "--json"]).ok();
    let v = parse(&run.stdout);
    let items = v.as_array().unwrap();
    let states: Vec<(&str, &str, &Value)> = items
        .iter()
        .map(|i| {
            let obj = check_object(i);
            (
                obj["name"].as_str().unwrap(),
                obj["state"].as_str().unwrap(),
                &obj["wanted"],
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("a", "running", &Value::from("running")),
            ("b", "stopped", &Value::from("stopped")),
            ("c", "unknown", &Value::Null),
        ]
    );
    // Bare status with several daemons prints the same array.
    let run = env.run(&["status", "--json"]).code(3);
    assert_eq!(parse(&run.stdout), v);
}

#[test]
fn record_uses_the_same_names() {
    let env = Env::new();
    env.start("web", &["sleep", "1000"]);
    let record = env.record("web");
    for field in [
        "name",
        "pidfile",
        "pid",
        "child_pid",
        "command",
        "mode",
        "started_at",
        "restarts",
        "last_exit",
        "stdout",
        "stderr",
        "user",
        "group",
        "start_time",
        "boot_id",
    ] {
        assert!(
            record.get(field).is_some(),
            "the record lacks {field}: {record}"
        );
    }
}

#[test]
fn docs_json_md_documents_exactly_these_fields() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md");
    let text = fs::read_to_string(&path).unwrap();
    // The field table of the status object: rows starting with "| `field` |".
    let section = text
        .split("## Fields")
        .nth(1)
        .expect("docs/json.md has a '## Fields' section");
    let section = section.split("\n## ").next().unwrap();
    let documented: BTreeSet<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name))
        .collect();
    let mut expected: BTreeSet<&str> = FIELDS.iter().map(|f| f.0).collect();
    expected.insert(REASON);
    expected.insert(LEFTOVERS);
    assert_eq!(documented, expected, "docs/json.md's field table");
}
