//! `rdaemon export systemd`: the unit is read back with a small parser that follows
//! systemd.syntax(7) and systemd.service(5) (always), and checked with `systemd-analyze verify`
//! when systemd is installed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use serde_json::{json, Value};

use crate::common::*;

/// A unit file as (section, key, value) triples, in order: `[Section]` headers, `Key=Value`
/// lines with white space around both trimmed, `#` and `;` comments, and a backslash at the
/// end of a line joining the next one.
fn parse_unit(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        if pending.is_empty() && (raw.starts_with('#') || raw.starts_with(';')) {
            continue;
        }
        if let Some(joined) = raw.strip_suffix('\\') {
            pending.push_str(joined);
            pending.push(' ');
            continue;
        }
        let line = format!("{pending}{raw}");
        pending.clear();
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a Key=Value line: {line:?}"));
        out.push((
            section.clone(),
            key.trim().to_owned(),
            value.trim().to_owned(),
        ));
    }
    out
}

/// The values of `key` in `section`.
fn values<'a>(unit: &'a [(String, String, String)], section: &str, key: &str) -> Vec<&'a str> {
    unit.iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// The single value of `key` in `[Service]`.
fn service<'a>(unit: &'a [(String, String, String)], key: &str) -> &'a str {
    match values(unit, "Service", key).as_slice() {
        [v] => v,
        other => panic!("expected one {key}= in [Service], found {other:?}"),
    }
}

/// systemd's word splitting with unquoting and C unescaping (systemd.service(5), "Command
/// lines"; `extract_first_word` with `EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE`).
fn split_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, c) if c.is_ascii_whitespace() => break,
                (_, '\\') => word.push(unescape(&mut chars)),
                (_, c) => word.push(c),
            }
        }
        assert!(quote.is_none(), "unbalanced quote in {value:?}");
        words.push(word);
    }
}

/// One C escape after a backslash; anything else is an error (systemd warns and ignores).
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    let c = chars.next().expect("a trailing backslash");
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
        let digits: String = (0..n).map(|_| chars.next().unwrap()).collect();
        char::from_u32(u32::from_str_radix(&digits, 16).unwrap()).unwrap()
    };
    match c {
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        's' => ' ',
        '\\' | '"' | '\'' => c,
        'x' => hex(chars, 2),
        'u' => hex(chars, 4),
        'U' => hex(chars, 8),
        other => panic!("unknown escape \\{other}"),
    }
}

/// `%%` → `%`; any other `%` would be a specifier systemd expands.
fn unspecify(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            assert_eq!(chars.next(), Some('%'), "unescaped specifier in {s:?}");
        }
        out.push(c);
    }
    out
}

/// `$$` → `$`; any other `$` would be expanded from the environment at exec time.
fn undollar(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '$' {
            assert_eq!(chars.next(), Some('$'), "unescaped variable in {s:?}");
        }
        out.push(c);
    }
    out
}

/// The argv systemd will execute for an `ExecStart=` value.
fn exec_argv(value: &str) -> Vec<String> {
    split_words(value)
        .iter()
        .map(|w| undollar(&unspecify(w)))
        .collect()
}

/// The argv of the unit's commented `#ExecStartPost=` suggestion, as systemd would run it once
/// uncommented.
fn suggested_wait(text: &str) -> Vec<String> {
    let suggestion = text
        .lines()
        .find_map(|l| l.strip_prefix("#ExecStartPost="))
        .unwrap_or_else(|| panic!("no suggestion in\n{text}"));
    exec_argv(suggestion)
}

/// Runs `systemd-analyze verify` on the unit when it is installed; `false` when skipped.
/// Every test that exports a unit checks it with this.
pub fn verify(env: &Env, name: &str, unit: &str) -> bool {
    let have = StdCommand::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        skip_optional(
            &format!("systemd-analyze verify of {name}"),
            "systemd-analyze is not installed (Debian: apt-get install systemd); the unit was checked by the parser only",
        );
        return false;
    }
    let dir = env.path("units");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.service"));
    fs::write(&path, unit).unwrap();
    let out = StdCommand::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Other units of the machine may draw warnings too; ours must draw none.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(&format!("{name}.service")))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify rejected the unit:\n{stderr}\n--- unit\n{unit}"
    );
    true
}

/// `sh -c HUP_IGNORED SECS`: `sleep SECS`, ignoring SIGHUP (so that a reload would not end
/// it, and `export` writes `ExecReload=` without a word).
const HUP_IGNORED: &str = "trap '' HUP; exec sleep \"$0\"";

fn export(env: &Env, name: &str) -> String {
    let run = env.run(&["export", "systemd", name]).ok();
    assert_eq!(run.stderr, "", "{}", run.dump());
    run.stdout
}

#[test]
fn exported_unit_runs_the_recorded_command_line() {
    let env = Env::new();
    let workdir = env.path("work dir");
    fs::create_dir(&workdir).unwrap();
    let out = env.path("out 100%.log");
    let err = env.path("err.log");
    let args = [
        // Ignoring HUP, the program may be reloaded: `ExecReload=` is written.
        "trap '' HUP; sleep 1000",
        "a b",
        "100%",
        "$HOME",
        "${HOME}",
        "say \"hi\"",
        "back\\slash",
        "",
        "it's",
        ";",
        "tab\there",
        "naïve",
    ];
    let mut argv = vec![
        "start",
        "--name",
        "tricky",
        "--chdir",
        workdir.to_str().unwrap(),
        "--umask",
        "027",
        "--env",
        "GREETING=hello world",
        "--env",
        "PCT=100% \"quoted\" $NOT_EXPANDED",
        "--stdout",
        out.to_str().unwrap(),
        "--stderr",
        err.to_str().unwrap(),
        "--",
        "sh",
        "-c",
    ];
    argv.extend(args);
    env.run(&argv).ok();
    // `start` returns once the shell runs, maybe before its `trap`.
    wait_ignores(env.pid_of("tricky"), nix::libc::SIGHUP);
    let text = export(&env, "tricky");
    let unit = parse_unit(&text);
    let record = env.record("tricky");

    let exec = exec_argv(service(&unit, "ExecStart"));
    let program = Path::new(&exec[0]);
    assert!(program.is_absolute() && program.ends_with("sh"), "{exec:?}");
    assert_eq!(
        fs::canonicalize(program).unwrap(),
        fs::canonicalize(which("sh")).unwrap()
    );
    let mut expected = vec!["-c".to_owned()];
    expected.extend(args.iter().map(|s| s.to_string()));
    assert_eq!(&exec[1..], expected.as_slice(), "{text}");
    assert_eq!(record["command"][0], "sh");

    assert_eq!(service(&unit, "Type"), "exec");
    assert_eq!(
        unspecify(service(&unit, "WorkingDirectory")),
        workdir.to_str().unwrap()
    );
    assert_eq!(service(&unit, "UMask"), "0027");
    let environment: BTreeMap<String, String> = values(&unit, "Service", "Environment")
        .iter()
        .flat_map(|v| split_words(v))
        .map(|w| {
            let w = unspecify(&w);
            let (k, v) = w.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let recorded: BTreeMap<String, String> = serde_json::from_value(record["env"].clone()).unwrap();
    assert_eq!(environment, recorded);
    assert_eq!(
        unspecify(service(&unit, "StandardOutput")),
        format!("append:{}", out.display())
    );
    assert_eq!(
        unspecify(service(&unit, "StandardError")),
        format!("append:{}", err.display())
    );
    assert!(values(&unit, "Service", "Restart").is_empty());
    assert!(values(&unit, "Service", "User").is_empty());
    assert_eq!(values(&unit, "Install", "WantedBy"), ["multi-user.target"]);
    assert!(
        text.contains("written by `rdaemon export systemd tricky`"),
        "{text}"
    );
    verify(&env, "tricky", &text);
}

fn which(program: &str) -> String {
    let out = StdCommand::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Starts and stops `name`, then rewrites its record with `changes`, as supervised mode,
/// readiness and `--user` will record them.
fn recorded(env: &Env, name: &str, changes: Value) {
    env.start(name, &["sleep", "1000"]);
    env.run(&["stop", name]).ok();
    let mut record = env.record(name);
    for (k, v) in changes.as_object().unwrap() {
        record[k] = v.clone();
    }
    fs::write(
        env.path(&format!("{name}.json")),
        serde_json::to_vec_pretty(&record).unwrap(),
    )
    .unwrap();
}

#[test]
fn limits_and_kill_mode_map_to_systemd() {
    let env = Env::new();
    recorded(
        &env,
        "lim",
        serde_json::json!({"memory_max": 268435456u64, "tasks_max": 64}),
    );
    let text = export(&env, "lim");
    let unit = parse_unit(&text);
    assert_eq!(service(&unit, "MemoryMax"), "268435456");
    assert_eq!(service(&unit, "TasksMax"), "64");
    assert_eq!(service(&unit, "KillMode"), "control-group");
    verify(&env, "lim", &text);
    // Without limits: no MemoryMax= or TasksMax= at all.
    recorded(&env, "free", serde_json::json!({}));
    let unit = parse_unit(&export(&env, "free"));
    assert!(values(&unit, "Service", "MemoryMax").is_empty());
    assert!(values(&unit, "Service", "TasksMax").is_empty());
    assert_eq!(service(&unit, "KillMode"), "control-group");
}

#[test]
fn respawn_mode_restarts_always_by_default() {
    let env = Env::new();
    env.run(&["start", "--name", "sup", "--respawn", "--", "sleep", "1000"])
        .ok();
    env.run(&["stop", "sup"]).ok();
    let text = export(&env, "sup");
    let unit = parse_unit(&text);
    assert_eq!(
        service(&unit, "Restart"),
        "always",
        "--restart always, the default"
    );
    assert_eq!(service(&unit, "RestartSec"), "1s", "the default delay");
    assert_eq!(values(&unit, "Unit", "StartLimitBurst"), ["6"]);
    assert_eq!(values(&unit, "Unit", "StartLimitIntervalSec"), ["60s"]);
    verify(&env, "sup", &text);

    env.run(&[
        "start",
        "--name",
        "slow",
        "--respawn",
        "--restart-delay",
        "3s",
        "--max-restarts",
        "2",
        "--restart-window",
        "10m",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    env.run(&["stop", "slow"]).ok();
    let unit = parse_unit(&export(&env, "slow"));
    assert_eq!(service(&unit, "RestartSec"), "3s");
    assert_eq!(values(&unit, "Unit", "StartLimitBurst"), ["3"]);
    assert_eq!(values(&unit, "Unit", "StartLimitIntervalSec"), ["600s"]);
    assert!(values(&unit, "Service", "RestartForceExitStatus").is_empty());
}

/// A user trial: rdaemon's `--restart on-failure` restarts after any signal, SIGTERM included;
/// systemd's `Restart=on-failure` leaves SIGHUP, SIGINT, SIGTERM and SIGPIPE alone unless told.
#[test]
fn respawn_on_failure_restarts_after_every_signal_under_systemd_too() {
    let env = Env::new();
    env.run(&[
        "start",
        "--name",
        "onf",
        "--respawn",
        "--restart",
        "on-failure",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    env.run(&["stop", "onf"]).ok();
    let text = export(&env, "onf");
    let unit = parse_unit(&text);
    assert_eq!(service(&unit, "Restart"), "on-failure");
    assert_eq!(
        service(&unit, "RestartForceExitStatus"),
        "SIGHUP SIGINT SIGTERM SIGPIPE"
    );
    verify(&env, "onf", &text);
}

/// A user trial: `export systemd NAME` of a daemon of an `up` file dropped the `after` its spec
/// keeps; `-f FILE` had it. Its unit is ordered after, and requires, those daemons' units.
#[test]
fn export_of_one_daemon_keeps_its_after() {
    let env = Env::new();
    fs::write(
        env.path("rdaemon.toml"),
        "[daemons.db]\ncommand = [\"sleep\", \"1000\"]\n[daemons.web]\ncommand = [\"sleep\", \"1000\"]\nafter = [\"db\"]\n",
    )
    .unwrap();
    env.run(&["up"]).ok();
    env.run(&["down"]).ok();
    let unit = parse_unit(&export(&env, "web"));
    assert_eq!(values(&unit, "Unit", "After"), ["db.service"]);
    assert_eq!(values(&unit, "Unit", "Requires"), ["db.service"]);
    assert_eq!(values(&unit, "Install", "WantedBy"), ["multi-user.target"]);
    let unit = parse_unit(&export(&env, "db"));
    assert!(values(&unit, "Unit", "After").is_empty());
    // From the file, with the daemons down, no program is looked at, and the comment says so,
    // not that the program was not running (helper-98's trial).
    let run = env
        .run(&["export", "systemd", "-f", "rdaemon.toml"])
        .ok()
        .stdout_has("# Not checked (exported from the file, no program was looked at)");
    assert!(
        !run.stdout.contains("the program was not running"),
        "{}",
        run.stdout
    );
    // Up, each entry's program is looked at, as for one daemon (helper-112's trial: `-f`
    // wrote an `ExecReload=` that would have ended a running program). `sleep` has no
    // handler for SIGHUP: the line is commented out, and a warning says so.
    env.run(&["up"]).ok();
    let run = env
        .run(&["export", "systemd", "-f", "rdaemon.toml"])
        .ok()
        .stderr_has("warning: web: ExecReload= is commented out: the program (pid ")
        .stderr_has("warning: db: ExecReload= is commented out");
    assert_eq!(
        run.stdout
            .matches("\n#ExecReload=/bin/kill -HUP $MAINPID\n")
            .count(),
        2,
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("\nExecReload="), "{}", run.stdout);
    env.run(&["down"]).ok();
}

#[test]
fn readiness_and_credentials() {
    let env = Env::new();
    recorded(
        &env,
        "note",
        json!({"ready": "notify", "user": "daemon", "group": "daemon"}),
    );
    let text = export(&env, "note");
    let unit = parse_unit(&text);
    assert_eq!(service(&unit, "Type"), "notify");
    assert_eq!(service(&unit, "NotifyAccess"), "all");
    assert_eq!(service(&unit, "TimeoutStartSec"), "30s");
    assert_eq!(service(&unit, "User"), "daemon");
    assert_eq!(service(&unit, "Group"), "daemon");
    assert!(!text.contains("Type=notify-reload"), "{text}");
    verify(&env, "note", &text);

    recorded(&env, "port", json!({"ready": "tcp:127.0.0.1:8080"}));
    let text = export(&env, "port");
    let unit = parse_unit(&text);
    assert_eq!(service(&unit, "Type"), "exec");
    assert!(values(&unit, "Service", "ExecStartPost").is_empty());
    // The suggested wait, once uncommented, is a valid command line for the same check.
    let argv = suggested_wait(&text);
    assert_eq!(argv[0], "/bin/bash");
    assert_eq!(&argv[argv.len() - 2..], ["127.0.0.1", "8080"]);
    assert!(argv[2].contains("/dev/tcp/\"$1\"/\"$2\""), "{argv:?}");
    verify(
        &env,
        "port",
        &text.replace("#ExecStartPost=", "ExecStartPost="),
    );
}

#[test]
fn export_names_the_daemon_like_the_other_commands() {
    let env = Env::new();
    env.run(&["export", "systemd"])
        .code(1)
        .one_error_line()
        .stderr_has("no daemons");
    env.run(&["export", "systemd", "ghost"])
        .code(1)
        .one_error_line()
        .stderr_has("ghost");
    env.run(&["export", "upstart", "x"])
        .code(2)
        .stderr_has("rdaemon: invalid value 'upstart'")
        .stderr_has("possible values: systemd");
    env.run(&["export", "systemd", "../x"])
        .code(2)
        .one_error_line();
    fs::write(env.path("other.pid"), "12345\n").unwrap();
    env.run(&[
        "export",
        "systemd",
        "--pidfile",
        env.path("other.pid").to_str().unwrap(),
    ])
    .code(1)
    .one_error_line()
    .stderr_has("no record");

    env.start("only", &["sleep", "1000"]);
    let bare = env.run(&["export", "systemd"]).ok().stdout;
    assert!(bare.contains("Description=only "), "{bare}");
    let by_option = env
        .run(&["export", "systemd", "--name", "only"])
        .ok()
        .stdout;
    assert_eq!(bare, by_option);
    env.start("second", &["sleep", "1000"]);
    env.run(&["export", "systemd"])
        .code(2)
        .one_error_line()
        .stderr_has("only, second");
}

/// Attack of 2026-12-02: a `--user` daemon's log and env file in that user's directory. rdaemon
/// opens them with the user's rights; a system unit would have systemd open them as root,
/// following the user's symbolic links. The export says so for each, and for nothing else.
#[test]
fn export_warns_of_files_systemd_would_open_as_root_in_another_users_directory() {
    let test = "export_warns_of_files_systemd_would_open_as_root_in_another_users_directory";
    let Some(nobody) = root_and_nobody(test) else {
        return;
    };
    let env = Env::new();
    open_dir(&env);
    let theirs = env.path("theirs");
    fs::create_dir(&theirs).unwrap();
    nix::unistd::chown(&theirs, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let log = theirs.join("d.log");
    let envfile = theirs.join("app.env");
    fs::write(&envfile, "FOO=1\n").unwrap();
    nix::unistd::chown(&envfile, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let secs = unique_secs();
    // Starts NAME with the log and env file (and options), and requires `export` to warn of
    // both, and of nothing else.
    let warned_of_both = |name: &str, options: &[&str], log: &Path, envfile: &Path| {
        let (log_s, env_s) = (log.to_str().unwrap(), envfile.to_str().unwrap());
        let mut args = vec!["start", "--name", name, "--log", log_s, "--env-file", env_s];
        args.extend(options);
        args.extend(["--", "sh", "-c", HUP_IGNORED, &secs]);
        env.run(&args).ok();
        wait_ignores(env.pid_of(name), nix::libc::SIGHUP);
        let said = "lies in a directory another user can change or create files in: systemd opens it as root";
        let run = env
            .run(&["export", "systemd", name])
            .ok()
            .stderr_has(&format!("{name}: its log '{log_s}' {said}"))
            .stderr_has(&format!("{name}: its env file '{env_s}' {said}"));
        assert_eq!(run.stderr.lines().count(), 2, "{}", run.dump());
        env.run(&["stop", name]).ok();
    };
    warned_of_both("ex", &["--user", "nobody"], &log, &envfile);
    // A root daemon's files in a sticky directory anyone may create names in (as /tmp):
    // rdaemon refuses another user's file there, systemd would not (helper-119).
    let sticky = env.path("tmp");
    fs::create_dir(&sticky).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let (log, envfile) = (sticky.join("r.log"), sticky.join("r.env"));
    fs::write(&envfile, "MODE=prod\n").unwrap();
    warned_of_both("rootd", &[], &log, &envfile);
    // Logs in rdaemon's own directory: nothing to say.
    wait_ignores(
        env.start("mine", &["sh", "-c", HUP_IGNORED, &secs]),
        nix::libc::SIGHUP,
    );
    export(&env, "mine");
    env.run(&["stop", "mine"]).ok();
}

/// Values shown in the unit's comments (`--ready cmd:`, `--health`, `--on-exit`) cannot start
/// a line of their own: systemd ends a line at a newline and at a carriage return alike, and
/// the rest of the value was read as a setting (review, 2026-12-02: `User=` from a `--health`
/// value). Settings mean what rdaemon's do: `--stop-timeout 0` (KILL at once) is not systemd's
/// `TimeoutStopSec=0` (never), and `PIDFile=` expands `%` as every other path does.
#[test]
fn export_values_start_no_setting_and_mean_what_rdaemon_does() {
    let env = Env::new();
    let ready = "cmd:true\nExecStartPre=/bin/true";
    env.run(&[
        "start", "--name", "nl", "--ready", ready, "--", "sleep", "1000",
    ])
    .ok();
    env.run(&["stop", "nl"]).ok();
    let args = [
        "start",
        "--name",
        "cr",
        "--respawn",
        "--health",
        "cmd:true\rUser=nonexistentuser",
        "--on-exit",
        "true\rGroup=nonexistentgroup",
        "--stop-timeout",
        "0",
        "--",
        "sleep",
        "1000",
    ];
    env.run(&args).ok();
    env.run(&["stop", "cr"]).ok();
    for (name, planted) in [("nl", "ExecStartPre"), ("cr", "User"), ("cr", "Group")] {
        let text = export(&env, name);
        assert!(!text.contains('\r'), "{text}");
        let unit = parse_unit(&text);
        assert!(values(&unit, "Service", planted).is_empty(), "{text}");
        assert!(values(&unit, "Unit", planted).is_empty(), "{text}");
        verify(&env, name, &text);
    }
    let text = export(&env, "nl");
    assert!(
        text.contains("(--ready cmd:true\\nExecStartPre=/bin/true)."),
        "{text}"
    );
    let text = export(&env, "cr");
    assert!(
        text.contains("--health cmd:true\\rUser=nonexistentuser every"),
        "{text}"
    );
    assert_eq!(service(&parse_unit(&text), "TimeoutStopSec"), "1us");

    recorded(
        &env,
        "fk",
        json!({"forking": true, "program_pidfile": true, "pidfile": "/run/a%b.pid"}),
    );
    let text = export(&env, "fk");
    assert_eq!(service(&parse_unit(&text), "PIDFile"), "/run/a%%b.pid");
    // rdaemon's 30 s for the launch, not systemd's 90 s.
    assert_eq!(service(&parse_unit(&text), "TimeoutStartSec"), "30s");
}

/// `ExecReload=` sends the reload signal as `rdaemon reload` would, and rdaemon refuses to send
/// one that would end the program: for a running program that does not handle it, the line is
/// commented out, with a warning (review, 2026-12-02: `systemctl reload` killed `sleep`). A
/// program that handles (here: ignores) it, or one not running, gets the line.
#[test]
fn export_comments_out_a_reload_that_would_end_the_running_program() {
    let env = Env::new();
    env.start("plain", &["sleep", "1000"]);
    let run = env
        .run(&["export", "systemd", "plain"])
        .ok()
        .stderr_has("plain: ExecReload= is commented out: the program (pid");
    let unit = parse_unit(&run.stdout);
    assert!(
        values(&unit, "Service", "ExecReload").is_empty(),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("\n#ExecReload=/bin/kill -HUP $MAINPID\n"));
    verify(&env, "plain", &run.stdout);
    wait_ignores(
        env.start("hup", &["sh", "-c", "trap '' HUP; exec sleep 1000"]),
        nix::libc::SIGHUP,
    );
    let unit = parse_unit(&export(&env, "hup"));
    assert_eq!(service(&unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    env.run(&["stop", "plain"]).ok();
    let text = export(&env, "plain");
    assert_eq!(
        service(&parse_unit(&text), "ExecReload"),
        "/bin/kill -HUP $MAINPID"
    );
    // Not running: not checked, and the unit says so.
    assert!(
        text.contains(
            "\n# Not checked (the program was not running): without a handler for SIGHUP,\n"
        ),
        "{text}"
    );
    env.run(&["stop", "hup"]).ok();
}

/// A `--user` daemon's program found in a PATH directory of root's that the user cannot reach,
/// and in another the user can: `start` runs the user's (as the user's own `execvp` would),
/// and the export names that one, not root's (user trial, 2026-12-03:
/// `ExecStart=/root/.pyenv/shims/python3` with `User=nobody`, a unit that cannot start).
#[test]
fn export_names_the_program_the_daemons_user_runs() {
    let test = "export_names_the_program_the_daemons_user_runs";
    if root_and_nobody(test).is_none() {
        return;
    }
    let env = Env::new();
    open_dir(&env);
    let (private, public) = (env.path("private"), env.path("public"));
    for (dir, mode) in [(&private, 0o700), (&public, 0o755)] {
        fs::create_dir(dir).unwrap();
        let prog = dir.join("rdaemon-test-prog");
        fs::write(&prog, "#!/bin/sh\ntrap '' HUP\nexec sleep \"$1\"\n").unwrap();
        fs::set_permissions(
            &prog,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .unwrap();
        fs::set_permissions(
            dir,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(mode),
        )
        .unwrap();
    }
    let path = format!(
        "PATH={}:{}:/usr/bin:/bin",
        private.display(),
        public.display()
    );
    env.run(&[
        "start",
        "--name",
        "pp",
        "--user",
        "nobody",
        "--env",
        &path,
        "--",
        "rdaemon-test-prog",
        &unique_secs(),
    ])
    .ok();
    let pid = env.pid_of("pp");
    env.track(pid);
    wait_ignores(pid, nix::libc::SIGHUP);
    let ran = public.join("rdaemon-test-prog").display().to_string();
    let unit = parse_unit(&export(&env, "pp"));
    let exec_start = service(&unit, "ExecStart");
    assert!(exec_start.starts_with(&format!("{ran} ")), "{exec_start}");
    env.run(&["stop", "pp"]).ok();
}

/// What a Nomad `raw_exec` task has no field for is kept in its `Meta`, not dropped without a
/// word (user trial, 2026-12-03: env files, limits, nice, OOM score, group, reload signal and
/// the restart policy were missing).
#[test]
fn export_nomad_keeps_what_it_cannot_map_in_meta() {
    let env = Env::new();
    let envfile = env.path("app.env");
    fs::write(&envfile, "FOO=1\n").unwrap();
    env.run(&[
        "start",
        "--name",
        "full",
        "--respawn",
        "--restart",
        "on-failure",
        "--on-exit",
        "true",
        "--env-file",
        envfile.to_str().unwrap(),
        "--limit",
        "nofile=4096",
        "--nice",
        "5",
        "--oom-score-adj",
        "100",
        "--reload-signal",
        "USR1",
        "--",
        "sleep",
        &unique_secs(),
    ])
    .ok();
    env.track(env.record("full")["pid"].as_i64().unwrap() as i32);
    env.track(env.record("full")["child_pid"].as_i64().unwrap() as i32);
    let run = env.run(&["export", "nomad", "full"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let meta = &doc["Job"]["TaskGroups"][0]["Tasks"][0]["Meta"];
    assert!(
        meta["rdaemon_env_file"]
            .as_str()
            .is_some_and(|v| v.starts_with(&format!("{}:", envfile.display()))),
        "{meta}"
    );
    assert_eq!(meta["rdaemon_limits"], "nofile=4096:4096", "{meta}");
    assert_eq!(meta["rdaemon_nice"], "5");
    assert_eq!(meta["rdaemon_oom_score_adj"], "100");
    assert_eq!(meta["rdaemon_reload_signal"], "USR1");
    assert!(
        meta["rdaemon_restart"]
            .as_str()
            .is_some_and(|v| v.starts_with("on-failure:")),
        "{meta}"
    );
    assert_eq!(meta["rdaemon_on_exit"], "true");
    env.run(&["stop", "full"]).ok();
}

/// helper-112's trial: a `--respawn --ready notify` daemon, whose `rdaemon reload` waits for
/// `RELOADING=1` then `READY=1`, exported as a plain `Type=notify`: the unit says what systemd
/// has for it.
#[test]
fn a_supervised_notify_daemon_points_to_notify_reload() {
    let Some(python) = python3() else {
        return skip("notify_reload_export", "no python3");
    };
    let env = Env::new();
    let notify = fixture("sd_notify.py");
    env.run(&[
        "start",
        "--name",
        "nr",
        "--respawn",
        "--ready",
        "notify",
        "--",
        python.to_str().unwrap(),
        notify.to_str().unwrap(),
        "READY=1",
        "--",
        "sleep",
        &unique_secs(),
    ])
    .ok();
    env.run(&["stop", "nr"]).ok();
    let text = export(&env, "nr");
    assert_eq!(service(&parse_unit(&text), "Type"), "notify");
    assert!(
        text.contains("# Type=notify-reload (it then sends the reload signal itself"),
        "{text}"
    );
    verify(&env, "nr", &text);
}

/// The commented `ExecStartPost=` of a `cmd:` and an `http:` readiness, uncommented and run as
/// systemd would run it: it waits while the check fails and ends 0 once it passes.
#[test]
fn the_suggested_wait_of_cmd_and_http_readiness_waits_for_the_same_check() {
    let env = Env::new();
    let tries = env.path("tries");
    let flag = env.path("flag");
    let check = format!(
        "echo try >> '{}'; test -e '{}'",
        tries.display(),
        flag.display()
    );
    recorded(&env, "cmd", json!({ "ready": format!("cmd:{check}") }));
    let text = export(&env, "cmd");
    let argv = suggested_wait(&text);
    assert_eq!(argv.last().unwrap(), &check, "{argv:?}");
    let mut wait = Background::spawn(StdCommand::new(&argv[0]).args(&argv[1..]));
    wait_until("the check failed twice", DEADLINE, || {
        assert!(!wait.has_ended(), "the wait ended before the check passed");
        fs::read_to_string(&tries).is_ok_and(|t| t.lines().count() >= 2)
    });
    fs::write(&flag, "").unwrap();
    let out = wait.output_within(DEADLINE, "the wait ends once the check passes");
    assert!(out.status.success(), "{out:?}");
    verify(
        &env,
        "cmd",
        &text.replace("#ExecStartPost=", "ExecStartPost="),
    );

    let Some(py) = python3_or_skip("the suggested wait of http readiness") else {
        return;
    };
    if which("curl").is_empty() {
        skip_optional(
            "the suggested wait of http readiness",
            "curl is not installed (Debian: apt-get install curl)",
        );
        return;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/health");
    recorded(&env, "web", json!({ "ready": format!("http:{url}") }));
    let text = export(&env, "web");
    let argv = suggested_wait(&text);
    assert_eq!(argv.last().unwrap(), &url, "{argv:?}");
    let mut wait = Background::spawn(StdCommand::new(&argv[0]).args(&argv[1..]));
    assert!(!wait.has_ended(), "the wait ended while nothing listened");
    let server = stranger_http_server(&py, port);
    let out = wait.output_within(DEADLINE, "the wait ends once the URL answers 200");
    assert!(out.status.success(), "{out:?}");
    assert!(stranger_gets(server).contains("GET /health"));
    verify(
        &env,
        "web",
        &text.replace("#ExecStartPost=", "ExecStartPost="),
    );
}
