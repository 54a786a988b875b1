//! Printers: each turns one computed value (diagnostics, a plan, an audit) into one format.
//! They compute nothing of their own.

pub mod audit;
pub mod diagnostics;
pub mod manifest;
pub mod plan;

/// Text made safe for a markdown table cell or list item: markup characters escaped, line
/// breaks folded, so a project name cannot break the table or inject a link.
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
