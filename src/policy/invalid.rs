//! Why a policy is not a valid JSON Schema, in words that name the keyword and its valid choices:
//! `type: objekt` is "not a JSON Schema type: did you mean `object`?", not the meta-schema's
//! "is not valid under any of the schemas listed in the 'anyOf' keyword".

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, JsonType};
use serde_json::Value as Json;

use crate::source::yaml::{Node, Value, unescape_pointer};

/// The types `type` may name.
const TYPES: &[&str] = &[
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// What people write for a type in other languages, and the JSON Schema name for it.
const TYPE_ALIASES: &[(&str, &str)] = &[
    ("str", "string"),
    ("text", "string"),
    ("int", "integer"),
    ("long", "integer"),
    ("float", "number"),
    ("double", "number"),
    ("decimal", "number"),
    ("bool", "boolean"),
    ("dict", "object"),
    ("map", "object"),
    ("mapping", "object"),
    ("hash", "object"),
    ("list", "array"),
    ("seq", "array"),
    ("sequence", "array"),
    ("tuple", "array"),
    ("none", "null"),
    ("nil", "null"),
];

/// The drafts a policy's `$schema` may name (each also with `http:` and a trailing `#`).
pub const DRAFTS: &[&str] = &[
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema#",
    "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-04/schema#",
];

/// Keywords whose value is a schema of their own, under which the next segment of a pointer is
/// a name, not a keyword.
const NAMED_SCHEMAS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// A problem in the policy: the sentence, the help, and the node it is about.
#[derive(Debug, Clone)]
pub struct Problem<'n, 't> {
    pub message: String,
    pub help: String,
    pub node: &'n Node<'t>,
}

/// A `$schema` that names no draft tagrec knows, checked before compiling: the validator would
/// call it an unresolvable `$ref`.
pub fn unknown_draft<'n, 't>(root: &'n Node<'t>) -> Option<Problem<'n, 't>> {
    let node = root.pointer("/$schema")?;
    let Value::Scalar { text, .. } = &node.value else {
        return None;
    };
    if Draft::from_schema_uri(text) != Draft::Unknown {
        return None;
    }
    let nearest = DRAFTS
        .iter()
        .map(|d| {
            (
                strsim::levenshtein(text.trim_end_matches('#'), d.trim_end_matches('#')),
                *d,
            )
        })
        .min()
        .filter(|(distance, _)| *distance <= 6)
        .map(|(_, d)| d);
    let message = match nearest {
        Some(near) => {
            format!("`$schema: {text}` names no JSON Schema draft: did you mean `{near}`?")
        }
        None => format!("`$schema: {text}` names no JSON Schema draft"),
    };
    Some(Problem {
        message,
        help: format!(
            "`$schema` is one of: {} (or leave it out for draft 2020-12)",
            DRAFTS.join(", ")
        ),
        node,
    })
}

/// Every keyword of the drafts tagrec accepts (draft 4 to 2020-12).
const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$ref",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$vocabulary",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "format",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];

/// Keywords whose value is one schema.
const ONE_SCHEMA: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "additionalProperties",
    "additionalItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "contentSchema",
    "items",
];

/// Keywords whose value is a list of schemas.
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems", "items"];

/// Keys of the policy's schemas that are not keywords but nearly are: `requried`, `maxlength`,
/// `propertes`. JSON Schema ignores a keyword it does not know, so such a rule would silently never
/// be checked. A key that resembles no keyword is left alone (an annotation of the user's own),
/// as is any `x-` key.
pub fn misspelled_keywords<'n, 't>(root: &'n Node<'t>) -> Vec<Problem<'n, 't>> {
    fn schema<'n, 't>(node: &'n Node<'t>, out: &mut Vec<Problem<'n, 't>>) {
        let Some(entries) = node.as_map() else {
            return;
        };
        for (key, value) in entries {
            let name = key.key_text();
            if KEYWORDS.contains(&name) {
                if NAMED_SCHEMAS.contains(&name) || name == "dependencies" {
                    for (_, named) in value.as_map().unwrap_or_default() {
                        schema(named, out);
                    }
                }
                if ONE_SCHEMA.contains(&name) {
                    schema(value, out);
                }
                if SCHEMA_LISTS.contains(&name)
                    && let Value::Seq(items) = &value.value
                {
                    items.iter().for_each(|item| schema(item, out));
                }
            } else if let Some(meant) = keyword_for(name) {
                out.push(Problem {
                    message: format!(
                        "`{name}` is not a JSON Schema keyword: did you mean `{meant}`?"
                    ),
                    help: format!(
                        "a JSON Schema validator ignores keywords it does not know, so this rule would never be checked: write `{meant}` (or, for an annotation of your own, a name starting with `x-`)"
                    ),
                    node: key,
                });
            }
        }
    }
    let mut out = Vec::new();
    schema(root, &mut out);
    out
}

/// The keyword someone who wrote `written` meant: the same in another case, or one or two typos
/// away (one for short keywords).
fn keyword_for(written: &str) -> Option<&'static str> {
    if written.starts_with("x-") || written.chars().count() < 3 {
        return None;
    }
    let lower = written.to_lowercase();
    KEYWORDS
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= if k.len() <= 5 { 1 } else { 2 })
        .min()
        .map(|(_, k)| k)
}

/// The problem the meta-schema found at `pointer` in the policy, when it is one tagrec can put
/// in better words than the validator's.
/// `said` is the validator's own sentence, kept (after the keyword) when there is no better one.
pub fn describe<'n, 't>(
    root: &'n Node<'t>,
    pointer: &str,
    kind: &ValidationErrorKind,
    said: &str,
) -> Option<Problem<'n, 't>> {
    let segments: Vec<String> = pointer.split('/').skip(1).map(unescape_pointer).collect();
    if segments.is_empty()
        && let ValidationErrorKind::Type { .. } = kind
    {
        return Some(Problem {
            message: format!(
                "a policy is a JSON Schema, a mapping, not {}",
                shown(root)
            ),
            help: "start it with `type: object` and `properties: {tags: …}` (see policies/required-tags.yaml in tagrec's repository)".to_string(),
            node: root,
        });
    }
    // The keyword: the last segment that is not a list index.
    let (keyword_at, keyword) = segments
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| s.parse::<usize>().is_err())?;
    let keyword_pointer: String = segments[..=keyword_at]
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect();
    let value = root.pointer(&keyword_pointer)?;
    let node = root.pointer(pointer).unwrap_or(value);
    // A name under `properties` (or `$defs`...): its value is a schema, whatever the name.
    if let Some(parent) = keyword_at
        .checked_sub(1)
        .map(|at| segments[at].as_str())
        .filter(|p| NAMED_SCHEMAS.contains(p))
    {
        return Some(Problem {
            message: format!(
                "`{keyword}` under `{parent}` must be a schema (a mapping), true or false, not {}",
                shown(node)
            ),
            help: format!("write `{keyword}: {{type: string}}`, for example"),
            node,
        });
    }
    if keyword == "type" {
        return bad_type(value);
    }
    let message = match kind {
        ValidationErrorKind::Type { kind } => {
            format!(
                "`{keyword}` must be {}, not {}",
                expected(kind),
                shown(node)
            )
        }
        ValidationErrorKind::Format { format } if format == "regex" => {
            format!("`{keyword}`: {} is not a regular expression", shown(node))
        }
        _ => format!("`{keyword}`: {said}"),
    };
    Some(Problem {
        message,
        help: example(keyword),
        node,
    })
}

/// `type: objekt`, or `type: [string, objekt]`: the first name that is not a type.
fn bad_type<'n, 't>(value: &'n Node<'t>) -> Option<Problem<'n, 't>> {
    let help = format!("`type` is one of: {} (or a list of them)", TYPES.join(", "));
    let (node, written, in_list) = match &value.value {
        Value::Scalar { text, .. } => (value, text.to_string(), false),
        Value::Seq(items) => {
            let bad = items.iter().find(|item| match &item.value {
                Value::Scalar { text, .. } => !TYPES.contains(&text.as_ref()),
                _ => true,
            })?;
            let written = match &bad.value {
                Value::Scalar { text, .. } => text.to_string(),
                _ => {
                    return Some(Problem {
                        message: format!("`type` lists {}, not a type name", bad.kind_name()),
                        help,
                        node: bad,
                    });
                }
            };
            (bad, written, true)
        }
        _ => {
            return Some(Problem {
                message: format!(
                    "`type` must be a type name or a list of them, not {}",
                    value.kind_name()
                ),
                help,
                node: value,
            });
        }
    };
    let what = if in_list {
        format!("`{written}` in `type`")
    } else {
        format!("`type: {written}`")
    };
    let message = match type_for(&written) {
        Some(near) => format!("{what} is not a JSON Schema type: did you mean `{near}`?"),
        None => format!("{what} is not a JSON Schema type"),
    };
    Some(Problem {
        message,
        help,
        node,
    })
}

/// The type someone who wrote `written` meant: a type in another case, another language's name
/// for it, or a near typo.
fn type_for(written: &str) -> Option<&'static str> {
    let lower = written.to_lowercase();
    if let Some(t) = TYPES.iter().find(|t| **t == lower) {
        return Some(t);
    }
    if let Some((_, t)) = TYPE_ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Some(t);
    }
    if lower.len() >= 3
        && let Some(t) = TYPES.iter().find(|t| t.starts_with(&lower))
    {
        return Some(t);
    }
    TYPES
        .iter()
        .map(|t| (strsim::damerau_levenshtein(&lower, t), *t))
        .filter(|(d, t)| *d <= (t.len() / 3).max(2))
        .min()
        .map(|(_, t)| t)
}

/// "a list", "true, false or a schema (a mapping)"...
fn expected(kind: &TypeKind) -> String {
    let types: Vec<JsonType> = match kind {
        TypeKind::Single(t) => vec![*t],
        TypeKind::Multiple(set) => set.iter().collect(),
    };
    let words: Vec<&str> = types
        .iter()
        .map(|t| match t {
            JsonType::Array => "a list",
            JsonType::Boolean => "true, false",
            JsonType::Integer => "a whole number",
            JsonType::Number => "a number",
            JsonType::Null => "null",
            JsonType::Object => "a schema (a mapping)",
            JsonType::String => "text",
        })
        .collect();
    match words.split_last() {
        Some((last, [])) if *last == "true, false" => "true or false".to_string(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "something else".to_string(),
    }
}

/// How a value reads in a message: "the text `yes`", "a list"...
fn shown(node: &Node) -> String {
    match &node.value {
        Value::Scalar { .. } => match node.to_json() {
            Json::String(s) => format!("the text `{s}`"),
            Json::Null => "null".to_string(),
            other => format!("`{other}`"),
        },
        _ => node.kind_name().to_string(),
    }
}

fn example(keyword: &str) -> String {
    match keyword {
        "required" => "write `required: [Owner, Team]`".to_string(),
        "enum" => "write `enum: [Production, Staging]`".to_string(),
        "additionalProperties" | "unevaluatedProperties" => format!(
            "write `{keyword}: false` to refuse other keys, or a schema they must match (YAML reads only true and false as booleans, not yes or no)"
        ),
        "pattern" => {
            "check its brackets and escapes, and quote it in YAML: `pattern: '^CC-[0-9]{4}$'`"
                .to_string()
        }
        "uniqueItems" => {
            "write `uniqueItems: true` (YAML reads only true and false as booleans, not yes or no)"
                .to_string()
        }
        _ => format!(
            "see `{keyword}` in https://json-schema.org/understanding-json-schema/reference"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_found_through_case_aliases_and_typos() {
        assert_eq!(type_for("objekt"), Some("object"));
        assert_eq!(type_for("Object"), Some("object"));
        assert_eq!(type_for("str"), Some("string"));
        assert_eq!(type_for("int"), Some("integer"));
        assert_eq!(type_for("strng"), Some("string"));
        assert_eq!(type_for("Obj"), Some("object"));
        assert_eq!(type_for("whatever"), None);
    }

    #[test]
    fn keywords_are_found_through_case_and_typos_and_annotations_are_left_alone() {
        assert_eq!(keyword_for("requried"), Some("required"));
        assert_eq!(keyword_for("require"), Some("required"));
        assert_eq!(keyword_for("maxlength"), Some("maxLength"));
        assert_eq!(keyword_for("propertes"), Some("properties"));
        assert_eq!(
            keyword_for("additonalProperties"),
            Some("additionalProperties")
        );
        assert_eq!(keyword_for("Enum"), Some("enum"));
        assert_eq!(keyword_for("x-requried"), None);
        assert_eq!(keyword_for("owner"), None);
        assert_eq!(keyword_for("errorMessage"), None);
        assert_eq!(keyword_for("Team"), None);
        assert_eq!(keyword_for("name"), None);
    }

    fn problems(yaml: &str) -> Vec<String> {
        let (root, errors) = crate::source::yaml::parse(yaml);
        assert!(errors.is_empty());
        let root = root.unwrap();
        misspelled_keywords(&root)
            .into_iter()
            .map(|p| format!("{}:{}", p.node.span.start.line, p.message))
            .collect()
    }

    #[test]
    fn misspelled_keywords_are_found_in_every_schema_and_names_are_not_keywords() {
        let found = problems(
            "type: object\nrequried: [tags]\nproperties:\n  tags:\n    type: object\n    properties:\n      requried: {type: string}\n      Team: {enmu: [a, b]}\n    allOf:\n      - {minLenght: 1}\n    required: [Team]\n",
        );
        assert_eq!(
            found,
            [
                "2:`requried` is not a JSON Schema keyword: did you mean `required`?",
                "8:`enmu` is not a JSON Schema keyword: did you mean `enum`?",
                "10:`minLenght` is not a JSON Schema keyword: did you mean `minLength`?",
            ]
        );
        assert!(problems("enum: [{requried: 1}]\ndefault: {propertes: 2}\n").is_empty());
    }
}
