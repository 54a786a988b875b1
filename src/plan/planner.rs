//! `plan(desired, live, options)`: matching (pinned id, then the one active project of that
//! name), the per-project diff, prune of owned projects, quota and the rename-without-id warning.
//! Pure: the same inputs give the same plan, sorted, with no hash order leaking out.

use std::collections::{BTreeSet, HashMap};

use crate::api::{CreateProject, LiveProject, ModifyProject};
use crate::diagnostics::Place;
use crate::manifest::{DesiredProject, TagPatterns};
use crate::policy::Violation;
use crate::rules::{OWNER_TAG, PROJECT_QUOTA, PROTECT_TAG, Tags, is_protected};

use super::diff::{diff_tags, managed_tags};
use super::matching::{Match, Matching, match_projects};
use super::model::{Action, Change, Observed, Request, Summary, TagChange, TagOp, Unmanaged};

pub struct PlanOptions<'a> {
    pub owner: Option<&'a str>,
    pub prune: bool,
    pub ignore: &'a TagPatterns,
    /// `--target NAME`s; empty = every project.
    pub targets: &'a [String],
    /// The policy applied to a live project that the manifest does not declare.
    pub violations: &'a dyn Fn(&LiveProject) -> Vec<Violation>,
}

/// Problems that make the plan unusable (exit 1, no `--out`); the rest is still planned. Those
/// about one desired project carry its place in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{count} active projects are named \"{name}\" ({ids}): tagrec cannot tell which one the manifest means; pin one with `id:` in the manifest (or declare each with its own `id:`)"
    , count = ids.len(), ids = ids.join(", "))]
    Conflict {
        name: String,
        ids: Vec<String>,
        place: Option<Place>,
    },
    #[error(
        "project \"{name}\" is pinned to id {id}, which does not exist in this account; fix or remove `id:`"
    )]
    PinnedMissing {
        name: String,
        id: String,
        place: Option<Place>,
    },
    #[error(
        "project \"{name}\" is pinned to id {id}, which is archived (archiving cannot be undone); remove `id:` to create a new project"
    )]
    PinnedArchived {
        name: String,
        id: String,
        place: Option<Place>,
    },
    #[error("project \"{name}\" is pinned to `default`, which tagrec never manages")]
    PinnedDefault { name: String, place: Option<Place> },
    #[error(
        "this plan would leave {after} active projects, over the account's limit of {PROJECT_QUOTA} ({active} active now, {creates} to create, {archives} to archive); archive projects or create fewer"
    )]
    Quota {
        active: usize,
        creates: usize,
        archives: usize,
        after: usize,
    },
    #[error("--target \"{0}\" matches no project of the manifest and no project to archive")]
    UnknownTarget(String),
}

impl PlanError {
    /// Where in the manifest the project it concerns is declared.
    pub fn place(&self) -> Option<&Place> {
        match self {
            PlanError::Conflict { place, .. }
            | PlanError::PinnedMissing { place, .. }
            | PlanError::PinnedArchived { place, .. }
            | PlanError::PinnedDefault { place, .. } => place.as_ref(),
            PlanError::Quota { .. } | PlanError::UnknownTarget(_) => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planned {
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    pub warnings: Vec<String>,
    pub summary: Summary,
    pub errors: Vec<PlanError>,
}

pub fn plan(desired: &[DesiredProject], live: &[LiveProject], options: &PlanOptions) -> Planned {
    let mut out = Planned::default();
    let Matching { matches, claimed } = match_projects(desired, live);

    let wanted =
        |name: &str| options.targets.is_empty() || options.targets.iter().any(|t| t == name);
    let mut targets_seen: BTreeSet<&str> = BTreeSet::new();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for (d, found) in desired.iter().zip(&matches) {
        let name = || d.name.clone();
        let pinned = || d.id.clone().unwrap_or_default();
        let live_match = match found {
            Match::Live(p) => Some(*p),
            Match::Missing => None,
            Match::PinnedDefault => {
                out.errors.push(PlanError::PinnedDefault {
                    name: name(),
                    place: d.place.clone(),
                });
                continue;
            }
            Match::PinnedMissing => {
                out.errors.push(PlanError::PinnedMissing {
                    name: name(),
                    id: pinned(),
                    place: d.place.clone(),
                });
                continue;
            }
            Match::PinnedArchived => {
                out.errors.push(PlanError::PinnedArchived {
                    name: name(),
                    id: pinned(),
                    place: d.place.clone(),
                });
                continue;
            }
            Match::Conflict(many) => {
                out.errors.push(PlanError::Conflict {
                    name: name(),
                    ids: many.iter().map(|p| p.id.clone()).collect(),
                    place: d.place.clone(),
                });
                continue;
            }
        };
        if !wanted(&d.name) {
            continue;
        }
        targets_seen.insert(d.name.as_str());
        match live_match {
            None => creates.push(create_change(d)),
            Some(p) => match update_change(d, p, options.ignore) {
                Some(change) => updates.push(change),
                None => out.summary.unchanged += 1,
            },
        }
    }

    let mut archives = Vec::new();
    for p in live {
        if !p.is_active() || p.is_default() || claimed.contains(p.id.as_str()) {
            continue;
        }
        let owned = options
            .owner
            .is_some_and(|o| p.tags.get(OWNER_TAG).map(String::as_str) == Some(o));
        let protected = is_protected(&p.tags);
        if options.prune && owned && !protected && wanted(&p.name) {
            targets_seen.insert(p.name.as_str());
            archives.push(Change {
                action: Action::Archive,
                name: p.name.clone(),
                id: Some(p.id.clone()),
                reason: Some("owned, no longer declared".to_string()),
                request: None,
                tag_changes: Vec::new(),
                observed: Some(Observed::from(p)),
            });
        } else if options.targets.is_empty() {
            if options.prune && owned && protected {
                out.summary.protected += 1;
            }
            out.unmanaged.push(Unmanaged {
                name: p.name.clone(),
                id: p.id.clone(),
                protected,
                owned,
                tags: p.tags.clone(),
                violations: (options.violations)(p),
            });
        }
    }

    for t in options.targets {
        if !targets_seen.contains(t.as_str()) && !out.errors.iter().any(|e| names(e, t)) {
            out.errors.push(PlanError::UnknownTarget(t.clone()));
        }
    }

    let by_name_id = |a: &Change, b: &Change| a.name.cmp(&b.name).then(a.id.cmp(&b.id));
    archives.sort_by(by_name_id);
    creates.sort_by(by_name_id);
    updates.sort_by(by_name_id);
    out.unmanaged
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    out.warnings = rename_warnings(&creates, &archives, options.ignore);

    let active = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .count();
    let after = (active + creates.len()).saturating_sub(archives.len());
    if !creates.is_empty() && after > PROJECT_QUOTA {
        out.errors.push(PlanError::Quota {
            active,
            creates: creates.len(),
            archives: archives.len(),
            after,
        });
    }

    out.summary.create = creates.len();
    out.summary.update = updates.len();
    out.summary.archive = archives.len();
    out.summary.unmanaged = out.unmanaged.len();
    out.changes = archives;
    out.changes.extend(creates);
    out.changes.extend(updates);
    out
}

fn names(error: &PlanError, target: &str) -> bool {
    match error {
        PlanError::Conflict { name, .. }
        | PlanError::PinnedMissing { name, .. }
        | PlanError::PinnedArchived { name, .. }
        | PlanError::PinnedDefault { name, .. } => name == target,
        _ => false,
    }
}

fn create_change(d: &DesiredProject) -> Change {
    let tag_changes = d
        .tags
        .iter()
        .map(|(k, t)| TagChange {
            op: TagOp::Add,
            key: Some(k.clone()),
            from_key: None,
            before: None,
            after: Some(t.value.clone()),
            source: Some(t.source),
        })
        .collect();
    Change {
        action: Action::Create,
        name: d.name.clone(),
        id: None,
        reason: None,
        request: Some(Request::Create(CreateProject {
            name: d.name.clone(),
            tags: d.tag_values(),
            data_retention: None,
        })),
        tag_changes,
        observed: None,
    }
}

fn update_change(d: &DesiredProject, p: &LiveProject, ignore: &TagPatterns) -> Option<Change> {
    let diff = diff_tags(&d.tags, &p.tags, ignore, d.protect);
    let mut request: ModifyProject = diff.request;
    let mut tag_changes = Vec::new();
    if p.name != d.name {
        request.name = Some(d.name.clone());
        tag_changes.push(TagChange {
            op: TagOp::RenameProject,
            key: None,
            from_key: None,
            before: Some(p.name.clone()),
            after: Some(d.name.clone()),
            source: None,
        });
    }
    if request.is_empty() {
        return None;
    }
    tag_changes.extend(diff.changes);
    Some(Change {
        action: Action::Update,
        name: d.name.clone(),
        id: Some(p.id.clone()),
        reason: None,
        request: Some(Request::Modify(request)),
        tag_changes,
        observed: Some(Observed::from(p)),
    })
}

/// A create beside an archive of a project with the same tags is probably a rename made without
/// `id:`: the new project would get a new id and break the traffic that uses the old one.
/// Archives are indexed by their tag set once: comparing every create with every archive was
/// quadratic (minutes for 5,000 of each). `tagrec:protect` is left out of the comparison: an
/// archived project may carry it by hand with another value than `"true"`, a create never does.
fn rename_warnings(creates: &[Change], archives: &[Change], ignore: &TagPatterns) -> Vec<String> {
    let compared = |tags: &Tags| {
        let mut tags = managed_tags(tags, ignore);
        tags.remove(PROTECT_TAG);
        tags
    };
    let mut archived_by_tags: HashMap<Tags, Vec<&Change>> = HashMap::new();
    for a in archives {
        if let Some(observed) = &a.observed {
            archived_by_tags
                .entry(compared(&observed.tags))
                .or_default()
                .push(a);
        }
    }
    let mut warnings = Vec::new();
    if archived_by_tags.is_empty() {
        return warnings;
    }
    for c in creates {
        let Some(request) = c.create_request() else {
            continue;
        };
        let Some(same_tags) = archived_by_tags.get(&compared(&request.tags)) else {
            continue;
        };
        // In the archives' own (sorted) order, as before.
        for a in same_tags {
            warnings.push(format!(
                "\"{}\" is created while \"{}\" ({}) with the same tags is archived: if this is a rename, pin `id: {}` on \"{}\" to rename it in place (a new project gets a new id, and traffic using the old id breaks)",
                c.name,
                a.name,
                a.id.as_deref().unwrap_or("?"),
                a.id.as_deref().unwrap_or("?"),
                c.name
            ));
        }
    }
    warnings
}
