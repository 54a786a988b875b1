//! Printers: each turns one computed value (diagnostics, a plan, an apply report, an audit, an
//! imported manifest) into one format, a string. Counting, grouping and deciding happen before,
//! in the layers below or in `ops`; a printer only lays out what it is given. Nothing here
//! writes to a stream: the `Shell` does.

pub mod apply;
pub mod audit;
pub mod billing;
pub mod costs;
pub mod diagnostics;
pub mod estate;
pub mod manifest;
pub mod output;
pub mod plan;

/// The styles printers put in text (stripped by the `Shell` when colour is off).
pub mod style {
    use anstyle::{AnsiColor, Style};

    pub const RED: Style = AnsiColor::Red.on_default();
    pub const GREEN: Style = AnsiColor::Green.on_default();
    pub const YELLOW: Style = AnsiColor::Yellow.on_default();
    pub const BOLD: Style = Style::new().bold();
    pub const DIM: Style = Style::new().dimmed();
}

/// RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// How many terminal cells `text` takes (display width, not bytes or characters).
pub(crate) fn width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` followed by spaces up to `width` terminal cells (by display width: a CJK character or an
/// emoji takes two cells, a combining mark none), for the columns of text tables.
pub(crate) fn pad(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    let mut out = text.to_string();
    out.push_str(&" ".repeat(width.saturating_sub(text.width())));
    out
}

/// Text made safe for a markdown table cell or list item: markup characters escaped, line
/// breaks folded, so a project name cannot break the table or inject a link.
/// A sentence with `code spans` as markdown: the text between spans escaped, the spans kept as
/// they are (escapes do not work inside them; tag keys and values hold no backtick).
pub(crate) fn markdown_prose(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("`{}`", part.replace(['\n', '\r'], " "))
            } else {
                markdown_text(part)
            }
        })
        .collect()
}

pub(crate) fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}
