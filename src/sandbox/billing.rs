//! The payer account's Billing settings that the emulated Cost Explorer keeps: which cost
//! allocation tag keys were activated or deactivated (and when), and the backfills asked for. It
//! is part of the state file, so it survives a restart; keys only exist for Billing once *seen*
//! (carried by a project with spend), which is decided per call from the projects and the spend.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::api::model::LiveProject;

use super::cost_explorer::CeError;
use super::costs::Spend;
use super::day::{self, Day};

/// How long a backfill is `PROCESSING` before it is `SUCCEEDED`.
pub const BACKFILL_SECONDS: i64 = 60;
/// At most one backfill per this many seconds (24 hours).
pub const BACKFILL_INTERVAL: i64 = 86_400;
/// How many months back a backfill may start.
pub const BACKFILL_MONTHS: i64 = 12;

/// What the state file keeps of Billing; empty (and then absent from the file) until a status is
/// changed or a backfill asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// The last status change of each key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cost_allocation_tags: BTreeMap<String, StatusChange>,
    /// Oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backfills: Vec<Backfill>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagStatus {
    Active,
    Inactive,
}

impl TagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TagStatus::Active => "Active",
            TagStatus::Inactive => "Inactive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: TagStatus,
    #[serde(with = "rfc3339")]
    pub last_updated: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    #[serde(with = "rfc3339")]
    pub backfill_from: i64,
    #[serde(with = "rfc3339")]
    pub requested_at: i64,
}

/// A key Billing has seen, as `ListCostAllocationTags` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenKey {
    pub key: String,
    pub status: TagStatus,
    /// The first day of the last month with spend carrying the key.
    pub last_used: Day,
    /// When its status was last changed, if ever.
    pub last_updated: Option<i64>,
}

/// A backfill as `ListCostAllocationTagBackfillHistory` shows it at some time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillView {
    pub backfill_from: i64,
    pub requested_at: i64,
    pub status: &'static str,
    pub completed_at: Option<i64>,
    pub last_updated_at: i64,
}

/// The result of an `UpdateCostAllocationTagsStatus` entry that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub code: &'static str,
    pub message: String,
}

impl Billing {
    pub fn is_empty(&self) -> bool {
        self.cost_allocation_tags.is_empty() && self.backfills.is_empty()
    }

    /// The keys seen now, sorted: every key of every project with spend rows, with its status (a
    /// recorded change, else active when listed in `active_from_start`, else inactive).
    pub fn seen_keys(
        &self,
        spend: &Spend,
        projects: &[LiveProject],
        active_from_start: &BTreeSet<String>,
    ) -> BTreeMap<String, SeenKey> {
        let by_id: HashMap<&str, &LiveProject> =
            projects.iter().map(|p| (p.id.as_str(), p)).collect();
        let mut seen: BTreeMap<String, SeenKey> = BTreeMap::new();
        for (id, last_day) in spend.projects_with_spend() {
            let Some(project) = by_id.get(id) else {
                continue;
            };
            for key in project.tags.keys() {
                let last_used = last_day.first_of_month();
                match seen.get_mut(key) {
                    Some(entry) => entry.last_used = entry.last_used.max(last_used),
                    None => {
                        let change = self.cost_allocation_tags.get(key);
                        let status = match change {
                            Some(change) => change.status,
                            None if active_from_start.contains(key) => TagStatus::Active,
                            None => TagStatus::Inactive,
                        };
                        seen.insert(
                            key.clone(),
                            SeenKey {
                                key: key.clone(),
                                status,
                                last_used,
                                last_updated: change.map(|c| c.last_updated),
                            },
                        );
                    }
                }
            }
        }
        seen
    }

    /// Sets each key's status, in order. A key not seen gets a `TagKeysNotFoundException` entry,
    /// as AWS answers; a key that already has the status is left as it is. Returns the failed
    /// keys and whether anything changed.
    pub fn update(
        &mut self,
        changes: &[(String, TagStatus)],
        seen: &BTreeMap<String, SeenKey>,
        now: i64,
    ) -> (Vec<KeyError>, bool) {
        let mut errors = Vec::new();
        let mut changed = false;
        let mut current: BTreeMap<&str, TagStatus> =
            seen.iter().map(|(k, v)| (k.as_str(), v.status)).collect();
        for (key, status) in changes {
            let Some(has) = current.get_mut(key.as_str()) else {
                errors.push(KeyError {
                    key: key.clone(),
                    code: "TagKeysNotFoundException",
                    message: format!("Failed to update Cost Allocation Tag: {key}"),
                });
                continue;
            };
            if *has == *status {
                continue;
            }
            *has = *status;
            self.cost_allocation_tags.insert(
                key.clone(),
                StatusChange {
                    status: *status,
                    last_updated: now,
                },
            );
            changed = true;
        }
        (errors, changed)
    }

    /// Records a backfill from `from` (a Unix time), if AWS's rules allow it at `now`: the first
    /// day of a month at midnight UTC, not in the future, at most 12 months back, and no other
    /// backfill asked for in the last 24 hours.
    pub fn start_backfill(&mut self, from: i64, now: i64) -> Result<BackfillView, CeError> {
        let day = Day::from_unix(from);
        let shown = day::timestamp(from);
        if day.unix() != from || day.first_of_month() != day {
            return Err(CeError::validation(format!(
                "BackfillFrom must be the first day of a month at 00:00:00 UTC, such as {}; {shown} is not",
                day.first_of_month().timestamp()
            )));
        }
        let this_month = Day::from_unix(now).first_of_month();
        if day > this_month {
            return Err(CeError::validation(format!(
                "BackfillFrom {shown} is in the future: the latest month a backfill can start from is this one, {}",
                this_month.timestamp()
            )));
        }
        let earliest = this_month.add_months(-BACKFILL_MONTHS);
        if day < earliest {
            return Err(CeError::validation(format!(
                "BackfillFrom {shown} is more than {BACKFILL_MONTHS} months back: the earliest month a backfill can start from now is {}",
                earliest.timestamp()
            )));
        }
        if let Some(last) = self.backfills.last()
            && now - last.requested_at < BACKFILL_INTERVAL
        {
            return Err(CeError {
                status: 400,
                code: "BackfillLimitExceededException",
                message: "A request to backfill is already in progress".to_string(),
            });
        }
        let backfill = Backfill {
            backfill_from: from,
            requested_at: now,
        };
        let view = backfill.view(now);
        self.backfills.push(backfill);
        Ok(view)
    }

    /// Every backfill asked for, newest first, as it stands at `now`.
    pub fn backfill_history(&self, now: i64) -> Vec<BackfillView> {
        self.backfills.iter().rev().map(|b| b.view(now)).collect()
    }
}

impl Backfill {
    /// `PROCESSING` for its first minute, `SUCCEEDED` after.
    fn view(&self, now: i64) -> BackfillView {
        let done_at = self.requested_at + BACKFILL_SECONDS;
        let done = now >= done_at;
        BackfillView {
            backfill_from: self.backfill_from,
            requested_at: self.requested_at,
            status: if done { "SUCCEEDED" } else { "PROCESSING" },
            completed_at: done.then_some(done_at),
            last_updated_at: if done { done_at } else { self.requested_at },
        }
    }
}

/// Times in the state file are written as AWS writes them, `2026-11-30T12:00:00Z`.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::day::timestamp(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::day::parse_timestamp(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "\"{text}\" is not a time such as 2026-11-30T12:00:00Z"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::{ProjectStatus, Tags};

    fn project(id: &str, tags: &[(&str, &str)]) -> LiveProject {
        LiveProject {
            id: id.to_string(),
            object: "organization.project".to_string(),
            name: id.to_string(),
            arn: None,
            created_at: 0,
            status: ProjectStatus::Active,
            archived_at: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Tags>(),
            data_retention: None,
        }
    }

    const NOW: i64 = 1_796_040_000; // 2026-11-30T12:00:00Z

    fn spend() -> Spend {
        Spend::parse(
            br#"[
            {"date": "2026-09-10", "service": "Amazon Bedrock", "project_id": "proj_a", "amount": "1"},
            {"date": "2026-11-03", "service": "Amazon Bedrock", "project_id": "proj_b", "amount": "1"},
            {"date": "2026-11-04", "service": "Amazon Bedrock", "project_id": "default", "amount": "1"}
        ]"#,
        )
        .unwrap()
    }

    fn projects() -> Vec<LiveProject> {
        vec![
            project("proj_a", &[("CostCenter", "CC-1"), ("Team", "Risk")]),
            project("proj_b", &[("CostCenter", "CC-2")]),
            // No spend: its key is not seen.
            project("proj_c", &[("Owner", "zoe")]),
            project("default", &[]),
        ]
    }

    #[test]
    fn keys_are_seen_on_projects_with_spend_only() {
        let active = BTreeSet::from(["Team".to_string()]);
        let seen = Billing::default().seen_keys(&spend(), &projects(), &active);
        let keys: Vec<(&str, TagStatus, String)> = seen
            .values()
            .map(|k| (k.key.as_str(), k.status, k.last_used.to_string()))
            .collect();
        assert_eq!(
            keys,
            [
                ("CostCenter", TagStatus::Inactive, "2026-11-01".to_string()),
                ("Team", TagStatus::Active, "2026-09-01".to_string()),
            ]
        );
        assert!(seen.values().all(|k| k.last_updated.is_none()));
    }

    #[test]
    fn updates_report_unseen_keys_and_skip_no_ops() {
        let mut billing = Billing::default();
        let seen = billing.seen_keys(&spend(), &projects(), &BTreeSet::new());
        let (errors, changed) = billing.update(
            &[
                ("CostCenter".into(), TagStatus::Active),
                ("Owner".into(), TagStatus::Active),
                ("Team".into(), TagStatus::Inactive),
            ],
            &seen,
            NOW,
        );
        assert!(changed);
        assert_eq!(
            errors,
            [KeyError {
                key: "Owner".into(),
                code: "TagKeysNotFoundException",
                message: "Failed to update Cost Allocation Tag: Owner".into(),
            }]
        );
        // Team was already inactive: nothing recorded for it.
        assert_eq!(
            billing.cost_allocation_tags.keys().collect::<Vec<_>>(),
            ["CostCenter"]
        );
        let seen = billing.seen_keys(&spend(), &projects(), &BTreeSet::new());
        assert_eq!(seen["CostCenter"].status, TagStatus::Active);
        assert_eq!(seen["CostCenter"].last_updated, Some(NOW));
        let (errors, changed) =
            billing.update(&[("CostCenter".into(), TagStatus::Active)], &seen, NOW + 5);
        assert!(errors.is_empty() && !changed);
        assert_eq!(billing.cost_allocation_tags["CostCenter"].last_updated, NOW);
    }

    #[test]
    fn a_recorded_change_wins_over_the_starting_status() {
        let mut billing = Billing::default();
        let active = BTreeSet::from(["CostCenter".to_string()]);
        let seen = billing.seen_keys(&spend(), &projects(), &active);
        billing.update(&[("CostCenter".into(), TagStatus::Inactive)], &seen, NOW);
        let seen = billing.seen_keys(&spend(), &projects(), &active);
        assert_eq!(seen["CostCenter"].status, TagStatus::Inactive);
    }

    #[test]
    fn backfills_follow_awss_rules() {
        let at = |text: &str| day::parse_timestamp(text).unwrap();
        let mut billing = Billing::default();
        let refused =
            |billing: &mut Billing, from: &str| billing.start_backfill(at(from), NOW).unwrap_err();
        let mid_month = refused(&mut billing, "2026-03-02T00:00:00Z");
        assert_eq!(mid_month.code, "ValidationException");
        assert!(
            mid_month.message.contains("first day of a month"),
            "{}",
            mid_month.message
        );
        assert!(
            refused(&mut billing, "2026-03-01T01:00:00Z")
                .message
                .contains("first day")
        );
        let future = refused(&mut billing, "2026-12-01T00:00:00Z");
        assert!(future.message.contains("future"), "{}", future.message);
        let old = refused(&mut billing, "2025-10-01T00:00:00Z");
        assert!(
            old.message.contains("2025-11-01T00:00:00Z"),
            "{}",
            old.message
        );

        // Exactly 12 months back, and this month, are allowed.
        let started = billing
            .start_backfill(at("2025-11-01T00:00:00Z"), NOW)
            .unwrap();
        assert_eq!(started.status, "PROCESSING");
        assert_eq!(started.completed_at, None);
        let again = billing
            .start_backfill(at("2026-11-01T00:00:00Z"), NOW + BACKFILL_INTERVAL - 1)
            .unwrap_err();
        assert_eq!(again.code, "BackfillLimitExceededException");
        assert_eq!(
            again.message,
            "A request to backfill is already in progress"
        );

        assert_eq!(billing.backfill_history(NOW + 59)[0].status, "PROCESSING");
        let done = &billing.backfill_history(NOW + 60)[0];
        assert_eq!(done.status, "SUCCEEDED");
        assert_eq!(done.completed_at, Some(NOW + 60));

        billing
            .start_backfill(at("2026-11-01T00:00:00Z"), NOW + BACKFILL_INTERVAL)
            .unwrap();
        let history = billing.backfill_history(NOW + BACKFILL_INTERVAL);
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].backfill_from, at("2026-11-01T00:00:00Z"));
    }

    #[test]
    fn the_saved_form_reads_back_and_an_empty_one_is_absent() {
        let billing = Billing {
            cost_allocation_tags: BTreeMap::from([(
                "CostCenter".to_string(),
                StatusChange {
                    status: TagStatus::Active,
                    last_updated: NOW,
                },
            )]),
            backfills: vec![Backfill {
                backfill_from: 1_788_220_800,
                requested_at: NOW,
            }],
        };
        let text = serde_json::to_string(&billing).unwrap();
        assert!(
            text.contains("\"last_updated\":\"2026-11-30T12:00:00Z\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Billing>(&text).unwrap(), billing);
        assert_eq!(serde_json::to_string(&Billing::default()).unwrap(), "{}");
        assert_eq!(
            serde_json::from_str::<Billing>("{}").unwrap(),
            Billing::default()
        );
    }
}
