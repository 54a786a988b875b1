//! YAML text to a tree of nodes that each know their span, built from `saphyr-parser` events so
//! that duplicate keys are refused (not silently overwritten), alias expansion is bounded, and a
//! scalar keeps the text it was written with (the manifest decides what a plain scalar means).

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use crate::diagnostics::Rule;

use super::indent;

/// One segment of a JSON pointer (RFC 6901) as the key it names: `~1` is `/`, `~0` is `~`.
pub fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A position as saphyr reports it: 1-based line, 0-based column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Half-open span between two positions. Kept small (16 bytes): a 100,000-project manifest has
/// millions of nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Written bare: its meaning (null, bool, number, text) depends on the reader.
    Plain,
    /// Quoted, a block scalar, or tagged `!!str`: always text.
    Text,
}

/// Scalars borrow from the source text whenever they are written as they read (most are), so a
/// big manifest costs few allocations; lists and mappings are boxed slices (no spare capacity).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Scalar { text: Cow<'a, str>, style: Style },
    Seq(Box<[Node<'a>]>),
    Map(Box<[(Node<'a>, Node<'a>)]>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub value: Value<'a>,
    pub span: Span,
}

impl Default for Node<'_> {
    fn default() -> Self {
        Node {
            value: Value::Scalar {
                text: Cow::Borrowed(""),
                style: Style::Plain,
            },
            span: Span::default(),
        }
    }
}

impl<'a> Node<'a> {
    /// A plain `~`, `null` or nothing at all: YAML's null.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, style: Style::Plain }
            if matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_map(&self) -> Option<&[(Node<'a>, Node<'a>)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::Seq(_) => "a list",
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
        }
    }

    /// The key text of a map entry (scalars only; other keys are reported by the builder).
    pub fn key_text(&self) -> &str {
        match &self.value {
            Value::Scalar { text, .. } => text,
            _ => "",
        }
    }

    /// Converts to JSON with YAML 1.2's core schema (for the policy, which is a JSON Schema).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar { text, style } => match style {
                Style::Text => serde_json::Value::String(text.to_string()),
                Style::Plain => core_scalar(text),
            },
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text().to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The node at a JSON pointer (`/a/0/b`), for placing an error found in the JSON form.
    pub fn pointer(&self, pointer: &str) -> Option<&Node<'a>> {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let segment = unescape_pointer(raw);
            node = match &node.value {
                Value::Map(entries) => &entries.iter().find(|(k, _)| k.key_text() == segment)?.1,
                Value::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
                Value::Scalar { .. } => return None,
            };
        }
        Some(node)
    }
}

fn core_scalar(text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return J::Null,
        "true" | "True" | "TRUE" => return J::Bool(true),
        "false" | "False" | "FALSE" => return J::Bool(false),
        _ => {}
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if looks_numeric && text.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return J::from(i);
        }
        if let Ok(f) = text.parse::<f64>()
            && let Some(n) = serde_json::Number::from_f64(f)
        {
            return J::Number(n);
        }
    }
    J::String(text.to_string())
}

/// A problem found while reading YAML. Syntax errors end the reading; duplicate keys and odd keys
/// are collected and the reading goes on, so that one run shows them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub rule: Rule,
    pub message: String,
    pub help: Option<String>,
    pub span: Span,
}

/// Aliases may repeat at most this many nodes in all: enough for any honest manifest, and a
/// "billion laughs" document stops after a few microseconds instead of filling memory.
pub const ALIAS_NODE_BUDGET: usize = 100_000;
/// Deeper nesting than this is no manifest and would only risk the stack.
pub const MAX_DEPTH: usize = 64;

/// Reads the first (and only) document. `Ok(None)` for a file with no document at all.
pub fn parse(text: &str) -> (Option<Node<'_>>, Vec<YamlError>) {
    let mut builder = Builder {
        text,
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        alias_nodes: 0,
        errors: Vec::new(),
    };
    let root = match builder.document() {
        Ok(root) => root,
        Err(error) => {
            builder.errors.push(error);
            None
        }
    };
    (root, builder.errors)
}

struct Builder<'a> {
    text: &'a str,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored nodes, with their size in nodes, for bounding alias expansion.
    anchors: HashMap<usize, (Node<'a>, usize)>,
    alias_nodes: usize,
    errors: Vec<YamlError>,
}

type Step<'a> = (Event<'a>, saphyr_parser::Span);

fn pos(marker: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: marker.line() as u32,
        col: marker.col() as u32,
    }
}

fn span(s: &saphyr_parser::Span) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

fn syntax_error(error: ScanError, text: &str) -> YamlError {
    let at = pos(error.marker());
    let info = error.info();
    if let Some(hint) = indent::hint(text, at) {
        return YamlError {
            rule: Rule::Yaml,
            message: hint.message,
            help: Some(hint.help),
            span: hint.span,
        };
    }
    let help = if info.contains("tab") {
        "indent with spaces: YAML does not allow tabs for indentation"
    } else if info.contains("quoted") {
        "check that every quote is closed on this line or the next ones"
    } else if info.contains("mapping values") {
        "put a space after `:`, or quote a value that contains `: `"
    } else {
        "fix the YAML syntax here"
    };
    YamlError {
        rule: Rule::Yaml,
        message: format!("invalid YAML: {info}"),
        help: Some(help.to_string()),
        span: Span {
            start: at,
            end: Pos {
                line: at.line,
                col: at.col + 1,
            },
        },
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Step<'a>, YamlError> {
        match self.parser.next_event() {
            Some(Ok(step)) => Ok(step),
            Some(Err(error)) => Err(syntax_error(error, self.text)),
            None => Err(YamlError {
                rule: Rule::Yaml,
                message: "unexpected end of the YAML stream".to_string(),
                help: None,
                span: Span::default(),
            }),
        }
    }

    fn document(&mut self) -> Result<Option<Node<'a>>, YamlError> {
        let mut root = None;
        loop {
            let (event, at) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(YamlError {
                            rule: Rule::Yaml,
                            message: "a second YAML document (`---`) in one file".to_string(),
                            help: Some("keep one document per manifest".to_string()),
                            span: span(&at),
                        });
                    }
                    let (event, at) = self.next()?;
                    root = Some(self.node(event, at, 0)?);
                }
                _ => root = Some(self.node(event, at, 0)?),
            }
        }
    }

    fn node(
        &mut self,
        event: Event<'a>,
        at: saphyr_parser::Span,
        depth: usize,
    ) -> Result<Node<'a>, YamlError> {
        if depth > MAX_DEPTH {
            return Err(YamlError {
                rule: Rule::Yaml,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
                help: Some("a manifest is a few levels deep; flatten this".to_string()),
                span: span(&at),
            });
        }
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let style = match (style, tag.as_deref()) {
                    (_, Some(tag)) if tag.is_yaml_core_schema() && tag.suffix == "str" => {
                        Style::Text
                    }
                    (ScalarStyle::Plain, _) => Style::Plain,
                    _ => Style::Text,
                };
                let node = Node {
                    value: Value::Scalar {
                        text: self.borrow(text, &at),
                        style,
                    },
                    span: span(&at),
                };
                (node, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                let end = loop {
                    let (event, inner) = self.next()?;
                    if let Event::SequenceEnd = event {
                        break inner;
                    }
                    items.push(self.node(event, inner, depth + 1)?);
                };
                let end = closing(&end, items.last().map(|n| n.span.end));
                let node = Node {
                    value: Value::Seq(items.into_boxed_slice()),
                    span: Span {
                        start: pos(&at.start),
                        end,
                    },
                };
                (node, anchor)
            }
            Event::MappingStart(anchor, _) => {
                let node = self.mapping(at, depth)?;
                (node, anchor)
            }
            Event::Alias(id) => return self.alias(id, at),
            _ => {
                return Err(YamlError {
                    rule: Rule::Yaml,
                    message: "unexpected YAML event".to_string(),
                    help: None,
                    span: span(&at),
                });
            }
        };
        if anchor != 0 {
            let size = node_count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }

    /// The scalar as a slice of the source when it reads as written there. saphyr's marker
    /// counts characters, which equals bytes in ASCII text; elsewhere the comparison fails (or
    /// finds the same text), so the result is always the scalar's own text.
    fn borrow(&self, text: Cow<'a, str>, at: &saphyr_parser::Span) -> Cow<'a, str> {
        let start = at.start.index();
        match self.text.get(start..start + text.len()) {
            Some(slice) if slice == text => Cow::Borrowed(slice),
            _ => Cow::Owned(text.into_owned()),
        }
    }

    fn alias(&mut self, id: usize, at: saphyr_parser::Span) -> Result<Node<'a>, YamlError> {
        let Some((node, size)) = self.anchors.get(&id) else {
            return Err(YamlError {
                rule: Rule::Yaml,
                message: "an alias to an unknown anchor".to_string(),
                help: Some("define the anchor (`&name`) before using it (`*name`)".to_string()),
                span: span(&at),
            });
        };
        // Checked before the copy is made: the copy is what would exhaust memory.
        self.alias_nodes += size;
        if self.alias_nodes > ALIAS_NODE_BUDGET {
            return Err(YamlError {
                rule: Rule::Yaml,
                message: format!(
                    "aliases expand to more than {ALIAS_NODE_BUDGET} nodes (an alias bomb?)"
                ),
                help: Some("write the repeated parts out, or use `defaults.tags`".to_string()),
                span: span(&at),
            });
        }
        let mut copy = node.clone();
        // Errors about the copy should point at the alias the user wrote.
        copy.span = span(&at);
        Ok(copy)
    }

    fn mapping(&mut self, at: saphyr_parser::Span, depth: usize) -> Result<Node<'a>, YamlError> {
        let mut entries: Vec<(Node<'a>, Node<'a>)> = Vec::new();
        // Small maps (most of them) are checked by a scan; big ones through an index.
        let mut index: Option<HashMap<String, usize>> = None;
        let end = loop {
            let (event, inner) = self.next()?;
            if let Event::MappingEnd = event {
                break inner;
            }
            let key = self.node(event, inner, depth + 1)?;
            let (event, inner) = self.next()?;
            let value = self.node(event, inner, depth + 1)?;
            if !matches!(key.value, Value::Scalar { .. }) {
                self.errors.push(YamlError {
                    rule: Rule::Type,
                    message: format!("a key must be text, not {}", key.kind_name()),
                    help: Some("write the key as plain text".to_string()),
                    span: key.span,
                });
                continue;
            }
            let text = key.key_text();
            let first = match &index {
                Some(index) => index.get(text).map(|&i| entries[i].0.span),
                None => entries
                    .iter()
                    .find(|(k, _)| k.key_text() == text)
                    .map(|(k, _)| k.span),
            };
            if let Some(first) = first {
                self.errors.push(YamlError {
                    rule: Rule::DuplicateKey,
                    message: format!(
                        "duplicate key `{text}` (first at line {}, column {})",
                        first.start.line,
                        first.start.col + 1
                    ),
                    help: Some(
                        "remove one of the two: YAML readers disagree on which one wins"
                            .to_string(),
                    ),
                    span: key.span,
                });
                continue;
            }
            if let Some(index) = &mut index {
                index.insert(text.to_string(), entries.len());
            } else if entries.len() >= 16 {
                let mut built: HashMap<String, usize> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.key_text().to_string(), i))
                    .collect();
                built.insert(text.to_string(), entries.len());
                index = Some(built);
            }
            entries.push((key, value));
        };
        let start = entries
            .first()
            .map_or(pos(&at.start), |(k, _)| k.span.start);
        let end = closing(&end, entries.last().map(|(_, v)| v.span.end));
        Ok(Node {
            value: Value::Map(entries.into_boxed_slice()),
            span: Span { start, end },
        })
    }
}

/// Where a list or mapping ends: at its `]` or `}` when written in flow style; in block style
/// (where saphyr's end event sits on the next line's first token) at its last value.
fn closing(end: &saphyr_parser::Span, last: Option<Pos>) -> Pos {
    match last {
        Some(last) if end.start.index() == end.end.index() => last,
        _ => pos(&end.end),
    }
}

fn node_count(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_count(k) + node_count(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<Rule> {
        parse(text).1.iter().map(|e| e.rule).collect()
    }

    #[test]
    fn quoted_and_plain_duplicate_keys_are_the_same_key() {
        let (root, errors) = parse("a: 1\n\"a\": 2\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].rule, Rule::DuplicateKey);
        assert_eq!(errors[0].span.start, Pos { line: 2, col: 0 });
        // The first one is kept, so later checks see one consistent value.
        assert_eq!(
            root.and_then(|r| r.pointer("/a").cloned())
                .map(|n| n.to_json()),
            Some(1.into())
        );
    }

    #[test]
    fn duplicate_keys_in_big_maps_are_found_through_the_index() {
        let mut text: String = (0..40).map(|i| format!("k{i}: v\n")).collect();
        text.push_str("k3: again\n");
        assert_eq!(rules(&text), vec![Rule::DuplicateKey]);
    }

    #[test]
    fn plain_scalars_keep_their_text() {
        let (root, _) = parse("a: 007\nb: 1.10\nc: NO\nd: on\ne: '~'\n");
        let root = root.unwrap_or_else(|| panic!("no document"));
        for (key, text) in [
            ("a", "007"),
            ("b", "1.10"),
            ("c", "NO"),
            ("d", "on"),
            ("e", "~"),
        ] {
            match &root.pointer(&format!("/{key}")).map(|n| &n.value) {
                Some(Value::Scalar { text: t, .. }) => assert_eq!(t, text),
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn nulls_are_plain_only() {
        let (root, _) = parse("a:\nb: ~\nc: null\nd: \"null\"\n");
        let root = root.unwrap_or_else(|| panic!("no document"));
        let null = |p: &str| root.pointer(p).is_some_and(Node::is_null);
        assert!(null("/a") && null("/b") && null("/c") && !null("/d"));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='k' {
            text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let (_, errors) = parse(&text);
        assert!(
            errors.iter().any(|e| e.message.contains("alias")),
            "{errors:?}"
        );
    }

    #[test]
    fn small_aliases_are_fine() {
        let (root, errors) = parse("x: &t {A: b}\ny: *t\n");
        assert!(errors.is_empty());
        let root = root.unwrap_or_else(|| panic!("no document"));
        assert_eq!(root.pointer("/y/A").map(Node::to_json), Some("b".into()));
    }

    #[test]
    fn syntax_errors_are_placed() {
        let (_, errors) = parse("a:\n\tb: 1\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].rule, Rule::Yaml);
        assert_eq!(errors[0].span.start.line, 2);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(rules(&text), vec![Rule::Yaml]);
    }

    #[test]
    fn core_schema_for_policies() {
        let (root, _) = parse("a: 12\nb: 1.5\nc: true\nd: x\ne: '12'\n");
        let json = root.map(|r| r.to_json());
        assert_eq!(
            json,
            Some(serde_json::json!({"a": 12, "b": 1.5, "c": true, "d": "x", "e": "12"}))
        );
    }
}
