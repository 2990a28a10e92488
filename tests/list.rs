//! `rdaemon list`: the table and the JSON array.

use crate::common::*;

#[test]
fn table_lists_every_daemon_with_its_state() {
    let env = Env::new();
    env.run(&["list"]).ok().stdout_has("no daemons");
    let a = env.start("alpha", &["sleep", "1000"]);
    env.start("beta", &["sleep", "1001"]);
    env.run(&["stop", "beta"]).ok();
    let run = env.run(&["list"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.dump());
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "COMMAND"]
    );
    assert!(lines[1].starts_with("alpha") && lines[1].contains("running"));
    assert!(lines[1].contains(&a.to_string()) && lines[1].ends_with("sleep 1000"));
    assert!(lines[2].starts_with("beta") && lines[2].contains("stopped"));
}

#[test]
fn json_is_an_array_even_when_empty() {
    let env = Env::new();
    let run = env.run(&["list", "--json"]).ok();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap(),
        serde_json::json!([])
    );
    env.start("alpha", &["sleep", "1000"]);
    let run = env.run(&["list", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "alpha");
    assert_eq!(v[0]["state"], "running");
}

#[test]
fn a_command_of_several_lines_stays_on_its_row() {
    let env = Env::new();
    env.start("ml", &["sh", "-c", "sleep 1000\n# a second line"]);
    let run = env.run(&["list"]).ok();
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.dump());
    assert!(
        run.stdout.contains(r"sh -c 'sleep 1000\n# a second line'"),
        "{}",
        run.dump()
    );
}
