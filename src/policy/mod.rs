//! The JSON Schema tag policy: loaded from YAML or JSON, compiled once, applied to the document
//! `{"name", "tags"}` of a project (tagrec's own tags and `aws:` keys left out).

use std::path::{Path, PathBuf};

use jsonschema::error::ValidationErrorKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::diagnostics::{Diagnostic, Rule};
use crate::rules::{OWNER_TAG, PROTECT_TAG, Tags, is_aws_key};
use crate::source::SourceText;
use crate::source::yaml::{self, unescape_pointer};

mod invalid;

impl invalid::Problem<'_, '_> {
    fn into_diagnostic(self, source: &SourceText) -> Diagnostic {
        Diagnostic::error(Rule::PolicyFile, self.message)
            .at(source.place(self.node.span))
            .help(self.help)
    }
}

/// One way a project breaks the policy: a sentence for people, and its `kind` for code that
/// groups or places violations (never the sentence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: String,
    pub message: String,
    #[serde(skip)]
    pub kind: ViolationKind,
}

/// What a violation is about, which decides where in a manifest it is fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ViolationKind {
    /// A required tag is absent (fixed at the project's `tags:`).
    Missing { key: String },
    /// A tag's value breaks a rule (fixed at the value).
    Value { key: String },
    /// A tag key itself is not allowed: a key pattern, a closed set of keys (fixed at the key).
    Key { key: String },
    /// The tag set as a whole: too many or too few tags.
    Tags,
    /// The project as a whole: its name, or a rule on the document.
    #[default]
    Project,
}

impl Violation {
    /// The required tags a list of violations says are missing, in order.
    pub fn missing_keys(violations: &[Violation]) -> Vec<&str> {
        violations
            .iter()
            .filter_map(|v| match &v.kind {
                ViolationKind::Missing { key } => Some(key.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A compiled policy.
pub struct Policy {
    /// The policy file as it was named (relative paths stay relative).
    pub file: PathBuf,
    validator: jsonschema::Validator,
    /// The tag keys the policy names (required, or given a rule), sorted.
    tag_keys: Vec<String>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("file", &self.file).finish()
    }
}

impl Policy {
    /// Loads the policy and also returns its text (when it could be read), for snippets.
    pub fn load_with_source(path: &Path) -> (Result<Policy, Vec<Diagnostic>>, Option<SourceText>) {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                let d = Diagnostic::error(
                    Rule::File,
                    format!("cannot read the policy {name}: {error}"),
                )
                .help("check the `policy:` path; it is relative to the manifest's folder");
                return (Err(vec![d]), None);
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                let at = error.utf8_error().valid_up_to();
                let source = SourceText::new(
                    name.clone(),
                    String::from_utf8_lossy(error.as_bytes()).into_owned(),
                );
                let d = Diagnostic::error(
                    Rule::PolicyFile,
                    format!("the policy is not UTF-8 text (bad byte at offset {at})"),
                )
                .at(source.place_at_byte(at))
                .help("save the policy as UTF-8");
                return (Err(vec![d]), Some(source));
            }
        };
        let source = SourceText::new(name, text);
        let result = compile(path, &source);
        (result, Some(source))
    }

    /// The tag keys the policy names under `properties: {tags: …}` (its `required` list and its
    /// `properties`), wherever that sits in the schema: a key the manifest misplaces is recognised
    /// as a tag by them. `$ref`s to other files are not followed.
    pub fn tag_keys(&self) -> &[String] {
        &self.tag_keys
    }

    /// The document the policy sees for a live project (plan's unmanaged list, audit).
    pub fn check_project(&self, name: &str, tags: &Tags, owner: Option<&str>) -> Vec<Violation> {
        let tags = tags
            .iter()
            .filter(|(k, _)| policy_sees(k, owner.is_some()))
            .map(|(k, v)| (k.clone(), Json::String(v.clone())));
        self.check_document(&document(name, tags))
    }

    /// Every violation of one `{"name", "tags"}` document, in the policy's order.
    pub fn check_document(&self, document: &Json) -> Vec<Violation> {
        // Most projects pass: the fast boolean check avoids building error values for them.
        if self.validator.is_valid(document) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for error in self.validator.iter_errors(document) {
            describe(&error, document, &mut out);
        }
        out.dedup();
        out
    }
}

/// The one sentence for missing required tags: "missing required tags Team, Owner".
pub fn missing_sentence(keys: &[&str]) -> String {
    let s = if keys.len() == 1 { "" } else { "s" };
    format!("missing required tag{s} {}", keys.join(", "))
}

/// A project's violations as people read them, in validate, plan and audit alike: the missing
/// required tags folded into one `missing_sentence` (where the first of them was), every other
/// violation as it is.
pub fn sentences(violations: &[Violation]) -> Vec<String> {
    let missing = Violation::missing_keys(violations);
    let mut out = Vec::with_capacity(violations.len());
    let mut folded = false;
    for violation in violations {
        match violation.kind {
            ViolationKind::Missing { .. } if folded => {}
            ViolationKind::Missing { .. } => {
                out.push(missing_sentence(&missing));
                folded = true;
            }
            _ => out.push(violation.message.clone()),
        }
    }
    out
}

/// Whether a tag is part of the document the policy sees: not `aws:` keys, not tagrec's own.
pub fn policy_sees(key: &str, owner_set: bool) -> bool {
    !(is_aws_key(key) || key == PROTECT_TAG || (owner_set && key == OWNER_TAG))
}

pub fn document(name: &str, tags: impl Iterator<Item = (String, Json)>) -> Json {
    let mut doc = Map::new();
    doc.insert("name".to_string(), Json::String(name.to_string()));
    doc.insert("tags".to_string(), Json::Object(tags.collect()));
    Json::Object(doc)
}

fn compile(path: &Path, source: &SourceText) -> Result<Policy, Vec<Diagnostic>> {
    let (root, errors) = yaml::parse(&source.text);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| {
                let mut d =
                    Diagnostic::error(Rule::PolicyFile, format!("in the policy: {}", e.message))
                        .at(source.place(e.span));
                d.help = e.help;
                d
            })
            .collect());
    }
    let Some(root) = root else {
        return Err(vec![
            Diagnostic::error(
                Rule::PolicyFile,
                format!("the policy {} is empty", source.name),
            )
            .at(source.place_at_byte(0))
            .help("write a JSON Schema (YAML or JSON), e.g. `type: object`"),
        ]);
    };
    if let Some(problem) = invalid::unknown_draft(&root) {
        return Err(vec![problem.into_diagnostic(source)]);
    }
    let misspelled = invalid::misspelled_keywords(&root);
    if !misspelled.is_empty() {
        return Err(misspelled
            .into_iter()
            .map(|problem| problem.into_diagnostic(source))
            .collect());
    }
    let schema = root.to_json();
    let base = std::path::absolute(path)
        .ok()
        .and_then(|abs| url::Url::from_file_path(abs).ok());
    let mut options = jsonschema::options()
        .with_retriever(LocalFiles)
        .should_validate_formats(false);
    if let Some(base) = &base {
        options = options.with_base_uri(base.as_str());
    }
    match options.build(&schema) {
        Ok(validator) => Ok(Policy {
            file: path.to_path_buf(),
            validator,
            tag_keys: tag_keys_of(&schema),
        }),
        Err(error) => {
            let pointer = error.instance_path().as_str().to_string();
            if let Some(problem) =
                invalid::describe(&root, &pointer, error.kind(), &error.to_string())
            {
                return Err(vec![problem.into_diagnostic(source)]);
            }
            let node = root.pointer(&pointer).unwrap_or(&root);
            let (message, help) = match error.kind() {
                ValidationErrorKind::Referencing(inner) => (
                    format!("the policy's `$ref` cannot be resolved: {inner}"),
                    "a `$ref` may name a file beside the policy (`$ref: common.yaml#/$defs/x`); remote references are refused: tagrec never fetches a schema",
                ),
                _ => (
                    format!("the policy is not a valid JSON Schema: {error}"),
                    "fix the schema keyword here (see https://json-schema.org/understanding-json-schema)",
                ),
            };
            Err(vec![
                Diagnostic::error(Rule::PolicyFile, message)
                    .at(source.place(node.span))
                    .help(help),
            ])
        }
    }
}

fn tag_keys_of(schema: &Json) -> Vec<String> {
    fn walk(node: &Json, out: &mut Vec<String>) {
        match node {
            Json::Object(map) => {
                if let Some(Json::Object(tags)) = map.get("properties").and_then(|p| p.get("tags"))
                {
                    if let Some(Json::Array(required)) = tags.get("required") {
                        out.extend(required.iter().filter_map(Json::as_str).map(str::to_string));
                    }
                    if let Some(Json::Object(properties)) = tags.get("properties") {
                        out.extend(properties.keys().cloned());
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Resolves `$ref`s to local files (YAML or JSON) and refuses anything else: a policy check must
/// never reach the network.
struct LocalFiles;

impl jsonschema::Retrieve for LocalFiles {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Json, Box<dyn std::error::Error + Send + Sync>> {
        if uri.scheme().as_str() != "file" {
            return Err(format!("remote reference {uri} refused (tagrec never fetches schemas; save it beside the policy and refer to it by a relative path)").into());
        }
        let path = url::Url::parse(uri.as_str())
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| format!("{uri} is not a file path"))?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (root, errors) = yaml::parse(&text);
        if let Some(error) = errors.first() {
            return Err(format!(
                "{}:{}:{}: {}",
                path.display(),
                error.span.start.line,
                error.span.start.col + 1,
                error.message
            )
            .into());
        }
        root.map(|r| r.to_json())
            .ok_or_else(|| format!("{} is empty", path.display()).into())
    }
}

/// Turns a jsonschema error into sentences a person reads: "missing required tag Owner",
/// "Environment: \"prod\" is not one of Production, Staging", each with its kind.
fn describe(error: &jsonschema::ValidationError<'_>, document: &Json, out: &mut Vec<Violation>) {
    let path = error.instance_path().as_str().to_string();
    let tag = path.strip_prefix("/tags/").map(unescape_pointer);
    let subject = match &tag {
        Some(key) => match document.pointer(&path) {
            Some(Json::String(v)) => format!("{key}: {}", quote(v)),
            _ => key.clone(),
        },
        None if path == "/name" => match document.get("name") {
            Some(Json::String(v)) => format!("name {}", quote(v)),
            _ => "name".to_string(),
        },
        None => String::new(),
    };
    // What the error is about when nothing more precise is known: the value at the path.
    let at_path = match &tag {
        Some(key) => ViolationKind::Value { key: key.clone() },
        None if path == "/tags" => ViolationKind::Tags,
        None => ViolationKind::Project,
    };
    let mut push = |message: String, kind: ViolationKind| {
        out.push(Violation {
            rule: "policy".to_string(),
            message,
            kind,
        });
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let property = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            if path == "/tags" {
                let message = missing_sentence(&[property.as_str()]);
                push(message, ViolationKind::Missing { key: property });
            } else {
                push(format!("missing required field {property}"), at_path);
            }
        }
        ValidationErrorKind::Enum { options } => {
            let options = match options.as_ref() {
                Json::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
                other => plain(other),
            };
            push(format!("{subject} is not one of {options}"), at_path);
        }
        ValidationErrorKind::Constant { expected_value } => {
            push(
                format!("{subject} must be {}", plain(expected_value)),
                at_path,
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            push(
                format!("{subject} does not match the pattern {pattern}"),
                at_path,
            );
        }
        ValidationErrorKind::MinLength { limit } => {
            push(
                format!("{subject} is shorter than {limit} characters"),
                at_path,
            );
        }
        ValidationErrorKind::MaxLength { limit } => {
            push(
                format!("{subject} is longer than {limit} characters"),
                at_path,
            );
        }
        ValidationErrorKind::MaxProperties { limit } if path == "/tags" => {
            push(format!("more than {limit} tags"), at_path);
        }
        ValidationErrorKind::MinProperties { limit } if path == "/tags" => {
            push(format!("fewer than {limit} tags"), at_path);
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected }
            if path == "/tags" =>
        {
            for key in unexpected {
                push(
                    format!("tag {key} is not allowed by the policy"),
                    ViolationKind::Key { key: key.clone() },
                );
            }
        }
        ValidationErrorKind::PropertyNames { error: inner } if path == "/tags" => {
            let key = match inner.instance().as_ref() {
                Json::String(k) => k.clone(),
                other => other.to_string(),
            };
            let why = match inner.kind() {
                ValidationErrorKind::Pattern { pattern } => {
                    format!("does not match the pattern {pattern}")
                }
                ValidationErrorKind::Enum { .. } => "is not one of the allowed keys".to_string(),
                ValidationErrorKind::MaxLength { limit } => {
                    format!("is longer than {limit} characters")
                }
                _ => format!("is not allowed: {inner}"),
            };
            push(format!("tag key {key} {why}"), ViolationKind::Key { key });
        }
        ValidationErrorKind::Type { .. } if !subject.is_empty() => {
            push(format!("{subject}: {error}"), at_path);
        }
        _ => {
            let at = if subject.is_empty() {
                String::new()
            } else {
                format!("{subject}: ")
            };
            push(format!("{at}{error}"), at_path);
        }
    }
}

fn quote(value: &str) -> String {
    Json::String(value.to_string()).to_string()
}

/// A schema value as a person writes it: strings without quotes, anything else as JSON.
fn plain(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<Policy, Vec<Diagnostic>> {
        let dir =
            tempfile::tempdir().map_err(|e| vec![Diagnostic::error(Rule::File, e.to_string())])?;
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, text)
            .map_err(|e| vec![Diagnostic::error(Rule::File, e.to_string())])?;
        Policy::load_with_source(&path).0
    }

    fn messages(policy: &Policy, tags: &[(&str, &str)], owner: Option<&str>) -> Vec<String> {
        let tags: Tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        policy
            .check_project("P", &tags, owner)
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    const STRICT: &str = "type: object\nproperties:\n  tags:\n    type: object\n    required: [Owner, Environment]\n    propertyNames: {pattern: '^[A-Z][A-Za-z]*$'}\n    properties:\n      Environment: {enum: [Production, Staging]}\n";

    #[test]
    fn messages_read_like_sentences() {
        let Ok(p) = policy(STRICT) else {
            panic!("policy did not compile")
        };
        let got = messages(&p, &[("Environment", "prod"), ("bad_key", "x")], None);
        assert!(
            got.contains(&"missing required tag Owner".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"Environment: \"prod\" is not one of Production, Staging".to_string()),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|m| m.starts_with("tag key bad_key does not match")),
            "{got:?}"
        );
    }

    #[test]
    fn tagrec_and_aws_tags_are_hidden_from_the_policy() {
        let Ok(p) = policy(STRICT) else {
            panic!("policy did not compile")
        };
        let tags = [
            ("Owner", "a"),
            ("Environment", "Staging"),
            ("aws:cloudformation:stack-name", "x"),
            ("tagrec:protect", "true"),
            ("ManagedBy", "team"),
        ];
        assert!(messages(&p, &tags, Some("team")).is_empty());
    }

    #[test]
    fn without_an_owner_managed_by_is_an_ordinary_tag_the_policy_sees() {
        // A closed set of keys: ManagedBy is outside it, so the policy refuses it when it sees it.
        let closed = "type: object\nproperties:\n  tags:\n    type: object\n    additionalProperties: false\n    properties:\n      Owner: {type: string}\n";
        let Ok(p) = policy(closed) else {
            panic!("policy did not compile")
        };
        let tags = [("Owner", "a"), ("ManagedBy", "team")];
        assert!(
            messages(&p, &tags, Some("team")).is_empty(),
            "hidden: owner set"
        );
        assert_eq!(
            messages(&p, &tags, None),
            ["tag ManagedBy is not allowed by the policy"],
            "seen: no owner"
        );
    }

    #[test]
    fn an_invalid_schema_is_refused_at_its_place() {
        let Err(errors) = policy("type: object\nproperties:\n  name:\n    type: 12\n") else {
            panic!("an invalid schema compiled")
        };
        assert_eq!(errors[0].rule, Rule::PolicyFile);
        assert_eq!(errors[0].place.as_ref().map(|p| p.line), Some(4));
    }

    #[test]
    fn the_tag_keys_a_policy_names_are_known() {
        let Ok(p) = policy(&format!(
            "{STRICT}allOf:\n  - then: {{properties: {{tags: {{required: [DataClassification]}}}}}}\n"
        )) else {
            panic!("policy did not compile")
        };
        assert_eq!(p.tag_keys(), ["DataClassification", "Environment", "Owner"]);
    }

    #[test]
    fn a_remote_ref_is_refused() {
        let Err(errors) = policy("$ref: 'https://example.com/schema.json'\n") else {
            panic!("a remote $ref compiled")
        };
        assert!(
            errors[0].message.contains("refused"),
            "{}",
            errors[0].message
        );
    }
}
