//! A place in a file, and a problem found there. The loader and the policy check report through
//! `Diagnostic` (every one an error: tagrec refuses what it cannot apply, it does not warn about
//! it); the printers in `render` are the only code that shows one.

use serde::Serialize;

/// A span in a source file. Lines and columns are 1-based; columns count characters (what GitHub
/// annotations and editors show); `start`/`end` are byte offsets (what snippet renderers want).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The file as the user named it (relative paths stay relative), so annotations match the repo.
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    #[serde(skip)]
    pub start: usize,
    #[serde(skip)]
    pub end: usize,
}

impl std::fmt::Display for Place {
    /// `file:line:column`, as compilers and editors print a place.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The rule ids of `product.md` ("validate output"); they are part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Yaml,
    DuplicateKey,
    UnknownKey,
    Type,
    DuplicateProject,
    Name,
    TagLimit,
    ReservedKey,
    Version,
    File,
    PolicyFile,
    Policy,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Rule::Yaml => "yaml",
            Rule::DuplicateKey => "duplicate-key",
            Rule::UnknownKey => "unknown-key",
            Rule::Type => "type",
            Rule::DuplicateProject => "duplicate-project",
            Rule::Name => "name",
            Rule::TagLimit => "tag-limit",
            Rule::ReservedKey => "reserved-key",
            Rule::Version => "version",
            Rule::File => "file",
            Rule::PolicyFile => "policy-file",
            Rule::Policy => "policy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: Rule,
    pub message: String,
    /// None only when there is no file to point at (for example a policy check of a live project).
    pub place: Option<Place>,
    /// The desired project the problem belongs to, by name, when there is one.
    pub project: Option<String>,
    /// What to do about it, shown as `help:` under the snippet.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(rule: Rule, message: impl Into<String>) -> Self {
        Diagnostic {
            rule,
            message: message.into(),
            place: None,
            project: None,
            help: None,
        }
    }

    pub fn at(mut self, place: Place) -> Self {
        self.place = Some(place);
        self
    }

    pub fn project(mut self, name: impl Into<String>) -> Self {
        self.project = Some(name.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}
