//! Printers of diagnostics: text (rustc-style snippets), json, github (workflow commands) and
//! sarif (2.1.0). They print what the checker found and compute nothing of their own.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_json::{Value as Json, json};

use crate::diagnostics::{Diagnostic, Place, Rule};
use crate::source::Sources;

/// Every rule id, in the contract's order, with what it checks (SARIF's rule list).
pub const RULES: &[(Rule, &str)] = &[
    (Rule::Yaml, "The file is valid YAML."),
    (
        Rule::DuplicateKey,
        "A mapping has no key twice (compared after unquoting).",
    ),
    (
        Rule::UnknownKey,
        "Every key is one the manifest format knows.",
    ),
    (
        Rule::Type,
        "Every value has the expected type (text, true/false, list, mapping).",
    ),
    (
        Rule::DuplicateProject,
        "No two projects share an id, nor a name unless each pins its own id.",
    ),
    (
        Rule::Name,
        "A project name is 1 to 128 characters, not blank, and not `default`.",
    ),
    (
        Rule::TagLimit,
        "At most 200 tags; keys 1 to 128 characters, values up to 256.",
    ),
    (
        Rule::ReservedKey,
        "No `aws:` keys, and no hand-written tagrec tags.",
    ),
    (Rule::Version, "The manifest says `version: 1`."),
    (
        Rule::File,
        "The manifest and the files it names can be read.",
    ),
    (
        Rule::PolicyFile,
        "The policy is a valid JSON Schema without remote references.",
    ),
    (Rule::Policy, "Every project satisfies the tag policy."),
];

/// rustc-style: `error[rule]: message`, `--> file:line:column`, the source line with the span
/// underlined, then `= help: …`. One blank line between diagnostics.
pub fn text(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diagnostics {
        let title = Level::ERROR
            .primary_title(d.message.as_str())
            .id(d.rule.id());
        let label = d.project.as_ref().map(|p| format!("in project {p}"));
        let snippet = d.place.as_ref().and_then(|place| {
            let source = sources.get(&place.file)?;
            Some(excerpt(source, place, label.as_deref()))
        });
        let mut group = match snippet {
            Some(snippet) => title.element(snippet),
            // No text to show (a missing file): still say where, when known.
            None => match &d.place {
                Some(place) => title.element(
                    Level::NOTE
                        .message(format!("at {}:{}:{}", place.file, place.line, place.column)),
                ),
                None => Group::with_title(title),
            },
        };
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// Only the lines of the place go to the renderer: it indexes what it is given, and a
/// 100,000-project file would otherwise be scanned once per diagnostic.
fn excerpt<'a>(
    source: &'a str,
    place: &'a Place,
    label: Option<&'a str>,
) -> Snippet<'a, annotate_snippets::Annotation<'a>> {
    let start = place.start.min(source.len());
    let end = place.end.clamp(start, source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[end..].find('\n').map_or(source.len(), |i| end + i);
    let mut annotation = AnnotationKind::Primary.span(start - line_start..end - line_start);
    if let Some(label) = label {
        annotation = annotation.label(label);
    }
    Snippet::source(&source[line_start..line_end])
        .line_start(place.line)
        .path(place.file.as_str())
        .annotation(annotation)
}

/// `[{"file", "line", "column", "end_line", "end_column", "severity", "rule", "project",
/// "message"}]`; place fields are null for a problem with no place (a missing file).
pub fn json(diagnostics: &[Diagnostic], _sources: &Sources) -> String {
    let mut out =
        serde_json::to_string_pretty(&json_value(diagnostics)).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

/// The array of `validate --format json` (also one manifest's part of an estate's).
pub fn json_value(diagnostics: &[Diagnostic]) -> Json {
    let items: Vec<Json> = diagnostics
        .iter()
        .map(|d| {
            let place = d.place.as_ref();
            json!({
                "file": place.map(|p| p.file.clone()),
                "line": place.map(|p| p.line),
                "column": place.map(|p| p.column),
                "end_line": place.map(|p| p.end_line),
                "end_column": place.map(|p| p.end_column),
                "severity": "error",
                "rule": d.rule.id(),
                "project": d.project,
                "message": d.message,
            })
        })
        .collect();
    Json::Array(items)
}

/// GitHub workflow commands, one per problem, then a plain line with the total: GitHub shows
/// only ten annotations per step, and the total says how many there are in all.
pub fn github(diagnostics: &[Diagnostic], _sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let mut properties = Vec::new();
        if let Some(p) = &d.place {
            properties.push(format!("file={}", escape_property(&p.file)));
            properties.push(format!("line={}", p.line));
            properties.push(format!("col={}", p.column));
            properties.push(format!("endLine={}", p.end_line));
            properties.push(format!("endColumn={}", p.end_column));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("tagrec {}", d.rule.id()))
        ));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::error {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out.push_str(&total(diagnostics));
    out.push('\n');
    out
}

/// "2 errors", "1 error", "no problems".
pub fn total(diagnostics: &[Diagnostic]) -> String {
    match diagnostics.len() {
        0 => "tagrec: no problems found".to_string(),
        1 => "tagrec: 1 error".to_string(),
        n => format!("tagrec: {n} errors"),
    }
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// SARIF 2.1.0, for code scanning: tool `tagrec`, every rule id, one result per problem.
pub fn sarif(diagnostics: &[Diagnostic], _sources: &Sources) -> String {
    let rules: Vec<Json> = RULES
        .iter()
        .map(|(rule, text)| {
            json!({
                "id": rule.id(),
                "shortDescription": {"text": text},
                "defaultConfiguration": {"level": "error"},
            })
        })
        .collect();
    let results: Vec<Json> = diagnostics
        .iter()
        .map(|d| {
            let index = RULES.iter().position(|(r, _)| *r == d.rule).unwrap_or(0);
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str(&format!(" (help: {help})"));
            }
            let locations: Vec<Json> = d
                .place
                .iter()
                .map(|p| {
                    json!({"physicalLocation": {
                        "artifactLocation": {"uri": p.file.replace('\\', "/")},
                        "region": {
                            "startLine": p.line,
                            "startColumn": p.column,
                            "endLine": p.end_line,
                            // SARIF's end column is the one after the region.
                            "endColumn": p.end_column + 1,
                        }
                    }})
                })
                .collect();
            let mut result = json!({
                "ruleId": d.rule.id(),
                "ruleIndex": index,
                "level": "error",
                "message": {"text": message},
                "locations": locations,
            });
            if let Some(project) = &d.project {
                result["properties"] = json!({"project": project});
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tagrec",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Place {
        Place {
            file: "p.yaml".to_string(),
            line,
            column,
            end_line: line,
            end_column: column + 2,
            start: 0,
            end: 0,
        }
    }

    #[test]
    fn github_escapes_newlines_and_property_separators() {
        let d = Diagnostic::error(Rule::Policy, "a\nb, 100%").at(at(3, 7));
        let out = github(&[d], &Sources::default());
        assert!(out.starts_with(
            "::error file=p.yaml,line=3,col=7,endLine=3,endColumn=9,title=tagrec policy::a%0Ab, 100%25\n"
        ), "{out}");
        assert!(out.ends_with("tagrec: 1 error\n"));
    }

    #[test]
    fn every_rule_is_listed_once() {
        let mut ids: Vec<&str> = RULES.iter().map(|(r, _)| r.id()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 12);
    }
}
