//! `rdaemon up` / `rdaemon down` (SPEC §7): daemons declared in a file, started in `after`
//! order (independent ones at once), idempotent, stopped dependents first. The fixture stamps
//! CLOCK_MONOTONIC when it starts, when it is ready and when it gets SIGTERM, so order and
//! overlap are read from the daemons' own clocks.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::*;

/// `stamp.py NAME DELAY`: writes `NAME.start`, then after DELAY seconds `NAME.ready` (the
/// file `--ready file:` waits for), each holding time.monotonic(); on SIGTERM, `NAME.term`.
const STAMP: &str = r#"import os, signal, sys, time
name, delay = sys.argv[1], float(sys.argv[2])
def stamp(what):
    tmp = f"{name}.{what}.tmp"
    with open(tmp, "w") as f:
        f.write(repr(time.monotonic()))
    os.rename(tmp, f"{name}.{what}")
def term(*_):
    stamp("term")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
stamp("start")
time.sleep(delay)
stamp("ready")
while True:
    signal.pause()
"#;

/// An entry running the fixture from the file's directory (the test's).
fn entry(name: &str, delay: &str, extra: &str) -> String {
    format!(
        "[daemons.{name}]\ncommand = [\"python3\", \"stamp.py\", \"{name}\", \"{delay}\"]\nready = \"file:{name}.ready\"\nready-timeout = \"10s\"\n{extra}\n"
    )
}

/// The test's world with the fixture and an rdaemon.toml of `entries`.
fn world(entries: &str) -> Env {
    let env = Env::new();
    fs::write(env.path("stamp.py"), STAMP).unwrap();
    fs::write(env.path("rdaemon.toml"), entries).unwrap();
    env
}

/// The time in `NAME.WHAT`.
fn stamp(env: &Env, name: &str, what: &str) -> f64 {
    let path = env.path(&format!("{name}.{what}"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no {}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

/// db and cache independent (0.5 s to be ready: room for a slow python start on a busy
/// machine), web after db.
fn three() -> String {
    [
        entry("db", "0.5", ""),
        entry("cache", "0.5", ""),
        entry("web", "0.05", "after = [\"db\"]"),
    ]
    .concat()
}

#[test]
fn up_starts_in_after_order_and_independent_ones_at_once() {
    let env = world(&three());
    let run = env.run(&["up"]).ok();
    for name in ["db", "cache", "web"] {
        assert!(
            run.stdout.contains(&format!("{name} is ready"))
                || run.stdout.contains(&format!("started {name}")),
            "{}",
            run.dump()
        );
        assert!(alive(env.pid_of(name)));
        let rec = env.record(name);
        assert_eq!(
            rec["source"],
            env.path("rdaemon.toml").display().to_string()
        );
        assert_eq!(rec["wanted"], "running");
        // The default working directory is the file's.
        assert_eq!(cwd(env.pid_of(name)), env.dir().canonicalize().unwrap());
    }
    assert_eq!(env.record("web")["after"], serde_json::json!(["db"]));
    // web started only once db was ready.
    assert!(stamp(&env, "web", "start") >= stamp(&env, "db", "ready"));
    // db and cache ran at once: each started before the other was ready.
    assert!(stamp(&env, "db", "start") < stamp(&env, "cache", "ready"));
    assert!(stamp(&env, "cache", "start") < stamp(&env, "db", "ready"));
    // The line of web comes after db's.
    let db_line = run.stdout.find("db").unwrap();
    let web_line = run.stdout.find("web").unwrap();
    assert!(db_line < web_line, "{}", run.dump());
}

#[test]
fn up_twice_leaves_them_alone_and_an_edit_restarts_only_that_one() {
    let env = world(&three());
    env.run(&["up"]).ok();
    let pids: Vec<i32> = ["db", "cache", "web"].map(|n| env.pid_of(n)).to_vec();
    let again = env.run(&["up"]).ok();
    for name in ["db", "cache", "web"] {
        assert!(
            again.stdout.contains(&format!("{name} is up to date")),
            "{}",
            again.dump()
        );
    }
    assert_eq!(pids, ["db", "cache", "web"].map(|n| env.pid_of(n)).to_vec());
    // An edited entry (a new environment variable): only it is restarted.
    let edited = three().replace(
        "[daemons.cache]\n",
        "[daemons.cache]\nenv = { LEVEL = \"debug\" }\n",
    );
    fs::write(env.path("rdaemon.toml"), edited).unwrap();
    // With -v it says what changed (user trial, 2026-12-04: a restart without a reason).
    let run = env
        .run(&["up", "-v"])
        .ok()
        .stderr_has("cache: its entry changed (env): restarting it");
    assert!(run.stdout.contains("db is up to date"), "{}", run.dump());
    assert!(run.stdout.contains("web is up to date"), "{}", run.dump());
    let cache = env.pid_of("cache");
    // It says it was restarted: stopped, then started.
    let stopped = format!("stopped cache (pid {})", pids[1]);
    let started = format!("started cache (pid {cache})");
    let at = |line: &str| run.stdout.lines().position(|l| l == line);
    assert!(
        at(&stopped).is_some() && at(&stopped) < at(&started),
        "{}",
        run.dump()
    );
    assert_ne!(cache, pids[1]);
    wait_dead(pids[1]);
    wait_environ_has(cache, "LEVEL=debug");
    assert_eq!((env.pid_of("db"), env.pid_of("web")), (pids[0], pids[2]));
    // A stopped one is started again; the others are left alone.
    env.run(&["stop", "web"]).ok();
    wait_dead(pids[2]);
    env.run(&["up"]).ok().stdout_has("db is up to date");
    assert!(alive(env.pid_of("web")));
    assert_ne!(env.pid_of("web"), pids[2]);
}

/// An entry whose `after` alone changed runs as before: it is not restarted (`after` says when
/// to start it, not how it runs; review, 2026-12-02), and its spec takes the new order, which
/// `resurrect` follows.
#[test]
fn an_entry_whose_order_alone_changed_is_up_to_date() {
    let env = world(&three());
    env.run(&["up"]).ok();
    let web = env.pid_of("web");
    let reordered = three().replace("after = [\"db\"]", "after = [\"cache\"]");
    assert_ne!(reordered, three());
    // With another entry that cannot start, `up` refuses before anything changes: the spec
    // keeps its order too (review, 2026-12-02: it was rewritten before the checks).
    let broken = format!("{reordered}[daemons.bad]\ncommand = [\"/nonexistent/prog\"]\n");
    fs::write(env.path("rdaemon.toml"), broken).unwrap();
    env.run(&["up"]).code(1).stderr_has("/nonexistent/prog");
    assert_eq!(env.record("web")["after"], serde_json::json!(["db"]));
    fs::write(env.path("rdaemon.toml"), reordered).unwrap();
    let run = env.run(&["up"]).ok().stdout_has("web is up to date");
    assert!(!run.stdout.contains("stopped web"), "{}", run.dump());
    assert_eq!(env.pid_of("web"), web);
    assert_eq!(env.record("web")["after"], serde_json::json!(["cache"]));
    // Anything else edited alongside the order still restarts it.
    let edited = three().replace(
        "after = [\"db\"]",
        "after = [\"db\"]\nenv = { LEVEL = \"debug\" }",
    );
    fs::write(env.path("rdaemon.toml"), edited).unwrap();
    env.run(&["up"])
        .ok()
        .stdout_has(&format!("stopped web (pid {web})"));
    assert_eq!(env.record("web")["after"], serde_json::json!(["db"]));
    wait_dead(web);
}

#[test]
fn down_stops_dependents_first_and_keeps_the_specs() {
    let env = world(&three());
    env.run(&["up"]).ok();
    let pids: Vec<i32> = ["db", "cache", "web"].map(|n| env.pid_of(n)).to_vec();
    env.run(&["down"]).ok();
    for pid in &pids {
        assert!(!alive(*pid));
    }
    assert!(stamp(&env, "web", "term") <= stamp(&env, "db", "term"));
    for name in ["db", "cache", "web"] {
        assert_eq!(env.record(name)["wanted"], "stopped");
    }
    // Again, with nothing running: still a success.
    env.run(&["down"]).ok();
    // `up web` brings web and what it needs, not cache.
    env.run(&["up", "web"]).ok();
    assert!(alive(env.pid_of("db")) && alive(env.pid_of("web")));
    assert!(!env.path("cache.pid").exists());
    // `down db` stops db and what comes after it.
    let (db, web) = (env.pid_of("db"), env.pid_of("web"));
    env.run(&["down", "db"]).ok();
    wait_dead(db);
    wait_dead(web);
}

#[test]
fn a_bad_file_is_exit_2_with_its_line_and_starts_nothing() {
    let cases = [
        (
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "after = [\"db\"]\nredy = \"tcp:1\"")
            ),
            ":11: redy: unknown key",
        ),
        (
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "ready-timeout = \"soon\"")
            ),
            ":9: --ready-timeout: ",
        ),
        (
            format!(
                "{}{}",
                entry("db", "0", "after = [\"web\"]"),
                entry("web", "0", "after = [\"db\"]")
            ),
            "a cycle in after: db -> web -> db",
        ),
        (
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "after = [\"dbx\"]")
            ),
            ":10: web: after names 'dbx', which is not a daemon of this file",
        ),
        (
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "env = { \"A B\" = \"c\" }")
            ),
            ":10: --env: 'A B' is not a variable name",
        ),
        (
            // Not `--env A=B=c`, which sets A to `B=c`.
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "env = { \"A=B\" = \"c\" }")
            ),
            ":10: --env: 'A=B' is not a variable name",
        ),
        (
            // Said of its line, before anything starts: it failed the spawn of web's `start`,
            // after db had started.
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "log = \"web\\u0000.log\"")
            ),
            ":10: log: a NUL byte (\\u0000) cannot be passed on a command line",
        ),
        (
            // An option that needs another: at its own key's line, not the table's.
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "max-restarts = 3")
            ),
            ":10: web: --max-restarts works only in supervised mode",
        ),
        (
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "after = [\"web\"]")
            ),
            ":10: a cycle in after: web -> web",
        ),
        (
            // One line about the file, not clap's possible values and "try '--help'".
            format!(
                "{}{}",
                entry("db", "0", ""),
                entry("web", "0", "cgroup = \"maybe\"")
            ),
            ":10: --cgroup: invalid value 'maybe': use auto, on or off",
        ),
    ];
    for (text, wanted) in cases {
        // The bad value's line: the header of web is line 6, its keys follow.
        let text = text.replace("ready-timeout = \"10s\"\nready-timeout", "ready-timeout");
        let env = world(&text);
        let run = env.run(&["up"]).code(2).one_error_line();
        let file = env.path("rdaemon.toml").display().to_string();
        assert!(
            run.stderr.starts_with(&format!("rdaemon: {file}:")),
            "{}",
            run.dump()
        );
        assert!(
            run.stderr.contains(wanted),
            "{wanted}\n{text}\n{}",
            run.dump()
        );
        assert!(!env.path("db.json").exists() && !env.path("db.start").exists());
    }
}

/// A file that is not UTF-8 is a bad file (SPEC §7: exit 2, `FILE:LINE: what is wrong`), as an
/// env file that is not UTF-8 is, not a file rdaemon could not read (exit 1); a Procfile too.
#[test]
fn an_up_file_that_is_not_utf8_is_a_usage_error() {
    let env = Env::new();
    for (name, bytes) in [
        (
            "x.toml",
            &b"[daemons.web]\n# caf\xe9\nrun = \"sleep 100\"\n"[..],
        ),
        ("Procfile", &b"web: sleep 100\nworker: echo \xff\xfe\n"[..]),
    ] {
        let path = env.path(name);
        fs::write(&path, bytes).unwrap();
        let run = env
            .run(&["up", "-f", path.to_str().unwrap()])
            .code(2)
            .one_error_line();
        assert_eq!(
            run.stderr,
            format!("rdaemon: {}:2: it is not UTF-8 text\n", path.display()),
            "{}",
            run.dump()
        );
        assert!(!env.path("web.json").exists(), "{}", run.dump());
    }
}

/// rdaemon's global options are `up`'s, not an entry's: `dir = "other"` put that daemon in
/// another rdaemon directory, where `list` never showed it and `down` said "not running" while
/// it ran (SPEC §1: with `--dir DIR`, all state is in DIR). Refused as an unknown key is, at its
/// line, and nothing starts.
#[test]
fn global_options_are_no_keys_of_an_entry() {
    for (key, why) in [
        ("dir = \"other\"", "--dir is a global option of rdaemon"),
        ("quiet = true", "--quiet is a global option of rdaemon"),
        ("verbose = true", "--verbose is a global option of rdaemon"),
        ("help = true", "--help is not an option of a daemon"),
    ] {
        let env = world(&format!(
            "{}{}",
            entry("db", "0", ""),
            entry("web", "0", key)
        ));
        fs::create_dir(env.path("other")).unwrap();
        let run = env.run(&["up"]).code(2).one_error_line();
        let file = env.path("rdaemon.toml").display().to_string();
        let name = key.split(' ').next().unwrap();
        assert!(
            run.stderr.starts_with(&format!(
                "rdaemon: {file}:10: {name}: not a key of an entry: "
            )),
            "{}",
            run.dump()
        );
        assert!(run.stderr.contains(why), "{}", run.dump());
        assert!(!env.path("db.start").exists() && !env.path("db.json").exists());
        assert!(!env.path("other/web.json").exists());
    }
}

/// An entry's umask is the daemon's as it is written: `umask = 0o027` is 027 (a user's trial: the
/// daemon got 023, the integer written back in decimal, `23`, and read as octal; `0o022` was
/// refused as `'18'`); a decimal integer or a string keeps the command line's meaning (`27` is
/// `--umask 27`, octal). An integer in hexadecimal or binary is refused at its line, asking for
/// octal, and nothing starts.
#[test]
fn an_entrys_umask_is_the_daemons_as_written() {
    let entry = |value: &str| {
        format!(
            "[daemons.db]\ncommand = [\"sleep\", \"{}\"]\n\n[daemons.web]\ncommand = [\"sleep\", \"1000\"]\numask = {value}\n",
            unique_secs()
        )
    };
    for (value, umask) in [
        ("0o027", "0027"),
        ("0o0077", "0077"),
        ("27", "0027"),
        ("\"007\"", "0007"),
    ] {
        let env = world(&entry(value));
        env.run(&["up"]).ok().stdout_has("started web (pid ");
        let web = env.pid_of("web");
        assert_eq!(status_field(web, "Umask"), umask, "umask = {value}");
        assert_eq!(env.record("web")["umask"], umask[1..], "umask = {value}");
        // The other entry keeps the default.
        assert_eq!(status_field(env.pid_of("db"), "Umask"), "0022");
        env.run(&["down"]).ok();
        wait_dead(web);
    }
    for (value, base) in [("0x17", "hexadecimal"), ("0b10111", "binary")] {
        let env = world(&entry(value));
        let run = env.run(&["up"]).code(2).one_error_line();
        let file = env.path("rdaemon.toml").display().to_string();
        assert_eq!(
            run.stderr,
            format!("rdaemon: {file}:6: umask: {value} is an integer written in {base}, but --umask is octal: write it in octal, as umask = \"027\" or umask = 0o027\n"),
            "{}",
            run.dump()
        );
        assert!(!env.path("db.json").exists() && !env.path("web.json").exists());
    }
    // `umask = 022`, as the command line writes it, is no TOML: said how to write it.
    let env = world(&entry("022"));
    let run = env.run(&["up"]).code(2).one_error_line();
    run.stderr_has(":6: ")
        .stderr_has("write the umask as a string, umask = \"022\", or in octal, umask = 0o022");
    assert!(!env.path("db.json").exists() && !env.path("web.json").exists());
}

/// What a start is bound to fail on is found for every entry before any starts (SPEC §7:
/// nothing is started; §2: everything that can fail is checked first): a valid entry before
/// the bad one is not left running. The error is `start`'s, with `start`'s exit code (1 for a
/// problem in the system, 2 for a malformed env file line, 4 for --user without root), said of
/// the file, the line of the key whose value it is about (a user's trial: an unknown user was
/// said of the entry's header line, with the key two lines below) and the entry's name.
#[test]
fn what_a_start_would_fail_on_starts_nothing() {
    let user_code = if is_root() { 1 } else { 4 };
    // web's header is line 6, then its command, ready and ready-timeout, then the key: line 10
    // (9 for a command, which takes the place of the fixture's).
    // With both, an unknown group is said at its own line (helper-93's review: the user's).
    let (group_what, group_line) = match is_root() {
        true => ("nosuchgroup", 11),
        false => ("", 10),
    };
    let cases: [(&str, i32, &str, usize); 10] = [
        ("user = \"nosuchuser\"", user_code, "nosuchuser", 10),
        ("group = \"nosuchgroup\"", user_code, "nosuchgroup", 10),
        (
            "user = \"root\"\ngroup = \"nosuchgroup\"",
            user_code,
            group_what,
            group_line,
        ),
        ("chdir = \"nonexist\"", 1, "cannot change directory to", 10),
        (
            "env-file = [\"missing.env\"]",
            1,
            "missing.env': No such file or directory",
            10,
        ),
        (
            "env-file = [\"bad.env\"]",
            2,
            "bad.env:2: expected KEY=VALUE",
            10,
        ),
        (
            "command = [\"rdaemon-test-no-such-program\"]",
            1,
            "cannot execute 'rdaemon-test-no-such-program'",
            9,
        ),
        ("log = \"nodir/web.log\"", 1, "cannot open log file", 10),
        ("stderr = \"nodir/web.err\"", 1, "cannot open log file", 10),
        ("pidfile = \"nodir/web.pid\"", 1, "pidfile directory", 10),
    ];
    for (key, code, what, line) in cases {
        // db first (in name order and in the file), web with the bad key after it.
        let web = entry("web", "0", key).replacen(
            "command = [\"python3\", \"stamp.py\", \"web\", \"0\"]\n",
            "",
            usize::from(key.starts_with("command")),
        );
        let env = world(&format!("{}{web}", entry("db", "0", "")));
        fs::write(env.path("bad.env"), "A=1\nnot a variable\n").unwrap();
        let run = env.run(&["up"]).code(code).one_error_line();
        let file = env.path("rdaemon.toml").display().to_string();
        assert!(
            run.stderr
                .starts_with(&format!("rdaemon: {file}:{line}: web: ")),
            "{key}\n{}",
            run.dump()
        );
        assert!(run.stderr.contains(what), "{key}\n{}", run.dump());
        assert!(
            !env.path("db.start").exists() && !env.path("db.pid").exists(),
            "{key}: db was started\n{}",
            run.dump()
        );
    }
    // What is not about a key the entry gives stays said of the entry: the default working
    // directory (the file's), which the program's user cannot enter.
    if let Some(nobody) = nobody().filter(|_| is_root()) {
        let env = world(&format!(
            "{}{}",
            entry("db", "0", ""),
            entry("web", "0", &format!("user = \"{}\"", nobody.name))
        ));
        fs::set_permissions(env.dir(), fs::Permissions::from_mode(0o700)).unwrap();
        let run = env.run(&["up"]).code(1).one_error_line();
        let file = env.path("rdaemon.toml").display().to_string();
        assert!(
            run.stderr.starts_with(&format!(
                "rdaemon: {file}:6: web: cannot change directory to"
            )),
            "{}",
            run.dump()
        );
    }
}

/// An entry that runs and is unchanged needs no start, so nothing is checked of it: an env
/// file deleted since it started fails no `up` (its spec names the file, not its content).
#[test]
fn an_up_to_date_entry_is_not_checked_again() {
    let env = world(
        &[
            entry("db", "0", "env-file = [\"db.env\"]"),
            entry("cache", "0", ""),
        ]
        .concat(),
    );
    fs::write(env.path("db.env"), "LEVEL=1\n").unwrap();
    env.run(&["up"]).ok();
    let db = env.pid_of("db");
    fs::remove_file(env.path("db.env")).unwrap();
    env.run(&["stop", "cache"]).ok();
    env.run(&["up"])
        .ok()
        .stdout_has("db is up to date")
        .stdout_has("started cache");
    assert_eq!(env.pid_of("db"), db);
    env.run(&["down"]).ok();
    wait_dead(db);
}

/// A FIFO or a directory given as the file is refused at once, naming it: a plain read of a
/// FIFO would wait for a writer for ever. A missing file is the same kind of problem, exit 1
/// as a missing env file is (SPEC §2), not a usage error.
#[test]
fn a_missing_file_a_fifo_or_a_directory_as_the_file_is_refused_without_waiting() {
    let env = Env::new();
    let fifo = env.path("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for (path, what) in [
        (fifo, "it is a FIFO"),
        (env.path("dir.toml"), "it is a directory"),
        (env.path("missing.toml"), "No such file or directory"),
    ] {
        let _ = std::fs::create_dir(env.path("dir.toml"));
        let run = env
            .run(&["up", "-f", path.to_str().unwrap()])
            .code(1)
            .one_error_line();
        assert!(
            run.stderr
                .contains(&format!("cannot read '{}': {what}", path.display())),
            "{}",
            run.dump()
        );
    }
}

#[test]
fn a_failing_dependency_stops_what_needs_it_and_leaves_the_rest_up() {
    let failing =
        "[daemons.db]\nrun = \"echo db cannot start; exit 3\"\nready = \"file:db.ready\"\n";
    let env = world(
        &[
            failing,
            &entry("cache", "0", ""),
            &entry("web", "0", "after = [\"db\"]"),
            &entry("proxy", "0", "after = [\"web\"]"),
        ]
        .concat(),
    );
    let run = env.run(&["up"]).code(1);
    assert!(run.stderr.contains("db cannot start"), "{}", run.dump());
    assert!(
        run.stderr
            .contains("web not started: it comes after db, which failed"),
        "{}",
        run.dump()
    );
    // web did not fail: it was never started (helper-98's trial).
    assert!(
        run.stderr
            .contains("proxy not started: it comes after web, which was not started"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr
            .contains("3 of 4 daemons failed or were not started: db, proxy, web"),
        "{}",
        run.dump()
    );
    assert!(alive(env.pid_of("cache")));
    assert!(!env.path("web.start").exists() && !env.path("web.json").exists());
}

/// An entry that runs unchanged is not failed by its dependency's failure: it is said to be up
/// to date and keeps running, while a new entry after it is not started.
#[test]
fn an_unchanged_entry_after_a_failing_edit_stays_up_and_is_not_counted_failed() {
    let env = world(&[entry("db", "0", ""), entry("web", "0", "after = [\"db\"]")].concat());
    env.run(&["up"]).ok();
    let web = env.pid_of("web");
    let failing =
        "[daemons.db]\nrun = \"echo db cannot start; exit 3\"\nready = \"file:db.ready\"\n";
    fs::write(
        env.path("rdaemon.toml"),
        [
            failing,
            &entry("web", "0", "after = [\"db\"]"),
            &entry("api", "0", "after = [\"web\"]"),
        ]
        .concat(),
    )
    .unwrap();
    let run = env.run(&["up"]).code(1).stdout_has("web is up to date");
    assert!(
        run.stderr
            .contains("api not started: it comes after db, which failed"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr
            .contains("2 of 3 daemons failed or were not started: api, db"),
        "{}",
        run.dump()
    );
    assert!(!run.stderr.contains("web not started"), "{}", run.dump());
    assert!(alive(web));
    assert_eq!(env.pid_of("web"), web);
    assert!(!env.path("api.json").exists());
}

/// A second `up` while the first still waits for an entry to be ready (SPEC §7: a daemon
/// starts once every daemon in its `after` is ready): it waits for that start, never taking the
/// entry for up to date and starting what comes after it. Here the entry is never ready: both
/// `up`s fail it, and what comes after it never starts.
#[test]
fn a_second_up_waits_for_an_entry_the_first_still_waits_for() {
    let env = world(
        "[daemons.a]\nrun = \"touch a.started; exec sleep 1000\"\nready = \"file:a.ready\"\nready-timeout = \"5s\"\n\
         [daemons.b]\nrun = \"exec sleep 1001\"\nafter = [\"a\"]\n",
    );
    let up = |env: &Env| {
        let mut cmd = env.std_cmd();
        cmd.arg("up")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        Background::spawn(&mut cmd)
    };
    let first = up(&env);
    env.wait_file("a.started");
    let second = up(&env);
    let first = first.output_within(DEADLINE, "the first up ends");
    let second = second.output_within(DEADLINE, "the second up ends");
    let said = |out: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert_eq!(first.status.code(), Some(1), "{}", said(&first));
    assert_eq!(second.status.code(), Some(1), "{}", said(&second));
    assert!(
        !said(&second).contains("a is up to date"),
        "{}",
        said(&second)
    );
    assert!(!said(&second).contains("started b"), "{}", said(&second));
    assert!(!env.path("b.json").exists(), "{}", said(&second));
}

#[test]
fn a_procfile_gives_one_entry_per_line() {
    let env = Env::new();
    fs::write(
        env.path("Procfile"),
        "# two workers\nweb: exec sleep 1001\nworker: exec sleep 1002\n",
    )
    .unwrap();
    env.run(&["up"])
        .ok()
        .stdout_has("started web")
        .stdout_has("started worker");
    let web = env.pid_of("web");
    assert!(fs::read_to_string(format!("/proc/{web}/cmdline"))
        .unwrap()
        .contains("1001"));
    assert_eq!(
        env.record("worker")["source"],
        env.path("Procfile").display().to_string()
    );
    env.run(&["down", "-f", "Procfile"]).ok();
    wait_dead(web);
}

/// The words of `pid`'s command line.
fn argv_of(pid: i32) -> Vec<String> {
    fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

/// A `run` line that is one simple command has its program replace the shell: the daemon's
/// main process is the program, which `stop` reaches with nothing left over. A list of
/// commands keeps its shell.
#[test]
fn a_simple_run_line_is_its_program_and_a_list_stays_a_shell() {
    let env = Env::new();
    fs::write(
        env.path("rdaemon.toml"),
        "[daemons.one]\nrun = \"sleep 1003\"\n\n[daemons.list]\nrun = \"sleep 1004; true\"\n",
    )
    .unwrap();
    env.run(&["up"]).ok();
    let one = env.pid_of("one");
    // `up` returns once the shell is executed; its `exec` of the program follows, in the same
    // process.
    wait_until("the shell of 'one' has become sleep", DEADLINE, || {
        argv_of(one) == ["sleep", "1003"]
    });
    let list = env.pid_of("list");
    assert_eq!(argv_of(list), ["/bin/sh", "-c", "sleep 1004; true"]);
    let stopped = env.run(&["stop", "one"]).ok().stdout_has("stopped one");
    assert!(!stopped.stdout.contains("leftover"), "{}", stopped.dump());
    wait_dead(one);
    env.run(&["down"]).ok();
    wait_dead(list);
}

#[test]
fn a_name_owned_by_another_daemon_is_refused() {
    let env = world(&entry("db", "0", ""));
    let pid = env.start("db", &["sleep", "1000"]);
    let run = env.run(&["up"]).code(1).one_error_line();
    assert!(run.stderr.contains("was started by hand"), "{}", run.dump());
    assert_eq!(env.pid_of("db"), pid);
    env.run(&["down"]).code(1).stderr_has("was started by hand");
    assert!(alive(pid));
    // Nor may another file take a name this one owns.
    fs::write(env.path("mine.toml"), entry("mine", "0", "")).unwrap();
    fs::create_dir(env.path("other")).unwrap();
    fs::write(env.path("other/rdaemon.toml"), entry("mine", "0", "")).unwrap();
    env.run(&["up", "-f", "mine.toml"]).ok();
    let mine = env.pid_of("mine");
    let run = env.run(&["up", "-f", "other/rdaemon.toml"]).code(1);
    let owner = format!(
        "comes from {}",
        env.path("mine.toml").canonicalize().unwrap().display()
    );
    assert!(run.stderr.contains(&owner), "{}", run.dump());
    assert_eq!(env.pid_of("mine"), mine);
}

#[test]
fn resurrect_follows_after() {
    let env = world(&[entry("zz", "0.2", ""), entry("aa", "0", "after = [\"zz\"]")].concat());
    env.run(&["up"]).ok();
    let pids = [env.pid_of("zz"), env.pid_of("aa")];
    // As a reboot would leave them: killed, wanted running.
    for pid in pids {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_dead(pid);
    }
    for f in ["zz.start", "aa.start", "zz.ready", "aa.ready"] {
        fs::remove_file(env.path(f)).unwrap();
    }
    env.run(&["resurrect"]).ok();
    // Alphabetically aa would go first; after puts zz (ready 0.2 s later) before it.
    assert!(stamp(&env, "aa", "start") >= stamp(&env, "zz", "ready"));
}

#[test]
fn resurrect_does_not_start_a_daemon_after_a_stopped_one() {
    let env = world(
        &[
            entry("db", "0", ""),
            entry("web", "0", "after = [\"db\"]"),
            entry("static", "0", "after = [\"web\"]"),
        ]
        .concat(),
    );
    env.run(&["up"]).ok();
    let web = env.pid_of("web");
    // db and static stopped by the user: web, which still runs, is fine (a review found
    // resurrect failing it, exit 1, for a dependency it does not need now).
    env.run(&["stop", "db", "static"]).ok();
    env.run(&["resurrect"])
        .ok()
        .stdout_has("web is already running");
    // web killed, so wanted running and dead.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(web),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_dead(web);
    fs::remove_file(env.path("web.start")).unwrap();
    let run = env.run(&["resurrect"]).code(1);
    let run = run.stderr_has("cannot start web: it comes after db, which is stopped");
    // static is wanted stopped: left alone, and no error of its own.
    assert!(!run.stderr.contains("static"), "{}", run.dump());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.dump());
    assert!(!env.path("web.start").exists(), "web ran without db");
    env.run(&["status", "web"]).code(1);
    assert_eq!(env.record("web")["wanted"], "running");
    // Once db runs, web comes back.
    env.run(&["start", "db"]).ok();
    env.run(&["resurrect"]).ok().stdout_has("web");
    assert!(alive(env.pid_of("web")));
    env.run(&["status", "static"]).code(3);
}

/// `rdaemon up` in its own process group, as a `kill PID` from a script reaches it: only `up`
/// gets the signal, not its children.
fn up_in_its_own_group(env: &Env) -> Background {
    in_its_own_group(env, "up")
}

/// `rdaemon VERB` in a process group of its own, with its children: a signal to `rdaemon`
/// alone reaches only it, one to the group (`killpg`, as a terminal's Ctrl-C) all of them.
fn in_its_own_group(env: &Env, verb: &str) -> Background {
    use std::os::unix::process::CommandExt;
    Background::spawn(
        interruptible(&mut env.std_cmd())
            .arg(verb)
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    )
}

/// Sends SIGTERM to `up` alone, waits for it, checks it exited 143; its stderr.
fn terminated(up: Background) -> String {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = up.into_output();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    stderr
}

#[test]
fn a_sigterm_to_up_alone_stops_what_it_half_started_and_starts_nothing_more() {
    // a is never ready (its file comes after 1000 s), c waits for a, b is ready at once.
    let env = world(
        &[
            entry("a", "1000", ""),
            entry("b", "0", ""),
            entry("c", "0", "after = [\"a\"]"),
        ]
        .concat(),
    );
    let up = up_in_its_own_group(&env);
    env.wait_file("a.start");
    env.wait_file("b.ready");
    let a = env.pid_of("a");
    env.track(a);
    let stderr = terminated(up);
    assert!(
        stderr.contains("cannot start a: interrupted by SIGTERM"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rdaemon: interrupted by SIGTERM;"),
        "{stderr}"
    );
    // The half-started daemon is stopped, what waits for it never ran, b still runs.
    wait_dead(a);
    assert_eq!(env.record("a")["wanted"], "stopped");
    assert!(!env.path("c.start").exists());
    assert!(alive(env.pid_of("b")));
    env.run(&["status", "a"]).code(3);
}

/// Interrupted while an edited entry waits, `up` does not count the unchanged entry after it,
/// which runs on, as failed.
#[test]
fn an_interrupted_up_does_not_count_an_unchanged_entry_as_failed() {
    let env = world(&[entry("a", "0", ""), entry("b", "0", "after = [\"a\"]")].concat());
    env.run(&["up"]).ok();
    let b = env.pid_of("b");
    env.track(b);
    fs::remove_file(env.path("a.start")).unwrap();
    fs::write(
        env.path("rdaemon.toml"),
        [entry("a", "1000", ""), entry("b", "0", "after = [\"a\"]")].concat(),
    )
    .unwrap();
    let up = up_in_its_own_group(&env);
    env.wait_file("a.start");
    env.track(env.pid_of("a"));
    let stderr = terminated(up);
    assert!(
        stderr.contains("interrupted by SIGTERM; 1 of 2 daemons failed or were not started: a\n"),
        "{stderr}"
    );
    assert!(alive(b));
}

/// A review: a SIGTERM that reached `rdaemon start` between its launch and its wait (sent
/// the moment the first start has written its spec, while it and the others launch) was the default
/// death, and left launched daemons (monitors too) running, reported by nobody. Every start
/// now stops what it launched; nothing of the file runs once `up` has exited.
#[test]
fn a_sigterm_to_up_while_it_launches_leaves_nothing_running() {
    let names: Vec<String> = (0..12).map(|i| format!("d{i}")).collect();
    let entries: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| entry(n, "1000", if i % 2 == 0 { "respawn = true" } else { "" }))
        .collect();
    let env = world(&entries);
    let up = up_in_its_own_group(&env);
    // The first spec on disk: its start is between its fork and its wait, others are near.
    wait_until("a start launches", Duration::from_secs(30), || {
        names
            .iter()
            .any(|n| env.path(&format!("{n}.json")).exists())
    });
    let stderr = terminated(up);
    for name in &names {
        if !env.path(&format!("{name}.json")).exists() {
            continue;
        }
        let rec = env.record(name);
        for key in ["pid", "child_pid"] {
            if let Some(pid) = rec[key].as_i64() {
                env.track(pid as i32);
                assert!(!alive(pid as i32), "{name}'s {key} {pid} runs: {stderr}");
            }
        }
        env.run(&["status", name]).code(3);
    }
}

/// A review: an edited entry whose new start failed was left `stopped` (its stop had marked it
/// so), and `resurrect` never tried it again; a failed `restart` leaves a daemon `dead`.
#[test]
fn an_edited_entry_whose_start_fails_stays_wanted_running() {
    let env = world(&entry("ed", "0", ""));
    env.run(&["up"]).ok();
    let first = env.pid_of("ed");
    let spec = env.record("ed");
    fs::write(
        env.path("rdaemon.toml"),
        entry("ed", "0", "")
            .replace("ready = \"file:ed.ready\"", "ready = \"file:never\"")
            .replace("ready-timeout = \"10s\"", "ready-timeout = \"300ms\""),
    )
    .unwrap();
    // The stop that succeeded is said where `restart` says it, the failure on stderr
    // (helper-101's trial: both went to stderr).
    let run = env.run(&["up"]).code(1).stderr_has("not ready after 300ms");
    assert!(
        run.stdout.contains(&format!("stopped ed (pid {first})")),
        "{}",
        run.dump()
    );
    assert!(!run.stderr.contains("stopped ed (pid"), "{}", run.dump());
    wait_dead(first);
    env.run(&["status", "ed"]).code(1).stdout_has("dead");
    let now = env.record("ed");
    assert_eq!(now["wanted"], "running");
    assert_eq!(now["ready"], spec["ready"], "the spec that worked is kept");
    fs::remove_file(env.path("ed.start")).unwrap();
    env.run(&["resurrect"]).ok().stdout_has("started ed");
    assert!(alive(env.pid_of("ed")));
}

/// The units of `export systemd -f` as printed: (file name, Key=Value triples by section).
fn printed_units(text: &str) -> BTreeMap<String, Vec<(String, String, String)>> {
    let mut out = BTreeMap::new();
    for chunk in text.split("### ").skip(1) {
        let (name, body) = chunk.split_once('\n').unwrap();
        let mut section = String::new();
        let mut lines = Vec::new();
        for line in body.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_owned();
                continue;
            }
            let (k, v) = line.split_once('=').unwrap();
            lines.push((section.clone(), k.to_owned(), v.to_owned()));
        }
        out.insert(name.to_owned(), lines);
    }
    out
}

fn get<'a>(unit: &'a [(String, String, String)], section: &str, key: &str) -> Vec<&'a str> {
    unit.iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

const EXPORTED: &str = r#"
[daemons.db]
command = ["sleep", "1000"]
ready = "tcp:6390"
respawn = true
max-restarts = 3
restart-delay = "2s"
restart-window = "30s"
umask = "027"

[daemons.web]
run = "exec sleep 1001"
after = ["db"]
ready = "http:http://127.0.0.1:8080/health"
env = { LEVEL = "debug" }
memory-max = "64M"
"#;

#[test]
fn export_systemd_from_a_file_gives_units_and_a_target() {
    let env = Env::new();
    let app = env.path("app");
    fs::create_dir(&app).unwrap();
    fs::write(app.join("rdaemon.toml"), EXPORTED).unwrap();
    let run = env
        .run(&["export", "systemd", "-f", "app/rdaemon.toml"])
        .ok();
    let units = printed_units(&run.stdout);
    assert_eq!(
        units.keys().collect::<Vec<_>>(),
        ["app.target", "db.service", "web.service"]
    );
    let dir = app.display().to_string();
    let db = &units["db.service"];
    assert_eq!(get(db, "Service", "ExecStart"), ["/usr/bin/sleep 1000"]);
    assert_eq!(get(db, "Service", "WorkingDirectory"), [dir.as_str()]);
    assert_eq!(get(db, "Service", "UMask"), ["0027"]);
    assert_eq!(get(db, "Service", "Restart"), ["always"]);
    assert_eq!(get(db, "Service", "RestartSec"), ["2s"]);
    assert_eq!(get(db, "Unit", "StartLimitBurst"), ["4"]);
    assert_eq!(get(db, "Unit", "StartLimitIntervalSec"), ["30s"]);
    assert_eq!(get(db, "Unit", "PartOf"), ["app.target"]);
    assert!(get(db, "Unit", "After").is_empty() && get(db, "Unit", "Requires").is_empty());
    assert_eq!(get(db, "Install", "WantedBy"), ["app.target"]);
    let web = &units["web.service"];
    assert_eq!(
        get(web, "Service", "ExecStart"),
        ["/bin/sh -c \"exec sleep 1001\""]
    );
    assert_eq!(get(web, "Service", "Environment"), ["LEVEL=debug"]);
    assert_eq!(get(web, "Service", "MemoryMax"), ["67108864"]);
    assert!(get(web, "Service", "Restart").is_empty());
    assert_eq!(get(web, "Unit", "After"), ["db.service"]);
    assert_eq!(get(web, "Unit", "Requires"), ["db.service"]);
    assert_eq!(get(web, "Unit", "PartOf"), ["app.target"]);
    assert_eq!(get(web, "Install", "WantedBy"), ["app.target"]);
    let target = &units["app.target"];
    assert_eq!(get(target, "Unit", "Wants"), ["db.service web.service"]);
    assert_eq!(get(target, "Install", "WantedBy"), ["multi-user.target"]);
    // Nothing was started or recorded.
    assert!(!env.path("db.json").exists());

    // --out writes the same files, into a directory it makes if need be (as `mkdir -p`);
    // --target names the target.
    let out = env.path("units/system");
    env.run(&[
        "export",
        "systemd",
        "-f",
        "app/rdaemon.toml",
        "--out",
        "units/system",
        "--target",
        "shop",
    ])
    .ok();
    let mut written: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["db.service", "shop.target", "web.service"]);
    let web = fs::read_to_string(out.join("web.service")).unwrap();
    assert!(web.contains("\nWantedBy=shop.target\n") && web.contains("\nPartOf=shop.target\n"));
    // An --out that is a file is not a directory (it said "File exists").
    let file = env.path("units/system/web.service");
    let shown = file.to_str().unwrap();
    env.run(&[
        "export",
        "systemd",
        "-f",
        "app/rdaemon.toml",
        "--out",
        shown,
    ])
    .code(1)
    .one_error_line()
    .stderr_has(&format!(
        "cannot write units into '{shown}': Not a directory"
    ));
    let have = std::process::Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!(
            "skipped systemd-analyze verify: it is not installed (Debian: apt-get install systemd)"
        );
        return;
    }
    let check = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(written.iter().map(|f| out.join(f)))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            ["db.service", "web.service", "shop.target"]
                .iter()
                .any(|u| l.contains(u))
        })
        .collect();
    assert!(
        check.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

#[test]
fn export_nomad_from_a_file_and_from_records() {
    let env = Env::new();
    fs::write(env.path("rdaemon.toml"), EXPORTED).unwrap();
    let run = env
        .run(&["export", "nomad", "-f", "rdaemon.toml", "--target", "shop"])
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let job = &doc["Job"];
    assert_eq!(
        (
            job["ID"].as_str(),
            job["Name"].as_str(),
            job["Type"].as_str()
        ),
        (Some("shop"), Some("shop"), Some("service"))
    );
    assert_eq!(
        job["Meta"]["rdaemon_source"],
        env.path("rdaemon.toml").display().to_string()
    );
    let groups = job["TaskGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group["Count"], 1);
    assert_eq!(
        group["Networks"][0]["ReservedPorts"],
        serde_json::json!([{"Label": "db-ready", "Value": 6390}, {"Label": "web-ready", "Value": 8080}])
    );
    let services = group["Services"].as_array().unwrap();
    assert_eq!(services[0]["Name"], "db");
    assert_eq!(services[0]["PortLabel"], "db-ready");
    assert_eq!(services[0]["Checks"][0]["Type"], "tcp");
    assert_eq!(services[1]["Checks"][0]["Type"], "http");
    assert_eq!(services[1]["Checks"][0]["Path"], "/health");
    let tasks = group["Tasks"].as_array().unwrap();
    let (db, web) = (&tasks[0], &tasks[1]);
    assert_eq!(db["Name"], "db");
    assert_eq!(db["Driver"], "raw_exec");
    assert_eq!(
        db["Config"],
        serde_json::json!({"command": "/usr/bin/sleep", "args": ["1000"]})
    );
    assert_eq!(
        db["RestartPolicy"],
        serde_json::json!({"Attempts": 3, "Interval": 30_000_000_000u64, "Delay": 2_000_000_000u64, "Mode": "fail"})
    );
    assert_eq!(
        db["Lifecycle"],
        serde_json::json!({"Hook": "prestart", "Sidecar": true})
    );
    assert_eq!(db["KillSignal"], "SIGTERM");
    assert_eq!(db["KillTimeout"], 10_000_000_000u64);
    assert_eq!(db["Meta"]["rdaemon_umask"], "027");
    assert_eq!(db["Meta"]["rdaemon_chdir"], env.dir().display().to_string());
    assert_eq!(web["Name"], "web");
    assert_eq!(web["Config"]["command"], "/bin/sh");
    assert_eq!(
        web["Config"]["args"],
        serde_json::json!(["-c", "exec sleep 1001"])
    );
    assert_eq!(web["Env"], serde_json::json!({"LEVEL": "debug"}));
    assert_eq!(web["Resources"]["MemoryMB"], 64);
    assert_eq!(
        web["RestartPolicy"],
        serde_json::json!({"Attempts": 0, "Mode": "fail"})
    );
    assert!(web["Lifecycle"].is_null());
    assert!(web["Meta"]["rdaemon_after"]
        .as_str()
        .unwrap()
        .starts_with("db:"));

    // From records, by name: the job is named rdaemon unless --target says.
    env.start("one", &["sleep", "1000"]);
    env.run(&[
        "start",
        "--name",
        "two",
        "--ready",
        "alive:50ms",
        "--",
        "sleep",
        "1001",
    ])
    .ok();
    let run = env.run(&["export", "nomad", "one", "two"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["Job"]["ID"], "rdaemon");
    let tasks = doc["Job"]["TaskGroups"][0]["Tasks"].as_array().unwrap();
    assert_eq!(
        tasks
            .iter()
            .map(|t| t["Name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert!(tasks[1]["Meta"]["rdaemon_ready"]
        .as_str()
        .unwrap()
        .starts_with("alive:50ms"));
    assert!(doc["Job"]["TaskGroups"][0]["Networks"].is_null());
}

#[test]
fn logs_of_a_file_interleaves_its_daemons() {
    let env = Env::new();
    fs::write(
        env.path("rdaemon.toml"),
        "[daemons.a]\nrun = \"echo from-a; exec sleep 1000\"\n[daemons.b]\nrun = \"echo from-b; exec sleep 1000\"\n",
    )
    .unwrap();
    fs::write(
        env.path("other.toml"),
        "[daemons.c]\nrun = \"echo from-c; exec sleep 1000\"\n",
    )
    .unwrap();
    env.run(&["up"]).ok();
    env.run(&["up", "-f", "other.toml"]).ok();
    wait_until("both logs are written", DEADLINE, || {
        ["a", "b"].iter().all(|n| {
            fs::read_to_string(env.path(&format!("{n}.log"))).is_ok_and(|s| s.contains("from-"))
        })
    });
    let run = env.run(&["logs", "--file", "rdaemon.toml"]).ok();
    assert!(run.stdout.contains("a | from-a\n"), "{}", run.dump());
    assert!(run.stdout.contains("b | from-b\n"), "{}", run.dump());
    assert!(
        !run.stdout.contains("from-c") && !run.stdout.contains('\x1b'),
        "{}",
        run.dump()
    );
}

/// `--file FILE` names the daemons of an up file for every command that takes several
/// (helper-101's trial: only `logs` had it), as if they had been typed; the command's own
/// relative paths stay the caller's, though reading the file enters its directory.
#[test]
fn commands_take_the_daemons_of_a_file() {
    let env = Env::new();
    let sub = env.path("sub");
    fs::create_dir(&sub).unwrap();
    fs::write(
        sub.join("stack.toml"),
        "[daemons.a]\nrun = \"exec sleep 1000\"\n[daemons.b]\nrun = \"exec sleep 1000\"\n",
    )
    .unwrap();
    env.run(&["up", "-f", "sub/stack.toml"]).ok();
    let lone = env.start("c", &["sleep", &unique_secs()]);
    let run = env
        .run(&["status", "--file", "sub/stack.toml"])
        .ok()
        .stdout_has("NAME");
    let names: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["a", "b"], "{}", run.dump());
    let (a, b) = (env.pid_of("a"), env.pid_of("b"));
    env.run(&["restart", "--file", "sub/stack.toml", "--log", "here.log"])
        .ok()
        .stdout_has("started a")
        .stdout_has("started b");
    assert!(!alive(a) && !alive(b));
    assert_eq!(
        env.record("a")["stdout"],
        env.path("here.log").to_str().unwrap()
    );
    assert_eq!(env.pid_of("c"), lone);
    env.run(&["stop", "--file", "sub/stack.toml"]).ok();
    assert!(alive(lone), "stop --file stopped a daemon not in the file");
    env.run(&["status", "a", "b"]).code(3);
    env.run(&["status", "--file", "sub/stack.toml", "a"])
        .code(2);
    env.run(&["status", "--file", "sub/missing.toml"])
        .code(1)
        .stderr_has("missing.toml");
    // A daemon of one of its names that is not the file's is refused by a command that acts,
    // as `down` refuses it (helper-105's review: `stop --file` stopped it), and left out,
    // saying so, by one that only looks (helper-107's review).
    fs::write(
        sub.join("other.toml"),
        "[daemons.d]\nrun = \"exec sleep 1000\"\n[daemons.a]\nrun = \"exec sleep 1000\"\n",
    )
    .unwrap();
    let other = sub.join("other.toml").display().to_string();
    for verb in ["stop", "signal"] {
        let mut args = vec![verb];
        if verb == "signal" {
            args.push("HUP");
        }
        args.extend(["--file", "sub/other.toml"]);
        env.run(&args).code(1).stderr_has(&format!(
            "not acting on a for {other}: a daemon of that name comes from {}",
            sub.join("stack.toml").display()
        ));
    }
    let run = env
        .run(&["status", "--file", "sub/other.toml"])
        .code(3)
        .stderr_has("no daemon named 'd'")
        .stderr_has(&format!(
            "warning: a is not {other}'s: a daemon of that name comes from"
        ));
    assert!(!run.stdout.contains("a is"), "{}", run.dump());
    // None of its daemons is the file's: status says not running (3), not dead (1).
    fs::write(
        sub.join("only.toml"),
        "[daemons.c]\nrun = \"exec sleep 1000\"\n",
    )
    .unwrap();
    env.run(&["status", "--file", "sub/only.toml"])
        .code(3)
        .stderr_has("was started from it");
    env.run(&["stop", "--file", "sub/only.toml"]).code(1);
    assert_eq!(env.pid_of("c"), lone);
    assert!(alive(lone));
    // A file of one started entry is still several daemons to `status`: an array, as for a
    // glob, not the object of `status NAME` (helper-121's trial).
    fs::write(
        sub.join("one.toml"),
        "[daemons.e]\nrun = \"exec sleep 1000\"\n",
    )
    .unwrap();
    env.run(&["up", "-f", "sub/one.toml"]).ok();
    let run = env
        .run(&["status", "--file", "sub/one.toml", "--json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{}", run.dump());
    assert_eq!(v[0]["name"], "e", "{}", run.dump());
    env.run(&["status", "--file", "sub/one.toml"])
        .ok()
        .stdout_has("NAME");
    // From a directory that was removed, the file is read and the command goes on.
    let gone = env.wrapped(&[
        "sh",
        "-c",
        "mkdir gone && cd gone && rmdir ../gone && exec \"$0\" \"$@\"",
    ]);
    let path = env.path("sub/stack.toml");
    let run = env.run_cmd(gone, &["status", "--file", path.to_str().unwrap()]);
    run.code(3).stdout_has("NAME");
}

#[test]
fn completions_offer_names_and_files_for_up_and_down() {
    let env = world(&entry("db", "0", ""));
    env.run(&["up"]).ok();
    for verb in ["up", "down"] {
        assert_eq!(bash_complete(&env, &[verb, ""]), ["db"], "{verb}");
        // -f takes a file: files are offered, not the names.
        let files = bash_complete(&env, &[verb, "-f", ""]);
        assert!(
            files.contains(&"rdaemon.toml".to_owned()) && !files.contains(&"db".to_owned()),
            "{verb} -f: {files:?}"
        );
    }
    let files = bash_complete(&env, &["logs", "--file", ""]);
    assert!(
        files.contains(&"rdaemon.toml".to_owned()) && !files.contains(&"db".to_owned()),
        "{files:?}"
    );
    let fish = env.run(&["completions", "fish"]).ok().stdout;
    for verb in ["up", "down"] {
        let line = fish
            .lines()
            .find(|l| l.contains(&format!("using_subcommand {verb}\" -s f -l file")))
            .unwrap_or_else(|| panic!("no -f for {verb} in the fish script"));
        assert!(line.ends_with("-r -F"), "{line}");
    }
    let zsh = env.run(&["completions", "zsh"]).ok().stdout;
    assert!(
        zsh.contains("'-f+[The file declaring the daemons"),
        "zsh lacks -f"
    );
    assert!(zsh.contains(":_files'"), "zsh completes no files");
}

/// An entry removed from the file after `up`: neither `up` nor `down` acts on it any more, and
/// both say that it still runs (docker compose's "orphans").
#[test]
fn a_running_daemon_whose_entry_was_removed_is_named() {
    let keep = "[daemons.keep]\ncommand = [\"sleep\", \"1000\"]\n";
    let gone = "[daemons.gone]\ncommand = [\"sleep\", \"1001\"]\nafter = [\"keep\"]\n";
    let env = Env::new();
    fs::write(env.path("rdaemon.toml"), format!("{keep}{gone}")).unwrap();
    env.run(&["up"]).ok();
    let orphan = env.pid_of("gone");
    fs::write(env.path("rdaemon.toml"), keep).unwrap();
    let warning = |what: &str| {
        format!(
            "rdaemon: warning: gone was started from {}, which no longer has it: {what}",
            env.path("rdaemon.toml").display()
        )
    };
    env.run(&["up"])
        .ok()
        .stdout_has("keep is up to date")
        .stderr_has(&warning("it still runs"));
    env.run(&["down"])
        .ok()
        .stderr_has(&warning("it was left running"));
    assert!(alive(orphan));
    env.run(&["stop", "gone"]).ok();
    // Stopped, it is no longer worth a word.
    let run = env.run(&["up"]).ok();
    assert!(!run.stderr.contains("gone"), "{}", run.dump());
}

/// `down` words what it did not do as stops, not starts: here its own caller, a daemon of the
/// file that runs `rdaemon down` itself, cannot be stopped (rdaemon never signals the process
/// that ran it), so what it comes after is not stopped either, and both keep running.
#[test]
fn down_says_what_it_did_not_stop_and_why() {
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let env = world(&format!(
        "[daemons.db]\nrun = \"exec sleep 1000\"\n\n[daemons.ctl]\nrun = \"'{}' down > down.out 2>&1; echo $? > down.tmp; mv down.tmp down.code; exec sleep 1000\"\nafter = [\"db\"]\n",
        bin.display()
    ));
    env.run(&["up"]).ok();
    let (db, ctl) = (env.pid_of("db"), env.pid_of("ctl"));
    env.wait_file("down.code");
    let out = fs::read_to_string(env.path("down.out")).unwrap();
    assert_eq!(
        fs::read_to_string(env.path("down.code")).unwrap(),
        "1\n",
        "{out}"
    );
    assert!(out.contains("cannot stop ctl: it is pid"), "{out}");
    assert!(
        out.contains("db not stopped: ctl, which comes after it, could not be stopped"),
        "{out}"
    );
    assert!(
        out.contains("2 of 2 daemons failed or were not stopped: ctl, db"),
        "{out}"
    );
    assert!(alive(db) && alive(ctl));
    // From outside, both go.
    env.run(&["down"]).ok();
    wait_dead(db);
    wait_dead(ctl);
}

/// `serve.py PORT MARK`: an HTTP server on 127.0.0.1:PORT (for `tcp:` and `http:` readiness);
/// MARK, unused, marks the process as the test's in `/proc`.
const SERVE: &str = r#"import http.server, sys
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"#;

/// The world of a test of `serve.py` entries: the test's Env with the script, python3, and a
/// mark for the servers' command lines. `None` (the test skips, saying so) without python3.
fn server_world(test: &str) -> Option<(Env, std::path::PathBuf, String)> {
    let python = python3_or_skip(test)?;
    let env = Env::new();
    fs::write(env.path("serve.py"), SERVE).unwrap();
    Some((env, python, unique_secs()))
}

/// An entry serving on `port` with `python`, ready when `ready` holds.
fn server_entry(name: &str, python: &str, port: u16, mark: &str, ready: &str) -> String {
    format!(
        "[daemons.{name}]\ncommand = [\"{python}\", \"serve.py\", \"{port}\", \"{mark}\"]\nready = \"{ready}\"\nready-timeout = \"10s\"\n\n"
    )
}

/// Two loopback ports nothing listens on, not the same.
fn two_free_ports() -> (u16, u16) {
    let a = free_port();
    loop {
        let b = free_port();
        if b != a {
            return (a, b);
        }
    }
}

/// The 1-based line of `text` that contains `needle`.
fn line_with(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
        + 1
}

/// Panics unless no daemon of the file was started: no pidfile, no record `status` knows, no
/// process with `mark` among its arguments.
fn assert_none_started(env: &Env, names: &[&str], mark: &str, run: &Run) {
    for name in names {
        assert!(
            !env.path(&format!("{name}.pid")).exists()
                && !env.path(&format!("{name}.json")).exists(),
            "{name} was started\n{}",
            run.dump()
        );
        env.run(&["status", name]).code(3);
    }
    env.run(&["list"]).ok().stdout_has("no daemons");
    assert_eq!(env.track_marked(mark), Vec::<i32>::new(), "{}", run.dump());
}

/// A review: `up` preflighted every entry but not the port of `--ready tcp:`/`http:` that
/// `start` refuses when another process listens on it (SPEC §2.1), so it started `a`, then
/// failed at `b`: a half-started `up`. Now the busy port is found before anything starts, in
/// `start`'s words and with its exit code (1), said of the file, the entry's `ready` line and
/// its name. A daemon of the file that holds its own port is never refused: neither one up to
/// date, nor an edited one, whose restart stops it before the start.
#[test]
fn a_ready_port_another_process_holds_starts_nothing() {
    let Some((env, python, mark)) =
        server_world("a_ready_port_another_process_holds_starts_nothing")
    else {
        return;
    };
    let py = python.to_str().unwrap();
    let (pa, pb) = two_free_ports();
    let file = env.path("rdaemon.toml").display().to_string();
    let write = |b_ready: &str| {
        let text = [
            server_entry("a", py, pa, &mark, &format!("tcp:{pa}")),
            server_entry("b", py, pb, &mark, b_ready),
        ]
        .concat();
        fs::write(env.path("rdaemon.toml"), &text).unwrap();
        line_with(&text, &format!("ready = \"{b_ready}\""))
    };

    // `tcp:`, the port held by a stranger: a python3 listener, not one of this test's own
    // (a child another test thread forks holds the test's sockets until it execs, and such a
    // copy kept the port after the drop, in the way of the part below).
    let line = write(&format!("tcp:{pb}"));
    let stranger = stranger_listener(&python, pb);
    let run = env.run(&["up"]).code(1).one_error_line();
    assert!(
        run.stderr.starts_with(&format!(
            "rdaemon: {file}:{line}: b: port {pb} is already in use by pid "
        )),
        "{}",
        run.dump()
    );
    assert_none_started(&env, &["a", "b"], &mark, &run);
    drop(stranger);
    wait_until("the stranger's port is free", DEADLINE, || !accepting(pb));

    // `http:`, the port held by a python3 listener.
    let line = write(&format!("http:http://127.0.0.1:{pb}/"));
    let mut stranger = Background::spawn(std::process::Command::new(&python).args([
        "-c",
        "import signal, socket, sys\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\nsignal.pause()",
        &pb.to_string(),
    ]));
    wait_until("the stranger listens", DEADLINE, || accepting(pb));
    let run = env.run(&["up"]).code(1).one_error_line();
    assert_eq!(
        run.stderr,
        format!(
            "rdaemon: {file}:{line}: b: port {pb} is already in use by pid {} (python3)\n",
            stranger.pid()
        ),
        "{}",
        run.dump()
    );
    assert_none_started(&env, &["a", "b"], &mark, &run);
    stranger.child().kill().unwrap();
    stranger.child().wait().unwrap();

    // The port free: both start, and hold their ports.
    env.run(&["up"]).ok();
    let (a, b) = (env.pid_of("a"), env.pid_of("b"));
    assert!(accepting(pa) && accepting(pb));
    // Again, unchanged: each port is held by its own daemon, which is left alone.
    env.run(&["up"])
        .ok()
        .stdout_has("a is up to date")
        .stdout_has("b is up to date");
    assert_eq!((env.pid_of("a"), env.pid_of("b")), (a, b));
    // Edited: a's running self holds its port until its restart stops it.
    let edited = fs::read_to_string(env.path("rdaemon.toml"))
        .unwrap()
        .replace(
            "[daemons.a]\n",
            "[daemons.a]\nenv = { LEVEL = \"debug\" }\n",
        );
    fs::write(env.path("rdaemon.toml"), edited).unwrap();
    let run = env
        .run(&["up"])
        .ok()
        .stdout_has(&format!("stopped a (pid {a})"))
        .stdout_has("b is up to date");
    let new = env.pid_of("a");
    assert_ne!(new, a, "{}", run.dump());
    assert!(alive(new) && accepting(pa));
    env.run(&["down"]).ok();
    wait_dead(new);
    wait_dead(b);
}

/// Two entries whose readiness waits on one port of this machine cannot both be ready: only one
/// can listen there. Refused before anything starts (exit 1, `start`'s for a busy port), naming
/// both with their lines; here `tcp:` and `http:` on the same port. Only the entries `up` is
/// asked for count: `up a` alone starts a, and a plain `up` is then refused without touching it.
#[test]
fn two_entries_waiting_on_one_port_start_nothing() {
    let Some((env, python, mark)) = server_world("two_entries_waiting_on_one_port_start_nothing")
    else {
        return;
    };
    let py = python.to_str().unwrap();
    let port = free_port();
    let text = [
        server_entry("a", py, port, &mark, &format!("tcp:{port}")),
        server_entry(
            "b",
            py,
            port,
            &mark,
            &format!("http:http://127.0.0.1:{port}/"),
        ),
    ]
    .concat();
    fs::write(env.path("rdaemon.toml"), &text).unwrap();
    let file = env.path("rdaemon.toml").display().to_string();
    let (line_a, line_b) = (
        line_with(&text, &format!("ready = \"tcp:{port}\"")),
        line_with(&text, "ready = \"http:"),
    );
    let refusal = format!(
        "rdaemon: {file}:{line_b}: b: port {port} is also the one a waits on to be ready (line {line_a}): only one of them can listen on it\n"
    );
    let run = env.run(&["up"]).code(1).one_error_line();
    assert_eq!(run.stderr, refusal, "{}", run.dump());
    assert_none_started(&env, &["a", "b"], &mark, &run);

    env.run(&["up", "a"]).ok().stdout_has("started a");
    let a = env.pid_of("a");
    let run = env.run(&["up"]).code(1).one_error_line();
    assert_eq!(run.stderr, refusal, "{}", run.dump());
    assert_eq!(env.pid_of("a"), a);
    assert!(alive(a));
    assert!(!env.path("b.pid").exists() && !env.path("b.json").exists());
    assert_eq!(env.track_marked(&mark), vec![a], "{}", run.dump());
    env.run(&["down"]).ok();
    wait_dead(a);
}

/// Ctrl-C on the terminal (to `down` and its stops) or a SIGTERM to `down` alone (a `timeout`,
/// a CI cancel) while `down` waits for a stop: the stop ends as an interrupted stop does and
/// says the daemon still runs; `down` waits for it, prints what it said, stops nothing more,
/// and exits 130 or 143 (before, `down` died of the signal, and the stop's words went with
/// it; then, helper-85's review, a SIGTERM to `down` alone waited out the whole stop and
/// exited 0).
#[test]
fn an_interrupted_down_shows_what_its_stops_said() {
    use nix::sys::signal::Signal::{SIGINT, SIGTERM};
    for (sig, to_group, code) in [(SIGINT, true, 130), (SIGTERM, false, 143)] {
        let env = Env::new();
        fs::write(
            env.path("rdaemon.toml"),
            "[daemons.db]\nrun = \"trap '' TERM; exec sleep 1000\"\n\n\
             [daemons.web]\nrun = \"exec sleep 1000\"\nafter = [\"db\"]\n",
        )
        .unwrap();
        env.run(&["up"]).ok();
        let (db, web) = (env.pid_of("db"), env.pid_of("web"));
        env.track(db);
        env.track(web);
        let down = in_its_own_group(&env, "down");
        // web goes first; then db, which ignores SIGTERM, is waited for.
        wait_until("down waits for db", DEADLINE, || {
            !alive(web) && env.record("db")["wanted"] == "stopped"
        });
        let who = nix::unistd::Pid::from_raw(down.pid());
        match to_group {
            true => nix::sys::signal::killpg(who, sig).unwrap(),
            false => nix::sys::signal::kill(who, sig).unwrap(),
        }
        let out = down.output_within(DEADLINE, "the interrupted down ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{sig}: {stdout}{stderr}");
        assert!(stdout.contains("stopped web"), "{stdout}");
        // Whether the signal came before the stop's first signal or after: db still runs.
        assert!(
            stderr.contains(&format!("interrupted by {sig}"))
                && stderr.contains(&format!("it still runs (pid {db}), wanted running")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "interrupted by {sig}; 1 of 2 daemons failed or were not stopped: db"
            )),
            "{stderr}"
        );
        assert!(alive(db));
        assert_eq!(env.record("db")["wanted"], "running");
        env.run(&["stop", "db", "--timeout", "100ms"]).ok();
    }
}

/// An up file larger than 4 MiB is not read into memory (helper-106: a 1 GiB sparse file took
/// 2.1 GB and 16 s before its TOML error).
#[test]
fn a_huge_up_file_is_refused_unread() {
    let env = Env::new();
    let big = fs::File::create(env.path("big.toml")).unwrap();
    big.set_len(5 << 20).unwrap();
    env.run(&["up", "-f", "big.toml"])
        .code(1)
        .stderr_has("it is larger than 4 MiB");
    env.run(&["status", "--file", "big.toml"])
        .code(1)
        .stderr_has("it is larger than 4 MiB");
}

/// A user's up file that is a symlink (`rdaemon.toml -> rdaemon.prod.toml`) is read, by `up`,
/// `down` and `--file`, as before the file came to be opened without following a symlink
/// (helper-107's review: "Too many symbolic links encountered" for every user but root).
#[test]
fn a_users_linked_up_file_is_read() {
    let test = "a_users_linked_up_file_is_read";
    if root_and_nobody(test).is_none() {
        return;
    }
    let env = Env::new();
    open_dir(&env);
    let proj = env.path("proj");
    fs::create_dir(&proj).unwrap();
    let bin = proj.join("rdaemon");
    copy_executable(assert_cmd::cargo::cargo_bin!("rdaemon"), &bin);
    let secs = unique_secs();
    fs::write(
        proj.join("rdaemon.prod.toml"),
        format!("[daemons.nbweb]\ncommand = [\"sleep\", \"{secs}\"]\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink("rdaemon.prod.toml", proj.join("rdaemon.toml")).unwrap();
    for name in ["", "rdaemon.prod.toml", "rdaemon.toml"] {
        std::os::unix::fs::lchown(proj.join(name), Some(65534), Some(65534)).unwrap();
    }
    let nobody = |args: &[&str]| {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .arg("--dir")
            .arg(proj.join("d"))
            .args(args)
            .current_dir(&proj)
            .output()
            .unwrap();
        env.track_marked(&secs);
        out
    };
    let up = nobody(&["up"]);
    assert_eq!(up.status.code(), Some(0), "{up:?}");
    assert_eq!(env.track_marked(&secs).len(), 1);
    let status = nobody(&["status", "--file", "rdaemon.toml"]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let down = nobody(&["down"]);
    assert_eq!(down.status.code(), Some(0), "{down:?}");
    wait_until("nbweb is gone", DEADLINE, || {
        env.track_marked(&secs).is_empty()
    });
}

/// `--file` acts in `up`'s order: `restart --file` brings back what a daemon comes after before
/// it, `stop --file` stops dependents first, as `down` does (helper-108's trial: by name).
#[test]
fn file_commands_follow_the_after_order() {
    let env = Env::new();
    fs::write(
        env.path("rdaemon.toml"),
        "[daemons.web]\nrun = \"exec sleep 1000\"\nafter = [\"api\"]\n\
         [daemons.api]\nrun = \"exec sleep 1000\"\nafter = [\"db\"]\n\
         [daemons.db]\nrun = \"exec sleep 1000\"\n",
    )
    .unwrap();
    env.run(&["up"]).ok();
    let at = |text: &str, line: &str| {
        text.find(line)
            .unwrap_or_else(|| panic!("no {line:?} in {text}"))
    };
    let run = env.run(&["restart", "--file", "rdaemon.toml"]).ok();
    let out = &run.stdout;
    assert!(
        at(out, "started db") < at(out, "started api")
            && at(out, "started api") < at(out, "started web"),
        "{}",
        run.dump()
    );
    let run = env.run(&["stop", "--file", "rdaemon.toml"]).ok();
    let out = &run.stdout;
    assert!(
        at(out, "stopped web") < at(out, "stopped api")
            && at(out, "stopped api") < at(out, "stopped db"),
        "{}",
        run.dump()
    );
}

/// helper-121's trial: a running daemon's pidfile overwritten (`abc`) stayed so after `up`
/// ("web is up to date") and `resurrect` ("already running"), while `status` warned of it and
/// only `start` wrote it again. Both write it again now, as `start` does.
#[test]
fn up_and_resurrect_write_a_running_daemons_pidfile_again() {
    let env = Env::new();
    let secs = unique_secs();
    fs::write(
        env.path("rdaemon.toml"),
        format!("[daemons.web]\ncommand = [\"sleep\", \"{secs}\"]\n"),
    )
    .unwrap();
    env.run(&["up"]).ok();
    let pid = env.pid_of("web");
    let pidfile = env.path("web.pid");
    fs::write(&pidfile, "abc\n").unwrap();
    env.run(&["up"]).ok().stdout_has("web is up to date");
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string()
    );
    fs::write(&pidfile, "abc\n").unwrap();
    env.run(&["resurrect"])
        .ok()
        .stdout_has(&format!("web is already running (pid {pid})"));
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string()
    );
    env.run(&["status", "web"]).ok();
}

/// helper-126's review: an entry's `limit` array not in the order of the resources' names came
/// back from the spec file in that order (a map), unequal to the entry's, and every `up`
/// restarted the unchanged entry ("stopped a", "started a").
#[test]
fn an_entry_with_limits_in_any_order_is_up_to_date() {
    let env = Env::new();
    let secs = unique_secs();
    fs::write(
        env.path("rdaemon.toml"),
        format!(
            "[daemons.lim]\ncommand = [\"sleep\", \"{secs}\"]\nlimit = [\"nofile=1024\", \"core=0\", \"cpu=unlimited\"]\n"
        ),
    )
    .unwrap();
    env.run(&["up"]).ok().stdout_has("started lim (pid ");
    let pid = env.pid_of("lim");
    let run = env.run(&["up"]).ok().stdout_has("lim is up to date");
    assert!(!run.stdout.contains("stopped lim"), "{}", run.dump());
    assert_eq!(env.pid_of("lim"), pid);
    assert_eq!(env.track_marked(&secs), [pid]);
}

/// Runs `up ARGS`, which must be refused (exit 1) with the one line `rdaemon: FILE:MESSAGE`,
/// FILE the test's `rdaemon.toml`, `{dir}` in `message` the real path of its directory.
fn assert_up_refused(env: &Env, args: &[&str], message: &str) -> Run {
    let run = env.run(&[&["up"], args].concat()).code(1).one_error_line();
    let file = env.path("rdaemon.toml").display().to_string();
    let dir = env.dir().canonicalize().unwrap();
    let message = message.replace("{dir}", dir.to_str().unwrap());
    assert_eq!(
        run.stderr,
        format!("rdaemon: {file}:{message}\n"),
        "{}",
        run.dump()
    );
    run
}

/// helper-126's review: two entries with one pidfile, waiting for nothing, were started at once;
/// each `start` found the pidfile free, both daemons ran, and the pidfile named only the one
/// written last. Refused before anything starts, naming both, as two entries waiting on one
/// port are.
#[test]
fn two_entries_with_one_pidfile_start_nothing() {
    let env = Env::new();
    let secs = unique_secs();
    fs::write(
        env.path("rdaemon.toml"),
        format!(
            "[daemons.one]\ncommand = [\"sleep\", \"{secs}\"]\npidfile = \"shared.pid\"\n\n[daemons.two]\ncommand = [\"sleep\", \"{secs}\"]\n\npidfile = \"shared.pid\"\n"
        ),
    )
    .unwrap();
    let run = assert_up_refused(
        &env,
        &[],
        "8: two: pidfile '{dir}/shared.pid' is also one's (line 3): give each daemon a pidfile of its own",
    );
    assert!(env.track_marked(&secs).is_empty(), "{}", run.dump());
    assert!(!env.path("one.json").exists() && !env.path("two.json").exists());
    // One of them up, then the other added: refused too, the running one left alone.
    fs::write(
        env.path("rdaemon.toml"),
        format!("[daemons.one]\ncommand = [\"sleep\", \"{secs}\"]\npidfile = \"shared.pid\"\n"),
    )
    .unwrap();
    env.run(&["up"]).ok();
    let one = env.track_marked(&secs);
    assert_eq!(one.len(), 1);
    fs::write(
        env.path("rdaemon.toml"),
        format!(
            "[daemons.one]\ncommand = [\"sleep\", \"{secs}\"]\npidfile = \"shared.pid\"\n\n[daemons.two]\ncommand = [\"sleep\", \"{secs}\"]\n\npidfile = \"shared.pid\"\n"
        ),
    )
    .unwrap();
    env.run(&["up"])
        .code(1)
        .one_error_line()
        .stderr_has("two: pidfile '");
    assert_eq!(env.track_marked(&secs), one);
    assert_eq!(
        fs::read_to_string(env.path("shared.pid")).unwrap().trim(),
        one[0].to_string()
    );
    // The running one up to date and the new entry before it in the file: the one refused is
    // the one `up` would start, at its line (helper-131's review: since one rule decides, the
    // entry named is the one to start, not the later in the file).
    fs::write(
        env.path("rdaemon.toml"),
        format!(
            "[daemons.zero]\ncommand = [\"sleep\", \"{secs}\"]\npidfile = \"shared.pid\"\n\n[daemons.one]\ncommand = [\"sleep\", \"{secs}\"]\npidfile = \"shared.pid\"\n"
        ),
    )
    .unwrap();
    assert_up_refused(
        &env,
        &[],
        "3: zero: pidfile '{dir}/shared.pid' is also one's (line 7): give each daemon a pidfile of its own",
    );
    assert_eq!(env.track_marked(&secs), one);
}

/// helper-126's review: two entries writing one log, each waiting for `log:ready`, started at
/// once; the first one's line made the second "ready" before its program said a word (and what
/// comes after it would have started). Two entries waiting for one `file:` are the same. Both
/// are refused before anything starts; with a log of its own, the second waits for its line.
#[test]
fn an_entry_whose_readiness_another_entry_can_meet_starts_nothing() {
    let env = Env::new();
    let secs = unique_secs();
    // `slow` says it is ready only once `go` exists: never, while the test looks.
    let shared = format!(
        "[daemons.fast]\nrun = \"echo fast is ready; exec sleep {secs}\"\nlog = \"all.log\"\nready = \"log:ready\"\n\n[daemons.slow]\nrun = \"until [ -e go ]; do sleep 0.01; done; echo slow is ready; exec sleep {secs}\"\nlog = \"all.log\"\nready = \"log:ready\"\nready-timeout = \"1s\"\n"
    );
    fs::write(env.path("rdaemon.toml"), &shared).unwrap();
    let run = assert_up_refused(
        &env,
        &[],
        "9: slow: ready = \"log:ready\" reads the log '{dir}/all.log', which fast writes too (line 3): a line of fast's would make slow ready; give slow a log of its own",
    );
    assert!(env.track_marked(&secs).is_empty(), "{}", run.dump());
    // Also when the other is not one `up` starts: it may run, and write there.
    assert_up_refused(
        &env,
        &["fast"],
        "4: fast: ready = \"log:ready\" reads the log '{dir}/all.log', which slow writes too (line 8): a line of slow's would make fast ready; give fast a log of its own",
    );
    assert!(env.track_marked(&secs).is_empty());
    // The other's log of its own (either is enough): `slow` is not ready on `fast`'s line (its
    // start times out).
    fs::write(
        env.path("rdaemon.toml"),
        shared.replacen("log = \"all.log\"", "log = \"fast.log\"", 1),
    )
    .unwrap();
    let run = env.run(&["up"]).code(1);
    assert!(
        run.stdout.contains("started fast (pid ") && !run.stdout.contains("started slow"),
        "{}",
        run.dump()
    );
    assert_eq!(env.track_marked(&secs).len(), 1, "{}", run.dump());
    env.run(&["down"]).ok();
    // One `file:` for two entries.
    fs::write(
        env.path("rdaemon.toml"),
        format!(
            "[daemons.one]\ncommand = [\"sleep\", \"{secs}\"]\nready = \"file:made\"\n\n[daemons.two]\ncommand = [\"sleep\", \"{secs}\"]\nready = \"file:made\"\n"
        ),
    )
    .unwrap();
    assert_up_refused(
        &env,
        &[],
        "7: two: the file '{dir}/made' it waits for to be ready is also the one one waits for (line 3): either program making it would make both ready",
    );
    assert!(env.track_marked(&secs).is_empty());
}

/// A log is in the way only of the entry whose `log:` readiness reads it (preflight's rule,
/// which `resurrect` follows too), wherever each stands in the file: another entry writing it,
/// added beside the running reader, starts; the reader, to be started beside it, is refused,
/// named though it comes first.
#[test]
fn a_shared_log_is_in_the_way_only_of_the_entry_waiting_on_it() {
    let env = Env::new();
    let secs = unique_secs();
    let reader = format!(
        "[daemons.r]\nrun = \"echo r is ready; exec sleep {secs}\"\nlog = \"all.log\"\nready = \"log:ready\"\n"
    );
    let writer =
        format!("\n[daemons.w]\nrun = \"echo w is ready; exec sleep {secs}\"\nlog = \"all.log\"\n");
    fs::write(env.path("rdaemon.toml"), &reader).unwrap();
    env.run(&["up"]).ok().stdout_has("started r (pid ");
    fs::write(env.path("rdaemon.toml"), format!("{reader}{writer}")).unwrap();
    let run = env.run(&["up"]).ok();
    let run = run
        .stdout_has("r is up to date")
        .stdout_has("started w (pid ");
    // w has no readiness: `up` returns once its shell runs, maybe before that shell execs sleep.
    wait_until(&format!("two sleeps\n{}", run.dump()), DEADLINE, || {
        env.track_marked(&secs).len() == 2
    });
    env.run(&["down"]).ok();
    let run = assert_up_refused(
        &env,
        &[],
        "4: r: ready = \"log:ready\" reads the log '{dir}/all.log', which w writes too (line 8): a line of w's would make r ready; give r a log of its own",
    );
    assert!(env.track_marked(&secs).is_empty(), "{}", run.dump());
}

/// helper-126's review: options `start` refuses together (`max-restarts` without `respawn`)
/// were found only in the entries `up` built a spec for: `up a` started a beside such an entry
/// b, and `down` took the file, which `up` refused (exit 2). A bad value is the file's, exit 2,
/// whatever the command acts on.
#[test]
fn a_bad_entry_is_the_files_error_for_every_command() {
    let env = Env::new();
    let secs = unique_secs();
    fs::write(
        env.path("rdaemon.toml"),
        format!(
            "[daemons.a]\ncommand = [\"sleep\", \"{secs}\"]\n\n[daemons.b]\ncommand = [\"sleep\", \"{secs}\"]\nmax-restarts = 3\n"
        ),
    )
    .unwrap();
    for args in [
        &["up", "a"][..],
        &["up"],
        &["down"],
        &["export", "systemd", "-f", "rdaemon.toml"],
    ] {
        env.run(args)
            .code(2)
            .one_error_line()
            .stderr_has(":6: b: --max-restarts works only in supervised mode");
    }
    assert!(env.track_marked(&secs).is_empty());
    assert!(!env.path("a.json").exists());
}

/// A warning of an entry's `start` names the entry: with several starting at once, `warning:
/// --ready file:x.ready is taken from this directory` said nothing of which (helper-126's
/// trial).
#[test]
fn a_warning_of_an_entrys_start_names_it() {
    let env = world(
        "[daemons.a]\nrun = \"touch ../a.ready; exec sleep 1000\"\nchdir = \"sub\"\nready = \"file:a.ready\"\n\
         [daemons.b]\ncommand = [\"sleep\", \"1001\"]\n",
    );
    fs::create_dir(env.path("sub")).unwrap();
    env.run(&["up"])
        .ok()
        .stderr_has("rdaemon: warning: a: --ready file:a.ready is taken from this directory, not from --chdir sub");
    env.run(&["down"]).ok();
}
