//! The one output object: stdout carries a command's result, stderr its logs, progress and
//! prompts. Colour and verbosity are decided here and nowhere else.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};

use crate::cli::ColorMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone)]
pub struct Shell {
    verbosity: Verbosity,
    color: ColorMode,
}

pub const RED: Style = AnsiColor::Red.on_default();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

impl Shell {
    pub fn new(color: ColorMode, verbosity: Verbosity) -> Self {
        Shell { verbosity, color }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
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

    pub fn stdin_is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    pub fn stderr_is_terminal(&self) -> bool {
        std::io::stderr().is_terminal()
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

    /// A log line on stderr, shown only with `--verbose`.
    pub fn verbose(&self, message: impl FnOnce() -> String) {
        if self.verbosity >= Verbosity::Verbose {
            self.eprint(&format!("{DIM}{}{DIM:#}\n", message()));
        }
    }

    /// A style that is a no-op when stdout is not coloured; for printers that build strings.
    pub fn style_for_stdout(&self, style: Style) -> Style {
        if self.stdout_colored() {
            style
        } else {
            Style::new()
        }
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
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Changes => 2,
            Exit::Interrupted => 130,
        }
    }
}
