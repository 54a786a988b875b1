//! How a desired project finds its live one, the rule every command that relates the two uses
//! (plan, audit, output): a pinned `id:` first; otherwise the one active project of its name that
//! no pin claims. Two or more such projects are a conflict; none is a project to create.

use std::collections::{BTreeSet, HashMap};

use crate::api::LiveProject;
use crate::manifest::DesiredProject;
use crate::rules::DEFAULT_PROJECT_ID;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<'a> {
    /// The live project this desired one is.
    Live(&'a LiveProject),
    /// No live project yet: plan creates it.
    Missing,
    /// Pinned to an id that does not exist.
    PinnedMissing,
    /// Pinned to an archived project.
    PinnedArchived,
    /// Pinned to `default`.
    PinnedDefault,
    /// Unpinned, and two or more active projects carry the name (sorted by id).
    Conflict(Vec<&'a LiveProject>),
}

/// The match of each desired project, in their order, and the ids claimed by pins and names.
pub struct Matching<'a> {
    pub matches: Vec<Match<'a>>,
    pub claimed: BTreeSet<&'a str>,
}

pub fn match_projects<'a>(desired: &[DesiredProject], live: &'a [LiveProject]) -> Matching<'a> {
    let by_id: HashMap<&str, &LiveProject> = live.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    // Pinned ids first, so that a project matched by id is not also matched by name.
    let mut matches: Vec<Option<Match>> = desired
        .iter()
        .map(|d| {
            let id = d.id.as_deref()?;
            Some(match by_id.get(id) {
                _ if id == DEFAULT_PROJECT_ID => Match::PinnedDefault,
                None => Match::PinnedMissing,
                Some(p) if !p.is_active() => Match::PinnedArchived,
                Some(p) => {
                    claimed.insert(p.id.as_str());
                    Match::Live(p)
                }
            })
        })
        .collect();
    let mut active_by_name: HashMap<&str, Vec<&LiveProject>> = HashMap::new();
    for p in live {
        if p.is_active() && !p.is_default() && !claimed.contains(p.id.as_str()) {
            active_by_name.entry(p.name.as_str()).or_default().push(p);
        }
    }
    for (d, m) in desired.iter().zip(matches.iter_mut()) {
        if m.is_some() {
            continue;
        }
        *m = Some(
            match active_by_name.get(d.name.as_str()).map(Vec::as_slice) {
                None | Some([]) => Match::Missing,
                Some([one]) => {
                    claimed.insert(one.id.as_str());
                    Match::Live(one)
                }
                Some(many) => {
                    let mut many = many.to_vec();
                    many.sort_by(|a, b| a.id.cmp(&b.id));
                    for p in &many {
                        claimed.insert(p.id.as_str());
                    }
                    Match::Conflict(many)
                }
            },
        );
    }
    Matching {
        matches: matches
            .into_iter()
            .map(|m| m.unwrap_or(Match::Missing))
            .collect(),
        claimed,
    }
}
