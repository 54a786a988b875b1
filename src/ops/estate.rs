//! The estate: many manifests in one run (one per account and region). Which manifests `-f`
//! names (repeatable, globs), which of them a change touched (`--changed-since`, as Atlantis's
//! autoplan does), and running a use case on each, `--jobs` at a time, one manifest's failure
//! never stopping another.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use futures_util::stream::{self, StreamExt};
use serde_json::Value as Json;

use crate::source::yaml;

/// The manifests a run is about, in the order given (each glob's matches sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifests {
    pub files: Vec<PathBuf>,
    /// `-f` was a glob or was given more than once: results take the estate's forms (a section
    /// per manifest, a combined summary), even when only one file matched.
    pub estate: bool,
}

/// Expands `-f` values: a value with `*`, `?` or `[` is a glob and must match at least one file;
/// any other is a path, kept even when it does not exist (reading it fails loudly later).
pub fn resolve(patterns: &[String]) -> anyhow::Result<Manifests> {
    let mut files = Vec::new();
    let mut globbed = false;
    for pattern in patterns {
        if !pattern.contains(['*', '?', '[']) {
            files.push(PathBuf::from(pattern));
            continue;
        }
        globbed = true;
        // As a shell: `*` and `**` do not enter hidden folders (`.github`, `.tagrec`) nor match
        // hidden files.
        let options = glob::MatchOptions {
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        let matches = glob::glob_with(pattern, options)
            .with_context(|| format!("-f '{pattern}' is not a valid glob"))?;
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in matches {
            let path =
                entry.with_context(|| format!("cannot read a file matched by -f '{pattern}'"))?;
            if path.is_file() {
                found.push(path);
            }
        }
        if found.is_empty() {
            bail!(
                "-f '{pattern}' matches no file (quote the pattern so that tagrec, not the shell, expands it; `**` matches folders at any depth)"
            );
        }
        found.sort();
        files.extend(found);
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(lexical(f)));
    Ok(Manifests {
        estate: globbed || patterns.len() > 1,
        files,
    })
}

/// With several manifests, each one's `target` says where it goes: `--region` and `--profile`
/// (flags or TAGREC_REGION) may fill in what a manifest leaves out, never replace what it says
/// (a us-east-1 manifest planned against eu-west-1, or dev's against prod's account, would archive
/// what that account holds).
pub fn check_overrides(
    target: &crate::manifest::Target,
    file: &Path,
    region: Option<&str>,
    profile: Option<&str>,
) -> Result<(), String> {
    if let (Some(flag), Some(own)) = (region, target.region.as_deref())
        && flag != own
    {
        return Err(format!(
            "--region {flag} (or TAGREC_REGION) would replace `target.region: {own}` of {}: with several manifests each one's target says where it goes; drop --region",
            file.display()
        ));
    }
    if let (Some(flag), Some(own)) = (profile, target.profile.as_deref())
        && flag != own
    {
        return Err(format!(
            "--profile {flag} would replace `target.profile: {own}` of {}: with several manifests each one's target says as whom it goes; drop --profile",
            file.display()
        ));
    }
    Ok(())
}

/// The account a manifest reaches, as far as can be told without asking AWS: the endpoint (for a
/// sandbox, its state file) and, for AWS, the identity that signs there (a role, a profile).
pub fn account_of(
    endpoint: &str,
    target: &crate::manifest::Target,
    profile: Option<&str>,
) -> String {
    if target.sandbox.is_some() {
        return endpoint.to_string();
    }
    let who = match (&target.role_arn, profile.or(target.profile.as_deref())) {
        (Some(role), _) => format!("role {role}"),
        (None, Some(profile)) => format!("profile {profile}"),
        (None, None) => "the same credentials".to_string(),
    };
    format!("{endpoint} as {who}")
}

/// The manifests of a run that reach the same account as another (`accounts[i]`, None for one
/// that failed already): each would plan to archive (with `prune`) or create again what the other
/// declares. Returns each such manifest's index with the error naming the others.
pub fn shared_accounts(names: &[String], accounts: &[Option<String>]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (index, account) in accounts.iter().enumerate() {
        let Some(account) = account else { continue };
        let others: Vec<&str> = accounts
            .iter()
            .enumerate()
            .filter(|(other, a)| *other != index && a.as_ref() == Some(account))
            .map(|(other, _)| names[other].as_str())
            .collect();
        if !others.is_empty() {
            out.push((
                index,
                format!(
                    "{} reaches the same account as {} ({account}): each would archive or create again what the other declares; declare that account's projects in one manifest, or give each manifest its own target",
                    names[index],
                    others.join(", ")
                ),
            ));
        }
    }
    out
}

/// Turns into errors the results of manifests that reach the same account as another
/// (`shared_accounts`), `account` giving each planned one's.
pub fn refuse_shared_accounts<T>(
    names: &[String],
    results: &mut [Result<T, String>],
    account: impl Fn(&T) -> &str,
) {
    let accounts: Vec<Option<String>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|t| account(t).to_string()))
        .collect();
    for (index, message) in shared_accounts(names, &accounts) {
        results[index] = Err(message);
    }
}

/// Runs `each` on every manifest, at most `jobs` at once, and returns the results in the
/// manifests' order. A manifest starts as soon as any running one finishes (not when the oldest
/// does: one slow account does not hold the others' places). What one manifest needs (its live
/// list) is dropped when it finishes; only the results are kept.
pub async fn for_each<T, F, Fut>(files: &[PathBuf], jobs: usize, each: F) -> Vec<T>
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = T>,
{
    let each = &each;
    let mut done: Vec<(usize, T)> = stream::iter(files.iter().cloned().enumerate())
        .map(|(index, file)| async move { (index, each(file).await) })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// The manifests whose inputs changed between `git merge-base REF HEAD` and the working tree: the
/// manifest itself, its policy (and the files its `$ref`s name), its sandbox seed and costs file.
/// A manifest that cannot be read is kept: it should fail loudly, not be skipped.
/// Also returns the files that `patterns` (the `-f` values) name which the change deleted:
/// manifests whose accounts no run will look at any more.
pub fn changes_since(
    files: &[PathBuf],
    patterns: &[String],
    reference: &str,
) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    if reference.trim().is_empty() || reference.starts_with('-') {
        bail!("--changed-since needs a git reference (a branch, tag or commit), e.g. origin/main");
    }
    let top = git(&["rev-parse", "--show-toplevel"], Path::new("."))
        .context("--changed-since needs a git repository")?;
    let top = PathBuf::from(top.trim());
    let commit = format!("{reference}^{{commit}}");
    if git(
        &["rev-parse", "--verify", "--quiet", &commit],
        Path::new("."),
    )
    .is_err()
    {
        // `origin/main` is fetched as `git fetch origin main`.
        let fetch = match reference.split_once('/') {
            Some((remote, branch)) => format!("git fetch {remote} {branch}"),
            None => format!("git fetch origin {reference}"),
        };
        bail!(
            "--changed-since {reference}: no such commit here: fetch it first (`{fetch}`; in CI, check out with fetch-depth: 0)"
        );
    }
    let base = git(&["merge-base", reference, "HEAD"], Path::new(".")).map_err(|_| {
        anyhow::anyhow!(
            "--changed-since {reference}: {reference} and HEAD share no history (no merge base): compare with a commit of this branch's history"
        )
    })?;
    // Paths exactly as they are (no quoting of non-ASCII names), NUL-separated.
    let changed = git(
        &[
            "-c",
            "core.quotePath=false",
            "diff",
            "--name-only",
            "-z",
            base.trim(),
        ],
        &top,
    )?;
    let untracked = git(
        &[
            "-c",
            "core.quotePath=false",
            "ls-files",
            "-z",
            "--others",
            "--exclude-standard",
        ],
        &top,
    )?;
    let changed: BTreeSet<PathBuf> = changed
        .split('\0')
        .chain(untracked.split('\0'))
        .filter(|l| !l.is_empty())
        .map(|l| lexical(&top.join(l)))
        .collect();
    let selected = files
        .iter()
        .filter(|file| match inputs(file) {
            Some(inputs) => inputs.iter().any(|input| changed.contains(input)),
            None => true,
        })
        .cloned()
        .collect();
    let cwd = std::env::current_dir()
        .map(|d| lexical(&d))
        .unwrap_or_default();
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    let deleted = changed
        .iter()
        .filter(|path| !path.exists())
        .filter_map(|path| path.strip_prefix(&cwd).ok())
        .filter(|relative| {
            patterns.iter().any(|pattern| {
                Path::new(pattern) == *relative
                    || glob::Pattern::new(pattern)
                        .is_ok_and(|p| p.matches_path_with(relative, options))
            })
        })
        .map(Path::to_path_buf)
        .collect();
    Ok((selected, deleted))
}

fn git(args: &[&str], dir: &Path) -> anyhow::Result<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .context("cannot run git (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The files a manifest's result depends on, absolute and without `.`/`..`; `None` when the
/// manifest cannot be read as YAML.
fn inputs(manifest: &Path) -> Option<BTreeSet<PathBuf>> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let (root, errors) = yaml::parse(&text);
    if !errors.is_empty() {
        return None;
    }
    let doc = root?.to_json();
    let folder = manifest.parent().unwrap_or(Path::new(""));
    let mut files = BTreeSet::from([lexical(manifest)]);
    let mut add = |value: Option<&Json>| -> Option<PathBuf> {
        let path = lexical(&folder.join(value?.as_str()?));
        files.insert(path.clone());
        Some(path)
    };
    add(doc.pointer("/target/sandbox/seed"));
    add(doc.pointer("/target/sandbox/costs"));
    if let Some(policy) = add(doc.get("policy")) {
        policy_refs(&policy, &mut files);
    }
    Some(files)
}

/// The files a policy's `$ref`s name, followed through the files they name in turn.
fn policy_refs(policy: &Path, files: &mut BTreeSet<PathBuf>) {
    let Ok(text) = std::fs::read_to_string(policy) else {
        return;
    };
    let (Some(root), _) = yaml::parse(&text) else {
        return;
    };
    let mut refs = Vec::new();
    collect_refs(&root.to_json(), &mut refs);
    let folder = policy.parent().unwrap_or(Path::new(""));
    for reference in refs {
        let file = reference.split('#').next().unwrap_or_default();
        if file.is_empty() || file.contains("://") {
            continue;
        }
        let path = lexical(&folder.join(file));
        if files.insert(path.clone()) {
            policy_refs(&path, files);
        }
    }
}

fn collect_refs(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Json::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(value, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// An absolute path without `.` and `..`, computed without touching the file system (the file
/// An absolute path without `.` and `..` (the file may have been deleted by the change).
fn lexical(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    crate::files::lexical(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_found_at_any_depth_but_not_local_ones() {
        let doc = serde_json::json!({"properties": {"a": {"$ref": "common.yaml#/$defs/x"},
            "b": [{"$ref": "#/$defs/y"}, {"$ref": "https://example.com/s.json"}]}});
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert_eq!(
            refs,
            [
                "common.yaml#/$defs/x",
                "#/$defs/y",
                "https://example.com/s.json"
            ]
        );
    }
}
