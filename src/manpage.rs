//! The man page `docs/rdaemon.1`, generated from the clap definition (`cli::Cli`) with
//! `clap_mangen`, plus the sections a man page needs and clap does not know: every command
//! with its options and examples, exit status, environment, files, see also.
//!
//! Pure text generation, no I/O: `tests/completions.rs` compares the result with the committed
//! file (and rewrites it with `RDAEMON_REGENERATE=1`).

use std::io::{self, Write};

use clap::{Command, CommandFactory};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

use crate::cli::Cli;

/// The whole man page, in roff.
pub fn render() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let man = Man::new(cmd.clone());
    let mut page = Roff::new().render(); // roff's preamble, once
                                         // clap_mangen leaves the date empty and unquoted, which shifts the source and manual
                                         // into the wrong slots of `.TH`: write it with an explicitly empty date.
    page.push_str(&format!(
        ".TH RDAEMON 1 \"\" \"rdaemon {}\" \"User Commands\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    page.push_str(&mangen(|w| man.render_name_section(w)));
    page.push_str(&body(&synopsis(&cmd)));
    page.push_str(&body(&description()));
    page.push_str(&mangen(|w| man.render_options_section(w)));
    page.push_str(&commands(&cmd));
    page.push_str(&body(&exit_status()));
    page.push_str(&body(&environment()));
    page.push_str(&body(&files()));
    page.push_str(&body(&examples()));
    page.push_str(&body(&see_also()));
    page.push_str(&mangen(|w| man.render_version_section(w)));
    page
}

/// One part rendered by clap_mangen, without roff's preamble.
fn mangen(render: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    render(&mut out).expect("writing to a Vec cannot fail");
    strip_preamble(String::from_utf8(out).expect("clap_mangen writes UTF-8"))
}

/// One part of ours, without roff's preamble.
fn body(roff: &Roff) -> String {
    strip_preamble(roff.render())
}

/// Every rendered roff document starts with the same two lines defining `\*(Aq`; the page
/// needs them once.
fn strip_preamble(text: String) -> String {
    let preamble = Roff::new().render();
    match text.strip_prefix(&preamble) {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

fn section(roff: &mut Roff, title: &str) {
    roff.control("SH", [title]);
}

fn para(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.text([roman(text)]);
}

/// A `.TP` item: a bold tag and a paragraph.
fn item(roff: &mut Roff, tag: impl Into<Vec<Inline>>, text: &str) {
    roff.control("TP", []);
    roff.text(tag);
    roff.text([roman(text)]);
}

/// Lines set as they are (examples, code).
fn literal(roff: &mut Roff, lines: &[&str]) {
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(*line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
}

/// `rdaemon [--dir DIR] [-q|--quiet] [-v|--verbose]... COMMAND ...`: clap_mangen's synopsis
/// leaves out the value of an option (`--dir` without `DIR`), so it is written here, from the
/// same definition.
fn synopsis(cmd: &Command) -> Roff {
    let mut r = Roff::new();
    section(&mut r, "SYNOPSIS");
    let mut line = vec![bold("rdaemon")];
    for arg in cmd
        .get_arguments()
        .filter(|a| a.is_global_set() && !a.is_hide_set())
    {
        line.push(roman(" ["));
        if let Some(short) = arg.get_short() {
            line.push(bold(format!("-{short}")));
            line.push(roman("|"));
        }
        if let Some(long) = arg.get_long() {
            line.push(bold(format!("--{long}")));
        }
        if arg.get_num_args().is_some_and(|n| n.takes_values()) {
            for value in arg.get_value_names().unwrap_or_default() {
                line.push(roman(" "));
                line.push(italic(value.as_str()));
            }
        }
        line.push(roman("]"));
        if matches!(arg.get_action(), clap::ArgAction::Count) {
            line.push(roman("..."));
        }
    }
    line.extend([
        roman(" "),
        italic("COMMAND"),
        roman(" ["),
        italic("OPTIONS"),
        roman("] ["),
        italic("ARGS"),
        roman("]"),
    ]);
    r.text(line);
    r.control("br", []);
    r.text([
        bold("rdaemon"),
        roman(" "),
        bold("--help"),
        roman(" | "),
        bold("--version"),
    ]);
    r
}

fn description() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "DESCRIPTION");
    r.text([roman(
        "rdaemon turns any program into a well-behaved Unix daemon and hands it back to you by name. ",
    )]);
    r.text([
        bold("rdaemon start"),
        roman(" detaches the program the classic way (fork, setsid, fork again, chdir, umask, stdin from /dev/null, stdout and stderr appended to a log file, default signal dispositions and an empty signal mask, every other file descriptor closed) and exits 0 only once the program has really been executed. It writes the pidfile itself and keeps a record of the command line and options, so that "),
        bold("stop"),
        roman(", "),
        bold("status"),
        roman(", "),
        bold("restart"),
        roman(" and the other commands find the daemon again by name."),
    ]);
    para(
        &mut r,
        "A pid read from a pidfile is never trusted blindly: it must be one positive decimal number, and when a record exists the live process must have the recorded start time and boot id, so a pid reused by an unrelated process is never signalled. Pids 0 and 1, rdaemon itself and its parent are never signalled.",
    );
    r.control("PP", []);
    r.text([
        roman("A daemon is addressed by a positional "),
        italic("NAME"),
        roman(", by "),
        bold("--name"),
        roman(" or by "),
        bold("--pidfile"),
        roman(". With none of these and exactly one daemon in the rdaemon directory, that one is meant; with several, "),
        bold("stop"),
        roman(", "),
        bold("restart"),
        roman(", "),
        bold("logs"),
        roman(", "),
        bold("signal"),
        roman(", "),
        bold("reload"),
        roman(" and "),
        bold("wait"),
        roman(" mean the only one that runs, if exactly one does; otherwise it is a usage error that lists them (bare "),
        bold("status"),
        roman(" shows them all). A name rdaemon does not know is said on standard error (no daemon named '...'), with the closest known names and, for a user other than root, a hint when root has a daemon of that name; status still exits 3 and stop 0. So is a --pidfile that names nothing (no file there, no spec naming it): no daemon with pidfile '...', with its missing directory, if that is why. Names are 1 to 64 of A-Z a-z 0-9 . _ - and start with a letter or digit."),
    ]);
    para(
        &mut r,
        "Durations are written 500ms, 10s, 2m, 1h or as a bare number of seconds (0.5). Normal output, including \"already running\" and \"not running\", goes to standard output; errors go to standard error as one line, rdaemon: <what failed>: <why>, with OS errors in one wording (No such file or directory). A usage error about the shape of the command line (an unknown option, a missing PROGRAM) is printed whole: what is wrong, a tip, the usage line. Linux only (pidfd, /proc).",
    );
    r
}

/// One `.SS` per visible subcommand: usage, description, options (by clap_mangen) and the
/// examples of its help.
fn commands(cmd: &Command) -> String {
    let mut r = Roff::new();
    section(&mut r, "COMMANDS");
    let mut text = body(&r);
    let globals: Vec<&str> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().as_str())
        .collect();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let mut sub = sub.clone();
        let usage = sub.render_usage().to_string();
        let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).to_owned();
        // A heading of one line: a command of several usages (`start`) has the rest below it
        // (a line break inside `.SS`'s quoted argument ends it, and shows a stray quote).
        let mut usages = usage.lines().map(str::trim);
        let mut head = Roff::new();
        head.control("SS", [usages.next().unwrap_or_default()]);
        for more in usages {
            head.text([roman(more)]);
            head.control("br", []);
        }
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            head.text([roman(about.to_string())]);
        }
        text.push_str(&body(&head));
        // Global options are described once, under OPTIONS; -h and -V go without saying.
        for id in globals.iter().copied().chain(["help", "version"]) {
            if sub.get_arguments().any(|a| a.get_id() == id) {
                sub = sub.mut_arg(id, |a| a.hide(true));
            }
        }
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            let options = mangen(|w| Man::new(sub.clone()).render_options_section(w));
            // clap_mangen heads the list with `.SH OPTIONS`, and each help heading with its
            // own `.SH` ("SUPERVISED MODE", once per command that has it); here they are part
            // of the command's subsection.
            let options = options.strip_prefix(".SH OPTIONS\n").unwrap_or(&options);
            for line in options.lines() {
                match line.strip_prefix(".SH ") {
                    Some(heading) => {
                        let mut h = Roff::new();
                        h.control("PP", []);
                        let heading = heading.trim_matches('"').to_lowercase();
                        let mut chars = heading.chars();
                        let first = chars.next().map(|c| c.to_uppercase().to_string());
                        h.text([italic(format!(
                            "{}{}",
                            first.unwrap_or_default(),
                            chars.as_str()
                        ))]);
                        text.push_str(&body(&h));
                    }
                    None => {
                        text.push_str(line);
                        text.push('\n');
                    }
                }
            }
        }
        if let Some(after) = sub.get_after_help() {
            let after = after.to_string();
            let lines: Vec<&str> = after.lines().collect();
            if let Some((heading, examples)) = lines.split_first() {
                let mut tail = Roff::new();
                tail.control("PP", []);
                tail.text([italic(heading.trim_end_matches(':'))]);
                let examples: Vec<&str> = examples.iter().map(|l| l.trim_start()).collect();
                literal(&mut tail, &examples);
                text.push_str(&body(&tail));
            }
        }
    }
    text
}

fn exit_status() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "EXIT STATUS");
    item(&mut r, [bold("0")], "Success. Also: start of a daemon that is already running, stop of a daemon that is not running. For status: the daemon is running.");
    item(&mut r, [bold("1")], "Failure (the program could not be executed, a file could not be written, the daemon could not be stopped...). For status: the daemon is dead (wanted running, its process gone, whether or not its pidfile remains), or a respawned daemon gave up (failed).");
    item(
        &mut r,
        [bold("2")],
        "Usage error: a malformed option, value or name. Nothing was started or signalled.",
    );
    item(&mut r, [bold("3")], "For status only: not running (never started, stopped or being stopped by rdaemon, or a respawned daemon waiting to restart its program: restarting). Status of several daemons (bare with more than one, several names, a glob, --all): not all of them run; 1 and 4 then describe no single daemon and are not used.");
    item(&mut r, [bold("4")], "Insufficient privilege (permission to signal the daemon was denied). For status: unknown, the pidfile is invalid or unreadable.");
    item(&mut r, [bold("7")], "For signal and reload only: the daemon is not running (LSB's \"program is not running\"); nothing was sent.");
    item(&mut r, [bold("130")], "start was interrupted by Ctrl-C (SIGINT) while it waited for readiness; it stopped the half-started daemon. SIGTERM and SIGHUP give 143 and 129 (128 + the signal).");
    para(&mut r, "The status codes are those of LSB init scripts, so rdaemon status can serve as the status action of an init script as it is.");
    r
}

fn environment() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "ENVIRONMENT");
    item(&mut r, [bold("RDAEMON_DIR")], "The rdaemon directory, when --dir is not given. Default: /var/lib/rdaemon for specs and /run/rdaemon for runtime files as root, else $XDG_STATE_HOME/rdaemon (~/.local/state/rdaemon) for both.");
    item(
        &mut r,
        [bold("XDG_STATE_HOME"), roman(", "), bold("HOME")],
        "Locate the default rdaemon directory of a user other than root.",
    );
    item(&mut r, [bold("RDAEMON_RUNTIME_DIR")], "The runtime directory (status files, pidfiles, locks), for tests and unusual setups. Default: the rdaemon directory, or /run/rdaemon as root without --dir or RDAEMON_DIR.");
    item(&mut r, [bold("NO_COLOR")], "When set to a non-empty value, rdaemon prints no colour (clap colours help and usage messages on a terminal otherwise).");
    item(&mut r, [bold("NOTIFY_SOCKET")], "With start --ready notify, rdaemon sets it, for the daemon, to a socket of its own and waits for READY=1 there (the sd_notify protocol). The daemon inherits rdaemon's environment otherwise, with --env overrides applied.");
    item(&mut r, [bold("PATH")], "PROGRAM is looked up in the PATH the daemon will get (after --env) unless it contains a slash.");
    r
}

fn files() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "FILES");
    item(&mut r, [italic("DIR"), roman("/"), italic("NAME"), roman(".pid")], "The default pidfile: the daemon's pid in decimal and a newline, nothing else. Written atomically by rdaemon, never by the daemon, never through a symlink; removed by stop once the process is gone.");
    item(&mut r, [italic("DIR"), roman("/"), italic("NAME"), roman(".json")], "The spec: what to run (argv, options) and whether it is wanted running. It survives stop and reboots, so restart, start NAME and resurrect need no command line; forget removes it. Mode 0600.");
    item(&mut r, [italic("RUNTIME"), roman("/"), italic("NAME"), roman(".status")], "The status (JSON): pid, start time, boot id, restarts, last exit. One writer at a time: start, then the respawn monitor.");
    item(&mut r, [italic("DIR"), roman("/"), italic("NAME"), roman(".log")], "The default log (stdout and stderr appended); as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log.");
    item(
        &mut r,
        [italic("DIR"), roman("/"), italic("NAME"), roman(".lock")],
        "Serialises start, stop, restart and forget of one name (flock).",
    );
    item(&mut r, [bold("/run/rdaemon")], "The runtime directory of root (mode 0755): status files, pidfiles, locks. Specs in /var/lib/rdaemon; ~/.local/state/rdaemon holds both for other users (mode 0700).");
    r
}

fn examples() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "EXAMPLES");
    para(
        &mut r,
        "Run a web server as a daemon, look at it, restart it with more logging, stop it:",
    );
    literal(
        &mut r,
        &[
            "rdaemon start --name web --chdir /srv/www -- python3 -m http.server 8080 --bind 127.0.0.1",
            "rdaemon status web",
            "rdaemon restart web --env LEVEL=debug",
            "rdaemon stop web --timeout 30s",
        ],
    );
    para(
        &mut r,
        "The status action of an LSB init script, and a daemon's way out to systemd:",
    );
    literal(
        &mut r,
        &[
            "status) rdaemon status --pidfile /run/ping.pid; exit $? ;;",
            "rdaemon export systemd web > /etc/systemd/system/web.service",
        ],
    );
    r
}

fn see_also() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "SEE ALSO");
    r.text([roman(
        "start-stop-daemon(8), daemon(1), supervisord(1), systemd-run(1), systemd.service(5), daemon(7), setsid(2), pidfd_open(2)",
    )]);
    para(
        &mut r,
        "The guide, the explanation of each daemonizing step and the comparison with other tools are in the docs/ directory of the source: guide.md, how-it-works.md, comparison.md, json.md.",
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_sections_a_man_page_needs() {
        let page = render();
        for heading in [
            ".TH RDAEMON 1 \"\" \"rdaemon ",
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH COMMANDS",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(heading), "{heading} missing");
        }
        for var in ["RDAEMON_DIR", "NO_COLOR", "NOTIFY_SOCKET"] {
            assert!(page.contains(var), "{var} missing");
        }
    }

    #[test]
    fn every_command_has_a_subsection_with_its_options() {
        let page = render();
        for sub in [
            "start",
            "stop",
            "status",
            "list",
            "restart",
            "forget",
            "export",
            "completions",
        ] {
            assert!(
                page.contains(&format!(".SS \"rdaemon {sub}")),
                "{sub} missing"
            );
        }
        assert!(page.contains("\\-\\-umask"), "start's options missing");
        assert!(page.contains("\\-\\-retry"), "stop's options missing");
        assert_eq!(page.matches(".SH OPTIONS").count(), 1);
    }
}
