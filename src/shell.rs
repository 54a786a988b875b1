//! The one output object: stdout carries a command's result, stderr its logs, progress and
//! prompts. Colour and verbosity are decided here and nowhere else. Layers below the commands
//! never print: they return data, and log through `tracing`, whose events this module writes to
//! stderr (warnings always, debug lines with `--verbose`, nothing with `--quiet`).

use std::fmt::Display;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anstream::{AutoStream, ColorChoice};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::style::{BOLD, DIM, RED, YELLOW};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// When to colour output (`NO_COLOR` is honoured with `Auto`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColorMode {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct Shell {
    verbosity: Verbosity,
    color: ColorMode,
}

impl Shell {
    pub fn new(color: ColorMode, verbosity: Verbosity) -> Self {
        Shell { verbosity, color }
    }

    fn choice(&self) -> ColorChoice {
        match self.color {
            ColorMode::Auto => ColorChoice::Auto,
            ColorMode::Always => ColorChoice::Always,
            ColorMode::Never => ColorChoice::Never,
        }
    }

    /// Whether text written to stdout keeps its colour (so printers may skip styling work).
    pub fn stdout_colored(&self) -> bool {
        match self.choice() {
            ColorChoice::Auto => AutoStream::choice(&std::io::stdout()) != ColorChoice::Never,
            choice => choice != ColorChoice::Never,
        }
    }

    pub fn stderr_colored(&self) -> bool {
        match self.choice() {
            ColorChoice::Auto => AutoStream::choice(&std::io::stderr()) != ColorChoice::Never,
            choice => choice != ColorChoice::Never,
        }
    }

    /// Writes a result to stdout, with ANSI styles stripped when colour is off.
    pub fn print(&self, text: &str) {
        let mut out = AutoStream::new(std::io::stdout(), self.choice()).lock();
        // A closed pipe (`tagrec plan | head`) is not an error worth a panic.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Writes to stderr as is (progress lines, rendered diagnostics), styles stripped when off.
    pub fn eprint(&self, text: &str) {
        let mut err = AutoStream::new(std::io::stderr(), self.choice()).lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    pub fn error(&self, message: impl Display) {
        self.eprint(&format!("{RED}{BOLD}error{BOLD:#}{RED:#}: {message}\n"));
    }

    pub fn warn(&self, message: impl Display) {
        if self.verbosity > Verbosity::Quiet {
            self.eprint(&format!(
                "{YELLOW}{BOLD}warning{BOLD:#}{YELLOW:#}: {message}\n"
            ));
        }
    }

    /// A progress or status line on stderr; hidden with `--quiet`.
    pub fn status(&self, message: impl Display) {
        if self.verbosity > Verbosity::Quiet {
            self.eprint(&format!("{message}\n"));
        }
    }

    /// Sends the `tracing` events of this process to stderr for the rest of its life: warnings
    /// unless `--quiet`, debug lines (requests, decisions) with `--verbose`. Only tagrec's own
    /// events: a library's internals are not the user's business.
    pub fn install_log(&self) {
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let level = match self.verbosity {
            Verbosity::Quiet => LevelFilter::ERROR,
            Verbosity::Normal => LevelFilter::WARN,
            Verbosity::Verbose => LevelFilter::DEBUG,
        };
        let shell = self.clone();
        let layer = tracing_subscriber::fmt::layer()
            .event_format(LogLine {
                colored: self.stderr_colored(),
            })
            .with_writer(move || LogWriter(shell.clone()));
        let _ = tracing_subscriber::registry()
            .with(Targets::new().with_target("tagrec", level))
            .with(layer)
            .try_init();
    }

    /// Asks a yes/no question on the terminal; `Ok(false)` for any answer but `yes`. The caller
    /// checks `stdin_is_terminal` first: without a terminal tagrec never asks.
    pub fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        self.eprint(&format!("\n{question} Only 'yes' is accepted: "));
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| anyhow::anyhow!("could not read the answer: {e}"))?;
        Ok(answer.trim() == "yes")
    }

    pub fn stdin_is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    /// Appends to the GitHub Actions job summary when the job has one (`GITHUB_STEP_SUMMARY`).
    pub fn append_step_summary(&self, markdown: &str) -> anyhow::Result<()> {
        let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        let path = Path::new(&path);
        let append = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            file.write_all(markdown.as_bytes())?;
            file.write_all(b"\n")
        };
        append().map_err(|e| {
            anyhow::anyhow!(
                "could not append to GITHUB_STEP_SUMMARY ({}): {e}",
                path.display()
            )
        })
    }

    /// A display of work in progress: a bar on a terminal, one line per finished item otherwise
    /// (CI logs); nothing but failures with `--quiet`.
    pub fn progress(&self, total: u64) -> Progress {
        let bar =
            (std::io::stderr().is_terminal() && self.verbosity > Verbosity::Quiet).then(|| {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            });
        Progress {
            shell: self.clone(),
            bar,
            stopped: AtomicBool::new(false),
            lines: Mutex::new(()),
        }
    }
}

/// See `Shell::progress`.
pub struct Progress {
    shell: Shell,
    bar: Option<ProgressBar>,
    /// Set by `stop`: the bar stays where it was, and what follows is printed as lines.
    stopped: AtomicBool,
    lines: Mutex<()>,
}

impl Progress {
    fn live_bar(&self) -> Option<&ProgressBar> {
        self.bar
            .as_ref()
            .filter(|_| !self.stopped.load(Ordering::SeqCst))
    }

    fn line(&self, line: &str) {
        let _guard = self.lines.lock();
        self.shell.status(line);
    }

    /// One item finished; `line` says how. On a bar only items that did not go well get a line.
    pub fn finished(&self, line: &str, well: bool) {
        match self.live_bar() {
            Some(bar) => {
                bar.inc(1);
                if !well {
                    bar.println(line);
                }
            }
            None => self.line(line),
        }
    }

    /// A line above the bar (or a plain line), the bar left as it is.
    pub fn note(&self, line: &str) {
        match self.live_bar() {
            Some(bar) => bar.println(line),
            None => self.line(line),
        }
    }

    /// A new phase of the work (`verifying`).
    pub fn phase(&self, bar_message: &'static str, line: &str) {
        match self.live_bar() {
            Some(bar) => bar.set_message(bar_message),
            None => self.line(line),
        }
    }

    /// The work starts over on `total` items (a new pass), after `line`.
    pub fn restart(&self, total: u64, bar_message: String, line: &str) {
        match self.live_bar() {
            Some(bar) => {
                bar.println(line);
                bar.set_length(total);
                bar.set_position(0);
                bar.set_message(bar_message);
            }
            None => self.line(line),
        }
    }

    /// Stops the bar where it is (Ctrl-C): it no longer moves, and later events are lines.
    pub fn stop(&self) {
        if let Some(bar) = &self.bar
            && !self.stopped.swap(true, Ordering::SeqCst)
        {
            bar.abandon();
            // The bar stays drawn where it stopped; what follows starts on the next line.
            self.shell.eprint("\n");
        }
    }

    /// Removes the bar (unless stopped, when it stays); later lines print below where it was.
    pub fn finish(&self) {
        if let Some(bar) = self.live_bar() {
            bar.finish_and_clear();
        }
    }
}

/// A `tracing` event as tagrec prints it: `warning: …` in yellow, debug lines dimmed.
struct LogLine {
    colored: bool,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LogLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = *event.metadata().level();
        let (before, after) = match (self.colored, level) {
            (_, tracing::Level::ERROR) => {
                (format!("{RED}{BOLD}error{BOLD:#}{RED:#}: "), String::new())
            }
            (_, tracing::Level::WARN) => (
                format!("{YELLOW}{BOLD}warning{BOLD:#}{YELLOW:#}: "),
                String::new(),
            ),
            (true, _) => (format!("{DIM}"), format!("{DIM:#}")),
            (false, _) => (String::new(), String::new()),
        };
        write!(writer, "{before}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer, "{after}")
    }
}

/// stderr through the shell, so that styles are stripped when colour is off.
struct LogWriter(Shell);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.eprint(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Exit codes are decided here, once (`product.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Valid, no changes, converged, compliant.
    Success,
    /// Invalid input, an error, a failed or skipped change.
    Failure,
    /// `plan --detailed-exitcode` with changes; `audit` with violations.
    Changes,
    /// `apply` stopped by Ctrl-C.
    Interrupted,
}

impl Exit {
    /// The exit of a run over many manifests: interrupted if any was, else a failure if any
    /// failed, else changes (or violations) if any had them, else success.
    pub fn combine(exits: impl IntoIterator<Item = Exit>) -> Exit {
        exits.into_iter().fold(Exit::Success, |all, one| {
            let rank = |e: Exit| match e {
                Exit::Success => 0,
                Exit::Changes => 1,
                Exit::Failure => 2,
                Exit::Interrupted => 3,
            };
            if rank(one) > rank(all) { one } else { all }
        })
    }

    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Changes => 2,
            Exit::Interrupted => 130,
        }
    }
}
