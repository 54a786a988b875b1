//! What an indentation mistake was, read from the lines around a YAML syntax error: the parser
//! says "mapping values are not allowed in this context" or "did not find expected key", and a
//! person needs "this line is indented more than the line above". Pure text analysis: it names
//! the mistake only when the indentation shows one, and otherwise leaves the parser's words.

use super::yaml::{Pos, Span};

/// A better sentence for a syntax error at `at`: the message, the help, and the place (the first
/// token of the line that is out of line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndentHint {
    pub message: String,
    pub help: String,
    pub span: Span,
}

/// One line as its indentation reads.
#[derive(Debug, Clone, Copy)]
struct Shape<'t> {
    /// 1-based, as in messages.
    number: u32,
    /// Spaces before the first character.
    indent: usize,
    /// Where the key starts once `- ` list markers are skipped (`  - name: A` -> 4).
    key_col: usize,
    /// The line starts a list item.
    dash: bool,
    /// Its value continues on the lines below (`tags:`, a lone `-`, a block scalar `|`).
    opens_block: bool,
    /// The first token: the key (up to its `:`), or `-`.
    token: &'t str,
}

fn shape(number: u32, line: &str) -> Option<Shape<'_>> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    if rest.is_empty() || rest.starts_with('#') || rest.starts_with('\t') {
        return None;
    }
    let code = strip_comment(rest).trim_end();
    let mut key_col = indent;
    let mut item = code;
    let dash = is_dash(code);
    while is_dash(item) {
        let after = &item[1..];
        let spaces = after.len() - after.trim_start_matches(' ').len();
        key_col += 1 + spaces;
        item = &after[spaces..];
    }
    let opens_block = item.is_empty()
        || item.ends_with(':')
        || ["|", "|-", "|+", ">", ">-", ">+"]
            .iter()
            .any(|b| item.ends_with(&format!(" {b}")) || item.ends_with(&format!(":{b}")));
    let token = if dash {
        &rest[..1]
    } else {
        match code.find(':') {
            Some(at) => &code[..at],
            None => code,
        }
    };
    Some(Shape {
        number,
        indent,
        key_col,
        dash,
        opens_block,
        token,
    })
}

fn is_dash(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// The text before a comment (`#` at the start or after a space); quotes are not followed, which
/// is enough for the keys and plain values around an indentation mistake.
fn strip_comment(text: &str) -> &str {
    if text.starts_with('#') {
        return "";
    }
    match text.find(" #") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// A flow collection (`[`, `{`) left open on the line: its next lines are not block structure.
fn opens_flow(text: &str) -> bool {
    let code = strip_comment(text);
    let opened = code.matches(['[', '{']).count();
    let closed = code.matches([']', '}']).count();
    opened > closed
}

/// The hint for a syntax error at `at` (saphyr's position: 1-based line, 0-based column), when
/// the lines show an indentation mistake on the error's line.
pub fn hint(text: &str, at: Pos) -> Option<IndentHint> {
    let lines: Vec<&str> = text.lines().collect();
    let number = at.line;
    let line = shape(number, lines.get((number as usize).checked_sub(1)?)?)?;
    // The lines above, nearest first, blank lines and comments left out.
    let above: Vec<(Shape, &str)> = (1..number)
        .rev()
        .filter_map(|n| {
            let text = lines.get(n as usize - 1)?;
            shape(n, text).map(|s| (s, *text))
        })
        .collect();
    let (previous, previous_text) = above.first()?;
    if opens_flow(previous_text) {
        return None;
    }
    let span = Span {
        start: Pos {
            line: number,
            col: line.indent as u32,
        },
        end: Pos {
            line: number,
            col: (line.indent + line.token.chars().count().max(1)) as u32,
        },
    };
    if line.dash {
        let (item, _) = above.iter().find(|(s, _)| s.dash)?;
        if item.indent == line.indent {
            return None;
        }
        return Some(IndentHint {
            message: format!(
                "this list item is indented {}, but the item on line {} is indented {}",
                spaces(line.indent),
                item.number,
                item.indent
            ),
            help: "start every `-` of one list in the same column".to_string(),
            span,
        });
    }
    if line.indent > previous.key_col && !previous.opens_block {
        return Some(IndentHint {
            message: format!(
                "this line is indented more than the line above ({}, not {})",
                spaces(line.indent),
                previous.key_col
            ),
            help: format!(
                "indent it like the line above: YAML reads a deeper line as part of the value on line {}",
                previous.number
            ),
            span,
        });
    }
    if line.indent >= previous.key_col {
        return None;
    }
    // The columns a key may start at here: the line above's, and each enclosing mapping's.
    let mut levels = vec![(previous.key_col, previous.number)];
    let mut innermost = previous.key_col;
    for (s, _) in &above[1..] {
        if s.key_col < innermost {
            levels.push((s.key_col, s.number));
            innermost = s.key_col;
        }
    }
    if levels.iter().any(|(col, _)| *col == line.indent) {
        return None;
    }
    // The nearest level; between two at the same distance, the deeper one (the mapping the line
    // most likely continues).
    let (col, near) = levels
        .iter()
        .min_by_key(|(col, _)| (col.abs_diff(line.indent), std::cmp::Reverse(*col)))
        .copied()?;
    Some(IndentHint {
        message: format!(
            "this line is indented {}, which lines up with no line above",
            spaces(line.indent)
        ),
        help: format!("indent it like line {near} ({})", spaces(col)),
        span,
    })
}

fn spaces(n: usize) -> String {
    if n == 1 {
        "1 space".to_string()
    } else {
        format!("{n} spaces")
    }
}

#[cfg(test)]
mod tests {
    use crate::source::yaml::parse;

    /// The hint tagrec gives for `text`: (message, help, line, 1-based column).
    fn hint_of(text: &str) -> Option<(String, String, u32, u32)> {
        let (_, errors) = parse(text);
        let error = errors.first()?;
        Some((
            error.message.clone(),
            error.help.clone().unwrap_or_default(),
            error.span.start.line,
            error.span.start.col + 1,
        ))
    }

    #[test]
    fn an_over_indented_value_is_told_to_indent_like_the_line_above() {
        let text =
            "version: 1\nprojects:\n  - name: A\n    tags:\n      Application: x\n       Team: y\n";
        assert_eq!(
            hint_of(text),
            Some((
                "this line is indented more than the line above (7 spaces, not 6)".to_string(),
                "indent it like the line above: YAML reads a deeper line as part of the value on line 5".to_string(),
                6,
                8
            ))
        );
        // A key under a list item lines up with the item's first key, not its `-`.
        let text = "version: 1\nprojects:\n  - name: A\n     id: proj_a\n";
        assert_eq!(
            hint_of(text).map(|h| (h.0, h.2, h.3)),
            Some((
                "this line is indented more than the line above (5 spaces, not 4)".to_string(),
                4,
                6
            ))
        );
        let text = "version: 1\n  projects: []\n";
        assert_eq!(
            hint_of(text).map(|h| (h.0, h.2, h.3)),
            Some((
                "this line is indented more than the line above (2 spaces, not 0)".to_string(),
                2,
                3
            ))
        );
    }

    #[test]
    fn a_misaligned_list_item_names_the_item_it_should_line_up_with() {
        for (text, indent, line) in [
            (
                "version: 1\nprojects:\n  - name: A\n    tags: {}\n - name: B\n",
                1,
                5,
            ),
            (
                "version: 1\nprojects:\n  - name: A\n    tags:\n      Application: x\n    - name: B\n",
                4,
                6,
            ),
            ("version: 1\nprojects:\n- name: A\n  - name: B\n", 2, 4),
        ] {
            let above = if line == 4 { 0 } else { 2 };
            let s = if indent == 1 { "" } else { "s" };
            assert_eq!(
                hint_of(text),
                Some((
                    format!(
                        "this list item is indented {indent} space{s}, but the item on line 3 is indented {above}"
                    ),
                    "start every `-` of one list in the same column".to_string(),
                    line,
                    indent + 1
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn a_line_between_two_levels_is_told_the_nearest_one() {
        let text =
            "version: 1\nprojects:\n  - name: A\n    tags:\n      Application: x\n     Team: y\n";
        assert_eq!(
            hint_of(text),
            Some((
                "this line is indented 5 spaces, which lines up with no line above".to_string(),
                "indent it like line 5 (6 spaces)".to_string(),
                6,
                6
            ))
        );
        let text = "version: 1\nprojects:\n  - name: A\n   id: proj_a\n";
        assert_eq!(
            hint_of(text).map(|h| (h.1, h.2, h.3)),
            Some(("indent it like line 3 (4 spaces)".to_string(), 4, 4))
        );
    }

    proptest::proptest! {
        /// Whatever the text, reading it never panics, and a hint, when there is one, points
        /// inside the text.
        #[test]
        fn any_text_gets_an_answer(pieces in proptest::collection::vec(
            proptest::sample::select(vec![" ", "  ", "- ", "-", "a", "é", ":", ": ", "\n", "\r\n", "#", "[", "{", "|", "\t", "b: 1"]),
            0..40,
        )) {
            let text: String = pieces.concat();
            let (_, errors) = parse(&text);
            for error in errors {
                let lines = text.lines().count().max(1) as u32;
                proptest::prop_assert!(error.span.start.line <= lines + 1, "{error:?}");
            }
        }
    }

    #[test]
    fn other_syntax_errors_keep_the_parser_s_words() {
        let (message, help, _, _) =
            hint_of("version: 1\nnote: a: b\n").unwrap_or_else(|| panic!("no error"));
        assert_eq!(
            message,
            "invalid YAML: mapping values are not allowed in this context"
        );
        assert_eq!(
            help,
            "put a space after `:`, or quote a value that contains `: `"
        );
        // A comment or a blank line between the two lines changes nothing.
        let text = "a:\n  b: 1\n\n  # note\n   c: 2\n";
        assert_eq!(
            hint_of(text).map(|h| h.0),
            Some("this line is indented more than the line above (3 spaces, not 2)".to_string())
        );
    }
}
