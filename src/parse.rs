//! Pure parsers for everything a user can type or a file can hold: names, durations, sizes,
//! signals, umasks, `--env` pairs, `--user`, stop schedules and pidfile content, and the
//! formatters that write those values back so that the parsers read them exactly
//! (`parse(format(x)) == x`); and [`printable`], which shows text a daemon wrote safely on a
//! terminal.
//!
//! No I/O here, so every function is unit-tested, property-tested (`mod proptests`) and fuzzed
//! (`fuzz/`, see `docs/testing.md`) on its own. No input may make a parser panic. Errors are
//! plain strings meant to follow "invalid X 'value': " in a message.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

/// The largest pid Linux can ever hand out (`PID_MAX_LIMIT` on 64-bit kernels).
pub const PID_MAX_LIMIT: i64 = 4_194_304;

/// A daemon's name: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`. Never a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// Validates `s` as a daemon name.
    pub fn parse(s: &str) -> Result<Name, String> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !first_ok || !rest_ok || s.len() > 64 {
            return Err(format!(
                "invalid name '{s}': a name is 1 to 64 of A-Z a-z 0-9 . _ - and starts with a letter or digit"
            ));
        }
        Ok(Name(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(s: String) -> Result<Name, String> {
        Name::parse(&s)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

/// A daemon NAME as a command that acts on existing daemons takes it: a name, or a shell-style
/// glob over the known names (`'web-*'`, `worker-?`, `db[12]`; SPEC §1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// A plain name.
    Name(Name),
    /// A glob: `*` any run of characters, `?` one character, `[abc]`, `[a-z]`, `[!x]` (or
    /// `[^x]`) one character of (not of) a set.
    Glob(String),
}

impl Pattern {
    /// Validates `s` as a name, or, if it holds `*`, `?` or `[`, as a glob made of name
    /// characters and glob syntax (never a path: no `/`).
    pub fn parse(s: &str) -> Result<Pattern, String> {
        if !s.contains(['*', '?', '[']) {
            return Name::parse(s).map(Pattern::Name);
        }
        let ok = s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '.' | '_' | '-' | '*' | '?' | '[' | ']' | '!' | '^')
        });
        if !ok || s.len() > 200 {
            return Err(format!(
                "invalid name pattern '{s}': use name characters (A-Z a-z 0-9 . _ -) and *, ?, [...]"
            ));
        }
        if glob_match(s, "").is_none() {
            return Err(format!(
                "invalid name pattern '{s}': a '[' has no closing ']'"
            ));
        }
        Ok(Pattern::Glob(s.to_owned()))
    }

    /// Whether `name` is this pattern's name or matches its glob.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Name(n) => n.as_str() == name,
            Pattern::Glob(g) => glob_match(g, name).unwrap_or(false),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Name(n) => n.fmt(f),
            Pattern::Glob(g) => f.write_str(g),
        }
    }
}

/// Whether `text` matches the shell-style glob `pattern` (`*`, `?`, `[set]`, `[!set]`,
/// `[^set]`, ranges `a-z`; a `]` first in a set is literal). `None` when the pattern is
/// malformed (a `[` without its `]`). Iterative, with one backtrack point for the last `*`, so
/// its time is O(len(pattern) x len(text)) whatever the input.
pub fn glob_match(pattern: &str, text: &str) -> Option<bool> {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Check the sets once, so that a malformed pattern is malformed whatever the text.
    let mut i = 0;
    while i < p.len() {
        if p[i] == '[' {
            i = match_set(&p, i, None)?.1;
        } else {
            i += 1;
        }
    }
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match match_set(&p, pi, Some(t[ti]))? {
                (true, next) => Some(next),
                (false, _) => None,
            },
            Some(&c) if c == t[ti] => Some(pi + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return Some(false),
        }
    }
    Some(p[pi..].iter().all(|&c| c == '*'))
}

/// The set starting at `p[start] == '['`: whether `c` is in it (false without a `c`) and the
/// index after its `]`; `None` when it has no `]`.
fn match_set(p: &[char], start: usize, c: Option<char>) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let &ch = p.get(i)?;
        if ch == ']' && !first {
            let hit = c.is_some() && found != negate;
            return Some((hit, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            let (lo, hi) = (ch, p[i + 2]);
            found |= c.is_some_and(|c| lo <= c && c <= hi);
            i += 3;
        } else {
            found |= c == Some(ch);
            i += 1;
        }
    }
}

/// The longest duration any option takes: 52 weeks, far beyond any sensible timeout.
const DURATION_MAX: Duration = Duration::from_secs(604_800 * 52);

/// Parses `500ms`, `10s`, `2m`, `1h` (anything humantime reads) or a bare number of seconds (`0.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad =
        || format!("invalid duration '{s}': use e.g. 500ms, 10s, 2m, 1h or a number of seconds");
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = s.parse().map_err(|_| bad())?;
        // The same bound as with a unit (`700000` is `700000s`); it keeps the arithmetic clear
        // of overflow.
        if !secs.is_finite() || !(0.0..=DURATION_MAX.as_secs_f64()).contains(&secs) {
            return Err(bad());
        }
        return Ok(Duration::from_secs_f64(secs));
    }
    let d = humantime::parse_duration(s).map_err(|_| bad())?;
    if d > DURATION_MAX {
        return Err(bad());
    }
    Ok(d)
}

/// Parses a duration that must be above zero (an interval, a watchdog timeout).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!(
            "invalid duration '{}': it must be above 0",
            s.trim()
        )),
        d => Ok(d),
    }
}

/// Writes a duration in humantime's `1h 2m 3s 500ms` form (`0s` for zero), as the record keeps
/// `--restart-delay` and `status` shows uptimes. [`parse_duration`] reads it back exactly for
/// every duration it accepts (up to 52 weeks).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A duration in a spec file, typed in memory and text on disk (`"10s"`, `"500ms"`, as the
/// command line says it): `#[serde(with = "crate::parse::duration_text")]`. The one place a
/// stored duration is parsed; a file holding a bad one is corrupt, as with any other bad field.
pub mod duration_text {
    use super::{format_duration, parse_duration};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes `d` as [`format_duration`] does.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    /// Reads what [`parse_duration`] accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }

    /// The same for an optional duration (`null` or absent: `None`; pair it with
    /// `#[serde(default)]`).
    pub mod option {
        use super::{format_duration, parse_duration};
        use serde::{Deserialize, Deserializer, Serializer};
        use std::time::Duration;

        /// Writes `Some(d)` as [`format_duration`] does, `None` as `null`.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_none(),
            }
        }

        /// Reads `null` or what [`parse_duration`] accepts.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => parse_duration(&text)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// Parses a size: `512K`, `10M`, `1G` in binary units, or a bare number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size '{s}': use e.g. 512K, 10M, 1G or a number of bytes");
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        Some(_) => (t, 0),
        None => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Writes a size in the largest binary unit that divides it exactly (`10M`, `512K`, `1G`), else
/// as a bare number of bytes; [`parse_size`] reads it back exactly.
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(30, 'G'), (20, 'M'), (10, 'K')] {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// Parses `--log-max-size`: a size ([`parse_size`]) of at least one byte.
pub fn parse_log_size(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err(format!(
            "invalid size '{s}': a log cannot be rotated at 0 bytes; use e.g. 10M"
        )),
        n => Ok(n),
    }
}

/// Parses `--memory-max`: a size ([`parse_size`]) of at least one byte.
pub fn parse_memory_max(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err(format!(
            "invalid size '{s}': a daemon cannot run in 0 bytes of memory; use e.g. 512M"
        )),
        n => Ok(n),
    }
}

/// The most rotated log files `--log-keep` may ask for: each rotation renames every one of them.
pub const MAX_LOG_KEEP: u32 = 1000;

/// Parses `--log-keep N`: a count of rotated files from 0 to [`MAX_LOG_KEEP`].
pub fn parse_log_keep(s: &str) -> Result<u32, String> {
    let bad = || format!("invalid count '{s}': use a number of files from 0 to {MAX_LOG_KEEP}");
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match t.parse::<u64>() {
        Ok(n) if n <= u64::from(MAX_LOG_KEEP) => Ok(n as u32),
        _ => Err(format!(
            "too many rotated files ({t}): at most {MAX_LOG_KEEP} can be kept"
        )),
    }
}

/// Parses a whole count of at least `min`, such as `--max-restarts N`: the error names the
/// value and why, like the other parsers (`what` says what is counted).
fn parse_count(s: &str, min: u32, what: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid number of {what} '{s}': use a whole number from {min} to {}",
            u32::MAX
        ));
    }
    match t.parse::<u32>() {
        Ok(n) if n >= min => Ok(n),
        Ok(_) => Err(format!("{t} {what} is too few: at least {min}")),
        Err(_) => Err(format!("too many {what} ({t}): at most {}", u32::MAX)),
    }
}

/// Parses `--max-restarts N`: 0 (never give up) or more.
pub fn parse_max_restarts(s: &str) -> Result<u32, String> {
    parse_count(s, 0, "restarts")
}

/// Parses `--health-retries N`: 1 or more failures in a row.
pub fn parse_health_retries(s: &str) -> Result<u32, String> {
    parse_count(s, 1, "failures")
}

/// `pids` for a message, the first `max` of them: `4242, 4250`, or `1, 2, 3, … (250 in all)`.
pub fn some_pids(pids: &[i32], max: usize) -> String {
    let shown: Vec<String> = pids.iter().take(max).map(i32::to_string).collect();
    match pids.len() > max {
        true => format!("{}, … ({} in all)", shown.join(", "), pids.len()),
        false => shown.join(", "),
    }
}

/// `n` and the noun that goes with it: `1 process`, `2 processes`.
pub fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Parses `logs -n LINES`: a whole number of lines, 0 or more (0 prints none, for `-f` alone).
pub fn parse_lines(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid number of lines '{s}': use a whole number, like 20 (0 for none)"
        ));
    }
    t.parse::<usize>()
        .map_err(|_| format!("too many lines ({t}): at most {}", usize::MAX))
}

/// Parses a signal: `TERM`, `SIGTERM`, `15`, in any case.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    let bad = || format!("invalid signal '{s}': use a name like TERM or SIGHUP, or a number");
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i32 = t.parse().map_err(|_| bad())?;
        // `kill -0`'s question, "does it run?", is `status`'s (exit 0 when it does).
        if n == 0 {
            return Err(format!(
                "invalid signal '{s}': signal 0 sends nothing; 'rdaemon status NAME' says whether a daemon runs (exit 0)"
            ));
        }
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = t.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().map_err(|_| bad())
}

/// The short name of a signal, without `SIG` (`TERM`); [`parse_signal`] reads it back.
pub fn signal_name(sig: Signal) -> &'static str {
    let full = sig.as_str();
    full.strip_prefix("SIG").unwrap_or(full)
}

/// Parses an octal umask: one to four octal digits, at most `0777`.
pub fn parse_umask(s: &str) -> Result<u32, String> {
    let bad = || format!("invalid umask '{s}': use an octal mode from 000 to 777, like 022");
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    let v = u32::from_str_radix(s, 8).map_err(|_| bad())?;
    if v > 0o777 {
        return Err(bad());
    }
    Ok(v)
}

/// Writes a umask as three octal digits (`022`), as the record holds it; [`parse_umask`] reads
/// it back exactly for every mask up to `0777`.
pub fn format_umask(mask: u32) -> String {
    format!("{mask:03o}")
}

/// Whether `key` is a variable name a shell can use: letters, digits and `_`, not starting with
/// a digit. The rule of `--env` and of env files alike (systemd's `Environment=` has it too): a
/// name such as `A B` reaches the program, but no script there can read it.
pub fn is_variable_name(key: &str) -> bool {
    key.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses `KEY=VALUE` for `--env`.
pub fn parse_env_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, _)) if !k.is_empty() && !is_variable_name(k) => Err(format!(
            "'{k}' is not a variable name (letters, digits and _) in '{s}'"
        )),
        Some((k, v)) if !k.is_empty() && !v.contains('\0') => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("invalid environment setting '{s}': use KEY=VALUE")),
    }
}

/// `--user USER[:GROUP]`: an account name (or numeric id) and optionally a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// User name or numeric uid.
    pub user: String,
    /// Group name or numeric gid, when given after a colon.
    pub group: Option<String>,
}

/// Parses `USER` or `USER:GROUP` (names or numeric ids).
pub fn parse_user_spec(s: &str) -> Result<UserSpec, String> {
    let bad = |why: &str| format!("invalid user '{s}': {why}; use USER or USER:GROUP");
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    check_account_name(user).map_err(|why| bad(&format!("the user: {why}")))?;
    if let Some(g) = group {
        check_account_name(g).map_err(|why| bad(&format!("the group after ':': {why}")))?;
    }
    Ok(UserSpec {
        user: user.to_owned(),
        group: group.map(str::to_owned),
    })
}

/// Parses `--group GROUP` (a name or numeric id).
pub fn parse_group_name(s: &str) -> Result<String, String> {
    check_account_name(s).map_err(|why| format!("invalid group '{s}': {why}"))?;
    Ok(s.to_owned())
}

/// A user or group name as the account databases hold them: not empty, at most 256 bytes, no
/// `:` (the field separator), no whitespace or control characters, not starting with `-`.
fn check_account_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the name is empty".into());
    }
    if s.len() > 256 {
        return Err("the name is too long".into());
    }
    if s.starts_with('-') {
        return Err("a name cannot start with '-'".into());
    }
    if s.chars()
        .any(|c| c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err("a name cannot hold ':', spaces or control characters".into());
    }
    Ok(())
}

/// One step of a stop schedule (start-stop-daemon's `--retry`, OpenRC's `run_stop_schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send this signal.
    Signal(Signal),
    /// Wait this long for the process to exit.
    Wait(Duration),
    /// Start the schedule over, forever.
    Forever,
}

/// Joins argv for display, quoting what a shell would need quoted, its control characters
/// escaped ([`printable`]): a command of several lines stays on one line of `list`'s table.
pub fn shell_join(argv: &[String]) -> String {
    let joined = argv
        .iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    printable(&joined).into_owned()
}

/// Whether [`printable`] escapes `c`: a control character but tab (C0, DEL and C1, as
/// [`char::is_control`] says), or one that changes how the text around it reads without
/// showing itself: the bidirectional marks, embeddings, overrides and isolates, the zero-width
/// space and invisible operators, the line and paragraph separators, the byte-order mark and
/// the tag characters (helper-106: `U+202E`, right-to-left override, reached `status` as it
/// was). The joiners (U+200C, U+200D), which emoji and Indic scripts need, are kept.
pub(crate) fn hidden(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{61c}'
                | '\u{180e}'
                | '\u{200b}'
                | '\u{200e}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// `text` made safe to show on a terminal: every character [`hidden`] says (controls but
/// tab, and the invisible ones that reorder or break what surrounds them) is written as Rust
/// escapes it (`\u{1b}`, `\n`, `\r`, `\0`, `\u{202e}`), so that text a daemon wrote (a
/// `STATUS=`, a log line, its command name) cannot move the cursor, rewrite the lines above it,
/// set the window title, or show its text in another order. Borrowed when nothing needs it.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Builds the schedule of `stop`'s `--signal`, `--timeout` and `--no-kill` options.
pub fn default_schedule(first: Signal, timeout: Duration, no_kill: bool) -> Vec<Step> {
    let mut steps = vec![Step::Signal(first), Step::Wait(timeout)];
    if !no_kill {
        steps.extend([
            Step::Signal(Signal::SIGKILL),
            Step::Wait(Duration::from_secs(5)),
        ]);
    }
    steps
}

/// Parses a `--retry` schedule: `TERM/30/KILL/5`, a bare timeout `N` or duration (`SIG/N/KILL/N`
/// with `first` as SIG; a timeout may be any duration, `500ms`),
/// and `forever` as the last item to repeat it. As in start-stop-daemon, a signal is a name or a
/// number with a leading `-` (`-9`); a bare number is a timeout in seconds.
pub fn parse_schedule(s: &str, first: Signal) -> Result<Vec<Step>, String> {
    let bad = |why: &str| format!("invalid schedule '{s}': {why}");
    let items: Vec<&str> = s.split('/').collect();
    let timeout_like = |t: &str| t.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if items.len() == 1 && timeout_like(s) {
        // A bare timeout, whole seconds as start-stop-daemon has it, or any duration.
        let d = match s.parse::<u32>() {
            Ok(secs) => Some(Duration::from_secs(secs.into())),
            Err(_) => parse_duration(s).ok(),
        };
        if let Some(d) = d {
            return Ok(vec![
                Step::Signal(first),
                Step::Wait(d),
                Step::Signal(Signal::SIGKILL),
                Step::Wait(d),
            ]);
        }
    }
    let mut steps = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let step = if item.eq_ignore_ascii_case("forever") {
            if i == 0 {
                return Err(bad(
                    "'forever' repeats the items before it, and there are none (e.g. TERM/30/forever)",
                ));
            }
            if i + 1 != items.len() {
                return Err(bad("'forever' may only be the last item"));
            }
            Step::Forever
        } else if !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()) {
            let secs: u32 = item.parse().map_err(|_| bad("timeout out of range"))?;
            Step::Wait(Duration::from_secs(secs.into()))
        } else if timeout_like(item) {
            // A timeout as any other duration of rdaemon's (`500ms`, `1.5`): what
            // [`format_schedule`] writes for a sub-second wait, and never a signal's name
            // (helper-100's audit: "invalid signal '500ms'").
            Step::Wait(parse_duration(item).map_err(|_| {
                bad(&format!(
                    "invalid timeout '{item}': use a number of seconds or a duration (500ms, 2m)"
                ))
            })?)
        } else {
            let sig = item.strip_prefix('-').unwrap_or(item);
            Step::Signal(parse_signal(sig).map_err(|e| bad(&e))?)
        };
        steps.push(step);
    }
    if !steps.iter().any(|s| matches!(s, Step::Wait(_))) {
        return Err(bad(
            "it has no timeout, so rdaemon would never know whether it worked",
        ));
    }
    if !matches!(steps[0], Step::Signal(_)) {
        return Err(bad("it must start with a signal"));
    }
    Ok(steps)
}

/// Writes a stop schedule in `--retry` syntax (`TERM/30/KILL/5/forever`). [`parse_schedule`]
/// reads back every schedule it returns; a sub-second wait (which only `--timeout 500ms` can
/// give) is written as a duration (`TERM/500ms/KILL/5`), for people rather than for the parser.
pub fn format_schedule(steps: &[Step]) -> String {
    let items: Vec<String> = steps
        .iter()
        .map(|step| match step {
            Step::Signal(sig) => signal_name(*sig).to_owned(),
            Step::Wait(d) if d.subsec_nanos() == 0 => d.as_secs().to_string(),
            Step::Wait(d) => format_duration(*d),
            Step::Forever => "forever".to_owned(),
        })
        .collect();
    items.join("/")
}

/// Why a pidfile's content is not a pid rdaemon may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidContentError {
    /// The file is empty (or only white space).
    Empty,
    /// Longer than any pid line can be.
    TooLong,
    /// Something other than one decimal number.
    NotANumber,
    /// A number that can never be a daemon's pid (0, 1, beyond the kernel's limit).
    OutOfRange(String),
}

impl fmt::Display for PidContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidContentError::Empty => f.write_str("it is empty"),
            PidContentError::TooLong => f.write_str("it is too long to hold a pid"),
            PidContentError::NotANumber => f.write_str("it does not hold one decimal pid"),
            PidContentError::OutOfRange(v) => write!(f, "{v} is not a pid rdaemon may signal"),
        }
    }
}

/// The most bytes a pidfile may hold: a 7-digit pid, a newline and some slack for `\r\n` or blanks.
pub const PIDFILE_MAX_BYTES: usize = 32;

/// Parses pidfile content: one positive decimal pid greater than 1, optionally surrounded by
/// ASCII white space (a trailing newline is what rdaemon writes). Everything else is refused.
pub fn parse_pid_content(bytes: &[u8]) -> Result<i32, PidContentError> {
    if bytes.len() > PIDFILE_MAX_BYTES {
        return Err(PidContentError::TooLong);
    }
    let text = bytes.trim_ascii();
    if text.is_empty() {
        return Err(PidContentError::Empty);
    }
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(PidContentError::NotANumber);
    }
    let shown = String::from_utf8_lossy(text).into_owned();
    if negative || digits.len() > 7 {
        return Err(PidContentError::OutOfRange(shown));
    }
    let value: i64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(PidContentError::NotANumber)?;
    if value <= 1 || value > PID_MAX_LIMIT {
        return Err(PidContentError::OutOfRange(shown));
    }
    Ok(value as i32)
}

/// The content of a pidfile: the pid in decimal and a newline, nothing else (SPEC §1), so that
/// `kill $(cat x.pid)` works; [`parse_pid_content`] reads it back.
pub fn format_pid_content(pid: i32) -> String {
    format!("{pid}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_pids_shows_the_first_few_and_how_many_in_all() {
        assert_eq!(some_pids(&[4242, 4250], 10), "4242, 4250");
        let many: Vec<i32> = (1..=250).collect();
        assert_eq!(some_pids(&many, 3), "1, 2, 3, … (250 in all)");
    }

    #[test]
    fn counted_agrees_with_its_number() {
        assert_eq!(counted(1u32, "restart", "restarts"), "1 restart");
        assert_eq!(counted(0u32, "restart", "restarts"), "0 restarts");
        assert_eq!(counted(2u64, "process", "processes"), "2 processes");
    }

    #[test]
    fn counts_name_the_value_and_the_reason() {
        assert_eq!(parse_max_restarts("0"), Ok(0));
        assert_eq!(parse_max_restarts(" 7 "), Ok(7));
        assert_eq!(parse_health_retries("1"), Ok(1));
        assert_eq!(
            parse_max_restarts("abc"),
            Err("invalid number of restarts 'abc': use a whole number from 0 to 4294967295".into())
        );
        assert_eq!(
            parse_max_restarts("-1"),
            Err("invalid number of restarts '-1': use a whole number from 0 to 4294967295".into())
        );
        assert_eq!(
            parse_max_restarts("99999999999"),
            Err("too many restarts (99999999999): at most 4294967295".into())
        );
        assert_eq!(
            parse_health_retries("0"),
            Err("0 failures is too few: at least 1".into())
        );
    }

    #[test]
    fn printable_escapes_control_characters_but_tab() {
        assert!(matches!(
            printable("Listening on 8080\tok ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("\x1b]0;pwned\x07\x1b[2Auser: root\r\n\0\x7f\u{9b}x\\"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2Auser: root\\r\\n\\0\\u{7f}\\u{9b}x\\"
        );
        assert!(!printable("\x1b\u{85}\u{9b}").chars().any(char::is_control));
        assert_eq!(
            printable("a\u{202e}b\u{2028}c\u{200b}d\u{feff}"),
            "a\\u{202e}b\\u{2028}c\\u{200b}d\\u{feff}"
        );
        assert_eq!(printable("é – “x”"), "é – “x”");
        // Joiners stay (an emoji sequence, Persian text); tag characters do not.
        assert_eq!(
            printable("👩\u{200d}💻 ن\u{200c}ی"),
            "👩\u{200d}💻 ن\u{200c}ی"
        );
        assert_eq!(printable("a\u{e0041}"), "a\\u{e0041}");
    }

    #[test]
    fn globs_match_like_the_shell() {
        let m = |p: &str, t: &str| glob_match(p, t).unwrap();
        assert!(m("web-*", "web-1") && m("web-*", "web-") && !m("web-*", "api-1"));
        assert!(m("*", "") && m("*", "anything") && m("**x", "x"));
        assert!(m("w?b", "web") && !m("w?b", "wb") && !m("w?b", "weeb"));
        assert!(m("db[12]", "db1") && !m("db[12]", "db3"));
        assert!(m("db[0-9]", "db7") && !m("db[0-9]", "dbx"));
        assert!(m("db[!0-9]", "dbx") && !m("db[^0-9]", "db4"));
        assert!(m("[]x]", "]") && m("[a-]", "-"));
        assert!(m("*-worker-*", "a-worker-b") && !m("*-worker-*", "a-worker"));
        assert!(m("a*b*c", "aXbYbZc") && !m("a*b*c", "aXbYbZ"));
        assert_eq!(glob_match("db[12", "db1"), None);
        assert_eq!(glob_match("[", ""), None);
    }

    #[test]
    fn patterns_are_names_or_globs_never_paths() {
        assert_eq!(
            Pattern::parse("web").unwrap(),
            Pattern::Name(Name::parse("web").unwrap())
        );
        assert_eq!(
            Pattern::parse("web-*").unwrap(),
            Pattern::Glob("web-*".into())
        );
        assert!(Pattern::parse("../*").is_err());
        assert!(Pattern::parse("../x")
            .unwrap_err()
            .starts_with("invalid name '../x'"));
        assert!(Pattern::parse("db[1").unwrap_err().contains("no closing"));
        assert!(Pattern::parse("web-*").unwrap().matches("web-2"));
        assert!(!Pattern::parse("web").unwrap().matches("web-2"));
    }

    #[test]
    fn joins_like_a_shell() {
        let argv = ["sh", "-c", "echo 'hi' there", ""].map(String::from);
        assert_eq!(shell_join(&argv), r#"sh -c 'echo '\''hi'\'' there' ''"#);
        let lines = ["sh".to_string(), "-c".into(), "sleep 300\n# two".into()];
        assert_eq!(shell_join(&lines), r"sh -c 'sleep 300\n# two'");
    }

    #[test]
    fn names() {
        for ok in ["x", "ping", "web-1", "a.b_c", "0", &"a".repeat(64)] {
            assert_eq!(Name::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "_x",
            "sp ace",
            "é",
            &"a".repeat(65),
        ] {
            assert!(Name::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        // A bare number has the bound a unit has (review, 2026-12-02: `700000` was refused
        // while `700000s` and `8d` were taken).
        assert_eq!(parse_duration("700000"), parse_duration("700000s"));
        assert_eq!(parse_duration("31449600"), Ok(DURATION_MAX));
        assert!(parse_duration("31449601").is_err());
        assert!(parse_duration("31449601s").is_err());
        for bad in [
            "",
            "abc",
            "-1",
            "1.2.3",
            "10x",
            "nan",
            "inf",
            "1e9",
            "9999999999",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("10M"), Ok(10 * 1048576));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_log_size("1"), Ok(1));
        assert!(parse_log_size("0").is_err());
        assert_eq!(parse_log_keep("0"), Ok(0));
        assert_eq!(parse_log_keep("1000"), Ok(MAX_LOG_KEEP));
        for bad in [
            "1001",
            "4000000000",
            "99999999999999999999999",
            "-1",
            "",
            "5x",
            "1e3",
        ] {
            assert!(parse_log_keep(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_lines("20"), Ok(20));
        assert_eq!(parse_lines("0"), Ok(0));
        assert_eq!(parse_lines(&usize::MAX.to_string()), Ok(usize::MAX));
        for bad in ["", "abc", "-1", "+5", "1.5", "5x", "1e3"] {
            let why = parse_lines(bad).unwrap_err();
            assert!(
                why.starts_with(&format!("invalid number of lines '{bad}': ")),
                "{why}"
            );
        }
        assert_eq!(
            parse_lines("99999999999999999999"),
            Err(format!(
                "too many lines (99999999999999999999): at most {}",
                usize::MAX
            ))
        );
        assert!(parse_log_size("0M").is_err());
        assert_eq!(parse_memory_max("64M"), Ok(64 << 20));
        let zero = parse_memory_max("0").unwrap_err();
        assert!(zero.contains("0 bytes of memory"), "{zero}");
        for bad in [
            "",
            "M",
            "1.5M",
            "-1",
            "10X",
            "99999999999999999999",
            "18014398509481984K",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn signals() {
        for s in ["TERM", "term", "SIGTERM", "sigterm", "15", "Term"] {
            assert_eq!(parse_signal(s), Ok(Signal::SIGTERM), "{s}");
        }
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("hup"), Ok(Signal::SIGHUP));
        for bad in ["", "0", "TERMX", "SIG", "99", "-15", "1.5"] {
            assert!(parse_signal(bad).is_err(), "{bad:?} accepted");
        }
        // `kill -0`'s question has its own verb.
        let zero = parse_signal("0").unwrap_err();
        assert!(zero.contains("'rdaemon status NAME'"), "{zero}");
        assert_eq!(signal_name(Signal::SIGUSR1), "USR1");
    }

    #[test]
    fn user_specs() {
        assert_eq!(
            parse_user_spec("nobody"),
            Ok(UserSpec {
                user: "nobody".into(),
                group: None
            })
        );
        assert_eq!(
            parse_user_spec("www-data:adm"),
            Ok(UserSpec {
                user: "www-data".into(),
                group: Some("adm".into())
            })
        );
        assert_eq!(
            parse_user_spec("1000:1000"),
            Ok(UserSpec {
                user: "1000".into(),
                group: Some("1000".into())
            })
        );
        for bad in ["", ":", "a:", ":g", "a:b:c", "a b", "-x", "a\n", "x:-g"] {
            assert!(parse_user_spec(bad).is_err(), "{bad:?} accepted");
        }
        for (bad, part) in [("root:", "the group after ':'"), (":adm", "the user")] {
            let why = parse_user_spec(bad).unwrap_err();
            assert!(why.contains(&format!("{part}: the name is empty")), "{why}");
        }
        assert_eq!(parse_group_name("nogroup"), Ok("nogroup".into()));
        for bad in ["", "a:b", " g", "-g"] {
            assert!(parse_group_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn umasks() {
        assert_eq!(parse_umask("022"), Ok(0o22));
        assert_eq!(parse_umask("0"), Ok(0));
        assert_eq!(parse_umask("0777"), Ok(0o777));
        assert_eq!(parse_umask("777"), Ok(0o777));
        for bad in ["", "8", "0o22", "1000", "7777", "abc", "-1", "02a"] {
            assert!(parse_umask(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn env_pairs() {
        assert_eq!(parse_env_pair("A=b"), Ok(("A".into(), "b".into())));
        assert_eq!(parse_env_pair("A="), Ok(("A".into(), "".into())));
        assert_eq!(parse_env_pair("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(parse_env_pair("_a1=b"), Ok(("_a1".into(), "b".into())));
        assert!(parse_env_pair("A").is_err());
        assert!(parse_env_pair("=b").is_err());
        for bad in ["A B=c", "1A=b", "A-B=c", "A.B=c", "\u{e9}=c", "A\0=c"] {
            let err = parse_env_pair(bad).unwrap_err();
            assert!(err.contains("is not a variable name"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn schedules() {
        use Step::{Forever, Wait};
        let sig = Step::Signal;
        let term = Signal::SIGTERM;
        let kill = Signal::SIGKILL;
        let s = |n| Duration::from_secs(n);
        assert_eq!(
            parse_schedule("TERM/30/KILL/5", term),
            Ok(vec![sig(term), Wait(s(30)), sig(kill), Wait(s(5))])
        );
        assert_eq!(
            parse_schedule("7", Signal::SIGINT),
            Ok(vec![sig(Signal::SIGINT), Wait(s(7)), sig(kill), Wait(s(7))])
        );
        assert_eq!(
            parse_schedule("-15/2/-9/1/forever", term),
            Ok(vec![sig(term), Wait(s(2)), sig(kill), Wait(s(1)), Forever])
        );
        assert_eq!(
            parse_schedule("hup/1", term),
            Ok(vec![sig(Signal::SIGHUP), Wait(s(1))])
        );
        // A timeout as a duration, as `format_schedule` writes a sub-second one.
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            parse_schedule("INT/500ms/KILL/1", term),
            Ok(vec![
                sig(Signal::SIGINT),
                Wait(ms(500)),
                sig(kill),
                Wait(s(1))
            ])
        );
        assert_eq!(
            parse_schedule("TERM/0.5/KILL/2m", term),
            Ok(vec![sig(term), Wait(ms(500)), sig(kill), Wait(s(120))])
        );
        assert_eq!(
            parse_schedule("500ms", term),
            Ok(vec![sig(term), Wait(ms(500)), sig(kill), Wait(ms(500))])
        );
        assert_eq!(
            parse_schedule("TERM/.5", term),
            Ok(vec![sig(term), Wait(ms(500))])
        );
        let unit = parse_schedule("TERM/5x", term).unwrap_err();
        assert!(
            unit.contains("invalid timeout '5x'") && !unit.contains("signal"),
            "{unit}"
        );
        for bad in [
            "",
            "TERM",
            "TERM/KILL",
            "30/TERM",
            "forever",
            "TERM/forever/5",
            "TERM/x",
            "TERM//5",
        ] {
            assert!(parse_schedule(bad, term).is_err(), "{bad:?} accepted");
        }
        let alone = parse_schedule("forever", term).unwrap_err();
        assert!(alone.contains("there are none"), "{alone}");
        let inside = parse_schedule("TERM/forever/5", term).unwrap_err();
        assert!(inside.contains("only be the last item"), "{inside}");
    }

    #[test]
    fn default_schedule_escalates_unless_told_not_to() {
        let d = Duration::from_secs(3);
        assert_eq!(default_schedule(Signal::SIGTERM, d, false).len(), 4);
        assert_eq!(
            default_schedule(Signal::SIGINT, d, true),
            vec![Step::Signal(Signal::SIGINT), Step::Wait(d)]
        );
    }

    #[test]
    fn pid_content() {
        assert_eq!(parse_pid_content(b"1234\n"), Ok(1234));
        assert_eq!(parse_pid_content(b"1234"), Ok(1234));
        assert_eq!(parse_pid_content(b" 42 \r\n"), Ok(42));
        assert_eq!(parse_pid_content(b"4194304\n"), Ok(4_194_304));
        assert_eq!(parse_pid_content(b""), Err(PidContentError::Empty));
        assert_eq!(parse_pid_content(b"\n \n"), Err(PidContentError::Empty));
        assert_eq!(
            parse_pid_content(&[b'1'; 40]),
            Err(PidContentError::TooLong)
        );
        for bad in [
            &b"abc"[..],
            b"123abc",
            b"12 34",
            b"\x00\x01",
            b"1\n2\n",
            b"+5",
            b"0x10",
            b"-",
        ] {
            assert_eq!(
                parse_pid_content(bad),
                Err(PidContentError::NotANumber),
                "{bad:?}"
            );
        }
        for bad in [&b"0"[..], b"1", b"-1", b"-42", b"4194305", b"99999999999"] {
            assert!(
                matches!(parse_pid_content(bad), Err(PidContentError::OutOfRange(_))),
                "{bad:?}"
            );
        }
    }
}

/// Property tests (issue 8): every formatter's output parses back to the same value, and no input
/// makes a parser panic. Case counts are proptest's default (256, or `PROPTEST_CASES`).
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// The longest duration `parse_duration` accepts.
    const MAX_DURATION: Duration = DURATION_MAX;

    /// Arbitrary text: any Unicode, and ASCII close to what the parsers expect.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~]{0,24}",
            "[0-9.]{0,12}",
            "[0-9a-zA-Z./ _-]{0,12}",
            "([0-9]{1,4}[a-z]{0,3} ?){0,4}",
        ]
    }

    fn signal() -> impl Strategy<Value = Signal> {
        prop::sample::select(Signal::iterator().collect::<Vec<_>>())
    }

    /// A schedule `parse_schedule` can return: a signal first, at least one wait (whole seconds
    /// or milliseconds), `forever` only last.
    fn schedule() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            signal().prop_map(Step::Signal),
            any::<u32>().prop_map(|s| Step::Wait(Duration::from_secs(s.into()))),
            (1u64..100_000).prop_map(|ms| Step::Wait(Duration::from_millis(ms))),
        ];
        (
            signal(),
            any::<u32>(),
            prop::collection::vec(step, 0..6),
            any::<bool>(),
        )
            .prop_map(|(first, wait, rest, forever)| {
                let mut steps = vec![
                    Step::Signal(first),
                    Step::Wait(Duration::from_secs(wait.into())),
                ];
                steps.extend(rest);
                if forever {
                    steps.push(Step::Forever);
                }
                steps
            })
    }

    proptest! {
        #[test]
        fn name_round_trips(s in "[A-Za-z0-9][A-Za-z0-9._-]{0,63}") {
            let name = Name::parse(&s).unwrap();
            prop_assert_eq!(name.as_str(), s.as_str());
            prop_assert_eq!(Name::parse(&name.to_string()), Ok(name.clone()));
            let json = serde_json::to_string(&name).unwrap();
            prop_assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), name);
        }

        #[test]
        fn printable_text_holds_no_control_character_but_tab(
            s in prop_oneof![any::<String>(), "[\\x00-\\x20\\x7f-\\u{a0}a\\\\]{0,24}"]
        ) {
            let shown = printable(&s);
            prop_assert!(!shown.chars().any(hidden));
            // Text without them is shown as it is.
            if !s.chars().any(hidden) {
                prop_assert_eq!(shown.as_ref(), s.as_str());
            }
        }

        #[test]
        fn name_parse_never_panics(s in text()) {
            if let Ok(name) = Name::parse(&s) {
                prop_assert_eq!(name.as_str(), s.as_str());
                prop_assert!((1..=64).contains(&s.len()));
                prop_assert!(!s.contains('/') && !s.starts_with('.'));
            }
        }

        #[test]
        fn duration_round_trips(secs in 0..=MAX_DURATION.as_secs(), nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos).min(MAX_DURATION);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn duration_parse_never_panics(s in text()) {
            if let Ok(d) = parse_duration(&s) {
                prop_assert!(d <= MAX_DURATION, "{:?} gave {:?}", s, d);
                prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
            }
        }

        #[test]
        fn size_round_trips(n in 0u64..1 << 33, shift in prop::sample::select(vec![0, 10, 20, 30]), raw in any::<u64>()) {
            let n = n << shift;
            prop_assert_eq!(parse_size(&format_size(n)), Ok(n));
            prop_assert_eq!(parse_size(&format_size(raw)), Ok(raw));
        }

        #[test]
        fn size_parse_never_panics(s in text()) {
            if let Ok(n) = parse_size(&s) {
                prop_assert_eq!(parse_size(&format_size(n)), Ok(n));
            }
        }

        #[test]
        fn log_size_parse_never_panics(s in text()) {
            if let Ok(n) = parse_log_size(&s) {
                prop_assert!(n > 0);
                prop_assert_eq!(parse_log_size(&format_size(n)), Ok(n));
            }
        }

        #[test]
        fn signal_round_trips(sig in signal()) {
            let name = signal_name(sig);
            prop_assert_eq!(parse_signal(name), Ok(sig));
            prop_assert_eq!(parse_signal(&format!("sig{}", name.to_lowercase())), Ok(sig));
            prop_assert_eq!(parse_signal(&(sig as i32).to_string()), Ok(sig));
        }

        #[test]
        fn signal_parse_never_panics(s in text()) {
            if let Ok(sig) = parse_signal(&s) {
                prop_assert_eq!(parse_signal(signal_name(sig)), Ok(sig));
            }
        }

        #[test]
        fn umask_round_trips(mask in 0u32..=0o777) {
            prop_assert_eq!(parse_umask(&format_umask(mask)), Ok(mask));
        }

        #[test]
        fn umask_parse_never_panics(s in text()) {
            if let Ok(mask) = parse_umask(&s) {
                prop_assert!(mask <= 0o777);
                prop_assert_eq!(parse_umask(&format_umask(mask)), Ok(mask));
            }
        }

        #[test]
        fn env_pair_round_trips(key in "[A-Za-z_][A-Za-z0-9_]{0,11}", value in "[^\0]{0,12}") {
            let pair = parse_env_pair(&format!("{key}={value}"));
            prop_assert_eq!(pair, Ok((key, value)));
        }

        #[test]
        fn env_pair_parse_never_panics(s in text()) {
            if let Ok((key, value)) = parse_env_pair(&s) {
                prop_assert!(is_variable_name(&key));
                prop_assert_eq!(format!("{key}={value}"), s);
            }
        }

        #[test]
        fn user_spec_round_trips(user in "[a-z_][a-z0-9_.-]{0,31}", group in proptest::option::of("[0-9]{1,10}|[a-z_][a-z0-9_-]{0,31}")) {
            let text = match &group {
                Some(g) => format!("{user}:{g}"),
                None => user.clone(),
            };
            prop_assert_eq!(parse_user_spec(&text), Ok(UserSpec { user, group: group.clone() }));
            if let Some(g) = group {
                prop_assert_eq!(parse_group_name(&g), Ok(g.clone()));
            }
        }

        #[test]
        fn user_spec_parse_never_panics(s in text()) {
            if let Ok(spec) = parse_user_spec(&s) {
                prop_assert!(!spec.user.is_empty() && !spec.user.contains(':'));
                let again = match &spec.group {
                    Some(g) => format!("{}:{g}", spec.user),
                    None => spec.user.clone(),
                };
                prop_assert_eq!(again, s.clone());
            }
            if let Ok(group) = parse_group_name(&s) {
                prop_assert_eq!(&group, &s);
                prop_assert!(!group.is_empty() && !group.contains(':') && !group.starts_with('-'));
            }
        }

        #[test]
        fn schedule_round_trips(steps in schedule(), first in signal()) {
            prop_assert_eq!(parse_schedule(&format_schedule(&steps), first), Ok(steps));
        }

        #[test]
        fn schedule_parse_never_panics(s in text(), first in signal()) {
            if let Ok(steps) = parse_schedule(&s, first) {
                prop_assert!(matches!(steps[0], Step::Signal(_)));
                prop_assert!(steps.iter().any(|s| matches!(s, Step::Wait(_))));
                prop_assert_eq!(parse_schedule(&format_schedule(&steps), first), Ok(steps));
            }
        }

        #[test]
        fn pid_content_round_trips(pid in 2..=PID_MAX_LIMIT as i32) {
            prop_assert_eq!(parse_pid_content(format_pid_content(pid).as_bytes()), Ok(pid));
        }

        #[test]
        fn pid_content_parse_never_panics(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..48),
                prop::collection::vec(prop::sample::select(b"0123456789- \t\r\n+".to_vec()), 0..40),
            ]
        ) {
            if let Ok(pid) = parse_pid_content(&bytes) {
                prop_assert!((2..=PID_MAX_LIMIT as i32).contains(&pid));
                prop_assert_eq!(parse_pid_content(format_pid_content(pid).as_bytes()), Ok(pid));
            }
        }
    }
}
