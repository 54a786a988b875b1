//! The audit: every live active project of the account (not `default`) against the manifest's
//! policy, managed by the manifest or not. Needs only list permission.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::api::LiveProject;
use crate::plan::PlanTarget;
use crate::policy::Policy;
use crate::render::audit::{Audit, AuditedProject, NameConflict};

use super::connect::{ConnectOptions, connect};
use super::plan::list_live;
use super::validate::Loaded;

/// The audit of the account a manifest targets, and that target.
pub async fn audit(
    loaded: &Loaded,
    options: &ConnectOptions,
) -> anyhow::Result<(Audit, PlanTarget)> {
    let manifest = &loaded.manifest;
    let Some(policy) = &loaded.policy else {
        bail!(
            "{} has no `policy:`: audit checks the live projects against a tag policy; add `policy: policies/required-tags.yaml` (see the README)",
            manifest.file.display()
        );
    };
    let connection = connect(options, manifest).await?;
    let live = list_live(&connection).await?;
    Ok((audit_of(loaded, policy, &live), connection.target))
}

fn audit_of(loaded: &Loaded, policy: &Policy, live: &[LiveProject]) -> Audit {
    let manifest = &loaded.manifest;
    // Matched as plan matches: a pinned id first; an entry without `id:` then matches the one
    // active project of its name that no pin claims. Two or more such projects are a conflict
    // (plan refuses it): neither is managed, both are shown as such.
    let pinned: BTreeSet<&str> = manifest
        .projects
        .iter()
        .filter_map(|p| p.id.as_deref())
        .collect();
    let names: BTreeSet<&str> = manifest
        .projects
        .iter()
        .filter(|p| p.id.is_none())
        .map(|p| p.name.as_str())
        .collect();
    let active = || live.iter().filter(|p| p.is_active() && !p.is_default());
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in active().filter(|p| !pinned.contains(p.id.as_str())) {
        if names.contains(p.name.as_str()) {
            by_name
                .entry(p.name.as_str())
                .or_default()
                .push(p.id.as_str());
        }
    }
    let conflicts: Vec<NameConflict> = by_name
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(name, ids)| {
            let mut ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
            ids.sort();
            NameConflict {
                name: name.to_string(),
                ids,
            }
        })
        .collect();
    let in_conflict: BTreeSet<&str> = conflicts
        .iter()
        .flat_map(|c| c.ids.iter().map(String::as_str))
        .collect();
    let mut projects: Vec<AuditedProject> = active()
        .map(|p| {
            let conflict = in_conflict.contains(p.id.as_str());
            AuditedProject {
                name: p.name.clone(),
                id: p.id.clone(),
                managed: pinned.contains(p.id.as_str())
                    || (names.contains(p.name.as_str()) && !conflict),
                conflict,
                tags: p.tags.clone(),
                violations: policy.check_project(&p.name, &p.tags, manifest.owner.as_deref()),
            }
        })
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let compliant = projects.iter().filter(|p| p.violations.is_empty()).count();
    let rate = if projects.is_empty() {
        1.0
    } else {
        compliant as f64 / projects.len() as f64
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in &projects {
        for v in &p.violations {
            *counts.entry(v.message.clone()).or_default() += 1;
        }
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Audit {
        projects,
        conflicts,
        compliant,
        rate,
        counts,
    }
}
