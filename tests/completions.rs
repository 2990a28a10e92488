//! What is generated from the CLI definition: the committed completion scripts and man page
//! (fresh, and working), `--help` of every command, `--version`, and `list --names`, which the
//! completion scripts call.
//!
//! After changing the CLI, regenerate the committed files with
//! `RDAEMON_REGENERATE=1 cargo test --locked fresh` and commit them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use clap_complete::Shell;
use rdaemon::cli::MONITOR;
use rdaemon::commands::completions::{file_name, SHELLS};

use crate::common::*;

const REGENERATE: &str = "RDAEMON_REGENERATE=1 cargo test --locked fresh";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `generated` with the committed file; with `RDAEMON_REGENERATE=1` rewrites it.
fn check_fresh(path: &Path, generated: &str) {
    let committed = fs::read_to_string(path).unwrap_or_default();
    if committed == generated {
        return;
    }
    if std::env::var_os("RDAEMON_REGENERATE").is_some_and(|v| v == "1") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, generated).unwrap();
        eprintln!("regenerated {}", path.display());
        return;
    }
    let first_difference = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .map(|i| format!("first difference at line {}", i + 1))
        .unwrap_or_else(|| "one is a prefix of the other".into());
    panic!(
        "{} differs from what the CLI generates ({first_difference}).\n\
         Regenerate the committed files with:\n    {REGENERATE}\nand commit them.",
        path.display()
    );
}

#[test]
fn committed_completions_are_fresh() {
    let env = Env::new();
    for shell in SHELLS {
        let run = env.run(&["completions", &shell.to_string()]).ok();
        assert_eq!(run.stderr, "", "{}", run.dump());
        check_fresh(
            &root().join("completions").join(file_name(shell)),
            &run.stdout,
        );
    }
}

#[test]
fn committed_man_page_is_fresh() {
    check_fresh(&root().join("docs/rdaemon.1"), &rdaemon::manpage::render());
}

/// SPEC §8: completions never offer what is internal: `start --source` and `--after` (which
/// only `up` gives) and the `__monitor` command. And nothing a user may type is lost with them:
/// every long option `start --help` shows is offered by every shell's script.
#[test]
fn completions_offer_no_internal_option_and_every_visible_one() {
    let env = Env::new();
    let help = env.run(&["start", "--help"]).ok().stdout;
    // Option lines are indented by 2 or 6 spaces; their descriptions by 10.
    let visible: Vec<&str> = help
        .lines()
        .filter(|l| {
            let indent = l.len() - l.trim_start().len();
            (2..=6).contains(&indent) && l.trim_start().starts_with('-')
        })
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        // `-q, --quiet`, `-v, --verbose...`
        .map(|w| w.trim_end_matches([',', '.']))
        .collect();
    assert!(
        visible.contains(&"--foreground") && visible.contains(&"--log-keep"),
        "{help}"
    );
    let man = fs::read_to_string(root().join("docs/rdaemon.1")).unwrap();
    for internal in ["--source", "--after"] {
        assert!(!help.contains(internal), "start --help shows {internal}");
        let roff = internal.replace('-', "\\-");
        assert!(!man.contains(&roff), "the man page shows {internal}");
    }
    for shell in SHELLS {
        let script = env.run(&["completions", &shell.to_string()]).ok().stdout;
        let offers = |option: &str| match shell {
            Shell::Fish => script.contains(&format!(" -l {} ", &option[2..])),
            _ => script.contains(option),
        };
        for internal in ["--source", "--after"] {
            assert!(!offers(internal), "{shell} offers {internal}");
        }
        assert!(!script.contains(MONITOR), "{shell} offers {MONITOR}");
        for option in &visible {
            assert!(offers(option), "{shell} does not offer start {option}");
        }
    }
    // Internal, not gone: `start` still takes them from `up` (tests/up.rs checks the spec they
    // make), with their value parsers; these values are refused before anything starts.
    env.run(&["start", "--source", "", "--", "true"])
        .code(2)
        .one_error_line()
        .stderr_has("rdaemon: --source: invalid path '': it is empty");
    env.run(&[
        "start",
        "--source=/srv/rdaemon.toml",
        "--after=../db",
        "--",
        "true",
    ])
    .code(2)
    .one_error_line()
    .stderr_has("rdaemon: --after: invalid name '../db'");
    assert_eq!(fs::read_dir(env.dir()).unwrap().count(), 0);
}

#[test]
fn completions_of_an_unknown_shell_is_a_usage_error() {
    let env = Env::new();
    env.run(&["completions", "tcsh"])
        .code(2)
        .stderr_has("rdaemon: invalid value 'tcsh'")
        .stderr_has("possible values: bash");
    env.run(&["completions"]).code(2);
}

#[test]
fn man_page_renders_cleanly() {
    let man_db = StdCommand::new("man")
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--warnings"));
    if !man_db {
        skip_optional("man_page_renders_cleanly", "man (man-db) is not installed");
        return;
    }
    let out = StdCommand::new("man")
        .args(["--warnings", "-E", "UTF-8", "-P", "cat", "-l"])
        .arg(root().join("docs/rdaemon.1"))
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man failed: {stderr}");
    assert_eq!(stderr, "", "man warned");
    for heading in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
    ] {
        assert!(
            stdout.lines().any(|l| l == heading),
            "no {heading} section in:\n{stdout}"
        );
    }
    assert!(stdout.contains("RDAEMON_DIR") && stdout.contains("NOTIFY_SOCKET"));
    assert!(
        !stdout.contains("\\-") && !stdout.contains("\\*"),
        "unrendered escapes"
    );
}

fn have(program: &str) -> bool {
    StdCommand::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A directory with two daemons (real records) and a second directory with another one.
fn two_dirs() -> (Env, PathBuf) {
    let env = Env::new();
    env.start("alpha", &["sleep", "1000"]);
    env.start("beta", &["sleep", "1000"]);
    env.run(&["stop", "beta"]).ok();
    let other = env.path("other");
    let run = env.run(&[
        "--dir",
        other.to_str().unwrap(),
        "start",
        "--name",
        "gamma",
        "--",
        "sleep",
        "1000",
    ]);
    run.ok();
    let pid: i32 = fs::read_to_string(other.join("gamma.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    env.track(pid);
    (env, other)
}

#[test]
fn list_names_prints_one_name_per_line() {
    let env = Env::new();
    let run = env.run(&["list", "--names"]).ok();
    assert_eq!(run.stdout, "");
    let (env, other) = two_dirs();
    let run = env.run(&["list", "--names"]).ok();
    assert_eq!(run.stdout, "alpha\nbeta\n", "{}", run.dump());
    let run = env
        .run(&["list", "--names", "--dir", other.to_str().unwrap()])
        .ok();
    assert_eq!(run.stdout, "gamma\n");
    env.run(&["list", "--names", "--json"]).usage_error();
}

#[test]
fn bash_completes_daemon_names_where_a_name_goes() {
    let (env, other) = two_dirs();
    let other = other.to_str().unwrap();
    let names = ["alpha", "beta"].map(String::from).to_vec();
    for sub in ["stop", "status", "restart", "forget"] {
        assert_eq!(bash_complete(&env, &[sub, ""]), names, "{sub}");
        assert_eq!(
            bash_complete(&env, &[sub, "--name", ""]),
            names,
            "{sub} --name"
        );
    }
    assert_eq!(bash_complete(&env, &["stop", "b"]), ["beta"]);
    assert_eq!(bash_complete(&env, &["export", "systemd", ""]), names);
    assert_eq!(
        bash_complete(&env, &["stop", "--timeout", "5s", ""]),
        names,
        "an option's value is not the name"
    );
    // --dir on the command line, before or after the subcommand, or as --dir=DIR (which bash
    // splits at the '=').
    assert_eq!(
        bash_complete(&env, &["--dir", other, "stop", ""]),
        ["gamma"]
    );
    assert_eq!(
        bash_complete(&env, &["status", "--dir", other, ""]),
        ["gamma"]
    );
    assert_eq!(
        bash_complete(&env, &["status", "--dir", "=", other, ""]),
        ["gamma"]
    );
    // Several names: after one, more of them (`stop a b`, `signal HUP a b`).
    assert!(bash_complete(&env, &["stop", "alpha", ""]).contains(&"beta".to_owned()));
    assert!(bash_complete(&env, &["signal", "HUP", "alpha", ""]).contains(&"beta".to_owned()));
    assert!(!bash_complete(&env, &["signal", ""]).contains(&"beta".to_owned()));
    // Not where no name goes: these fall back to the generated completion.
    let words = bash_complete(&env, &["stop", "-"]);
    assert!(!words.contains(&"beta".to_owned()), "{words:?}");
    assert!(words.contains(&"--signal".to_owned()), "{words:?}");
    let words = bash_complete(&env, &["export", "systemd", "alpha", ""]);
    assert!(!words.contains(&"beta".to_owned()), "{words:?}");
    let words = bash_complete(&env, &["export", ""]);
    assert!(words.contains(&"systemd".to_owned()) && !words.contains(&"alpha".to_owned()));
    let words = bash_complete(&env, &["st"]);
    assert!(words.contains(&"start".to_owned()) && words.contains(&"status".to_owned()));
    let words = bash_complete(&env, &["start", "--name", ""]);
    assert!(
        !words.contains(&"alpha".to_owned()),
        "start names a new daemon: {words:?}"
    );
    // `start NAME` starts a stored daemon: its first word gets the names, unless --name names
    // the daemon (the word is then the program); the program's arguments get none.
    assert_eq!(bash_complete(&env, &["start", ""]), names);
    assert_eq!(bash_complete(&env, &["start", "--respawn", "a"]), ["alpha"]);
    for line in [&["start", "--name", "x", ""][..], &["start", "alpha", ""]] {
        let words = bash_complete(&env, line);
        assert!(!words.contains(&"beta".to_owned()), "{line:?}: {words:?}");
    }
}

/// Where a signal goes, the completions offer signal names (`--signal <TAB>` offered file
/// names before), with `SIG` when the word begins with it.
#[test]
fn bash_completes_signal_names_where_a_signal_goes() {
    let (env, _) = two_dirs();
    assert_eq!(bash_complete(&env, &["signal", "US"]), ["USR1", "USR2"]);
    for line in [
        &["stop", "--signal", "TE"][..],
        &["restart", "alpha", "--signal", "TE"],
        &["start", "--stop-signal", "TE"],
        &["start", "--reload-signal", "TE"],
    ] {
        assert_eq!(bash_complete(&env, line), ["TERM"], "{line:?}");
    }
    // Typed with its prefix, as rdaemon takes it too: the names with it.
    assert_eq!(
        bash_complete(&env, &["signal", "SIGUS"]),
        ["SIGUSR1", "SIGUSR2"]
    );
    assert_eq!(
        bash_complete(&env, &["stop", "--signal", "SIGTE"]),
        ["SIGTERM"]
    );
    // Not where no signal goes: a log file named so stays a file.
    assert!(!bash_complete(&env, &["signal", "HUP", "SIG"]).contains(&"SIGHUP".to_owned()));
    // After the signal, names.
    assert!(bash_complete(&env, &["signal", "HUP", ""]).contains(&"alpha".to_owned()));
}

#[test]
fn committed_scripts_parse_in_their_shells() {
    let dir = root().join("completions");
    for (shell, file) in [
        ("bash", "rdaemon.bash"),
        ("zsh", "_rdaemon"),
        ("fish", "rdaemon.fish"),
    ] {
        if !have(shell) {
            skip_optional(
                "committed_scripts_parse_in_their_shells",
                &format!("{shell} is not installed, {file} not syntax-checked"),
            );
            continue;
        }
        let out = StdCommand::new(shell)
            .arg("-n")
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} -n {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn fish_completes_daemon_names() {
    if !have("fish") {
        skip_optional("fish_completes_daemon_names", "fish is not installed");
        return;
    }
    let (env, other) = two_dirs();
    let script = env.path("rdaemon.fish");
    fs::write(&script, env.run(&["completions", "fish"]).ok().stdout).unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let complete = |line: String| -> Vec<String> {
        let mut cmd = StdCommand::new("fish");
        cmd.arg("-c")
            .arg(format!("source {}; complete -C '{line}'", script.display()));
        let out = isolate(&mut cmd, env.dir()).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    let bin = bin.display();
    assert_eq!(complete(format!("{bin} stop ")), ["alpha", "beta"]);
    assert_eq!(
        complete(format!("{bin} export systemd ")),
        ["alpha", "beta"]
    );
    assert_eq!(
        complete(format!("{bin} --dir {} status ", other.display())),
        ["gamma"]
    );
    // `signal SIG NAME...`: names only once the signal is typed; options and their values
    // (`--dir DIR`, `--group`) are not the signal.
    assert!(complete(format!("{bin} signal HUP ")).contains(&"alpha".to_owned()));
    for line in [
        format!("{bin} signal "),
        format!("{bin} signal --group "),
        format!("{bin} --dir {} signal ", env.dir().display()),
    ] {
        let words = complete(line.clone());
        assert!(!words.contains(&"alpha".to_owned()), "{line}: {words:?}");
        assert!(words.contains(&"HUP".to_owned()), "{line}: {words:?}");
    }
    assert!(
        complete(format!("{bin} --dir {} signal HUP ", env.dir().display()))
            .contains(&"alpha".to_owned())
    );
    // `start NAME`: names right after the subcommand, beside the files.
    let words = complete(format!("{bin} start "));
    assert!(
        words.contains(&"alpha".to_owned()) && words.contains(&"beta".to_owned()),
        "{words:?}"
    );
}

#[test]
fn zsh_completes_daemon_names() {
    if !have("zsh") {
        skip_optional("zsh_completes_daemon_names", "zsh is not installed");
        return;
    }
    let (env, other) = two_dirs();
    let fpath = env.path("zfunc");
    fs::create_dir(&fpath).unwrap();
    fs::write(
        fpath.join("_rdaemon"),
        env.run(&["completions", "zsh"]).ok().stdout,
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let bindir = bin.parent().unwrap();
    // Drives an interactive zsh on a pseudo-terminal: types the line and TAB, then reads until
    // the expected candidates appear on the screen (or 20 s pass).
    let driver = r#"
        zmodload zsh/zpty
        zpty z "env PS1='> ' TERM=dumb PATH=$BINDIR:$PATH RDAEMON_DIR=$RDAEMON_DIR zsh -f -i"
        zpty -w z "fpath=($FPATH_DIR \$fpath); autoload -U compinit; compinit -u; echo READY"
        screen=""
        end=$(( SECONDS + 20 ))
        until [[ $screen == *$'\nREADY'* ]] || (( SECONDS > end )); do
            zpty -r -t z chunk && screen+=$chunk || sleep 0.01
        done
        zpty -w -n z "$LINE"$'\t'
        screen=""
        until [[ $screen == *$EXPECT* ]] || (( SECONDS > end )); do
            zpty -r -t z chunk && screen+=$chunk || sleep 0.01
        done
        print -r -- "$screen"
        zpty -d z
    "#;
    let complete = |line: String, expect: &str| -> String {
        let mut cmd = StdCommand::new("zsh");
        cmd.args(["-f", "-c", driver])
            .env("BINDIR", bindir)
            .env("FPATH_DIR", &fpath)
            .env("LINE", line)
            .env("EXPECT", expect);
        let out = isolate(&mut cmd, env.dir()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let screen = complete("rdaemon stop ".into(), "beta");
    assert!(
        screen.contains("alpha") && screen.contains("beta"),
        "{screen}"
    );
    let screen = complete(
        format!("rdaemon --dir {} status ", other.display()),
        "gamma",
    );
    assert!(
        screen.contains("rdaemon --dir") && screen.contains("gamma"),
        "{screen}"
    );
    // `start NAME`: the first word may be a daemon's name (no file here begins with "alp").
    let screen = complete("rdaemon start alp".into(), "alpha");
    assert!(screen.contains("rdaemon start alpha"), "{screen}");
}

#[test]
fn help_is_coloured_on_a_terminal_unless_no_color() {
    if !have("script") {
        skip(
            "help_is_coloured_on_a_terminal_unless_no_color",
            "script(1) is not installed, no pseudo-terminal to test colour on",
        );
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin!("rdaemon");
    let help_on_a_tty = |no_color: bool| -> String {
        let mut cmd = StdCommand::new("script");
        cmd.args(["-qec", &format!("{} --help", bin.display()), "/dev/null"])
            .env_remove("NO_COLOR")
            .env("TERM", "xterm");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = help_on_a_tty(false);
    assert!(
        coloured.contains("Usage:") && coloured.contains('\x1b'),
        "{coloured:?}"
    );
    let plain = help_on_a_tty(true);
    assert!(
        plain.contains("Usage:") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}

#[test]
fn every_command_has_help_with_a_description_and_an_example() {
    let env = Env::new();
    let cli = rdaemon::cli::Cli::built();
    let subs: Vec<String> = cli
        .get_subcommands()
        // clap's own `help` subcommand, added by the build, is not ours to describe.
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name().to_owned())
        .collect();
    assert!(subs.len() >= 8, "{subs:?}");
    for sub in &subs {
        let run = env.run(&[sub, "--help"]).ok();
        let first = run.stdout.lines().next().unwrap_or_default();
        assert!(first.len() > 20, "{sub}: no description: {first:?}");
        assert!(
            run.stdout.contains("Example"),
            "{sub} --help has no example\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("rdaemon {sub}")),
            "{sub} --help's example does not run rdaemon {sub}"
        );
    }
    env.run(&["--version"])
        .ok()
        .stdout_has(&format!("rdaemon {}", env!("CARGO_PKG_VERSION")));
}
