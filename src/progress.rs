//! Terminal feedback for waits: a one-line spinner with the elapsed time and what is awaited.
//!
//! It is drawn on stderr, and only when both stdout and stderr are terminals (never into a pipe, a
//! file or CI), not with `-q`, not on a `dumb` terminal, and only once a wait has lasted 200 ms;
//! it is erased when the wait ends. `NO_COLOR` turns its color off. Waits go through
//! [`Spinner::wait_with`], which hands the waiting function slices short enough to redraw between
//! them when the spinner is on, and the whole wait when it is off (no wake-ups at all).
//!
//! Must not: write to stdout, or decide anything about the process it waits for.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::paths::Ctx;

/// How long a wait runs before the spinner appears.
const SHOW_AFTER: Duration = Duration::from_millis(200);
/// How often it is redrawn.
const FRAME: Duration = Duration::from_millis(100);
/// The longest line it draws, so that it never wraps on an 80-column terminal.
const MAX_WIDTH: usize = 76;
const FRAMES: [char; 4] = ['-', '\\', '|', '/'];

/// A spinner line for one wait (or a sequence of waits of the same operation).
#[derive(Debug)]
pub struct Spinner {
    on: bool,
    color: bool,
    started: Instant,
    what: String,
    detail: String,
    limit: Option<Duration>,
    frame: usize,
    shown: bool,
    /// When the line was last drawn: redrawn once a frame at most, however often the waits
    /// between looks end (`tcp:` looks every 2 ms).
    drawn_at: Option<Instant>,
}

impl Spinner {
    /// A spinner saying `what` is awaited (`waiting for web: tcp:127.0.0.1:8080`); it draws only
    /// where the rules in the module header allow.
    pub fn new(ctx: &Ctx, what: impl Into<String>) -> Spinner {
        let on = !ctx.quiet && terminal_allows_spinner();
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let mut spinner = Spinner::off(what);
        spinner.on = on;
        spinner.color = color;
        spinner
    }

    /// A spinner that never draws (callers that show no progress).
    pub fn off(what: impl Into<String>) -> Spinner {
        Spinner {
            on: false,
            color: false,
            started: Instant::now(),
            what: what.into(),
            detail: String::new(),
            limit: None,
            frame: 0,
            shown: false,
            drawn_at: None,
        }
    }

    /// Shows `of LIMIT` next to the elapsed time.
    pub fn set_limit(&mut self, limit: Duration) {
        self.limit = Some(limit);
    }

    /// Replaces the detail after the main text (`after SIGTERM`).
    pub fn set_detail(&mut self, detail: impl Into<String>) {
        self.detail = detail.into();
    }

    /// How long a wait may block before the spinner needs a redraw: at most `left`.
    pub fn slice(&self, left: Duration) -> Duration {
        if self.on {
            left.min(FRAME)
        } else {
            left
        }
    }

    /// Waits up to `total` by calling `wait(slice)` until it returns true (done) or the time is
    /// up (false), redrawing between slices.
    pub fn wait_with(
        &mut self,
        total: Duration,
        mut wait: impl FnMut(Duration) -> io::Result<bool>,
    ) -> io::Result<bool> {
        let deadline = Instant::now() + total;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if wait(self.slice(left))? {
                return Ok(true);
            }
            // A wait shorter than a frame ends here every time: drawn here too, or never.
            self.tick();
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    /// Redraws the line if the wait has lasted long enough for it to show, and the last
    /// drawing is a frame old.
    pub fn tick(&mut self) {
        let elapsed = self.started.elapsed();
        if !self.on || elapsed < SHOW_AFTER {
            return;
        }
        if self.drawn_at.is_some_and(|at| at.elapsed() < FRAME) {
            return;
        }
        self.drawn_at = Some(Instant::now());
        let line = render(
            FRAMES[self.frame % FRAMES.len()],
            &self.what,
            &self.detail,
            elapsed,
            self.limit,
            self.color,
        );
        self.frame += 1;
        self.shown = true;
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    /// Erases the line if it was drawn.
    pub fn finish(&mut self) {
        if self.shown {
            self.shown = false;
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Whether this is an interactive terminal session: stdout and stderr both terminals, not CI,
/// not a `dumb` terminal.
fn terminal_allows_spinner() -> bool {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !ci && !dumb && io::stdout().is_terminal() && io::stderr().is_terminal()
}

/// One spinner line: `- waiting for web: tcp:127.0.0.1:8080 (1.2s of 30s)`, cut to fit.
pub fn render(
    frame: char,
    what: &str,
    detail: &str,
    elapsed: Duration,
    limit: Option<Duration>,
    color: bool,
) -> String {
    let time = match limit {
        Some(l) => format!(
            "({:.1}s of {})",
            elapsed.as_secs_f64(),
            humantime::format_duration(l)
        ),
        None => format!("({:.1}s)", elapsed.as_secs_f64()),
    };
    let mut text = what.to_owned();
    if !detail.is_empty() {
        text.push(' ');
        text.push_str(detail);
    }
    // Frame, two spaces, the text, a space, the time.
    let room = MAX_WIDTH.saturating_sub(4 + time.chars().count());
    if text.chars().count() > room {
        text = text.chars().take(room.saturating_sub(3)).collect();
        text.push_str("...");
    }
    if color {
        format!("\x1b[36m{frame}\x1b[0m {text} \x1b[2m{time}\x1b[0m")
    } else {
        format!("{frame} {text} {time}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_detail_and_time() {
        let line = render(
            '-',
            "waiting for web: tcp:127.0.0.1:8080",
            "",
            Duration::from_millis(1234),
            Some(Duration::from_secs(30)),
            false,
        );
        assert_eq!(line, "- waiting for web: tcp:127.0.0.1:8080 (1.2s of 30s)");
        let line = render(
            '|',
            "stopping web (pid 7)",
            "after SIGTERM",
            Duration::from_millis(300),
            None,
            false,
        );
        assert_eq!(line, "| stopping web (pid 7) after SIGTERM (0.3s)");
    }

    #[test]
    fn color_only_when_asked_and_long_text_is_cut() {
        let what = format!("waiting for web: file:/{}", "x".repeat(200));
        let plain = render('-', &what, "", Duration::ZERO, None, false);
        assert!(!plain.contains('\x1b'));
        assert!(plain.chars().count() <= MAX_WIDTH, "{plain}");
        assert!(plain.contains("...") && plain.ends_with("(0.0s)"));
        let colored = render('-', "x", "", Duration::ZERO, None, true);
        assert!(colored.contains("\x1b[36m"));
    }

    #[test]
    fn an_off_spinner_waits_in_one_slice() {
        let mut s = Spinner::off("x");
        let mut slices = Vec::new();
        let done = s
            .wait_with(Duration::from_millis(20), |d| {
                slices.push(d);
                std::thread::sleep(d);
                Ok(false)
            })
            .unwrap();
        assert!(!done);
        assert!(slices[0] > Duration::from_millis(10), "{slices:?}");
        assert!(slices.len() <= 2, "{slices:?}");
        let mut s = Spinner::off("x");
        assert!(s.wait_with(Duration::from_secs(60), |_| Ok(true)).unwrap());
    }
}
