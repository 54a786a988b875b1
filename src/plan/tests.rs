//! The planner's rules, one test each, and the properties that make it safe to run unattended:
//! applying a plan then planning again gives no changes; `default`, ignored keys, protected and
//! unowned projects are never touched; the same inputs give the same plan.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::planner::Planned;
use super::*;
use crate::api::{LiveProject, ProjectStatus, Tags};
use crate::manifest::{DesiredProject, DesiredTag, TagPatterns, TagSource};
use crate::policy::Violation;
use crate::rules::{OWNER_TAG, PROTECT_TAG};

fn live(id: &str, name: &str, tags: &[(&str, &str)]) -> LiveProject {
    LiveProject {
        id: id.into(),
        object: "organization.project".into(),
        name: name.into(),
        arn: None,
        created_at: 0,
        status: ProjectStatus::Active,
        archived_at: None,
        tags: crate::rules::tags_of(tags),
        data_retention: None,
    }
}

fn default_project() -> LiveProject {
    live("default", "default", &[])
}

fn desired(name: &str, tags: &[(&str, &str)]) -> DesiredProject {
    DesiredProject {
        name: name.into(),
        id: None,
        protect: None,
        tags: desired_tags(tags),
        place: None,
    }
}

/// Effective tags written in the project itself.
pub(super) fn desired_tags(pairs: &[(&str, &str)]) -> BTreeMap<String, DesiredTag> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                DesiredTag {
                    value: v.to_string(),
                    source: TagSource::Project,
                },
            )
        })
        .collect()
}

fn no_violations(_: &LiveProject) -> Vec<Violation> {
    Vec::new()
}

struct Opts {
    owner: Option<String>,
    prune: bool,
    ignore: TagPatterns,
    targets: Vec<String>,
}

impl Opts {
    fn new() -> Self {
        Opts {
            owner: None,
            prune: false,
            ignore: TagPatterns::default(),
            targets: Vec::new(),
        }
    }

    fn plan(&self, d: &[DesiredProject], l: &[LiveProject]) -> Planned {
        plan(
            d,
            l,
            &PlanOptions {
                owner: self.owner.as_deref(),
                prune: self.prune,
                ignore: &self.ignore,
                targets: &self.targets,
                violations: &no_violations,
            },
        )
    }
}

#[test]
fn unmatched_desired_project_is_created_with_all_its_tags() {
    let p = Opts::new().plan(&[desired("Search", &[("Team", "S")])], &[default_project()]);
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::Create);
    let req = p.changes[0].create_request().unwrap();
    assert_eq!(req.name, "Search");
    assert_eq!(req.tags.get("Team").map(String::as_str), Some("S"));
    assert!(p.unmanaged.is_empty(), "default is never unmanaged");
}

#[test]
fn matching_is_by_active_name_and_archived_projects_are_ignored() {
    let mut archived = live("proj_old", "Search", &[]);
    archived.status = ProjectStatus::Archived;
    let p = Opts::new().plan(&[desired("Search", &[])], &[archived]);
    assert_eq!(p.changes[0].action, Action::Create);
}

#[test]
fn two_active_projects_with_the_name_are_a_conflict_with_their_ids() {
    let p = Opts::new().plan(
        &[desired("Search", &[])],
        &[live("proj_b", "Search", &[]), live("proj_a", "Search", &[])],
    );
    assert!(p.changes.is_empty());
    assert!(
        p.unmanaged.is_empty(),
        "the conflicting projects are not unmanaged"
    );
    assert_eq!(
        p.errors,
        vec![PlanError::Conflict {
            name: "Search".into(),
            ids: vec!["proj_a".into(), "proj_b".into()],
            place: None,
        }]
    );
    assert!(p.errors[0].to_string().contains("pin one with `id:`"));
}

#[test]
fn pinned_id_matches_even_with_a_duplicate_name_and_renames_the_project() {
    let mut d = desired("New-Name", &[]);
    d.id = Some("proj_a".into());
    let p = Opts::new().plan(
        &[d],
        &[
            live("proj_a", "Old-Name", &[]),
            live("proj_b", "New-Name", &[]),
        ],
    );
    assert!(p.errors.is_empty());
    assert_eq!(p.changes.len(), 1);
    let c = &p.changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.id.as_deref(), Some("proj_a"));
    assert_eq!(
        c.modify_request().unwrap().name.as_deref(),
        Some("New-Name")
    );
    assert_eq!(c.tag_changes[0].op, TagOp::RenameProject);
    assert_eq!(p.unmanaged.len(), 1, "proj_b is not the pinned project");
}

#[test]
fn pinned_id_missing_or_archived_is_an_error() {
    let mut gone = desired("A", &[]);
    gone.id = Some("proj_gone".into());
    let mut arch = desired("B", &[]);
    arch.id = Some("proj_arch".into());
    let mut archived = live("proj_arch", "B", &[]);
    archived.status = ProjectStatus::Archived;
    let p = Opts::new().plan(&[gone, arch], &[archived]);
    assert!(p.changes.is_empty());
    assert_eq!(p.errors.len(), 2);
}

#[test]
fn owned_projects_that_left_the_manifest_are_archived_only_with_prune() {
    let l = [
        default_project(),
        live("proj_o", "Old", &[(OWNER_TAG, "platform")]),
        live("proj_x", "Other", &[(OWNER_TAG, "someone-else")]),
        live(
            "proj_p",
            "Kept",
            &[(OWNER_TAG, "platform"), (PROTECT_TAG, "true")],
        ),
    ];
    let mut o = Opts::new();
    o.owner = Some("platform".into());
    let p = o.plan(&[], &l);
    assert!(p.changes.is_empty(), "no prune, no archive");
    assert_eq!(p.unmanaged.len(), 3);

    o.prune = true;
    let p = o.plan(&[], &l);
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::Archive);
    assert_eq!(p.changes[0].id.as_deref(), Some("proj_o"));
    assert_eq!(p.summary.protected, 1);
    let kept: Vec<_> = p
        .unmanaged
        .iter()
        .map(|u| (u.id.as_str(), u.protected))
        .collect();
    assert_eq!(kept, vec![("proj_p", true), ("proj_x", false)]);
}

#[test]
fn changes_are_sorted_archives_creates_updates() {
    let mut o = Opts::new();
    o.owner = Some("me".into());
    o.prune = true;
    let p = o.plan(
        &[
            desired("Z-update", &[("A", "2")]),
            desired("B-create", &[]),
            desired("A-create", &[]),
        ],
        &[
            live("proj_u", "Z-update", &[("A", "1")]),
            live("proj_o", "Y-archive", &[(OWNER_TAG, "me")]),
        ],
    );
    let order: Vec<_> = p
        .changes
        .iter()
        .map(|c| (c.action, c.name.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Action::Archive, "Y-archive"),
            (Action::Create, "A-create"),
            (Action::Create, "B-create"),
            (Action::Update, "Z-update")
        ]
    );
}

#[test]
fn create_beside_archive_with_the_same_tags_warns_of_a_rename_without_id() {
    let mut o = Opts::new();
    o.owner = Some("me".into());
    o.prune = true;
    let p = o.plan(
        &[desired("New", &[("Team", "T"), (OWNER_TAG, "me")])],
        &[live("proj_old", "Old", &[("Team", "T"), (OWNER_TAG, "me")])],
    );
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("id: proj_old"), "{}", p.warnings[0]);
}

#[test]
fn creates_past_the_quota_stop_the_plan() {
    let l: Vec<LiveProject> = (0..999)
        .map(|i| live(&format!("proj_{i:05}"), &format!("P{i}"), &[]))
        .collect();
    let p = Opts::new().plan(&[desired("New1", &[]), desired("New2", &[])], &l);
    assert!(matches!(
        p.errors.as_slice(),
        [PlanError::Quota { after: 1001, .. }]
    ));
    let p = Opts::new().plan(&[desired("New1", &[])], &l);
    assert!(p.errors.is_empty());
}

#[test]
fn targets_limit_the_plan_and_an_unknown_target_is_an_error() {
    let mut o = Opts::new();
    o.targets = vec!["A".into(), "Nope".into()];
    let p = o.plan(
        &[desired("A", &[]), desired("B", &[])],
        &[default_project()],
    );
    let names: Vec<_> = p.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["A"]);
    assert_eq!(p.errors, vec![PlanError::UnknownTarget("Nope".into())]);
}

/// An entry with `protect:` as written, and its effective tags as the loader makes them.
fn with_protect(mut d: DesiredProject, protect: Option<bool>) -> DesiredProject {
    d.protect = protect;
    if protect == Some(true) {
        d.tags.insert(
            PROTECT_TAG.into(),
            DesiredTag {
                value: "true".into(),
                source: TagSource::Protect,
            },
        );
    }
    d
}

/// What one plan does to a matched project's `tagrec:protect`: None when it leaves it alone,
/// Some(None) when it removes it, Some(Some(v)) when it sets it to v.
fn protect_write(entry: Option<bool>, live_value: Option<&str>) -> Option<Option<String>> {
    let mut tags = vec![("Team", "T")];
    if let Some(v) = live_value {
        tags.push((PROTECT_TAG, v));
    }
    let d = with_protect(desired("P", &[("Team", "T")]), entry);
    let p = Opts::new().plan(&[d], &[live("proj_p", "P", &tags)]);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let change = p.changes.first()?;
    let request = change.modify_request().expect("an update");
    assert!(
        request
            .add_tags
            .keys()
            .chain(&request.remove_tag_keys)
            .all(|k| k == PROTECT_TAG),
        "only tagrec:protect changes: {request:?}"
    );
    if let Some(v) = request.add_tags.get(PROTECT_TAG) {
        return Some(Some(v.clone()));
    }
    assert_eq!(request.remove_tag_keys, vec![PROTECT_TAG.to_string()]);
    Some(None)
}

#[test]
fn without_protect_the_live_tag_is_left_as_it_is_whatever_its_value() {
    assert_eq!(protect_write(None, None), None);
    assert_eq!(
        protect_write(None, Some("true")),
        None,
        "protection stays on the project"
    );
    assert_eq!(
        protect_write(None, Some("yes")),
        None,
        "a value set by hand is kept"
    );
    assert_eq!(protect_write(None, Some("")), None);
}

#[test]
fn protect_true_writes_true_over_any_other_value() {
    assert_eq!(protect_write(Some(true), None), Some(Some("true".into())));
    assert_eq!(protect_write(Some(true), Some("true")), None);
    assert_eq!(
        protect_write(Some(true), Some("yes")),
        Some(Some("true".into()))
    );
    assert_eq!(
        protect_write(Some(true), Some("TRUE")),
        Some(Some("true".into()))
    );
}

#[test]
fn protect_false_removes_the_live_tag_whatever_its_value() {
    assert_eq!(protect_write(Some(false), None), None);
    assert_eq!(protect_write(Some(false), Some("true")), Some(None));
    assert_eq!(protect_write(Some(false), Some("no")), Some(None));
}

#[test]
fn only_the_value_true_keeps_an_owned_project_from_prune() {
    let mut o = Opts::new();
    o.owner = Some("me".into());
    o.prune = true;
    let l = [
        live("proj_t", "T", &[(OWNER_TAG, "me"), (PROTECT_TAG, "true")]),
        live("proj_y", "Y", &[(OWNER_TAG, "me"), (PROTECT_TAG, "yes")]),
    ];
    let p = o.plan(&[], &l);
    let archived: Vec<_> = p.changes.iter().map(|c| c.id.as_deref()).collect();
    assert_eq!(archived, vec![Some("proj_y")]);
    assert_eq!(p.summary.protected, 1);
}

#[test]
fn a_rename_without_id_is_seen_past_a_hand_written_protect_value() {
    let mut o = Opts::new();
    o.owner = Some("me".into());
    o.prune = true;
    let p = o.plan(
        &[desired("New", &[("Team", "T"), (OWNER_TAG, "me")])],
        &[live(
            "proj_old",
            "Old",
            &[("Team", "T"), (OWNER_TAG, "me"), (PROTECT_TAG, "no")],
        )],
    );
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
}

#[test]
fn two_pinned_entries_with_one_name_each_match_their_own_project() {
    let pinned = |id: &str, team: &str| {
        let mut d = desired("Search", &[("Team", team)]);
        d.id = Some(id.into());
        d
    };
    let l = [
        live("proj_b", "Search", &[("Team", "old")]),
        live("proj_a", "Search", &[("Team", "old")]),
        live("proj_c", "Elsewhere", &[]),
    ];
    // The entry pinned to proj_c renames it to the shared name; the API allows it.
    let d = [
        pinned("proj_c", "c"),
        pinned("proj_b", "b"),
        pinned("proj_a", "a"),
    ];
    let p = Opts::new().plan(&d, &l);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let got: Vec<_> = p
        .changes
        .iter()
        .map(|c| {
            let request = c.modify_request().unwrap();
            (
                c.name.as_str(),
                c.id.as_deref().unwrap(),
                request.add_tags["Team"].as_str(),
                request.name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Search", "proj_a", "a", None),
            ("Search", "proj_b", "b", None),
            ("Search", "proj_c", "c", Some("Search")),
        ],
        "each by its id, sorted by name then id"
    );
    assert!(p.unmanaged.is_empty());
    let mut after = l.to_vec();
    execute(&p, &mut after);
    assert!(Opts::new().plan(&d, &after).changes.is_empty());
}

// ---- properties ----

const NAMES: &[&str] = &["Alpha", "Beta", "Gamma", "Delta", "default"];
const KEYS: &[&str] = &[
    "Team",
    "team",
    "TEAM",
    "Owner",
    "CostCenter",
    "costcenter",
    "aws:createdBy",
    "BackupPlan",
    OWNER_TAG,
    PROTECT_TAG,
];
const VALUES: &[&str] = &["a", "b", "me", "true", ""];

fn tags_strategy() -> impl Strategy<Value = Tags> {
    prop::collection::btree_map(
        prop::sample::select(KEYS).prop_map(str::to_string),
        prop::sample::select(VALUES).prop_map(str::to_string),
        0..5,
    )
}

fn live_strategy() -> impl Strategy<Value = Vec<LiveProject>> {
    prop::collection::vec(
        (
            prop::sample::select(&NAMES[..4]),
            tags_strategy(),
            any::<bool>(),
        ),
        0..8,
    )
    .prop_map(|items| {
        let mut out = vec![default_project()];
        for (i, (name, tags, archived)) in items.into_iter().enumerate() {
            let mut p = live(&format!("proj_{i:03}"), name, &[]);
            p.tags = tags;
            if archived {
                p.status = ProjectStatus::Archived;
            }
            out.push(p);
        }
        out
    })
}

/// Entries as the loader lets them through: names repeat only between entries that each pin an
/// id (here one of the live strategy's ids, which may be missing or archived), ids are unique,
/// and `protect:` is absent, true or false.
fn desired_strategy() -> impl Strategy<Value = Vec<DesiredProject>> {
    let entry = (
        prop::sample::select(&NAMES[..4]),
        prop::option::weighted(0.4, 0..9usize),
        prop::collection::btree_map(
            prop::sample::select(&KEYS[..5]).prop_map(str::to_string),
            prop::sample::select(VALUES).prop_map(str::to_string),
            0..4,
        ),
        prop::option::of(any::<bool>()),
    );
    prop::collection::vec(entry, 0..6).prop_map(|entries| {
        let mut kept: Vec<DesiredProject> = Vec::new();
        for (name, pin, tags, protect) in entries {
            let id = pin.map(|i| format!("proj_{i:03}"));
            let same_name = kept.iter().filter(|d| d.name == name);
            let allowed = match &id {
                Some(id) => {
                    same_name.clone().all(|d| d.id.is_some())
                        && kept.iter().all(|d| d.id.as_ref() != Some(id))
                }
                None => same_name.count() == 0,
            };
            if !allowed {
                continue;
            }
            let mut d = desired(name, &[]);
            d.id = id;
            for (k, v) in tags {
                d.tags.insert(
                    k,
                    DesiredTag {
                        value: v,
                        source: TagSource::Project,
                    },
                );
            }
            d.tags.insert(
                OWNER_TAG.into(),
                DesiredTag {
                    value: "me".into(),
                    source: TagSource::Owner,
                },
            );
            kept.push(with_protect(d, protect));
        }
        kept
    })
}

/// Carries out a plan on an in-memory account, as the API would.
fn execute(plan: &Planned, account: &mut Vec<LiveProject>) {
    for (n, c) in plan.changes.iter().enumerate() {
        match c.action {
            Action::Create => {
                let req = c.create_request().unwrap();
                let mut p = live(&format!("proj_new{n:03}"), &req.name, &[]);
                p.tags = req.tags.clone();
                account.push(p);
            }
            Action::Update => {
                let req = c.modify_request().unwrap();
                let p = account
                    .iter_mut()
                    .find(|p| Some(&p.id) == c.id.as_ref())
                    .unwrap();
                p.tags = req.apply_to(&p.tags);
                if let Some(name) = &req.name {
                    p.name = name.clone();
                }
            }
            Action::Archive => {
                let p = account
                    .iter_mut()
                    .find(|p| Some(&p.id) == c.id.as_ref())
                    .unwrap();
                p.status = ProjectStatus::Archived;
            }
        }
    }
}

fn opts(prune: bool) -> Opts {
    Opts {
        owner: Some("me".into()),
        prune,
        ignore: TagPatterns(vec!["Backup*".into()]),
        targets: Vec::new(),
    }
}

proptest! {
    #[test]
    fn planning_after_applying_gives_no_changes(d in desired_strategy(), l in live_strategy(), prune in any::<bool>()) {
        let o = opts(prune);
        let first = o.plan(&d, &l);
        let mut after = l.clone();
        execute(&first, &mut after);
        let second = o.plan(&d, &after);
        prop_assert!(second.changes.is_empty(), "second plan: {:?}", second.changes);
        prop_assert_eq!(first.errors, second.errors);
    }

    #[test]
    fn never_touches_default_ignored_keys_protected_or_unowned(d in desired_strategy(), l in live_strategy()) {
        let o = opts(true);
        let p = o.plan(&d, &l);
        let by_id: BTreeMap<&str, &LiveProject> = l.iter().map(|p| (p.id.as_str(), p)).collect();
        for c in &p.changes {
            prop_assert_ne!(c.id.as_deref(), Some("default"));
            if c.action == Action::Archive {
                let live = by_id[c.id.as_deref().unwrap()];
                prop_assert_eq!(live.tags.get(OWNER_TAG).map(String::as_str), Some("me"));
                prop_assert_ne!(live.tags.get(PROTECT_TAG).map(String::as_str), Some("true"));
            }
            if let Some(req) = c.modify_request() {
                for k in req.add_tags.keys().chain(req.remove_tag_keys.iter()) {
                    prop_assert!(!k.starts_with("aws:") && !k.starts_with("Backup"), "touched {}", k);
                }
                let touches_protect = req.add_tags.contains_key(PROTECT_TAG)
                    || req.remove_tag_keys.iter().any(|k| k == PROTECT_TAG);
                if touches_protect {
                    let entry = d.iter().find(|e| {
                        e.name == c.name && (e.id.is_none() || e.id == c.id)
                    });
                    prop_assert!(
                        entry.is_some_and(|e| e.protect.is_some()),
                        "tagrec:protect touched on {:?} whose entry has no `protect:`", c.id
                    );
                }
            }
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_plan(d in desired_strategy(), l in live_strategy()) {
        let o = opts(true);
        let mut reversed = l.clone();
        reversed.reverse();
        let a = o.plan(&d, &l);
        let b = o.plan(&d, &reversed);
        prop_assert_eq!(a.changes, b.changes);
        prop_assert_eq!(a.unmanaged, b.unmanaged);
        prop_assert_eq!(a.errors, b.errors);
    }
}
