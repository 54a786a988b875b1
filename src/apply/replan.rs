//! Between passes: the unfinished changes of the plan being applied, planned again from the live
//! state by the planner itself. The desired state is what each change set out to make (a
//! create's request, an update's observed tags with its request applied, an archive), never the
//! manifest as it is now: what was approved, or saved, is what gets finished. A create whose
//! answer was lost is adopted (a project with its name, new since the run began and not claimed
//! by another change), never created twice.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::api::LiveProject;
use crate::manifest::{DesiredProject, DesiredTag, TagPatterns, TagSource};
use crate::plan::{Action, Change, PlanError, PlanOptions, plan};
use crate::rules::{OWNER_TAG, PROTECT_TAG, is_protected};

use super::verify::mismatch;
use super::{ChangeResult, Status};

/// What the next pass does for one unfinished change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replanned {
    /// Send this change (for an adopted create: the update that finishes its tags).
    Again { change: Box<Change>, adopted: bool },
    /// Nothing to send: the live state is what the change set out to make.
    Done { id: Option<String>, adopted: bool },
    /// Nothing to send yet: look again in the next pass (a project made by this run that the
    /// list does not show yet).
    Wait(String),
    /// The live state changed under the change in a way no retry can fix.
    Failed(String),
}

/// Plans `items` (each: the plan's change and the id this run made or adopted for it, if any)
/// again from `live`. Ids adopted here are added to `claimed`. One outcome per item, in order.
pub fn replan(
    items: &[(&Change, Option<&str>)],
    live: &[LiveProject],
    ignore: &TagPatterns,
    known_ids: &HashSet<String>,
    claimed: &mut HashSet<String>,
) -> Vec<Replanned> {
    let by_id: HashMap<&str, &LiveProject> = live.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut outcomes: Vec<Option<Replanned>> = vec![None; items.len()];
    let mut desired: Vec<DesiredProject> = Vec::new();
    // Which item each desired project, or archived id, stands for.
    let mut pinned: HashMap<String, usize> = HashMap::new();
    let mut unpinned: HashMap<String, usize> = HashMap::new();
    let mut adopted: HashSet<usize> = HashSet::new();
    let mut owner: Option<String> = None;

    for (i, (change, id)) in items.iter().enumerate() {
        match change.action {
            Action::Create => {
                let Some(request) = change.create_request() else {
                    outcomes[i] = Some(Replanned::Failed(
                        "the plan has no request for this create".into(),
                    ));
                    continue;
                };
                let id = match id {
                    Some(id) => Some(id.to_string()),
                    None => match find_adoptable(live, &request.name, known_ids, claimed) {
                        Adoptable::One(id) => {
                            claimed.insert(id.clone());
                            adopted.insert(i);
                            Some(id)
                        }
                        Adoptable::None => None,
                        Adoptable::Taken(ids) => {
                            outcomes[i] = Some(Replanned::Failed(format!(
                                "\"{}\" would be created, but an active project with that name exists now ({}) that this apply did not make: make a new plan",
                                request.name,
                                ids.join(", ")
                            )));
                            continue;
                        }
                    },
                };
                if let Some(id) = &id
                    && !by_id.contains_key(id.as_str())
                {
                    outcomes[i] = Some(Replanned::Wait(format!(
                        "\"{}\" ({id}) was made by this apply but is not in the list yet",
                        request.name
                    )));
                    continue;
                }
                match &id {
                    Some(id) => pinned.insert(id.clone(), i),
                    None => unpinned.insert(request.name.clone(), i),
                };
                let protect = request.tags.contains_key(PROTECT_TAG);
                desired.push(desired_project(&request.name, id, &request.tags, protect));
            }
            Action::Update => {
                let (Some(id), Some(request), Some(observed)) = (
                    change.id.as_deref(),
                    change.modify_request(),
                    change.observed.as_ref(),
                ) else {
                    outcomes[i] = Some(Replanned::Failed(
                        "the plan has no id, request or observed state for this update".into(),
                    ));
                    continue;
                };
                let name = request.name.as_deref().unwrap_or(&observed.name);
                let tags = request.apply_to(&observed.tags);
                // `tagrec:protect` is compared only when the change itself set or removed it.
                let protect = request.add_tags.contains_key(PROTECT_TAG)
                    || request.remove_tag_keys.iter().any(|k| k == PROTECT_TAG);
                pinned.insert(id.to_string(), i);
                desired.push(desired_project(name, Some(id.to_string()), &tags, protect));
            }
            Action::Archive => {
                let Some(id) = change.id.as_deref() else {
                    outcomes[i] = Some(Replanned::Failed(
                        "the plan has no id for this archive".into(),
                    ));
                    continue;
                };
                // The planner archives what the manifest's owner owns: the owner the plan saw.
                if owner.is_none() {
                    owner = change
                        .observed
                        .as_ref()
                        .and_then(|o| o.tags.get(OWNER_TAG).cloned());
                }
                pinned.insert(id.to_string(), i);
            }
        }
    }

    let planned = plan(
        &desired,
        live,
        &PlanOptions {
            owner: owner.as_deref(),
            prune: owner.is_some(),
            ignore,
            targets: &[],
            violations: &|_| Vec::new(),
        },
    );

    for change in planned.changes {
        let item = match change.action {
            Action::Create => unpinned.get(&change.name),
            Action::Update | Action::Archive => change.id.as_deref().and_then(|id| pinned.get(id)),
        };
        // Anything else the planner finds (drift elsewhere) was not approved: left alone.
        if let Some(&i) = item
            && outcomes[i].is_none()
        {
            outcomes[i] = Some(Replanned::Again {
                change: Box::new(change),
                adopted: adopted.contains(&i),
            });
        }
    }
    for error in &planned.errors {
        let (message, items_of): (String, Vec<usize>) = match error {
            PlanError::PinnedMissing { name, id, .. } => (
                format!("\"{name}\" ({id}) no longer exists: make a new plan"),
                pinned.get(id).copied().into_iter().collect(),
            ),
            PlanError::PinnedArchived { name, id, .. } => (
                format!("\"{name}\" ({id}) was archived while apply ran"),
                pinned.get(id).copied().into_iter().collect(),
            ),
            PlanError::Conflict { name, ids, .. } => (
                format!(
                    "\"{name}\" would be created, but {} active projects with that name exist now ({}): make a new plan",
                    ids.len(),
                    ids.join(", ")
                ),
                unpinned.get(name).copied().into_iter().collect(),
            ),
            other => (other.to_string(), unpinned.values().copied().collect()),
        };
        for i in items_of {
            if matches!(outcomes[i], None | Some(Replanned::Again { .. })) {
                outcomes[i] = Some(Replanned::Failed(message.clone()));
            }
        }
    }

    // The planner has nothing to do for the rest: the live state should be what each set out
    // to make. Checked as verification checks, so that a change the planner no longer makes
    // (an archive whose project got protected meanwhile) is not counted done.
    let mut ids_of: Vec<Option<String>> = items
        .iter()
        .map(|(c, id)| id.map(str::to_string).or_else(|| c.id.clone()))
        .collect();
    for (id, &i) in &pinned {
        ids_of[i] = Some(id.clone());
    }
    items
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, ((change, _), outcome))| {
            if let Some(outcome) = outcome {
                return outcome;
            }
            let result = ChangeResult {
                action: change.action,
                name: change.name.clone(),
                id: ids_of[i].clone(),
                status: Status::Done,
                error: None,
                note: None,
            };
            match mismatch(change, &result, &by_id, ignore) {
                None => Replanned::Done {
                    id: result.id,
                    adopted: adopted.contains(&i),
                },
                Some(why) => Replanned::Failed(format!(
                    "the project changed while apply ran, and the plan no longer applies: {why}; make a new plan"
                )),
            }
        })
        .collect()
}

enum Adoptable {
    One(String),
    None,
    /// Active projects have the name, but none is this run's to take.
    Taken(Vec<String>),
}

/// The oldest active project named `name` that is new since the run began and not claimed by
/// another change (the same rule as after a lost create answer in a pass).
fn find_adoptable(
    live: &[LiveProject],
    name: &str,
    known_ids: &HashSet<String>,
    claimed: &HashSet<String>,
) -> Adoptable {
    let mut same: Vec<&LiveProject> = live
        .iter()
        .filter(|p| p.is_active() && p.name == name)
        .collect();
    if same.is_empty() {
        return Adoptable::None;
    }
    same.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    match same
        .iter()
        .find(|p| !known_ids.contains(&p.id) && !claimed.contains(&p.id))
    {
        Some(p) => Adoptable::One(p.id.clone()),
        None => Adoptable::Taken(same.iter().map(|p| p.id.clone()).collect()),
    }
}

fn desired_project(
    name: &str,
    id: Option<String>,
    tags: &BTreeMap<String, String>,
    protect: bool,
) -> DesiredProject {
    DesiredProject {
        name: name.to_string(),
        id,
        protect: protect.then(|| is_protected(tags)),
        tags: tags
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    DesiredTag {
                        value: v.clone(),
                        source: TagSource::Project,
                    },
                )
            })
            .collect(),
        place: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CreateProject, ModifyProject, ProjectStatus};
    use crate::plan::model::{Observed, Request};

    use crate::rules::tags_of as tags;

    fn live(id: &str, name: &str, pairs: &[(&str, &str)], created_at: i64) -> LiveProject {
        LiveProject {
            id: id.into(),
            object: "organization.project".into(),
            name: name.into(),
            arn: None,
            created_at,
            status: ProjectStatus::Active,
            archived_at: None,
            tags: tags(pairs),
            data_retention: None,
        }
    }

    fn create(name: &str, pairs: &[(&str, &str)]) -> Change {
        Change {
            action: Action::Create,
            name: name.into(),
            id: None,
            reason: None,
            request: Some(Request::Create(CreateProject {
                name: name.into(),
                tags: tags(pairs),
                data_retention: None,
            })),
            tag_changes: Vec::new(),
            observed: None,
        }
    }

    fn update(id: &str, name: &str, before: &[(&str, &str)], add: &[(&str, &str)]) -> Change {
        Change {
            action: Action::Update,
            name: name.into(),
            id: Some(id.into()),
            reason: None,
            request: Some(Request::Modify(ModifyProject {
                add_tags: tags(add),
                ..ModifyProject::default()
            })),
            tag_changes: Vec::new(),
            observed: Some(Observed {
                name: name.into(),
                status: ProjectStatus::Active,
                tags: tags(before),
            }),
        }
    }

    fn archive(id: &str, name: &str) -> Change {
        Change {
            action: Action::Archive,
            name: name.into(),
            id: Some(id.into()),
            reason: Some("owned, no longer declared".into()),
            request: None,
            tag_changes: Vec::new(),
            observed: Some(Observed {
                name: name.into(),
                status: ProjectStatus::Active,
                tags: tags(&[("ManagedBy", "me")]),
            }),
        }
    }

    fn run(items: &[(&Change, Option<&str>)], live: &[LiveProject]) -> Vec<Replanned> {
        let known: HashSet<String> = ["proj_old".to_string()].into();
        let mut claimed = HashSet::new();
        replan(items, live, &TagPatterns::default(), &known, &mut claimed)
    }

    #[test]
    fn a_lost_create_that_happened_is_adopted_and_finished_never_created_again() {
        let c = create("New", &[("Team", "a"), ("Owner", "b")]);
        // Made, but its tags did not all land.
        let live_now = [live("proj_new", "New", &[("Team", "a")], 5)];
        let out = run(&[(&c, None)], &live_now);
        match &out[0] {
            Replanned::Again { change, adopted } => {
                assert!(adopted);
                assert_eq!(change.action, Action::Update);
                assert_eq!(change.id.as_deref(), Some("proj_new"));
                assert_eq!(
                    change.modify_request().map(|m| m.add_tags.clone()),
                    Some(tags(&[("Owner", "b")]))
                );
            }
            other => panic!("{other:?}"),
        }
        // Already right: done, with the id found.
        let live_now = [live("proj_new", "New", &[("Team", "a"), ("Owner", "b")], 5)];
        assert_eq!(
            run(&[(&c, None)], &live_now),
            vec![Replanned::Done {
                id: Some("proj_new".into()),
                adopted: true
            }]
        );
    }

    #[test]
    fn a_create_that_did_not_happen_is_planned_again() {
        let c = create("New", &[("Team", "a")]);
        let out = run(&[(&c, None)], &[]);
        assert!(
            matches!(&out[0], Replanned::Again { change, adopted: false } if change.action == Action::Create),
            "{out:?}"
        );
    }

    #[test]
    fn a_project_known_before_the_run_is_never_adopted() {
        let c = create("New", &[("Team", "a")]);
        let out = run(&[(&c, None)], &[live("proj_old", "New", &[], 1)]);
        assert!(
            matches!(&out[0], Replanned::Failed(m) if m.contains("proj_old") && m.contains("make a new plan")),
            "{out:?}"
        );
    }

    #[test]
    fn a_made_project_not_listed_yet_is_waited_for() {
        let c = create("New", &[("Team", "a")]);
        let out = run(&[(&c, Some("proj_new"))], &[]);
        assert!(matches!(&out[0], Replanned::Wait(_)), "{out:?}");
    }

    #[test]
    fn an_update_is_sent_again_until_the_live_tags_match() {
        let u = update("proj_old", "Fix", &[("Team", "x")], &[("Team", "y")]);
        let before = [live("proj_old", "Fix", &[("Team", "x")], 1)];
        assert!(matches!(
            &run(&[(&u, None)], &before)[0],
            Replanned::Again { change, .. } if change.id.as_deref() == Some("proj_old")
        ));
        let after = [live("proj_old", "Fix", &[("Team", "y")], 1)];
        assert_eq!(
            run(&[(&u, None)], &after),
            vec![Replanned::Done {
                id: Some("proj_old".into()),
                adopted: false
            }]
        );
        let archived = [LiveProject {
            status: ProjectStatus::Archived,
            ..live("proj_old", "Fix", &[("Team", "x")], 1)
        }];
        assert!(matches!(
            &run(&[(&u, None)], &archived)[0],
            Replanned::Failed(m) if m.contains("archived")
        ));
    }

    #[test]
    fn an_archive_is_sent_again_while_active_and_done_once_archived() {
        let a = archive("proj_old", "Gone");
        let active = [live("proj_old", "Gone", &[("ManagedBy", "me")], 1)];
        assert!(matches!(
            &run(&[(&a, None)], &active)[0],
            Replanned::Again { change, .. } if change.action == Action::Archive
        ));
        let archived = [LiveProject {
            status: ProjectStatus::Archived,
            ..active[0].clone()
        }];
        assert!(matches!(
            &run(&[(&a, None)], &archived)[0],
            Replanned::Done { .. }
        ));
        // Protected meanwhile: the planner no longer archives it, and it is not done either.
        let protected = [live(
            "proj_old",
            "Gone",
            &[("ManagedBy", "me"), ("tagrec:protect", "true")],
            1,
        )];
        assert!(matches!(
            &run(&[(&a, None)], &protected)[0],
            Replanned::Failed(m) if m.contains("make a new plan")
        ));
    }

    #[test]
    fn drift_on_projects_outside_the_unfinished_changes_is_left_alone() {
        let u = update("proj_old", "Fix", &[("Team", "x")], &[("Team", "y")]);
        let now = [
            live("proj_old", "Fix", &[("Team", "y")], 1),
            live("proj_other", "Other", &[("ManagedBy", "me")], 1),
        ];
        let out = run(&[(&u, None)], &now);
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], Replanned::Done { .. }));
    }
}
