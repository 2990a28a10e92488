//! The terminal experience: the wait spinner of `start --ready` and `stop` shows on a terminal
//! only (never in a pipe), is erased when done, and honours `NO_COLOR` and `-q`.

use std::process::{Command, Stdio};

use crate::common::*;

/// Runs rdaemon with `args` under a pseudo-terminal (util-linux `script`) and returns its exit
/// code and everything it wrote there; `None` without `script`. Also used by `many`.
pub fn on_a_terminal(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Option<(i32, String)> {
    Command::new("script")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let line = std::iter::once(bin.to_str().unwrap())
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .current_dir(env.dir())
        .env("TERM", "xterm")
        .env_remove("CI");
    isolate(&mut cmd, env.dir());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

const ERASE: &str = "\x1b[2K";
const CYAN: &str = "\x1b[36m";

#[test]
fn no_spinner_when_output_is_not_a_terminal() {
    let env = Env::new();
    let run = env
        .run(&[
            "start",
            "--name",
            "piped",
            "--ready",
            "alive:400ms",
            "--",
            "sleep",
            "1000",
        ])
        .ok();
    let pid = env.pid_of("piped");
    assert_eq!(run.stdout, format!("started piped (pid {pid})\n"));
    assert_eq!(run.stderr, "");
    let pid = env.start_stubborn("stubborn");
    let run = env.run(&["stop", "stubborn", "--timeout", "400ms"]).ok();
    assert_eq!(
        run.stdout,
        format!("stopped stubborn (pid {pid}) with SIGKILL after 400ms\n")
    );
    assert_eq!(run.stderr, "");
}

fn start_args(name: &str) -> Vec<&str> {
    vec![
        "start",
        "--name",
        name,
        "--ready",
        "alive:600ms",
        "--",
        "sleep",
        "1000",
    ]
}

#[test]
fn start_spinner_on_a_terminal_is_erased_when_done() {
    let env = Env::new();
    let Some((code, out)) = on_a_terminal(&env, &start_args("tty"), &[]) else {
        return skip("start_spinner", "util-linux 'script' is not installed");
    };
    env.track(env.pid_of("tty"));
    assert_eq!(code, 0, "{out:?}");
    assert!(out.contains("waiting for tty: alive:600ms"), "{out:?}");
    assert!(out.contains(CYAN), "{out:?}");
    let started = out.find("started tty (pid ").expect("no started line");
    assert!(
        out.rfind(ERASE).is_some_and(|e| e < started),
        "the spinner was not erased before the result: {out:?}"
    );
}

#[test]
fn spinner_honours_no_color() {
    let env = Env::new();
    let Some((code, out)) = on_a_terminal(&env, &start_args("plain"), &[("NO_COLOR", "1")]) else {
        return skip("spinner_no_color", "util-linux 'script' is not installed");
    };
    env.track(env.pid_of("plain"));
    assert_eq!(code, 0, "{out:?}");
    assert!(out.contains("waiting for plain"), "{out:?}");
    assert!(!out.contains(CYAN) && !out.contains("\x1b[0m"), "{out:?}");
}

#[test]
fn quiet_means_no_spinner() {
    let env = Env::new();
    let mut args = vec!["-q"];
    args.extend(start_args("hush"));
    let Some((code, out)) = on_a_terminal(&env, &args, &[]) else {
        return skip("quiet_spinner", "util-linux 'script' is not installed");
    };
    env.track(env.pid_of("hush"));
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out, "", "-q prints nothing on success");
}

#[test]
fn stop_spinner_on_a_terminal() {
    let env = Env::new();
    let pid = env.start_stubborn("stubborn");
    let Some((code, out)) = on_a_terminal(&env, &["stop", "stubborn", "--timeout", "600ms"], &[])
    else {
        return skip("stop_spinner", "util-linux 'script' is not installed");
    };
    assert_eq!(code, 0, "{out:?}");
    assert!(
        out.contains(&format!("stopping stubborn (pid {pid}) after SIGTERM")),
        "{out:?}"
    );
    assert!(
        out.contains(&format!("stopped stubborn (pid {pid})")),
        "{out:?}"
    );
    assert!(!alive(pid));
}

/// A daemon's log shown on a terminal (often root's) cannot drive it: its control characters
/// are shown escaped (window title, screen clear, cursor moves, the clipboard write of OSC 52,
/// a C1 CSI), its colors pass as `less -R` lets them; into a pipe it is the log as it is.
#[test]
fn logs_on_a_terminal_show_the_daemons_control_characters_escaped() {
    let env = Env::new();
    let hostile = r"printf 'normal\n\033]0;PWNED\007\033[2J\033[1;1Hfake\n\033]52;c;ZWNobw==\007\n\302\233\061mC1\n\033[32mgreen\033[0m\n'";
    env.run(&["start", "--name", "esc", "--", "sh", "-c", hostile])
        .ok();
    let log = env.path("esc.log");
    wait_until("the log", std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("green"))
    });
    for args in [&["logs", "esc"][..], &["logs", "esc", "esc"][..]] {
        let Some((code, shown)) = on_a_terminal(&env, args, &[("NO_COLOR", "1")]) else {
            skip("logs on a terminal", "util-linux script is missing");
            return;
        };
        assert_eq!(code, 0, "{shown}");
        for raw in ["\x1b]", "\x1b[2J", "\x1b[1;1H", "\u{9b}"] {
            assert!(
                !shown.contains(raw),
                "{raw:?} reached the terminal: {shown:?}"
            );
        }
        assert!(shown.contains(r"\u{1b}]0;PWNED\u{7}"), "{shown:?}");
        assert!(shown.contains(r"\u{1b}]52;c;ZWNobw==\u{7}"), "{shown:?}");
        assert!(shown.contains(r"\u{9b}1mC1"), "{shown:?}");
        assert!(shown.contains("\x1b[32mgreen\x1b[0m"), "{shown:?}");
    }
    // Piped, the bytes as they are.
    let run = env.run(&["logs", "esc"]).ok();
    assert!(run.stdout.contains("\x1b]0;PWNED\x07"), "{}", run.dump());
}

/// On a terminal, `list` cuts a command that would wrap its line to the terminal's width
/// (here `COLUMNS`: `script`'s terminal has no size), ending in `...`; into a pipe, and in the
/// JSON, the command stays whole.
#[test]
fn list_on_a_terminal_cuts_a_long_command_to_the_width() {
    let env = Env::new();
    let tail = "x".repeat(200);
    let script = format!("sleep {}; : {tail}", unique_secs());
    env.start("long", &["sh", "-c", &script]);
    env.start("short", &["sleep", &unique_secs()]);
    let Some((code, out)) = on_a_terminal(&env, &["list"], &[("COLUMNS", "60")]) else {
        return skip(
            "list_on_a_terminal_cuts_a_long_command_to_the_width",
            "no script(1)",
        );
    };
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(lines.len(), 3, "{out}");
    for line in &lines {
        assert!(line.chars().count() <= 60, "wider than 60: {line:?}");
    }
    let long = lines.iter().find(|l| l.starts_with("long ")).unwrap();
    assert!(long.ends_with("..."), "{long:?}");
    assert!(long.contains("sh -c 'sleep "), "{long:?}");
    let short = lines.iter().find(|l| l.starts_with("short ")).unwrap();
    assert!(short.contains("sleep 1"), "{short:?}");
    // Into a pipe: whole.
    env.run(&["list"]).ok().stdout_has(&format!("{tail}'\n"));
}

/// `--ready tcp:` and `http:` look every few milliseconds, each pause shorter than a frame:
/// the spinner shows for them too (a newcomer's trial, 2026-12-03: it never did).
#[test]
fn the_spinner_shows_for_waits_of_short_looks() {
    let env = Env::new();
    for (name, ready) in [
        ("port", format!("tcp:127.0.0.1:{}", free_port())),
        ("web", format!("http:http://127.0.0.1:{}/", free_port())),
    ] {
        let args = [
            "start",
            "--name",
            name,
            "--ready",
            &ready,
            "--ready-timeout",
            "1s",
            "--",
            "sleep",
            "1000",
        ];
        let Some((code, out)) = on_a_terminal(&env, &args, &[]) else {
            return skip("short_look_spinner", "util-linux 'script' is not installed");
        };
        assert_eq!(code, 1, "{out:?}");
        assert!(
            out.contains(&format!("waiting for {name}: {ready}")),
            "{out:?}"
        );
        let failed = out.find("cannot start").expect("no failure line");
        assert!(
            out.rfind(ERASE).is_some_and(|e| e < failed),
            "the spinner was not erased before the result: {out:?}"
        );
    }
}
