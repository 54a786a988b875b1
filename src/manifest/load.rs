//! The Loader: a YAML tree to a `Manifest`, checking every rule of `product.md` on the way and
//! collecting every problem (not only the first), each at the node that causes it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{
    Billing, DesiredProject, DesiredTag, Manifest, SandboxTarget, TagPatterns, TagSource, Target,
};
use crate::diagnostics::{Diagnostic, Rule};
use crate::rules::{
    DEFAULT_PROJECT_ID, MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_TAGS, MAX_VALUE_CHARS, OWNER_TAG,
    PROTECT_TAG, PROTECT_VALUE, is_aws_key, is_project_id,
};
use crate::source::SourceText;
use crate::source::yaml::{Node, Span, Style, Value};

const TOP_KEYS: &[&str] = &[
    "version",
    "target",
    "policy",
    "owner",
    "prune",
    "ignore_tags",
    "billing",
    "defaults",
    "projects",
];
const TARGET_KEYS: &[&str] = &[
    "region",
    "endpoint",
    "sandbox",
    "profile",
    "role_arn",
    "external_id",
];
const SANDBOX_KEYS: &[&str] = &[
    "state",
    "seed",
    "costs",
    "active_cost_tags",
    "linked_account",
];
const BILLING_KEYS: &[&str] = &["profile", "role_arn"];
const DEFAULTS_KEYS: &[&str] = &["tags"];
const PROJECT_KEYS: &[&str] = &["name", "id", "protect", "tags"];

/// Where a tag was written: its key and its value.
#[derive(Debug, Clone, Copy)]
pub struct TagPlace {
    pub key: Span,
    pub value: Span,
}

/// The places of one desired project, handed to the policy checker with the project.
#[derive(Debug, Clone, Default)]
pub struct ProjectPlaces {
    /// The `name:` value, or the project's first line when it has no name.
    pub name: Span,
    /// The `tags:` key, when the project has one.
    pub tags: Option<Span>,
    pub own: BTreeMap<String, TagPlace>,
    /// Tags written but refused (a null value, a reserved key…): the policy must not also call
    /// them missing.
    pub rejected: Vec<String>,
    /// `tags:` was not a mapping: the policy is not checked on such a project at all.
    pub broken_tags: bool,
}

/// What the policy checker needs to place a violation; kept apart from `Manifest` so that the
/// desired-state types stay plain values for the planner.
#[derive(Debug, Clone, Default)]
pub struct ManifestPlaces {
    pub defaults: BTreeMap<String, TagPlace>,
    pub policy: Option<Span>,
}

/// The manifest without its projects yet, and the `projects:` node still to read. Reading is
/// in two steps so that the policy can be loaded in between and each project checked as soon
/// as it is read, its part of the tree freed right away (a 100,000-project tree is most of
/// the memory).
pub struct Header<'t> {
    pub manifest: Manifest,
    pub places: ManifestPlaces,
    pub projects: Option<Node<'t>>,
}

/// Reads everything but the projects. Diagnostics are appended to `out`; the header is returned
/// even when some were found, with the broken parts left out, so that the rest is still checked.
pub fn header<'t>(
    root: Node<'t>,
    source: &SourceText,
    file: &Path,
    out: &mut Vec<Diagnostic>,
) -> Option<Header<'t>> {
    let mut loader = Loader { source, out };
    loader.manifest(root, file)
}

/// Reads the projects into `manifest.projects`, consuming their tree, and calls `each` on every
/// project read (with its places, and the diagnostics list) before its places are dropped.
/// `tag_keys` are keys known to be tags (the policy's): one written at project level is taken
/// for a tag that missed its `tags:`.
pub fn projects(
    node: Node<'_>,
    manifest: &mut Manifest,
    source: &SourceText,
    out: &mut Vec<Diagnostic>,
    tag_keys: &[String],
    each: &mut dyn FnMut(&DesiredProject, &ProjectPlaces, &mut Vec<Diagnostic>),
) {
    let mut loader = Loader { source, out };
    loader.projects(node, manifest, tag_keys, each);
}

struct Loader<'a> {
    source: &'a SourceText,
    out: &'a mut Vec<Diagnostic>,
}

fn base_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The valid key closest to a misspelt one, if any is close enough to be a likely typo.
pub fn nearest<'k>(key: &str, valid: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_lowercase();
    valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(&lower, v), *v))
        .filter(|(d, v)| *d <= (v.len() / 3).max(2))
        .min()
        .map(|(_, v)| v)
}

impl Loader<'_> {
    fn report(&mut self, rule: Rule, span: Span, message: String, help: Option<String>) {
        let mut d = Diagnostic::error(rule, message).at(self.source.place(span));
        d.help = help;
        self.out.push(d);
    }

    fn report_in(
        &mut self,
        project: &str,
        rule: Rule,
        span: Span,
        message: String,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::error(rule, message)
            .at(self.source.place(span))
            .project(project);
        d.help = help;
        self.out.push(d);
    }

    /// The entries of a mapping, with unknown keys reported; None (reported) if not a mapping.
    fn mapping<'n, 't>(
        &mut self,
        node: &'n Node<'t>,
        what: &str,
        valid: &[&str],
    ) -> Option<Vec<(&'n str, &'n Node<'t>, &'n Node<'t>)>> {
        self.mapping_with(node, what, valid, &|_| None)
    }

    /// `mapping`, with `hint` consulted first on an unknown key for a help that knows more than
    /// the nearest valid key.
    fn mapping_with<'n, 't>(
        &mut self,
        node: &'n Node<'t>,
        what: &str,
        valid: &[&str],
        hint: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Vec<(&'n str, &'n Node<'t>, &'n Node<'t>)>> {
        let Some(entries) = node.as_map() else {
            self.report(
                Rule::Type,
                node.span,
                format!("{what} must be a mapping, not {}", node.kind_name()),
                Some(format!(
                    "write it as `key: value` lines ({})",
                    valid.join(", ")
                )),
            );
            return None;
        };
        let mut known = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let text = key.key_text();
            if valid.contains(&text) {
                known.push((text, key, value));
                continue;
            }
            let help = match (hint(text), nearest(text, valid)) {
                (Some(hint), _) => hint,
                (None, Some(near)) => format!("did you mean `{near}`?"),
                (None, None) => format!("the keys of {what} are: {}", valid.join(", ")),
            };
            self.report(
                Rule::UnknownKey,
                key.span,
                format!("unknown key `{text}` in {what}"),
                Some(help),
            );
        }
        Some(known)
    }

    /// A text value (any non-null scalar, as written).
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text.to_string()),
            _ => {
                self.report(
                    Rule::Type,
                    node.span,
                    format!("{what} must be text, not {}", node.kind_name()),
                    None,
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        if let Value::Scalar {
            text,
            style: Style::Plain,
        } = &node.value
        {
            match text.as_ref() {
                "true" | "True" | "TRUE" => return Some(true),
                "false" | "False" | "FALSE" => return Some(false),
                _ => {}
            }
        }
        let shown = match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => format!("`{text}`"),
            _ => node.kind_name().to_string(),
        };
        self.report(
            Rule::Type,
            node.span,
            format!("{what} must be true or false, not {shown}"),
            Some(format!("write `{what}: true` or `{what}: false`")),
        );
        None
    }

    fn manifest<'t>(&mut self, mut root: Node<'t>, file: &Path) -> Option<Header<'t>> {
        let projects_node = match &mut root.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.key_text() == "projects")
                .map(|(_, v)| std::mem::take(v)),
            _ => None,
        };
        let root = &root;
        let entries = self.mapping(root, "the manifest", TOP_KEYS)?;
        let dir = base_dir(file);
        let mut manifest = Manifest::empty(file.to_path_buf(), Target::default());
        let mut places = ManifestPlaces::default();
        for &(key, _, value) in &entries {
            match key {
                "version" => manifest.version = self.version(value).unwrap_or(1),
                "target" => manifest.target = self.target(value, &dir),
                "policy" => {
                    if let Some(p) = self.text(value, "policy") {
                        manifest.policy = Some(dir.join(p));
                        places.policy = Some(value.span);
                    }
                }
                "owner" => {
                    if let Some(owner) = self.text(value, "owner") {
                        if owner.trim().is_empty() || owner.chars().count() > MAX_VALUE_CHARS {
                            self.report(
                                Rule::TagLimit,
                                value.span,
                                format!("owner must be 1 to {MAX_VALUE_CHARS} characters (it is the value of tag {OWNER_TAG})"),
                                None,
                            );
                        } else {
                            manifest.owner = Some(owner);
                        }
                    }
                }
                "prune" => manifest.prune = self.boolean(value, "prune").unwrap_or(false),
                "ignore_tags" => manifest.ignore_tags = self.ignore_tags(value),
                "billing" => manifest.billing = self.billing(value),
                "defaults" => {
                    // `defaults: {Environment: Production}`: the tags miss their `tags:`.
                    let hint = |key: &str| misplaced_tag(key, value, &[], &BTreeMap::new());
                    if let Some(entries) =
                        self.mapping_with(value, "defaults", DEFAULTS_KEYS, &hint)
                    {
                        for (_, _, tags) in entries {
                            let written = self.tags(tags, None);
                            manifest.defaults = written.values;
                            places.defaults = written.places;
                        }
                    }
                }
                _ => {}
            }
        }
        if !entries.iter().any(|(k, _, _)| *k == "version") {
            self.report(
                Rule::Version,
                first_line(root),
                "the manifest has no `version`".to_string(),
                Some("start the file with `version: 1`".to_string()),
            );
        }
        if projects_node.is_none() {
            self.report(
                Rule::Type,
                first_line(root),
                "the manifest has no `projects` list".to_string(),
                Some(
                    "add `projects:` with one `- name: …` entry per project (or `projects: []`)"
                        .to_string(),
                ),
            );
        }
        Some(Header {
            manifest,
            places,
            projects: projects_node,
        })
    }

    fn version(&mut self, node: &Node) -> Option<u32> {
        if let Value::Scalar {
            text,
            style: Style::Plain,
        } = &node.value
            && text == "1"
        {
            return Some(1);
        }
        let shown = match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => format!("`{text}`"),
            _ => node.kind_name().to_string(),
        };
        self.report(
            Rule::Version,
            node.span,
            format!("unsupported manifest version {shown}"),
            Some("this tagrec reads `version: 1`; upgrade tagrec for newer manifests".to_string()),
        );
        None
    }

    fn target(&mut self, node: &Node, dir: &Path) -> Target {
        let mut target = Target::default();
        let Some(entries) = self.mapping(node, "target", TARGET_KEYS) else {
            return target;
        };
        let mut external_id_at = None;
        let mut role_given = false;
        for (key, _, value) in entries {
            match key {
                "region" => target.region = self.text(value, "target.region"),
                "profile" => target.profile = self.text(value, "target.profile"),
                "external_id" => {
                    target.external_id = self.text(value, "target.external_id");
                    external_id_at = Some(value.span);
                }
                "role_arn" => {
                    role_given = true;
                    let Some(arn) = self.text(value, "target.role_arn") else {
                        continue;
                    };
                    if is_role_arn(&arn) {
                        target.role_arn = Some(arn);
                    } else {
                        self.report(
                            Rule::Type,
                            value.span,
                            format!("target.role_arn `{arn}` is not the ARN of an IAM role"),
                            Some("write it as arn:aws:iam::123456789012:role/NAME".to_string()),
                        );
                    }
                }
                "endpoint" => {
                    if let Some(endpoint) = self.text(value, "target.endpoint") {
                        match url::Url::parse(&endpoint) {
                            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                                target.endpoint = Some(endpoint);
                            }
                            _ => self.report(
                                Rule::Type,
                                value.span,
                                format!("target.endpoint `{endpoint}` is not an http(s) URL"),
                                Some("write the API's base URL, e.g. https://bedrock-mantle.us-east-1.api.aws/v1".to_string()),
                            ),
                        }
                    }
                }
                "sandbox" => {
                    let Some(entries) = self.mapping(value, "target.sandbox", SANDBOX_KEYS) else {
                        continue;
                    };
                    let mut state = None;
                    let mut seed = None;
                    let mut costs = None;
                    let mut active_cost_tags = Vec::new();
                    let mut linked_account = false;
                    for (key, _, value) in entries {
                        let what = format!("target.sandbox.{key}");
                        match key {
                            "active_cost_tags" => active_cost_tags = self.strings(value, &what),
                            "linked_account" => {
                                linked_account = self.boolean(value, &what).unwrap_or(false);
                            }
                            _ => {
                                let path = self.text(value, &what).map(|p| dir.join(p));
                                match key {
                                    "state" => state = path,
                                    "seed" => seed = path,
                                    _ => costs = path,
                                }
                            }
                        }
                    }
                    match state {
                        Some(state) => {
                            target.sandbox = Some(SandboxTarget {
                                state,
                                seed,
                                costs,
                                active_cost_tags,
                                linked_account,
                            });
                        }
                        None => self.report(
                            Rule::Type,
                            value.span,
                            "target.sandbox has no `state` file".to_string(),
                            Some("add `state: .tagrec/sandbox.json`".to_string()),
                        ),
                    }
                }
                _ => {}
            }
        }
        if let (Some(span), false) = (external_id_at, role_given) {
            self.report(
                Rule::Type,
                span,
                "target.external_id is sent only when a role is assumed".to_string(),
                Some("add `target.role_arn`, or remove `external_id`".to_string()),
            );
        }
        target
    }

    fn ignore_tags(&mut self, node: &Node) -> TagPatterns {
        TagPatterns(self.strings(node, "ignore_tags"))
    }

    /// A list of strings (`[a, b]` or one `- item` a line); what is not one is reported.
    fn strings(&mut self, node: &Node, what: &str) -> Vec<String> {
        let Value::Seq(items) = &node.value else {
            self.report(
                Rule::Type,
                node.span,
                format!("{what} must be a list, not {}", node.kind_name()),
                Some(format!("write `{what}: [\"…\"]`")),
            );
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.text(item, &format!("an entry of {what}")))
            .collect()
    }

    /// `billing:`: whose credentials the payer account's Cost Explorer is called with.
    fn billing(&mut self, node: &Node) -> Billing {
        let mut billing = Billing::default();
        let Some(entries) = self.mapping(node, "billing", BILLING_KEYS) else {
            return billing;
        };
        for (key, _, value) in entries {
            match key {
                "profile" => billing.profile = self.text(value, "billing.profile"),
                _ => {
                    let Some(arn) = self.text(value, "billing.role_arn") else {
                        continue;
                    };
                    if is_role_arn(&arn) {
                        billing.role_arn = Some(arn);
                    } else {
                        self.report(
                            Rule::Type,
                            value.span,
                            format!("billing.role_arn `{arn}` is not the ARN of an IAM role"),
                            Some("write it as arn:aws:iam::123456789012:role/NAME".to_string()),
                        );
                    }
                }
            }
        }
        billing
    }

    /// A `tags:` mapping: every key and value checked; what is valid is returned.
    fn tags(&mut self, node: &Node, project: Option<(&str, bool)>) -> Written {
        let mut written = Written::default();
        let values = &mut written.values;
        let places = &mut written.places;
        let name = project.map(|(n, _)| n.to_string());
        let owner_set = project.is_some_and(|(_, owner)| owner);
        let Some(entries) = node.as_map() else {
            let message = format!(
                "tags must be a mapping of key: value, not {}",
                node.kind_name()
            );
            let help = Some("write each tag as `Key: value` under `tags:`".to_string());
            self.tag_report(name.as_deref(), Rule::Type, node.span, message, help);
            written.broken = true;
            return written;
        };
        for (key, value) in entries {
            let k = key.key_text();
            let key_chars = k.chars().count();
            if key.is_null() || key_chars == 0 {
                self.tag_report(
                    name.as_deref(),
                    Rule::TagLimit,
                    key.span,
                    "a tag key is empty".to_string(),
                    Some("tag keys are 1 to 128 characters".to_string()),
                );
                continue;
            }
            if key_chars > MAX_KEY_CHARS {
                self.tag_report(
                    name.as_deref(),
                    Rule::TagLimit,
                    key.span,
                    format!(
                        "tag key `{}` is {key_chars} characters; the limit is {MAX_KEY_CHARS}",
                        shorten(k)
                    ),
                    Some("shorten the key".to_string()),
                );
                continue;
            }
            if is_aws_key(k) {
                self.tag_report(
                    name.as_deref(),
                    Rule::ReservedKey,
                    key.span,
                    format!("tag key `{k}` starts with `aws:`, which AWS reserves"),
                    Some("remove it: tagrec never sets or removes `aws:` tags".to_string()),
                );
                continue;
            }
            if k == PROTECT_TAG {
                self.tag_report(
                    name.as_deref(),
                    Rule::ReservedKey,
                    key.span,
                    format!("tag `{PROTECT_TAG}` is tagrec's own"),
                    Some("write `protect: true` on the project instead".to_string()),
                );
                continue;
            }
            if k == OWNER_TAG && owner_set {
                self.tag_report(
                    name.as_deref(),
                    Rule::ReservedKey,
                    key.span,
                    format!("tag `{OWNER_TAG}` is set from `owner` in this manifest"),
                    Some(format!(
                        "remove it, or remove `owner` to manage {OWNER_TAG} by hand"
                    )),
                );
                continue;
            }
            let text = match &value.value {
                Value::Scalar { text, .. } if !value.is_null() => text,
                Value::Scalar { text, .. } => {
                    let help = if text.is_empty() {
                        format!("give a value, or write `{k}: \"\"` for an empty one")
                    } else {
                        format!("quote it (`{k}: \"{text}\"`) if the text is meant")
                    };
                    self.tag_report(
                        name.as_deref(),
                        Rule::Type,
                        value.span,
                        format!("tag `{k}` has no value (YAML reads it as null)"),
                        Some(help),
                    );
                    continue;
                }
                _ => {
                    self.tag_report(
                        name.as_deref(),
                        Rule::Type,
                        value.span,
                        format!("tag `{k}` must be text, not {}", value.kind_name()),
                        Some("tag values are strings; quote the text".to_string()),
                    );
                    continue;
                }
            };
            let value_chars = text.chars().count();
            if value_chars > MAX_VALUE_CHARS {
                self.tag_report(
                    name.as_deref(),
                    Rule::TagLimit,
                    value.span,
                    format!(
                        "the value of tag `{k}` is {value_chars} characters; the limit is {MAX_VALUE_CHARS}"
                    ),
                    Some("shorten the value".to_string()),
                );
                continue;
            }
            values.insert(k.to_string(), text.to_string());
            places.insert(
                k.to_string(),
                TagPlace {
                    key: key.span,
                    value: value.span,
                },
            );
        }
        // Written but refused: every key of the mapping that did not make it into the values.
        written.rejected = entries
            .iter()
            .map(|(k, _)| k.key_text())
            .filter(|k| !written.values.contains_key(*k))
            .map(str::to_string)
            .collect();
        written
    }

    fn tag_report(
        &mut self,
        project: Option<&str>,
        rule: Rule,
        span: Span,
        message: String,
        help: Option<String>,
    ) {
        match project {
            Some(p) => self.report_in(p, rule, span, message, help),
            None => self.report(rule, span, format!("in defaults: {message}"), help),
        }
    }

    fn projects(
        &mut self,
        node: Node<'_>,
        manifest: &mut Manifest,
        tag_keys: &[String],
        each: &mut dyn FnMut(&DesiredProject, &ProjectPlaces, &mut Vec<Diagnostic>),
    ) {
        let (span, kind) = (node.span, node.kind_name());
        let Value::Seq(items) = node.value else {
            self.report(
                Rule::Type,
                span,
                format!("projects must be a list, not {kind}"),
                Some("write one `- name: …` entry per project".to_string()),
            );
            return;
        };
        // Owned keys: the tree of a project is freed once it is read.
        let mut names: HashMap<String, NameSeen> = HashMap::with_capacity(items.len());
        let mut ids: HashMap<String, Span> = HashMap::new();
        manifest.projects.reserve_exact(items.len());
        for item in items.into_vec() {
            let item = &item;
            let hint = |key: &str| misplaced_tag(key, item, tag_keys, &manifest.defaults);
            let Some(entries) = self.mapping_with(item, "a project", PROJECT_KEYS, &hint) else {
                continue;
            };
            let find = |k: &str| entries.iter().find(|(key, _, _)| *key == k).map(|e| e.2);
            let Some(name_node) = find("name") else {
                self.report(
                    Rule::Type,
                    first_line(item),
                    "this project has no `name`".to_string(),
                    Some("add `name: …` (1 to 128 characters)".to_string()),
                );
                continue;
            };
            let Some(name) = self.text(name_node, "name") else {
                continue;
            };
            let name_ok = self.name(&name, name_node.span);
            let mut ok = name_ok;
            let mut id = None;
            if let Some(id_node) = find("id")
                && let Some(text) = self.text(id_node, "id")
            {
                if !is_project_id(&text) {
                    self.report_in(
                        &name,
                        Rule::Type,
                        id_node.span,
                        format!("`{text}` is not a project id"),
                        Some("an id is `proj_` followed by lowercase letters and digits, as `tagrec import` writes it".to_string()),
                    );
                    ok = false;
                } else if let Some(first) = ids.get(text.as_str()) {
                    self.report_in(
                        &name,
                        Rule::DuplicateProject,
                        id_node.span,
                        format!(
                            "two projects pin id `{text}` (the first at line {})",
                            first.start.line
                        ),
                        Some("one live project can match only one entry: remove one".to_string()),
                    );
                    ok = false;
                } else {
                    ids.insert(text.clone(), id_node.span);
                    id = Some(text);
                }
            }
            // An `id:` written but refused still says the entry means to be pinned: its name is
            // then judged as a pinned one's, so that one mistake is not reported twice.
            let pinned = find("id").is_some();
            if name_ok && !self.name_is_free(&mut names, &name, name_node.span, pinned) {
                ok = false;
            }
            // Absent is not `false`: without `protect:` the live tag is left as it is.
            let protect = find("protect").and_then(|node| self.boolean(node, "protect"));
            let tags_entry = entries.iter().find(|(k, _, _)| *k == "tags");
            let written = match tags_entry {
                Some((_, _, tags)) => self.tags(tags, Some((&name, manifest.owner.is_some()))),
                None => Written::default(),
            };
            let mut tags: BTreeMap<String, DesiredTag> = manifest
                .defaults
                .iter()
                .filter(|(k, _)| !(manifest.owner.is_some() && k.as_str() == OWNER_TAG))
                .map(|(k, v)| (k.clone(), tag(v, TagSource::Defaults)))
                .collect();
            for (k, v) in written.values {
                tags.insert(k, tag(&v, TagSource::Project));
            }
            if let Some(owner) = &manifest.owner {
                tags.insert(OWNER_TAG.to_string(), tag(owner, TagSource::Owner));
            }
            if protect == Some(true) {
                tags.insert(
                    PROTECT_TAG.to_string(),
                    tag(PROTECT_VALUE, TagSource::Protect),
                );
            }
            let tags_key = tags_entry.map(|(_, key, _)| key.span);
            if tags.len() > MAX_TAGS {
                self.report_in(
                    &name,
                    Rule::TagLimit,
                    tags_key.unwrap_or(name_node.span),
                    format!(
                        "project `{name}` would carry {} tags (with defaults and tagrec's own); the limit is {MAX_TAGS}",
                        tags.len()
                    ),
                    Some("remove tags, or move some out of `defaults`".to_string()),
                );
            }
            if !ok {
                continue;
            }
            let project = DesiredProject {
                name,
                id,
                protect,
                tags,
                place: Some(self.source.place(name_node.span)),
            };
            let places = ProjectPlaces {
                name: name_node.span,
                tags: tags_key,
                own: written.places,
                rejected: written.rejected,
                broken_tags: written.broken,
            };
            each(&project, &places, self.out);
            manifest.projects.push(project);
        }
    }

    /// Whether `name` may be used by this entry: names repeat only between entries that each pin
    /// an `id:` (the API allows two projects with one name; an unpinned entry matches by name,
    /// so it must be the only entry with its name). Records the entry either way.
    fn name_is_free(
        &mut self,
        names: &mut HashMap<String, NameSeen>,
        name: &str,
        span: Span,
        pinned: bool,
    ) -> bool {
        let Some(seen) = names.get_mut(name) else {
            names.insert(
                name.to_string(),
                NameSeen {
                    first: span,
                    unpinned: (!pinned).then_some(span),
                },
            );
            return true;
        };
        let problem = match (seen.unpinned, pinned) {
            (None, true) => None,
            (Some(unpinned), true) => Some((
                format!(
                    "two projects are named `{name}`, and the one at line {} pins no `id:`",
                    unpinned.start.line
                ),
                "entries may share a name only when each pins its own `id:`: pin that one too, or rename one",
            )),
            (None, false) => Some((
                format!(
                    "two projects are named `{name}`, and this one pins no `id:` (the first at line {})",
                    seen.first.start.line
                ),
                "entries may share a name only when each pins its own `id:`: pin this one too, or rename one",
            )),
            (Some(_), false) => Some((
                format!(
                    "two projects are named `{name}` (the first at line {})",
                    seen.first.start.line
                ),
                "names must be unique unless each entry pins its own `id:`: rename one, or pin each with `id:`",
            )),
        };
        if !pinned && seen.unpinned.is_none() {
            seen.unpinned = Some(span);
        }
        match problem {
            None => true,
            Some((message, help)) => {
                self.report_in(
                    name,
                    Rule::DuplicateProject,
                    span,
                    message,
                    Some(help.to_string()),
                );
                false
            }
        }
    }

    fn name(&mut self, name: &str, span: Span) -> bool {
        let chars = name.chars().count();
        let problem = if name.trim().is_empty() {
            Some((
                "a project name is empty or blank".to_string(),
                "give the project a name",
            ))
        } else if chars > MAX_NAME_CHARS {
            Some((
                format!("project name is {chars} characters; the limit is {MAX_NAME_CHARS}"),
                "shorten the name",
            ))
        } else if name == DEFAULT_PROJECT_ID {
            Some((
                "`default` is the account's own default project, which cannot be managed"
                    .to_string(),
                "choose another name",
            ))
        } else {
            None
        };
        match problem {
            Some((message, help)) => {
                if name.trim().is_empty() {
                    self.report(Rule::Name, span, message, Some(help.to_string()));
                } else {
                    self.report_in(name, Rule::Name, span, message, Some(help.to_string()));
                }
                false
            }
            None => true,
        }
    }
}

/// The help for an unknown key of a project (or of `defaults`) that is probably a tag written
/// outside `tags:`: a key the policy or `defaults` names, or one that is not a near typo of a
/// project key and starts with a capital (tag keys are PascalCase; project keys are lowercase).
fn misplaced_tag(
    key: &str,
    project: &Node,
    tag_keys: &[String],
    defaults: &BTreeMap<String, String>,
) -> Option<String> {
    // Named as the policy or defaults spell it (`owner` is the policy's `Owner`).
    let known = tag_keys
        .iter()
        .map(String::as_str)
        .chain(defaults.keys().map(String::as_str))
        .find(|k| k.eq_ignore_ascii_case(key));
    let capital =
        key.chars().next().is_some_and(char::is_uppercase) && nearest(key, PROJECT_KEYS).is_none();
    let key = match known {
        Some(known) => known,
        None if capital => key,
        None => return None,
    };
    let tags = project
        .as_map()
        .and_then(|entries| entries.iter().find(|(k, _)| k.key_text() == "tags"));
    Some(match tags {
        // `tags: {A: b}` written on its line: the key goes inside the braces.
        Some((at, value))
            if value.as_map().is_some() && value.span.start.line == at.span.start.line =>
        {
            format!(
                "did you mean to put `{key}` under `tags:`? add it to the `tags:` mapping on line {}",
                at.span.start.line
            )
        }
        Some((at, _)) => format!(
            "did you mean to put `{key}` under `tags:`? indent it below `tags:` (line {})",
            at.span.start.line
        ),
        None => format!(
            "did you mean to put `{key}` under `tags:`? tags go in a `tags:` mapping: `tags: {{{key}: …}}`"
        ),
    })
}

/// The entries seen so far with one name: where the first is, and the first without `id:`.
struct NameSeen {
    first: Span,
    unpinned: Option<Span>,
}

/// What a `tags:` mapping held: the valid tags with their places, and the keys refused.
#[derive(Default)]
struct Written {
    values: BTreeMap<String, String>,
    places: BTreeMap<String, TagPlace>,
    rejected: Vec<String>,
    broken: bool,
}

fn tag(value: &str, source: TagSource) -> DesiredTag {
    DesiredTag {
        value: value.to_string(),
        source,
    }
}

/// A key too long to repeat whole in a message: its start, and an ellipsis.
fn shorten(text: &str) -> String {
    const KEEP: usize = 24;
    if text.chars().count() <= KEEP {
        return text.to_string();
    }
    let head: String = text.chars().take(KEEP).collect();
    format!("{head}…")
}

/// `arn:aws:iam::123456789012:role/NAME` (any partition, any path).
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()))
}

/// The first line of a node, for problems about a whole mapping.
fn first_line(node: &Node) -> Span {
    let mut span = node.span;
    if span.end.line != span.start.line || span.end.col <= span.start.col {
        span.end = span.start;
        span.end.col = span.start.col + 1;
    }
    if let Some(((key, _), _)) = node.as_map().and_then(|e| e.split_first()) {
        return key.span;
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The projects of a manifest text, and the messages of its problems with their lines.
    fn load(entries: &str) -> (Vec<DesiredProject>, Vec<(usize, usize, String)>) {
        let text = format!("version: 1\nprojects:\n{entries}");
        let source = SourceText::new("projects.yaml", text.clone());
        let (root, errors) = crate::source::yaml::parse(&text);
        assert!(errors.is_empty(), "{errors:?}");
        let mut out = Vec::new();
        let Some(root) = root else {
            panic!("no document")
        };
        let Some(header) = header(root, &source, Path::new("projects.yaml"), &mut out) else {
            panic!("no header: {out:?}")
        };
        let mut manifest = header.manifest;
        if let Some(node) = header.projects {
            projects(
                node,
                &mut manifest,
                &source,
                &mut out,
                &[],
                &mut |_, _, _| {},
            );
        }
        let problems = out
            .into_iter()
            .map(|d| {
                let place = d
                    .place
                    .unwrap_or_else(|| panic!("{} has no place", d.message));
                (place.line, place.column, d.message)
            })
            .collect();
        (manifest.projects, problems)
    }

    #[test]
    fn names_repeat_only_between_entries_that_each_pin_an_id() {
        let (projects, problems) =
            load("  - name: A\n    id: proj_a1\n  - name: A\n    id: proj_a2\n  - name: B\n");
        assert_eq!(problems, []);
        let pinned: Vec<_> = projects
            .iter()
            .map(|p| (p.name.as_str(), p.id.as_deref()))
            .collect();
        assert_eq!(
            pinned,
            [("A", Some("proj_a1")), ("A", Some("proj_a2")), ("B", None)]
        );
    }

    #[test]
    fn an_unpinned_entry_may_not_share_its_name() {
        let (_, problems) = load("  - name: A\n  - name: A\n");
        assert_eq!(
            problems,
            [(
                4,
                11,
                "two projects are named `A` (the first at line 3)".into()
            )]
        );
        // Unpinned first, pinned second: the pinned one is reported, naming the unpinned line.
        let (_, problems) = load("  - name: A\n  - name: A\n    id: proj_a1\n");
        assert_eq!(
            problems,
            [(
                4,
                11,
                "two projects are named `A`, and the one at line 3 pins no `id:`".into()
            )]
        );
        // Pinned first, unpinned second.
        let (_, problems) = load("  - name: A\n    id: proj_a1\n  - name: A\n");
        assert_eq!(
            problems,
            [(
                5,
                11,
                "two projects are named `A`, and this one pins no `id:` (the first at line 3)"
                    .into()
            )]
        );
        // Two pinned, then an unpinned one, then another pinned: both later ones are refused.
        let (projects, problems) = load(
            "  - name: A\n    id: proj_a1\n  - name: A\n    id: proj_a2\n  - name: A\n  - name: A\n    id: proj_a3\n",
        );
        let lines: Vec<usize> = problems.iter().map(|p| p.0).collect();
        assert_eq!(lines, [7, 8], "{problems:?}");
        assert_eq!(projects.len(), 2);
    }

    #[test]
    fn a_refused_id_still_counts_as_pinned_for_the_name() {
        let (_, problems) = load(
            "  - name: A\n    id: proj_a1\n  - name: A\n    id: NOT-AN-ID\n  - name: A\n    id: proj_a1\n",
        );
        let messages: Vec<&str> = problems.iter().map(|p| p.2.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`NOT-AN-ID` is not a project id",
                "two projects pin id `proj_a1` (the first at line 4)"
            ]
        );
    }

    #[test]
    fn protect_absent_true_and_false_are_three_things() {
        let (projects, problems) =
            load("  - name: A\n  - name: B\n    protect: true\n  - name: C\n    protect: false\n");
        assert_eq!(problems, []);
        let got: Vec<_> = projects
            .iter()
            .map(|p| (p.protect, p.tags.get(PROTECT_TAG).map(|t| t.value.as_str())))
            .collect();
        assert_eq!(
            got,
            [
                (None, None),
                (Some(true), Some("true")),
                (Some(false), None)
            ]
        );
    }

    #[test]
    fn typos_get_the_nearest_key() {
        assert_eq!(nearest("projcts", TOP_KEYS), Some("projects"));
        assert_eq!(nearest("Tags", PROJECT_KEYS), Some("tags"));
        assert_eq!(nearest("ignore-tags", TOP_KEYS), Some("ignore_tags"));
        assert_eq!(nearest("zzzzzzzz", TOP_KEYS), None);
    }
}
