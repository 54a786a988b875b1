//! Source text that tagrec reports problems in (manifests, policies): the YAML reader that keeps a
//! span on every node (`yaml`), the files a check read, and the one place where saphyr's positions
//! (1-based lines, 0-based character columns) become `Place`s (1-based character columns for people
//! and GitHub, byte offsets for the snippet renderer). Neutral ground: both `manifest` and `policy`
//! read YAML through it, and neither names the other.

pub mod indent;
pub mod yaml;

use std::collections::BTreeMap;

use self::yaml::{Pos, Span};
use crate::diagnostics::Place;

/// One file's text, indexed by line.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceText {
    pub fn new(name: impl Into<String>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(memchr_lines(&text));
        SourceText {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The byte offset of a position, clamped to the text (a position past the end, as saphyr
    /// gives for "end of stream", lands on the last byte).
    pub fn offset(&self, pos: Pos) -> usize {
        let line = (pos.line.max(1) as usize - 1).min(self.line_starts.len() - 1);
        let start = self.line_starts[line];
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        let within = line_text
            .char_indices()
            .nth(pos.col as usize)
            .map_or(line_text.len(), |(i, _)| i);
        start + within
    }

    pub fn place(&self, span: Span) -> Place {
        let start = self.offset(span.start);
        let end = self.offset(span.end).max(start);
        // An end at column 0 of a later line is really the end of the line before.
        let (end_line, end_column) = if span.end.line > span.start.line && span.end.col == 0 {
            let line = span.end.line - 1;
            let previous = self.line_text(line as usize);
            (line as usize, previous.chars().count().max(1))
        } else {
            (
                span.end.line.max(span.start.line) as usize,
                (span.end.col as usize).max(span.start.col as usize + 1),
            )
        };
        Place {
            file: self.name.clone(),
            line: span.start.line.max(1) as usize,
            column: span.start.col as usize + 1,
            end_line,
            end_column,
            start,
            end,
        }
    }

    /// A place at a byte offset (for errors found before there is any YAML, such as bad UTF-8).
    pub fn place_at_byte(&self, byte: usize) -> Place {
        let line = self.line_starts.partition_point(|&s| s <= byte);
        let start = self.line_starts[line.saturating_sub(1)];
        let column = self
            .text
            .get(start..byte)
            .map_or(1, |s| s.chars().count() + 1);
        Place {
            file: self.name.clone(),
            line: line.max(1),
            column,
            end_line: line.max(1),
            end_column: column,
            start: byte,
            end: byte,
        }
    }

    fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        self.text[start..].split('\n').next().unwrap_or("")
    }
}

fn memchr_lines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i + 1)
}

/// The text of every file a check read, by the name diagnostics use, for the snippet printer.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: BTreeMap<String, String>,
}

impl Sources {
    pub fn insert(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.files.insert(name.into(), text.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }

    /// Adds the files of another check (the manifests of an estate, printed together).
    pub fn extend(&mut self, other: Sources) {
        self.files.extend(other.files);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_offsets_count_bytes() {
        let source = SourceText::new("m.yaml", "a: 1\nné: é\n".to_string());
        let span = Span {
            start: Pos { line: 2, col: 4 },
            end: Pos { line: 2, col: 5 },
        };
        let place = source.place(span);
        assert_eq!((place.line, place.column, place.end_column), (2, 5, 5));
        assert_eq!(&source.text[place.start..place.end], "é");
    }

    #[test]
    fn byte_places_find_their_line() {
        let source = SourceText::new("m.yaml", "ab\ncd\n".to_string());
        let place = source.place_at_byte(4);
        assert_eq!((place.line, place.column), (2, 2));
    }
}
