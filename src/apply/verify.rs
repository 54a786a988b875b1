//! Verification after writing: one re-list (all pages, not one read per project), every change
//! compared with what it asked for. A mismatch is re-checked over the settle window, since lists
//! may lag writes, before it counts as a failure naming the project and the tag.

use std::collections::HashMap;
use std::time::Duration;

use crate::api::{LiveProject, ProjectStatus, ProjectsApi};
use crate::manifest::TagPatterns;
use crate::plan::diff::managed_tags;
use crate::plan::{Action, Change};

use super::ChangeResult;

/// Returns (index into `checks`, message) for each change that did not take effect.
pub async fn verify(
    api: &dyn ProjectsApi,
    checks: &[(&Change, &ChangeResult)],
    ignore: &TagPatterns,
    settle: &[Duration],
) -> Vec<(usize, String)> {
    let mut pending: Vec<usize> = (0..checks.len()).collect();
    let mut last: HashMap<usize, String> = HashMap::new();
    let waits = std::iter::once(Duration::ZERO).chain(settle.iter().copied());
    for wait in waits {
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(wait).await;
        let live = match api.list().await {
            Ok(live) => live,
            Err(e) => {
                for &i in &pending {
                    last.insert(i, format!("could not list projects to verify: {e}"));
                }
                continue;
            }
        };
        let by_id: HashMap<&str, &LiveProject> = live.iter().map(|p| (p.id.as_str(), p)).collect();
        pending.retain(|&i| {
            let (change, result) = checks[i];
            match mismatch(change, result, &by_id, ignore) {
                Some(message) => {
                    last.insert(i, message);
                    true
                }
                None => false,
            }
        });
    }
    pending
        .into_iter()
        .map(|i| {
            let message = last.remove(&i).unwrap_or_default();
            (i, format!("verification failed: {message}"))
        })
        .collect()
}

pub(crate) fn mismatch(
    change: &Change,
    result: &ChangeResult,
    by_id: &HashMap<&str, &LiveProject>,
    ignore: &TagPatterns,
) -> Option<String> {
    let id = result.id.as_deref()?;
    let Some(project) = by_id.get(id) else {
        return Some(format!("\"{}\" ({id}) is not in the list", change.name));
    };
    let who = format!("\"{}\" ({id})", change.name);
    match change.action {
        Action::Archive => (project.status != ProjectStatus::Archived)
            .then(|| format!("{who} is still {}", project.status.as_str())),
        Action::Create => {
            let request = change.create_request()?;
            if project.name != request.name {
                return Some(format!("{who} is named \"{}\"", project.name));
            }
            let want = managed_tags(&request.tags, ignore);
            let have = managed_tags(&project.tags, ignore);
            tag_mismatch(&who, &want, &have)
        }
        Action::Update => {
            let request = change.modify_request()?;
            if let Some(name) = &request.name
                && &project.name != name
            {
                return Some(format!("{who} is named \"{}\"", project.name));
            }
            for (k, v) in &request.add_tags {
                match project.tags.get(k) {
                    Some(have) if have == v => {}
                    Some(have) => {
                        return Some(format!("{who}: tag {k} is \"{have}\", expected \"{v}\""));
                    }
                    None => return Some(format!("{who}: tag {k} is missing, expected \"{v}\"")),
                }
            }
            request
                .remove_tag_keys
                .iter()
                .find(|k| project.tags.contains_key(*k))
                .map(|k| format!("{who}: tag {k} is still there, expected it removed"))
        }
    }
}

fn tag_mismatch(who: &str, want: &crate::api::Tags, have: &crate::api::Tags) -> Option<String> {
    for (k, v) in want {
        match have.get(k) {
            Some(h) if h == v => {}
            Some(h) => return Some(format!("{who}: tag {k} is \"{h}\", expected \"{v}\"")),
            None => return Some(format!("{who}: tag {k} is missing, expected \"{v}\"")),
        }
    }
    have.keys()
        .find(|k| !want.contains_key(*k))
        .map(|k| format!("{who}: unexpected tag {k}"))
}
