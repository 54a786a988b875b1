//! The audit: every live active project of the account (not `default`) against the manifest's
//! policy, managed by the manifest or not. Needs only list permission.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::api::LiveProject;
use crate::policy::Policy;
use crate::render::audit::{Audit, AuditedProject};

use super::connect::{ConnectOptions, connect};
use super::plan::list_live;
use super::validate::Loaded;

pub async fn audit(loaded: &Loaded, options: &ConnectOptions) -> anyhow::Result<Audit> {
    let manifest = &loaded.manifest;
    let Some(policy) = &loaded.policy else {
        bail!(
            "{} has no `policy:`: audit checks the live projects against a tag policy; add `policy: policies/required-tags.yaml` (see the README)",
            manifest.file.display()
        );
    };
    let connection = connect(options, manifest)?;
    let live = list_live(&connection).await?;
    Ok(audit_of(loaded, policy, &live))
}

fn audit_of(loaded: &Loaded, policy: &Policy, live: &[LiveProject]) -> Audit {
    let manifest = &loaded.manifest;
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
    let mut projects: Vec<AuditedProject> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .map(|p| AuditedProject {
            name: p.name.clone(),
            id: p.id.clone(),
            managed: pinned.contains(p.id.as_str()) || names.contains(p.name.as_str()),
            tags: p.tags.clone(),
            violations: policy.check_project(&p.name, &p.tags, manifest.owner.as_deref()),
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
        compliant,
        rate,
        counts,
    }
}
