//! `check`: what `validate` and every command that reads a manifest run first. Reads the manifest
//! and its policy, applies every rule, evaluates the policy on every desired project, and collects
//! all the diagnostics, each placed where the user has to make the fix.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::diagnostics::{Diagnostic, Rule};
use crate::manifest::load::{self, ManifestPlaces, ProjectPlaces};
use crate::manifest::{DesiredProject, Manifest, TagSource};
use crate::policy::{self, Policy, Violation, ViolationKind};
use crate::source::yaml;
use crate::source::{SourceText, Sources};

pub struct Checked {
    /// Some when the manifest itself is sound (policy violations alone leave it Some: callers
    /// decide what they mean).
    pub manifest: Option<Manifest>,
    pub policy: Option<Policy>,
    /// Sorted by file, then position.
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

impl Checked {
    pub fn error_count(&self) -> usize {
        self.diagnostics.len()
    }

    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }
}

/// A manifest that passed every check, and its compiled policy: what every command that acts on
/// an account starts from.
pub struct Loaded {
    pub manifest: Manifest,
    pub policy: Option<Policy>,
}

/// Checks the manifest; `Err` holds the problems (a desired project that breaks the policy among
/// them: nothing is planned from a manifest that does not pass `validate`).
pub fn load(path: &Path) -> Result<Loaded, Box<Checked>> {
    let mut checked = check(path);
    match checked.manifest.take() {
        Some(manifest) if !checked.has_errors() => Ok(Loaded {
            manifest,
            policy: checked.policy,
        }),
        _ => Err(Box::new(checked)),
    }
}

pub fn check(path: &Path) -> Checked {
    let mut checked = Checked {
        manifest: None,
        policy: None,
        diagnostics: Vec::new(),
        sources: Sources::default(),
    };
    let name = path.display().to_string();
    let Some(source) = read(path, &name, &mut checked.diagnostics) else {
        return checked;
    };
    let (root, errors) = yaml::parse(&source.text);
    for error in errors {
        let mut d = Diagnostic::error(error.rule, error.message).at(source.place(error.span));
        d.help = error.help;
        checked.diagnostics.push(d);
    }
    let root = match root {
        Some(root) if !root.is_null() => root,
        Some(_) | None => {
            if checked.diagnostics.is_empty() {
                checked.diagnostics.push(
                    Diagnostic::error(Rule::File, format!("{name} is empty"))
                        .at(source.place_at_byte(0))
                        .help("a manifest starts with `version: 1` and lists `projects:`"),
                );
            }
            checked.sources.insert(name, source.text);
            return checked;
        }
    };
    if let Some(header) = load::header(root, &source, path, &mut checked.diagnostics) {
        let load::Header {
            mut manifest,
            places,
            projects,
        } = header;
        if let Some(policy_path) = manifest.policy.take() {
            let policy_path = normalize(&policy_path);
            manifest.policy = Some(policy_path.clone());
            let (result, policy_source) = Policy::load_with_source(&policy_path);
            match result {
                Ok(policy) => checked.policy = Some(policy),
                Err(errors) => {
                    for mut d in errors {
                        // An unreadable policy is shown where the manifest names it.
                        if d.place.is_none()
                            && let Some(span) = places.policy
                        {
                            d.place = Some(source.place(span));
                        }
                        checked.diagnostics.push(d);
                    }
                }
            }
            if let Some(policy_source) = policy_source {
                checked
                    .sources
                    .insert(policy_source.name, policy_source.text);
            }
        }
        if let Some(projects) = projects {
            let policy = checked.policy.as_ref();
            let owner_set = manifest.owner.is_some();
            let mut each =
                |project: &DesiredProject, own: &ProjectPlaces, out: &mut Vec<Diagnostic>| {
                    if let Some(policy) = policy {
                        evaluate(policy, owner_set, project, own, &places, &source, out);
                    }
                };
            let tag_keys = policy.map(Policy::tag_keys).unwrap_or_default();
            load::projects(
                projects,
                &mut manifest,
                &source,
                &mut checked.diagnostics,
                tag_keys,
                &mut each,
            );
        }
        if checked.diagnostics.iter().all(|d| d.rule == Rule::Policy) {
            checked.manifest = Some(manifest);
        }
    }
    checked.sources.insert(name.clone(), source.text);
    // The manifest's own problems first, then the policy file's; each in the order of the text.
    checked.diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            d.place
                .as_ref()
                .map(|p| (p.file != name, p.file.clone(), p.start, p.end))
        };
        key(a).cmp(&key(b))
    });
    checked
}

fn read(path: &Path, name: &str, out: &mut Vec<Diagnostic>) -> Option<SourceText> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            out.push(not_found(path, name));
            return None;
        }
        Err(error) => {
            out.push(
                Diagnostic::error(
                    Rule::File,
                    format!("cannot read the manifest {name}: {error}"),
                )
                .help("check the file's permissions"),
            );
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(SourceText::new(name, text)),
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            let source =
                SourceText::new(name, String::from_utf8_lossy(error.as_bytes()).into_owned());
            out.push(
                Diagnostic::error(
                    Rule::File,
                    format!("{name} is not UTF-8 text (bad byte at offset {at})"),
                )
                .at(source.place_at_byte(at))
                .help("save the manifest as UTF-8"),
            );
            None
        }
    }
}

/// A manifest that is not there: the manifests that are, below the nearest folder of its path
/// that exists, when there are; those with the same file name first.
fn not_found(path: &Path, name: &str) -> Diagnostic {
    const SHOWN: usize = 5;
    if name.is_empty() {
        return Diagnostic::error(Rule::File, "-f names no file (an empty path)")
            .help("give the manifest's path, e.g. `-f projects.yaml`");
    }
    if name.contains(['*', '?', '[']) {
        return Diagnostic::error(
            Rule::File,
            format!("no file is named {name}: this command reads one manifest, not a pattern"),
        )
        .help("name one manifest with -f; validate, plan, apply, audit and output take a quoted glob of several");
    }
    // Without -f, tagrec looked for projects.yaml: the manifests nearby are suggestions. With
    // -f, the path given is wrong: the same list helps to correct it.
    let given = path != Path::new("projects.yaml");
    let folder = path
        .ancestors()
        .skip(1)
        .find(|folder| folder.as_os_str().is_empty() || folder.is_dir())
        // Never the whole disk: a missing absolute path looks in the current folder.
        .filter(|folder| folder.parent().is_some())
        .unwrap_or(Path::new(""));
    let mut found = manifests_below(folder);
    found.sort_by_key(|candidate| candidate.file_name() != path.file_name());
    if found.is_empty() && given {
        return Diagnostic::error(Rule::File, format!("no file {name}"))
            .help("check the path given with -f");
    }
    if found.is_empty() {
        return Diagnostic::error(Rule::File, format!("no {name} here")).help(
            "run tagrec in the folder of the manifest, name it with `-f FILE`, or write a starter manifest with `tagrec init`",
        );
    }
    let mut list: Vec<String> = found
        .iter()
        .take(SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    if found.len() > SHOWN {
        list.push(format!("and {} more", found.len() - SHOWN));
    }
    if given {
        return Diagnostic::error(
            Rule::File,
            format!("no file {name}; manifests nearby: {}", list.join(", ")),
        )
        .help("check the path given with -f");
    }
    Diagnostic::error(
        Rule::File,
        format!(
            "no {name} here; manifests below: {} (use -f)",
            list.join(", ")
        ),
    )
    .help(format!(
        "name the manifest with `-f FILE`, e.g. `-f {}`",
        found[0].display()
    ))
}

/// How deep `manifests_below` looks, and how many entries it reads at most (a home folder must
/// not take long).
const SEARCH_DEPTH: usize = 3;
const SEARCH_ENTRIES: usize = 5_000;

/// The YAML files in `folder` and a few levels below that look like manifests (a top-level
/// `version:` and `projects:`), sorted; `.git`, `target`, `node_modules` and hidden folders are
/// skipped. Paths start with `folder` as given (`""` for the current folder).
pub fn manifests_below(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries = 0;
    let mut pending = vec![(folder.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let read_from = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir.as_path()
        };
        let Ok(list) = std::fs::read_dir(read_from) else {
            continue;
        };
        for entry in list.flatten() {
            entries += 1;
            if entries > SEARCH_ENTRIES {
                break;
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = dir.join(name);
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skipped = name.starts_with('.') || ["target", "node_modules"].contains(&name);
                if !skipped && depth < SEARCH_DEPTH {
                    pending.push((path, depth + 1));
                }
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && looks_like_manifest(&path)
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A top-level `version:` and `projects:` within the file's first 64 KiB.
fn looks_like_manifest(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(64 * 1024).read_to_end(&mut head))
        .is_ok();
    let text = String::from_utf8_lossy(&head);
    let top = |key: &str| text.lines().any(|line| line.starts_with(key));
    read && top("version:") && top("projects:")
}

/// `examples/../policies/x.yaml` -> `policies/x.yaml`, so that messages and GitHub annotations
/// name the file as it sits in the repository.
fn normalize(path: &Path) -> PathBuf {
    let out = crate::files::lexical(path);
    if out.as_os_str().is_empty() {
        return PathBuf::from(".");
    }
    out
}

fn evaluate(
    policy: &Policy,
    owner_set: bool,
    project: &DesiredProject,
    project_places: &ProjectPlaces,
    places: &ManifestPlaces,
    source: &SourceText,
    out: &mut Vec<Diagnostic>,
) {
    if project_places.broken_tags {
        return;
    }
    let tags = project
        .tags
        .iter()
        .filter(|(k, _)| policy::policy_sees(k, owner_set))
        .map(|(k, t)| (k.clone(), Json::String(t.value.clone())));
    let document = policy::document(&project.name, tags);
    let violations = policy.check_document(&document);
    // Missing tags are one problem at one place: "missing required tags A, B". A tag written but
    // refused by the loader (a null value, a reserved key) is reported there, not as missing.
    let missing: Vec<&str> = Violation::missing_keys(&violations)
        .into_iter()
        .filter(|key| !project_places.rejected.iter().any(|k| k == key))
        .collect();
    for violation in &violations {
        if matches!(violation.kind, ViolationKind::Missing { .. }) {
            continue;
        }
        let (span, inherited) = place_of(&violation.kind, project, project_places, places);
        let message = if inherited {
            format!(
                "{} (inherited from defaults by project {})",
                violation.message, project.name
            )
        } else {
            violation.message.clone()
        };
        out.push(
            Diagnostic::error(Rule::Policy, message)
                .at(source.place(span))
                .project(project.name.clone()),
        );
    }
    if !missing.is_empty() {
        let span = project_places.tags.unwrap_or(project_places.name);
        out.push(
            Diagnostic::error(Rule::Policy, policy::missing_sentence(&missing))
                .at(source.place(span))
                .project(project.name.clone()),
        );
    }
}

/// Where a violation is fixed: the value (or key) that breaks the rule, in the project or in
/// `defaults`; the project's `tags:` line for the tag set as a whole; its `name:` otherwise.
fn place_of(
    kind: &ViolationKind,
    project: &DesiredProject,
    own: &ProjectPlaces,
    places: &ManifestPlaces,
) -> (yaml::Span, bool) {
    let fallback = own.tags.unwrap_or(own.name);
    let (tag, on_key) = match kind {
        ViolationKind::Value { key } => (key, false),
        ViolationKind::Key { key } => (key, true),
        ViolationKind::Missing { .. } | ViolationKind::Tags => return (fallback, false),
        ViolationKind::Project => return (own.name, false),
    };
    let pick = |p: &load::TagPlace| if on_key { p.key } else { p.value };
    match project.tags.get(tag).map(|t| t.source) {
        Some(TagSource::Defaults) => match places.defaults.get(tag) {
            Some(p) => (pick(p), true),
            None => (fallback, false),
        },
        _ => match own.own.get(tag) {
            Some(p) => (pick(p), false),
            None => (fallback, false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: &str) -> Checked {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("projects.yaml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        check(&path)
    }

    #[test]
    fn effective_tags_remember_where_they_came_from() {
        let c = checked(
            "version: 1\nowner: platform\ndefaults:\n  tags: {Environment: Production, Team: core}\nprojects:\n  - name: A\n    protect: true\n    tags: {Team: search, CostCenter: 007}\n",
        );
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        let Some(manifest) = c.manifest else {
            panic!("not loaded")
        };
        let tags = &manifest.projects[0].tags;
        let got: Vec<(&str, &str, TagSource)> = tags
            .iter()
            .map(|(k, t)| (k.as_str(), t.value.as_str(), t.source))
            .collect();
        assert_eq!(
            got,
            vec![
                ("CostCenter", "007", TagSource::Project),
                ("Environment", "Production", TagSource::Defaults),
                ("ManagedBy", "platform", TagSource::Owner),
                ("Team", "search", TagSource::Project),
                ("tagrec:protect", "true", TagSource::Protect),
            ]
        );
        assert_eq!(manifest.projects[0].place.as_ref().map(|p| p.line), Some(6));
    }

    #[test]
    fn a_manifest_with_errors_is_not_handed_out_but_one_with_only_violations_is() {
        let broken = checked("version: 1\nprojects:\n  - name: A\n  - name: A\n");
        assert!(broken.manifest.is_none() && broken.has_errors());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("p.yaml"),
            "properties: {tags: {required: [Owner]}}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("projects.yaml");
        std::fs::write(
            &path,
            "version: 1\npolicy: p.yaml\nprojects:\n  - name: A\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let violating = check(&path);
        assert_eq!(
            violating.diagnostics.len(),
            1,
            "{:?}",
            violating.diagnostics
        );
        assert_eq!(violating.diagnostics[0].rule, Rule::Policy);
        // Policy violations alone leave the manifest to the caller (plan lists them, then stops).
        assert!(violating.manifest.is_some() && violating.policy.is_some());
    }

    #[test]
    fn parent_components_are_folded() {
        assert_eq!(
            normalize(Path::new("examples/../policies/required-tags.yaml")),
            PathBuf::from("policies/required-tags.yaml")
        );
        assert_eq!(
            normalize(Path::new("../p.yaml")),
            PathBuf::from("../p.yaml")
        );
        assert_eq!(normalize(Path::new("./p.yaml")), PathBuf::from("p.yaml"));
    }
}
