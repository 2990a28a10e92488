//! The file of `up`, `down`, `export -f` and `logs --file` (SPEC §7): `rdaemon.toml`, parsed
//! with the `toml` crate, or a `Procfile`. Each entry is turned into `start`'s command line and
//! parsed by `start`'s own clap definitions, so that a value has one parser and one meaning
//! wherever it is written. Every error is `FILE:LINE: what is wrong`, a usage error (exit 2),
//! found before anything starts. Also the dependency graph of `after` (cycles, unknown names,
//! what a daemon needs, what needs it).
//!
//! Reads the file and nothing else: it never starts, stops or records anything.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ArgAction;
use serde::Deserialize;
use toml::Spanned;

use crate::cli::{usage_message, Cli, Command, StartArgs};
use crate::exit::{os_reason, Fail};
use crate::parse::Name;
use crate::paths::{absolute, Ctx};
use crate::spec::Spec;

/// The files `up` looks for in the current directory, in this order.
pub const DEFAULT_FILES: [&str; 2] = ["rdaemon.toml", "Procfile"];

/// A parsed, checked file.
#[derive(Debug)]
pub struct UpFile {
    /// Its absolute path (what the daemons' specs record as `source`).
    pub path: PathBuf,
    /// Its directory: relative paths in it, and the default `chdir`, are relative to it.
    pub dir: PathBuf,
    /// The daemons it declares, by name.
    pub entries: BTreeMap<Name, Entry>,
}

/// One daemon of the file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The daemon's name (the table's key, or the Procfile line's).
    pub name: Name,
    /// The line of its table header (or Procfile line).
    pub line: usize,
    /// `start`'s arguments for it (what follows `rdaemon start`), `--source` and `--after`
    /// included.
    pub argv: Vec<OsString>,
    /// The same, parsed by `start`'s definitions.
    pub args: StartArgs,
    /// The daemons it starts after.
    pub after: Vec<Name>,
    /// The line of its `after` key.
    after_line: usize,
    /// Each of its keys with its line.
    key_lines: Vec<(String, usize)>,
}

/// One `[daemons.NAME]` table: each key with its span.
type Table = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The document: `[daemons.NAME]` tables, keys with their spans.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    daemons: BTreeMap<Spanned<String>, Spanned<Table>>,
}

/// An entry before its keys are checked: the name, its line, each key with its line, and the
/// integers it writes in another base than 10.
struct Raw {
    name: String,
    line: usize,
    items: Vec<(String, usize, toml::Value)>,
    /// By their path in the entry: `["umask"]`, `["env", "MODE"]`.
    based: BTreeMap<Vec<String>, Based>,
}

/// An integer the file writes in base 2, 8 or 16 (`0b1`, `0o027`, `0x17`). `toml::Value` keeps
/// only its value, which [`word`] writes in decimal: `umask = 0o027` would reach `--umask` as
/// `23`, read as octal 023.
#[derive(Debug)]
struct Based {
    /// Its line.
    line: usize,
    /// As it is written (`0o027`).
    text: String,
    /// Its base: 2, 8 or 16.
    radix: u32,
    /// Its digits in that base, without the prefix and underscores (`027`).
    digits: String,
}

impl Based {
    /// The name of its base.
    fn base(&self) -> &'static str {
        match self.radix {
            2 => "binary",
            8 => "octal",
            _ => "hexadecimal",
        }
    }
}

/// Who the daemon `rec` is, when it is not one of `file`'s: `comes from OTHER` or `was
/// started by hand`; `None` for a daemon `file` started. `up`, `down` and every `--file` act
/// only on their own.
pub fn foreign_owner(rec: &crate::state::Record, file: &Path) -> Option<String> {
    match &rec.source {
        Some(own) if own == file => None,
        Some(other) => Some(format!("comes from {}", other.display())),
        None => Some("was started by hand".to_owned()),
    }
}

/// The most an up file may hold: a file of a thousand entries is far below it, and a larger
/// one (a sparse file another user put there) is not read into memory.
const MAX_UP_FILE: u64 = 4 << 20;

/// Why an up file is refused, for the error; a missing or unreadable one is the OS's reason.
enum Unread {
    Os(std::io::Error),
    Refused(String),
}

/// The bytes of the up file `path`: opened once, through its directory's safe handle, without
/// following a symlink or blocking on a FIFO, and checked as what was opened, not as what the
/// path named a moment before: as root, owned by root, one link, writable by no one else
/// ([`crate::fsx::trusted_by_root_at`]). A file checked by its path first and opened after
/// could be another user's by then, made in a sticky directory where the path named nothing
/// (helper-106's attack, 2026-12-03: root ran nobody's command). At most [`MAX_UP_FILE`]
/// bytes.
fn read_up_file(path: &Path) -> Result<Vec<u8>, Unread> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let (dir, name) = crate::fsx::Dir::open_parent(path)
        .map_err(|e| Unread::Os(std::io::Error::other(format!("{e:#}"))))?;
    let file = dir
        .open_file(&name, nix::fcntl::OFlag::O_RDONLY, 0)
        .map_err(Unread::Os)?;
    let kind = file.metadata().map_err(Unread::Os)?.file_type();
    if !kind.is_file() {
        let what = match () {
            _ if kind.is_fifo() => "it is a FIFO",
            _ if kind.is_dir() => "it is a directory",
            _ => "it is not a regular file",
        };
        return Err(Unread::Os(std::io::Error::other(format!(
            "{what}, and an up file must be a regular file"
        ))));
    }
    crate::fsx::trusted_by_root_at(&dir, &file).map_err(Unread::Refused)?;
    let mut bytes = Vec::new();
    file.take(MAX_UP_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(Unread::Os)?;
    if bytes.len() as u64 > MAX_UP_FILE {
        return Err(Unread::Os(std::io::Error::other(format!(
            "it is larger than {} MiB",
            MAX_UP_FILE >> 20
        ))));
    }
    Ok(bytes)
}

/// `bytes` as text, or the 1-based line of the first byte that is not UTF-8.
fn utf8_text(bytes: Vec<u8>) -> Result<String, usize> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = e.utf8_error().valid_up_to();
        bytes[..valid].iter().filter(|b| **b == b'\n').count() + 1
    })
}

/// The one of `known` nearest to `key` by edit distance, if it is near enough to be a typo
/// (at most 2 edits, and fewer than half of `key`'s letters), as clap suggests for options.
fn closest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = (above + 1)
                    .min(row[j] + 1)
                    .min(diagonal + usize::from(ca != *cb));
                diagonal = above;
            }
        }
        row[b.len()]
    };
    known
        .map(|k| (distance(key, k), k))
        .filter(|&(d, _)| d <= 2 && d * 2 < key.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

impl UpFile {
    /// Reads FILE (default: `./rdaemon.toml`, else `./Procfile`) and checks every entry. Then
    /// makes the file's directory the current one, so that relative paths in it (resolved when
    /// a spec is built, by this process and by the `start`s it runs) are relative to the file.
    pub fn load(file: Option<&Path>) -> Result<UpFile> {
        let path = match file {
            Some(p) => absolute(p)?,
            None => {
                let cwd = absolute(Path::new("."))?;
                DEFAULT_FILES
                    .iter()
                    .map(|f| cwd.join(f))
                    .find(|p| p.exists())
                    .ok_or_else(|| {
                        Fail::usage(format!(
                            "no rdaemon.toml or Procfile in {}: give one with -f FILE",
                            cwd.display()
                        ))
                    })?
            }
        };
        // Its commands run as root unless an entry names a user: as root, a file another user
        // could have written or swapped in is refused (exit 1, as a refused rdaemon directory).
        let path = crate::fsx::trusted_by_root(&path).map_err(|why| {
            anyhow::anyhow!(
                "refusing up file '{}': {why}; as root, rdaemon reads only an up file that root owns and no other user can change, since its commands run as root",
                path.display()
            )
        })?;
        // A file that is missing or unreadable is a problem in the system, exit 1, as a missing
        // env file is (SPEC §2); what is wrong inside it is the usage error.
        crate::fault::point("upfile-checked");
        let bytes = read_up_file(&path).map_err(|e| match e {
            Unread::Os(e) => anyhow::anyhow!("cannot read '{}': {}", path.display(), os_reason(&e)),
            Unread::Refused(why) => anyhow::anyhow!(
                "refusing up file '{}': {why}; as root, rdaemon reads only an up file that root owns and no other user can change, since its commands run as root",
                path.display()
            ),
        })?;
        // Its identity for `source`: the same file however it is named (`-f ../app/x.toml`,
        // a symlink, the default).
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        // Text that is not UTF-8 is what is wrong inside the file, as in an env file: exit 2,
        // said of the line, as every other fault of its content (SPEC §7).
        let text = utf8_text(bytes).map_err(|line| {
            Fail::usage(format!("{}:{line}: it is not UTF-8 text", path.display()))
        })?;
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        std::env::set_current_dir(&dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot change directory to '{}': {}",
                dir.display(),
                os_reason(&e)
            )
        })?;
        let file = UpFile::parse(&path, &text)?;
        Ok(file)
    }

    /// Parses and checks `text`, the content of `path` (absolute).
    pub fn parse(path: &Path, text: &str) -> Result<UpFile> {
        let at = |line: usize, what: String| -> anyhow::Error {
            Fail::usage(format!("{}:{line}: {what}", path.display())).into()
        };
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let raws = if is_procfile(path) {
            parse_procfile(text).map_err(|(line, what)| at(line, what))?
        } else {
            parse_toml(text).map_err(|(line, what)| at(line, what))?
        };
        if raws.is_empty() {
            return Err(at(
                1,
                "no daemons: declare each in a [daemons.NAME] table".into(),
            ));
        }
        let mut entries = BTreeMap::new();
        for raw in raws {
            let line = raw.line;
            let entry = entry_of(raw, path, &dir).map_err(|(l, what)| at(l, what))?;
            if entries.insert(entry.name.clone(), entry).is_some() {
                return Err(at(line, "this name is declared twice".into()));
            }
        }
        let file = UpFile {
            path: path.to_owned(),
            dir,
            entries,
        };
        file.check_after().map_err(|(line, what)| at(line, what))?;
        Ok(file)
    }

    /// Every `after` names an entry, and there is no cycle.
    fn check_after(&self) -> Result<(), (usize, String)> {
        for entry in self.entries.values() {
            if let Some(unknown) = entry.after.iter().find(|n| !self.entries.contains_key(n)) {
                return Err((
                    entry.after_line,
                    format!(
                        "{}: after names '{unknown}', which is not a daemon of this file",
                        entry.name
                    ),
                ));
            }
        }
        // Depth-first, in name order: the first cycle found is reported at the `after` of
        // the daemon where it closes.
        let mut done = BTreeSet::new();
        for start in self.entries.keys() {
            let mut path = Vec::new();
            if let Some(cycle) = self.find_cycle(start, &mut path, &mut done) {
                let at = &self.entries[&cycle[cycle.len() - 2]];
                let names: Vec<&str> = cycle.iter().map(Name::as_str).collect();
                return Err((
                    at.after_line,
                    format!("a cycle in after: {}", names.join(" -> ")),
                ));
            }
        }
        Ok(())
    }

    fn find_cycle(
        &self,
        name: &Name,
        path: &mut Vec<Name>,
        done: &mut BTreeSet<Name>,
    ) -> Option<Vec<Name>> {
        if let Some(i) = path.iter().position(|n| n == name) {
            let mut cycle = path[i..].to_vec();
            cycle.push(name.clone());
            return Some(cycle);
        }
        if done.contains(name) {
            return None;
        }
        path.push(name.clone());
        for dep in &self.entries[name].after {
            if let Some(cycle) = self.find_cycle(dep, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(name.clone());
        None
    }

    /// The names given (all when none), checked against the file: a name it does not declare
    /// is a usage error.
    fn given(&self, names: &[Name]) -> Result<BTreeSet<Name>> {
        if names.is_empty() {
            return Ok(self.entries.keys().cloned().collect());
        }
        if let Some(unknown) = names.iter().find(|n| !self.entries.contains_key(n)) {
            return Err(
                Fail::usage(format!("no daemon '{unknown}' in {}", self.path.display())).into(),
            );
        }
        Ok(names.iter().cloned().collect())
    }

    /// `names` (all when none) and everything they need, through `after`.
    pub fn with_needs(&self, names: &[Name]) -> Result<BTreeSet<Name>> {
        let mut set = self.given(names)?;
        let mut todo: Vec<Name> = set.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            for dep in &self.entries[&name].after {
                if set.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        Ok(set)
    }

    /// `names` (all when none) and everything that needs them, through `after`.
    pub fn with_dependents(&self, names: &[Name]) -> Result<BTreeSet<Name>> {
        let mut set = self.given(names)?;
        loop {
            let more: Vec<Name> = self
                .entries
                .values()
                .filter(|e| !set.contains(&e.name) && e.after.iter().any(|d| set.contains(d)))
                .map(|e| e.name.clone())
                .collect();
            if more.is_empty() {
                return Ok(set);
            }
            set.extend(more);
        }
    }

    /// The daemons of `set` whose `after` names `name`.
    pub fn dependents_of<'a>(
        &'a self,
        name: &'a Name,
        set: &'a BTreeSet<Name>,
    ) -> impl Iterator<Item = &'a Name> + 'a {
        set.iter()
            .filter(move |n| self.entries[*n].after.contains(name))
    }
}

impl Entry {
    /// The line to report `message` (an error of `start` about this entry) at: that of the
    /// key whose option it names first (`--max-restarts works only with --respawn` is about
    /// the `max-restarts` key), else the entry's own.
    pub fn line_of(&self, message: &str) -> usize {
        self.key_lines
            .iter()
            .filter_map(|(key, line)| {
                let option = format!("--{key}");
                message
                    .match_indices(&option)
                    .find(|(i, _)| {
                        !message[i + option.len()..]
                            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
                    })
                    .map(|(i, _)| (i, *line))
            })
            .min_by_key(|&(i, _)| i)
            .map_or(self.line, |(_, line)| line)
    }

    /// The line to report an error about the value of one of `options` at (as keys, most
    /// likely first: `["user", "group"]`): that of the first key of them the entry gives, else
    /// [`Entry::line_of`] `message`. An unknown user is on the line of the `user` key, not on
    /// the entry's header line.
    pub fn line_about(&self, options: &[&str], message: &str) -> usize {
        options
            .iter()
            .find_map(|option| {
                self.key_lines
                    .iter()
                    .find(|(key, _)| key == option)
                    .map(|(_, line)| *line)
            })
            .unwrap_or_else(|| self.line_of(message))
    }

    /// `message`, an error of `start` about this entry, as the file's: `FILE:LINE: NAME:
    /// message`, at [`Entry::line_of`].
    pub fn locate(&self, file: &Path, message: &str) -> String {
        format!(
            "{}:{}: {}: {message}",
            file.display(),
            self.line_of(message),
            self.name
        )
    }

    /// The spec `start` will build from this entry (relative paths against the current
    /// directory, which [`UpFile::load`] made the file's): what `up` compares with a running
    /// daemon's. A value `start` refuses (an option that needs another) is the file's usage
    /// error, at the line of the key it is about ([`Entry::line_of`]).
    pub fn spec(&self, ctx: &Ctx, file: &Path) -> Result<Spec> {
        let build = || -> Result<Spec> {
            let args = &self.args;
            let mut command: Vec<String> = args
                .program
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if let Some(p) = command.first_mut().filter(|p| p.contains('/')) {
                *p = absolute(Path::new(p.as_str()))?
                    .to_string_lossy()
                    .into_owned();
            }
            Spec::from_start(ctx, self.name.clone(), args, command)
        };
        build().map_err(|e| Fail::usage(self.locate(file, &crate::exit::render(&e))).into())
    }
}

/// Orders daemons so that each comes after the ones its `after` names (those present): Kahn's
/// algorithm, by name among the ready ones. Names caught in a cycle (possible only in hand-made
/// specs) come last, by name. Used by `up`'s files and `resurrect`'s specs alike.
pub fn order_by_after(daemons: &[(Name, Vec<Name>)]) -> Vec<Name> {
    let present: BTreeSet<&Name> = daemons.iter().map(|(n, _)| n).collect();
    let mut waiting: BTreeMap<&Name, BTreeSet<&Name>> = daemons
        .iter()
        .map(|(n, after)| (n, after.iter().filter(|d| present.contains(d)).collect()))
        .collect();
    let mut out = Vec::new();
    loop {
        let ready: Vec<&Name> = waiting
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            waiting.remove(name);
            for deps in waiting.values_mut() {
                deps.remove(name);
            }
            out.push(name.clone());
        }
    }
    out.extend(waiting.keys().map(|n| (*n).clone()));
    out
}

/// Whether `path` is read as a Procfile: its name ends in `Procfile` (`dev.Procfile`) or
/// `.procfile`, or begins with `Procfile.` and is not a `.toml` file (`Procfile.dev`, the name
/// foreman's users give a development one: helper-100's audit, where it was read as TOML).
fn is_procfile(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.ends_with("Procfile")
            || n.ends_with(".procfile")
            || (n.starts_with("Procfile.") && !n.ends_with(".toml"))
    })
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parse_toml(text: &str) -> Result<Vec<Raw>, (usize, String)> {
    let doc: Doc = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        let mut what = e.message().trim_end().to_owned();
        // Which key, or which table header (`[daemons.a]` twice): the parser says only
        // "duplicate key" (helper-126's trial).
        let spanned = e
            .span()
            .and_then(|s| text.get(s))
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.contains('\n'));
        if let (true, Some(key)) = (what == "duplicate key", spanned) {
            what = format!("duplicate key '{key}'");
        }
        // `umask = 022`, as on the command line: TOML has no such number.
        let umask_line = text
            .lines()
            .nth(line - 1)
            .is_some_and(|l| l.trim_start().starts_with("umask"));
        if umask_line && what.contains("leading zero") {
            what.push_str(
                "; TOML writes no number with a leading zero: write the umask as a string, umask = \"022\", or in octal, umask = 0o022",
            );
        }
        (line, what)
    })?;
    let mut based = based_integers(text);
    Ok(doc
        .daemons
        .into_iter()
        .map(|(name, table)| Raw {
            line: line_of(text, name.span().start),
            based: based.remove(name.as_ref()).unwrap_or_default(),
            name: name.into_inner(),
            items: table
                .into_inner()
                .into_iter()
                .map(|(key, value)| {
                    (
                        key.as_ref().clone(),
                        line_of(text, key.span().start),
                        value.into_inner(),
                    )
                })
                .collect(),
        })
        .collect())
}

/// The integers of each entry of `text` (a document `toml::from_str` read) written in base 2, 8
/// or 16, by the entry's name and their path in it ([`Raw::based`]): a key's value, or a value
/// in a key's table (`env`). In an array, an integer counts by its value (no repeatable option
/// of `start` reads its values in another base).
fn based_integers(text: &str) -> BTreeMap<String, BTreeMap<Vec<String>, Based>> {
    use toml::de::{DeTable, DeValue};
    let based = |value: &Spanned<DeValue>| match value.get_ref() {
        DeValue::Integer(n) if n.radix() != 10 => Some(Based {
            line: line_of(text, value.span().start),
            text: text.get(value.span()).unwrap_or(n.as_str()).to_owned(),
            radix: n.radix(),
            digits: n.as_str().to_owned(),
        }),
        _ => None,
    };
    let mut out = BTreeMap::new();
    let Ok(doc) = DeTable::parse(text) else {
        return out;
    };
    let daemons = doc.get_ref().iter().find(|(k, _)| k.get_ref() == "daemons");
    let Some(DeValue::Table(daemons)) = daemons.map(|(_, v)| v.get_ref()) else {
        return out;
    };
    for (name, entry) in daemons {
        let DeValue::Table(entry) = entry.get_ref() else {
            continue;
        };
        let mut found = BTreeMap::new();
        for (key, value) in entry {
            let key = key.get_ref().to_string();
            if let Some(b) = based(value) {
                found.insert(vec![key.clone()], b);
            }
            if let DeValue::Table(table) = value.get_ref() {
                for (inner, value) in table {
                    if let Some(b) = based(value) {
                        found.insert(vec![key.clone(), inner.get_ref().to_string()], b);
                    }
                }
            }
        }
        out.insert(name.get_ref().to_string(), found);
    }
    out
}

/// `NAME: COMMAND` lines (blank lines and `#` comments skipped): one `run` entry each.
fn parse_procfile(text: &str) -> Result<Vec<Raw>, (usize, String)> {
    let mut out = Vec::new();
    // A byte order mark, as some Windows editors write: part of no name (helper-126's trial:
    // "invalid name 'web'", the culprit invisible). A TOML file may have one too.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err((i + 1, "expected 'NAME: COMMAND'".into()));
        };
        let command = command.trim();
        if command.is_empty() {
            return Err((
                i + 1,
                format!("{}: no command after the colon", name.trim()),
            ));
        }
        out.push(Raw {
            name: name.trim().to_owned(),
            line: i + 1,
            items: vec![("run".into(), i + 1, toml::Value::String(command.into()))],
            based: BTreeMap::new(),
        });
    }
    Ok(out)
}

/// Whether `value` holds a NUL byte: in a string, a table's key, or anything nested.
fn has_nul(value: &toml::Value) -> bool {
    match value {
        toml::Value::String(s) => s.contains('\0'),
        toml::Value::Array(items) => items.iter().any(has_nul),
        toml::Value::Table(table) => table.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// A scalar as a command-line word.
fn word(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => None,
    }
}

/// The words POSIX `sh` gives a meaning of its own at the head of a command: reserved words,
/// and built-ins that no program on `PATH` stands in for (`exec cd` fails). A `run` line that
/// begins with one is left to the shell as it is.
const SHELL_OWN_WORDS: [&str; 45] = [
    "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then",
    "until", "while", "[[", "function", "select", "time", "coproc", ".", ":", "break", "continue",
    "eval", "exec", "exit", "export", "readonly", "return", "set", "shift", "times", "trap",
    "unset", "cd", "alias", "read", "wait", "umask", "ulimit", "source", "local", "command",
];

/// `start`'s command for a `run` line (and a Procfile's): `/bin/sh -c LINE`. A simple command
/// (one program and its words, redirections and expansions allowed) becomes `exec LINE`, so
/// that the program replaces the shell and is the daemon's main process: the one `stop`,
/// `signal` and `reload` reach, whose exit is the daemon's. Debian's `/bin/sh` (dash) does not
/// do this by itself; without it `reload` went to the shell and `stop` found the program a
/// leftover. Anything else (`a && b`, `cd dir; ./run`, a pipeline, a loop) runs as written.
pub fn shell_argv(line: &str) -> Vec<String> {
    let line = match is_simple_command(line) {
        true => format!("exec {}", line.trim_start()),
        false => line.to_owned(),
    };
    vec!["/bin/sh".into(), "-c".into(), line]
}

/// Whether `line` is one simple command of `sh` whose first word names a program: no unquoted
/// `;`, `&` (but in `>&`, `<&`), `|`, parenthesis, backquote or line break (so one command, not
/// a list, pipeline or subshell), and a first word that is neither an assignment, a redirection nor one of
/// [`SHELL_OWN_WORDS`]. Errs on the side of "no": the line then runs as written.
fn is_simple_command(line: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut previous = ' ';
    for c in line.trim().chars() {
        let before = std::mem::replace(&mut previous, c);
        match (quote, c) {
            _ if escaped => escaped = false,
            // A redirection that duplicates a descriptor (`2>&1`, `<&3`), not a list.
            (None, '&') if matches!(before, '>' | '<') => {}
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => escaped = true,
            (Some('"'), '"') => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ';' | '&' | '|' | '(' | ')' | '\n' | '\r' | '`') => return false,
            (None, _) => {}
        }
    }
    if quote.is_some() || escaped {
        return false;
    }
    let Some(first) = line.split_whitespace().next() else {
        return false;
    };
    let plain = first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._+-,@".contains(c));
    plain && !first.starts_with(|c: char| c.is_ascii_digit()) && !SHELL_OWN_WORDS.contains(&first)
}

/// A clap error as one line about the file (`FILE:LINE: ` goes before it): `start`'s own
/// rendering ([`usage_message`]) without what only suits a command line: the list of possible
/// values on a line of its own, "For more information, try '--help'", the usage.
fn one_line(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() == ErrorKind::InvalidValue {
        if let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) = (
            err.get(ContextKind::InvalidArg),
            err.get(ContextKind::InvalidValue),
        ) {
            let arg = arg.split_whitespace().next().unwrap_or(arg);
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(values)) if !values.is_empty() => {
                    let (last, rest) = values.split_last().expect("not empty");
                    match rest.is_empty() {
                        true => format!(": use {last}"),
                        false => format!(": use {} or {last}", rest.join(", ")),
                    }
                }
                _ => String::new(),
            };
            return format!("{arg}: invalid value '{value}'{valid}");
        }
    }
    let text = usage_message(err);
    let first = text.split("\n\n").next().unwrap_or_default();
    first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `arg`, an option `start` accepts, may be a key of an entry: not rdaemon's global
/// options (`--dir`, `--quiet`, `--verbose`), which are `up`'s own and not one daemon's (a
/// `dir` key put that daemon in another rdaemon directory, where `list` and `down` never saw
/// it: SPEC §1, all state is in the directory given), nor `--help`/`--version`.
fn is_entry_option(arg: &clap::Arg) -> bool {
    !arg.is_global_set()
        && !matches!(
            arg.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        )
}

/// Why `arg` (not [`is_entry_option`]) is refused as a key.
fn not_of_an_entry(arg: &clap::Arg) -> String {
    let long = arg.get_long().unwrap_or_default();
    if !arg.is_global_set() {
        return format!("not a key of an entry: --{long} is not an option of a daemon");
    }
    let why = match arg.get_id().as_str() {
        "dir" => "every daemon of the file lives in the rdaemon directory 'up' is given (--dir or RDAEMON_DIR), where list, stop and down find it".to_owned(),
        _ => format!("give it to up itself (rdaemon up --{long})"),
    };
    format!(
        "not a key of an entry: --{long} is a global option of rdaemon, not one of a daemon; {why}"
    )
}

/// Turns an entry into `start`'s arguments and parses them with `start`'s definitions.
fn entry_of(raw: Raw, path: &Path, dir: &Path) -> Result<Entry, (usize, String)> {
    let line = raw.line;
    let name = Name::parse(&raw.name).map_err(|e| (line, e))?;
    let cli = Cli::built();
    let start = cli.find_subcommand("start").expect("start is a subcommand");
    let mut program: Option<Vec<String>> = None;
    let mut after = Vec::new();
    let mut after_line = line;
    let mut options: Vec<(usize, Vec<String>)> = Vec::new();
    let mut chdir_given = false;
    let key_lines = raw.items.iter().map(|(k, l, _)| (k.clone(), *l)).collect();
    for (key, key_line, value) in raw.items {
        let fail = |what: String| (key_line, format!("{key}: {what}"));
        // Every value becomes a word of a command line (`start`'s, the program's): a NUL byte
        // cannot be in one. Left to the spawn of the entry's `start`, it failed there, said of
        // no line, after the other entries had started (helper-126).
        if has_nul(&value) {
            return Err(fail(
                "a NUL byte (\\u0000) cannot be passed on a command line".into(),
            ));
        }
        match key.as_str() {
            "command" | "run" => {
                if program.is_some() {
                    return Err(fail("give command or run, not both".into()));
                }
                program = Some(match (key.as_str(), &value) {
                    ("run", toml::Value::String(s)) if !s.trim().is_empty() => shell_argv(s),
                    ("run", _) => {
                        return Err(fail("expected a shell command line (a string)".into()))
                    }
                    (_, toml::Value::Array(words)) if !words.is_empty() => words
                        .iter()
                        .map(|w| match w {
                            toml::Value::String(s) => Ok(s.clone()),
                            _ => Err(fail("expected an array of strings".into())),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(fail(
                            "expected the program and its arguments, an array of strings".into(),
                        ))
                    }
                });
            }
            "after" => {
                after_line = key_line;
                let names = match &value {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| match v {
                            toml::Value::String(s) => Ok(s.clone()),
                            _ => Err(fail("expected an array of daemon names".into())),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(fail("expected an array of daemon names".into())),
                };
                for n in names {
                    let n = Name::parse(&n).map_err(&fail)?;
                    if n == name {
                        // As a longer cycle is reported (`check_after`): not under the key.
                        return Err((key_line, format!("a cycle in after: {name} -> {name}")));
                    }
                    after.push(n);
                }
            }
            "env" => {
                let toml::Value::Table(table) = &value else {
                    return Err(fail("expected a table: env = { KEY = \"value\" }".into()));
                };
                let mut words = Vec::new();
                for (k, v) in table {
                    // A key is a name of its own, never split again as `--env`'s word is:
                    // `"A=B" = "x"` set A to `B=x` (helper-126).
                    if !crate::parse::is_variable_name(k) {
                        return Err((
                            key_line,
                            format!("--env: '{k}' is not a variable name (letters, digits and _)"),
                        ));
                    }
                    // TOML keeps a float's value, not its spelling: `3.10` would reach the
                    // program as `3.1` (review, 2026-12-02), where `--env V=3.10` gives `3.10`.
                    if let toml::Value::Float(f) = v {
                        return Err(fail(format!(
                            "{k}: a number with a fraction or an exponent is read as a float and may not keep how it is written ({f} here): quote it, {k} = \"...\""
                        )));
                    }
                    let v =
                        word(&v.clone()).ok_or_else(|| fail(format!("{k}: expected a value")))?;
                    // Nor an integer's base: `MODE = 0o755` would reach it as `493`.
                    if let Some(b) = raw.based.get([key.clone(), k.clone()].as_slice()) {
                        return Err((
                            b.line,
                            format!(
                                "{key}: {k}: {} is an integer written in {}, which would reach the program in decimal, as {v}: quote it, {k} = \"{}\"",
                                b.text,
                                b.base(),
                                b.text
                            ),
                        ));
                    }
                    words.push(format!("--env={k}={v}"));
                }
                options.push((key_line, words));
            }
            "name" => {
                return Err(fail(
                    "not a key of an entry: the table's name is the daemon's name".into(),
                ))
            }
            "foreground" => {
                return Err(fail(
                    "up detaches every daemon: foreground cannot be used here".into(),
                ))
            }
            _ => {
                let arg = start
                    .get_arguments()
                    .find(|a| !a.is_hide_set() && a.get_long() == Some(key.as_str()))
                    .ok_or_else(|| {
                        let known = start
                            .get_arguments()
                            .filter(|a| !a.is_hide_set() && is_entry_option(a))
                            .filter_map(|a| a.get_long())
                            .chain(["command", "run", "after", "env"]);
                        let hint = closest(&key, known)
                            .map(|k| format!("; did you mean '{k}'?"))
                            .unwrap_or_default();
                        fail(format!("unknown key: not a long option of 'rdaemon start' (nor command, run, after){hint}"))
                    })?;
                if !is_entry_option(arg) {
                    return Err(fail(not_of_an_entry(arg)));
                }
                if key == "chdir" {
                    chdir_given = true;
                }
                // An option read in octal (`--umask`) takes the digits of an integer written
                // in octal (`0o027`), and refuses one written in another base (`0x17`), which
                // it would read as other digits. A decimal integer keeps the meaning it has on
                // the command line (`umask = 27` is `--umask 27`: octal 027). Any other option
                // reads a number in decimal, which is the value however it is written.
                let octal = arg
                    .get_value_names()
                    .is_some_and(|names| names.iter().any(|n| n == "OCTAL"));
                let based = raw.based.get([key.clone()].as_slice());
                let words = if let (true, Some(b)) = (octal, based) {
                    if b.radix != 8 {
                        return Err(fail(format!(
                            "{} is an integer written in {}, but --{key} is octal: write it in octal, as {key} = \"027\" or {key} = 0o027",
                            b.text,
                            b.base()
                        )));
                    }
                    vec![format!("--{key}={}", b.digits)]
                } else if arg.get_action().takes_values() {
                    let values = match &value {
                        toml::Value::Array(items)
                            if matches!(arg.get_action(), ArgAction::Append) =>
                        {
                            items.clone()
                        }
                        toml::Value::Array(_) => {
                            return Err(fail("expected one value, not an array".into()))
                        }
                        toml::Value::Table(_) => {
                            return Err(fail("expected a value, not a table".into()))
                        }
                        toml::Value::Boolean(_) => {
                            return Err(fail("expected a value, not true or false".into()))
                        }
                        other => vec![other.clone()],
                    };
                    values
                        .iter()
                        .map(|v| {
                            word(v)
                                .map(|w| format!("--{key}={w}"))
                                .ok_or_else(|| fail("expected a value".into()))
                        })
                        .collect::<Result<Vec<_>, _>>()?
                } else {
                    match value {
                        toml::Value::Boolean(true) => vec![format!("--{key}")],
                        toml::Value::Boolean(false) => vec![],
                        _ => return Err(fail("expected true or false".into())),
                    }
                };
                options.push((key_line, words));
            }
        }
    }
    let Some(program) = program else {
        return Err((
            line,
            format!("{name}: no program: give command = [\"PROGRAM\", \"ARG\"...] or run = \"COMMAND LINE\""),
        ));
    };
    // Each key alone first, so that a bad value is reported at its own line.
    let head = |extra: &[String]| {
        let mut argv: Vec<OsString> = vec!["rdaemon".into(), "start".into()];
        argv.push(format!("--name={name}").into());
        argv.extend(extra.iter().map(OsString::from));
        argv
    };
    for (key_line, words) in &options {
        let mut argv = head(words);
        argv.extend(["--".into(), "true".into()]);
        if let Err(err) = Cli::try_parse_words(&argv) {
            return Err((*key_line, one_line(&err)));
        }
    }
    let mut words: Vec<String> = vec![format!("--source={}", path.display())];
    words.extend(after.iter().map(|a| format!("--after={a}")));
    if !chdir_given {
        words.push(format!("--chdir={}", dir.display()));
    }
    words.extend(options.into_iter().flat_map(|(_, w)| w));
    let mut argv = head(&words);
    argv.push("--".into());
    argv.extend(program.iter().map(OsString::from));
    let args = match Cli::try_parse_words(&argv) {
        Ok(Cli {
            command: Command::Start(args),
            ..
        }) => args,
        Ok(_) => unreachable!("parsed as start"),
        Err(err) => return Err((line, format!("{name}: {}", one_line(&err)))),
    };
    let entry = Entry {
        name,
        line,
        argv: argv.into_iter().skip(2).collect(),
        args,
        after,
        after_line,
        key_lines,
    };
    // What `start` refuses of the options together (`max-restarts` without `respawn`, `watchdog`
    // without `ready = "notify"`): the file's usage error whichever entries a command acts on.
    // Found only where a spec was built, it let `up a` and `down` take a file that `up` refused
    // (helper-126).
    if let Err(e) = Spec::default().apply(&entry.args.opts) {
        let message = crate::exit::render(&e);
        return Err((
            entry.line_of(&message),
            format!("{}: {message}", entry.name),
        ));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UpFile> {
        UpFile::parse(Path::new("/srv/app/rdaemon.toml"), text)
    }

    fn err(text: &str) -> String {
        let e = parse(text).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), crate::exit::Code::Usage);
        e.to_string()
    }

    #[test]
    fn a_duplicate_key_is_named() {
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\ncommand = [\"y\"]\n"),
            "/srv/app/rdaemon.toml:3: duplicate key 'command'"
        );
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\n[daemons.a]\ncommand = [\"y\"]\n"),
            "/srv/app/rdaemon.toml:3: duplicate key 'a'"
        );
    }

    #[test]
    fn entries_become_starts_command_line() {
        let file = parse(
            r#"
[daemons.db]
command = ["redis-server", "--port", "6390"]
ready = "tcp:6390"

[daemons.web]
run = "python3 -m http.server 8080"
after = ["db"]
env = { LEVEL = "debug", N = 3 }
respawn = true
ready-timeout = "10s"
"#,
        )
        .unwrap();
        let web = &file.entries[&Name::parse("web").unwrap()];
        assert_eq!(web.line, 6);
        let argv: Vec<String> = web
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "--name=web",
                "--source=/srv/app/rdaemon.toml",
                "--after=db",
                "--chdir=/srv/app",
                "--env=LEVEL=debug",
                "--env=N=3",
                "--ready-timeout=10s",
                "--respawn",
                "--",
                "/bin/sh",
                "-c",
                "exec python3 -m http.server 8080"
            ]
        );
        assert!(web.args.opts.respawn);
        assert_eq!(
            web.args.source.as_deref(),
            Some(Path::new("/srv/app/rdaemon.toml"))
        );
    }

    #[test]
    fn a_typo_gets_the_nearest_key_and_nonsense_gets_none() {
        let known = || ["ready", "ready-timeout", "respawn", "user", "after"].into_iter();
        assert_eq!(closest("redy", known()), Some("ready"));
        assert_eq!(closest("respwan", known()), Some("respawn"));
        assert_eq!(closest("usr", known()), Some("user"));
        assert_eq!(closest("xyzzy", known()), None);
        assert_eq!(closest("ab", known()), None);
    }

    #[test]
    fn errors_point_at_the_line() {
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\nredy = \"tcp:1\"\n"),
            "/srv/app/rdaemon.toml:3: redy: unknown key: not a long option of 'rdaemon start' (nor command, run, after); did you mean 'ready'?"
        );
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\n\nready-timeout = \"soon\"\n"),
            format!(
                "/srv/app/rdaemon.toml:4: {}",
                usage_message(
                    &Cli::try_parse_words(["rdaemon", "start", "--ready-timeout=soon", "x"])
                        .unwrap_err()
                )
            )
        );
        // A float in env would lose its spelling (3.10 -> 3.1): refused, asking for a string.
        let float = err("[daemons.a]\ncommand = [\"x\"]\nenv = { PY = 3.10 }\n");
        assert!(
            float.starts_with("/srv/app/rdaemon.toml:3: env: PY: a number with a fraction")
                && float.contains("quote it"),
            "{float}"
        );
        let cycle = err(
            "[daemons.a]\ncommand = [\"x\"]\nafter = [\"b\"]\n[daemons.b]\ncommand = [\"x\"]\nafter = [\"a\"]\n",
        );
        assert!(cycle.starts_with("/srv/app/rdaemon.toml:"), "{cycle}");
        assert!(cycle.contains("a cycle in after: a -> b -> a"), "{cycle}");
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\nafter = [\"nope\"]\n"),
            "/srv/app/rdaemon.toml:3: a: after names 'nope', which is not a daemon of this file"
        );
        assert!(err("[daemons.a]\nready = \"exec\"\n")
            .starts_with("/srv/app/rdaemon.toml:1: a: no program"));
        assert!(err("[daemons.a]\ncommand = [\"x\"\n").starts_with("/srv/app/rdaemon.toml:2: "));
        assert!(err("[other]\n").starts_with("/srv/app/rdaemon.toml:1: unknown field"));
        assert!(err("[daemons.a]\ncommand = [\"x\"]\nrespawn = \"yes\"\n")
            .starts_with("/srv/app/rdaemon.toml:3: respawn: expected true or false"));
        // Said once, as a longer cycle is.
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\nafter = [\"a\"]\n"),
            "/srv/app/rdaemon.toml:3: a cycle in after: a -> a"
        );
        // One line, without clap's list on a line of its own and its "try '--help'".
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\ncgroup = \"maybe\"\n"),
            "/srv/app/rdaemon.toml:3: --cgroup: invalid value 'maybe': use auto, on or off"
        );
    }

    /// `umask = 0o027` is 027: the integer's octal digits, not its value in decimal (`23`, read
    /// as octal 023); `umask = 0o022` was refused as `'18'`. An integer written in another base
    /// is refused, asking for octal; one written in decimal keeps its command-line meaning
    /// (`--umask 27`).
    #[test]
    fn an_octal_umask_is_read_as_written() {
        let umask = |value: &str| {
            let file = parse(&format!(
                "[daemons.a]\ncommand = [\"x\"]\numask = {value}\n"
            ))?;
            Ok::<_, anyhow::Error>(file.entries[&Name::parse("a").unwrap()].args.opts.umask)
        };
        for (value, mask) in [
            ("0o027", 0o27),
            ("0o022", 0o22),
            ("0o0077", 0o77),
            ("0o7_7", 0o77),
            ("0o0", 0),
            ("27", 0o27),
            ("\"027\"", 0o27),
        ] {
            assert_eq!(umask(value).unwrap(), Some(mask), "{value}");
        }
        for (value, base) in [("0x17", "hexadecimal"), ("0b10111", "binary")] {
            assert_eq!(
                umask(value).unwrap_err().to_string(),
                format!("/srv/app/rdaemon.toml:3: umask: {value} is an integer written in {base}, but --umask is octal: write it in octal, as umask = \"027\" or umask = 0o027")
            );
        }
        assert!(
            err("[daemons.a]\ncommand = [\"x\"]\numask = 0o1777\n").ends_with(
                ":3: --umask: invalid umask '1777': use an octal mode from 000 to 777, like 022"
            )
        );
        let zero = err("[daemons.a]\ncommand = [\"x\"]\numask = 022\n");
        assert!(
            zero.starts_with("/srv/app/rdaemon.toml:3: ") && zero.contains("umask = \"022\""),
            "{zero}"
        );
        // A number read in decimal is its value, however it is written.
        let file = parse(
            "[daemons.a]\ncommand = [\"x\"]\nrespawn = true\nmax-restarts = 0x10\nlog-keep = 0b11\n",
        )
        .unwrap();
        let a = &file.entries[&Name::parse("a").unwrap()];
        assert_eq!(a.args.opts.max_restarts, Some(16));
        assert_eq!(a.args.opts.log_keep, Some(3));
    }

    /// An integer in `env` reaches the program as text: one written in another base than 10
    /// would lose how it is written (`0o755` as `493`), as a float would. Refused at its line,
    /// in an inline table or a table of its own.
    #[test]
    fn an_env_integer_in_another_base_is_refused() {
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\nenv = { N = 12, MODE = 0o755 }\n"),
            "/srv/app/rdaemon.toml:3: env: MODE: 0o755 is an integer written in octal, which would reach the program in decimal, as 493: quote it, MODE = \"0o755\""
        );
        assert!(
            err("[daemons.a]\ncommand = [\"x\"]\n[daemons.a.env]\nN = 12\nMASK = 0xff\n")
                .starts_with(
                    "/srv/app/rdaemon.toml:5: env: MASK: 0xff is an integer written in hexadecimal"
                )
        );
        let file =
            parse("[daemons.a]\ncommand = [\"x\"]\nenv = { N = 12, MODE = \"0o755\" }\n").unwrap();
        let a = &file.entries[&Name::parse("a").unwrap()];
        assert!(a.argv.contains(&"--env=MODE=0o755".into()), "{:?}", a.argv);
        assert!(a.argv.contains(&"--env=N=12".into()), "{:?}", a.argv);
    }

    /// rdaemon's global options (every one the CLI has, and `--help`) are `up`'s, never an
    /// entry's: `dir` put a daemon where `list` and `down` never looked.
    #[test]
    fn no_global_option_is_a_key() {
        let cli = Cli::built();
        let globals: Vec<&str> = cli
            .get_arguments()
            .filter(|a| a.is_global_set())
            .filter_map(|a| a.get_long())
            .collect();
        assert!(globals.contains(&"dir"), "{globals:?}");
        for long in globals.iter().chain(&["help"]) {
            let e = err(&format!("[daemons.a]\ncommand = [\"x\"]\n{long} = true\n"));
            assert!(
                e.starts_with(&format!(
                    "/srv/app/rdaemon.toml:3: {long}: not a key of an entry: --{long} "
                )),
                "{e}"
            );
        }
        // Nor offered as what a typo meant.
        assert!(!err("[daemons.a]\ncommand = [\"x\"]\ndri = 1\n").contains("did you mean"));
    }

    #[test]
    fn an_error_of_start_is_at_the_line_of_the_key_it_names() {
        let file = parse(
            "[daemons.a]\ncommand = [\"x\"]\nmax-restarts = 3\nlog-keep = 2\nrespawn = true\n",
        )
        .unwrap();
        let a = &file.entries[&Name::parse("a").unwrap()];
        assert_eq!(a.line_of("--max-restarts works only in supervised mode"), 3);
        assert_eq!(a.line_of("--log-keep-x and --max-restarts"), 3);
        assert_eq!(a.line_of("--log-keep needs --max-restarts"), 4);
        assert_eq!(a.line_of("unknown user 'x'"), 1);
    }

    /// Options `start` refuses together are the file's error, at the key's line, whatever
    /// entries a command acts on (helper-126: `up a` started a beside such an entry b).
    #[test]
    fn options_start_refuses_together_are_a_usage_error_of_the_file() {
        assert_eq!(
            err("[daemons.a]\ncommand = [\"x\"]\n[daemons.b]\ncommand = [\"x\"]\n\nmax-restarts = 3\n"),
            "/srv/app/rdaemon.toml:6: b: --max-restarts works only in supervised mode: add --respawn"
        );
        assert!(
            err("[daemons.a]\ncommand = [\"x\"]\nrespawn = true\nwatchdog = \"1s\"\n")
                .starts_with("/srv/app/rdaemon.toml:4: a: --watchdog needs --ready notify")
        );
    }

    #[test]
    fn an_error_about_a_value_is_at_the_line_of_its_key() {
        let file = parse(
            "[daemons.a]\ncommand = [\"x\"]\nlog = \"a.log\"\n\ngroup = \"g\"\nuser = \"u\"\n",
        )
        .unwrap();
        let a = &file.entries[&Name::parse("a").unwrap()];
        assert_eq!(a.line_about(&["user", "group"], "unknown user 'u'"), 6);
        assert_eq!(a.line_about(&["stdout", "log"], "cannot open log file"), 3);
        assert_eq!(a.line_about(&["command", "run"], "cannot execute 'x'"), 2);
        // No key of them given: the option the message names, else the entry's line.
        assert_eq!(a.line_about(&["chdir"], "cannot change directory"), 1);
        assert_eq!(a.line_about(&[], "cannot set --log x"), 3);
    }

    /// What `up` compares to call a daemon up to date: the spec built from its entry must come
    /// back equal from the spec file `start` saves, for every key (a field that does not round
    /// trip would restart the daemon at every `up`).
    #[test]
    fn an_entrys_spec_comes_back_equal_from_the_spec_file() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx::new(Some(dir.path().to_owned()), true, 0).unwrap();
        let file = parse(
            r#"
[daemons.web]
command = ["/usr/bin/python3", "-m", "http.server"]
after = ["db"]
pidfile = "/run/web.pid"
stdout = "/var/log/web.out"
stderr = "/var/log/web.err"
chdir = "/srv"
umask = "027"
env = { LEVEL = "debug", PORT = 8080 }
ready = "file:/srv/web.ready"
ready-timeout = "1m30s"
respawn = true
restart-delay = "250ms"
max-restarts = 0
restart-window = "2m"
log-max-size = "10M"
log-keep = 2
cgroup = "on"
memory-max = "64M"
tasks-max = 50

[daemons.db]
run = "exec sleep 1000"
"#,
        )
        .unwrap();
        for entry in file.entries.values() {
            let spec = entry.spec(&ctx, &file.path).unwrap();
            spec.unstarted().save_spec(&ctx).unwrap();
            let rec = crate::state::Record::load(&ctx, &entry.name)
                .unwrap()
                .unwrap();
            assert_eq!(
                Spec::from_record(&ctx, &rec).unwrap(),
                spec,
                "{}",
                entry.name
            );
        }
    }

    #[test]
    fn a_simple_run_line_has_the_shell_exec_its_program() {
        let run = |line: &str| shell_argv(line)[2].clone();
        for (line, exec) in [
            ("python3 -m http.server 8080", true),
            ("  ./work.sh --fast", true),
            ("/usr/sbin/nginx -g 'daemon off;'", true),
            ("redis-server --port \"$PORT\" >>redis.out 2>&1", true),
            ("node server.js # the API", true),
            ("cd app && ./run", false),
            ("./migrate; ./serve", false),
            ("./serve | tee log", false),
            ("./serve &", false),
            ("./serve 2>& 1 &", false),
            ("(cd app; ./run)", false),
            ("PORT=80 ./serve", false),
            ("exec ./serve", false),
            ("ulimit -n 4096", false),
            ("if true; then ./serve; fi", false),
            ("$HOME/bin/serve", false),
            ("./serve 'unterminated", false),
            ("./serve\n./other", false),
            ("echo `date`", false),
        ] {
            let expected = match exec {
                true => format!("exec {}", line.trim_start()),
                false => line.to_owned(),
            };
            assert_eq!(run(line), expected, "{line:?}");
        }
        assert_eq!(shell_argv("x")[..2], ["/bin/sh", "-c"]);
    }

    #[test]
    fn text_that_is_not_utf8_is_told_by_its_line() {
        assert_eq!(utf8_text(b"a = 1\n".to_vec()), Ok("a = 1\n".to_owned()));
        assert_eq!(utf8_text(b"\xff".to_vec()), Err(1));
        assert_eq!(
            utf8_text(b"[daemons.x]\nrun = \"caf\xe9\"\n".to_vec()),
            Err(2)
        );
        // A sequence cut at the end of the file is not UTF-8 either.
        assert_eq!(utf8_text(b"a\nb\n\n\xc3".to_vec()), Err(4));
    }

    #[test]
    fn procfiles_are_run_entries() {
        let file = UpFile::parse(
            Path::new("/srv/app/Procfile"),
            "# comment\nweb: python3 -m http.server\n\nworker:  ./work.sh --fast\n",
        )
        .unwrap();
        let worker = &file.entries[&Name::parse("worker").unwrap()];
        assert_eq!(worker.line, 4);
        // A byte order mark before the first name is no part of it.
        let file = UpFile::parse(
            Path::new("/srv/app/Procfile"),
            "\u{feff}web: ./serve
",
        )
        .unwrap();
        assert!(file.entries.contains_key(&Name::parse("web").unwrap()));
        assert_eq!(
            worker.args.program,
            ["/bin/sh", "-c", "exec ./work.sh --fast"]
        );
        for name in [
            "Procfile",
            "dev.Procfile",
            "Procfile.dev",
            "Procfile.local",
            "x.procfile",
        ] {
            assert!(is_procfile(Path::new(name)), "{name}");
        }
        for name in [
            "rdaemon.toml",
            "Procfile.toml",
            "procfile.txt",
            "stack.toml",
        ] {
            assert!(!is_procfile(Path::new(name)), "{name}");
        }
        let e = UpFile::parse(Path::new("/srv/Procfile"), "web python3\n").unwrap_err();
        assert_eq!(e.to_string(), "/srv/Procfile:1: expected 'NAME: COMMAND'");
    }

    #[test]
    fn order_puts_needs_first_and_cycles_last() {
        let n = |s: &str| Name::parse(s).unwrap();
        let order = order_by_after(&[
            (n("c"), vec![n("b")]),
            (n("b"), vec![n("a"), n("gone")]),
            (n("a"), vec![]),
            (n("x"), vec![n("y")]),
            (n("y"), vec![n("x")]),
        ]);
        assert_eq!(order, ["a", "b", "c", "x", "y"].map(n));
    }
}
