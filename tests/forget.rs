//! `rdaemon forget`: removes a stopped daemon's record, refuses while it runs.

use crate::common::*;

#[test]
fn forget_refuses_a_running_daemon_and_removes_a_stopped_one() {
    let env = Env::new();
    let pid = env.start("web", &["sleep", "1000"]);
    env.run(&["forget", "web"])
        .code(1)
        .one_error_line()
        .stderr_has("running");
    assert!(alive(pid) && env.path("web.json").exists());
    env.run(&["stop", "web"]).ok();
    env.run(&["forget", "web"]).ok().stdout_has("forgot web");
    assert!(!env.path("web.json").exists());
    assert!(!env.path("web.lock").exists());
    assert!(env.path("web.log").exists(), "logs are the user's");
    env.run(&["status", "web"]).code(3);
}

#[test]
fn forget_of_an_unknown_daemon_fails() {
    let env = Env::new();
    env.run(&["forget", "nobody-here"])
        .code(1)
        .one_error_line()
        .stderr_has("rdaemon: no daemon named 'nobody-here'");
}
