//! The audit: every live active project of the account (not `default`) against the manifest's
//! policy, managed by the manifest or not. Needs only list permission.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::api::LiveProject;
use crate::plan::PlanTarget;
use crate::plan::matching::{Match, match_projects};
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
    // Matched as plan matches (`plan::matching`): two or more active projects carrying a name
    // declared without `id:` are a conflict (plan refuses it): neither is managed.
    let matching = match_projects(&manifest.projects, live);
    let mut managed: BTreeSet<&str> = BTreeSet::new();
    let mut conflicts: Vec<NameConflict> = Vec::new();
    for (desired, found) in manifest.projects.iter().zip(&matching.matches) {
        match found {
            Match::Live(p) => {
                managed.insert(p.id.as_str());
            }
            Match::Conflict(many) => conflicts.push(NameConflict {
                name: desired.name.clone(),
                ids: many.iter().map(|p| p.id.clone()).collect(),
            }),
            _ => {}
        }
    }
    conflicts.sort_by(|a, b| a.name.cmp(&b.name));
    let in_conflict: BTreeSet<&str> = conflicts
        .iter()
        .flat_map(|c| c.ids.iter().map(String::as_str))
        .collect();
    let active = || live.iter().filter(|p| p.is_active() && !p.is_default());
    let mut projects: Vec<AuditedProject> = active()
        .map(|p| {
            let conflict = in_conflict.contains(p.id.as_str());
            AuditedProject {
                name: p.name.clone(),
                id: p.id.clone(),
                managed: managed.contains(p.id.as_str()),
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
