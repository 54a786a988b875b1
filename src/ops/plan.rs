//! Planning against a live account: connect to the manifest's target, list every project, and
//! run the planner with the policy applied to the projects the manifest does not declare.
//! `--target` names are checked before anything is shown, with the nearest names suggested.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;

use crate::api::LiveProject;
use crate::api::auth::AuthMode;
use crate::files::write_atomically;
use crate::plan::{Action, FORMAT_VERSION, Plan, PlanError, PlanOptions, plan};
use crate::policy::Violation;
use crate::render;
use crate::rules::OWNER_TAG;

use super::connect::{ConnectOptions, Connection, connect};
use super::validate::Loaded;

/// Everything `plan` and `apply` compute before they print or write.
pub struct Prepared {
    pub connection: Connection,
    pub live: Vec<LiveProject>,
    pub plan: Plan,
    pub errors: Vec<PlanError>,
}

impl Prepared {
    /// Ids that exist in the account now: a project found by name after a lost create answer
    /// is adopted only if it is new.
    pub fn known_ids(&self) -> HashSet<String> {
        known_ids(&self.live, &self.plan)
    }
}

/// The ids of the live projects that bear the name of one of the plan's creates: the only ones
/// the Applier looks at when it looks for a project whose create answer was lost, so the only
/// ones kept (an estate keeps this set per manifest, not the live list).
pub fn known_ids(live: &[LiveProject], plan: &Plan) -> HashSet<String> {
    let creates: HashSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.name.as_str())
        .collect();
    live.iter()
        .filter(|p| creates.contains(p.name.as_str()))
        .map(|p| p.id.clone())
        .collect()
}

/// A `--target` that names no project of a manifest, with the nearest names the manifest and
/// its account have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub target: String,
    pub near: Vec<String>,
}

/// Connects, lists and plans the changes that bring the account to the manifest, limited to
/// `targets` when some are given.
pub async fn prepare(
    loaded: &Loaded,
    options: &ConnectOptions,
    targets: &[String],
) -> anyhow::Result<Prepared> {
    let connection = connect(options, &loaded.manifest).await?;
    let live = list_live(&connection).await?;
    plan_live(loaded, connection, live, targets)
}

/// `prepare` for one manifest of several: a `--target` it does not have is returned, not refused.
pub async fn prepare_in_estate(
    loaded: &Loaded,
    options: &ConnectOptions,
    targets: &[String],
) -> anyhow::Result<(Prepared, Vec<Unmatched>)> {
    let connection = connect(options, &loaded.manifest).await?;
    let live = list_live(&connection).await?;
    Ok(plan_live_in_estate(loaded, connection, live, targets))
}

/// Plans against projects already listed. A `--target` that names nothing is an error here,
/// before any plan is shown, with the nearest names the manifest and the account have.
pub fn plan_live(
    loaded: &Loaded,
    connection: Connection,
    live: Vec<LiveProject>,
    targets: &[String],
) -> anyhow::Result<Prepared> {
    let (prepared, unmatched) = plan_live_in_estate(loaded, connection, live, targets);
    if !unmatched.is_empty() {
        anyhow::bail!(unknown_targets(&unmatched, "of the manifest"));
    }
    Ok(prepared)
}

/// Plans against projects already listed, for one manifest of several: a `--target` this
/// manifest does not have may be another's, so it is returned (with the nearest names) rather
/// than refused; `unmatched_everywhere` decides once every manifest is planned.
pub fn plan_live_in_estate(
    loaded: &Loaded,
    connection: Connection,
    live: Vec<LiveProject>,
    targets: &[String],
) -> (Prepared, Vec<Unmatched>) {
    let manifest = &loaded.manifest;
    tracing::debug!(
        "{} projects in the account (archived and default included)",
        live.len()
    );
    let owner = manifest.owner.as_deref();
    let violations = |p: &LiveProject| -> Vec<Violation> {
        match &loaded.policy {
            Some(policy) => policy.check_project(&p.name, &p.tags, owner),
            None => Vec::new(),
        }
    };
    let planned = plan(
        &manifest.projects,
        &live,
        &PlanOptions {
            owner,
            prune: manifest.prune,
            ignore: &manifest.ignore_tags,
            targets,
            violations: &violations,
        },
    );
    let mut unmatched = Vec::new();
    let mut errors = Vec::with_capacity(planned.errors.len());
    for error in planned.errors {
        match error {
            PlanError::UnknownTarget(target) => unmatched.push(target),
            other => errors.push(other),
        }
    }
    let unmatched: Vec<Unmatched> = if unmatched.is_empty() {
        Vec::new()
    } else {
        let candidates = target_candidates(loaded, &live);
        unmatched
            .into_iter()
            .map(|target| Unmatched {
                near: nearest(&target, &candidates)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                target,
            })
            .collect()
    };
    let plan = Plan {
        format_version: FORMAT_VERSION.to_string(),
        tagrec_version: env!("CARGO_PKG_VERSION").to_string(),
        manifest: manifest.file.display().to_string(),
        target: connection.target.clone(),
        summary: planned.summary,
        changes: planned.changes,
        unmanaged: planned.unmanaged,
        warnings: planned.warnings,
        ignore_tags: manifest.ignore_tags.0.clone(),
    };
    (
        Prepared {
            connection,
            live,
            plan,
            errors,
        },
        unmatched,
    )
}

/// The `--target`s that no planned manifest of an estate has, as the error to show, or `None`
/// when each names a project somewhere. `planned` holds what each planned manifest did not
/// have (manifests that failed to plan say nothing either way).
pub fn unmatched_everywhere<'a>(
    planned: impl IntoIterator<Item = &'a [Unmatched]>,
) -> Option<String> {
    let planned: Vec<&[Unmatched]> = planned.into_iter().collect();
    let (first, rest) = planned.split_first()?;
    let nowhere: Vec<Unmatched> = first
        .iter()
        .filter(|u| {
            rest.iter()
                .all(|other| other.iter().any(|o| o.target == u.target))
        })
        .map(|u| {
            let mut near: BTreeSet<String> = BTreeSet::new();
            for list in &planned {
                for other in list.iter().filter(|o| o.target == u.target) {
                    near.extend(other.near.iter().cloned());
                }
            }
            Unmatched {
                target: u.target.clone(),
                near: nearest(&u.target, &near)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            }
        })
        .collect();
    (!nowhere.is_empty()).then(|| unknown_targets(&nowhere, "of any manifest"))
}

/// `--target "X" matches no project of the manifest …: did you mean …?`, one line per target,
/// and how to name several.
fn unknown_targets(unmatched: &[Unmatched], scope: &str) -> String {
    let lines: Vec<String> = unmatched
        .iter()
        .map(|u| unknown_target(&u.target, &u.near, scope))
        .collect();
    format!(
        "{}\n(--target takes one name; for several projects, repeat it: --target A --target B)",
        lines.join("\n")
    )
}

/// Every project of the account (all pages, archived and `default` included).
pub async fn list_live(connection: &Connection) -> anyhow::Result<Vec<LiveProject>> {
    tracing::debug!("listing projects at {}", connection.target.endpoint);
    connection.api.list().await.with_context(|| {
        format!(
            "could not list the projects at {}",
            connection.target.endpoint
        )
    })
}

/// The names a `--target` may take: the manifest's projects, and the live projects it could
/// archive (owned, with `prune`).
fn target_candidates(loaded: &Loaded, live: &[LiveProject]) -> BTreeSet<String> {
    let manifest = &loaded.manifest;
    let mut names: BTreeSet<String> = manifest.projects.iter().map(|p| p.name.clone()).collect();
    if manifest.prune
        && let Some(owner) = manifest.owner.as_deref()
    {
        names.extend(
            live.iter()
                .filter(|p| {
                    p.is_active() && p.tags.get(OWNER_TAG).map(String::as_str) == Some(owner)
                })
                .map(|p| p.name.clone()),
        );
    }
    names
}

/// `--target "gadget-search" matches no project …: did you mean `Gadget-Search`?`
fn unknown_target(target: &str, near: &[String], scope: &str) -> String {
    let mut message =
        format!("--target \"{target}\" matches no project {scope} and no project to archive");
    match near {
        [] => {}
        [one] => message.push_str(&format!(": did you mean `{one}`?")),
        many => {
            let quoted: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
            message.push_str(&format!(": did you mean one of {}?", quoted.join(", ")));
        }
    }
    message
}

/// Up to three names close to `target`: the same but for case first, then by edit distance
/// (case ignored), closest first.
pub fn nearest<'a>(target: &str, candidates: &'a BTreeSet<String>) -> Vec<&'a str> {
    let wanted = target.to_lowercase();
    let same_case_aside: Vec<&str> = candidates
        .iter()
        .filter(|c| c.to_lowercase() == wanted)
        .map(String::as_str)
        .collect();
    if !same_case_aside.is_empty() {
        return same_case_aside;
    }
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|c| {
            let score = strsim::normalized_damerau_levenshtein(&wanted, &c.to_lowercase());
            (score, c.as_str())
        })
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// The command that applies a plan saved to `out`, as typed from the folder plan ran in: apply
/// finds the manifest and the target in the plan itself.
pub fn apply_command(out: &Path, plan: &Plan, options: &ConnectOptions) -> String {
    let mut command = format!("tagrec apply {}", shell_word(&out.display().to_string()));
    if plan.changes.iter().any(|c| c.action == Action::Archive) {
        command.push_str(" --allow-archive");
    }
    command.push_str(&credential_flags(options));
    command
}

/// `--auth X` and `--profile P` when they were given: credentials are not recorded in a plan.
pub fn credential_flags(options: &ConnectOptions) -> String {
    let mut flags = String::from(match options.auth {
        AuthMode::Auto => "",
        AuthMode::Bearer => " --auth bearer",
        AuthMode::Sigv4 => " --auth sigv4",
    });
    if let Some(profile) = &options.profile {
        flags.push_str(&format!(" --profile {}", shell_word(profile)));
    }
    flags
}

/// A word as a POSIX shell reads it back: as is when it is plain, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-:=@+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Where `plan --out DIR` saves each manifest's plan: the manifest's path below DIR, `.json` for
/// its extension (`accounts/prod/us-east-1.yaml` -> `DIR/accounts/prod/us-east-1.json`). Checked
/// before anything is planned: DIR is a folder that is new or empty (a plan left there from an
/// earlier run would be applied by `tagrec apply DIR`), and no two manifests share a plan file.
pub fn estate_plan_paths(dir: &Path, manifests: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if dir.extension().is_some_and(|e| e == "json") && !dir.is_dir() {
        anyhow::bail!(
            "--out {}: with several manifests, --out names a folder that gets one plan per manifest (for `tagrec apply DIR`), not a .json file",
            dir.display()
        );
    }
    if dir.exists() {
        if !dir.is_dir() {
            anyhow::bail!(
                "--out {}: with several manifests, --out names a folder that gets one plan per manifest, and this is a file",
                dir.display()
            );
        }
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("--out {}: cannot read the folder", dir.display()))?;
        if entries.next().is_some() {
            anyhow::bail!(
                "--out {}: the folder is not empty; a plan left there from an earlier run would be applied by `tagrec apply {}` too: remove what is in it, or give a new folder",
                dir.display(),
                dir.display()
            );
        }
    }
    let mut seen: BTreeMap<PathBuf, &Path> = BTreeMap::new();
    let mut paths = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        let mut relative = PathBuf::new();
        for part in manifest.components() {
            match part {
                Component::Normal(name) => relative.push(name),
                // Not out of DIR: `../x.yaml` is saved as `DIR/__/x.json`.
                Component::ParentDir => relative.push("__"),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        relative.set_extension("json");
        let path = dir.join(relative);
        if let Some(other) = seen.insert(path.clone(), manifest) {
            anyhow::bail!(
                "--out {}: the plans of {} and {} would both be saved as {}: rename one of the manifests",
                dir.display(),
                other.display(),
                manifest.display(),
                path.display()
            );
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Saves a plan for `tagrec apply FILE`: the JSON form, written atomically.
pub fn save(plan: &Plan, path: &Path) -> anyhow::Result<()> {
    write_atomically(path, render::plan::json(plan).as_bytes())
        .with_context(|| format!("could not write the plan to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nearest_names_ignore_case_then_tolerate_typos() {
        let c = names(&["Gadget-Search", "Fraud-Prod", "Search-Prod"]);
        assert_eq!(nearest("gadget-search", &c), vec!["Gadget-Search"]);
        assert_eq!(nearest("Gadgte-Serch", &c), vec!["Gadget-Search"]);
        assert_eq!(nearest("Fraud-Prd", &c), vec!["Fraud-Prod"]);
        assert!(nearest("completely-else", &c).is_empty());
    }

    #[test]
    fn forced_credentials_are_repeated_in_the_apply_hint() {
        let options = ConnectOptions {
            auth: AuthMode::Sigv4,
            profile: Some("ci role".into()),
            ..ConnectOptions::default()
        };
        assert_eq!(
            credential_flags(&options),
            " --auth sigv4 --profile 'ci role'"
        );
        assert_eq!(credential_flags(&ConnectOptions::default()), "");
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("plans/plan.json"), "plans/plan.json");
        assert_eq!(shell_word("my plan.json"), "'my plan.json'");
        assert_eq!(shell_word("it's.json"), "'it'\\''s.json'");
    }
}
