//! Import: a manifest of the live active projects (not `default`), each pinned by id, so that
//! `import` then `plan` shows no changes. Refuses to overwrite a file without `--force`.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::api::LiveProject;
use crate::files::write_atomically;
use crate::manifest::Manifest;
use crate::render::manifest::{ImportedManifest, ImportedProject, ImportedSandbox, yaml};
use crate::rules::{DEFAULT_PROJECT_ID, OWNER_TAG, PROTECT_TAG, is_aws_key, is_protected};

use super::connect::{ConnectOptions, connect};
use super::plan::list_live;

pub struct ImportOptions {
    /// Where the manifest goes; `-` is stdout.
    pub out: PathBuf,
    pub force: bool,
    pub policy: Option<PathBuf>,
    pub owner: Option<String>,
}

impl ImportOptions {
    pub fn to_stdout(&self) -> bool {
        self.out.as_os_str() == "-"
    }
}

/// The manifest written, and what the user should know about it.
pub struct Imported {
    pub text: String,
    pub count: usize,
    pub warnings: Vec<String>,
}

/// Refuses at once (before any request) to overwrite a file without `--force`.
pub fn check_out(options: &ImportOptions) -> anyhow::Result<()> {
    if !options.to_stdout() && options.out.exists() && !options.force {
        bail!(
            "{} exists: import does not overwrite a file without --force (or write elsewhere with --out FILE, or --out - for stdout)",
            options.out.display()
        );
    }
    Ok(())
}

/// Reads the account that `manifest`'s target (or `--endpoint`) points at and returns the
/// manifest of it. `manifest` is the existing one, or an empty one for a first import.
pub async fn import(
    manifest: &Manifest,
    connect_options: &ConnectOptions,
    options: &ImportOptions,
) -> anyhow::Result<Imported> {
    let connection = connect(connect_options, manifest)?;
    let live = list_live(&connection).await?;

    // A manifest may not declare a project named `default` (it would be taken for the account's
    // own): such a live project is left out, with a word, rather than written into a manifest
    // that `validate` rejects.
    let (unnamed, live): (Vec<LiveProject>, Vec<LiveProject>) = live
        .into_iter()
        .partition(|p| p.is_active() && !p.is_default() && p.name == DEFAULT_PROJECT_ID);
    let mut warnings: Vec<String> = Vec::new();
    warnings.extend(unnamed.iter().map(|p| format!(
        "left out project {} named `default`: a manifest cannot declare that name; rename the project to manage it with tagrec",
        p.id
    )));
    if let Some(owner) = options.owner.as_deref() {
        warnings.extend(ownership_warning(&live, owner));
    }
    let projects = imported(&live, options.owner.as_deref());
    let count = projects.len();
    // The written manifest targets what this import read: an explicit --endpoint wins, else the
    // manifest's sandbox (its paths re-rooted at the new file's folder), else its endpoint.
    let folder = if options.to_stdout() {
        Path::new(".")
    } else {
        options
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    let sandbox = match (&connect_options.endpoint, &manifest.target.sandbox) {
        (None, Some(sandbox)) => Some(ImportedSandbox {
            state: relative_to(&sandbox.state, folder),
            seed: sandbox
                .seed
                .as_deref()
                .map(|seed| relative_to(seed, folder)),
        }),
        _ => None,
    };
    let document = ImportedManifest {
        region: connection.target.region.clone(),
        endpoint: match &sandbox {
            Some(_) => None,
            None => connect_options
                .endpoint
                .clone()
                .or(manifest.target.endpoint.clone()),
        },
        sandbox,
        policy: options.policy.as_ref().map(|p| p.display().to_string()),
        owner: options.owner.clone(),
        projects,
    };
    Ok(Imported {
        text: yaml(&document),
        count,
        warnings,
    })
}

/// Writes the imported manifest to `--out`, atomically.
pub fn write(options: &ImportOptions, imported: &Imported) -> anyhow::Result<()> {
    write_atomically(&options.out, imported.text.as_bytes())
        .with_context(|| format!("could not write {}", options.out.display()))
}

/// With `--owner`, every imported project gets `ManagedBy: <owner>`: say which ones do not carry
/// it yet, since the first plan will show them as updates (taking them over), not as no change.
fn ownership_warning(live: &[LiveProject], owner: &str) -> Option<String> {
    let others: Vec<String> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .filter(|p| p.tags.get(OWNER_TAG).map(String::as_str) != Some(owner))
        .map(|p| format!("{} ({})", p.name, p.id))
        .collect();
    if others.is_empty() {
        return None;
    }
    const SHOWN: usize = 5;
    let more = match others.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Some(format!(
        "{} of the imported projects do not carry `{OWNER_TAG}: {owner}`: the next apply sets it on them (taking them over): {}{more}",
        others.len(),
        others[..others.len().min(SHOWN)].join(", ")
    ))
}

/// The live active projects as manifest entries: all tags but `aws:` ones; `tagrec:protect`
/// becomes `protect: true` (the tag may not be written by hand); with an owner, `ManagedBy` is
/// left to `owner:` (it may not be written by hand then either).
pub fn imported(live: &[LiveProject], owner: Option<&str>) -> Vec<ImportedProject> {
    let mut projects: Vec<ImportedProject> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .map(|p| {
            let protect = is_protected(&p.tags);
            let tags = p
                .tags
                .iter()
                .filter(|(k, _)| {
                    !is_aws_key(k)
                        && k.as_str() != PROTECT_TAG
                        && !(k.as_str() == OWNER_TAG && owner.is_some())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            ImportedProject {
                name: p.name.clone(),
                id: p.id.clone(),
                protect,
                tags,
            }
        })
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    projects
}

/// `path` as seen from `folder` (both relative to the working directory, or absolute), so that
/// a manifest written into `folder` finds it; unchanged when no relative path leads there.
fn relative_to(path: &Path, folder: &Path) -> String {
    let (Ok(to), Ok(from)) = (std::path::absolute(path), std::path::absolute(folder)) else {
        return path.display().to_string();
    };
    let (to, from) = (lexical(&to), lexical(&from));
    let common = to
        .components()
        .zip(from.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return to.display().to_string();
    }
    let mut relative = PathBuf::new();
    for _ in from.components().skip(common) {
        relative.push("..");
    }
    for part in to.components().skip(common) {
        relative.push(part);
    }
    relative.display().to_string()
}

/// Drops `.` and folds `name/..` without touching the file system (the state file may not exist).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_paths_are_re_rooted_at_the_written_file() {
        let rel = |p: &str, f: &str| relative_to(Path::new(p), Path::new(f));
        assert_eq!(
            rel("examples/.tagrec/sandbox.json", "."),
            "examples/.tagrec/sandbox.json"
        );
        assert_eq!(rel("examples/./live.json", "examples"), "live.json");
        assert_eq!(
            rel("examples/live.json", "out/sub"),
            "../../examples/live.json"
        );
        assert_eq!(rel("examples/../live.json", "examples"), "../live.json");
        assert_eq!(rel("/abs/live.json", "/abs/x"), "../live.json");
    }
}
