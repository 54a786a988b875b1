//! The stale check of a saved plan: before `apply PLANFILE` writes anything, every project the
//! plan touches must still look as it did (`observed`), and no project it would create may exist
//! by now. Changes elsewhere in the account do not matter.

use std::collections::HashMap;

use crate::api::LiveProject;
use crate::manifest::TagPatterns;

use super::diff::managed_tags;
use super::model::{Action, Plan};

pub fn stale_reasons(plan: &Plan, live: &[LiveProject]) -> Vec<String> {
    let ignore = TagPatterns(plan.ignore_tags.clone());
    let by_id: HashMap<&str, &LiveProject> = live.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut reasons = Vec::new();
    for change in &plan.changes {
        if change.action == Action::Create {
            let mut existing: Vec<&str> = live
                .iter()
                .filter(|p| p.is_active() && p.name == change.name)
                .map(|p| p.id.as_str())
                .collect();
            existing.sort();
            if !existing.is_empty() {
                reasons.push(format!(
                    "\"{}\" would be created, but an active project with that name exists now ({})",
                    change.name,
                    existing.join(", ")
                ));
            }
            continue;
        }
        let (Some(id), Some(observed)) = (change.id.as_deref(), change.observed.as_ref()) else {
            reasons.push(format!(
                "the {} of \"{}\" has no id or observed state: the plan file is damaged",
                change.action.as_str(),
                change.name
            ));
            continue;
        };
        let Some(now) = by_id.get(id) else {
            reasons.push(format!("\"{}\" ({id}) no longer exists", change.name));
            continue;
        };
        if now.name != observed.name {
            reasons.push(format!(
                "\"{}\" ({id}) was renamed to \"{}\"",
                observed.name, now.name
            ));
        }
        if now.status != observed.status {
            reasons.push(format!(
                "\"{}\" ({id}) is now {}",
                observed.name,
                now.status.as_str()
            ));
        }
        let (before, after) = (
            managed_tags(&observed.tags, &ignore),
            managed_tags(&now.tags, &ignore),
        );
        if before != after {
            let mut keys: Vec<&String> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            keys.sort();
            keys.dedup();
            let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
            reasons.push(format!(
                "the tags of \"{}\" ({id}) changed since the plan: {}",
                observed.name,
                keys.join(", ")
            ));
        }
    }
    reasons
}
