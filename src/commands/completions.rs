//! `rdaemon completions SHELL`: print a completion script generated from the clap definition
//! (`cli::Cli`) by `clap_complete`, so that it can never drift from the real options.
//!
//! For bash, zsh and fish the generated script gets one addition: the commands that take a
//! daemon NAME (`stop`, `status`, `restart`, `forget`, `export systemd`, ...) complete it from
//! `rdaemon list --names`, honouring a `--dir` typed on the command line (and `RDAEMON_DIR`,
//! which the called rdaemon reads itself). Which commands those are, at which position, and
//! which options take a value is derived from `Cli` too, so the additions follow the CLI.
//!
//! The committed files in `completions/` are this module's output; `tests/completions.rs`
//! fails when they differ and says how to regenerate them.

use std::fmt::Write as _;

use anyhow::Result;
use clap::{Command, CommandFactory};
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Code;

/// `rdaemon completions`.
pub fn run(args: CompletionsArgs) -> Result<Code> {
    print!("{}", script(args.shell));
    Ok(Code::Ok)
}

/// The file name under `completions/` for each shell, as the shells' loaders expect.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "rdaemon.bash",
        Shell::Zsh => "_rdaemon",
        Shell::Fish => "rdaemon.fish",
        Shell::Elvish => "rdaemon.elv",
        Shell::PowerShell => "_rdaemon.ps1",
        _ => "rdaemon.unknown",
    }
}

/// The shells rdaemon ships completions for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// The complete script for `shell`: clap_complete's output plus, for bash, zsh and fish, the
/// completion of daemon names.
pub fn script(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "rdaemon", &mut out);
    let generated = String::from_utf8(out).expect("clap_complete writes UTF-8");
    cmd.build();
    let shape = NameShape::of(&cmd);
    match shell {
        Shell::Bash => add_bash_names(&generated, &shape),
        Shell::Zsh => add_zsh_names(&generated, &shape),
        Shell::Fish => add_fish_names(generated, &shape),
        _ => generated,
    }
}

/// Where the CLI takes a daemon NAME, derived from the clap definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameShape {
    /// Subcommands with the number of positional arguments before their NAME (0 for `stop`;
    /// 1 for `export`, whose FORMAT comes first).
    pub positional: Vec<(String, usize)>,
    /// The possible values of positional arguments that come before a NAME (`systemd`).
    pub before_name: Vec<(String, Vec<String>)>,
    /// Subcommands that also take `--name NAME` for an existing daemon.
    pub option: Vec<String>,
    /// Subcommands whose NAME repeats (`stop a b`, `signal HUP a b`): every positional from
    /// NAME's on is a name.
    pub several: Vec<String>,
    /// Every option that takes a value, anywhere (`--dir`, `--signal`, `-n`...): when
    /// scanning a command line, the word after one of them is its value, not a positional.
    pub value_options: Vec<String>,
    /// Subcommands whose first positional word is a program or a known daemon's name (`start
    /// NAME` starts a stored daemon): names offered there beside the files.
    pub program_or_name: Vec<String>,
    /// Where a signal goes (`cli::SignalName`): options (`--signal`) and (subcommand,
    /// position) pairs (`signal SIG`), with the names offered there (`HUP`), for the bash
    /// script to offer `SIGHUP` to a word typed `SIG…`.
    pub signal_options: Vec<String>,
    pub signal_positional: Vec<(String, usize)>,
    pub signals: Vec<String>,
}

impl NameShape {
    /// Reads the shape from a built command: a subcommand takes an existing daemon's NAME when
    /// it has the positional argument `name` (`cli::TargetArgs`), and `--name` with it.
    pub fn of(cmd: &Command) -> NameShape {
        let mut shape = NameShape {
            positional: Vec::new(),
            before_name: Vec::new(),
            option: Vec::new(),
            several: Vec::new(),
            value_options: Vec::new(),
            program_or_name: Vec::new(),
            signal_options: Vec::new(),
            signal_positional: Vec::new(),
            signals: Vec::new(),
        };
        collect_value_options(cmd, &mut shape.value_options);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            collect_value_options(sub, &mut shape.value_options);
            let positionals: Vec<&clap::Arg> = sub.get_positionals().collect();
            for arg in sub.get_arguments().filter(|a| is_signal(a)) {
                if shape.signals.is_empty() {
                    shape.signals = arg
                        .get_possible_values()
                        .iter()
                        .map(|v| v.get_name().to_owned())
                        .collect();
                }
                match arg.get_long() {
                    Some(long) => shape.signal_options.push(format!("--{long}")),
                    None => {
                        let at = positionals.iter().position(|a| a.get_id() == arg.get_id());
                        if let Some(at) = at {
                            shape
                                .signal_positional
                                .push((sub.get_name().to_owned(), at));
                        }
                    }
                }
            }
            if positionals.first().is_some_and(|a| a.get_id() == "program") {
                shape.program_or_name.push(sub.get_name().to_owned());
            }
            // `name` (one daemon, `cli::TargetArgs`) or `names` (several, `forget`).
            let is_name = |a: &&clap::Arg| matches!(a.get_id().as_str(), "name" | "names");
            if let Some(index) = positionals.iter().position(is_name) {
                shape.positional.push((sub.get_name().to_owned(), index));
                if positionals[index]
                    .get_num_args()
                    .is_some_and(|n| n.max_values() > 1)
                {
                    shape.several.push(sub.get_name().to_owned());
                }
                if index > 0 {
                    // A closed set of words (`export systemd|nomad`), not the names offered
                    // for a free value (`signal`'s signals, which also takes `9` or `sigterm`:
                    // helper-113's review).
                    let values = positionals[..index]
                        .iter()
                        .filter(|a| !a.is_hide_possible_values_set())
                        .flat_map(|a| a.get_possible_values())
                        .map(|v| v.get_name().to_owned())
                        .collect();
                    shape.before_name.push((sub.get_name().to_owned(), values));
                }
                if sub.get_arguments().any(|a| a.get_id() == "name_opt") {
                    shape.option.push(sub.get_name().to_owned());
                }
            }
        }
        shape.value_options.sort();
        shape.value_options.dedup();
        shape.signal_options.sort();
        shape.signal_options.dedup();
        shape
    }
}

/// An argument that takes a signal (`cli::SignalName`, shown as `SIG`).
fn is_signal(arg: &clap::Arg) -> bool {
    arg.get_value_names()
        .is_some_and(|names| names.iter().any(|n| n.as_str() == "SIG"))
        && arg
            .get_possible_values()
            .iter()
            .any(|v| v.get_name() == "TERM")
}

fn collect_value_options(cmd: &Command, out: &mut Vec<String>) {
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        if !arg.get_num_args().is_some_and(|n| n.takes_values()) {
            continue;
        }
        out.extend(arg.get_long().map(|l| format!("--{l}")));
        out.extend(arg.get_short().map(|s| format!("-{s}")));
    }
}

/// Splits `text` at the last occurrence of `anchor`; panics when clap_complete's output no
/// longer has it (the freshness test then fails loudly rather than shipping a broken script).
fn split_at_anchor<'a>(text: &'a str, anchor: &str, shell: &str) -> (&'a str, &'a str) {
    let at = text.rfind(anchor).unwrap_or_else(|| {
        panic!("clap_complete's {shell} script changed: '{anchor}' not found; update src/commands/completions.rs")
    });
    text.split_at(at)
}

fn add_bash_names(generated: &str, shape: &NameShape) -> String {
    let anchor = "if [[ \"${BASH_VERSINFO[0]}\" -eq 4";
    let (head, tail) = split_at_anchor(generated, anchor, "bash");
    let registrations = tail.matches("complete -F _rdaemon ").count();
    assert_eq!(
        registrations, 2,
        "clap_complete's bash script changed: expected 2 'complete -F _rdaemon' lines"
    );
    let tail = tail.replace("complete -F _rdaemon ", "complete -F _rdaemon_names ");
    let positional: Vec<String> = shape
        .positional
        .iter()
        .map(|(sub, n)| match shape.several.contains(sub) {
            // Any positional from NAME's on: `stop:*`, `signal:[1-9]*`.
            true if *n == 0 => format!("{sub}:*"),
            true => format!("{sub}:[{n}-9]*"),
            false => format!("{sub}:{n}"),
        })
        .collect();
    // `start NAME`: the first word, unless `--name` names the daemon (the word is then the
    // program); no name matches a program's: then the files, through `-o default`.
    let program_or_name: Vec<String> = shape
        .program_or_name
        .iter()
        .map(|sub| format!("{sub}:0:"))
        .collect();
    let option: Vec<String> = shape.option.iter().map(|s| format!("{s}:--name")).collect();
    let value_options: Vec<&str> = shape
        .value_options
        .iter()
        .map(String::as_str)
        .filter(|o| *o != "--dir")
        .collect();
    let signal_positional: Vec<String> = shape
        .signal_positional
        .iter()
        .map(|(sub, n)| format!("{sub}:{n}"))
        .collect();
    let sig_names: Vec<String> = shape.signals.iter().map(|s| format!("SIG{s}")).collect();
    let mut f = String::new();
    let _ = write!(
        f,
        r#"# Added by rdaemon: daemon names for the commands that take one, from `rdaemon list --names`
# in the rdaemon directory (--dir on the command line, else RDAEMON_DIR, else the default).
_rdaemon_names() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    local i w sub="" npos=0 dir="" opt="" named=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        if [[ -n "$opt" ]]; then
            # The value of the option before (bash splits --opt=value at the '=').
            [[ "$w" == "=" ]] && continue
            [[ "$opt" == "--dir" ]] && dir="$w"
            [[ "$opt" == "--name" ]] && named=1
            opt=""
            continue
        fi
        case "$w" in
            --) _rdaemon "$@"; return ;;
            --dir=*) dir="${{w#--dir=}}" ;;
            --name=*) named=1 ;;
            --*=*) ;;
            --dir|{value_options}) opt="$w" ;;
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="$w"; else npos=$((npos + 1)); fi ;;
        esac
    done
    local want="" sig=""
    if [[ -n "$opt" ]]; then
        case "$sub:$opt" in
            {option}) want=1 ;;
        esac
        case "$opt" in
            {signal_options}) sig=1 ;;
        esac
    elif [[ "$cur" != -* ]]; then
        case "$sub:$npos" in
            {positional}) want=1 ;;
        esac
        case "$sub:$npos:$named" in
            {program_or_name}) want=1 ;;
        esac
        case "$sub:$npos" in
            {signal_positional}) sig=1 ;;
        esac
    fi
    # A signal typed with its prefix (`SIGT`): the names with it, as rdaemon takes them too.
    if [[ -n "$sig" && "$cur" == SIG* ]]; then
        COMPREPLY=($(compgen -W "{sig_names}" -- "$cur"))
        return
    fi
    if [[ -z "$want" ]]; then
        _rdaemon "$@"
        return
    fi
    [[ "$dir" == "~/"* ]] && dir="$HOME/${{dir#"~/"}}"
    local names
    names="$("${{COMP_WORDS[0]}}" ${{dir:+--dir "$dir"}} list --names 2>/dev/null)"
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
}}

"#,
        value_options = value_options.join("|"),
        option = option.join("|"),
        positional = positional.join("|"),
        program_or_name = program_or_name.join("|"),
        signal_options = shape.signal_options.join("|"),
        signal_positional = signal_positional.join("|"),
        sig_names = sig_names.join(" "),
    );
    format!("{head}{f}{tail}")
}

fn add_zsh_names(generated: &str, shape: &NameShape) -> String {
    // The NAME positional and `--name` of the commands that address an existing daemon get
    // `_rdaemon_names` instead of `_default` as their action.
    let mut replaced = 0;
    let mut programs = 0;
    let mut body = String::new();
    for line in generated.split_inclusive('\n') {
        // `start`'s `'*::program -- ...`: its first word may be a daemon's name too.
        if line.starts_with("'*::program -- ") && !shape.program_or_name.is_empty() {
            if let Some(spec) = line.strip_suffix(":_default' \\\n") {
                programs += 1;
                body.push_str(spec);
                body.push_str(":_rdaemon_program_or_name' \\\n");
                continue;
            }
        }
        // `'::name -- ...`, or `'*::names -- ...` for several; `'()--name=[...`, or with the
        // options it conflicts with, `'(--all)--name=[...`.
        let is_name = line.starts_with("'::name -- ")
            || line.starts_with("'*::names -- ")
            || (line.starts_with("'(") && line.contains(")--name=["));
        match line.strip_suffix(":_default' \\\n") {
            Some(spec) if is_name => {
                replaced += 1;
                body.push_str(spec);
                body.push_str(":_rdaemon_names' \\\n");
            }
            _ => body.push_str(line),
        }
    }
    let expected = shape.positional.len() + shape.option.len();
    assert_eq!(
        replaced, expected,
        "clap_complete's zsh script changed: expected {expected} NAME specs to hook"
    );
    assert_eq!(
        programs,
        shape.program_or_name.len(),
        "clap_complete's zsh script changed: expected a PROGRAM spec to hook"
    );
    let (head, tail) = split_at_anchor(
        &body,
        "if [ \"$funcstack[1]\" = \"_rdaemon\" ]; then",
        "zsh",
    );
    let function = r#"# Added by rdaemon: daemon names from `rdaemon list --names` in the rdaemon directory
# (--dir on the command line, else RDAEMON_DIR, else the default).
(( $+functions[_rdaemon_names] )) ||
_rdaemon_names() {
    local -a tokens names dir
    local i start=0 exe=rdaemon
    tokens=(${(Q)${(z)LBUFFER}})
    for (( i = ${#tokens}; i > 0; i-- )); do
        if [[ ${tokens[i]:t} == rdaemon ]]; then
            start=$i
            exe=${tokens[i]/#\~/$HOME}
            break
        fi
    done
    for (( i = start + 1; i <= ${#tokens}; i++ )); do
        case ${tokens[i]} in
            --) break ;;
            --dir) dir=(--dir "${tokens[i+1]/#\~/$HOME}") ;;
            --dir=*) dir=(--dir "${${tokens[i]#--dir=}/#\~/$HOME}") ;;
        esac
    done
    names=(${(f)"$($exe $dir list --names 2>/dev/null)"})
    _wanted daemons expl 'daemon name' compadd -a names
}

# `start`'s first word: a known daemon's name or a program; the program's arguments after it.
(( $+functions[_rdaemon_program_or_name] )) ||
_rdaemon_program_or_name() {
    if (( CURRENT == 1 )); then
        _alternative 'daemons:daemon name:_rdaemon_names' 'files:file:_files'
    else
        _default
    fi
}

"#;
    format!("{head}{function}{tail}")
}

fn add_fish_names(mut generated: String, shape: &NameShape) -> String {
    let _ = write!(
        generated,
        r#"
# Added by rdaemon: daemon names from `rdaemon list --names` in the rdaemon directory
# (--dir on the command line, else RDAEMON_DIR, else the default).
function __fish_rdaemon_names
    set -l tokens (commandline -opc)
    set -l dir
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case --dir
                set dir --dir $tokens[(math $i + 1)]
            case '--dir=*'
                set dir --dir (string replace -- --dir= '' $tokens[$i])
        end
    end
    $tokens[1] $dir list --names 2>/dev/null
end
# How many words typed are not options nor their values, the subcommand included.
function __fish_rdaemon_positionals
    set -l n 0
    set -l value 0
    for t in (commandline -opc)[2..-1]
        if test $value -eq 1
            set value 0
            continue
        end
        switch $t
            case '--*=*'
            case {value_options}
                set value 1
            case '-*'
            case '*'
                set n (math $n + 1)
        end
    end
    echo $n
end
"#,
        value_options = shape.value_options.join(" "),
    );
    for (sub, _) in &shape.positional {
        let condition = match shape.before_name.iter().find(|(s, _)| s == sub) {
            // A free positional before NAME (`signal SIG NAME...`): names once it is typed.
            Some((_, values)) if values.is_empty() => {
                let n = shape
                    .positional
                    .iter()
                    .find(|(s, _)| s == sub)
                    .map_or(0, |(_, n)| *n);
                format!(
                    "__fish_rdaemon_using_subcommand {sub}; and test (__fish_rdaemon_positionals) -gt {n}"
                )
            }
            Some((_, values)) => format!(
                "__fish_rdaemon_using_subcommand {sub}; and __fish_seen_subcommand_from {}",
                values.join(" ")
            ),
            None => format!("__fish_rdaemon_using_subcommand {sub}"),
        };
        let _ = writeln!(
            generated,
            "complete -c rdaemon -n \"{condition}\" -f -a \"(__fish_rdaemon_names)\""
        );
    }
    for sub in &shape.option {
        let _ = writeln!(
            generated,
            "complete -c rdaemon -n \"__fish_rdaemon_using_subcommand {sub}\" -l name -x -a \"(__fish_rdaemon_names)\""
        );
    }
    // `signal SIG`: the signal names where the signal goes (clap's script offers files).
    for (sub, n) in &shape.signal_positional {
        let _ = writeln!(
            generated,
            "complete -c rdaemon -n \"__fish_rdaemon_using_subcommand {sub}; and test (__fish_rdaemon_positionals) -eq {}\" -f -a \"{}\"",
            n + 1,
            shape.signals.join(" ")
        );
    }
    // `start NAME`: right after the subcommand, names beside the files (no -f).
    for sub in &shape.program_or_name {
        let _ = writeln!(
            generated,
            "complete -c rdaemon -n \"__fish_rdaemon_using_subcommand {sub}; and test (count (commandline -opc)) -eq 2\" -a \"(__fish_rdaemon_names)\""
        );
    }
    generated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> NameShape {
        let mut cmd = Cli::command();
        cmd.build();
        NameShape::of(&cmd)
    }

    #[test]
    fn name_shape_follows_the_cli() {
        let shape = shape();
        for sub in [
            "stop", "status", "restart", "forget", "logs", "reload", "wait",
        ] {
            assert!(
                shape.positional.contains(&(sub.to_owned(), 0)),
                "{sub}: {shape:?}"
            );
            assert!(shape.option.contains(&sub.to_owned()), "{sub}");
            assert!(shape.several.contains(&sub.to_owned()), "{sub}");
        }
        assert!(shape.positional.contains(&("signal".to_owned(), 1)));
        assert!(shape.several.contains(&"signal".to_owned()));
        // `signal`'s SIG is free (`9`, `sigterm`), whatever names its completion offers;
        // `export`'s format is one of two words.
        assert!(shape.before_name.contains(&("signal".to_owned(), vec![])));
        assert!(shape
            .before_name
            .contains(&("export".to_owned(), vec!["systemd".into(), "nomad".into()])));
        assert!(!shape.several.contains(&"export".to_owned()));
        assert!(shape.positional.contains(&("export".to_owned(), 1)));
        for sub in ["start", "list", "completions"] {
            assert!(!shape.positional.iter().any(|(s, _)| s == sub), "{sub}");
        }
        for opt in [
            "--dir",
            "--name",
            "--pidfile",
            "--signal",
            "--umask",
            "--env",
        ] {
            assert!(shape.value_options.iter().any(|o| o == opt), "{opt}");
        }
        for flag in ["--json", "--no-kill", "--quiet", "-q"] {
            assert!(!shape.value_options.iter().any(|o| o == flag), "{flag}");
        }
        assert_eq!(
            shape.signal_options,
            ["--reload-signal", "--signal", "--stop-signal"]
        );
        assert_eq!(shape.signal_positional, [("signal".to_owned(), 0)]);
        for sig in ["HUP", "TERM", "KILL", "USR1"] {
            assert!(shape.signals.iter().any(|s| s == sig), "{sig}");
        }
    }

    #[test]
    fn every_shell_script_names_rdaemon_and_hooks_names() {
        for shell in SHELLS {
            let text = script(shell);
            assert!(text.contains("rdaemon"), "{shell}");
        }
        assert!(script(Shell::Bash).contains("complete -F _rdaemon_names "));
        assert!(!script(Shell::Bash).contains("complete -F _rdaemon "));
        let zsh = script(Shell::Zsh);
        assert!(zsh.contains("_rdaemon_names() {"));
        assert!(zsh.contains("'::name -- "), "{zsh}");
        assert!(!zsh
            .lines()
            .any(|l| l.starts_with("'::name -- ") && l.ends_with(":_default' \\")));
        assert!(script(Shell::Fish).contains("(__fish_rdaemon_names)"));
    }
}
